//! In-memory layer entries: files that recipes add without a directory on disk.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// The prefix that marks a whiteout file in a layer (`dir/.wh.name` deletes `dir/name`).
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The entry that makes its directory opaque (hides everything earlier layers put there).
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// Why a file named `name` cannot be written into a layer, if it cannot: a name that starts
/// with [`WHITEOUT_PREFIX`] is a deletion marker in the layer format, never a file.
pub fn whiteout_name_problem(name: &str) -> Option<String> {
    let hidden = name.strip_prefix(WHITEOUT_PREFIX)?;
    let meaning = if name == OPAQUE_WHITEOUT {
        "that its directory hides everything below it in earlier layers".to_owned()
    } else {
        format!("the deletion of `{hidden}`")
    };
    Some(format!(
        "a file named `{name}` cannot be in an image layer: the layer format reads it as {meaning} \
         (docker keeps such a file in its own image store, but a pushed or loaded image shows the deletion instead); \
         rename it"
    ))
}

/// What an entry is, with the data that kind needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerEntryKind {
    /// A regular file and its contents.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symbolic link and its target (written as is, never followed).
    Symlink(String),
    /// A hard link to an earlier entry of the same layer (a relative path).
    Hardlink(String),
    /// A character device.
    CharDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A block device.
    BlockDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
}

/// Ownership, permissions, time and extended attributes of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryMeta {
    uid: u64,
    gid: u64,
    mode: u32,
    mtime: u64,
    xattrs: BTreeMap<String, Vec<u8>>,
}

impl EntryMeta {
    /// Owned by 0:0 with `mode`, mtime 0 (the epoch), no xattrs.
    pub fn new(mode: u32) -> Self {
        Self {
            uid: 0,
            gid: 0,
            mode: mode & 0o7777,
            mtime: 0,
            xattrs: BTreeMap::new(),
        }
    }

    /// Sets the numeric owner.
    #[must_use]
    pub fn with_owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// Sets the permission bits (`0o7777`, setuid/setgid/sticky included).
    #[must_use]
    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o7777;
        self
    }

    /// Sets the modification time (seconds since the epoch); the writer may clamp it.
    #[must_use]
    pub fn with_mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }

    /// Adds an extended attribute (e.g. `security.capability`).
    #[must_use]
    pub fn with_xattr(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.xattrs.insert(name.into(), value.into());
        self
    }

    /// Numeric user id.
    pub fn uid(&self) -> u64 {
        self.uid
    }

    /// Numeric group id.
    pub fn gid(&self) -> u64 {
        self.gid
    }

    /// Permission bits.
    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// Modification time in seconds.
    pub fn mtime(&self) -> u64 {
        self.mtime
    }

    /// Extended attributes.
    pub fn xattrs(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.xattrs
    }
}

/// One entry of an in-memory layer: a relative path, a kind and metadata.
///
/// ```
/// use plinth_oci::layer::LayerEntry;
/// let entry = LayerEntry::file("usr/local/bin/hello", b"#!/bin/sh\necho hi\n".to_vec())
///     .with_mode(0o755)
///     .with_owner(0, 0);
/// assert_eq!(entry.path(), "usr/local/bin/hello");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerEntry {
    path: String,
    kind: LayerEntryKind,
    meta: EntryMeta,
}

impl LayerEntry {
    /// An entry of any kind with default metadata for that kind (0:0, files 0644, dirs 0755,
    /// symlinks 0777).
    pub fn new(path: impl Into<String>, kind: LayerEntryKind) -> Self {
        let mode = match kind {
            LayerEntryKind::Dir => 0o755,
            LayerEntryKind::Symlink(_) => 0o777,
            _ => 0o644,
        };
        Self {
            path: path.into(),
            kind,
            meta: EntryMeta::new(mode),
        }
    }

    /// A regular file with `contents`.
    pub fn file(path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        Self::new(path, LayerEntryKind::File(contents.into()))
    }

    /// A directory.
    pub fn dir(path: impl Into<String>) -> Self {
        Self::new(path, LayerEntryKind::Dir)
    }

    /// A symbolic link to `target`.
    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Self::new(path, LayerEntryKind::Symlink(target.into()))
    }

    /// A hard link to the earlier entry `target`.
    pub fn hardlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Self::new(path, LayerEntryKind::Hardlink(target.into()))
    }

    /// A whiteout that deletes `path` from earlier layers (written as `<dir>/.wh.<name>`).
    pub fn whiteout(path: &str) -> Self {
        let path = path.trim_end_matches('/');
        let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
        let marker = if dir.is_empty() {
            format!("{WHITEOUT_PREFIX}{name}")
        } else {
            format!("{dir}/{WHITEOUT_PREFIX}{name}")
        };
        Self::file(marker, Vec::new()).with_mode(0o600)
    }

    /// The marker that makes directory `dir` opaque (`<dir>/.wh..wh..opq`).
    pub fn opaque(dir: &str) -> Self {
        let dir = dir.trim_end_matches('/');
        let marker = if dir.is_empty() {
            OPAQUE_WHITEOUT.to_owned()
        } else {
            format!("{dir}/{OPAQUE_WHITEOUT}")
        };
        Self::file(marker, Vec::new()).with_mode(0o600)
    }

    /// Sets the numeric owner.
    #[must_use]
    pub fn with_owner(mut self, uid: u64, gid: u64) -> Self {
        self.meta = self.meta.with_owner(uid, gid);
        self
    }

    /// Sets the permission bits.
    #[must_use]
    pub fn with_mode(mut self, mode: u32) -> Self {
        self.meta = self.meta.with_mode(mode);
        self
    }

    /// Sets the modification time.
    #[must_use]
    pub fn with_mtime(mut self, mtime: u64) -> Self {
        self.meta = self.meta.with_mtime(mtime);
        self
    }

    /// Adds an extended attribute.
    #[must_use]
    pub fn with_xattr(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.meta = self.meta.with_xattr(name, value);
        self
    }

    /// Replaces all metadata.
    #[must_use]
    pub fn with_meta(mut self, meta: EntryMeta) -> Self {
        self.meta = meta;
        self
    }

    /// The relative path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The kind and its data.
    pub fn kind(&self) -> &LayerEntryKind {
        &self.kind
    }

    /// The metadata.
    pub fn meta(&self) -> &EntryMeta {
        &self.meta
    }
}

/// Checks that `path` is a clean relative layer path and returns it without a trailing slash.
/// `what` names the field in errors (`path`, `hardlink target`).
pub(crate) fn check_relative_path<'a>(entry: &str, path: &'a str, what: &str) -> Result<&'a str> {
    let bad = |reason: String| Error::UnsafeEntry {
        entry: entry.to_owned(),
        reason,
    };
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad(format!("the {what} is empty")));
    }
    if trimmed.starts_with('/') {
        return Err(bad(format!(
            "the {what} `{path}` is absolute; layer paths are relative to the root"
        )));
    }
    if trimmed.contains('\0') {
        return Err(bad(format!("the {what} contains a NUL byte")));
    }
    for component in trimmed.split('/') {
        match component {
            "" | "." | ".." => {
                return Err(bad(format!(
                    "the {what} `{path}` has an empty, `.` or `..` component; write a normalized relative path"
                )));
            }
            _ => {}
        }
    }
    Ok(trimmed)
}
