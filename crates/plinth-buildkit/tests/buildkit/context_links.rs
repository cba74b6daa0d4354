//! Symlinks in a Dockerfile's build context, as docker's BuildKit on this machine resolves them
//! and as plinth's two executors build them: a link that leaves the context is not found (never
//! the host's file); an absolute link that stays inside resolves from the context root; links
//! inside a copied directory stay links.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use plinth_buildkit::{BuildMode, DockerCli};
use plinth_engine::{Engine, EngineConfig};
use plinth_executor::{BuildOptions, Executor};
use plinth_oci::{Digest, Platform, Store};
use plinth_recipe::parse_dockerfile;

use crate::common::{busybox_root, flatten, local_backend, ok, require_all};

const SECRET: &[u8] = b"host secret\n";
const INSIDE: &[u8] = b"inside\n";

/// `<root>/outside.txt` and a context `<root>/ctx` linking to it and within itself.
fn linked_context(root: &Path) -> PathBuf {
    let ctx = root.join("ctx");
    std::fs::create_dir_all(ctx.join("sub")).unwrap();
    std::fs::create_dir_all(ctx.join("dir")).unwrap();
    std::fs::write(root.join("outside.txt"), SECRET).unwrap();
    std::fs::write(ctx.join("sub/file"), INSIDE).unwrap();
    std::fs::write(ctx.join("dir/f"), "x\n").unwrap();
    symlink(root.join("outside.txt"), ctx.join("abs_out")).unwrap();
    symlink("../outside.txt", ctx.join("rel_out")).unwrap();
    symlink("/sub/file", ctx.join("abs_in")).unwrap();
    symlink("../../ctx/sub/file", ctx.join("sub/dotdot_in")).unwrap();
    symlink(root, ctx.join("dir_out")).unwrap();
    symlink("sub", ctx.join("dir_in")).unwrap();
    symlink(root.join("outside.txt"), ctx.join("dir/l")).unwrap();
    ctx
}

/// `docker build` of `dockerfile` over `ctx` with BuildKit, the image's files written to `dest`.
fn docker_build(docker: &DockerCli, ctx: &Path, dockerfile: &Path, dest: &Path) -> Output {
    let mut cmd = Command::new(docker.program());
    match docker.mode() {
        BuildMode::Buildx => {
            cmd.args(["buildx", "build"]);
        }
        BuildMode::Classic => {
            cmd.env("DOCKER_BUILDKIT", "1").arg("build");
        }
    }
    cmd.arg("-q")
        .arg("-f")
        .arg(dockerfile)
        .arg("-o")
        .arg(format!("type=local,dest={}", dest.display()))
        .arg(ctx)
        .output()
        .unwrap()
}

/// A file's or link's content as `flatten` gives it: the digest of a file, a link's target.
fn docker_entry(path: &Path) -> (char, String) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).unwrap();
        ('l', target.to_string_lossy().into_owned())
    } else {
        ('f', Digest::of(&std::fs::read(path).unwrap()).to_string())
    }
}

#[test]
fn links_out_of_the_context_are_not_found_as_with_docker() {
    if !require_all() {
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("pbk-links-")
        .tempdir()
        .unwrap();
    let ctx = linked_context(work.path());
    let backend = local_backend(&work.path().join("store"));
    for src in ["abs_out", "rel_out", "sub/dotdot_in", "dir_out/outside.txt"] {
        let text = format!("FROM scratch\nCOPY {src} /x\n");
        let dockerfile = work.path().join("Dockerfile");
        std::fs::write(&dockerfile, &text).unwrap();
        let dest = work.path().join(format!("out-{}", src.replace('/', "_")));
        let out = docker_build(backend.docker(), &ctx, &dockerfile, &dest);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "docker copied {src}");
        assert!(stderr.contains("not found"), "{src}: {stderr}");

        let err = parse_dockerfile(&text, &ctx)
            .expect_err("plinth must not read the host file")
            .to_string();
        assert!(
            err.contains(&format!(
                "the COPY source `{src}` is not in the build context"
            )),
            "{src}: {err}"
        );
    }
}

#[test]
fn links_inside_the_context_build_the_same_files_as_docker() {
    if !require_all() {
        return;
    }
    let root = busybox_root();
    let work = tempfile::Builder::new()
        .prefix("pbk-links-")
        .tempdir()
        .unwrap();
    let ctx = linked_context(work.path());
    let text =
        format!("FROM {root}\nCOPY abs_in /x\nCOPY dir_in /y\nCOPY dir_in/file /z\nCOPY dir /w\n");
    let dockerfile = work.path().join("Dockerfile");
    std::fs::write(&dockerfile, &text).unwrap();
    let store = Store::open(work.path().join("store")).unwrap();
    let backend = local_backend(store.root());
    let dest = work.path().join("docker-out");
    let out = docker_build(backend.docker(), &ctx, &dockerfile, &dest);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths = ["x", "y/file", "y/dotdot_in", "z", "w/f", "w/l"];
    let docker: BTreeMap<&str, (char, String)> = paths
        .iter()
        .map(|p| (*p, docker_entry(&dest.join(p))))
        .collect();
    assert_eq!(docker["x"], ('f', Digest::of(INSIDE).to_string()));
    assert_eq!(
        docker["w/l"],
        ('l', work.path().join("outside.txt").display().to_string())
    );

    let recipe = ok(parse_dockerfile(&text, &ctx));
    let engine = ok(Engine::new(EngineConfig::new(store.clone())));
    let platform = Platform::linux_amd64();
    let executors: [&dyn Executor; 2] = [&engine, &backend];
    for executor in executors {
        let built = ok(executor.build(&recipe, &BuildOptions::new([platform.clone()])));
        let files = flatten(&store, &built.root, &platform);
        for path in paths {
            let entry = files
                .get(path)
                .unwrap_or_else(|| panic!("{}: no /{path}", executor.name()));
            assert_eq!(
                (entry.kind, entry.content.clone()),
                docker[path],
                "{}: /{path}",
                executor.name()
            );
        }
        let secret = Digest::of(SECRET).to_string();
        assert!(
            files.values().all(|e| e.content != secret),
            "{}: the host file is in the image",
            executor.name()
        );
    }
}
