//! The build context directory: the Dockerfile and every [`ContextEntry`] of the renderer.
//!
//! Files are written `0644` (their mode in the image comes from `COPY --chmod`, see
//! `prepare`); host directories are copied with their modes and symlinks (owners become root,
//! as with any `COPY` from a context), a Dockerfile context's directory through its ignore
//! patterns, with the rules the embedded engine applies. Nothing is read from outside the listed
//! entries, so the generated context needs no `.dockerignore` of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use plinth_recipe::ignore::IgnoreRules;
use plinth_recipe::{BuildableDockerfile, ContextSource};

use crate::error::{Error, Result};

/// The Dockerfile's name in the context.
pub(crate) const DOCKERFILE: &str = "Dockerfile";

/// Writes `dockerfile` and its entries into the empty directory `dir`.
pub(crate) fn materialise(dir: &Path, dockerfile: &BuildableDockerfile) -> Result<()> {
    let path = dir.join(DOCKERFILE);
    fs::write(&path, &dockerfile.text).map_err(Error::io("write", &path))?;
    for entry in &dockerfile.context.entries {
        let dest = dir.join(&entry.path);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
        }
        match &entry.source {
            ContextSource::Bytes(bytes) => {
                fs::write(&dest, bytes).map_err(Error::io("write", &dest))?;
                set_mode(&dest, 0o644)?;
            }
            ContextSource::HostFile(src) => {
                fs::copy(src, &dest).map_err(Error::io("copy a host file to", &dest))?;
                set_mode(&dest, 0o644)?;
            }
            ContextSource::HostDir(src) => copy_tree(src, &dest, &|_| true)?,
            ContextSource::HostDirIgnoring {
                path,
                within,
                ignore,
            } => {
                let rules = IgnoreRules::new(ignore).map_err(|message| Error::Io {
                    action: "read the ignore patterns of",
                    path: path.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
                })?;
                let mut rels = Vec::new();
                list_tree(path, "", &mut rels)?;
                let refs: Vec<&str> = rels.iter().map(String::as_str).collect();
                let keep = rules.kept(within, &refs);
                let kept: BTreeSet<&str> = refs
                    .iter()
                    .zip(keep)
                    .filter_map(|(r, k)| k.then_some(*r))
                    .collect();
                if kept.contains("") {
                    copy_tree(path, &dest, &|rel| kept.contains(rel))?;
                }
            }
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(Error::io("set the mode of", path))
}

/// The paths below `dir` (pre-order, `""` first), as the engine's host tree lists them.
fn list_tree(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<()> {
    out.push(rel.to_owned());
    let meta = fs::symlink_metadata(dir).map_err(Error::io("read", dir))?;
    if meta.is_dir() {
        for (child, child_rel) in sorted_children(dir, rel)? {
            list_tree(&child.path(), &child_rel, out)?;
        }
    }
    Ok(())
}

/// The entries of `dir` sorted by name (the order the engine's host tree walks), each with its
/// path below the tree's root, given `dir`'s own path `rel` (`""` for the root).
fn sorted_children(dir: &Path, rel: &str) -> Result<Vec<(fs::DirEntry, String)>> {
    let mut children: Vec<_> = fs::read_dir(dir)
        .map_err(Error::io("list", dir))?
        .collect::<std::io::Result<_>>()
        .map_err(Error::io("list", dir))?;
    children.sort_by_key(|e| e.file_name());
    Ok(children
        .into_iter()
        .map(|child| {
            let name = child.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            (child, child_rel)
        })
        .collect())
}

/// Copies the tree at `src` to `dest` (which must not exist): files, directories and symlinks
/// with their permission bits, the entries whose path below `src` `keep` accepts. Other file
/// types are left out, as BuildKit's context transfer leaves them.
fn copy_tree(src: &Path, dest: &Path, keep: &dyn Fn(&str) -> bool) -> Result<()> {
    let mut copy = TreeCopy {
        keep,
        copied: BTreeMap::new(),
    };
    copy.entry(src, dest, "")
}

/// One tree being copied: what to keep, and the copies of files that have other links, so
/// their links are links in the copy too (BuildKit keeps one inode as one).
struct TreeCopy<'a> {
    keep: &'a dyn Fn(&str) -> bool,
    copied: BTreeMap<(u64, u64), PathBuf>,
}

impl TreeCopy<'_> {
    fn entry(&mut self, src: &Path, dest: &Path, rel: &str) -> Result<()> {
        if !(self.keep)(rel) {
            return Ok(());
        }
        let meta = fs::symlink_metadata(src).map_err(Error::io("read", src))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(src).map_err(Error::io("read the link", src))?;
            symlink(&target, dest).map_err(Error::io("create the link", dest))?;
        } else if kind.is_dir() {
            fs::create_dir(dest).map_err(Error::io("create", dest))?;
            for (child, child_rel) in sorted_children(src, rel)? {
                self.entry(&child.path(), &dest.join(child.file_name()), &child_rel)?;
            }
            set_mode(dest, meta.permissions().mode() & 0o7777)?;
        } else if kind.is_file() {
            let inode = (meta.dev(), meta.ino());
            if let Some(first) = self.copied.get(&inode).filter(|_| meta.nlink() > 1) {
                fs::hard_link(first, dest).map_err(Error::io("create the hard link", dest))?;
                return Ok(());
            }
            fs::copy(src, dest).map_err(Error::io("copy a host file to", dest))?;
            set_mode(dest, meta.permissions().mode() & 0o7777)?;
            if meta.nlink() > 1 {
                self.copied.insert(inode, dest.to_owned());
            }
        } else {
            // A FIFO, socket or device in a context never reaches BuildKit's build (measured:
            // `COPY dir` of a directory holding a FIFO copies the rest), nor the embedded
            // engine's copy.
            tracing::warn!(path = %src.display(), "skipping a special file");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_recipe::{BuildContext, ContextEntry};

    #[test]
    fn entries_are_written_with_modes_and_links() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("sub")).unwrap();
        fs::write(src.path().join("sub/run.sh"), "#!/bin/sh\n").unwrap();
        set_mode(&src.path().join("sub/run.sh"), 0o750).unwrap();
        symlink("sub/run.sh", src.path().join("link")).unwrap();
        let host_file = src.path().join("f");
        fs::write(&host_file, "host").unwrap();
        set_mode(&host_file, 0o600).unwrap();

        let out = tempfile::tempdir().unwrap();
        let dockerfile = BuildableDockerfile {
            text: "FROM scratch\n".into(),
            context: BuildContext {
                entries: vec![
                    ContextEntry {
                        path: "file-0".into(),
                        source: ContextSource::Bytes(b"b".to_vec()),
                    },
                    ContextEntry {
                        path: "file-1".into(),
                        source: ContextSource::HostFile(host_file),
                    },
                    ContextEntry {
                        path: "dir-2".into(),
                        source: ContextSource::HostDir(src.path().to_owned()),
                    },
                ],
                images: Vec::new(),
            },
        };
        materialise(out.path(), &dockerfile).unwrap();
        let mode = |p: &str| {
            fs::symlink_metadata(out.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(
            fs::read_to_string(out.path().join(DOCKERFILE)).unwrap(),
            "FROM scratch\n"
        );
        assert_eq!(mode("file-0"), 0o644);
        assert_eq!(mode("file-1"), 0o644);
        assert_eq!(mode("dir-2/sub/run.sh"), 0o750);
        assert_eq!(
            fs::read_link(out.path().join("dir-2/link")).unwrap(),
            Path::new("sub/run.sh")
        );
    }
}
