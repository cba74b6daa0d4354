//! Fixture files shared by concurrent test processes.

use std::path::Path;
use std::process::Command;

use plinth_test::{External, require_external};

/// Several test processes fetching the arm64 busybox into one path at once: every one succeeds,
/// the result is a complete executable, and no temp file or lock holder is left behind.
/// (Before the fetch took a lock and a unique temp name, two fetches shared one
/// `busybox-arm64.tmp`, and one failed with "chmod: cannot access".)
#[test]
fn concurrent_arm64_busybox_fetches_all_succeed() {
    require_external!(External::Root, External::Tool("flock"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fetch-arm64-busybox.sh");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data/busybox-arm64");
    let children: Vec<_> = (0..4)
        .map(|_| Command::new(&script).arg(&out).spawn().unwrap())
        .collect();
    for mut child in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "a concurrent fetch failed: {status}");
    }
    let bytes = std::fs::read(&out).unwrap();
    // An aarch64 ELF executable (e_machine 183), complete enough to hold its section headers.
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), 183);
    assert!(bytes.len() > 500_000, "{} bytes", bytes.len());
    let mut left: Vec<String> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["busybox-arm64", "busybox-arm64.lock"]);
}
