//! Determinism: the same content gives the same digests whatever the creation order, the
//! directory listing order or the mtimes newer than `SOURCE_DATE_EPOCH`. Digests are snapshots.

mod layer_support;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use layer_support::{all_paths, require_root};
use plinth_oci::layer::{
    Compression, LayerEntry, LayerInfo, UnpackOptions, WriteOptions, parse_source_date_epoch,
    unpack_layer, write_dir_layer, write_entries_layer,
};
use rustix::fs::{AtFlags, CWD, Timespec, Timestamps};

const EPOCH: u64 = 1_700_000_000;
const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Gzip, Compression::Zstd];

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({ snapshot_path => "data/layers/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, value);
    });
}

fn describe(infos: &[LayerInfo]) -> String {
    let mut out = String::new();
    for i in infos {
        writeln!(
            out,
            "{}: diff_id={} digest={} size={}",
            i.compression, i.diff_id, i.digest, i.size
        )
        .unwrap();
    }
    out
}

fn entries() -> Vec<LayerEntry> {
    vec![
        LayerEntry::dir("usr").with_mtime(5),
        LayerEntry::dir("usr/local").with_mtime(5),
        LayerEntry::dir("usr/local/bin").with_mtime(5),
        LayerEntry::file("usr/local/bin/hello", b"#!/bin/sh\necho hello\n".to_vec())
            .with_mode(0o755)
            .with_mtime(7),
        LayerEntry::symlink("usr/local/bin/hi", "hello"),
        LayerEntry::hardlink("usr/local/bin/hello2", "usr/local/bin/hello"),
        LayerEntry::dir("home").with_mtime(3),
        LayerEntry::dir("home/app")
            .with_owner(1000, 1000)
            .with_mode(0o750),
        LayerEntry::file("home/app/.profile", b"export PATH\n".to_vec()).with_owner(1000, 1000),
        LayerEntry::file("usr/local/bin/ping", b"ping".to_vec())
            .with_mode(0o4755)
            .with_xattr(
                "security.capability",
                vec![
                    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
            ),
        LayerEntry::whiteout("etc/removed.conf"),
        LayerEntry::opaque("var/cache"),
        LayerEntry::file(format!("opt/{}", "long-name-".repeat(20)), b"long".to_vec()),
    ]
}

fn write_all(entries: &[LayerEntry], epoch: Option<u64>) -> Vec<LayerInfo> {
    COMPRESSIONS
        .iter()
        .map(|&c| {
            let opts = WriteOptions::new()
                .with_compression(c)
                .with_source_date_epoch(epoch);
            let (blob, info) = write_entries_layer(entries, Vec::new(), &opts).unwrap();
            assert_eq!(blob.len() as u64, info.size);
            info
        })
        .collect()
}

#[test]
fn in_memory_entries_are_order_independent() {
    let forward = write_all(&entries(), Some(EPOCH));
    let mut reversed = entries();
    reversed.reverse();
    assert_eq!(write_all(&reversed, Some(EPOCH)), forward);
    assert!(
        forward.iter().all(|i| i.diff_id == forward[0].diff_id),
        "one tar for every compression"
    );
    snapshot("in_memory_entries", &describe(&forward));
}

#[test]
fn duplicate_in_memory_paths_are_refused() {
    let dup = vec![
        LayerEntry::file("a", b"1".to_vec()),
        LayerEntry::file("a", b"2".to_vec()),
    ];
    let err = write_entries_layer(&dup, Vec::new(), &WriteOptions::new()).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn hostile_in_memory_paths_are_refused() {
    for path in ["../x", "/abs", "a/../b", "a//b", ""] {
        let err = write_entries_layer(
            &[LayerEntry::file(path, b"x".to_vec())],
            Vec::new(),
            &WriteOptions::new(),
        )
        .unwrap_err();
        assert!(
            matches!(err, plinth_oci::Error::UnsafeEntry { .. }),
            "{path}: {err}"
        );
    }
}

/// Creates the same tree in one of two orders, with mtimes after [`EPOCH`] that depend on
/// `seed`.
fn make_tree(root: &Path, reverse: bool, seed: i64) {
    type Step = Box<dyn Fn(&Path)>;
    let mut steps: Vec<Step> = vec![
        Box::new(|r| fs::create_dir_all(r.join("b/nested")).unwrap()),
        Box::new(|r| fs::create_dir_all(r.join("a")).unwrap()),
        Box::new(|r| fs::create_dir_all(r.join("a-sibling")).unwrap()),
        Box::new(|r| fs::create_dir_all(r.join("z")).unwrap()),
    ];
    if reverse {
        steps.reverse();
    }
    for step in &steps {
        step(root);
    }
    let mut files: Vec<(&str, &[u8])> = vec![
        ("a/1", b"one"),
        ("a/2", b"two"),
        ("b/nested/3", b"three"),
        ("z/4", b"four"),
        ("a-sibling/5", b"five"),
    ];
    if reverse {
        files.reverse();
    }
    for (name, data) in &files {
        fs::write(root.join(name), data).unwrap();
        fs::set_permissions(root.join(name), fs::Permissions::from_mode(0o644)).unwrap();
    }
    symlink("../a/1", root.join("z/link")).unwrap();
    fs::hard_link(root.join("a/1"), root.join("b/hard")).unwrap();
    for (i, path) in all_paths(root).iter().enumerate() {
        if path.is_dir() {
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let t = Timespec {
            tv_sec: EPOCH as i64 + 1000 + seed * 17 + i as i64,
            tv_nsec: seed * 1000,
        };
        rustix::fs::utimensat(
            CWD,
            path,
            &Timestamps {
                last_access: t,
                last_modification: t,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
}

fn write_tree(root: &Path, epoch: Option<u64>) -> Vec<LayerInfo> {
    COMPRESSIONS
        .iter()
        .map(|&c| {
            let opts = WriteOptions::new()
                .with_compression(c)
                .with_source_date_epoch(epoch);
            write_dir_layer(root, Vec::new(), &opts).unwrap().1
        })
        .collect()
}

#[test]
fn trees_built_in_different_orders_and_times_have_one_digest() {
    if !require_root() {
        return; // owners must be 0:0 for the snapshot
    }
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    make_tree(first.path(), false, 1);
    make_tree(second.path(), true, 2);
    let a = write_tree(first.path(), Some(EPOCH));
    let b = write_tree(second.path(), Some(EPOCH));
    assert_eq!(a, b);
    snapshot("dir_tree", &describe(&a));

    // Without the clamp the differing mtimes show, so the test above can fail.
    assert_ne!(
        write_tree(first.path(), None)[0].diff_id,
        write_tree(second.path(), None)[0].diff_id
    );
}

#[test]
fn the_clamp_only_lowers_mtimes() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("old"), b"old").unwrap();
    fs::write(src.path().join("new"), b"new").unwrap();
    let set = |name: &str, secs: i64| {
        let t = Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        };
        rustix::fs::utimensat(
            CWD,
            src.path().join(name),
            &Timestamps {
                last_access: t,
                last_modification: t,
            },
            AtFlags::empty(),
        )
        .unwrap();
    };
    set("old", 1_000_000);
    set("new", EPOCH as i64 + 50_000);
    let (blob, _) = write_dir_layer(
        src.path(),
        Vec::new(),
        &WriteOptions::new().with_source_date_epoch(Some(EPOCH)),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    unpack_layer(&blob[..], out.path(), &UnpackOptions::new()).unwrap();
    let mtime = |name: &str| {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(out.path().join(name)).unwrap().mtime()
    };
    assert_eq!(mtime("old"), 1_000_000);
    assert_eq!(mtime("new"), EPOCH as i64);
}

#[test]
fn gzip_header_has_no_time_and_a_fixed_os_byte() {
    let opts = WriteOptions::new().with_compression(Compression::Gzip);
    let (blob, _) = write_entries_layer(&entries(), Vec::new(), &opts).unwrap();
    assert_eq!(&blob[..3], &[0x1f, 0x8b, 8]);
    assert_eq!(&blob[4..8], &[0, 0, 0, 0], "mtime field");
    assert_eq!(blob[9], 255, "OS byte");
}

#[test]
fn source_date_epoch_values_parse() {
    assert_eq!(parse_source_date_epoch("1700000000").unwrap(), EPOCH);
    assert_eq!(parse_source_date_epoch(" 0\n").unwrap(), 0);
    let err = parse_source_date_epoch("yesterday").unwrap_err();
    assert!(err.to_string().contains("SOURCE_DATE_EPOCH"), "{err}");
}
