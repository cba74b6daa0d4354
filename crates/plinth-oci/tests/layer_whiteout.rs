//! Whiteouts: applying `.wh.` and opaque entries, converting overlay whiteouts to overlayfs
//! form, and turning a real overlayfs upper directory into a layer that reproduces the merged
//! view.

mod layer_support;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use layer_support::{require_root, tree_listing};
use plinth_oci::layer::{
    Compression, LayerEntry, UnpackOptions, WhiteoutMode, WriteOptions, unpack_layer,
    write_entries_layer, write_upper_layer,
};
use rustix::fs::{CWD, FileType, Mode, XattrFlags};

fn layer(entries: &[LayerEntry]) -> Vec<u8> {
    write_entries_layer(entries, Vec::new(), &WriteOptions::new())
        .unwrap()
        .0
}

fn lower() -> Vec<u8> {
    layer(&[
        LayerEntry::dir("a"),
        LayerEntry::file("a/x", b"x".to_vec()),
        LayerEntry::file("a/y", b"y".to_vec()),
        LayerEntry::dir("d"),
        LayerEntry::file("d/z", b"z".to_vec()),
        LayerEntry::dir("d/sub"),
        LayerEntry::file("d/sub/w", b"w".to_vec()),
        LayerEntry::dir("gone"),
        LayerEntry::file("gone/inner", b"i".to_vec()),
    ])
}

fn names(root: &Path) -> Vec<String> {
    tree_listing(root).into_keys().collect()
}

#[test]
fn whiteouts_delete_and_opaque_dirs_hide_lower_content() {
    let target = tempfile::tempdir().unwrap();
    unpack_layer(&lower()[..], target.path(), &UnpackOptions::new()).unwrap();
    let upper = layer(&[
        LayerEntry::whiteout("a/x"),
        LayerEntry::whiteout("gone"),
        LayerEntry::whiteout("never-existed"),
        LayerEntry::dir("d"),
        LayerEntry::opaque("d"),
        LayerEntry::file("d/new", b"n".to_vec()),
    ]);
    let summary = unpack_layer(&upper[..], target.path(), &UnpackOptions::new()).unwrap();
    assert_eq!(summary.whiteouts, 4);
    assert_eq!(names(target.path()), ["a", "a/y", "d", "d/new"]);
}

#[test]
fn whiteouts_never_hide_entries_of_their_own_layer() {
    let target = tempfile::tempdir().unwrap();
    unpack_layer(&lower()[..], target.path(), &UnpackOptions::new()).unwrap();
    // Hand-made order: the opaque marker and a whiteout come after same-layer entries.
    let tar = layer_support::RawTar::new()
        .dir("d")
        .dir("d/sub")
        .file("d/sub/mine", b"m")
        .file("d/.wh..wh..opq", b"")
        .file("a/x2", b"x2")
        .file("a/.wh.x2", b"")
        .finish();
    unpack_layer(&tar[..], target.path(), &UnpackOptions::new()).unwrap();
    // d/z and d/sub/w came from the lower layer and are hidden; d/sub/mine is this layer's.
    assert_eq!(
        names(target.path()),
        [
            "a",
            "a/x",
            "a/x2",
            "a/y",
            "d",
            "d/sub",
            "d/sub/mine",
            "gone",
            "gone/inner"
        ]
    );
}

#[test]
fn overlay_mode_writes_overlayfs_whiteouts() {
    if !require_root() {
        return;
    }
    let target = tempfile::tempdir().unwrap();
    let upper = layer(&[
        LayerEntry::whiteout("a/x"),
        LayerEntry::dir("d"),
        LayerEntry::opaque("d"),
    ]);
    let opts = UnpackOptions::new().with_whiteouts(WhiteoutMode::Overlay);
    unpack_layer(&upper[..], target.path(), &opts).unwrap();
    let meta = fs::symlink_metadata(target.path().join("a/x")).unwrap();
    assert!(
        meta.file_type().is_char_device() && meta.rdev() == 0,
        "a 0/0 character device"
    );
    let mut buf = [0u8; 8];
    let n = rustix::fs::getxattr(
        target.path().join("d"),
        "trusted.overlay.opaque",
        &mut buf[..],
    )
    .unwrap();
    assert_eq!(&buf[..n], b"y");
    assert!(
        !target.path().join("a/.wh.x").exists() && !target.path().join("d/.wh..wh..opq").exists()
    );
}

fn tar_names(blob: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.tar.gz");
    fs::write(&path, blob).unwrap();
    let out = Command::new("tar").arg("-tzf").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn upper_dir_whiteouts_become_layer_whiteouts() {
    if !require_root() {
        return;
    }
    let upper = tempfile::tempdir().unwrap();
    let u = upper.path();
    fs::create_dir_all(u.join("etc")).unwrap();
    rustix::fs::mknodat(
        CWD,
        u.join("etc/removed"),
        FileType::CharacterDevice,
        Mode::empty(),
        0,
    )
    .unwrap();
    fs::create_dir(u.join("var")).unwrap();
    rustix::fs::setxattr(
        u.join("var"),
        "trusted.overlay.opaque",
        b"y",
        XattrFlags::empty(),
    )
    .unwrap();
    fs::write(u.join("var/fresh"), b"fresh").unwrap();
    fs::create_dir(u.join("home")).unwrap();
    rustix::fs::setxattr(
        u.join("home"),
        "user.overlay.opaque",
        b"y",
        XattrFlags::empty(),
    )
    .unwrap();
    // A real device that is not 0/0 stays a device.
    rustix::fs::mknodat(
        CWD,
        u.join("etc/null"),
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();

    let (blob, _) = write_upper_layer(u, Vec::new(), &WriteOptions::new()).unwrap();
    assert_eq!(
        tar_names(&blob),
        [
            "etc/",
            "etc/.wh.removed",
            "etc/null",
            "home/",
            "home/.wh..wh..opq",
            "var/",
            "var/.wh..wh..opq",
            "var/fresh"
        ]
    );
    // The same tree read as a plain directory keeps the device and has no markers.
    let (plain, _) =
        plinth_oci::layer::write_dir_layer(u, Vec::new(), &WriteOptions::new()).unwrap();
    assert_eq!(
        tar_names(&plain),
        [
            "etc/",
            "etc/null",
            "etc/removed",
            "home/",
            "var/",
            "var/fresh"
        ]
    );
}

#[test]
fn a_real_overlayfs_upper_dir_reproduces_the_merged_view() {
    if !require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for d in ["lower", "upper", "work", "merged", "expected"] {
        fs::create_dir(w.join(d)).unwrap();
    }
    // The lower dir is the unpacked lower layer, so both sides start from the same bytes.
    unpack_layer(&lower()[..], &w.join("lower"), &UnpackOptions::new()).unwrap();
    // Changes made through a real overlay mount, in a private mount namespace.
    let script = "set -e
        mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work merged
        rm merged/a/x
        rm -r merged/d
        mkdir merged/d
        echo new > merged/d/new
        rm -r merged/gone
        echo added > merged/added
        chmod 0700 merged/a
        cp -a merged/. expected/
        umount merged";
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .current_dir(w)
        .status()
        .unwrap();
    assert!(status.success(), "overlay script failed: {status}");

    for compression in [Compression::Gzip, Compression::Zstd] {
        let opts = WriteOptions::new()
            .with_compression(compression)
            .with_source_date_epoch(None);
        let (blob, info) = write_upper_layer(&w.join("upper"), Vec::new(), &opts).unwrap();
        if compression == Compression::Gzip {
            let names = tar_names(&blob);
            for marker in ["a/.wh.x", "d/.wh..wh..opq", ".wh.gone", "added"] {
                assert!(
                    names.iter().any(|n| n == marker),
                    "`{marker}` missing from {names:?}"
                );
            }
        }
        let result = tempfile::tempdir().unwrap();
        unpack_layer(&lower()[..], result.path(), &UnpackOptions::new()).unwrap();
        let summary = unpack_layer(&blob[..], result.path(), &UnpackOptions::new()).unwrap();
        assert_eq!(summary.diff_id, info.diff_id);
        assert_eq!(
            tree_listing(result.path()),
            tree_listing(&w.join("expected")),
            "{compression}"
        );
    }
}

#[test]
fn upper_dirs_with_metacopy_files_are_refused() {
    if !require_root() {
        return;
    }
    let upper = tempfile::tempdir().unwrap();
    fs::write(upper.path().join("partial"), b"").unwrap();
    rustix::fs::setxattr(
        upper.path().join("partial"),
        "trusted.overlay.metacopy",
        b"",
        XattrFlags::empty(),
    )
    .unwrap();
    let err = write_upper_layer(upper.path(), Vec::new(), &WriteOptions::new()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("partial") && msg.contains("metacopy=off"),
        "{msg}"
    );
}
