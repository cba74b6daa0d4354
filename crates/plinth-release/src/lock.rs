//! One release at a time per family: an advisory lock file in the catalog's ignored
//! `generated/.locks` directory.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use plinth_catalog::changelog_file_name;

use crate::error::{Error, Result};

/// Held while a release or publish of one family runs; released on drop (or when the process
/// dies, since it is an `flock`).
#[derive(Debug)]
pub struct FamilyLock {
    _file: File,
    path: PathBuf,
}

impl FamilyLock {
    /// Takes the lock of `repository` below `catalog_dir` without waiting: when another process
    /// holds it, fails with [`Error::Busy`] naming the lock file.
    pub fn try_acquire(catalog_dir: &Path, repository: &str) -> Result<Self> {
        let generated = catalog_dir.join("generated");
        let dir = plinth_catalog::lock_dir::lock_dir(&generated).map_err(Error::io(
            "create",
            &generated.join(plinth_catalog::lock_dir::LOCK_DIR),
        ))?;
        let path = dir.join(changelog_file_name(repository).replace(".json", ".lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(Error::Busy {
                repository: repository.to_owned(),
                path,
            }),
            Err(TryLockError::Error(e)) => Err(Error::io("lock", &path)(e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_the_same_family_fails_clearly_and_others_are_free() {
        let dir = tempfile::tempdir().unwrap();
        let held = FamilyLock::try_acquire(dir.path(), "team/base").unwrap();
        let err = FamilyLock::try_acquire(dir.path(), "team/base").unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("another release of team/base is in progress"),
            "{err}"
        );
        FamilyLock::try_acquire(dir.path(), "team/other").unwrap();
        drop(held);
        FamilyLock::try_acquire(dir.path(), "team/base").unwrap();
    }
}
