//! `plinth build`, `run` and `dockerfile` on a busybox root, with the real sandbox.

mod attachments;
mod buildkit_gc;
mod buildkit_roots;
mod cold_pulls;
mod diff;
mod gc_cache_mounts;
mod outputs;
mod provenance;
mod reproducible;
mod sbom;
mod verify_dockerfile;

use std::path::{Path, PathBuf};
use std::process::Command;

mod killed_bootstrap;
mod main_job;

use plinth_test::images::busybox_layout;
use plinth_test::{External, TestContext, output, require_external};

/// Writes `text` as the test's Dockerfile.
fn write_dockerfile(ctx: &TestContext, text: &str) -> PathBuf {
    let dockerfile = ctx.temp_dir().join("Dockerfile");
    std::fs::write(&dockerfile, text).unwrap();
    dockerfile
}

/// A test context with a busybox root layout and a Dockerfile `FROM <root>` followed by
/// `steps`; `None` where building needs root and the test may be skipped.
fn busybox_dockerfile(steps: &str) -> Option<(TestContext, PathBuf)> {
    if !require_external(External::Root) {
        return None;
    }
    let ctx = TestContext::new();
    let root = busybox_layout(ctx.temp_dir());
    let dockerfile = write_dockerfile(&ctx, &format!("FROM {root}\n{steps}"));
    Some((ctx, dockerfile))
}

/// `plinth build -f DOCKERFILE --platform PLATFORMS`, to add more arguments to.
fn build_for(ctx: &TestContext, dockerfile: &Path, platforms: &str) -> Command {
    let mut cmd = ctx.plinth();
    cmd.args([
        "build",
        "-f",
        dockerfile.to_str().unwrap(),
        "--platform",
        platforms,
    ]);
    cmd
}

/// `plinth build -f DOCKERFILE --platform linux/amd64`, to add more arguments to.
fn build_amd64(ctx: &TestContext, dockerfile: &Path) -> Command {
    build_for(ctx, dockerfile, "linux/amd64")
}

/// `plinth build --platform linux/amd64`, docker's form: the caller adds the flags and the
/// context.
fn docker_build_amd64(ctx: &TestContext) -> Command {
    let mut cmd = ctx.plinth();
    cmd.args(["build", "--platform", "linux/amd64"]);
    cmd
}

/// The arguments of `plinth run IMAGE --platform linux/amd64 -- ARGS…`.
fn run_amd64_args<'a>(image: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["run", image, "--platform", "linux/amd64", "--"];
    all.extend_from_slice(args);
    all
}

fn stdout_ok(ctx: &TestContext, cmd: &mut Command) -> String {
    let out = output(ctx, cmd);
    assert!(out.status.success(), "command failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn build_run_and_rebuild_from_cache() {
    let Some((ctx, dockerfile)) = busybox_dockerfile(
        "RUN echo hello > /greeting && rm /etc/group- 2>/dev/null; rm -f /bin/vi\n\
         ENV GREETING=/greeting\n\
         USER airbyte\n\
         WORKDIR /home/airbyte\n",
    ) else {
        return;
    };
    let out_dir = ctx.temp_dir().join("out");
    let build = || {
        let mut cmd = build_amd64(&ctx, &dockerfile);
        cmd.args(["--tag", "test/greeting", "--explain"])
            .args(["--output", &format!("oci:{}:v1", out_dir.display())]);
        cmd
    };
    let first = output(&ctx, &mut build());
    assert!(first.status.success());
    let digest = String::from_utf8(first.stdout).unwrap();
    // The root was resolved while reading the Dockerfile (its env is needed to evaluate the
    // stage, as BuildKit loads its metadata first), so `FROM` finds it in the store.
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("4 steps ran"),
        "every step after FROM ran the first time"
    );

    // Unchanged recipe: nothing runs, same digest, every step says why it is cached.
    let second = output(&ctx, &mut build());
    assert!(second.status.success());
    assert_eq!(String::from_utf8(second.stdout).unwrap(), digest);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("0 steps ran") && stderr.contains("CACHED"),
        "{stderr}"
    );

    // The image runs in the sandbox as the recipe says: user, workdir, env, files, deletions.
    let run = |args: &[&str]| {
        output(
            &ctx,
            ctx.plinth().args(run_amd64_args("test/greeting", args)),
        )
    };
    assert_eq!(
        String::from_utf8(run(&["cat", "/greeting"]).stdout).unwrap(),
        "hello\n"
    );
    assert_eq!(
        String::from_utf8(run(&["id", "-u"]).stdout).unwrap(),
        "1000\n"
    );
    assert_eq!(
        String::from_utf8(run(&["sh", "-c", "pwd"]).stdout).unwrap(),
        "/home/airbyte\n"
    );
    assert_eq!(
        String::from_utf8(run(&["sh", "-c", "echo $GREETING"]).stdout).unwrap(),
        "/greeting\n"
    );
    assert_eq!(
        run(&["test", "-e", "/bin/vi"]).status.code(),
        Some(1),
        "the deleted file is gone"
    );
    assert_eq!(
        run(&["sh", "-c", "exit 7"]).status.code(),
        Some(7),
        "the command's exit code is plinth's"
    );
    // Changes made by `run` are thrown away.
    assert!(run(&["sh", "-c", "echo x > /tmp/scratch"]).status.success());
    assert_eq!(run(&["test", "-e", "/tmp/scratch"]).status.code(), Some(1));

    // gc removes nothing a named image still needs: the image runs afterwards.
    let gc: serde_json::Value = serde_json::from_str(&stdout_ok(
        &ctx,
        ctx.plinth().args(["gc", "--now", "--json"]),
    ))
    .unwrap();
    assert!(gc["blobs_kept"].as_u64().unwrap() >= 3, "{gc}");
    assert!(gc["snapshots_kept"].as_u64().unwrap() >= 2, "{gc}");
    assert_eq!(
        String::from_utf8(run(&["cat", "/greeting"]).stdout).unwrap(),
        "hello\n"
    );

    if require_external(External::Tool("skopeo")) {
        let inspected = stdout_ok(
            &ctx,
            ctx.command("skopeo")
                .args(["inspect", &format!("oci:{}:v1", out_dir.display())]),
        );
        assert!(inspected.contains("GREETING=/greeting"), "{inspected}");
    }
}

#[test]
fn failing_step_reports_its_exit_code_and_output() {
    let Some((ctx, dockerfile)) = busybox_dockerfile("RUN echo about to fail && exit 3\n") else {
        return;
    };
    let out = output(&ctx, &mut build_amd64(&ctx, &dockerfile));
    assert_eq!(out.status.code(), Some(1), "a failed build exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("about to fail") && stderr.contains('3'),
        "{stderr}"
    );
}

#[test]
fn dockerfile_views_of_a_dockerfile_and_of_the_catalog() {
    let ctx = TestContext::new();
    let dockerfile = write_dockerfile(
        &ctx,
        "FROM busybox:1.36\nRUN sh -c 'echo a && echo b'\nUSER nobody\n",
    );
    let example = stdout_ok(
        &ctx,
        ctx.plinth()
            .args(["dockerfile", "-f", dockerfile.to_str().unwrap()]),
    );
    assert_eq!(
        example,
        "FROM busybox:1.36\nRUN /bin/sh -c sh -c 'echo a && echo b'\n"
    );
    let buildable = stdout_ok(
        &ctx,
        ctx.plinth().args([
            "dockerfile",
            "-f",
            dockerfile.to_str().unwrap(),
            "--format",
            "buildable",
        ]),
    );
    assert!(
        buildable.contains(r#"RUN ["/bin/sh","-c","sh -c 'echo a && echo b'"]"#),
        "{buildable}"
    );
    assert!(buildable.contains("USER nobody"), "{buildable}");

    let java = stdout_ok(
        &ctx,
        ctx.plinth()
            .args(["dockerfile", "airbyte/java-connector-base:2.0.1"]),
    );
    assert!(
        java.starts_with("FROM docker.io/amazoncorretto:21-al2023@sha256:c90f38f8"),
        "{java}"
    );
    assert!(
        java.ends_with("ENV AIRBYTE_ENTRYPOINT=/airbyte/base.sh\n"),
        "{java}"
    );

    let unknown = output(
        &ctx,
        ctx.plinth()
            .args(["dockerfile", "airbyte/python-connector-base:3.0.2"]),
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("recipe is not known"));
}

#[test]
fn build_check_runs_container_structure_tests_before_writing_anything() {
    let Some((ctx, dockerfile)) =
        busybox_dockerfile("RUN echo hello > /greeting\nENV GREETING=/greeting\n")
    else {
        return;
    };
    let cst = |name: &str, expected: &str| {
        let path = ctx.temp_dir().join(name);
        std::fs::write(
            &path,
            format!(
                "schemaVersion: 2.0.0\n\
                 commandTests:\n  - name: greeting\n    command: cat\n    args: [\"/greeting\"]\n    expectedOutput: [\"{expected}\"]\n\
                 fileExistenceTests:\n  - name: busybox\n    path: /bin/busybox\n    shouldExist: true\n\
                 metadataTest:\n  envVars:\n    - key: GREETING\n      value: /greeting\n"
            ),
        )
        .unwrap();
        path
    };
    let good = cst("good.yaml", "hello");
    let bad = cst("bad.yaml", "bonjour");
    let junit = ctx.temp_dir().join("report.xml");
    let out_dir = ctx.temp_dir().join("out");
    let build = |cst: &Path| {
        let mut cmd = build_amd64(&ctx, &dockerfile);
        cmd.arg("--check")
            .args([
                "--cst",
                cst.to_str().unwrap(),
                "--junit",
                junit.to_str().unwrap(),
            ])
            .args(["--output", &format!("oci:{}:v1", out_dir.display())]);
        output(&ctx, &mut cmd)
    };
    let failed = build(&bad);
    assert_eq!(failed.status.code(), Some(1));
    assert!(!out_dir.exists(), "a failed check writes nothing");
    let report = std::fs::read_to_string(&junit).unwrap();
    assert!(report.contains("failures=\"1\""), "{report}");

    let passed = build(&good);
    assert!(passed.status.success());
    assert!(out_dir.join("index.json").is_file());
    let report = std::fs::read_to_string(&junit).unwrap();
    assert!(report.contains("failures=\"0\""), "{report}");
}

#[test]
fn buildkit_engine_builds_the_same_dockerfile_and_plinth_runs_the_result() {
    if !require_external(External::Docker) || !require_external(External::Root) {
        return;
    }
    let ctx = TestContext::new();
    let registry = plinth_test::LocalRegistry::start();
    let layout = busybox_layout(ctx.temp_dir());
    let root = registry.image("cli/busybox:1");
    stdout_ok(&ctx, ctx.plinth().args(["copy", &layout, &root]));
    let dockerfile = write_dockerfile(
        &ctx,
        &format!("FROM {root}\nRUN echo built by buildkit > /greeting\nUSER airbyte\n"),
    );
    let built = output(
        &ctx,
        build_amd64(&ctx, &dockerfile).args(["--engine", "buildkit", "--tag", "cli/bk"]),
    );
    assert!(built.status.success());
    let run = output(
        &ctx,
        ctx.plinth().args(run_amd64_args(
            "cli/bk",
            &["sh", "-c", "cat /greeting; id -u"],
        )),
    );
    assert_eq!(
        String::from_utf8(run.stdout).unwrap(),
        "built by buildkit\n1000\n"
    );
}

/// A context link to a host file (`ln -s /etc/shadow shadow`) is not followed out of the
/// context: docker's BuildKit reports `"/etc/shadow": not found`, plinth names the link and
/// where it led, before anything is built.
#[test]
fn a_context_link_to_a_host_file_is_not_found() {
    let ctx = TestContext::new();
    std::os::unix::fs::symlink("/etc/shadow", ctx.temp_dir().join("shadow")).unwrap();
    let dockerfile = write_dockerfile(&ctx, "FROM scratch\nCOPY shadow /x\n");
    plinth_test::plinth_snapshot!(ctx, &mut build_amd64(&ctx, &dockerfile), @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to read `[TEMP]/Dockerfile` for linux/amd64
      caused by: the Dockerfile cannot be read (1 problem):
      - line 2: the COPY source `shadow` is not in the build context `[TEMP]`: it resolves to `/etc/shadow` inside the context, which does not exist there (symlinks are followed inside the context only)
    ");
}

mod docker_shape;
mod security;
mod tty_progress;
