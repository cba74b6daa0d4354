//! Two writer processes and a garbage collector on one store at once: nothing corrupt, nothing
//! referenced lost, garbage collected.
//!
//! The test binary re-runs itself: `child_process_entry` does the work of one process when the
//! role variable is set, and nothing otherwise.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use plinth_oci::store::{GcOptions, Store};
use plinth_oci::{Descriptor, Digest, ImageManifest, MediaType};

const ROLE_ENV: &str = "PLINTH_STORE_TEST_ROLE";
const ROOT_ENV: &str = "PLINTH_STORE_TEST_ROOT";
const ITERATIONS: usize = 30;
const KEEP_LAST: usize = 4;

/// 1 MiB that both writers write (same digest), streamed in chunks.
fn shared_content() -> Vec<u8> {
    (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

fn write_streaming(store: &Store, bytes: &[u8]) -> Descriptor {
    let expected = Digest::of(bytes);
    let mut w = store.blob_writer().unwrap();
    for chunk in bytes.chunks(64 * 1024) {
        w.write_all(chunk).unwrap();
    }
    let (digest, size) = w.commit(Some(&expected)).unwrap();
    Descriptor::new(MediaType::OciLayer, digest, size)
}

fn run_writer(store: &Store, id: &str) {
    let shared = shared_content();
    let shared_digest = Digest::of(&shared);
    for i in 0..ITERATIONS {
        {
            let _guard = store.lock_shared().unwrap();
            let shared_layer = write_streaming(store, &shared);
            let unique = format!("writer {id} iteration {i}\n").repeat(1000);
            let unique_layer = write_streaming(store, unique.as_bytes());
            let config = store
                .write_blob(format!("{{\"writer\":\"{id}\",\"i\":{i}}}").as_bytes())
                .unwrap();
            let config = Descriptor::new(
                MediaType::OciConfig,
                config.clone(),
                store.blob_size(&config).unwrap(),
            );
            let manifest = store
                .write_manifest(&ImageManifest::new(
                    MediaType::OciManifest,
                    config,
                    vec![shared_layer, unique_layer],
                ))
                .unwrap();
            // A real pull or build does more work between its blobs and its ref; widen the
            // window in which an unguarded writer would lose blobs to gc.
            std::thread::sleep(Duration::from_millis(20));
            store.set_ref(&format!("{id}/{i:03}"), &manifest).unwrap();
        }
        // Garbage, outside any session: gc may take it at any time.
        store
            .write_blob(format!("garbage from {id} at {i}").as_bytes())
            .unwrap();
        if i >= KEEP_LAST {
            store
                .delete_ref(&format!("{id}/{:03}", i - KEEP_LAST))
                .unwrap();
        }
        // The shared blob is referenced by this writer's live refs, and the other writer's renames
        // of identical bytes must never show a partial file.
        assert_eq!(store.read_blob(&shared_digest).unwrap().len(), shared.len());
    }
}

fn run_gc(store: &Store, root: &Path) {
    let mut removed = 0;
    let mut runs = 0;
    while !root.join("writers-done").exists() || runs < 3 {
        let report = store
            .gc(&GcOptions {
                lock_timeout: Duration::from_secs(120),
                ..GcOptions::immediate()
            })
            .unwrap();
        removed += report.blobs_removed;
        runs += 1;
        std::thread::sleep(Duration::from_millis(15));
    }
    std::fs::write(root.join("gc-report"), format!("{runs} {removed}")).unwrap();
}

/// One process's part; a no-op unless started by `writers_and_gc_race_without_corruption`.
#[test]
fn child_process_entry() {
    let (Ok(role), Ok(root)) = (std::env::var(ROLE_ENV), std::env::var(ROOT_ENV)) else {
        return;
    };
    let root = Path::new(&root);
    let store = Store::open(root.join("store")).unwrap();
    match role.as_str() {
        "gc" => run_gc(&store, root),
        "crash" => {
            // Die mid-write, holding the shared lock and a half-written temp file.
            let mut w = store.blob_writer().unwrap();
            w.write_all(&shared_content()[..300_000]).unwrap();
            w.flush().unwrap();
            std::process::abort();
        }
        writer => run_writer(&store, writer),
    }
}

fn spawn(role: &str, root: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(ROLE_ENV, role)
        .env(ROOT_ENV, root)
        .spawn()
        .unwrap()
}

#[test]
fn writers_and_gc_race_without_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    Store::open(root.join("store")).unwrap();
    let gc = spawn("gc", root);
    let writers = [spawn("alpha", root), spawn("beta", root)];
    for mut w in writers {
        assert!(
            w.wait().unwrap().success(),
            "a writer process failed (see its output above)"
        );
    }
    std::fs::write(root.join("writers-done"), b"").unwrap();
    let mut gc = gc;
    assert!(
        gc.wait().unwrap().success(),
        "the gc process failed (see its output above)"
    );
    let report = std::fs::read_to_string(root.join("gc-report")).unwrap();
    let (runs, removed) = report.split_once(' ').unwrap();
    let (runs, removed): (u64, u64) = (runs.parse().unwrap(), removed.parse().unwrap());
    assert!(
        runs >= 3 && removed > 0,
        "gc ran {runs} times and removed {removed} blobs: the race did not happen"
    );

    let store = Store::open(root.join("store")).unwrap();
    let refs = store.list_refs().unwrap();
    assert_eq!(refs.len(), 2 * KEEP_LAST, "{refs:#?}");
    let check_all = |store: &Store| {
        let mut reachable = std::collections::BTreeSet::new();
        for r in store.list_refs().unwrap() {
            for d in store.walk(&r.descriptor).unwrap() {
                store
                    .verify_blob(&d.digest)
                    .unwrap_or_else(|e| panic!("ref `{}`: {e}", r.name));
                reachable.insert(d.digest);
            }
        }
        reachable
    };
    let reachable = check_all(&store);
    let final_report = store.gc(&GcOptions::immediate()).unwrap();
    assert_eq!(final_report.blobs_kept as usize, reachable.len());
    assert_eq!(check_all(&store), reachable);
    assert_eq!(
        std::fs::read_dir(store.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        reachable.len()
    );
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn a_writer_killed_mid_blob_leaves_only_collectable_debris() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = Store::open(root.join("store")).unwrap();
    let status = spawn("crash", root).wait().unwrap();
    assert!(
        !status.success(),
        "the crashing child was expected to abort"
    );
    let leftovers: Vec<_> = std::fs::read_dir(store.root().join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "the half-written temp file stays until gc: {leftovers:?}"
    );
    assert!(!store.has_blob(&Digest::of(&shared_content())));
    // The dead process's lock is gone with it, so gc does not wait; young debris is kept by
    // default and removed once old enough (here: immediately).
    let quick = GcOptions {
        lock_timeout: Duration::from_secs(5),
        ..GcOptions::default()
    };
    assert_eq!(store.gc(&quick).unwrap().temp_files_removed, 0);
    let report = store
        .gc(&GcOptions {
            lock_timeout: Duration::from_secs(5),
            ..GcOptions::immediate()
        })
        .unwrap();
    assert_eq!(report.temp_files_removed, 1);
    assert!(report.bytes_freed >= 300_000);
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0
    );
    // And the store works as before.
    let d = write_streaming(&store, &shared_content());
    store.verify_blob(&d.digest).unwrap();
}
