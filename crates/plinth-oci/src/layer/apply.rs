//! Applying tar entries to a target root, one at a time and never outside it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

use super::entry::WHITEOUT_PREFIX;
use super::safe_fs::{self, Root, WalkError};
use super::tar_reader::{RawEntry, display_bytes};
use super::unpack::UnpackOptions;
use crate::error::{Error, Result};

/// The longest path accepted (Linux `PATH_MAX`).
const MAX_PATH: usize = 4096;
/// The longest single component accepted (Linux `NAME_MAX`).
const MAX_COMPONENT: usize = 255;

/// Splits an entry path into normal components, as containerd and docker read layer names:
/// a leading `/` or `./` is relative to the root of the image (umoci's `insert ROOTFS /` writes
/// `/` and `/etc/x`; debuerreotype writes `./`), and `.` and empty components are dropped. What
/// is refused is what could escape or cannot be a Linux name: `..` components, NUL bytes and
/// oversized names. Escapes through symlinks and hardlinks are caught when the entry is applied.
pub(crate) fn split_path(raw: &[u8], what: &str) -> Result<Vec<Vec<u8>>, String> {
    if raw.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if raw.contains(&0) {
        return Err(format!("the {what} contains a NUL byte"));
    }
    if raw.len() > MAX_PATH {
        return Err(format!(
            "the {what} is {} bytes long, over the {MAX_PATH}-byte limit",
            raw.len()
        ));
    }
    let mut comps = Vec::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                return Err(format!(
                    "the {what} has a `..` component, which could escape the target"
                ));
            }
            _ if comp.len() > MAX_COMPONENT => {
                return Err(format!(
                    "the {what} has a component over {MAX_COMPONENT} bytes"
                ));
            }
            _ => comps.push(comp.to_vec()),
        }
    }
    Ok(comps)
}

fn join(comps: &[Vec<u8>]) -> Vec<u8> {
    comps.join(&b'/')
}

/// A directory whose mode and mtime are set once all entries are in.
struct PendingDir {
    comps: Vec<Vec<u8>>,
    mode: u32,
    mtime: i64,
}

/// Applies entries to the target and remembers what this layer created (for opaque dirs).
pub(crate) struct Applier<'a> {
    root: Root,
    options: &'a UnpackOptions,
    created: BTreeSet<Vec<u8>>,
    dirs: Vec<PendingDir>,
    /// The last parent directory opened, by its components. Layers list a directory's entries
    /// together, so this saves walking the path again (one `openat` per component) for each of
    /// them. It is dropped before any entry that could remove or replace it or one of its
    /// ancestors, so it never stands for anything but the directory now at that path.
    last_parent: Option<(Vec<Vec<u8>>, OwnedFd)>,
    pub entries: u64,
    pub whiteouts: u64,
}

impl<'a> Applier<'a> {
    pub fn new(root: Root, options: &'a UnpackOptions) -> Self {
        Self {
            root,
            options,
            created: BTreeSet::new(),
            dirs: Vec::new(),
            last_parent: None,
            entries: 0,
            whiteouts: 0,
        }
    }

    pub fn apply(&mut self, entry: &RawEntry, data: &mut dyn Read) -> Result<()> {
        let shown = entry.display_path();
        let unsafe_entry = |reason: String| Error::UnsafeEntry {
            entry: shown.clone(),
            reason,
        };
        let comps = split_path(&entry.path, "path").map_err(unsafe_entry)?;
        let t = entry.typeflag;
        if !matches!(
            t,
            b'0' | b'\0' | b'7' | b'1' | b'2' | b'3' | b'4' | b'5' | b'6'
        ) {
            return Err(unsafe_entry(format!(
                "entry type `{}` (header at byte {}) is not supported in a layer",
                (t as char).escape_default(),
                entry.offset
            )));
        }
        let Some((name, parent_comps)) = comps.split_last() else {
            return self.apply_root_entry(entry, &shown);
        };
        self.entries += 1;
        // Everything at or below the entry's path may be removed or replaced (a whiteout or an
        // opaque marker affects its parent's children): forget a cached parent inside it.
        let is_whiteout = name.starts_with(WHITEOUT_PREFIX.as_bytes());
        self.forget_cached_parent_under(if is_whiteout { parent_comps } else { &comps });
        if is_whiteout {
            return self.whiteout(parent_comps, name, &shown);
        }
        if matches!(t, b'3' | b'4') && !self.options.allow_devices() {
            return Err(unsafe_entry(
                "device nodes are not permitted; unpack with `allow_devices` if this layer is trusted".into(),
            ));
        }
        let target = Target {
            parent: self.open_parent(parent_comps, true, &shown)?,
            name,
            path: self
                .root
                .path()
                .join(std::ffi::OsStr::new(&*String::from_utf8_lossy(&join(
                    &comps,
                )))),
            shown: &shown,
        };
        // Hardlink targets are resolved before the destination is cleared.
        let link_source = if t == b'1' {
            Some(self.hardlink_source(entry, &comps, &shown)?)
        } else {
            None
        };
        // Resolving a hardlink's source may have cached a directory below the entry's path.
        self.forget_cached_parent_under(&comps);
        clear_destination(&target, t == b'5')?;
        match (t, link_source) {
            (b'5', _) => self.create_dir(&target, entry, &comps)?,
            (b'0' | b'\0' | b'7', _) => self.create_file(&target, entry, data)?,
            (b'1', Some((src_parent, src_name))) => {
                rustix::fs::linkat(
                    &src_parent,
                    src_name.as_slice(),
                    &target.parent,
                    target.name.as_slice(),
                    AtFlags::empty(),
                )
                .map_err(|e| target.sys("create hard link", e))?;
            }
            (b'2', _) => self.create_symlink(&target, entry)?,
            _ => self.create_node(&target, entry)?,
        }
        self.created.insert(join(&comps));
        Ok(())
    }

    /// An entry for the root directory itself (`/`, `./`, as umoci and debuerreotype write):
    /// its mode, owner and mtime apply to the target root, as containerd applies them.
    fn apply_root_entry(&mut self, entry: &RawEntry, shown: &str) -> Result<()> {
        if entry.typeflag != b'5' {
            return Err(Error::UnsafeEntry {
                entry: shown.to_owned(),
                reason: "the entry would replace the target root itself".into(),
            });
        }
        let root = self
            .root
            .open_dir(&[], false, &mut |_| {})
            .map_err(|e| self.walk_error(e, &[], shown))?;
        self.chown_fd(&root, entry, self.root.path())?;
        self.set_xattrs(&root, entry)
            .map_err(|e| Error::io("set extended attributes of", self.root.path(), e.into()))?;
        self.dirs.push(PendingDir {
            comps: Vec::new(),
            mode: entry.mode,
            mtime: entry.mtime,
        });
        Ok(())
    }

    fn create_dir(
        &mut self,
        target: &Target<'_>,
        entry: &RawEntry,
        comps: &[Vec<u8>],
    ) -> Result<()> {
        match rustix::fs::mkdirat(
            &target.parent,
            target.name.as_slice(),
            Mode::from_raw_mode(0o700),
        ) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(target.sys("create directory", e)),
        }
        let dir = safe_fs::open_subdir(&target.parent, target.name)
            .map_err(|e| target.sys("open directory", e))?;
        self.chown_fd(&dir, entry, &target.path)?;
        self.set_xattrs(&dir, entry)
            .map_err(|e| target.sys("set extended attributes of", e))?;
        self.dirs.push(PendingDir {
            comps: comps.to_vec(),
            mode: entry.mode,
            mtime: entry.mtime,
        });
        Ok(())
    }

    fn create_file(
        &self,
        target: &Target<'_>,
        entry: &RawEntry,
        data: &mut dyn Read,
    ) -> Result<()> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(
            &target.parent,
            target.name.as_slice(),
            flags,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| target.sys("create", e))?;
        let mut file = File::from(fd);
        let written = copy_data(data, &mut file).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => target.unsafe_entry(e.to_string()),
            _ => Error::io("write", &target.path, e),
        })?;
        if written != entry.size {
            return Err(target.unsafe_entry(format!(
                "{written} data bytes read, {} declared",
                entry.size
            )));
        }
        let fd = OwnedFd::from(file);
        self.chown_fd(&fd, entry, &target.path)?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(entry.mode))
            .map_err(|e| target.sys("change the mode of", e))?;
        self.set_xattrs(&fd, entry)
            .map_err(|e| target.sys("set extended attributes of", e))?;
        rustix::fs::futimens(&fd, &times(entry.mtime))
            .map_err(|e| target.sys("set the mtime of", e))
    }

    fn create_symlink(&self, target: &Target<'_>, entry: &RawEntry) -> Result<()> {
        if entry.link.is_empty() || entry.link.contains(&0) || entry.link.len() > MAX_PATH {
            return Err(target.unsafe_entry(
                "the symlink target is empty, has a NUL byte or is too long".into(),
            ));
        }
        rustix::fs::symlinkat(
            entry.link.as_slice(),
            &target.parent,
            target.name.as_slice(),
        )
        .map_err(|e| target.sys("create symlink", e))?;
        self.chown_at(&target.parent, target.name, entry, &target.path)?;
        rustix::fs::utimensat(
            &target.parent,
            target.name.as_slice(),
            &times(entry.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| target.sys("set the mtime of", e))
    }

    /// A character or block device (allowed by the options) or a FIFO.
    fn create_node(&self, target: &Target<'_>, entry: &RawEntry) -> Result<()> {
        let (ft, dev) = match entry.typeflag {
            b'3' => (
                FileType::CharacterDevice,
                rustix::fs::makedev(entry.dev_major, entry.dev_minor),
            ),
            b'4' => (
                FileType::BlockDevice,
                rustix::fs::makedev(entry.dev_major, entry.dev_minor),
            ),
            _ => (FileType::Fifo, 0),
        };
        let (parent, name) = (&target.parent, target.name.as_slice());
        rustix::fs::mknodat(parent, name, ft, Mode::from_raw_mode(0o600), dev)
            .map_err(|e| target.sys("create device node", e))?;
        self.chown_at(parent, target.name, entry, &target.path)?;
        rustix::fs::chmodat(
            parent,
            name,
            Mode::from_raw_mode(entry.mode),
            AtFlags::empty(),
        )
        .map_err(|e| target.sys("change the mode of", e))?;
        rustix::fs::utimensat(parent, name, &times(entry.mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| target.sys("set the mtime of", e))
    }

    /// Sets directory modes and mtimes, deepest first, once nothing else will change them.
    pub fn finish(mut self) -> Result<()> {
        self.dirs.sort_by_key(|d| std::cmp::Reverse(d.comps.len()));
        for d in &self.dirs {
            let Ok(fd) = self.root.open_dir(&d.comps, false, &mut |_| {}) else {
                continue; // removed again by a later entry
            };
            let path = self
                .root
                .path()
                .join(&*String::from_utf8_lossy(&join(&d.comps)));
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(d.mode))
                .map_err(|e| Error::io("change the mode of", &path, e.into()))?;
            rustix::fs::futimens(&fd, &times(d.mtime))
                .map_err(|e| Error::io("set the mtime of", &path, e.into()))?;
        }
        Ok(())
    }

    fn forget_cached_parent_under(&mut self, path: &[Vec<u8>]) {
        if self
            .last_parent
            .as_ref()
            .is_some_and(|(cached, _)| cached.starts_with(path))
        {
            self.last_parent = None;
        }
    }

    fn open_parent(&mut self, comps: &[Vec<u8>], create: bool, shown: &str) -> Result<OwnedFd> {
        if let Some((cached, fd)) = &self.last_parent
            && cached.as_slice() == comps
        {
            let path = self
                .root
                .path()
                .join(&*String::from_utf8_lossy(&join(comps)));
            return rustix::io::dup(fd)
                .map_err(|e| Error::io("duplicate the descriptor of", path, e.into()));
        }
        let created = &mut self.created;
        let mut on_create = |depth: usize| {
            created.insert(join(&comps[..=depth]));
        };
        let fd = self
            .root
            .open_dir(comps, create, &mut on_create)
            .map_err(|e| self.walk_error(e, comps, shown))?;
        let keep = rustix::io::dup(&fd)
            .map_err(|e| Error::io("duplicate the descriptor of", self.root.path(), e.into()))?;
        self.last_parent = Some((comps.to_vec(), keep));
        Ok(fd)
    }

    fn walk_error(&self, e: WalkError, comps: &[Vec<u8>], shown: &str) -> Error {
        let prefix = |depth: usize| display_bytes(&join(&comps[..=depth]));
        let reason = match e {
            WalkError::Symlink(d) => {
                format!(
                    "its parent `{}` is a symbolic link; layer entries are never written through symlinks",
                    prefix(d)
                )
            }
            WalkError::NotDir(d) => format!("its parent `{}` is not a directory", prefix(d)),
            WalkError::Missing(d) => format!("its parent `{}` does not exist", prefix(d)),
            WalkError::Sys(d, errno) => {
                return Error::io(
                    "open directory",
                    self.root.path().join(prefix(d)),
                    errno.into(),
                );
            }
        };
        Error::UnsafeEntry {
            entry: shown.to_owned(),
            reason,
        }
    }

    /// Resolves a hardlink's target to (parent dir, name), checking it exists inside the root.
    fn hardlink_source(
        &mut self,
        entry: &RawEntry,
        comps: &[Vec<u8>],
        shown: &str,
    ) -> Result<(OwnedFd, Vec<u8>)> {
        let unsafe_entry = |reason: String| Error::UnsafeEntry {
            entry: shown.to_owned(),
            reason,
        };
        let target = split_path(&entry.link, "hardlink target").map_err(unsafe_entry)?;
        let target_shown = display_bytes(&entry.link);
        let Some((name, parent)) = target.split_last() else {
            return Err(unsafe_entry(
                "the hardlink target is the root directory".into(),
            ));
        };
        if target == comps {
            return Err(unsafe_entry("the hardlink points to itself".into()));
        }
        let fd = self
            .open_parent(parent, false, shown)
            .map_err(|e| match e {
                Error::UnsafeEntry { reason, .. } => {
                    unsafe_entry(format!("hardlink target `{target_shown}`: {reason}"))
                }
                other => other,
            })?;
        match safe_fs::lstat_at(&fd, name) {
            Ok(Some(st)) if safe_fs::file_type(&st) == FileType::Directory => Err(unsafe_entry(
                format!("the hardlink target `{target_shown}` is a directory"),
            )),
            Ok(Some(_)) => Ok((fd, name.clone())),
            Ok(None) => Err(unsafe_entry(format!(
                "the hardlink target `{target_shown}` does not exist; a link must point to an earlier entry or a lower layer's file"
            ))),
            Err(e) => Err(Error::io(
                "inspect",
                self.root.path().join(&target_shown),
                e.into(),
            )),
        }
    }

    fn chown_fd(&self, fd: &OwnedFd, entry: &RawEntry, path: &Path) -> Result<()> {
        if self.options.preserve_ownership() {
            let (uid, gid) = ids(entry)?;
            rustix::fs::fchown(fd, Some(uid), Some(gid))
                .map_err(|e| Error::io("change the owner of", path, e.into()))?;
        }
        Ok(())
    }

    fn chown_at(&self, parent: &OwnedFd, name: &[u8], entry: &RawEntry, path: &Path) -> Result<()> {
        if self.options.preserve_ownership() {
            let (uid, gid) = ids(entry)?;
            rustix::fs::chownat(
                parent,
                name,
                Some(uid),
                Some(gid),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| Error::io("change the owner of", path, e.into()))?;
        }
        Ok(())
    }

    /// Sets `security.capability` and `user.*` xattrs when ownership is preserved; others
    /// (notably `trusted.overlay.*`, which would steer overlayfs) are ignored.
    fn set_xattrs(&self, fd: &impl AsFd, entry: &RawEntry) -> Result<(), Errno> {
        if !self.options.preserve_ownership() {
            return Ok(());
        }
        for (name, value) in &entry.xattrs {
            if name == b"security.capability" || name.starts_with(b"user.") {
                rustix::fs::fsetxattr(fd, name.as_slice(), value, XattrFlags::empty())?;
            } else {
                tracing::debug!(entry = %entry.display_path(), xattr = %display_bytes(name), "ignoring xattr");
            }
        }
        Ok(())
    }
}

/// Where one entry goes: its parent directory (opened inside the root) and its name there.
struct Target<'a> {
    parent: OwnedFd,
    name: &'a Vec<u8>,
    /// The path on disk, for I/O errors.
    path: std::path::PathBuf,
    /// The entry's name as the tar spells it, for unsafe-entry errors.
    shown: &'a str,
}

impl Target<'_> {
    fn sys(&self, action: &'static str, e: Errno) -> Error {
        Error::io(action, &self.path, e.into())
    }

    fn unsafe_entry(&self, reason: String) -> Error {
        Error::UnsafeEntry {
            entry: self.shown.to_owned(),
            reason,
        }
    }
}

/// Removes whatever is at the entry's path, except a directory that a directory entry only
/// updates (its contents stay, as docker and containerd keep them).
fn clear_destination(target: &Target<'_>, is_dir_entry: bool) -> Result<()> {
    if let Some(st) =
        safe_fs::lstat_at(&target.parent, target.name).map_err(|e| target.sys("inspect", e))?
    {
        let keep = is_dir_entry && safe_fs::file_type(&st) == FileType::Directory;
        if !keep {
            safe_fs::remove_all_at(&target.parent, target.name)
                .map_err(|e| target.sys("replace", e))?;
        }
    }
    Ok(())
}

fn ids(entry: &RawEntry) -> Result<(rustix::fs::Uid, rustix::fs::Gid)> {
    let fits = |v: u64| u32::try_from(v).ok().filter(|&v| v != u32::MAX);
    match (fits(entry.uid), fits(entry.gid)) {
        (Some(u), Some(g)) => Ok((rustix::fs::Uid::from_raw(u), rustix::fs::Gid::from_raw(g))),
        _ => Err(Error::UnsafeEntry {
            entry: entry.display_path(),
            reason: format!(
                "owner {}:{} is out of the 32-bit id range",
                entry.uid, entry.gid
            ),
        }),
    }
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime.max(0),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn copy_data(data: &mut dyn Read, file: &mut File) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        io::Write::write_all(file, &buf[..n])?;
        total += n as u64;
    }
}

mod whiteout;

#[cfg(test)]
mod tests;
