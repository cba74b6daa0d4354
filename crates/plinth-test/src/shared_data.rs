//! Fixtures made once a day and shared by every test process of a run (nextest runs each test
//! in a process of its own), kept under `TARGET/plinth-test-data`.
//!
//! [`shared_fixture`] makes a directory once: a file lock serialises the makers, the maker
//! writes into a temp directory next to the fixture, and a rename publishes it whole, so a
//! reader never sees half a fixture and a killed maker leaves only a temp directory the next
//! maker removes. [`seed_store`] gives a test's store what a fixture store holds (hard links to
//! its blobs, copies of its refs), so a Debian root made once is a cache hit in every test that
//! names it.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, io_error};

/// Days a fixture is kept after the day it was made for (older ones are removed by the next
/// maker of the same name): a run that straddles midnight still finds yesterday's.
const KEEP_DAYS: u64 = 1;

/// `TARGET/plinth-test-data`: `CARGO_TARGET_DIR` when set, else the workspace's `target`.
pub fn shared_data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("plinth-test-data")
}

fn today() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

/// The directory `NAME-DAY` under [`shared_data_dir`], made by `make` (given an empty temp
/// directory to fill) when no process has made it today.
///
/// Concurrent callers wait for the one that makes it; a failing `make` publishes nothing and
/// its error is returned (the next caller tries again).
pub fn shared_fixture(name: &str, make: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    // Without dots a name cannot be mistaken for another's temp directory (`.NAME.tmp-…`).
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Error::Environment(format!(
            "a shared fixture's name is ASCII letters, digits and dashes, not `{name}`"
        )));
    }
    let base = shared_data_dir();
    let day = today();
    let fixture = base.join(format!("{name}-{day}"));
    if fixture.exists() {
        return Ok(fixture);
    }
    std::fs::create_dir_all(&base).map_err(io_error("create directory", &base))?;
    let lock_path = base.join(format!("{name}.lock"));
    let lock = File::create(&lock_path).map_err(io_error("create lock file", &lock_path))?;
    lock.lock().map_err(io_error("lock", &lock_path))?;
    if fixture.exists() {
        return Ok(fixture);
    }
    remove_stale(&base, name, day);
    let work = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&base)
        .map_err(io_error("create a temp directory in", &base))?;
    make(work.path())?;
    std::fs::rename(work.path(), &fixture).map_err(io_error("publish fixture", &fixture))?;
    // The temp directory is now the fixture: nothing is left for `work` to remove.
    let _ = work.keep();
    Ok(fixture)
}

/// Removes what earlier makers of `name` left: temp directories of killed makers (the caller
/// holds the lock, so none is in use) and fixtures older than [`KEEP_DAYS`].
fn remove_stale(base: &Path, name: &str, day: u64) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        // Exact matches only: `NAME-more` is another fixture, not this one's.
        let half_made = file_name.starts_with(&format!(".{name}.tmp-"));
        let old = file_name
            .strip_prefix(&format!("{name}-"))
            .and_then(|d| d.parse::<u64>().ok())
            .is_some_and(|d| d + KEEP_DAYS < day);
        if half_made || old {
            tracing::debug!(path = %entry.path().display(), "removing a stale test fixture");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The fixture name of a store holding the Debian root `address` (e.g.
/// `plinth/debian:bookworm-minbase`) for linux/amd64: the same for every crate's tests, so the
/// root is bootstrapped once whichever test binary comes first.
pub fn debian_root_fixture_name(address: &str) -> String {
    let readable: String = address
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("debian-root-store-{readable}")
}

/// Gives the store at `into` the blobs (hard links, copies across file systems) and refs of
/// the store at `from`, leaving what `into` already has. A root made in `from` is then found in
/// `into` as if `into` had made it.
pub fn seed_store(from: &Path, into: &Path) -> Result<()> {
    copy_tree(&from.join("blobs"), &into.join("blobs"), true)?;
    copy_tree(&from.join("refs"), &into.join("refs"), false)
}

fn copy_tree(from: &Path, into: &Path, link: bool) -> Result<()> {
    std::fs::create_dir_all(into).map_err(io_error("create directory", into))?;
    for entry in std::fs::read_dir(from).map_err(io_error("read directory", from))? {
        let entry = entry.map_err(io_error("read directory", from))?;
        let (source, target) = (entry.path(), into.join(entry.file_name()));
        let kind = entry.file_type().map_err(io_error("stat", &source))?;
        if kind.is_dir() {
            copy_tree(&source, &target, link)?;
        } else if target.exists() {
            continue;
        } else if !(link && std::fs::hard_link(&source, &target).is_ok()) {
            // Refs are copied: the test's store rewrites them (by rename, but a copy keeps the
            // fixture safe from any writer).
            std::fs::copy(&source, &target).map_err(io_error("copy", &source))?;
        }
    }
    Ok(())
}

/// An [`Error::Environment`] for a fixture maker that failed, with what it printed.
pub fn fixture_failed(what: &str, output: &std::process::Output) -> Error {
    Error::Environment(format!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Removes everything of the store at `store` but `blobs` and `refs`: what [`seed_store`]
/// copies is all a fixture needs, and the rest (unpacked layers) would only take disk.
pub fn keep_only_blobs_and_refs(store: &Path) -> Result<()> {
    for entry in std::fs::read_dir(store).map_err(io_error("read directory", store))? {
        let entry = entry.map_err(io_error("read directory", store))?;
        if matches!(entry.file_name().to_str(), Some("blobs" | "refs")) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(io_error("remove", &path))?;
        } else {
            std::fs::remove_file(&path).map_err(io_error("remove", &path))?;
        }
    }
    Ok(())
}
