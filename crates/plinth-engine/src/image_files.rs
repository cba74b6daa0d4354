//! Reading a run session's filesystem from the host side: the image's snapshots plus the
//! session's changes, merged as overlayfs shows them, with symlinks resolved inside the image's
//! root the way `docker cp` resolves a container path (an absolute link target starts again at
//! the image's root, `..` never climbs above it). Nothing runs in the image, so this works in
//! images without a shell or coreutils, and no host path is ever followed.

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::merged::{Lookup, MergedEntry, lookup};
use crate::run::RunSession;

/// Symlinks followed for one path before giving up, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// An entry of the image's filesystem, as `lstat` describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathInfo {
    /// `st_mode`: the file type bits and the permission bits.
    pub mode: u32,
    /// The owner's uid.
    pub uid: u32,
    /// The group's gid.
    pub gid: u32,
    /// The size in bytes.
    pub size: u64,
}

/// What reading a file of the image found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileRead {
    /// The file's bytes (symlinks followed).
    Contents(Vec<u8>),
    /// Nothing at the path (or a symlink pointing nowhere).
    Missing,
    /// A directory.
    Directory,
    /// Something without contents to read (a device, a pipe, a socket).
    Special,
}

impl RunSession {
    fn merged_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut dirs = vec![self.upper()];
        dirs.extend(self.engine().inner.snapshots.read_dirs(self.layers())?);
        Ok(dirs)
    }

    /// The entry at `path` (absolute; relative paths start at `/`), the final component not
    /// followed when it is a symlink (`lstat`); `None` when nothing is there.
    pub fn stat_path(&self, path: &str) -> Result<Option<PathInfo>> {
        let dirs = self.merged_dirs()?;
        Ok(resolve(&dirs, path, false)?.map(|entry| PathInfo {
            mode: entry.meta.mode(),
            uid: entry.meta.uid(),
            gid: entry.meta.gid(),
            size: entry.meta.len(),
        }))
    }

    /// The contents of the file at `path`, every symlink followed inside the image's root.
    pub fn read_path(&self, path: &str) -> Result<FileRead> {
        let dirs = self.merged_dirs()?;
        let Some(entry) = resolve(&dirs, path, true)? else {
            return Ok(FileRead::Missing);
        };
        if entry.is_dir() {
            return Ok(FileRead::Directory);
        }
        if !entry.meta.is_file() {
            return Ok(FileRead::Special);
        }
        std::fs::read(&entry.host_path)
            .map(FileRead::Contents)
            .map_err(|e| Error::io("read", &entry.host_path, e))
    }
}

/// Resolves `path` in the merged `dirs` (top first): every symlink on the way is followed inside
/// the root, the last one only when `follow_last`.
fn resolve(dirs: &[PathBuf], path: &str, follow_last: bool) -> Result<Option<MergedEntry>> {
    // The components still to walk, in reverse order (the next one last), and the resolved
    // components so far.
    let mut pending: Vec<String> = components(path).rev().collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(component) = pending.pop() {
        match component.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        resolved.push(component);
        let here = format!("/{}", resolved.join("/"));
        let entry = match lookup(dirs, &here)? {
            Lookup::Found(entry) => entry,
            Lookup::Missing | Lookup::Blocked(_) => return Ok(None),
        };
        let is_last = pending.is_empty();
        if !entry.meta.file_type().is_symlink() || (is_last && !follow_last) {
            if is_last {
                return Ok(Some(entry));
            }
            if !entry.is_dir() {
                // `a/file/b`: ENOTDIR, which docker reports as not found.
                return Ok(None);
            }
            continue;
        }
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(Error::io(
                "resolve",
                &entry.host_path,
                std::io::Error::other(format!(
                    "more than {MAX_SYMLINKS} symlinks on the way to `{path}`"
                )),
            ));
        }
        let target = std::fs::read_link(&entry.host_path)
            .map_err(|e| Error::io("read the symlink", &entry.host_path, e))?;
        let target = target.to_string_lossy().into_owned();
        resolved.pop();
        if target.starts_with('/') {
            resolved.clear();
        }
        pending.extend(components(&target).rev());
    }
    // The root itself.
    match lookup(dirs, "/")? {
        Lookup::Found(entry) => Ok(Some(entry)),
        Lookup::Missing | Lookup::Blocked(_) => Ok(None),
    }
}

fn components(path: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    path.split('/').filter(|c| !c.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// Two layers: the lower has merged-usr links and a file; the upper whites one file out.
    fn layers() -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        let upper = dir.path().join("upper");
        std::fs::create_dir_all(lower.join("usr/bin")).unwrap();
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::write(lower.join("usr/bin/tool"), "tool\n").unwrap();
        std::fs::write(lower.join("etc/gone"), "gone\n").unwrap();
        symlink("usr/bin", lower.join("bin")).unwrap();
        symlink("/usr/bin/tool", lower.join("etc/absolute")).unwrap();
        symlink("../../../../usr/bin/tool", lower.join("etc/climbing")).unwrap();
        symlink("/nowhere", lower.join("etc/dangling")).unwrap();
        symlink("loop", lower.join("etc/loop")).unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        // A whiteout needs CAP_MKNOD; without it, the lookup of `/etc/gone` is not tested.
        let whiteout = rustix::fs::mknodat(
            rustix::fs::CWD,
            upper.join("etc/gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        );
        if whiteout.is_err() {
            std::fs::remove_file(lower.join("etc/gone")).unwrap();
        }
        (dir, vec![upper, lower])
    }

    fn found(dirs: &[PathBuf], path: &str, follow: bool) -> Option<String> {
        resolve(dirs, path, follow)
            .unwrap()
            .map(|e| e.host_path.to_string_lossy().into_owned())
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (_dir, dirs) = layers();
        let tool = found(&dirs, "/usr/bin/tool", false).unwrap();
        assert!(tool.ends_with("lower/usr/bin/tool"));
        // A parent symlink is followed; the last one only when asked.
        assert_eq!(found(&dirs, "/bin/tool", false).unwrap(), tool);
        assert!(found(&dirs, "/bin", false).unwrap().ends_with("lower/bin"));
        assert!(
            found(&dirs, "/bin", true)
                .unwrap()
                .ends_with("lower/usr/bin")
        );
        assert_eq!(found(&dirs, "/etc/absolute", true).unwrap(), tool);
        // `..` stops at the image's root instead of reaching the host.
        assert_eq!(found(&dirs, "/etc/climbing", true).unwrap(), tool);
        assert_eq!(found(&dirs, "/../../usr/./bin/tool", false).unwrap(), tool);
        // A dangling link exists as a link and is missing as a file.
        assert!(found(&dirs, "/etc/dangling", false).is_some());
        assert_eq!(found(&dirs, "/etc/dangling", true), None);
        assert_eq!(found(&dirs, "/etc/gone", false), None);
        assert_eq!(found(&dirs, "/usr/bin/tool/x", false), None);
        assert!(resolve(&dirs, "/etc/loop", true).is_err());
        assert!(found(&dirs, "/", false).is_some());
    }
}
