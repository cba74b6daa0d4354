//! File operations confined to a root directory.
//!
//! Every path is walked one component at a time from an open descriptor of the root with
//! `O_NOFOLLOW | O_DIRECTORY`, and every change is made with an `*at` call relative to the
//! parent's descriptor on a single name. A symlink anywhere in a parent component therefore
//! stops the walk instead of being followed, and `..` never reaches the kernel (the caller's
//! path rules reject it first). Nothing done here can touch a file outside the root, whatever
//! the layer or the existing tree contains.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Why a parent directory could not be opened.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// The component at this depth is a symlink.
    Symlink(usize),
    /// The component at this depth exists but is not a directory.
    NotDir(usize),
    /// The component at this depth does not exist (and creation was not asked for).
    Missing(usize),
    /// Another system error.
    Sys(usize, Errno),
}

/// An open target root.
#[derive(Debug)]
pub(crate) struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// Flags that open a directory component without following a symlink.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

impl Root {
    /// Opens the root directory itself (which may be reached through symlinks: it is the
    /// caller's choice, not the layer's).
    pub fn open(path: &Path) -> Result<Self, Errno> {
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The root's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the directory `comps` (all components are directories, none a symlink). With
    /// `create`, missing components are made with mode 0755 and `on_create(depth)` is called.
    pub fn open_dir(
        &self,
        comps: &[Vec<u8>],
        create: bool,
        on_create: &mut dyn FnMut(usize),
    ) -> Result<OwnedFd, WalkError> {
        let mut current = rustix::io::dup(&self.fd).map_err(|e| WalkError::Sys(0, e))?;
        for (depth, comp) in comps.iter().enumerate() {
            current = match open_child_dir(&current, comp) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&current, comp.as_slice(), Mode::from_raw_mode(0o755))
                    {
                        Ok(()) => on_create(depth),
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(WalkError::Sys(depth, e)),
                    }
                    open_child_dir(&current, comp)
                        .map_err(|e| classify(&current, comp, depth, e))?
                }
                Err(e) => return Err(classify(&current, comp, depth, e)),
            };
        }
        Ok(current)
    }
}

fn open_child_dir(parent: &OwnedFd, name: &[u8]) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(parent, name, dir_flags(), Mode::empty())
}

fn classify(parent: &OwnedFd, name: &[u8], depth: usize, e: Errno) -> WalkError {
    match e {
        Errno::NOENT => WalkError::Missing(depth),
        Errno::LOOP | Errno::NOTDIR => match lstat_at(parent, name) {
            Ok(Some(st)) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                WalkError::Symlink(depth)
            }
            Ok(Some(_)) => WalkError::NotDir(depth),
            Ok(None) => WalkError::Missing(depth),
            Err(e) => WalkError::Sys(depth, e),
        },
        other => WalkError::Sys(depth, other),
    }
}

/// `lstat` of `name` in `dir`; `None` when it does not exist.
pub(crate) fn lstat_at(dir: impl AsFd, name: &[u8]) -> Result<Option<rustix::fs::Stat>, Errno> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The file type of a stat result.
pub(crate) fn file_type(st: &rustix::fs::Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// Removes `name` in `dir` and, for a directory, everything under it, without following
/// symlinks.
pub(crate) fn remove_all_at(dir: &OwnedFd, name: &[u8]) -> Result<(), Errno> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if file_type(&st) == FileType::Directory {
        let child = open_child_dir(dir, name)?;
        clear_dir(&child, &mut |_| false)?;
        rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
    } else {
        rustix::fs::unlinkat(dir, name, AtFlags::empty())
    }
}

/// Removes every child of `dir` for which `keep(name)` is false. Kept directories are left
/// whole; the caller recurses when it needs to.
pub(crate) fn clear_dir(dir: &OwnedFd, keep: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), Errno> {
    for name in list_dir(dir)? {
        if !keep(&name) {
            remove_all_at(dir, &name)?;
        }
    }
    Ok(())
}

/// The names in `dir` (without `.` and `..`), sorted.
pub(crate) fn list_dir(dir: &OwnedFd) -> Result<Vec<Vec<u8>>, Errno> {
    let mut names = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    names.sort();
    Ok(names)
}

/// Opens the child directory `name` of `dir` without following a symlink.
pub(crate) fn open_subdir(dir: &OwnedFd, name: &[u8]) -> Result<OwnedFd, Errno> {
    open_child_dir(dir, name)
}
