//! docker-archive and pinned-registry destinations: skopeo's `FILE:REF` both ways, files that
//! are never clobbered, and push targets whose digest must be the image's.

use std::os::unix::fs::FileTypeExt as _;
use std::process::{Command, Output};

use plinth_oci::Store;
use plinth_oci::docker_archive::read_docker_archive;
use plinth_test::{External, LocalRegistry, TestContext, require_external};

use crate::image::busybox_layout;
use crate::run_ok;

fn run_err(ctx: &TestContext, cmd: &mut Command) -> String {
    let out: Output = cmd.output().expect("spawn");
    assert!(
        !out.status.success(),
        "expected a failure: {}",
        ctx.filter(&plinth_test::format_output(&out))
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `RepoTags` of every image in an archive, read by plinth's reader.
fn repo_tags(ctx: &TestContext, archive: &std::path::Path) -> Vec<Vec<String>> {
    let store = Store::open(ctx.temp_dir().join("check-store")).unwrap();
    read_docker_archive(&store, archive)
        .unwrap()
        .into_iter()
        .map(|i| i.repo_tags)
        .collect()
}

#[test]
fn docker_archive_file_colon_ref_is_the_file_tagged_ref_both_ways() {
    let ctx = TestContext::new();
    let layout = busybox_layout(ctx.temp_dir(), "v1");
    let archive = ctx.temp_dir().join("busybox.tar");
    run_ok(
        &ctx,
        ctx.plinth().args([
            "copy",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker-archive:{}:plinth-test/archive:1", archive.display()),
            "--platform",
            "linux/amd64",
        ]),
    );
    assert!(archive.is_file(), "FILE is written, not `FILE:REF`");
    assert!(!ctx.temp_dir().join("busybox.tar:plinth-test").exists());
    assert_eq!(
        repo_tags(&ctx, &archive),
        [["plinth-test/archive:1".to_owned()]]
    );

    if !require_external(External::Tool("skopeo")) {
        return;
    }
    // skopeo finds plinth's image by the same name.
    let inspect: serde_json::Value = serde_json::from_str(&run_ok(
        &ctx,
        ctx.command("skopeo").args([
            "inspect",
            &format!("docker-archive:{}:plinth-test/archive:1", archive.display()),
        ]),
    ))
    .unwrap();
    assert_eq!(inspect["Architecture"], "amd64");

    // plinth reads skopeo's `FILE:REF` archive, by that name, by index, and refuses a wrong name.
    let skopeos = ctx.temp_dir().join("skopeo.tar");
    run_ok(
        &ctx,
        ctx.command("skopeo").args([
            "copy",
            "--override-arch",
            "amd64",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker-archive:{}:skopeo/made:2", skopeos.display()),
        ]),
    );
    assert_eq!(
        repo_tags(&ctx, &skopeos),
        [["docker.io/skopeo/made:2".to_owned()]]
    );
    let out = ctx.temp_dir().join("out");
    let by_name = run_ok(
        &ctx,
        ctx.plinth().args([
            "copy",
            &format!("docker-archive:{}:skopeo/made:2", skopeos.display()),
            &format!("oci:{}:by-name", out.display()),
        ]),
    );
    let by_index = run_ok(
        &ctx,
        ctx.plinth().args([
            "copy",
            &format!("docker-archive:{}:@0", skopeos.display()),
            &format!("oci:{}:by-index", out.display()),
        ]),
    );
    assert_eq!(by_name, by_index);
    let stderr = run_err(
        &ctx,
        ctx.plinth().args([
            "copy",
            &format!("docker-archive:{}:skopeo/other:2", skopeos.display()),
            &format!("oci:{}:x", out.display()),
        ]),
    );
    assert!(
        stderr.contains("no image is tagged `skopeo/other:2`")
            && stderr.contains("docker.io/skopeo/made:2"),
        "{stderr}"
    );
}

#[test]
fn archive_destinations_are_never_clobbered() {
    let ctx = TestContext::new();
    let layout = busybox_layout(ctx.temp_dir(), "v1");
    let source = format!("oci:{}:v1", layout.display());
    let copy_to = |path: &std::path::Path, force: bool| {
        let mut cmd = ctx.plinth();
        cmd.args([
            "copy",
            &source,
            &format!("docker-archive:{}", path.display()),
            "--platform",
            "linux/amd64",
        ]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };

    // A FIFO stays a FIFO, even with --force: the archive is not written into it or over it.
    let fifo = ctx.temp_dir().join("fifo");
    run_ok(&ctx, Command::new("mkfifo").arg(&fifo));
    for force in [false, true] {
        let stderr = run_err(&ctx, &mut copy_to(&fifo, force));
        assert!(stderr.contains("it is a FIFO"), "{stderr}");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the FIFO was replaced");
    }

    // A symlink is not followed nor replaced.
    let target = ctx.temp_dir().join("target");
    std::fs::write(&target, "precious").unwrap();
    let link = ctx.temp_dir().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let stderr = run_err(&ctx, &mut copy_to(&link, true));
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");

    // An existing file is kept unless --force says to replace it.
    let existing = ctx.temp_dir().join("existing.tar");
    std::fs::write(&existing, "precious").unwrap();
    let stderr = run_err(&ctx, &mut copy_to(&existing, false));
    assert!(
        stderr.contains("the file exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "precious");
    run_ok(&ctx, &mut copy_to(&existing, true));
    assert_eq!(repo_tags(&ctx, &existing), [Vec::<String>::new()]);
}

#[test]
fn a_push_target_pinned_to_another_digest_is_refused() {
    let ctx = TestContext::new();
    let registry = LocalRegistry::start();
    let layout = busybox_layout(ctx.temp_dir(), "v1");
    let source = format!("oci:{}:v1", layout.display());
    let other = format!("sha256:{}", "0".repeat(64));
    let pinned = format!("docker://{}@{other}", registry.image("pin/busybox:1"));
    let stderr = run_err(&ctx, ctx.plinth().args(["copy", &source, &pinned]));
    assert!(
        stderr.contains("refusing to push") && stderr.contains(&other),
        "{stderr}"
    );
    // Nothing was tagged.
    let missing = ctx
        .plinth()
        .args(["inspect", &registry.image("pin/busybox:1")])
        .output()
        .unwrap();
    assert!(!missing.status.success(), "the tag was pushed anyway");

    // The image's own digest is accepted, tag and digest together.
    let digest = run_ok(
        &ctx,
        ctx.plinth()
            .args(["copy", &source, &registry.image("pin/busybox:scratch")]),
    );
    let digest = digest.trim();
    let pushed = run_ok(
        &ctx,
        ctx.plinth().args([
            "copy",
            &source,
            &format!("{}@{digest}", registry.image("pin/busybox:1")),
        ]),
    );
    assert_eq!(pushed.trim(), digest);
    let read_back = run_ok(
        &ctx,
        ctx.plinth()
            .args(["inspect", &registry.image("pin/busybox:1"), "--json"]),
    );
    let read_back: serde_json::Value = serde_json::from_str(&read_back).unwrap();
    assert_eq!(read_back["digest"], digest);
}
