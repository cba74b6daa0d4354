//! Hostile layer tars, part two: malformed or abusive headers and entry types (sizes, checksums,
//! extension headers, devices). Path and link escapes are in `layer_hostile.rs`; both check that
//! nothing outside the unpack target changes.

mod layer_support;

use std::fs;

use layer_support::{Hdr, RawTar, Sentinel, path_bytes, reject, reject_in};
use plinth_oci::layer::{UnpackOptions, unpack_layer};

#[test]
fn negative_base256_size() {
    let mut hdr = Hdr::new("neg", b'0', 0);
    hdr.size = vec![0xff; 12];
    reject(
        RawTar::new().entry(hdr, b"").finish(),
        "neg",
        "invalid size field",
    );
}

#[test]
fn size_overflowing_64_bits() {
    let mut hdr = Hdr::new("huge", b'0', 0);
    hdr.size = vec![
        0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    reject(
        RawTar::new().entry(hdr, b"").finish(),
        "huge",
        "invalid size field",
    );
}

#[test]
fn size_over_the_limit() {
    let mut hdr = Hdr::new("big", b'0', 0);
    hdr.size = vec![0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]; // 256^5 = 1 TiB
    reject(
        RawTar::new().entry(hdr, b"").finish(),
        "big",
        "exceeds the limit",
    );
}

#[test]
fn size_larger_than_the_archive() {
    let tar = RawTar::new()
        .entry(Hdr::new("short", b'0', 1 << 20), b"only a little")
        .unfinished();
    reject(tar, "short", "ends inside an entry's data");
}

#[test]
fn pax_size_that_is_not_a_number() {
    let tar = RawTar::new()
        .pax(&[("size", b"-1")])
        .file("f", b"")
        .finish();
    reject(tar, "<header at byte 0>", "invalid size");
}

#[test]
fn nul_in_the_name_field() {
    let tar = RawTar::new()
        .file(b"innocent\0../../../secret", b"pwned")
        .finish();
    reject(tar, "innocent\\0../../../secret", "bytes after a NUL");
}

#[test]
fn nul_in_a_pax_path() {
    let tar = RawTar::new()
        .pax(&[("path", b"ok\0../../escape")])
        .file("placeholder", b"x")
        .finish();
    reject(tar, "ok", "NUL");
}

#[test]
fn pax_path_override_to_dot_dot() {
    let tar = RawTar::new()
        .pax(&[("path", b"../x")])
        .file("harmless", b"x")
        .finish();
    reject(tar, "../x", "`..`");
}

#[test]
fn pax_linkpath_override_to_etc_passwd() {
    let tar = RawTar::new()
        .pax(&[("linkpath", b"/etc/passwd")])
        .hardlink("h", "harmless")
        .finish();
    // `/etc/passwd` names the image's own `etc/passwd`, which this layer does not have.
    reject(tar, "h", "does not exist");
}

#[test]
fn gnu_longname_escape() {
    let name = format!("{}../../../escape", "a/".repeat(60));
    let tar = RawTar::new()
        .gnu_long(b'L', name.as_bytes())
        .file("././@LongLink", b"x")
        .finish();
    reject(tar, "a/a/a/", "`..`");
}

#[test]
fn gnu_longlink_escape() {
    let tar = RawTar::new()
        .gnu_long(b'K', b"../../../secret")
        .hardlink("h", "harmless")
        .finish();
    reject(tar, "h", "`..`");
}

#[test]
fn bad_checksum() {
    let mut hdr = Hdr::new("f", b'0', 1);
    hdr.checksum = Some(b"0000001\0".to_vec());
    reject(
        RawTar::new().entry(hdr, b"x").finish(),
        "f",
        "checksum mismatch",
    );
}

#[test]
fn character_device_without_permission() {
    let mut hdr = Hdr::new("null", b'3', 0);
    hdr.dev_major = b"0000001".to_vec();
    hdr.dev_minor = b"0000003".to_vec();
    reject(
        RawTar::new().entry(hdr, b"").finish(),
        "null",
        "device nodes are not permitted",
    );
}

#[test]
fn block_device_without_permission() {
    let mut hdr = Hdr::new("disk", b'4', 0);
    hdr.dev_major = b"0000010".to_vec();
    reject(
        RawTar::new().entry(hdr, b"").finish(),
        "disk",
        "device nodes are not permitted",
    );
}

#[test]
fn header_only_entry_with_hidden_data() {
    // A symlink that declares data: some readers skip it, others parse it as the next header.
    let hidden = RawTar::new().file("../../escape", b"x").unfinished();
    let mut hdr = Hdr::new("s", b'2', hidden.len() as u64);
    hdr.link = b"target".to_vec();
    reject(
        RawTar::new().entry(hdr, &hidden).finish(),
        "s",
        "header-only entry",
    );
}

#[test]
fn oversized_pax_header() {
    let mut hdr = Hdr::new("PaxHeaders.0/x", b'x', 0);
    hdr.size = format!("{:011o}", 1u64 << 30).into_bytes();
    reject(
        RawTar::new().entry(hdr, b"").unfinished(),
        "<header at byte 0>",
        "exceeds the 1048576-byte limit",
    );
}

#[test]
fn malformed_pax_record() {
    let tar = RawTar::new()
        .entry(Hdr::new("PaxHeaders.0/x", b'x', 12), b"99 path=abc\n")
        .file("f", b"")
        .finish();
    reject(tar, "<header at byte 0>", "record length");
}

#[test]
fn sparse_file_records() {
    let tar = RawTar::new()
        .pax(&[("GNU.sparse.map", b"0,1")])
        .file("sparse", b"x")
        .finish();
    reject(tar, "<header at byte 0>", "sparse");
}

#[test]
fn unsupported_entry_type() {
    reject(
        RawTar::new().entry(Hdr::new("vol", b'V', 0), b"").finish(),
        "vol",
        "not supported",
    );
}

#[test]
fn entry_replacing_the_root() {
    reject(
        RawTar::new().file("./", b"x").finish(),
        "./",
        "replace the target root",
    );
}

#[test]
fn truncated_header() {
    let tar = RawTar::new()
        .file("ok", b"x")
        .raw(&[b'a'; 100])
        .unfinished();
    reject(tar, "<header at byte 1024>", "ends inside a header block");
}

#[test]
fn too_many_extension_headers() {
    let mut tar = RawTar::new();
    for _ in 0..9 {
        tar = tar.pax(&[("comment", b"again")]);
    }
    reject(
        tar.file("f", b"").finish(),
        "<header at byte",
        "too many extension headers",
    );
}

#[test]
fn component_longer_than_name_max() {
    let name = "x".repeat(300);
    let tar = RawTar::new()
        .pax(&[("path", name.as_bytes())])
        .file("short", b"")
        .finish();
    reject(tar, "xxxx", "over 255 bytes");
}

#[test]
fn owner_outside_the_32_bit_range() {
    if !layer_support::require_root() {
        return;
    }
    let tar = RawTar::new()
        .pax(&[("uid", b"4294967296")])
        .file("f", b"")
        .finish();
    reject(tar, "f", "out of the 32-bit id range");
}

#[test]
fn empty_symlink_target() {
    reject(
        RawTar::new().symlink("s", "").finish(),
        "s",
        "symlink target is empty",
    );
}

#[test]
fn devices_are_allowed_when_asked() {
    if !layer_support::require_root() {
        return;
    }
    // The control case: the same device entry goes through with the flag.
    let s = Sentinel::new();
    let mut hdr = Hdr::new("null", b'3', 0);
    hdr.dev_major = b"0000001".to_vec();
    hdr.dev_minor = b"0000003".to_vec();
    let tar = RawTar::new().entry(hdr, b"").finish();
    unpack_layer(
        &tar[..],
        &s.target,
        &UnpackOptions::new().with_allow_devices(true),
    )
    .unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(
        fs::symlink_metadata(s.target.join("null"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    s.assert_untouched();
}

#[test]
fn ancestor_of_the_last_parent_replaced_by_symlink_then_written_through() {
    // The unpacker keeps the last parent directory open; replacing an ancestor must drop it.
    let s = Sentinel::new();
    let tar = RawTar::new()
        .dir("a")
        .dir("a/b")
        .file("a/b/ok", b"fine")
        .symlink("a", path_bytes(&s.root().join("outer")))
        .file("a/b/secret", b"pwned")
        .finish();
    reject_in(
        &s,
        &tar,
        &UnpackOptions::new(),
        "a/b/secret",
        "`a` is a symbolic link",
    );
}
