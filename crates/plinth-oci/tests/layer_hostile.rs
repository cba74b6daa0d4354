//! Hostile layer tars: every one must fail with an error that names the entry, and nothing
//! outside the unpack target may change (checked against a sentinel tree around it).

mod layer_support;

use layer_support::{RawTar, Sentinel, path_bytes, reject, reject_in, reject_with_lower_symlink};

use plinth_oci::layer::{UnpackOptions, unpack_layer};

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

/// An absolute entry name is relative to the root of the image, as containerd and docker read it
/// (umoci writes `/etc/x`): naming a host path puts the file inside the target, never there.
#[test]
fn absolute_path_into_the_sentinel_lands_inside_the_target() {
    let s = Sentinel::new();
    let abs = s.root().join("escape");
    let tar = RawTar::new().file(path_bytes(&abs), b"x").finish();
    unpack_layer(&tar[..], s.target.as_path(), &UnpackOptions::new()).unwrap();
    assert!(!abs.exists());
    let inside = s.target.as_path().join(abs.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(&inside).unwrap(), b"x");
    s.assert_untouched();
}

#[test]
fn absolute_path_etc_lands_inside_the_target() {
    let s = Sentinel::new();
    let tar = RawTar::new()
        .file("/etc/plinth-hostile-test", b"x")
        .finish();
    unpack_layer(&tar[..], s.target.as_path(), &UnpackOptions::new()).unwrap();
    assert!(!std::path::Path::new("/etc/plinth-hostile-test").exists());
    assert_eq!(
        std::fs::read(s.target.as_path().join("etc/plinth-hostile-test")).unwrap(),
        b"x"
    );
    s.assert_untouched();
}

/// Cleaning an absolute name never lets `..` climb: `/../x` is refused like `../x`.
#[test]
fn absolute_dot_dot_file() {
    reject(
        RawTar::new().file("/../escape", b"x").finish(),
        "/../escape",
        "`..`",
    );
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
        "`etc` does not exist",
    );
}

#[test]
fn hardlink_to_absolute_sentinel_file() {
    let s = Sentinel::new();
    let tar = RawTar::new()
        .hardlink("stolen", path_bytes(&s.root().join("secret")))
        .finish();
    reject_in(&s, &tar, &UnpackOptions::new(), "stolen", "does not exist");
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
