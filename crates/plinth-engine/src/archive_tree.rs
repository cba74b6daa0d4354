//! The tree of a local archive a Dockerfile `ADD` extracts ([`DirectorySource::HostArchive`]),
//! as copy items: owners, modes, mtimes and symlinks from the archive, hard links as copies of
//! their target's bytes, missing parent directories made `0755` root. Entries whose `..` would
//! climb out of the destination and device nodes are refused.
//!
//! The archive is read as one stream and each file's bytes go to a file of their own in a
//! scratch directory, so memory stays bounded whatever the archive's size; the layer is then
//! written from those files in path order. This happens only when the step runs: its key is
//! the archive's digest, so a cached step never reads the archive's entries.
//!
//! [`DirectorySource::HostArchive`]: plinth_recipe::DirectorySource::HostArchive

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Component, Path, PathBuf};

use plinth_recipe::DirectorySource;

use crate::error::{Error, Result};
use crate::files::{CopyItem, ItemKind, override_meta};

/// Applies a directory step's `--chown`/`--chmod` to what it copies. An extracted archive
/// keeps its entries' owners and modes: only the destination directory takes them, as in
/// BuildKit.
pub(crate) fn override_copied_meta(
    source: &DirectorySource,
    items: &mut [CopyItem],
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
) {
    let n = match source {
        DirectorySource::HostArchive(_) => items.len().min(1),
        _ => items.len(),
    };
    override_meta(&mut items[..n], owner, mode);
}

fn refused(index: usize, archive: &Path, why: String) -> Error {
    Error::Step {
        index,
        reason: format!("the ADD archive `{}` {why}", archive.display()),
    }
}

/// An archive step waiting to run: what it extracts and the `--chown`/`--chmod` of the
/// destination.
#[derive(Debug)]
pub(crate) struct PendingArchive {
    pub(crate) archive: PathBuf,
    pub(crate) owner: Option<(u32, u32)>,
    pub(crate) mode: Option<u32>,
}

impl PendingArchive {
    /// The items to write, regular files' bytes extracted under `scratch`.
    pub(crate) fn items(&self, index: usize, scratch: &Path) -> Result<Vec<CopyItem>> {
        let source = DirectorySource::HostArchive(self.archive.clone());
        let mut items = archive_tree(&self.archive, index, scratch)?;
        override_copied_meta(&source, &mut items, self.owner, self.mode);
        Ok(items)
    }
}

/// The entries of the archive at `archive` for step `index`, the destination itself first;
/// regular files' bytes are written to numbered files under `scratch`.
pub(crate) fn archive_tree(archive: &Path, index: usize, scratch: &Path) -> Result<Vec<CopyItem>> {
    let stream =
        plinth_recipe::archive::open_archive(archive).map_err(|e| Error::io("open", archive, e))?;
    let mut tar = tar::Archive::new(stream);
    let mut items: Vec<CopyItem> = vec![dir_item("")];
    let mut seen: BTreeMap<String, usize> = BTreeMap::from([(String::new(), 0)]);
    let entries = tar.entries().map_err(|e| Error::io("read", archive, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io("read", archive, e))?;
        let raw = entry
            .path()
            .map_err(|e| Error::io("read", archive, e))?
            .into_owned();
        let rel = relative(&raw).ok_or_else(|| {
            refused(
                index,
                archive,
                format!(
                    "holds `{}`, which leads outside the destination",
                    raw.display()
                ),
            )
        })?;
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => ItemKind::Dir,
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| Error::io("read", archive, e))?
                    .unwrap_or_default();
                ItemKind::Symlink(target.to_string_lossy().into_owned())
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| Error::io("read", archive, e))?
                    .unwrap_or_default();
                let found =
                    relative(&target).and_then(|t| seen.get(&t).map(|i| items[*i].kind.clone()));
                match found {
                    Some(kind @ ItemKind::File(_)) => kind,
                    _ => {
                        return Err(refused(
                            index,
                            archive,
                            format!(
                                "holds a hard link `{rel}` to `{}`, which is not a file before it",
                                target.display()
                            ),
                        ));
                    }
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let file = scratch.join(items.len().to_string());
                let mut out = File::create(&file).map_err(|e| Error::io("create", &file, e))?;
                std::io::copy(&mut entry, &mut out).map_err(|e| Error::io("read", archive, e))?;
                ItemKind::File(file)
            }
            other => {
                return Err(refused(
                    index,
                    archive,
                    format!(
                        "holds `{rel}`, a {other:?} entry: plinth extracts files, directories and links only; remove it from the archive"
                    ),
                ));
            }
        };
        let header = entry.header();
        let item = CopyItem {
            rel: rel.clone(),
            kind,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            mtime: header.mtime().unwrap_or(0),
        };
        // Parents the archive does not list come first, as the extraction makes them.
        let mut parent = String::new();
        for part in rel
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, p)| p)
        {
            parent = if parent.is_empty() {
                (*part).to_owned()
            } else {
                format!("{parent}/{part}")
            };
            if !seen.contains_key(&parent) {
                seen.insert(parent.clone(), items.len());
                items.push(dir_item(&parent));
            }
        }
        match seen.get(&rel) {
            // The destination itself (`./`), or a later entry replacing an earlier one.
            Some(&i) => items[i] = item,
            None => {
                seen.insert(rel, items.len());
                items.push(item);
            }
        }
    }
    Ok(items)
}

fn dir_item(rel: &str) -> CopyItem {
    CopyItem {
        rel: rel.to_owned(),
        kind: ItemKind::Dir,
        uid: 0,
        gid: 0,
        mode: 0o755,
        mtime: 0,
    }
}

/// An entry's path below the destination (`""` for `.`), cleaned as Docker's extraction
/// cleans it (a leading `/` stays below the destination); `None` when `..` climbs out.
fn relative(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir => {}
            Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}
