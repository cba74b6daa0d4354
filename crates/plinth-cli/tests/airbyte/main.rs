//! The Airbyte python recipe built for real on a machine without Docker Hub or GitHub: the
//! digest-pinned python root replaced by a Debian stand-in (`--substitute-image`), `bash:latest`
//! served by a registry mirror, the nltk data by a URL mirror (`catalog/standins/make` makes all
//! three). apt runs against Debian's archive and pip against PyPI, for real.
//!
//! Findings this test pins down:
//! - `poppler-utils=22.12.0-2+b1` (every 2.x–4.0.0 recipe) no longer installs from Debian, and
//!   neither does upstream's later fix `22.12.0-2+deb12u1` (PR #62909): the build stops at the OCR
//!   step with apt's message.
//! - With the pin moved to the current bookworm security update (`22.12.0-2+deb12u*`), 3.0.0 builds
//!   and passes every sanity check but `python_version`: the stand-in's python is Debian's 3.11.2,
//!   not 3.10.14.
//! - The java recipes cannot run without Amazon Linux's yum repositories: with a Debian stand-in
//!   root the build stops at its first step (`yum: not found`).

use std::path::Path;

use plinth_engine::{BuildOptions, Engine, EngineConfig, UrlMirror};
use plinth_oci::{Platform, Store};
use plinth_recipe::{Container, ImageSubstitutions, Op};
use plinth_registry::Client;
use plinth_test::{External, LocalRegistry, TestContext, output, require_external};

const PYTHON: &str = "airbyte/python-connector-base";
const JAVA: &str = "airbyte/java-connector-base";
const OLD_PIN: &str = "poppler-utils=22.12.0-2+b1";

/// Runs `catalog/standins/make` and returns the global flags it wrote.
fn make_standins(ctx: &TestContext, registry: &LocalRegistry) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog/standins/make");
    let out_dir = ctx.temp_dir().join("standins");
    let out = output(
        ctx,
        ctx.command("bash")
            .arg(&script)
            .args(["--registry", &registry.host(), "--out"])
            .arg(&out_dir)
            .env("PLINTH_BIN", ctx.bin()),
    );
    assert!(out.status.success(), "catalog/standins/make failed");
    std::fs::read_to_string(out_dir.join("flags"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn flag<'a>(flags: &'a [String], name: &str) -> Vec<&'a str> {
    flags
        .iter()
        .filter_map(|f| f.strip_prefix(name)?.strip_prefix('='))
        .collect()
}

/// An engine over the test's `PLINTH_HOME` configured from the same flags the CLI gets.
fn engine_from_flags(ctx: &TestContext, flags: &[String]) -> (Engine, ImageSubstitutions) {
    let store = Store::open(ctx.plinth_home()).unwrap();
    let mut client = Client::builder(store.clone());
    for mirror in flag(flags, "--registry-mirror") {
        client = client.with_docker_hub_mirror(mirror);
    }
    let mut config = EngineConfig::new(store)
        .with_registry(client.build().unwrap())
        .with_source_date_epoch(Some(0));
    for mirror in flag(flags, "--url-mirror") {
        config = config.with_url_mirror(mirror.parse::<UrlMirror>().unwrap());
    }
    let subs = ImageSubstitutions::parse_all(flag(flags, "--substitute-image")).unwrap();
    (Engine::new(config).unwrap(), subs)
}

/// `recipe` with the `sh -c` argv holding `OLD_PIN` changed to `pin` (exactly one such step).
/// Asserts that plain progress shows `step` started (`#N [k/n] STEP`) and ran (`#N DONE …`).
fn assert_step_done(stderr: &str, step: &str) {
    let number = stderr
        .lines()
        .find_map(|line| {
            let (number, rest) = line.split_once(' ')?;
            (number.starts_with('#') && rest.ends_with(&format!("] {step}"))).then_some(number)
        })
        .unwrap_or_else(|| panic!("no step line for {step}:\n{stderr}"));
    assert!(
        stderr
            .lines()
            .any(|line| line.starts_with(&format!("{number} DONE "))),
        "{step} ({number}) did not run to DONE:\n{stderr}"
    );
}

fn with_poppler_pin(recipe: &Container, pin: &str) -> Container {
    let mut hits = 0;
    let ops = recipe.ops().iter().map(|op| match op {
        Op::Exec {
            argv,
            network,
            env,
            mounts,
        } if argv.iter().any(|a| a.contains(OLD_PIN)) => {
            hits += 1;
            Op::Exec {
                argv: argv.iter().map(|a| a.replace(OLD_PIN, pin)).collect(),
                network: *network,
                env: env.clone(),
                mounts: mounts.clone(),
            }
        }
        other => other.clone(),
    });
    let c = Container::from_ops(ops.collect::<Vec<_>>());
    assert_eq!(hits, 1, "the recipe pins poppler-utils in exactly one step");
    c
}

fn build_copy(
    engine: &Engine,
    recipe: &Container,
    subs: &ImageSubstitutions,
    tag: Option<&str>,
) -> plinth_engine::Result<plinth_engine::BuildResult> {
    let substituted = recipe.with_substituted_images(subs);
    let locations: Vec<_> = substituted
        .applied()
        .iter()
        .map(|a| a.location.as_str())
        .collect();
    assert_eq!(
        locations,
        ["step #1"],
        "only the python root is substituted; bash:latest comes from the registry mirror"
    );
    let options =
        BuildOptions::new([Platform::linux_amd64()]).with_recipe_id("airbyte stand-in copy");
    let options = match tag {
        Some(t) => options.with_tag(t),
        None => options,
    };
    engine.build(substituted.container(), &options)
}

/// `(id, status, first line of message)` of every check in `plinth check --json-report` output.
fn check_rows(stdout: &str) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    for report in serde_json::Deserializer::from_str(stdout).into_iter::<serde_json::Value>() {
        let report = report.expect("a JSON report");
        for outcome in report["outcomes"].as_array().expect("outcomes") {
            let message = outcome["message"]
                .as_str()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
            rows.push((
                outcome["id"].as_str().unwrap().to_owned(),
                outcome["status"].as_str().unwrap().to_owned(),
                message,
            ));
        }
    }
    rows
}

#[test]
fn airbyte_recipes_build_offline_through_mirrors_and_stand_ins() {
    require_external!(
        External::Root,
        External::Tool("mmdebstrap"),
        External::Tool("python3"),
        External::Tool("docker-registry")
    );
    let registry = LocalRegistry::start();
    let ctx = TestContext::new().with_registry_filter(&registry);
    // The stand-in python root is made on the run's shared minbase root.
    ctx.seed_debian_root("plinth/debian:bookworm-minbase");
    let flags = make_standins(&ctx, &registry);
    let standin_python = format!("{}/standin/python:bookworm", registry.host());
    assert_eq!(
        flag(&flags, "--substitute-image"),
        [format!("python={standin_python}")]
    );

    // 1. The real 3.0.0 recipe through the CLI stops at the long-gone poppler pin, and
    //    `plinth outdated` says so before any build.
    the_cli_build_stops_at_the_gone_poppler_pin(&ctx, &flags, &standin_python);
    outdated_names_the_gone_pin_before_any_build(&ctx, &flags);

    // 2. Upstream's fix (PR #62909) pinned 22.12.0-2+deb12u1; that version is gone from Debian too.
    let catalog = plinth_airbyte::catalog();
    let python = catalog.get(PYTHON).unwrap();
    let version = "3.0.0".parse().unwrap();
    let recipe = python.recipe(&version, &Platform::linux_amd64()).unwrap();
    let (engine, subs) = engine_from_flags(&ctx, &flags);
    the_upstream_fix_pin_is_gone_too(&engine, &recipe, &subs);

    // 3. Pinned to the current bookworm security update of the same upstream version, the rest of
    //    the recipe runs.
    let tag = "standin/python-connector-base:3.0.0-poppler-deb12u";
    the_moved_pin_builds_the_rest_of_the_recipe(&ctx, &engine, &recipe, &subs, tag);

    // 4. The version's sanity checks, through plinth: all pass but the python version.
    let expected: Vec<String> = python
        .checks(&version)
        .unwrap()
        .iter()
        .map(|c| c.id().to_owned())
        .collect();
    every_check_passes_but_the_python_version(&ctx, tag, &expected);

    // 5. Java: no stand-in for Amazon Linux's yum exists offline.
    the_java_recipe_stops_at_its_first_step(&ctx, &flags, &standin_python);
}

/// Every step up to OCR runs (apt, PyPI), then the long-gone poppler pin stops the build with
/// apt's own message, naming the step.
fn the_cli_build_stops_at_the_gone_poppler_pin(
    ctx: &TestContext,
    flags: &[String],
    standin_python: &str,
) {
    let out = output(
        ctx,
        ctx.plinth().args(flags).args([
            "build",
            &format!("{PYTHON}:3.0.0"),
            "--platform",
            "linux/amd64",
        ]),
    );
    assert_eq!(out.status.code(), Some(1), "a failed build exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!(
        "warning: substituted image: docker.io/python:3.10.14-slim-bookworm@sha256:2407c61b1a18067393fecd8a22cf6fceede893b6aaca817bf9fbfe65e33614a3 => {standin_python} (step #1)"
    )), "{stderr}");
    assert_step_done(&stderr, "RUN [\"pip\",\"install\",\"poetry==1.6.1\"]");
    assert_step_done(
        &stderr,
        "RUN [\"sh\",\"-c\",\"apt-get install -y socat=1.7.4.4-2\"]",
    );
    assert!(stderr.contains(
        "error: step #16 (linux/amd64) failed: `[\"sh\",\"-c\",\"apt-get update && apt-get install -y tesseract-ocr=5.3.0-2 poppler-utils=22.12.0-2+b1\"]` exited with exit code 100"
    ), "{stderr}");
    assert!(
        stderr.contains("E: Version '22.12.0-2+b1' for 'poppler-utils' was not found"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "hint: the archive no longer carries the apt pin `poppler-utils=22.12.0-2+b1`; `plinth outdated` with the same recipe arguments"
        ),
        "{stderr}"
    );
}

/// `plinth outdated`: the suite from the (stand-in) root's own /etc/os-release, the versions
/// from Debian's archive.
fn outdated_names_the_gone_pin_before_any_build(ctx: &TestContext, flags: &[String]) {
    let out = output(
        ctx,
        ctx.plinth().args(flags).args([
            "outdated",
            &format!("{PYTHON}:3.0.0"),
            "--platform",
            "linux/amd64",
            "--json",
        ]),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a pin that cannot install exits 1"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["suites"],
        serde_json::json!([{"platform": "linux/amd64", "suite": "bookworm", "from": "os-release"}])
    );
    let poppler = report["apt"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "poppler-utils")
        .expect("the poppler pin");
    assert_eq!(poppler["installable"], false, "{poppler}");
    assert_eq!(poppler["step"], 16, "the step the build stopped at");
    assert!(
        poppler["available"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["version"]
                .as_str()
                .unwrap()
                .starts_with("22.12.0-2+deb12u")),
        "{poppler}"
    );
}

fn the_upstream_fix_pin_is_gone_too(
    engine: &Engine,
    recipe: &Container,
    subs: &ImageSubstitutions,
) {
    let err = build_copy(
        engine,
        &with_poppler_pin(recipe, "poppler-utils=22.12.0-2+deb12u1"),
        subs,
        None,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            plinth_engine::Error::StepFailed {
                index: 15,
                exit_code: 100,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("E: Version '22.12.0-2+deb12u1' for 'poppler-utils' was not found"),
        "{text}"
    );
}

/// OCR, the NLTK helper from the mirrored `bash:latest` with the mirrored zips, the directory
/// merge: built into `tag`. The earlier steps come from the cache of the CLI build.
fn the_moved_pin_builds_the_rest_of_the_recipe(
    ctx: &TestContext,
    engine: &Engine,
    recipe: &Container,
    subs: &ImageSubstitutions,
    tag: &str,
) {
    let built = build_copy(
        engine,
        &with_poppler_pin(recipe, "poppler-utils=22.12.0-2+deb12u*"),
        subs,
        Some(tag),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    #[allow(clippy::print_stderr, reason = "context for the log of this long test")]
    {
        eprintln!("the pin-moved copy: {} steps ran", built.steps_run());
    }
    // The nltk data in the image is the mirrored stand-in, unzipped by the mirrored busybox.
    let out = output(
        ctx,
        ctx.plinth().args(["run", tag, "--platform", "linux/amd64", "--", "cat"]).args([
            "/usr/share/nltk_data/tokenizers/punkt/README",
            "/usr/share/nltk_data/taggers/averaged_perceptron_tagger/averaged_perceptron_tagger.pickle",
        ]),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "stand-in made by catalog/standins/make: not the real data\n".repeat(2)
    );
}

/// `plinth check` of 3.0.0 on `tag`: every check in `expected` runs, in that order, and only
/// `python_version` fails (the stand-in's python is Debian's 3.11.2).
fn every_check_passes_but_the_python_version(ctx: &TestContext, tag: &str, expected: &[String]) {
    let out = output(
        ctx,
        ctx.plinth().args([
            "check",
            &format!("{PYTHON}:3.0.0"),
            "--image",
            tag,
            "--platform",
            "linux/amd64",
            "--json-report",
        ]),
    );
    assert_eq!(out.status.code(), Some(1), "one check fails");
    let rows = check_rows(&String::from_utf8_lossy(&out.stdout));
    let failed: Vec<_> = rows
        .iter()
        .filter(|(_, status, _)| status != "passed")
        .collect();
    assert_eq!(
        failed,
        [&(
            "python_version".to_owned(),
            "failed".to_owned(),
            "unexpected python version: Python 3.11.2".to_owned()
        )],
        "{rows:#?}"
    );
    let ids: Vec<_> = rows.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        ids, expected,
        "3.0.0's checks, in order (cdk_system_dependencies: pip install nltk==3.8.1 from PyPI, the nltk data, tesseract 5.3.0, poppler 22.12.0)"
    );
}

/// With a Debian root the java build stops at its first step with a clear error, before any of
/// its URL inputs is fetched.
fn the_java_recipe_stops_at_its_first_step(
    ctx: &TestContext,
    flags: &[String],
    standin_python: &str,
) {
    let out = output(
        ctx,
        ctx.plinth()
            .args(flags)
            .arg(format!(
                "--substitute-image=amazoncorretto={standin_python}"
            ))
            .args([
                "build",
                &format!("{JAVA}:2.0.1"),
                "--platform",
                "linux/amd64",
            ]),
    );
    assert_eq!(out.status.code(), Some(1), "a failed build exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: step #2 (linux/amd64) failed: `[\"sh\",\"-c\",\"set -o xtrace && yum install -y shadow-utils"), "{stderr}");
    assert!(
        stderr.contains("yum: not found") && stderr.contains("exit code 127"),
        "{stderr}"
    );
}
