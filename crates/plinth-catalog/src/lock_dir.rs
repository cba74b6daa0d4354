//! Where plinth keeps advisory lock files inside a user's catalog tree: a `.locks` directory
//! holding a `.gitignore` of `*`, so git shows neither the locks nor the `.gitignore` and a
//! release leaves `git status` with only the files it meant to change.
//!
//! The locks stay beside what they protect rather than in plinth's own state directory: every
//! process working on the same catalog must find the same lock, whatever its `PLINTH_HOME`.

use std::io;
use std::path::{Path, PathBuf};

/// The name of the lock directory.
pub const LOCK_DIR: &str = ".locks";

/// What the lock directory's `.gitignore` holds: everything, itself included.
const IGNORE_ALL: &str = "# Lock files of plinth's release flow; nothing here belongs in git.\n*\n";

/// `parent/.locks`, created with its `.gitignore` when missing.
pub fn lock_dir(parent: &Path) -> io::Result<PathBuf> {
    let dir = parent.join(LOCK_DIR);
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        // Written under a unique name and renamed: concurrent processes each put a whole file.
        let mut temp = tempfile::Builder::new()
            .prefix(".gitignore.")
            .tempfile_in(&dir)?;
        io::Write::write_all(&mut temp, IGNORE_ALL.as_bytes())?;
        temp.persist(&ignore).map_err(|e| e.error)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_directory_ignores_everything_in_it() {
        let parent = tempfile::tempdir().unwrap();
        let dir = lock_dir(parent.path()).unwrap();
        assert_eq!(dir, parent.path().join(".locks"));
        assert_eq!(
            std::fs::read_to_string(dir.join(".gitignore")).unwrap(),
            IGNORE_ALL
        );
        // A second call keeps it, and leaves no temp file behind.
        lock_dir(parent.path()).unwrap();
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [".gitignore"]);
    }
}
