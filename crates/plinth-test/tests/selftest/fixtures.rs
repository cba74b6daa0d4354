//! Fixture files shared by concurrent test processes.

use std::path::Path;
use std::process::Command;

use plinth_test::{External, require_external, shared_data};

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

/// Set in the children of [`a_shared_fixture_is_made_once_for_concurrent_processes`]: the
/// directory to count makes in.
const CHILD_ENV: &str = "PLINTH_TEST_SHARED_FIXTURE_CHILD";

/// Not a test of its own: the body of the processes the test below starts (a no-op otherwise).
#[test]
fn shared_fixture_child() {
    let Some(count_dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let fixture = shared_data::shared_fixture("concurrent", |dir| {
        // Counted outside the fixture: one file per make, however many processes ask.
        let mark = Path::new(&count_dir).join(std::process::id().to_string());
        std::fs::write(mark, "made").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        std::fs::write(dir.join("content"), "whole").unwrap();
        Ok(())
    })
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(fixture.join("content")).unwrap(),
        "whole"
    );
}

/// Four processes asking for one fixture at once: one makes it, all get it whole, and no temp
/// directory is left.
#[test]
fn a_shared_fixture_is_made_once_for_concurrent_processes() {
    let target = tempfile::tempdir().unwrap();
    let count = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "fixtures::shared_fixture_child", "--nocapture"])
                .env("CARGO_TARGET_DIR", target.path())
                .env(CHILD_ENV, count.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "a process asking for the fixture failed");
    }
    assert_eq!(
        std::fs::read_dir(count.path()).unwrap().count(),
        1,
        "made once"
    );
    let mut left: Vec<String> = std::fs::read_dir(target.path().join("plinth-test-data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    left.sort();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("concurrent-"), "{left:?}");
}

/// A failing maker publishes nothing; the next one removes its temp directory and fixtures
/// of days long past, and publishes its own.
#[test]
fn a_failed_make_publishes_nothing_and_stale_fixtures_are_removed() {
    let name = format!("selftest-stale-{}", std::process::id());
    let base = shared_data::shared_data_dir();
    std::fs::create_dir_all(base.join(format!("{name}-3"))).unwrap();
    // Another fixture whose name starts with this one's, being made: not this maker's to remove.
    let other = base.join(format!(".{name}-longer.tmp-x"));
    std::fs::create_dir_all(&other).unwrap();
    let failed = shared_data::shared_fixture(&name, |dir| {
        std::fs::write(dir.join("half"), "half").unwrap();
        Err(plinth_test::Error::Environment("the maker failed".into()))
    });
    assert!(failed.is_err());
    let names = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(&name) && !n.ends_with(".lock") && !n.contains("-longer"))
            .collect();
        names.sort();
        names
    };
    assert!(
        names().iter().all(|n| !n.starts_with(&name)),
        "nothing published, the old day removed: {:?}",
        names()
    );
    let made = shared_data::shared_fixture(&name, |dir| {
        std::fs::write(dir.join("whole"), "whole").unwrap();
        Ok(())
    })
    .unwrap();
    assert_eq!(
        names(),
        [made.file_name().unwrap().to_string_lossy().into_owned()],
        "the failed maker's temp directory is removed"
    );
    assert!(made.join("whole").exists() && !made.join("half").exists());
    assert!(
        other.exists(),
        "another fixture's temp directory is left alone"
    );
    std::fs::remove_dir_all(&other).unwrap();
    std::fs::remove_dir_all(&made).unwrap();
    std::fs::remove_file(base.join(format!("{name}.lock"))).unwrap();
}

/// A seeded store holds the fixture's blobs as hard links and its refs as copies, and keeps
/// what it had.
#[test]
fn seed_store_links_blobs_and_copies_refs() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let (from, into) = (dir.path().join("from"), dir.path().join("into"));
    for (path, text) in [
        ("blobs/sha256/aa", "blob"),
        ("refs/debian/latest/x", "ref"),
        ("sandbox/scratch", "not seeded"),
    ] {
        std::fs::create_dir_all(from.join(path).parent().unwrap()).unwrap();
        std::fs::write(from.join(path), text).unwrap();
    }
    std::fs::create_dir_all(into.join("refs")).unwrap();
    std::fs::write(into.join("refs/own"), "kept").unwrap();
    shared_data::seed_store(&from, &into).unwrap();
    let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
    assert_eq!(
        inode(&into.join("blobs/sha256/aa")),
        inode(&from.join("blobs/sha256/aa"))
    );
    assert_ne!(
        inode(&into.join("refs/debian/latest/x")),
        inode(&from.join("refs/debian/latest/x"))
    );
    assert_eq!(
        std::fs::read_to_string(into.join("refs/debian/latest/x")).unwrap(),
        "ref"
    );
    assert_eq!(
        std::fs::read_to_string(into.join("refs/own")).unwrap(),
        "kept"
    );
    assert!(!into.join("sandbox").exists());
}
