//! Layers from a directory tree: a plain root file system or an overlayfs upper directory.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::io::Errno;

use super::entry::{EntryMeta, OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use super::tar_format::TarKind;
use super::writer::{LayerInfo, LayerWriter, WriteOptions};
use crate::error::{Error, Result};

/// The xattrs overlayfs uses to mark an opaque directory (`trusted.` as root, `user.` with the
/// `userxattr` mount option).
const OPAQUE_XATTRS: [&str; 2] = ["trusted.overlay.opaque", "user.overlay.opaque"];
/// Overlay features whose upper-dir files cannot be turned into a layer by reading them alone.
const UNSUPPORTED_OVERLAY_XATTRS: [&str; 4] = [
    "trusted.overlay.redirect",
    "trusted.overlay.metacopy",
    "user.overlay.redirect",
    "user.overlay.metacopy",
];

/// The largest xattr list or value read (the kernel's limit is 64 KiB).
const MAX_XATTR_BUFFER: usize = 1 << 17;

/// How the tree on disk is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeMode {
    /// Every file as it is.
    Plain,
    /// An overlayfs upper dir: 0/0 char devices are whiteouts, opaque dirs get a marker.
    OverlayUpper,
}

/// One thing to write, found on disk.
struct Found {
    /// Sort key: the tar path, except opaque markers sort right after their directory.
    key: Vec<u8>,
    /// Path in the tar.
    tar_path: Vec<u8>,
    /// Path on disk.
    disk: PathBuf,
    meta: Metadata,
    what: FoundKind,
}

enum FoundKind {
    /// Written from its metadata (and contents for regular files).
    Normal,
    /// A whiteout made from an overlay 0/0 character device.
    Whiteout,
    /// The opaque marker of a directory whose metadata is `meta`.
    OpaqueMarker,
}

/// Writes the tree under `root` (the root itself is not an entry) into `out`.
pub(crate) fn write_tree<W: Write>(
    root: &Path,
    mode: TreeMode,
    out: W,
    options: &WriteOptions,
) -> Result<(W, LayerInfo)> {
    let mut found = Vec::new();
    collect(root, &[], mode, &mut found)?;
    found.sort_by(|a, b| a.key.cmp(&b.key));
    tracing::debug!(root = %root.display(), entries = found.len(), ?mode, "writing layer from directory");

    let mut writer = LayerWriter::new(out, options)?;
    let mut first_paths: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    for f in &found {
        let meta = entry_meta(&f.meta);
        match f.what {
            FoundKind::Whiteout => {
                let header = writer.header_for(
                    f.tar_path.clone(),
                    TarKind::Regular,
                    &meta.with_mode(0o600),
                    0,
                    b"",
                    (0, 0),
                );
                writer.append_raw(&header, &mut std::io::empty())?;
            }
            FoundKind::OpaqueMarker => {
                let meta = meta.with_mode(f.meta.mode() & 0o777);
                let header =
                    writer.header_for(f.tar_path.clone(), TarKind::Regular, &meta, 0, b"", (0, 0));
                writer.append_raw(&header, &mut std::io::empty())?;
            }
            FoundKind::Normal => write_found(&mut writer, f, meta, options, &mut first_paths)?,
        }
    }
    writer.finish()
}

fn write_found<W: Write>(
    writer: &mut LayerWriter<W>,
    f: &Found,
    mut meta: EntryMeta,
    options: &WriteOptions,
    first_paths: &mut BTreeMap<(u64, u64), Vec<u8>>,
) -> Result<()> {
    let ft = f.meta.file_type();
    if !ft.is_dir() && f.meta.nlink() > 1 {
        let id = (f.meta.dev(), f.meta.ino());
        if let Some(first) = first_paths.get(&id) {
            let header = writer.header_for(
                f.tar_path.clone(),
                TarKind::Hardlink,
                &meta,
                0,
                first,
                (0, 0),
            );
            return writer.append_raw(&header, &mut std::io::empty());
        }
        first_paths.insert(id, f.tar_path.clone());
    }
    for (name, value) in read_xattrs(&f.disk, options.xattr_allow_list())? {
        meta = meta.with_xattr(name, value);
    }
    let rdev = f.meta.rdev();
    let dev = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
    let (kind, link, dev) = if ft.is_dir() {
        (TarKind::Directory, Vec::new(), (0, 0))
    } else if ft.is_symlink() {
        let target = fs::read_link(&f.disk).map_err(|e| Error::io("read symlink", &f.disk, e))?;
        (
            TarKind::Symlink,
            target.as_os_str().as_bytes().to_vec(),
            (0, 0),
        )
    } else if ft.is_char_device() {
        (TarKind::CharDevice, Vec::new(), dev)
    } else if ft.is_block_device() {
        (TarKind::BlockDevice, Vec::new(), dev)
    } else if ft.is_fifo() {
        (TarKind::Fifo, Vec::new(), (0, 0))
    } else {
        // Regular file: open without following a symlink swapped in since the walk.
        let file = File::options()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&f.disk)
            .map_err(|e| Error::io("open", &f.disk, e))?;
        let header = writer.header_for(
            f.tar_path.clone(),
            TarKind::Regular,
            &meta,
            f.meta.len(),
            b"",
            (0, 0),
        );
        return writer.append_raw(
            &header,
            &mut std::io::BufReader::with_capacity(256 * 1024, file),
        );
    };
    let header = writer.header_for(f.tar_path.clone(), kind, &meta, 0, &link, dev);
    writer.append_raw(&header, &mut std::io::empty())
}

fn entry_meta(m: &Metadata) -> EntryMeta {
    EntryMeta::new(m.mode() & 0o7777)
        .with_owner(u64::from(m.uid()), u64::from(m.gid()))
        .with_mtime(u64::try_from(m.mtime()).unwrap_or(0))
}

/// Walks `rel` under `root` depth-first, never following symlinks.
fn collect(root: &Path, rel: &[u8], mode: TreeMode, found: &mut Vec<Found>) -> Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(OsStr::from_bytes(rel))
    };
    let entries = fs::read_dir(&dir).map_err(|e| Error::io("read directory", &dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", &dir, e))?;
        let disk = entry.path();
        let meta = fs::symlink_metadata(&disk).map_err(|e| Error::io("stat", &disk, e))?;
        let name = entry.file_name();
        let name = name.as_bytes();
        let mut tar_path = rel.to_vec();
        if !tar_path.is_empty() {
            tar_path.push(b'/');
        }
        let dir_len = tar_path.len();
        tar_path.extend_from_slice(name);
        let ft = meta.file_type();
        if ft.is_socket() {
            tracing::warn!(path = %disk.display(), "skipping a socket: tar cannot represent it");
            continue;
        }
        if mode == TreeMode::OverlayUpper {
            let xattrs = xattr_names(&disk)?;
            check_overlay_features(&disk, &xattrs)?;
            if ft.is_char_device() && meta.rdev() == 0 {
                let mut wh = tar_path[..dir_len].to_vec();
                wh.extend_from_slice(WHITEOUT_PREFIX.as_bytes());
                wh.extend_from_slice(name);
                found.push(Found {
                    key: wh.clone(),
                    tar_path: wh,
                    disk,
                    meta,
                    what: FoundKind::Whiteout,
                });
                continue;
            }
            if ft.is_dir() && is_opaque(&disk, &xattrs)? {
                let mut marker = tar_path.clone();
                marker.push(b'/');
                let key = marker.clone();
                marker.extend_from_slice(OPAQUE_WHITEOUT.as_bytes());
                found.push(Found {
                    key,
                    tar_path: marker,
                    disk: disk.clone(),
                    meta: meta.clone(),
                    what: FoundKind::OpaqueMarker,
                });
            }
        }
        if let Some(reason) = std::str::from_utf8(name)
            .ok()
            .and_then(super::entry::whiteout_name_problem)
        {
            return Err(Error::UnsafeEntry {
                entry: String::from_utf8_lossy(&tar_path).into_owned(),
                reason,
            });
        }
        let is_dir = ft.is_dir();
        found.push(Found {
            key: tar_path.clone(),
            tar_path: tar_path.clone(),
            disk,
            meta,
            what: FoundKind::Normal,
        });
        if is_dir {
            collect(root, &tar_path, mode, found)?;
        }
    }
    Ok(())
}

fn is_opaque(path: &Path, names: &[String]) -> Result<bool> {
    for name in OPAQUE_XATTRS {
        if names.iter().any(|n| n == name) && get_xattr(path, name)?.as_deref() == Some(b"y") {
            return Ok(true);
        }
    }
    Ok(false)
}

fn check_overlay_features(path: &Path, names: &[String]) -> Result<()> {
    if let Some(name) = names
        .iter()
        .find(|n| UNSUPPORTED_OVERLAY_XATTRS.contains(&n.as_str()))
    {
        return Err(Error::Layer(format!(
            "`{}` carries the overlayfs xattr `{name}`: mount the overlay with \
             `redirect_dir=off,metacopy=off` so its upper directory holds complete files",
            path.display()
        )));
    }
    Ok(())
}

/// Reads the allowed xattrs of `path` (not following symlinks), sorted by name.
fn read_xattrs(path: &Path, allow: &[String]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if allow.is_empty() {
        return Ok(out);
    }
    for name in xattr_names(path)? {
        if allow.contains(&name)
            && let Some(value) = get_xattr(path, &name)?
        {
            out.push((name, value));
        }
    }
    out.sort();
    Ok(out)
}

/// The xattr names of `path` (not following symlinks); empty where xattrs are unsupported.
fn xattr_names(path: &Path) -> Result<Vec<String>> {
    let mut buf = vec![0u8; 1024];
    loop {
        match rustix::fs::llistxattr(path, &mut buf[..]) {
            Ok(n) => {
                return Ok(buf[..n]
                    .split(|&b| b == 0)
                    .filter(|n| !n.is_empty())
                    .filter_map(|n| std::str::from_utf8(n).ok())
                    .map(str::to_owned)
                    .collect());
            }
            Err(Errno::RANGE) if buf.len() < MAX_XATTR_BUFFER => buf.resize(buf.len() * 8, 0),
            Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list extended attributes of", path, e.into())),
        }
    }
}

fn get_xattr(path: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(Errno::RANGE) if buf.len() < MAX_XATTR_BUFFER => buf.resize(buf.len() * 8, 0),
            Err(Errno::NODATA | Errno::NOTSUP) => return Ok(None),
            Err(e) => return Err(Error::io("read extended attribute of", path, e.into())),
        }
    }
}
