//! Round trips: a tree written as a layer and unpacked again is identical (modes, owners,
//! symlinks, hard links, devices, xattrs, mtimes), and real GNU tar and busybox tar read our
//! layers, and our unpacker reads theirs.

mod layer_support;

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use layer_support::{all_paths, require_root, tree_listing};
use plinth_oci::Store;
use plinth_oci::layer::{
    Compression, UnpackOptions, WriteOptions, store_dir_layer, unpack_layer, write_dir_layer,
};
use rustix::fs::{AtFlags, CWD, FileType, Mode, Timespec, Timestamps, XattrFlags};

/// `security.capability` granting cap_net_raw (VFS_CAP_REVISION_2, effective).
const CAP_NET_RAW: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

/// A tree with every kind of entry and metadata a layer carries. Needs root.
fn build_tree(root: &Path) {
    for (dir, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("tmp", 0o1777),
        ("srv", 0o2775),
        ("dev", 0o755),
        ("run", 0o755),
    ] {
        fs::create_dir(root.join(dir)).unwrap();
        set_mode(&root.join(dir), mode);
    }
    chown(&root.join("srv"), 1000, 1000);
    fs::write(root.join("etc/hostname"), b"plinth\n").unwrap();
    fs::write(root.join("etc/shadow"), b"root:*:19000:0:99999:7:::\n").unwrap();
    set_mode(&root.join("etc/shadow"), 0o640);
    chown(&root.join("etc/shadow"), 0, 42);
    fs::write(root.join("etc/empty"), b"").unwrap();
    fs::write(root.join("bin/tool"), b"\x7fELF pretend").unwrap();
    set_mode(&root.join("bin/tool"), 0o4755);
    fs::hard_link(root.join("bin/tool"), root.join("bin/tool2")).unwrap();
    fs::hard_link(root.join("etc/hostname"), root.join("srv/hostname-link")).unwrap();
    symlink("tool", root.join("bin/sh")).unwrap();
    symlink("/etc/hostname", root.join("etc/abs-link")).unwrap();
    symlink("t".repeat(180), root.join("etc/long-target")).unwrap();
    fs::write(root.join("bin/ping"), b"ping").unwrap();
    set_mode(&root.join("bin/ping"), 0o755);
    rustix::fs::setxattr(
        root.join("bin/ping"),
        "security.capability",
        &CAP_NET_RAW,
        XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::setxattr(
        root.join("etc/hostname"),
        "user.test",
        b"kept",
        XattrFlags::empty(),
    )
    .unwrap();
    // Pseudo-random content bigger than any buffer in the pipeline.
    let mut x: u32 = 12345;
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    fs::write(root.join("srv/big.bin"), &big).unwrap();
    chown(&root.join("srv/big.bin"), 3_000_000, 3_000_001); // over the ustar octal range: PAX
    let deep = root.join("srv").join("d".repeat(120)).join("e".repeat(120));
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("f".repeat(100)), b"deep").unwrap();
    fs::write(
        root.join(OsStr::from_bytes(b"etc/caf\xe9")),
        b"latin-1 name",
    )
    .unwrap();
    for (name, ft, dev) in [
        (
            "dev/null",
            FileType::CharacterDevice,
            rustix::fs::makedev(1, 3),
        ),
        (
            "dev/loop0",
            FileType::BlockDevice,
            rustix::fs::makedev(7, 0),
        ),
        ("run/fifo", FileType::Fifo, 0),
    ] {
        rustix::fs::mknodat(CWD, root.join(name), ft, Mode::from_raw_mode(0o620), dev).unwrap();
        set_mode(&root.join(name), 0o620);
    }
    set_times(root, 1_600_000_000);
}

/// Gives every entry its own mtime (files first, then directories deepest first).
fn set_times(root: &Path, base: i64) {
    for (i, path) in all_paths(root).iter().rev().enumerate() {
        let t = Timespec {
            tv_sec: base + i as i64 * 7,
            tv_nsec: 0,
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

fn options(compression: Compression) -> WriteOptions {
    WriteOptions::new()
        .with_compression(compression)
        .with_xattr_allow_list(vec!["security.capability".into(), "user.test".into()])
}

fn unpack_options() -> UnpackOptions {
    UnpackOptions::new().with_allow_devices(true)
}

#[test]
fn every_compression_round_trips_with_the_same_diff_id() {
    if !require_root() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    let expected = tree_listing(src.path());
    let mut diff_ids = Vec::new();
    for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let (blob, info) = write_dir_layer(src.path(), Vec::new(), &options(compression)).unwrap();
        assert_eq!(info.size, blob.len() as u64);
        assert_eq!(info.compression, compression);
        let out = tempfile::tempdir().unwrap();
        let summary = unpack_layer(&blob[..], out.path(), &unpack_options()).unwrap();
        assert_eq!(
            summary.compression, compression,
            "detected from the magic bytes"
        );
        assert_eq!(summary.diff_id, info.diff_id);
        assert_eq!(
            tree_listing(out.path()),
            expected,
            "{compression}: unpacked tree differs"
        );

        // Writing the unpacked tree again gives the same bytes: nothing was lost or added.
        let (_, again) = write_dir_layer(out.path(), Vec::new(), &options(compression)).unwrap();
        assert_eq!(again, info, "{compression}: rewrite differs");
        diff_ids.push(info.diff_id);
    }
    assert!(
        diff_ids.windows(2).all(|w| w[0] == w[1]),
        "the tar does not depend on the compression"
    );
}

#[test]
fn layers_stream_into_the_store() {
    if !require_root() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let info = store_dir_layer(&store, src.path(), &options(Compression::Gzip)).unwrap();
    assert!(store.has_blob(&info.digest));
    assert_eq!(store.blob_size(&info.digest).unwrap(), info.size);
    let out = tempfile::tempdir().unwrap();
    let blob = File::open(store.blob_path(&info.digest)).unwrap();
    let summary = unpack_layer(blob, out.path(), &unpack_options()).unwrap();
    assert_eq!(summary.diff_id, info.diff_id);
    assert_eq!(tree_listing(out.path()), tree_listing(src.path()));
}

fn run(cmd: &mut Command) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write_file_layer(src: &Path, compression: Compression, dir: &Path) -> std::path::PathBuf {
    let path = dir.join(format!("layer.{compression}"));
    let (file, _) =
        write_dir_layer(src, File::create(&path).unwrap(), &options(compression)).unwrap();
    file.sync_all().unwrap();
    path
}

#[test]
fn gnu_tar_lists_and_extracts_our_layers() {
    if !require_root() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    let work = tempfile::tempdir().unwrap();
    let plain = write_file_layer(src.path(), Compression::None, work.path());

    let listing = run(Command::new("tar")
        .arg("--numeric-owner")
        .arg("-tvf")
        .arg(&plain));
    for expected in [
        "-rwsr-xr-x 0/0",
        "bin/sh -> tool",
        "bin/tool2 link to bin/tool",
        "drwxrwsr-x 1000/1000",
        "drwxrwxrwt 0/0",
        "3000000/3000001",
        "crw--w---- 0/0",
        "1,3",
        "prw--w----",
        &"e".repeat(120),
    ] {
        assert!(
            listing.contains(expected),
            "`tar -tv` output lacks `{expected}`:\n{listing}"
        );
    }
    assert!(
        !listing.contains("./"),
        "entries have no `./` prefix:\n{listing}"
    );

    let out = tempfile::tempdir().unwrap();
    run(Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf"])
        .arg(&plain)
        .arg("-C")
        .arg(out.path()));
    assert_eq!(
        tree_listing(out.path()),
        tree_listing(src.path()),
        "GNU tar extracted a different tree"
    );

    // The compressed blobs are valid gzip and zstd streams of the same tar.
    let gz = write_file_layer(src.path(), Compression::Gzip, work.path());
    let zst = write_file_layer(src.path(), Compression::Zstd, work.path());
    let names = run(Command::new("tar").arg("-tf").arg(&plain));
    assert_eq!(run(Command::new("tar").arg("-tzf").arg(&gz)), names);
    assert_eq!(
        run(Command::new("tar").arg("--zstd").arg("-tf").arg(&zst)),
        names
    );
}

#[test]
fn busybox_tar_lists_and_extracts_our_layers() {
    if !require_root() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    let work = tempfile::tempdir().unwrap();
    let gz = write_file_layer(src.path(), Compression::Gzip, work.path());
    let listing = run(Command::new("busybox").args(["tar", "-tvzf"]).arg(&gz));
    assert!(listing.contains("bin/sh -> tool"), "{listing}");
    assert!(
        listing.contains(&"f".repeat(100)),
        "PAX long names are read:\n{listing}"
    );

    let out = tempfile::tempdir().unwrap();
    run(Command::new("busybox")
        .args(["tar", "-xzf"])
        .arg(&gz)
        .arg("-C")
        .arg(out.path()));
    // busybox keeps no xattrs, sets no directory or symlink mtimes and ignores PAX uid/gid
    // records (srv/big.bin's owner); everything else must match.
    let strip = |m: std::collections::BTreeMap<String, String>| {
        m.into_iter()
            .map(|(k, v)| {
                let untimed = v.starts_with("dir") || v.starts_with("symlink");
                let kept: Vec<&str> = v
                    .split(' ')
                    .filter(|t| !t.starts_with("security.") && !t.starts_with("user."))
                    .filter(|t| !(untimed && t.starts_with("mtime=")))
                    .filter(|t| !(k == "srv/big.bin" && t.starts_with("owner=")))
                    .collect();
                (k, kept.join(" "))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(
        strip(tree_listing(out.path())),
        strip(tree_listing(src.path()))
    );
}

#[test]
fn we_unpack_what_gnu_tar_writes() {
    if !require_root() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    let work = tempfile::tempdir().unwrap();
    // GNU format uses `L`/`K` long-name headers; PAX format adds atime/ctime records. Both
    // archive `./` first, which the unpacker skips.
    for format in ["gnu", "pax"] {
        let archive = work.path().join(format!("{format}.tar"));
        run(Command::new("tar")
            .arg(format!("--format={format}"))
            .args(["--xattrs", "--xattrs-include=*", "-cf"])
            .arg(&archive)
            .arg("-C")
            .arg(src.path())
            .arg("."));
        let out = tempfile::tempdir().unwrap();
        unpack_layer(File::open(&archive).unwrap(), out.path(), &unpack_options())
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(
            tree_listing(out.path()),
            tree_listing(src.path()),
            "{format} archive unpacked differently"
        );
    }
}

#[test]
fn unpacking_without_ownership_keeps_modes_and_contents() {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir(src.path().join("ro")).unwrap();
    fs::write(src.path().join("ro/file"), b"x").unwrap();
    set_mode(&src.path().join("ro"), 0o555);
    let (blob, _) = write_dir_layer(src.path(), Vec::new(), &WriteOptions::new()).unwrap();
    let out = tempfile::tempdir().unwrap();
    // Directory modes are applied last, so a read-only directory still receives its files.
    unpack_layer(
        &blob[..],
        out.path(),
        &UnpackOptions::new().with_preserve_ownership(false),
    )
    .unwrap();
    assert_eq!(fs::read(out.path().join("ro/file")).unwrap(), b"x");
    assert_eq!(
        fs::metadata(out.path().join("ro"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o555
    );
}

/// A layer whose tar mixes pieces deflate cannot shrink (random bytes, stored) with ones it can
/// (text, deflated) is one gzip stream another implementation reads: GNU gzip gives back the
/// exact tar (its sha256 is the diff_id), and the random part costs only block headers.
#[test]
fn gzip_streams_mixing_stored_and_deflated_pieces_are_read_by_gnu_gzip() {
    let src = tempfile::tempdir().unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: Vec<u8> = (0..700_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let text: String = (0..60_000).map(|i| format!("line {i}\n")).collect();
    fs::write(src.path().join("a-text.txt"), &text).unwrap();
    fs::write(src.path().join("b-noise.bin"), &noise).unwrap();
    fs::write(src.path().join("c-text.txt"), &text).unwrap();
    let work = tempfile::tempdir().unwrap();
    let gz = work.path().join("layer.gz");
    let (file, info) = write_dir_layer(
        src.path(),
        File::create(&gz).unwrap(),
        &options(Compression::Gzip),
    )
    .unwrap();
    file.sync_all().unwrap();
    let out = Command::new("gzip").arg("-dc").arg(&gz).output().unwrap();
    assert!(out.status.success(), "gzip -dc failed: {out:?}");
    assert_eq!(plinth_oci::Digest::of(&out.stdout), info.diff_id);
    // Stored noise, deflated text: a little over the noise, far under noise plus text.
    assert!(
        info.size > noise.len() as u64 && info.size < (noise.len() + text.len() / 2) as u64,
        "{} bytes",
        info.size
    );
}
