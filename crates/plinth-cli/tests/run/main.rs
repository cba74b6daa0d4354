//! `plinth run` against `docker run` of the same image on this machine: ENTRYPOINT + CMD, CMD…
//! replacing CMD, `--entrypoint`, `-e`, `-u`, `-w` and the exit code give the same results.

use std::process::Command;

use plinth_test::images::busybox_layout;
use plinth_test::{External, TestContext, output, require_external};

/// The test image: busybox with an entrypoint that prints its environment, place and arguments.
fn build_image(ctx: &TestContext, tag: &str) -> std::path::PathBuf {
    let dir = ctx.temp_dir();
    let root = busybox_layout(dir);
    let dockerfile = dir.join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM {root}\n\
             ENV GREETING=hello\n\
             WORKDIR /srv/app\n\
             USER airbyte\n\
             ENTRYPOINT [\"/bin/sh\", \"-c\", \"echo \\\"$GREETING from $(pwd) as $(id -u):$(id -g):\\\" \\\"$@\\\"\", \"entry\"]\n\
             CMD [\"default\", \"args\"]\n"
        ),
    )
    .unwrap();
    let archive = dir.join("image.tar");
    let out = output(
        ctx,
        ctx.plinth()
            .args(["build", "-f"])
            .arg(&dockerfile)
            .args(["--platform", "linux/amd64", "--tag", tag, "--output"])
            .arg(format!("docker-archive:{}", archive.display())),
    );
    assert!(out.status.success(), "the test image builds");
    archive
}

#[test]
fn run_matches_docker_run() {
    if !require_external(External::Root) || !require_external(External::Docker) {
        return;
    }
    let ctx = TestContext::new();
    let tag = format!("test/run-entrypoint-{}", std::process::id());
    let archive = build_image(&ctx, &tag);
    let loaded = output(
        &ctx,
        Command::new("docker").args(["load", "-i", archive.to_str().unwrap()]),
    );
    assert!(loaded.status.success());
    let loaded = String::from_utf8_lossy(&loaded.stdout).into_owned();
    let id = loaded
        .lines()
        .last()
        .and_then(|l| l.rsplit(' ').next())
        .expect("docker load names the image")
        .to_owned();

    // (flags before the image, arguments after it)
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &[]),
        (&[], &["one", "two words"]),
        (&[], &["--not-a-plinth-flag"]),
        (&["--entrypoint", "/bin/echo"], &[]),
        (&["--entrypoint", "/bin/echo"], &["hi", "there"]),
        (&["--entrypoint", ""], &["sh", "-c", "echo plain; id -un"]),
        (&["-e", "GREETING=bye"], &[]),
        (&["-u", "0"], &["as", "root"]),
        (&["-u", "1000:0"], &[]),
        (&["-w", "/tmp"], &[]),
        (&["-w", "/made/by/run"], &[]),
        (
            &["--entrypoint", "/bin/sh"],
            &["-c", "echo out; echo err >&2; exit 3"],
        ),
    ];
    let mut compared = 0;
    for (flags, arguments) in cases {
        let docker = output(
            &ctx,
            Command::new("docker")
                .args(["run", "--rm", "--network", "none"])
                .args(*flags)
                .arg(&id)
                .args(*arguments),
        );
        let plinth = output(
            &ctx,
            ctx.plinth()
                .args(["run", "--no-network"])
                .args(*flags)
                .arg(&tag)
                .args(*arguments),
        );
        let case = format!("flags {flags:?}, arguments {arguments:?}");
        assert_eq!(plinth.status.code(), docker.status.code(), "{case}");
        assert_eq!(
            String::from_utf8_lossy(&plinth.stdout),
            String::from_utf8_lossy(&docker.stdout),
            "{case}"
        );
        assert_eq!(
            String::from_utf8_lossy(&plinth.stderr),
            String::from_utf8_lossy(&docker.stderr),
            "{case}"
        );
        compared += 1;
    }
    assert_eq!(compared, cases.len());
    // Spot-check one case against the literal text, so an image both tools misread cannot pass.
    let default = output(&ctx, ctx.plinth().args(["run", &tag]));
    assert_eq!(
        String::from_utf8_lossy(&default.stdout),
        "hello from /srv/app as 1000:1000: default args\n"
    );
    let _ = Command::new("docker").args(["rmi", "-f", &id]).output();
}

#[test]
fn an_image_without_entrypoint_or_cmd_needs_a_command() {
    if !require_external(External::Root) {
        return;
    }
    let ctx = TestContext::new();
    let dir = ctx.temp_dir();
    let root = busybox_layout(dir);
    // The fixture's CMD is `sh`; `CMD []` clears it.
    let dockerfile = dir.join("Dockerfile");
    std::fs::write(&dockerfile, format!("FROM {root}\nCMD []\n")).unwrap();
    let image = "test/run-nothing";
    let built = output(
        &ctx,
        ctx.plinth().args(["build", "-f"]).arg(&dockerfile).args([
            "--platform",
            "linux/amd64",
            "--tag",
            image,
        ]),
    );
    assert!(built.status.success());
    let out = output(&ctx, ctx.plinth().args(["run", image]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no ENTRYPOINT or CMD: say what to run"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = output(&ctx, ctx.plinth().args(["run", image, "echo", "given"]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "given\n");
}
