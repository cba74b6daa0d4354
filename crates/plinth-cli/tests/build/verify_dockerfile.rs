//! `plinth verify --rebuild REF -f Dockerfile CONTEXT`: an image `plinth build -f … --push`
//! made is rebuilt from the given Dockerfile and context and verified; after one context file
//! changed, the check before the rebuild names it by its digests and the rebuild names the file
//! in the image; a wrong build arg value is named without printing any value. The build's
//! `--label`s, its annotations (source and revision of the context's git checkout) and a build
//! arg taken from the environment are recorded in its provenance (the label and annotations by
//! value, the arg by its value's digest), so the rebuild matches after the checkout moved on.

use plinth_test::{External, LocalRegistry, require_external};

use crate::{output, stdout_ok};

#[test]
fn a_dockerfile_build_is_verified_then_a_changed_context_file_is_named() {
    if !require_external(External::Root) {
        return;
    }
    let registry = LocalRegistry::shared();
    let ctx = plinth_test::TestContext::new().with_registry_filter(registry);
    let pid = std::process::id();
    let root = registry.image(&format!("verify/df-root-{pid}:1"));
    plinth_test::images::push_busybox_with_plinth(&ctx, None, &root);
    let context = ctx.temp_dir().join("context");
    std::fs::create_dir_all(context.join("conf")).unwrap();
    std::fs::write(context.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(context.join("conf/app.conf"), "port=1\n").unwrap();
    let dockerfile = context.join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM {root}\nARG TOKEN\nCOPY hello.txt /hello.txt\nCOPY conf/ /etc/app/\n\
             RUN [\"sh\", \"-c\", \"echo built > /built\"]\n"
        ),
    )
    .unwrap();
    // The context is a git checkout with a remote: the image names its source and revision.
    let git = |args: &[&str]| {
        let out = output(
            &ctx,
            ctx.command("git")
                .arg("-C")
                .arg(&context)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args),
        );
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    git(&["init", "-q"]);
    git(&[
        "remote",
        "add",
        "origin",
        "git@git.example.com:team/app.git",
    ]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "app"]);
    let revision = git(&["rev-parse", "HEAD"]);
    let image = registry.image(&format!("verify/df-{pid}:1"));
    stdout_ok(
        &ctx,
        ctx.build_push(&image)
            .args(["--label", "org.example.team=base"])
            .args(["--build-arg", "TOKEN", "-f"])
            .env("TOKEN", "hunter2")
            .arg(&dockerfile)
            .arg(&context),
    );
    let manifest = plinth_test::skopeo_json([
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{image}"),
    ]);
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.source"],
        "https://git.example.com/team/app.git"
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.revision"],
        revision.as_str()
    );
    let provenance = stdout_ok(
        &ctx,
        ctx.plinth()
            .args(["provenance", &image, "--platform", "linux/amd64"]),
    );
    let statement: serde_json::Value = serde_json::from_str(&provenance).unwrap();
    let external = &statement["predicate"]["buildDefinition"]["externalParameters"];
    let recipe = &external["recipe"];
    assert_eq!(
        external["labels"],
        serde_json::json!({"org.example.team": "base"}),
        "{external}"
    );
    assert_eq!(
        external["annotations"]["org.opencontainers.image.revision"],
        revision.as_str(),
        "{external}"
    );
    // The checkout moves on: the rebuild is annotated with the recorded revision, not HEAD.
    std::fs::write(context.join("NOTES"), "not read by the build\n").unwrap();
    git(&["add", "NOTES"]);
    git(&["commit", "-q", "-m", "notes"]);
    assert_eq!(
        recipe["buildArgs"]["TOKEN"],
        plinth_oci::Digest::of(b"hunter2").to_string(),
        "the environment's value, by digest: {recipe}"
    );
    assert!(!provenance.contains("hunter2"));
    let verify = |token: &str| {
        let mut cmd = ctx.plinth();
        cmd.args(["verify", "--rebuild", &image, "--build-arg"])
            .arg(format!("TOKEN={token}"))
            .arg("-f")
            .arg(&dockerfile)
            .arg(&context);
        output(&ctx, &mut cmd)
    };

    let out = verify("hunter2");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("verified: the rebuild matches"), "{stdout}");
    assert!(
        stderr.contains("match what the provenance of"),
        "the inputs were compared first: {stderr}"
    );

    std::fs::write(context.join("hello.txt"), "hello, changed\n").unwrap();
    let out = verify("not-the-token");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the context file `hello.txt` differs from the build's"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`--build-arg TOKEN`: its value is not the build's"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("context directory `conf`"),
        "the unchanged directory is not named: {stderr}"
    );
    let before_build = stderr.find("hello.txt").unwrap();
    let rebuilding = stderr.find("Rebuilding").unwrap();
    assert!(before_build < rebuilding, "named before building: {stderr}");
    assert!(stdout.contains("NOT verified"), "{stdout}");
    assert!(stdout.contains("changed /hello.txt"), "{stdout}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains("hunter2") && !text.contains("not-the-token"));
    }
}
