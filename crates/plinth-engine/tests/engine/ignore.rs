//! A Dockerfile context read through its ignore file: the image holds only what the file
//! keeps, and changing an ignored file leaves the copy step cached.

use plinth_engine::{BuildOptions, CacheStatus};
use plinth_oci::Platform;
use plinth_recipe::{ReaderOptions, parse_dockerfile_with};

use crate::common::{TestEngine, busybox_layout, ok, require_root, unpack_image};

#[test]
fn ignored_files_are_left_out_and_do_not_invalidate_the_copy() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let ctx = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = ctx.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(".dockerignore", "*.log\nsecret\n");
    write("app/main.sh", "echo main\n");
    write("debug.log", "first\n");
    write("secret/token", "t0k3n\n");
    let text = format!("FROM {}\nCOPY . /ctx/\n", busybox_layout());
    let options = ReaderOptions::new(ctx.path()).with_dockerfile(ctx.path().join("Dockerfile"));
    let build_options = BuildOptions::new(vec![Platform::linux_amd64()]);
    let first = ok(t.engine.build(
        &parse_dockerfile_with(&text, &options).unwrap(),
        &build_options,
    ));
    let out = unpack_image(
        &t.store,
        &first.root,
        &Platform::linux_amd64(),
        &t.path("out"),
    );
    assert_eq!(
        std::fs::read_to_string(out.join("ctx/app/main.sh")).unwrap(),
        "echo main\n"
    );
    assert!(out.join("ctx/.dockerignore").exists());
    assert!(!out.join("ctx/debug.log").exists());
    assert!(!out.join("ctx/secret").exists());

    // An ignored file changes: the copy is a cache hit and the image the same.
    write("debug.log", "second\n");
    write("secret/token", "rotated\n");
    let again = ok(t.engine.build(
        &parse_dockerfile_with(&text, &options).unwrap(),
        &build_options,
    ));
    let copy = |result: &plinth_engine::BuildResult| {
        result.platforms[0]
            .steps
            .iter()
            .find(|s| s.description.starts_with("COPY"))
            .map(|s| s.status)
    };
    assert_eq!(
        copy(&again),
        Some(CacheStatus::Hit),
        "{:#?}",
        again.platforms[0].steps
    );
    assert_eq!(again.root, first.root);

    // A kept file changes: the copy runs again.
    write("app/main.sh", "echo changed\n");
    let changed = ok(t.engine.build(
        &parse_dockerfile_with(&text, &options).unwrap(),
        &build_options,
    ));
    assert_eq!(copy(&changed), Some(CacheStatus::Miss));
}
