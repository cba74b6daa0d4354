//! Host inputs as both executors digest them: a host directory's tree (root owner, host modes,
//! symlinks kept, special files skipped), optionally through a build context's ignore rules,
//! and the digest of any tree of entries ([`TreeDigest`]). The embedded engine keys its copy
//! steps with it and both executors' provenance records it, so the two name a host directory
//! with the same digest.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use plinth_oci::Digest;
use plinth_recipe::ignore::IgnoreRules;

use crate::error::{Error, Result};

/// What a host entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostEntryKind {
    /// A directory.
    Dir,
    /// A regular file, read from this path.
    File(PathBuf),
    /// A symlink with this target (never followed).
    Symlink(String),
    /// A hard link to the file at this path of the same tree (relative to its root): files
    /// of the tree that are one inode stay one, as BuildKit's copy keeps them.
    Hardlink(String),
}

/// One entry of a host tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    /// Its path relative to the tree's root (`""` for the root itself).
    pub rel: String,
    /// What it is.
    pub kind: HostEntryKind,
    /// Its permission bits (`0o7777`).
    pub mode: u32,
    /// Its modification time, seconds since the epoch (never negative).
    pub mtime: u64,
}

/// The tree of a host directory (or of a single host file), sorted by name at every level.
/// Sockets, pipes and devices are skipped with a warning.
pub fn host_tree(root: &Path) -> Result<Vec<HostEntry>> {
    Ok(link_shared_files(walk_tree(root)?))
}

/// An entry with the inode (device, number) of a file that has other links.
type Walked = (HostEntry, Option<(u64, u64)>);

fn walk_tree(root: &Path) -> Result<Vec<Walked>> {
    let meta = fs::symlink_metadata(root).map_err(|e| Error::io("inspect", root, e))?;
    let mut out = Vec::new();
    walk(root, "", &meta, &mut out)?;
    Ok(out)
}

/// The files of a tree that share an inode become hard links to the first of them.
fn link_shared_files(entries: Vec<Walked>) -> Vec<HostEntry> {
    let targets = hardlink_targets(
        entries
            .iter()
            .filter_map(|(e, inode)| Some((e.rel.as_str(), (*inode)?))),
    );
    entries
        .into_iter()
        .map(|(mut entry, _)| {
            if let Some(target) = targets.get(&entry.rel) {
                entry.kind = HostEntryKind::Hardlink(target.clone());
            }
            entry
        })
        .collect()
}

/// For files (by path) that share an inode: every path but the bytewise first, mapped to the
/// first. Layers are written in bytewise path order, so the file comes before its links.
pub fn hardlink_targets<'a>(
    files: impl IntoIterator<Item = (&'a str, (u64, u64))>,
) -> std::collections::BTreeMap<String, String> {
    let mut groups: std::collections::BTreeMap<(u64, u64), Vec<&str>> =
        std::collections::BTreeMap::new();
    for (rel, inode) in files {
        groups.entry(inode).or_default().push(rel);
    }
    let mut out = std::collections::BTreeMap::new();
    for mut rels in groups.into_values().filter(|r| r.len() > 1) {
        rels.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for rel in &rels[1..] {
            out.insert((*rel).to_owned(), rels[0].to_owned());
        }
    }
    out
}

/// The tree of a build-context directory through its ignore `rules`, `within` being the
/// directory's path inside the context (see [`plinth_recipe::ignore`]).
pub fn host_tree_ignoring(
    root: &Path,
    within: &str,
    rules: &IgnoreRules,
) -> Result<Vec<HostEntry>> {
    let entries = walk_tree(root)?;
    let rels: Vec<&str> = entries.iter().map(|(e, _)| e.rel.as_str()).collect();
    let keep = rules.kept(within, &rels);
    // Links are found among what is kept: an ignored file is no link's target.
    Ok(link_shared_files(
        entries
            .into_iter()
            .zip(keep)
            .filter_map(|(entry, kept)| kept.then_some(entry))
            .collect(),
    ))
}

/// The digest of a host tree as copied (root owner): [`TreeDigest`] of its entries.
pub fn host_tree_digest(entries: &[HostEntry]) -> Result<Digest> {
    let mut digest = TreeDigest::new();
    for e in entries {
        match &e.kind {
            HostEntryKind::Dir => digest.dir(&e.rel, e.mode, 0, 0),
            HostEntryKind::Symlink(target) => digest.symlink(&e.rel, target, e.mode, 0, 0),
            HostEntryKind::File(path) => digest.file(&e.rel, path, e.mode, 0, 0)?,
            HostEntryKind::Hardlink(target) => digest.hardlink(&e.rel, target, e.mode, 0, 0),
        }
    }
    Ok(digest.finish())
}

/// A digest of a tree's paths, kinds, modes, owners and contents (mtimes excluded), entry by
/// entry in the order given: the cache input of a copy and the provenance digest of a host
/// directory. Its format is part of every engine step key that copies a tree.
#[derive(Debug)]
pub struct TreeDigest(plinth_oci::digest::Hasher);

impl Default for TreeDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl TreeDigest {
    /// An empty tree.
    pub fn new() -> Self {
        Self(plinth_oci::digest::Hasher::new())
    }

    /// Adds a directory.
    pub fn dir(&mut self, rel: &str, mode: u32, uid: u64, gid: u64) {
        self.add_line(rel, "d", mode, uid, gid, "");
    }

    /// Adds a symlink to `target`.
    pub fn symlink(&mut self, rel: &str, target: &str, mode: u32, uid: u64, gid: u64) {
        self.add_line(rel, "l", mode, uid, gid, target);
    }

    /// Adds a hard link to the entry `target` of the same tree.
    pub fn hardlink(&mut self, rel: &str, target: &str, mode: u32, uid: u64, gid: u64) {
        self.add_line(rel, "h", mode, uid, gid, target);
    }

    /// Adds a named pipe.
    pub fn fifo(&mut self, rel: &str, mode: u32, uid: u64, gid: u64) {
        self.add_line(rel, "p", mode, uid, gid, "");
    }

    /// Adds a file whose content is read from `path`.
    pub fn file(&mut self, rel: &str, path: &Path, mode: u32, uid: u64, gid: u64) -> Result<()> {
        let content = file_digest(path)?;
        self.add_line(rel, "f", mode, uid, gid, &content.to_string());
        Ok(())
    }

    /// Adds a file whose content has the sha256 `content` (computed by the caller, who reads
    /// it from somewhere other than a file of its own).
    pub fn file_with_digest(&mut self, rel: &str, content: &Digest, mode: u32, uid: u64, gid: u64) {
        self.add_line(rel, "f", mode, uid, gid, &content.to_string());
    }

    /// Adds a file whose content is `bytes`.
    pub fn bytes(&mut self, rel: &str, bytes: &[u8], mode: u32, uid: u64, gid: u64) {
        self.add_line(rel, "f", mode, uid, gid, &Digest::of(bytes).to_string());
    }

    fn add_line(&mut self, rel: &str, kind: &str, mode: u32, uid: u64, gid: u64, extra: &str) {
        self.0
            .update(format!("{rel}\0{kind}\0{mode:o}\0{uid}:{gid}\0{extra}\n").as_bytes());
    }

    /// The digest.
    pub fn finish(self) -> Digest {
        self.0.finish()
    }
}

/// The sha256 of a host file's bytes.
pub fn file_digest(path: &Path) -> Result<Digest> {
    let mut file = fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = plinth_oci::digest::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

fn walk(path: &Path, rel: &str, meta: &fs::Metadata, out: &mut Vec<Walked>) -> Result<()> {
    let kind = if meta.is_dir() {
        HostEntryKind::Dir
    } else if meta.is_file() {
        HostEntryKind::File(path.to_path_buf())
    } else if meta.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(|e| Error::io("read link", path, e))?;
        HostEntryKind::Symlink(target.to_string_lossy().into_owned())
    } else {
        tracing::warn!(path = %path.display(), "skipping a special file");
        return Ok(());
    };
    let is_dir = kind == HostEntryKind::Dir;
    let inode = (meta.is_file() && meta.nlink() > 1).then(|| (meta.dev(), meta.ino()));
    out.push((
        HostEntry {
            rel: rel.to_owned(),
            kind,
            mode: meta.mode() & 0o7777,
            mtime: meta.mtime().max(0) as u64,
        },
        inode,
    ));
    if is_dir {
        let mut children: Vec<_> = fs::read_dir(path)
            .map_err(|e| Error::io("list", path, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io("list", path, e))?;
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let name = child.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let child_meta = fs::symlink_metadata(child.path())
                .map_err(|e| Error::io("inspect", child.path(), e))?;
            walk(&child.path(), &child_rel, &child_meta, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_covers_content_mode_and_links_but_not_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ctx");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/a"), "one").unwrap();
        std::os::unix::fs::symlink("sub/a", root.join("link")).unwrap();
        let digest = || host_tree_digest(&host_tree(&root).unwrap()).unwrap();
        let first = digest();
        let rels: Vec<String> = host_tree(&root)
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert_eq!(rels, ["", "link", "sub", "sub/a"]);

        let file = fs::File::options()
            .write(true)
            .open(root.join("sub/a"))
            .unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(digest(), first, "an mtime is not content");

        fs::write(root.join("sub/a"), "two").unwrap();
        let changed = digest();
        assert_ne!(changed, first, "a file's bytes are");
        fs::set_permissions(
            root.join("sub/a"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        assert_ne!(digest(), changed, "a mode is");

        let rules = IgnoreRules::new(&["sub".to_owned()]).unwrap();
        let kept = host_tree_ignoring(&root, "", &rules).unwrap();
        let rels: Vec<&str> = kept.iter().map(|e| e.rel.as_str()).collect();
        assert_eq!(rels, ["", "link"]);
    }

    #[test]
    fn files_that_are_one_inode_become_links_to_the_bytewise_first_kept_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a")).unwrap();
        fs::write(root.join("a/x"), "shared").unwrap();
        fs::hard_link(root.join("a/x"), root.join("a.b")).unwrap();
        fs::hard_link(root.join("a/x"), root.join("z")).unwrap();
        let kinds = |entries: Vec<HostEntry>| -> Vec<(String, HostEntryKind)> {
            entries
                .into_iter()
                .filter(|e| e.kind != HostEntryKind::Dir)
                .map(|e| (e.rel, e.kind))
                .collect()
        };
        let link = |to: &str| HostEntryKind::Hardlink(to.to_owned());
        let tree = kinds(host_tree(root).unwrap());
        // Walk order puts `a/x` before `a.b`; the layer's bytewise order puts `a.b` first.
        assert_eq!(
            tree,
            [
                ("a/x".to_owned(), link("a.b")),
                ("a.b".to_owned(), HostEntryKind::File(root.join("a.b"))),
                ("z".to_owned(), link("a.b")),
            ]
        );
        let rules = IgnoreRules::new(&["a.b".to_owned()]).unwrap();
        let kept = kinds(host_tree_ignoring(root, "", &rules).unwrap());
        assert_eq!(
            kept,
            [
                ("a/x".to_owned(), HostEntryKind::File(root.join("a/x"))),
                ("z".to_owned(), link("a/x")),
            ]
        );
        let linked = host_tree_digest(&host_tree(root).unwrap()).unwrap();
        fs::remove_file(root.join("z")).unwrap();
        fs::write(root.join("z"), "shared").unwrap();
        assert_ne!(
            host_tree_digest(&host_tree(root).unwrap()).unwrap(),
            linked,
            "a link is not a copy"
        );
    }
}
