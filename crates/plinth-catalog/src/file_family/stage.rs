//! Staging a file family's working files as a version, and committing them as its record.
//!
//! The files are copied to `versions/<X.Y.Z>/` *before* the build (through a temporary
//! directory renamed into place), so the version is built from the very path it is recorded at:
//! a Dockerfile `COPY` names its source path in the image history, so building from anywhere
//! else would give another digest than a later `publish` of the recorded files. While the
//! release runs, a marker `versions/.<X.Y.Z>.staging` says the directory is not a record yet:
//! loaders skip it, and the next release of the same number replaces it. Dropping the staged
//! version without committing removes both.

use std::path::{Path, PathBuf};

use super::{FileFamily, VERSIONS_DIR};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::staged::StagedVersion;
use crate::version::Version;

/// The marker of a staged, not yet committed, version directory.
pub(crate) fn staging_marker(versions_dir: &Path, version: &str) -> PathBuf {
    versions_dir.join(format!(".{version}.staging"))
}

/// What of a family directory is not part of a version's files.
fn excluded(name: &std::ffi::OsStr) -> bool {
    name == VERSIONS_DIR || name == super::FAMILY_TOML
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::RecordVersion {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Copies the tree `from` into the new directory `to`: directories, regular files (with their
/// permission bits) and symbolic links (as links); anything else is refused.
fn copy_tree(from: &Path, to: &Path, top: bool) -> Result<()> {
    std::fs::create_dir(to).map_err(io("create", to))?;
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .map_err(io("list", from))?
        .collect::<std::io::Result<_>>()
        .map_err(io("list", from))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if top && excluded(&entry.file_name()) {
            continue;
        }
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io("inspect", &source))?;
        if kind.is_dir() {
            copy_tree(&source, &target, false)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target).map_err(io("copy", &source))?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(io("read the link", &source))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io("create the link", &target))?;
        } else {
            return Err(Error::FamilyFile {
                path: source,
                message: "not a file, directory or symbolic link; a family folder holds only those"
                    .to_owned(),
            });
        }
    }
    Ok(())
}

/// A version staged in `versions/<X.Y.Z>/` (see the module docs).
pub(crate) struct StagedFiles {
    family: FileFamily,
    dir: PathBuf,
    marker: PathBuf,
    committed: bool,
}

impl StagedFiles {
    /// Stages `family`'s working files as `version`.
    pub fn stage(family: &FileFamily, version: &Version) -> Result<Self> {
        let versions_dir = family.dir().join(VERSIONS_DIR);
        let name = version.to_string();
        let dir = versions_dir.join(&name);
        let marker = staging_marker(&versions_dir, &name);
        std::fs::create_dir_all(&versions_dir).map_err(io("create", &versions_dir))?;
        if dir.exists() {
            if !marker.exists() {
                return Err(Error::FamilyFile {
                    path: dir,
                    message: format!(
                        "version {version} is already recorded here; pick another bump, or remove the \
                         directory if that version was never released"
                    ),
                });
            }
            // Left by a release that did not finish: it was never a record.
            std::fs::remove_dir_all(&dir).map_err(io("remove", &dir))?;
        }
        std::fs::write(&marker, b"").map_err(io("create", &marker))?;
        let mut staged = Self {
            family: family.clone(),
            dir: dir.clone(),
            marker,
            committed: false,
        };
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}.copy-"))
            .tempdir_in(&versions_dir)
            .map_err(io("create a directory in", &versions_dir))?;
        let copy = temp.path().join("files");
        copy_tree(family.dir(), &copy, true)?;
        std::fs::rename(&copy, &dir).map_err(io("rename", &copy))?;
        staged.family = family.with_version_dir(version, &dir)?;
        Ok(staged)
    }
}

impl StagedVersion for StagedFiles {
    fn family(&self) -> &dyn Family {
        &self.family
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        std::fs::remove_file(&self.marker).map_err(io("remove", &self.marker))?;
        if let Some(parent) = self.dir.parent()
            && let Ok(handle) = std::fs::File::open(parent)
        {
            // The record must survive a crash once the release is reported done.
            let _ = handle.sync_all();
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedFiles {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("failed to remove the staged `{}`: {e}", self.dir.display());
        }
        let _ = std::fs::remove_file(&self.marker);
    }
}
