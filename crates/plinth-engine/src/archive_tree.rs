//! The tree of a local archive a Dockerfile `ADD` extracts ([`DirectorySource::HostArchive`]),
//! as copy items: owners, modes, mtimes and symlinks from the archive, hard links kept as links
//! (to the bytes their target had when they were listed), missing parent directories made
//! `0755` root. Entries whose `..` would
//! climb out of the destination and device nodes are refused.
//!
//! A plain (uncompressed) tar is read header by header, seeking over the files' bytes: each
//! file is where it lies in the archive ([`ItemKind::ArchiveMember`]), and the layer reads it
//! from there. A compressed archive cannot be read out of order, so it is read as one stream
//! and each file's bytes go to a file of their own in a scratch directory. Either way memory
//! stays bounded whatever the archive's size, and the layer is written in path order. This
//! happens only when the step runs: its key is the archive's digest, so a cached step never
//! reads the archive's entries.
//!
//! [`DirectorySource::HostArchive`]: plinth_recipe::DirectorySource::HostArchive

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use plinth_recipe::DirectorySource;
use plinth_recipe::archive::{ArchiveCompression, sniff_archive};

use crate::error::{Error, Result};
use crate::files::{CopyItem, ItemKind, override_meta};
use plinth_recipe::FileMode;

/// Applies a directory step's `--chown`/`--chmod` to what it copies. An extracted archive
/// keeps its entries' owners and modes: only the destination directory takes them, as in
/// BuildKit.
pub(crate) fn override_copied_meta(
    source: &DirectorySource,
    items: &mut [CopyItem],
    owner: Option<(u32, u32)>,
    mode: Option<&FileMode>,
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
    pub(crate) mode: Option<FileMode>,
}

impl PendingArchive {
    /// The items to write, regular files' bytes extracted under `scratch`.
    pub(crate) fn items(&self, index: usize, scratch: &Path) -> Result<Vec<CopyItem>> {
        let source = DirectorySource::HostArchive(self.archive.clone());
        let mut items = archive_tree(&self.archive, index, scratch)?;
        override_copied_meta(&source, &mut items, self.owner, self.mode.as_ref());
        Ok(items)
    }
}

/// The entries of the archive at `archive` for step `index`, the destination itself first;
/// regular files are left where they lie in a plain tar, and the bytes of a compressed one's
/// are written to numbered files under `scratch`.
pub(crate) fn archive_tree(archive: &Path, index: usize, scratch: &Path) -> Result<Vec<CopyItem>> {
    let read_error = |e| Error::io("read", archive, e);
    let mut tree = Tree {
        items: vec![CopyItem::plain_dir("")],
        seen: BTreeMap::from([(String::new(), 0)]),
        contents: Contents::Spilled { scratch, files: 0 },
    };
    if sniff_archive(archive).map_err(read_error)? == Some(ArchiveCompression::None) {
        tree.contents = Contents::InPlace(archive);
        let file = File::open(archive).map_err(|e| Error::io("open", archive, e))?;
        let mut tar = tar::Archive::new(BufReader::with_capacity(64 * 1024, file));
        let entries = tar.entries_with_seek().map_err(read_error)?;
        read_entries(entries, &mut tree, archive, index)?;
    } else {
        let stream = plinth_recipe::archive::open_archive(archive)
            .map_err(|e| Error::io("open", archive, e))?;
        let mut tar = tar::Archive::new(stream);
        let entries = tar.entries().map_err(read_error)?;
        read_entries(entries, &mut tree, archive, index)?;
    }
    link_shared_members(&mut tree.items);
    Ok(tree.items)
}

/// Entries that are one file of the archive (a file and its hard links: the same bytes where
/// they lie, or the same extracted file) stay one inode, as extracting the archive leaves them:
/// the bytewise-first path holds the bytes (layers are written in that order), the others link
/// to it, all with the owner, mode and time of the last of them (extraction applies each link's
/// header to the shared inode).
fn link_shared_members(items: &mut [CopyItem]) {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let key = match &item.kind {
            ItemKind::ArchiveMember {
                archive,
                offset,
                len,
            } => format!("{}\0{offset}\0{len}", archive.display()),
            ItemKind::File(path) => path.display().to_string(),
            ItemKind::Dir
            | ItemKind::Bytes(_)
            | ItemKind::Symlink(_)
            | ItemKind::Hardlink(_)
            | ItemKind::Fifo => {
                continue;
            }
        };
        groups.entry(key).or_default().push(i);
    }
    for members in groups.values().filter(|m| m.len() > 1) {
        let last = &items[members[members.len() - 1]];
        let meta = (last.uid, last.gid, last.mode, last.mtime);
        let Some(&first) = members
            .iter()
            .min_by(|a, b| items[**a].rel.as_bytes().cmp(items[**b].rel.as_bytes()))
        else {
            continue;
        };
        let target = items[first].rel.clone();
        for &i in members {
            let item = &mut items[i];
            (item.uid, item.gid, item.mode, item.mtime) = meta;
            if i != first {
                item.kind = ItemKind::Hardlink(target.clone());
            }
        }
    }
}

/// Adds every entry of `entries` to `tree`.
fn read_entries<R: Read>(
    entries: tar::Entries<'_, R>,
    tree: &mut Tree<'_>,
    archive: &Path,
    index: usize,
) -> Result<()> {
    let read_error = |e| Error::io("read", archive, e);
    for entry in entries {
        let mut entry = entry.map_err(read_error)?;
        let raw = entry.path().map_err(read_error)?.into_owned();
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
        let kind = tree.kind_of(&mut entry, &rel, archive, index)?;
        let header = entry.header();
        tree.insert(CopyItem {
            rel,
            kind,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            mtime: header.mtime().unwrap_or(0),
        });
    }
    Ok(())
}

/// The items read so far, and where each path is among them.
struct Tree<'a> {
    items: Vec<CopyItem>,
    /// Path below the destination → index in `items`.
    seen: BTreeMap<String, usize>,
    contents: Contents<'a>,
}

/// Where the layer will read regular files' bytes from.
enum Contents<'a> {
    /// From the plain tar at this path, where each lies.
    InPlace(&'a Path),
    /// From one numbered file each under `scratch`; `files` is how many it holds, the next
    /// one's name (an entry replacing an earlier one gets a file of its own, so a hard link to
    /// the earlier one keeps its bytes).
    Spilled { scratch: &'a Path, files: usize },
}

impl Tree<'_> {
    /// What the entry at `rel` becomes: a hard link takes a copy of the bytes of a file listed
    /// before it (the copy items have no links between them); devices, FIFOs and the like are
    /// refused.
    fn kind_of<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        rel: &str,
        archive: &Path,
        index: usize,
    ) -> Result<ItemKind> {
        let read_error = |e| Error::io("read", archive, e);
        Ok(match entry.header().entry_type() {
            tar::EntryType::Directory => ItemKind::Dir,
            tar::EntryType::Fifo => ItemKind::Fifo,
            tar::EntryType::Symlink => {
                let target = entry.link_name().map_err(read_error)?.unwrap_or_default();
                ItemKind::Symlink(target.to_string_lossy().into_owned())
            }
            tar::EntryType::Link => {
                let target = entry.link_name().map_err(read_error)?.unwrap_or_default();
                let found = relative(&target)
                    .and_then(|t| self.seen.get(&t).map(|i| self.items[*i].kind.clone()));
                match found {
                    Some(kind @ (ItemKind::File(_) | ItemKind::ArchiveMember { .. })) => kind,
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
            tar::EntryType::Regular | tar::EntryType::Continuous => match &mut self.contents {
                Contents::InPlace(archive) => ItemKind::ArchiveMember {
                    archive: archive.to_path_buf(),
                    offset: entry.raw_file_position(),
                    len: entry.size(),
                },
                Contents::Spilled { scratch, files } => {
                    let file = scratch.join(files.to_string());
                    *files += 1;
                    let mut out = File::create(&file).map_err(|e| Error::io("create", &file, e))?;
                    std::io::copy(entry, &mut out).map_err(read_error)?;
                    ItemKind::File(file)
                }
            },
            other => {
                return Err(refused(
                    index,
                    archive,
                    format!(
                        "holds `{rel}`, a {other:?} entry: plinth extracts files, directories, links and FIFOs only; remove it from the archive"
                    ),
                ));
            }
        })
    }

    /// Adds `item` after the parents the archive did not list (they come first, as the
    /// extraction makes them); an entry for a path already seen replaces it.
    fn insert(&mut self, item: CopyItem) {
        let mut parent = String::new();
        for part in item
            .rel
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
            if !self.seen.contains_key(&parent) {
                self.seen.insert(parent.clone(), self.items.len());
                self.items.push(CopyItem::plain_dir(&parent));
            }
        }
        match self.seen.get(&item.rel) {
            // The destination itself (`./`), or a later entry replacing an earlier one.
            Some(&i) => self.items[i] = item,
            None => {
                self.seen.insert(item.rel.clone(), self.items.len());
                self.items.push(item);
            }
        }
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
