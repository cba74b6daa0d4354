//! `plinth gc` and the roots a BuildKit build loaded into dockerd (`plinth-root:<config hex>`):
//! a root the store no longer keeps (its tag moved on) leaves the daemon with the store's copy;
//! the root still in use stays, and so does every name plinth did not load, even on the same
//! image.

use std::process::Command;

use plinth_test::images::{BusyboxImage, busybox_in_layout};
use plinth_test::{External, TestContext, require_external};
use serde_json::Value;

use super::buildkit_roots::{LoadedRoots, docker_image_id};
use super::{build_for, stdout_ok, write_dockerfile};

fn gc_json(ctx: &TestContext, extra: &[&str]) -> Value {
    let out = stdout_ok(
        ctx,
        ctx.plinth().args(["gc", "--now", "--json"]).args(extra),
    );
    serde_json::from_str(&out).unwrap()
}

fn docker_tag(from: &str, to: &str) {
    let out = Command::new("docker")
        .args(["tag", from, to])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker tag {from} {to}: {out:?}");
}

#[test]
fn gc_removes_the_roots_plinth_loaded_once_the_store_drops_them_and_nothing_else() {
    if !require_external(External::Docker) || !require_external(External::Root) {
        return;
    }
    let ctx = TestContext::new();
    let dir = ctx.temp_dir().join("roots");
    let root_name =
        |image: &BusyboxImage| format!("plinth-root:{}", image.platforms()[0].config.digest.hex());
    let (old, layout) = busybox_in_layout(&dir, &BusyboxImage::builder().with_seed("bk-gc-old"));
    let new = BusyboxImage::builder()
        .with_seed("bk-gc-new")
        .build(&plinth_oci::Store::open(dir.join("fixture-store")).unwrap());
    let (old_root, new_root) = (root_name(&old), root_name(&new));
    let not_plinths = "plinth-root:loaded-by-someone-else";
    let users = "bk-gc-user/kept:1";
    let _cleanup = LoadedRoots(vec![
        old_root.clone(),
        new_root.clone(),
        not_plinths.to_owned(),
        users.to_owned(),
    ]);
    let dockerfile = write_dockerfile(
        &ctx,
        &format!(
            "FROM oci:{}:v1\nRUN echo built > /built\n",
            layout.display()
        ),
    );
    let build = |tag: &str| {
        let mut cmd = build_for(&ctx, &dockerfile, "linux/amd64");
        cmd.args(["--engine", "buildkit", "--tag", tag]);
        stdout_ok(&ctx, &mut cmd);
    };
    build("bk-gc/first");
    let old_id = docker_image_id(&old_root).expect("the root is loaded into dockerd");
    assert_eq!(old_id, old.platforms()[0].config.digest.to_string());
    // Names plinth did not load, on the very image it loaded.
    docker_tag(&old_root, not_plinths);
    docker_tag(&old_root, users);

    // Still needed: gc keeps it.
    let kept = gc_json(&ctx, &[]);
    assert_eq!(
        kept["builder_roots_removed"],
        serde_json::json!([]),
        "{kept}"
    );
    assert_eq!(kept["builder_roots_kept"], 1, "{kept}");
    assert_eq!(docker_image_id(&old_root).as_deref(), Some(old_id.as_str()));

    // The layout's tag moves on: the next build loads the new root, and the store no longer
    // keeps the old one.
    plinth_oci::layout::OciLayout::open(&layout)
        .unwrap()
        .export_from_store(
            &plinth_oci::Store::open(dir.join("fixture-store")).unwrap(),
            &new.index,
            Some("v1"),
        )
        .unwrap();
    build("bk-gc/second");
    assert!(docker_image_id(&new_root).is_some());

    let dry = gc_json(&ctx, &["--dry-run"]);
    let expected = serde_json::json!([format!("local: {old_root}")]);
    assert_eq!(dry["builder_roots_removed"], expected, "{dry}");
    assert!(
        docker_image_id(&old_root).is_some(),
        "a dry run removes nothing"
    );

    let done = gc_json(&ctx, &[]);
    assert_eq!(done["builder_roots_removed"], expected, "{done}");
    assert_eq!(done["builder_roots_kept"], 1, "{done}");
    assert_eq!(done["builder_roots_left"], serde_json::json!([]), "{done}");
    assert_eq!(
        docker_image_id(&old_root),
        None,
        "the old root left dockerd"
    );
    assert!(
        docker_image_id(&new_root).is_some(),
        "the root in use stays"
    );
    for other in [not_plinths, users] {
        assert_eq!(
            docker_image_id(other).as_deref(),
            Some(old_id.as_str()),
            "`{other}` is not plinth's to remove"
        );
    }

    // Forgotten once removed: the next gc asks nothing more.
    let again = gc_json(&ctx, &[]);
    assert_eq!(
        again["builder_roots_removed"],
        serde_json::json!([]),
        "{again}"
    );
    assert_eq!(again["builder_roots_kept"], 1, "{again}");
}
