//! File and directory steps: layers written from entry lists, never through a sandbox.
//!
//! - Owners (`user[:group]`) resolve against the image's own `/etc/passwd` and `/etc/group`,
//!   read from the snapshots without following symlinks; a user without a group gets the user's
//!   primary group (runc's rule).
//! - Missing parent directories are created root-owned `0755`; existing ones are left out of the
//!   layer so they keep the image's owner and mode.
//! - A host directory is copied with root as owner (like `COPY` from a build context) and its
//!   modes and mtimes; a helper container's tree keeps owners, modes and mtimes; `owner`/`mode`
//!   of the operation override them for every copied entry.
//! - Destination parents that are symlinks are refused (the engine does not resolve symlinks on
//!   the host side); write to the resolved path instead.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use plinth_oci::layer::{EntryMeta, LayerEntry, LayerEntryKind, store_layer_writer};
use plinth_oci::{Descriptor, Digest};
use plinth_recipe::FileMode;
use plinth_sandbox::{OverlayRootfs, Rootfs, UserSpec, read_rootfs_file};

use crate::error::{Error, Result};
use crate::merged::{self, Lookup};
use crate::step_context::StepContext;

/// What a copied entry is.
#[derive(Clone, Debug)]
pub(crate) enum ItemKind {
    Dir,
    File(PathBuf),
    /// `len` bytes at `offset` of the plain tar `archive`: a member of an `ADD`ed archive,
    /// read where it lies instead of copied out first.
    ArchiveMember {
        archive: PathBuf,
        offset: u64,
        len: u64,
    },
    Bytes(Vec<u8>),
    Symlink(String),
    /// A hard link to the item at this path relative to the same copied root, which the
    /// layer writes first (bytewise path order): one inode in the source stays one.
    Hardlink(String),
    /// A named pipe (from an `ADD`ed archive: copies leave special files out, as BuildKit's).
    Fifo,
}

/// The bytes of an archive member ([`ItemKind::ArchiveMember`]), checked to be all there.
pub(crate) fn open_member(archive: &Path, offset: u64, len: u64) -> Result<std::io::Take<File>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = File::open(archive).map_err(|e| Error::io("open", archive, e))?;
    let size = file
        .metadata()
        .map_err(|e| Error::io("inspect", archive, e))?
        .len();
    if offset.checked_add(len).is_none_or(|end| end > size) {
        return Err(Error::io(
            "read",
            archive,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the archive is shorter than its entries say: it is truncated or changed while the step ran",
            ),
        ));
    }
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io("read", archive, e))?;
    Ok(file.take(len))
}

/// One entry to write, relative to the destination.
#[derive(Clone, Debug)]
pub(crate) struct CopyItem {
    /// Path relative to the copied root (`""` for the root itself).
    pub(crate) rel: String,
    pub(crate) kind: ItemKind,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) mode: u32,
    pub(crate) mtime: u64,
}

impl CopyItem {
    /// A directory owned by root with mode 0755 and mtime 0 (a parent an archive does not
    /// list, as extraction makes it).
    pub(crate) fn plain_dir(rel: &str) -> Self {
        Self {
            rel: rel.to_owned(),
            kind: ItemKind::Dir,
            uid: 0,
            gid: 0,
            mode: 0o755,
            mtime: 0,
        }
    }

    /// A host entry as copied: owned by root.
    fn from_host(entry: plinth_executor::HostEntry) -> Self {
        let kind = match entry.kind {
            plinth_executor::HostEntryKind::Dir => ItemKind::Dir,
            plinth_executor::HostEntryKind::File(path) => ItemKind::File(path),
            plinth_executor::HostEntryKind::Symlink(target) => ItemKind::Symlink(target),
            plinth_executor::HostEntryKind::Hardlink(target) => ItemKind::Hardlink(target),
        };
        Self {
            rel: entry.rel,
            kind,
            uid: 0,
            gid: 0,
            mode: entry.mode,
            mtime: entry.mtime,
        }
    }
}

fn step_error(index: usize, reason: String) -> Error {
    Error::Step { index, reason }
}

/// `(uid, gid)` of an owner spec in the image made of `dirs` (top first), as BuildKit's file
/// operations resolve one (`--chown`, a `WORKDIR`'s user): a name takes its `/etc/passwd`
/// group, a numeric uid without a group takes the uid as its gid (measured: `--chown=1500`
/// gives 1500:1500 even where `/etc/passwd` gives uid 1500 another group), and a name the
/// image does not know gives 0 with a warning, where BuildKit gives 0 silently.
pub(crate) fn resolve_owner(dirs: &[PathBuf], owner: &str, index: usize) -> Result<(u32, u32)> {
    let wrap = |source| Error::Owner {
        index,
        owner: owner.to_owned(),
        source: Box::new(source),
    };
    let spec: UserSpec = owner.parse().map_err(wrap)?;
    if let (plinth_sandbox::IdOrName::Id(uid), None) = (spec.user(), spec.group()) {
        return Ok((*uid, *uid));
    }
    let rootfs = Rootfs::Overlay(OverlayRootfs::new(
        dirs.to_vec(),
        "/nonexistent",
        "/nonexistent",
    ));
    let read = |path: &str| -> Result<String> {
        if dirs.is_empty() {
            return Ok(String::new());
        }
        let bytes = read_rootfs_file(&rootfs, path)
            .map_err(wrap)?
            .unwrap_or_default();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let (ids, missing) =
        plinth_sandbox::resolve_file_owner(&spec, &read("/etc/passwd")?, &read("/etc/group")?);
    for name in missing {
        tracing::warn!(
            "step #{}: `{name}` (in the owner `{owner}`) is not in the image's /etc/passwd or /etc/group, \
             so its id is 0, as BuildKit gives it; create it in an earlier step or write the owner as numeric ids",
            index + 1
        );
    }
    Ok(ids)
}

/// The components of the absolute directory `dir` that are missing in the image, as relative
/// paths (outermost first). Fails when a component is a symlink or not a directory.
pub(crate) fn missing_dirs(dirs: &[PathBuf], dir: &str, index: usize) -> Result<Vec<String>> {
    let components: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    let mut out = Vec::new();
    for i in 0..components.len() {
        let rel = components[..=i].join("/");
        if !out.is_empty() {
            out.push(rel);
            continue;
        }
        match merged::lookup(dirs, &format!("/{rel}"))? {
            Lookup::Missing => out.push(rel),
            Lookup::Found(e) if e.is_dir() => {}
            Lookup::Found(e) if e.meta.file_type().is_symlink() => {
                return Err(step_error(
                    index,
                    format!(
                        "`/{rel}` is a symlink in the image; write to the path it points to instead"
                    ),
                ));
            }
            Lookup::Found(_) => {
                return Err(step_error(
                    index,
                    format!("`/{rel}` exists in the image and is not a directory"),
                ));
            }
            Lookup::Blocked(p) => {
                return Err(step_error(
                    index,
                    format!(
                        "`{p}` is a symlink or a file in the image; write to the resolved path instead"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// One entry of a file step's layer: its path in the image (relative to `/`), the item it
/// writes (`None` for a directory the step makes or carries) and its metadata.
type LayerPlanEntry<'a> = (String, Option<&'a CopyItem>, EntryMeta);

/// Writes `items` under the absolute path `dest` as a layer, creating missing parents (and
/// `dest` itself, when the items start with the destination directory and the image lacks
/// it), owned by `dest_owner`.
pub(crate) fn write_items_layer(
    ctx: &StepContext<'_>,
    dirs: &[PathBuf],
    dest: &str,
    items: &[CopyItem],
    dest_owner: (u64, u64),
) -> Result<(Descriptor, Digest)> {
    let dest = dest.trim_end_matches('/');
    let parent = match dest.rsplit_once('/') {
        Some((p, _)) => p,
        None => "",
    };
    let now = crate::time::now_epoch();
    let made_dir = |rel: String| -> LayerPlanEntry<'_> {
        let meta = EntryMeta::new(0o755)
            .with_owner(dest_owner.0, dest_owner.1)
            .with_mtime(now);
        (rel, None, meta)
    };
    let missing = missing_dirs(dirs, parent, ctx.index)?;
    let mut entries = existing_parents(dirs, dest)?;
    // Missing parents are made with the copy's owner, as BuildKit's `--chown` does.
    entries.extend(missing.into_iter().map(made_dir));
    let dest_rel = dest.trim_start_matches('/').to_owned();
    for item in items {
        let path = under(&dest_rel, &item.rel);
        if path.is_empty() {
            continue; // `/` itself is never written
        }
        if item.rel.is_empty() && matches!(item.kind, ItemKind::Dir) {
            // The destination directory: only created when missing, so an existing one keeps
            // the image's owner and mode.
            match merged::lookup(dirs, dest)? {
                Lookup::Found(e) if e.is_dir() => {}
                _ => entries.push(made_dir(path)),
            }
            continue;
        }
        let name = path.rsplit('/').next().unwrap_or(&path);
        if let Some(reason) = plinth_oci::layer::whiteout_name_problem(name) {
            return Err(step_error(ctx.index, format!("`/{path}`: {reason}")));
        }
        let meta = EntryMeta::new(item.mode)
            .with_owner(item.uid, item.gid)
            .with_mtime(item.mtime);
        entries.push((path, Some(item), meta));
    }
    // Sorted by bytes for a deterministic tar; the first entry of a path wins.
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries.dedup_by(|a, b| a.0 == b.0);
    write_layer(ctx, &entries, &dest_rel)
}

/// The image path (relative to `/`) of `rel` below the destination `dest_rel`.
fn under(dest_rel: &str, rel: &str) -> String {
    match (rel, dest_rel) {
        ("", d) => d.to_owned(),
        (r, "") => r.to_owned(),
        (r, d) => format!("{d}/{r}"),
    }
}

/// The directories of `dest`'s path that the image already has, outermost first, as they
/// are. They go into the layer unchanged (as BuildKit's diffs carry them), so the layer's
/// snapshot does not show them with made-up owners to later steps.
fn existing_parents<'a>(dirs: &[PathBuf], dest: &str) -> Result<Vec<LayerPlanEntry<'a>>> {
    let mut entries = Vec::new();
    let components: Vec<&str> = dest.split('/').filter(|c| !c.is_empty()).collect();
    for i in 0..components.len() {
        let rel = components[..=i].join("/");
        match merged::lookup(dirs, &format!("/{rel}"))? {
            Lookup::Found(e) if e.is_dir() => {
                let meta = EntryMeta::new(e.meta.mode() & 0o7777)
                    .with_owner(u64::from(e.meta.uid()), u64::from(e.meta.gid()))
                    .with_mtime(u64::try_from(e.meta.mtime()).unwrap_or(0));
                entries.push((rel, None, meta));
            }
            _ => break,
        }
    }
    Ok(entries)
}

/// Writes the entries, in order, as a layer blob in the store.
fn write_layer(
    ctx: &StepContext<'_>,
    entries: &[LayerPlanEntry<'_>],
    dest_rel: &str,
) -> Result<(Descriptor, Digest)> {
    let engine = ctx.engine;
    let mut writer = store_layer_writer(&engine.store, &engine.write_options())?;
    for (path, item, meta) in entries {
        match item.map(|i| &i.kind) {
            None | Some(ItemKind::Dir) => {
                writer.append_entry(&LayerEntry::dir(path.as_str()).with_meta(meta.clone()))?
            }
            Some(ItemKind::Bytes(bytes)) => writer.append_entry(
                &LayerEntry::file(path.as_str(), bytes.clone()).with_meta(meta.clone()),
            )?,
            Some(ItemKind::Symlink(target)) => writer.append_entry(
                &LayerEntry::symlink(path.as_str(), target.as_str()).with_meta(meta.clone()),
            )?,
            Some(ItemKind::Fifo) => writer.append_entry(
                &LayerEntry::new(path.as_str(), LayerEntryKind::Fifo).with_meta(meta.clone()),
            )?,
            Some(ItemKind::Hardlink(target)) => writer.append_entry(
                &LayerEntry::hardlink(path.as_str(), under(dest_rel, target))
                    .with_meta(meta.clone()),
            )?,
            Some(ItemKind::File(source)) => {
                let file = File::open(source).map_err(|e| Error::io("open", source, e))?;
                let size = file
                    .metadata()
                    .map_err(|e| Error::io("inspect", source, e))?
                    .len();
                writer.append_file(path, meta, size, file)?;
            }
            Some(ItemKind::ArchiveMember {
                archive,
                offset,
                len,
            }) => {
                let member = open_member(archive, *offset, *len)?;
                writer.append_file(path, meta, *len, member)?;
            }
        }
    }
    let info = writer.commit()?;
    let descriptor = Descriptor::new(
        engine.media_types.layer(info.compression),
        info.digest.clone(),
        info.size,
    );
    Ok((descriptor, info.diff_id))
}

/// The tree of a host directory (or a single host file): root owner, host modes and mtimes
/// (the walk both executors share, [`plinth_executor::host_tree`]).
pub(crate) fn host_tree(root: &Path) -> Result<Vec<CopyItem>> {
    Ok(plinth_executor::host_tree(root)?
        .into_iter()
        .map(CopyItem::from_host)
        .collect())
}

/// The tree of a build-context directory through its ignore patterns (see
/// [`plinth_recipe::ignore`]), for step `index`.
pub(crate) fn host_tree_ignoring(
    root: &Path,
    within: &str,
    patterns: &[String],
    index: usize,
) -> Result<Vec<CopyItem>> {
    let rules = plinth_recipe::ignore::IgnoreRules::new(patterns)
        .map_err(|message| step_error(index, message))?;
    Ok(plinth_executor::host_tree_ignoring(root, within, &rules)?
        .into_iter()
        .map(CopyItem::from_host)
        .collect())
}

/// The tree at `path` in the merged image `dirs` (top first), keeping owners, modes and mtimes.
pub(crate) fn image_tree(dirs: &[PathBuf], path: &str, index: usize) -> Result<Vec<CopyItem>> {
    // The source's symlinks are followed, its last component's too, as BuildKit's COPY does.
    let resolved = merged::resolve(dirs, path)?;
    let root = match merged::lookup(dirs, &resolved)? {
        Lookup::Found(e) => e,
        Lookup::Missing | Lookup::Blocked(_) => {
            return Err(step_error(
                index,
                format!("`{path}` does not exist in the helper container"),
            ));
        }
    };
    let item = |rel: String, e: &merged::MergedEntry| -> Result<Option<CopyItem>> {
        let kind = if e.is_dir() {
            ItemKind::Dir
        } else if e.meta.is_file() {
            ItemKind::File(e.host_path.clone())
        } else if e.meta.file_type().is_symlink() {
            let target = fs::read_link(&e.host_path)
                .map_err(|err| Error::io("read link", &e.host_path, err))?;
            ItemKind::Symlink(target.to_string_lossy().into_owned())
        } else {
            return Ok(None);
        };
        Ok(Some(CopyItem {
            rel,
            kind,
            uid: u64::from(e.meta.uid()),
            gid: u64::from(e.meta.gid()),
            mode: e.meta.mode() & 0o7777,
            mtime: e.meta.mtime().max(0) as u64,
        }))
    };
    let mut out: Vec<CopyItem> = item(String::new(), &root)?.into_iter().collect();
    if root.is_dir() {
        let mut inodes = Vec::new();
        for (rel, e) in merged::walk(&root)? {
            if e.meta.is_file() && e.meta.nlink() > 1 {
                inodes.push((rel.clone(), (e.meta.dev(), e.meta.ino())));
            }
            out.extend(item(rel, &e)?);
        }
        // Files that are one inode in the image stay one, as BuildKit's copy keeps them.
        let links = plinth_executor::hardlink_targets(inodes.iter().map(|(r, i)| (r.as_str(), *i)));
        for item in &mut out {
            if let Some(target) = links.get(&item.rel) {
                item.kind = ItemKind::Hardlink(target.clone());
            }
        }
    }
    Ok(out)
}

/// Applies the `owner`/`mode` of the operation to every item.
pub(crate) fn override_meta(
    items: &mut [CopyItem],
    owner: Option<(u32, u32)>,
    mode: Option<&FileMode>,
) {
    for item in items {
        if let Some((uid, gid)) = owner {
            item.uid = u64::from(uid);
            item.gid = u64::from(gid);
        }
        // A symbolic mode changes each entry's own, as BuildKit's copy applies it.
        if let Some(mode) = mode
            && !matches!(item.kind, ItemKind::Symlink(_))
        {
            item.mode = mode.apply(item.mode, matches!(item.kind, ItemKind::Dir));
        }
    }
}

/// A digest of a tree's content and metadata, mtimes excluded: the cache input of a copy, in
/// the format both executors record a host directory with ([`plinth_executor::TreeDigest`]).
pub(crate) fn tree_digest(items: &[CopyItem]) -> Result<Digest> {
    let mut digest = plinth_executor::TreeDigest::new();
    for item in items {
        let (rel, mode, uid, gid) = (&item.rel, item.mode, item.uid, item.gid);
        match &item.kind {
            ItemKind::Dir => digest.dir(rel, mode, uid, gid),
            ItemKind::Symlink(target) => digest.symlink(rel, target, mode, uid, gid),
            ItemKind::File(path) => digest.file(rel, path, mode, uid, gid)?,
            ItemKind::ArchiveMember {
                archive,
                offset,
                len,
            } => {
                let mut hasher = plinth_oci::digest::DigestWriter::new(std::io::sink());
                std::io::copy(&mut open_member(archive, *offset, *len)?, &mut hasher)
                    .map_err(|e| Error::io("read", archive, e))?;
                let (_, content, _) = hasher.finish();
                digest.file_with_digest(rel, &content, mode, uid, gid);
            }
            ItemKind::Bytes(bytes) => digest.bytes(rel, bytes, mode, uid, gid),
            ItemKind::Hardlink(target) => digest.hardlink(rel, target, mode, uid, gid),
            ItemKind::Fifo => digest.fifo(rel, mode, uid, gid),
        }
    }
    Ok(digest.finish())
}

/// The sha256 of a host file.
pub(crate) fn file_digest(path: &Path) -> Result<Digest> {
    Ok(plinth_executor::file_digest(path)?)
}
