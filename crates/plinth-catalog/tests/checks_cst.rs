//! container-structure-test files: parsing, validation and evaluation through a runner.

use std::collections::BTreeMap;

use plinth_catalog::Error;
use plinth_catalog::checks::{CheckStatus, run_checks};
use plinth_catalog::cst::CstFile;
use plinth_oci::{ImageConfig, Platform, RuntimeConfig};
use plinth_test::checks::{Canned, ok, out};

fn file() -> CstFile {
    CstFile::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cst/python-base.yaml"
    )))
    .unwrap()
}

fn config() -> ImageConfig {
    let mut c = ImageConfig::for_platform(&Platform::linux_amd64());
    c.config = Some(RuntimeConfig {
        user: Some("airbyte".into()),
        env: Some(vec![
            "PATH=/usr/local/bin:/usr/bin".into(),
            "PYTHON_VERSION=3.10.14".into(),
            "POETRY_NO_INTERACTION=1".into(),
            "PYTHON_HOME=/usr/local".into(),
        ]),
        entrypoint: Some(vec!["/airbyte/base.sh".into()]),
        cmd: None,
        working_dir: Some("/airbyte".into()),
        labels: Some(BTreeMap::from([(
            "org.opencontainers.image.source".into(),
            "https://github.com/airbytehq/airbyte".into(),
        )])),
        exposed_ports: Some(BTreeMap::from([("8080/tcp".into(), serde_json::json!({}))])),
        volumes: Some(BTreeMap::from([("/data".into(), serde_json::json!({}))])),
        ..RuntimeConfig::default()
    });
    c
}

fn healthy() -> Canned {
    Canned::new()
        .on(&["python", "--version"], ok("Python 3.10.14\n"))
        .on(&["mkdir", "-p", "/custom_cache/pip"], ok(""))
        .on(&["pip", "config", "list"], ok(""))
        .on(&["rm", "-rf", "/custom_cache/pip"], ok(""))
        .on(
            &["apt-get", "install", "-y", "curl"],
            out(100, "", "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\nE: Unable to acquire the dpkg frontend lock\n"),
        )
        .dir("/airbyte", 0o755, 1000, 1000)
        .file("/airbyte/base.sh", 0o755, 1000, 1000, "#!/bin/sh\n")
        .file("/usr/local/bin/python3", 0o755, 0, 0, "")
        .file(
            "/etc/apt/sources.list.d/debian.sources",
            0o644,
            0,
            0,
            "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n",
        )
        .with_config(config())
}

#[test]
fn parses_a_real_world_file_into_checks() {
    let f = file();
    assert_eq!(f.global_env_vars.len(), 2);
    assert_eq!(f.command_tests[2].exit_code, 100);
    assert!(!f.file_existence_tests[2].should_exist);
    assert!(
        f.file_existence_tests[3].should_exist,
        "shouldExist defaults to true, as upstream"
    );
    let ids: Vec<String> = f.checks().iter().map(|c| c.id().to_owned()).collect();
    assert_eq!(
        ids,
        [
            "cst:command:python version",
            "cst:command:pip installs into the cache dir",
            "cst:command:apt is not usable as airbyte",
            "cst:file_existence:airbyte dir",
            "cst:file_existence:base script is executable",
            "cst:file_existence:no ssh keys",
            "cst:file_existence:python through the image PATH",
            "cst:file_content:Debian sources",
            "cst:metadata",
        ]
    );
}

#[test]
fn a_healthy_image_passes_every_test() {
    let runner = healthy();
    let report = run_checks(
        "python-base.yaml",
        &Platform::linux_amd64(),
        &file().checks(),
        &runner,
    );
    assert!(report.passed(), "{}", report.render_table());
    // Global env first, then the test's own; values are expanded against the image's
    // environment and the variables before them.
    let calls = runner.calls.borrow();
    let pip = calls.iter().find(|c| c.argv[0] == "pip").unwrap();
    assert_eq!(
        pip.env,
        [
            ("VIRTUAL_ENV".into(), "/env".into()),
            ("PATH".into(), "/env/bin:/usr/local/bin:/usr/bin".into()),
            ("PIP_CACHE_DIR".into(), "/custom_cache/pip".into())
        ]
    );
    drop(calls);
    assert_eq!(
        runner.call_lines(),
        [
            "python --version",
            "mkdir -p /custom_cache/pip",
            "pip config list",
            "rm -rf /custom_cache/pip",
            "apt-get install -y curl",
        ]
    );
    // File tests read the filesystem; none runs a command.
    assert_eq!(
        *runner.file_calls.borrow(),
        [
            "stat /airbyte",
            "stat /airbyte/base.sh",
            "stat /root/.ssh/id_rsa",
            "stat /usr/local/bin/python3",
            "read /etc/apt/sources.list.d/debian.sources",
        ]
    );
}

#[test]
fn failures_use_the_upstream_wording_and_list_every_mismatch() {
    let runner = Canned::new()
        .on(&["python", "--version"], out(2, "Python 3.9.18\n", ""))
        .dir("/airbyte", 0o700, 0, 0)
        .file("/airbyte/base.sh", 0o644, 0, 0, "")
        .file("/root/.ssh/id_rsa", 0o600, 0, 0, "key")
        .file(
            "/etc/apt/sources.list.d/debian.sources",
            0o644,
            0,
            0,
            "URIs: http://gce_debian_mirror.example/debian\n",
        );
    let checks = file().checks();
    let report = run_checks("x", &Platform::linux_amd64(), &checks, &runner);
    let message = |id: &str| {
        report
            .outcomes
            .iter()
            .find(|o| o.id == id)
            .unwrap()
            .message
            .clone()
            .unwrap_or_default()
    };
    assert_eq!(
        message("cst:command:python version"),
        "Test 'python version' exited with incorrect error code. Expected: 0, Actual: 2\n\
         Expected string 'Python 3\\.10\\.\\d+' not found in output 'Python 3.9.18\n'"
    );
    assert_eq!(
        message("cst:file_existence:airbyte dir"),
        "/airbyte has incorrect permissions. Expected: drwxr-xr-x, Actual: drwx------\n\
         /airbyte has incorrect user ownership. Expected: 1000, Actual: 0\n\
         /airbyte has incorrect group ownership. Expected: 1000, Actual: 0"
    );
    assert_eq!(
        message("cst:file_existence:base script is executable"),
        "/airbyte/base.sh has incorrect executable bit. Expected to be executable by any, Actual: -rw-r--r--"
    );
    assert_eq!(
        message("cst:file_existence:no ssh keys"),
        "File /root/.ssh/id_rsa should not exist but does"
    );
    // Without the image's environment, `$PYTHON_HOME` expands to nothing.
    assert_eq!(
        message("cst:file_existence:python through the image PATH"),
        "File $PYTHON_HOME/bin/python3 should exist but does not"
    );
    let content = "URIs: http://gce_debian_mirror.example/debian\n";
    assert_eq!(
        message("cst:file_content:Debian sources"),
        format!(
            "Expected string 'URIs: http://deb\\.debian\\.org/debian' not found in file content string '{content}'\n\
             Expected string 'Suites: bookworm bookworm-updates' not found in file content string '{content}'\n\
             Excluded string '.*gce_debian_mirror.*' found in file content string '{content}'"
        )
    );
    // Without an image config the metadata test cannot be evaluated.
    let metadata = report
        .outcomes
        .iter()
        .find(|o| o.id == "cst:metadata")
        .unwrap();
    assert_eq!(metadata.status, CheckStatus::Error);
    assert_eq!(
        metadata.message.as_deref(),
        Some("a metadata test needs the image config, and the check runner provided none")
    );
    // A command test with no recorded answer for its setup is an error, not a failure.
    let pip = report
        .outcomes
        .iter()
        .find(|o| o.id == "cst:command:pip installs into the cache dir")
        .unwrap();
    assert_eq!(pip.status, CheckStatus::Error);
}

#[test]
fn metadata_mismatches() {
    let mut c = config();
    let rt = c.runtime_mut();
    rt.user = None;
    rt.env = Some(vec!["PYTHON_VERSION=3.11.11".into()]);
    rt.cmd = Some(vec!["python".into()]);
    rt.exposed_ports = Some(BTreeMap::from([("22/tcp".into(), serde_json::json!({}))]));
    rt.labels = None;
    let runner = Canned::new().with_config(c);
    let checks = file().checks();
    let outcome = checks.last().unwrap().evaluate(&runner);
    assert_eq!(
        outcome.message.unwrap(),
        "env var POETRY_NO_INTERACTION not found in image metadata\n\
         env var PYTHON_VERSION value 3.11.11 does not match expected value: ^3\\.10\\.\\d+$\n\
         label org.opencontainers.image.source not found in image metadata\n\
         Image cmd [\"python\"] does not match expected cmd: []\n\
         Image user  does not match config user: airbyte\n\
         Port 8080 not found in config\n\
         Port 22 should not be exposed"
    );
    assert!(
        runner.calls.borrow().is_empty(),
        "metadata tests run no command"
    );
}

#[test]
fn invalid_files_are_rejected_with_every_problem() {
    let text = r#"
schemaVersion: 1.0.0
commandTests:
  - name: ""
    command: ""
  - name: bad regex
    command: "true"
    expectedOutput: ["(unclosed"]
    setup: [[]]
fileExistenceTests:
  - name: x
    path: /x
    isExecutableBy: everyone
    shouldExist: false
    permissions: "-rw-r--r--"
"#;
    let err = CstFile::parse(text, "bad.yaml").unwrap_err();
    let Error::InvalidCst { problems, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 7, "{err}");
    let text = err.to_string();
    assert!(text.starts_with("invalid container-structure-test file `bad.yaml`:\n  - schemaVersion is `1.0.0`; only `2.0.0` is supported"), "{text}");
    assert!(
        text.contains("commandTests[1] (bad regex): `(unclosed` is not a valid regex"),
        "{text}"
    );
    assert!(
        text.contains("isExecutableBy is `everyone`; use owner, group, other or any"),
        "{text}"
    );
    assert!(text.contains("set shouldExist: true"), "{text}");

    // Unsupported sections are refused rather than silently ignored.
    let err = CstFile::parse(
        "schemaVersion: 2.0.0\nlicenseTests:\n  - debian: true\n",
        "license.yaml",
    )
    .unwrap_err();
    assert!(matches!(err, Error::ParseCst { .. }), "{err}");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("licenseTests"), "{cause}");
    let err = CstFile::parse("schemaVersion: [", "broken.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to parse container-structure-test file `broken.yaml`"
    );
}
