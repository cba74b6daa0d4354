//! The README's main job, copied from the README: `plinth/python-connector-base` built from
//! Debian's archive and PyPI (its Debian root shared with other runs of the day), checked,
//! written to an OCI layout, then run.

use std::path::Path;

use plinth_test::copy_tree;
use plinth_test::{External, TestContext, require_external};

use crate::output;

/// The Debian root of `plinth/python-connector-base`.
const PYTHON_ROOT: &str = "plinth/debian:bookworm-minbase?include=adduser,ca-certificates,poppler-utils,python-is-python3,python3,python3-pip,socat,tesseract-ocr,tzdata";

/// The `plinth …` arguments of the main job's command line in the README.
fn readme_main_job_args() -> Vec<String> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("./target/release/plinth build plinth/python-connector-base"))
        .expect("the README's main job builds plinth/python-connector-base");
    line.split("./target/release/plinth ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn readme_main_job_builds_checks_writes_and_runs_the_debian_python_base() {
    require_external!(
        External::Root,
        External::Tool("mmdebstrap"),
        External::Tool("skopeo")
    );
    let args = readme_main_job_args();
    assert_eq!(
        args,
        [
            "build",
            "plinth/python-connector-base",
            "--check",
            "--output",
            "oci:./out/python-connector-base:latest"
        ]
    );
    let ctx = TestContext::new();
    // The recipe's Debian root, bootstrapped once a day for every run (the archive state is
    // still checked: a republished archive makes it again); apt, PyPI and the rest run here.
    ctx.seed_debian_root(PYTHON_ROOT);
    let mut cmd = ctx.plinth();
    // The README's command builds amd64 and arm64; CI builds amd64 only, because arm64 runs
    // dpkg and pip under qemu (many minutes). Debian roots for arm64 are tested by the engine's
    // `debian_roots_for_amd64_and_arm64_build_concurrently`.
    cmd.args(&args).args(["--platform", "linux/amd64"]);
    trust_local_cas(&mut cmd);
    let out = output(&ctx, &mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        "sanity checks passed on linux/amd64",
        "wrote oci:./out/python-connector-base:latest",
        "run it with `plinth run oci:./out/python-connector-base:latest -- COMMAND`",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }

    // skopeo reads what was written, and the image runs.
    let layout = ctx.work_dir().join("out/python-connector-base");
    let inspect = ctx
        .command("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci:{}:latest", layout.display()))
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let config: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(
        config["config"]["Labels"]["org.plinth.debian.root"],
        PYTHON_ROOT
    );
    let run = output(
        &ctx,
        ctx.plinth().args([
            "run",
            "oci:./out/python-connector-base:latest",
            "--",
            "python",
            "--version",
        ]),
    );
    assert!(run.status.success());
    assert_eq!(String::from_utf8_lossy(&run.stdout), "Python 3.11.2\n");

    airbyte_python_file_family_builds_and_passes_its_checks(&ctx);
}

/// `examples/airbyte-python-base`, the same recipe kept as a file family, built from its
/// working files for linux/amd64 and checked with its container-structure-test and plinth
/// check files. Its root is the main job's (same packages, same archive state), already in
/// this store, so only its own steps run.
fn airbyte_python_file_family_builds_and_passes_its_checks(ctx: &TestContext) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/airbyte-python-base");
    let dir = ctx.temp_dir().join("airbyte-python-base");
    copy_tree(&example, &dir);
    let mut cmd = ctx.plinth();
    cmd.arg("--catalog-dir").arg(&dir).args([
        "build",
        "airbyte/python-connector-base-files",
        "--platform",
        "linux/amd64",
        "--check",
    ]);
    trust_local_cas(&mut cmd);
    let out = output(ctx, &mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Every check of both files ran; one failing fails the command.
    assert!(
        stderr.contains("sanity checks passed on linux/amd64"),
        "{stderr}"
    );
}

/// Behind a TLS-intercepting proxy (local CAs on the host) pip needs the host's bundle.
fn trust_local_cas(cmd: &mut std::process::Command) {
    let local_cas = std::fs::read_dir("/usr/local/share/ca-certificates")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".crt"));
    if local_cas {
        cmd.env(
            "PLINTH_STEP_CA_BUNDLE",
            "/etc/ssl/certs/ca-certificates.crt",
        );
    }
}
