//! `ADD` of a local archive on the embedded engine: zstd (which Debian's BuildKit cannot extract,
//! so the equivalence suite covers gzip and plain tars), plain tars read in place, and archives
//! that try to escape.

use std::os::unix::fs::MetadataExt;

use plinth_engine::BuildOptions;
use plinth_oci::Platform;
use plinth_recipe::{ReaderOptions, parse_dockerfile_with};

use crate::common::{TestEngine, busybox_layout, error_chain, require_root, unpack_image};

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

/// Builds `FROM <busybox>` + `ADD <archive> <dest>` with `context` as the build context: the
/// merged tree unpacked under `out`, or the build's error chain.
fn build_add(
    t: &TestEngine,
    context: &std::path::Path,
    archive: &str,
    dest: &str,
) -> Result<std::path::PathBuf, String> {
    let options = ReaderOptions::new(context);
    let build_options = BuildOptions::new(vec![Platform::linux_amd64()]);
    let text = format!("FROM {}\nADD {archive} {dest}\n", busybox_layout());
    let recipe = parse_dockerfile_with(&text, &options).unwrap();
    let built = t
        .engine
        .build(&recipe, &build_options)
        .map_err(|e| error_chain(&e))?;
    Ok(unpack_image(
        &t.store,
        &built.root,
        &Platform::linux_amd64(),
        &t.path("out"),
    ))
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
    let out = build_add(&t, ctx.path(), "b.tar.zst", "/z/").unwrap();
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

    let message = build_add(&t, ctx.path(), "evil.tar", "/e/").unwrap_err();
    assert!(
        message.contains("leads outside the destination"),
        "{message}"
    );
}

/// A plain tar's files are read where they lie in it: what comes out must be the bytes of each
/// entry whatever headers precede it (GNU long names, PAX records), a hard link gets its
/// target's bytes, a later entry for a path replaces the earlier one, and a file bigger than any
/// buffer comes through whole.
#[test]
fn plain_tars_are_read_in_place_entry_by_entry() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let ctx = tempfile::tempdir().unwrap();
    let long_dir = "d".repeat(120);
    let long_path = format!("{long_dir}/{}", "f".repeat(130));
    let big: Vec<u8> = (0..3_000_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut builder = tar::Builder::new(Vec::new());
    let file = |len: usize, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(len as u64);
        h.set_mode(mode);
        h
    };
    builder
        .append_data(&mut file(5, 0o644), "first.txt", &b"old!\n"[..])
        .unwrap();
    builder
        .append_data(&mut file(big.len(), 0o600), "big.bin", &big[..])
        .unwrap();
    builder
        .append_data(&mut file(7, 0o640), &long_path, &b"long 1\n"[..])
        .unwrap();
    builder
        .append_pax_extensions([("comment", &b"a PAX record before the entry"[..])])
        .unwrap();
    builder
        .append_data(&mut file(4, 0o644), "pax.txt", &b"pax\n"[..])
        .unwrap();
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Link);
    link.set_size(0);
    link.set_mode(0o644);
    builder
        .append_link(&mut link, "hard-to-big", "big.bin")
        .unwrap();
    builder
        .append_data(&mut file(4, 0o644), "first.txt", &b"new\n"[..])
        .unwrap();
    let tar = builder.into_inner().unwrap();
    std::fs::write(ctx.path().join("in-place.tar"), &tar).unwrap();
    // The same archive cut inside `big.bin`'s bytes.
    std::fs::write(ctx.path().join("cut.tar"), &tar[..2_000_000]).unwrap();

    let out = build_add(&t, ctx.path(), "in-place.tar", "/p/").unwrap();
    assert_eq!(std::fs::read(out.join("p/big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(out.join("p/hard-to-big")).unwrap(), big);
    assert_eq!(
        std::fs::read_to_string(out.join("p").join(&long_path)).unwrap(),
        "long 1\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("p/pax.txt")).unwrap(),
        "pax\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("p/first.txt")).unwrap(),
        "new\n"
    );
    // The hard link stays a link to the same inode, which takes the link header's mode (0644,
    // over the file's 0600), as extracting the archive does.
    let meta = std::fs::symlink_metadata(out.join("p/big.bin")).unwrap();
    let link = std::fs::symlink_metadata(out.join("p/hard-to-big")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o644);
    assert_eq!((meta.ino(), meta.nlink()), (link.ino(), 2));

    let message = build_add(&t, ctx.path(), "cut.tar", "/c/").unwrap_err();
    assert!(
        message.contains("cut.tar") && message.contains("shorter than its entries say"),
        "{message}"
    );
}

/// A file whose name starts with `.wh.` is a deletion in the layer format: whether an archive,
/// the context or a `RUN` puts it there, the step is refused, naming the path and the way out
/// (docker's BuildKit keeps the file in its local store, and its pushed image loses the
/// neighbour instead).
#[test]
fn files_the_layer_format_reads_as_deletions_are_refused() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("odd.tar"),
        tar_of(&[("x/.wh.gone", "", 0), ("x/kept", "k\n", 0)]),
    )
    .unwrap();
    std::fs::create_dir(ctx.path().join("dir")).unwrap();
    std::fs::write(ctx.path().join("dir/.wh..wh..opq"), "").unwrap();
    let build = |steps: &str| {
        let text = format!("FROM {}\n{steps}", busybox_layout());
        let recipe = parse_dockerfile_with(&text, &ReaderOptions::new(ctx.path())).unwrap();
        t.engine
            .build(
                &recipe,
                &BuildOptions::new(vec![Platform::linux_amd64()]).with_no_cache(true),
            )
            .map(|_| ())
            .map_err(|e| error_chain(&e))
    };
    for (steps, path, meaning) in [
        (
            "ADD odd.tar /d/\n",
            "/d/x/.wh.gone",
            "the deletion of `gone`",
        ),
        (
            "COPY dir /c\n",
            "/c/.wh..wh..opq",
            "hides everything below it",
        ),
        (
            "RUN mkdir /r && touch /r/.wh.made\n",
            "/r/.wh.made",
            "the deletion of `made`",
        ),
    ] {
        let err = build(steps).unwrap_err();
        assert!(
            err.contains("step #2")
                && err.contains(path)
                && err.contains(meaning)
                && err.contains("rename it"),
            "{steps}: {err}"
        );
    }
}
