//! `plinth build` as a docker user types it: the context positional, `-f -`, stdin contexts,
//! `--label`, `--iidfile`, `--metadata-file`, `--load`, buildx's `--output` forms, `--pull`,
//! and docker's flags plinth refuses. What plinth writes is read back by docker and skopeo.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use plinth_test::{External, TestContext, require_external};

use super::{busybox_layout, docker_build_amd64, output, stdout_ok};

/// A context directory `ctx` holding only `dockerfile` as its Dockerfile.
fn context_dir(ctx: &TestContext, dockerfile: &str) -> PathBuf {
    let dir = ctx.temp_dir().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

/// A context directory with a Dockerfile on `root` that copies a context file and prints lines.
fn context_with_dockerfile(ctx: &TestContext, root: &str) -> PathBuf {
    let dir = context_dir(
        ctx,
        &format!("FROM {root}\nCOPY payload.txt /payload.txt\nCMD [\"cat\", \"/payload.txt\"]\n"),
    );
    std::fs::write(dir.join("payload.txt"), "from the context\n").unwrap();
    dir
}

fn with_stdin(ctx: &TestContext, cmd: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    #[allow(clippy::print_stderr, reason = "explains a failing assertion")]
    {
        eprintln!("{}", ctx.filter(&plinth_test::format_output(&out)));
    }
    out
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn load_iidfile_metadata_and_label_agree_with_docker() {
    require_external!(External::Root, External::Docker);
    let ctx = TestContext::new();
    let root = busybox_layout(ctx.temp_dir());
    let context = context_with_dockerfile(&ctx, &root);
    let name = format!("plinth-test/docker-shape:{}", std::process::id());
    let iidfile = ctx.temp_dir().join("iid");
    let metadata = ctx.temp_dir().join("metadata.json");
    let build = |extra: &[&str]| {
        let mut cmd = docker_build_amd64(&ctx);
        cmd.current_dir(&context)
            .args(["-t", &name])
            .args(["--label", "org.example.team=base"])
            .args(["--iidfile", iidfile.to_str().unwrap()])
            .args(["--metadata-file", metadata.to_str().unwrap()])
            .args(extra)
            .arg(".");
        cmd
    };

    // Without a docker client `--load` says what to do instead.
    let mut no_docker = build(&["--load"]);
    no_docker.env("PLINTH_DOCKER", ctx.temp_dir().join("no-docker"));
    let out = output(&ctx, &mut no_docker);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`--load` puts the image into a local docker daemon")
            && stderr.contains("--output type=docker,dest=FILE"),
        "{stderr}"
    );

    let digest = stdout_ok(&ctx, &mut build(&["--load"]));
    let iid = std::fs::read_to_string(&iidfile).unwrap();
    let inspect = |format: &str| {
        stdout_ok(
            &ctx,
            ctx.command("docker")
                .args(["image", "inspect", &name, "--format", format]),
        )
    };
    let docker_id = inspect("{{.Id}}");
    let label = inspect("{{index .Config.Labels \"org.example.team\"}}");
    let history = stdout_ok(
        &ctx,
        ctx.command("docker").args([
            "image",
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            &name,
        ]),
    );
    let ran = stdout_ok(&ctx, ctx.command("docker").args(["run", "--rm", &name]));
    let _ = ctx.command("docker").args(["rmi", "-f", &name]).output();
    assert!(
        iid.starts_with("sha256:") && !iid.ends_with('\n'),
        "{iid:?}"
    );
    assert_eq!(docker_id.trim(), iid, "the iidfile holds docker's image ID");
    assert_eq!(label.trim(), "base");
    assert!(
        history.contains("COPY") && !history.contains("org.example.team"),
        "a --label adds no history entry, as with BuildKit: {history}"
    );
    assert_eq!(ran, "from the context\n");

    let meta = read_json(&metadata);
    assert_eq!(meta["containerimage.digest"], digest.trim());
    assert_eq!(meta["containerimage.config.digest"], iid.as_str());
    assert_eq!(meta["containerimage.descriptor"]["digest"], digest.trim());
    assert_eq!(meta["image.name"], name.as_str());
    assert_eq!(
        meta["plinth.platforms"]["linux/amd64"]["containerimage.config.digest"],
        iid.as_str()
    );

    // A label is part of the config: another value, another image.
    let relabelled = stdout_ok(
        &ctx,
        docker_build_amd64(&ctx)
            .current_dir(&context)
            .arg("--label")
            .args(["org.example.team=other", "."]),
    );
    assert_ne!(relabelled, digest);
}

#[test]
fn stdin_dockerfiles_and_contexts_and_buildx_outputs() {
    require_external!(External::Root);
    let ctx = TestContext::new();
    let root = busybox_layout(ctx.temp_dir());
    let context = context_with_dockerfile(&ctx, &root);
    let dockerfile = format!(
        "FROM {root}\nCOPY payload.txt /copied.txt\nRUN echo made > /made && rm /etc/passwd\n"
    );

    // `-f -`: the Dockerfile from stdin, the context from PATH; outputs in buildx's forms.
    let local = ctx.temp_dir().join("tree");
    let tree_tar = ctx.temp_dir().join("tree.tar");
    let oci_tar = ctx.temp_dir().join("oci.tar");
    let out = with_stdin(
        &ctx,
        docker_build_amd64(&ctx)
            .args(["-f", "-", "-t", "a/b:1"])
            .args(["--output", &format!("type=local,dest={}", local.display())])
            .args(["--output", &format!("type=tar,dest={}", tree_tar.display())])
            .args(["--output", &format!("type=oci,dest={}", oci_tar.display())])
            .arg(&context),
        dockerfile.as_bytes(),
    );
    assert!(out.status.success());
    let digest = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        std::fs::read_to_string(local.join("copied.txt")).unwrap(),
        "from the context\n"
    );
    assert_eq!(
        std::fs::read_to_string(local.join("made")).unwrap(),
        "made\n"
    );
    assert!(local.join("bin/busybox").is_file());
    assert!(
        !local.join("etc/passwd").exists(),
        "the deletion is applied"
    );

    let listed = stdout_ok(&ctx, ctx.command("tar").arg("-tf").arg(&tree_tar));
    assert!(
        listed
            .lines()
            .any(|l| l.trim_start_matches("./") == "copied.txt")
            && !listed.lines().any(|l| l.ends_with("etc/passwd")),
        "{listed}"
    );
    if require_external(External::Tool("skopeo")) {
        let inspected: serde_json::Value = serde_json::from_str(&stdout_ok(
            &ctx,
            ctx.command("skopeo")
                .args(["inspect", &format!("oci-archive:{}", oci_tar.display())]),
        ))
        .unwrap();
        assert_eq!(inspected["Digest"], digest.trim());
    }

    // `plinth build -` with a Dockerfile: an empty context (COPY finds nothing).
    let out = with_stdin(
        &ctx,
        docker_build_amd64(&ctx).arg("-"),
        format!("FROM {root}\nRUN echo from stdin > /s\n").as_bytes(),
    );
    assert!(out.status.success());

    // `plinth build -` with a tar context: the Dockerfile named by `-f` inside it.
    let tar_bytes = Command::new("tar")
        .arg("-C")
        .arg(&context)
        .args(["-cf", "-", "payload.txt", "Dockerfile"])
        .output()
        .unwrap()
        .stdout;
    let from_tar = ctx.temp_dir().join("from-tar");
    let out = with_stdin(
        &ctx,
        docker_build_amd64(&ctx)
            .args(["-o"])
            .arg(&from_tar)
            .arg("-"),
        &tar_bytes,
    );
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(from_tar.join("payload.txt")).unwrap(),
        "from the context\n"
    );
}

#[test]
fn docker_flags_plinth_does_not_honour_are_refused_with_a_reason() {
    let ctx = TestContext::new();
    let dir = context_dir(&ctx, "FROM scratch\n");
    let refused = |args: &[&str], expected: &str| {
        let out = output(&ctx, ctx.plinth().arg("build").args(args).arg(&dir));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    };
    refused(
        &["--squash"],
        "`--squash` is a docker build flag plinth does not support",
    );
    refused(&["-m", "1g"], "`--memory` is a docker build flag");
    refused(&["--add-host", "h:1.2.3.4"], "/etc/hosts");
    refused(&["--rm=false"], "plinth keeps none");
    refused(
        &["--output", "type=cacheonly"],
        "`cacheonly` is not supported",
    );
    refused(&["--label", "novalue"], "write KEY=VALUE");
    refused(&["--push"], "--tag");
    refused(
        &["--allow", "security.insecure"],
        "`--allow security.insecure` is not something plinth can allow",
    );
    refused(&["--secret", "src=token"], "has no `id=`");

    let missing = output(&ctx, ctx.plinth().args(["build", "./no-such-context"]));
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not a directory"));
    let stdin_twice = output(
        &ctx,
        ctx.plinth()
            .args(["build", "-f", "-", "-"])
            .stdin(Stdio::null()),
    );
    assert_eq!(stdin_twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stdin_twice.stderr).contains("cannot both come from stdin"));
}

#[test]
fn pull_refuses_an_unreachable_registry_where_a_plain_build_falls_back() {
    require_external!(External::Root);
    let ctx = TestContext::new();
    let layout = busybox_layout(ctx.temp_dir());
    let registry = plinth_test::LocalRegistry::start();
    let image = registry.image("pull/busybox:1");
    stdout_ok(&ctx, ctx.plinth().args(["copy", &layout, &image]));
    let dir = context_dir(&ctx, &format!("FROM {image}\nRUN true\n"));
    let build = |pull: bool| {
        let mut cmd = docker_build_amd64(&ctx);
        if pull {
            cmd.arg("--pull");
        }
        cmd.arg(&dir);
        output(&ctx, &mut cmd)
    };
    let first = build(true);
    assert!(first.status.success());
    drop(registry);
    let offline = build(false);
    assert!(offline.status.success(), "an earlier resolution is used");
    assert_eq!(offline.stdout, first.stdout);
    let pulled = build(true);
    assert_eq!(pulled.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&pulled.stderr).contains("pull/busybox:1"),
        "the error names the image"
    );
}

/// `--progress plain` prints BuildKit's plain lines with the RUN output streamed; `quiet` only
/// docker's image ID; `tty` without a terminal is refused as buildx refuses it.
#[test]
fn progress_plain_streams_run_output_as_buildkit_does_and_quiet_prints_the_image_id() {
    require_external!(External::Root);
    let ctx = TestContext::new();
    let root = busybox_layout(ctx.temp_dir());
    let dir = context_dir(
        &ctx,
        &format!("FROM {root}\nENV A=1\nRUN echo first line; echo second line >&2\n"),
    );
    let build = |progress: &str| {
        output(
            &ctx,
            docker_build_amd64(&ctx)
                .args(["--progress", progress])
                .arg(&dir),
        )
    };
    let plain = build("plain");
    assert!(plain.status.success());
    let stderr = String::from_utf8_lossy(&plain.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with `{prefix}`:\n{stderr}"))
    };
    let header = at("#3 [3/3] RUN ");
    let first = at("#3 0.");
    assert!(lines[first].ends_with(" first line"), "{stderr}");
    let second = lines
        .iter()
        .position(|l| l.starts_with("#3 ") && l.ends_with(" second line"))
        .expect("stderr of the step is streamed too");
    let done = at("#3 DONE ");
    assert!(header < first && first < done && second < done, "{stderr}");
    assert!(lines[done].ends_with('s'), "{stderr}");
    assert!(lines.contains(&"#2 [2/3] ENV A=1"), "{stderr}");
    assert!(
        lines[at("#1 [1/3] FROM ")..]
            .iter()
            .any(|l| l.starts_with("#1 ")),
        "{stderr}"
    );

    // Rebuilt: every step is `#N CACHED`, and nothing is streamed.
    let cached = build("plain");
    let stderr = String::from_utf8_lossy(&cached.stderr);
    assert!(stderr.contains("\n#3 CACHED\n"), "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("#3 0.")), "{stderr}");

    // Quiet prints docker's image ID, the config digest, as `docker build -q` does; the
    // `--iidfile` holds the same value, and a plain build prints the manifest digest.
    let iidfile = ctx.temp_dir().join("quiet.iid");
    let quiet = output(
        &ctx,
        docker_build_amd64(&ctx)
            .args(["-q", "--iidfile"])
            .arg(&iidfile)
            .arg(&dir),
    );
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    let image_id = String::from_utf8(quiet.stdout).unwrap();
    let manifest_digest = String::from_utf8(plain.stdout).unwrap();
    assert_eq!(
        image_id.trim_end(),
        std::fs::read_to_string(&iidfile).unwrap(),
        "`-q` prints what `--iidfile` holds"
    );
    let metadata_file = ctx.temp_dir().join("quiet-metadata.json");
    stdout_ok(
        &ctx,
        docker_build_amd64(&ctx)
            .args(["-q", "--metadata-file"])
            .arg(&metadata_file)
            .arg(&dir),
    );
    let metadata = read_json(&metadata_file);
    assert_eq!(
        metadata["containerimage.config.digest"].as_str(),
        Some(image_id.trim_end())
    );
    assert_eq!(
        metadata["containerimage.digest"].as_str(),
        Some(manifest_digest.trim_end())
    );
    let progress_quiet = build("quiet");
    assert!(progress_quiet.status.success());
    assert_eq!(
        progress_quiet.stdout,
        image_id.as_bytes(),
        "`--progress quiet` is `-q`"
    );
    assert_ne!(image_id, manifest_digest);

    let tty = build("tty");
    assert_eq!(tty.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&tty.stderr)
            .contains("`--progress tty` needs stderr to be a terminal"),
    );
}

/// A Dockerfile whose recipe differs per platform (`$TARGETARCH` in a RUN) builds each platform
/// on its own into one index; `type=local` writes one tree per platform, named as BuildKit
/// names them.
#[test]
fn a_recipe_that_differs_per_platform_builds_every_platform_into_one_index() {
    require_external!(External::Root, External::BinfmtArm64);
    let ctx = TestContext::new();
    let root = busybox_layout(ctx.temp_dir());
    let dir = context_dir(
        &ctx,
        &format!("FROM {root}\nARG TARGETARCH\nRUN echo $TARGETARCH > /arch\n"),
    );
    let trees = ctx.temp_dir().join("trees");
    let metadata = ctx.temp_dir().join("metadata.json");
    let digest = stdout_ok(
        &ctx,
        ctx.plinth()
            .args(["build", "--platform", "linux/amd64,linux/arm64"])
            .args(["--metadata-file", metadata.to_str().unwrap()])
            .arg("--output")
            .arg(format!("type=local,dest={}", trees.display()))
            .arg(&dir),
    );
    for arch in ["amd64", "arm64"] {
        assert_eq!(
            std::fs::read_to_string(trees.join(format!("linux_{arch}/arch"))).unwrap(),
            format!("{arch}\n")
        );
    }
    let meta = read_json(&metadata);
    assert_eq!(meta["containerimage.digest"], digest.trim());
    assert_eq!(
        meta["containerimage.descriptor"]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert!(meta.get("containerimage.config.digest").is_none(), "{meta}");
    let platforms = meta["plinth.platforms"].as_object().unwrap();
    assert_eq!(platforms.len(), 2, "{meta}");
    assert_ne!(
        platforms["linux/amd64"]["containerimage.digest"],
        platforms["linux/arm64"]["containerimage.digest"]
    );
}

/// Every regular file, directory and link under `root`, as `path kind size`, sorted.
fn tree_listing(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if meta.is_dir() {
                out.push(format!("{name}/"));
                walk(root, &path, out);
            } else if meta.file_type().is_symlink() {
                out.push(format!(
                    "{name} -> {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else {
                out.push(format!("{name} {}", meta.len()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// `--output type=local` side by side with BuildKit's local exporter (`docker build -o`) on the
/// same context: the same tree.
#[test]
fn local_output_matches_buildkits_local_exporter() {
    require_external!(External::Root, External::Docker);
    let ctx = TestContext::new();
    let registry = plinth_test::LocalRegistry::start();
    let image = registry.image("shape/busybox:1");
    stdout_ok(
        &ctx,
        ctx.plinth()
            .args(["copy", &busybox_layout(ctx.temp_dir()), &image]),
    );
    let context = context_with_dockerfile(&ctx, &image);
    std::fs::write(
        context.join("Dockerfile"),
        format!(
            "FROM {image}\nCOPY payload.txt /payload.txt\nRUN echo made > /made && rm /etc/passwd\n"
        ),
    )
    .unwrap();
    // The docker client that runs BuildKit builds here (buildx, or an older client's own).
    let docker = plinth_buildkit::DockerCli::detect().unwrap();
    let docker_build = || {
        let mut cmd = ctx.command(docker.program());
        cmd.env("DOCKER_BUILDKIT", "1");
        match docker.mode() {
            plinth_buildkit::BuildMode::Buildx => cmd.args(["buildx", "build"]),
            plinth_buildkit::BuildMode::Classic => cmd.arg("build"),
        };
        cmd.args(["--platform", "linux/amd64"]);
        cmd
    };
    let (ours, theirs) = (ctx.temp_dir().join("ours"), ctx.temp_dir().join("theirs"));
    let our_iid = ctx.temp_dir().join("our-iid");
    stdout_ok(
        &ctx,
        docker_build_amd64(&ctx)
            .args(["-o"])
            .arg(&ours)
            .arg("--iidfile")
            .arg(&our_iid)
            .arg(&context),
    );
    stdout_ok(
        &ctx,
        docker_build()
            .arg("-o")
            .arg(format!("type=local,dest={}", theirs.display()))
            .arg(&context),
    );
    assert_eq!(tree_listing(&ours), tree_listing(&theirs));
    assert_eq!(
        std::fs::read(ours.join("made")).unwrap(),
        std::fs::read(theirs.join("made")).unwrap()
    );
    // docker's ID convention: `sha256:` and 64 hex digits, no newline (the value itself is
    // compared with `docker image inspect` in `load_iidfile_metadata_and_label_agree_with_docker`).
    let shape = |text: String| {
        let hex = text.strip_prefix("sha256:").unwrap_or_default();
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    };
    assert!(shape(std::fs::read_to_string(&our_iid).unwrap()));
}
