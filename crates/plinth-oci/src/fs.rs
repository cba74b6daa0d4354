//! File system helpers shared by the plinth crates.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temp file in the same directory, written, fsynced and
/// renamed over `path`, then (best effort) the directory fsynced so the rename is durable.
///
/// Readers see either the old contents or the new, never a partial file. The directory must
/// exist; the temp file is removed when any step fails. The file keeps the permissions of the
/// file it replaces, or gets `rw-r--r--` when new (temp files start owner-only, and these are
/// files other tools and users read: changelogs, READMEs, caches).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        Some(_) => Path::new("."),
        None => {
            return Err(std::io::Error::other(format!(
                "`{}` has no parent directory to write a temp file in",
                path.display()
            )));
        }
    };
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| std::os::unix::fs::PermissionsExt::from_mode(0o644));
    tmp.as_file().set_permissions(mode)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Not every platform can open a directory, so this is best effort.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    remove_stale_temp_files(dir, STALE_TEMP_AGE);
    Ok(())
}

/// Temp files older than this are leftovers of a killed writer: a write takes milliseconds.
pub const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the `.tmp-*` regular files in `dir` last modified more than `older_than` ago, as a
/// writer killed between creating its temp file and renaming it leaves them (the catalog
/// directories after `kill -9`). Best effort; returns how many were removed.
pub fn remove_stale_temp_files(dir: &Path, older_than: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let stale = entry.metadata().is_ok_and(|m| {
            m.is_file()
                && m.modified()
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > older_than)
        });
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temp_files_of_killed_writers_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(".tmp-killed");
        let fresh = dir.path().join(".tmp-inflight");
        let other = dir.path().join("notes.tmp");
        for f in [&old, &fresh, &other] {
            std::fs::write(f, "x").unwrap();
        }
        let hours_ago = std::time::SystemTime::now() - 2 * STALE_TEMP_AGE;
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(hours_ago)
            .unwrap();
        write_atomic(&dir.path().join("f.json"), b"{}").unwrap();
        assert!(!old.exists(), "a killed writer's temp file goes");
        assert!(fresh.exists() && other.exists());
    }

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"one").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640,
            "the mode of the replaced file is kept"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.json")]);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("no/such/f"), b"x").is_err());
    }
}
