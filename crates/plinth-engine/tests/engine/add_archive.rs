//! `ADD` of a local archive on the embedded engine: zstd (which Debian's BuildKit cannot extract,
//! so the equivalence suite covers gzip and plain tars) and archives that try to escape.

use std::os::unix::fs::MetadataExt;

use plinth_engine::BuildOptions;
use plinth_oci::Platform;
use plinth_recipe::{ReaderOptions, parse_dockerfile_with};

use crate::common::{TestEngine, busybox_layout, error_chain, ok, require_root, unpack_image};

fn tar_of(entries: &[(&str, &str, u64)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, text, uid) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(text.len() as u64);
        header.set_mode(0o640);
        header.set_uid(*uid);
        header.set_gid(*uid);
        // `append_data` refuses `..`; write the name into the header directly, as a hostile
        // archive would.
        header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, text.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn zstd_archives_extract_and_escaping_ones_are_refused() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let ctx = tempfile::tempdir().unwrap();
    let tar = tar_of(&[("pkg/a.txt", "alpha\n", 1000), ("top.txt", "top\n", 0)]);
    std::fs::write(
        ctx.path().join("b.tar.zst"),
        zstd::encode_all(&tar[..], 3).unwrap(),
    )
    .unwrap();
    std::fs::write(
        ctx.path().join("evil.tar"),
        tar_of(&[("../../escape", "x\n", 0)]),
    )
    .unwrap();
    let options = ReaderOptions::new(ctx.path());
    let build_options = BuildOptions::new(vec![Platform::linux_amd64()]);
    let text = format!("FROM {}\nADD b.tar.zst /z/\n", busybox_layout());
    let built = ok(t.engine.build(
        &parse_dockerfile_with(&text, &options).unwrap(),
        &build_options,
    ));
    let out = unpack_image(
        &t.store,
        &built.root,
        &Platform::linux_amd64(),
        &t.path("out"),
    );
    assert_eq!(
        std::fs::read_to_string(out.join("z/pkg/a.txt")).unwrap(),
        "alpha\n"
    );
    let meta = std::fs::symlink_metadata(out.join("z/pkg/a.txt")).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (1000, 0o640));
    assert_eq!(
        std::fs::read_to_string(out.join("z/top.txt")).unwrap(),
        "top\n"
    );

    let text = format!("FROM {}\nADD evil.tar /e/\n", busybox_layout());
    let err = t
        .engine
        .build(
            &parse_dockerfile_with(&text, &options).unwrap(),
            &build_options,
        )
        .unwrap_err();
    let message = error_chain(&err);
    assert!(
        message.contains("leads outside the destination"),
        "{message}"
    );
}
