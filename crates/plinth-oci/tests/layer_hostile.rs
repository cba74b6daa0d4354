//! Hostile layer tars: every one must fail with an error that names the entry, and nothing
//! outside the unpack target may change (checked against a sentinel tree around it).

mod layer_support;

use std::fs;
use std::os::unix::fs::symlink;

use layer_support::{Hdr, RawTar, Sentinel, path_bytes};
use plinth_oci::Error;
use plinth_oci::layer::{UnpackOptions, unpack_layer};

/// Unpacks `tar` into a fresh sentinel target (after `setup`) and checks the rejection.
fn reject_in(s: &Sentinel, tar: &[u8], options: &UnpackOptions, entry: &str, reason: &str) {
    let err = unpack_layer(tar, &s.target, options).expect_err("a hostile layer must be refused");
    match &err {
        Error::UnsafeEntry {
            entry: e,
            reason: r,
        } => {
            assert!(
                e.contains(entry),
                "error names entry `{e}`, expected `{entry}` (reason: {r})"
            );
            assert!(
                r.contains(reason),
                "reason `{r}` does not mention `{reason}` (entry `{e}`)"
            );
        }
        other => panic!("expected an unsafe-entry error for `{entry}`, got: {other}"),
    }
    assert!(
        err.to_string().contains(entry),
        "the message shows the entry: {err}"
    );
    s.assert_untouched();
}

fn reject(tar: Vec<u8>, entry: &str, reason: &str) {
    let s = Sentinel::new();
    reject_in(&s, &tar, &UnpackOptions::new(), entry, reason);
}

/// Like [`reject`], with a symlink `lower` in the target pointing at the sentinel root, as an
/// earlier layer could have left it.
fn reject_with_lower_symlink(tar: Vec<u8>, entry: &str, reason: &str) {
    let s = Sentinel::new();
    symlink(s.root(), s.target.join("lower")).unwrap();
    reject_in(&s, &tar, &UnpackOptions::new(), entry, reason);
}

#[test]
fn dot_dot_file() {
    reject(
        RawTar::new().file("../../escape", b"x").finish(),
        "../../escape",
        "`..`",
    );
}

#[test]
fn dot_dot_in_the_middle() {
    reject(
        RawTar::new().file("a/../../../escape", b"x").finish(),
        "a/../../../escape",
        "`..`",
    );
}

#[test]
fn dot_slash_dot_dot() {
    reject(
        RawTar::new().file("./../escape", b"x").finish(),
        "./../escape",
        "`..`",
    );
}

#[test]
fn absolute_path_into_the_sentinel() {
    let s = Sentinel::new();
    let abs = s.root().join("escape");
    let tar = RawTar::new().file(path_bytes(&abs), b"x").finish();
    reject_in(
        &s,
        &tar,
        &UnpackOptions::new(),
        &abs.to_string_lossy(),
        "absolute",
    );
    assert!(!abs.exists());
}

#[test]
fn absolute_path_etc() {
    reject(
        RawTar::new()
            .file("/etc/plinth-hostile-test", b"x")
            .finish(),
        "/etc/plinth-hostile-test",
        "absolute",
    );
    assert!(!std::path::Path::new("/etc/plinth-hostile-test").exists());
}

#[test]
fn symlink_to_root_then_file_through_it() {
    let s = Sentinel::new();
    let mut through = b"link".to_vec();
    through.extend_from_slice(&path_bytes(&s.root().join("escape")));
    let tar = RawTar::new()
        .symlink("link", "/")
        .file(&through, b"x")
        .finish();
    reject_in(&s, &tar, &UnpackOptions::new(), "link/", "symbolic link");
}

#[test]
fn symlink_to_sentinel_then_file_through_it() {
    let s = Sentinel::new();
    let tar = RawTar::new()
        .symlink("link", path_bytes(s.root()))
        .file("link/secret", b"pwned")
        .finish();
    reject_in(
        &s,
        &tar,
        &UnpackOptions::new(),
        "link/secret",
        "`link` is a symbolic link",
    );
}

#[test]
fn relative_symlink_escape() {
    reject(
        RawTar::new()
            .symlink("up", "../../..")
            .file("up/secret", b"pwned")
            .finish(),
        "up/secret",
        "symbolic link",
    );
}

#[test]
fn symlink_chain_escape() {
    let tar = RawTar::new()
        .symlink("b", "../../..")
        .symlink("a", "b")
        .file("a/secret", b"pwned")
        .finish();
    reject(tar, "a/secret", "`a` is a symbolic link");
}

#[test]
fn symlink_in_a_nested_parent() {
    let tar = RawTar::new()
        .dir("d")
        .symlink("d/s", "/")
        .file("d/s/tmp/escape", b"x")
        .finish();
    reject(tar, "d/s/tmp/escape", "`d/s` is a symbolic link");
}

#[test]
fn symlink_inside_the_target_is_still_not_followed() {
    let tar = RawTar::new()
        .dir("real")
        .symlink("alias", "real")
        .file("alias/file", b"x")
        .finish();
    reject(tar, "alias/file", "symbolic link");
}

#[test]
fn directory_replaced_by_symlink_then_written_through() {
    let s = Sentinel::new();
    let tar = RawTar::new()
        .dir("d")
        .file("d/ok", b"fine")
        .symlink("d", path_bytes(&s.root().join("outer")))
        .file("d/secret", b"pwned")
        .finish();
    reject_in(
        &s,
        &tar,
        &UnpackOptions::new(),
        "d/secret",
        "`d` is a symbolic link",
    );
}

#[test]
fn symlink_from_an_earlier_layer() {
    reject_with_lower_symlink(
        RawTar::new().file("lower/secret", b"pwned").finish(),
        "lower/secret",
        "`lower`",
    );
}

#[test]
fn directory_entry_through_an_earlier_layer_symlink() {
    reject_with_lower_symlink(
        RawTar::new().dir("lower/newdir").finish(),
        "lower/newdir",
        "symbolic link",
    );
}

#[test]
fn file_used_as_a_directory() {
    reject(
        RawTar::new().file("f", b"x").file("f/child", b"y").finish(),
        "f/child",
        "`f` is not a directory",
    );
}

#[test]
fn hardlink_to_absolute_etc_passwd() {
    reject(
        RawTar::new().hardlink("passwd", "/etc/passwd").finish(),
        "passwd",
        "hardlink target is absolute",
    );
}

#[test]
fn hardlink_to_absolute_sentinel_file() {
    let s = Sentinel::new();
    let tar = RawTar::new()
        .hardlink("stolen", path_bytes(&s.root().join("secret")))
        .finish();
    reject_in(&s, &tar, &UnpackOptions::new(), "stolen", "absolute");
}

#[test]
fn hardlink_with_dot_dot_target() {
    reject(
        RawTar::new().hardlink("stolen", "../../../secret").finish(),
        "stolen",
        "`..`",
    );
}

#[test]
fn hardlink_to_dot_dot() {
    reject(RawTar::new().hardlink("up", "..").finish(), "up", "`..`");
}

#[test]
fn hardlink_to_a_missing_entry() {
    reject(
        RawTar::new().hardlink("h", "nowhere").finish(),
        "h",
        "does not exist",
    );
}

#[test]
fn hardlink_through_a_symlink() {
    let s = Sentinel::new();
    let tar = RawTar::new()
        .symlink("s", path_bytes(s.root()))
        .hardlink("stolen", "s/secret")
        .finish();
    reject_in(
        &s,
        &tar,
        &UnpackOptions::new(),
        "stolen",
        "`s` is a symbolic link",
    );
}

#[test]
fn hardlink_to_a_directory() {
    reject(
        RawTar::new().dir("d").hardlink("h", "d").finish(),
        "h",
        "is a directory",
    );
}

#[test]
fn hardlink_to_itself() {
    reject(
        RawTar::new().hardlink("h", "h").finish(),
        "h",
        "points to itself",
    );
}

#[test]
fn whiteout_of_dot_dot() {
    reject(
        RawTar::new().file(".wh...", b"").finish(),
        ".wh...",
        "does not name a file",
    );
}

#[test]
fn whiteout_of_dot() {
    reject(
        RawTar::new().file("d/.wh..", b"").finish(),
        "d/.wh..",
        "does not name a file",
    );
}

#[test]
fn whiteout_with_dot_dot_parent() {
    reject(
        RawTar::new().file("../../.wh.secret", b"").finish(),
        "../../.wh.secret",
        "`..`",
    );
}

#[test]
fn whiteout_through_an_earlier_layer_symlink() {
    reject_with_lower_symlink(
        RawTar::new().file("lower/.wh.secret", b"").finish(),
        "lower/.wh.secret",
        "symbolic link",
    );
}

#[test]
fn opaque_whiteout_through_an_earlier_layer_symlink() {
    let tar = RawTar::new().file("lower/outer/.wh..wh..opq", b"").finish();
    reject_with_lower_symlink(tar, "lower/outer/.wh..wh..opq", "symbolic link");
}

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
    reject(tar, "h", "absolute");
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
    reject_in(&s, &tar, &UnpackOptions::new(), "a/b/secret", "`a` is a symbolic link");
}
