//! The merged file system of an image, as far as finding packages goes: the layers applied in
//! order (whiteouts and opaque directories honoured), streamed, keeping only the files package
//! databases live in (and every symlink, to resolve paths the way the image would).

use std::collections::BTreeMap;
use std::io::Read;

use plinth_oci::layer::{ScannedEntry, ScannedKind, scan_layer};
use plinth_oci::{ImageManifest, Store};

use crate::error::{Error, Result};

/// The largest package database file read (an rpm sqlite database of a big image is tens of
/// MiB; anything past this is not a database).
const MAX_KEPT_FILE: u64 = 512 << 20;

/// How many symlinks a path may go through before it is given up on (Linux's limit).
const MAX_SYMLINKS: usize = 40;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    File(Vec<u8>),
    Symlink(String),
}

/// The files of an image that can describe its packages, with the image's symlinks.
#[derive(Clone, Debug, Default)]
pub struct ImageFiles {
    nodes: BTreeMap<String, Node>,
}

/// Whether a file at `path` (no leading `/`) is read: package databases, their license files
/// and `os-release`.
pub fn is_package_metadata(path: &str) -> bool {
    const EXACT: [&str; 9] = [
        "etc/os-release",
        "usr/lib/os-release",
        "var/lib/dpkg/status",
        "lib/apk/db/installed",
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "var/lib/rpm/Packages",
        "var/lib/rpm/Packages.db",
        "usr/lib/sysimage/rpm/Packages.db",
    ];
    if EXACT.contains(&path) {
        return true;
    }
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if dir == "var/lib/dpkg/status.d" {
        return true;
    }
    if name == "copyright"
        && let Some(package) = dir.strip_prefix("usr/share/doc/")
    {
        return !package.contains('/');
    }
    let parent = dir.rsplit('/').next().unwrap_or(dir);
    (name == "METADATA" && parent.ends_with(".dist-info"))
        || (name == "PKG-INFO" && parent.ends_with(".egg-info"))
        || name.ends_with(".egg-info")
}

impl ImageFiles {
    /// Reads the layers of `manifest` from `store`, lowest first.
    pub fn from_store(store: &Store, manifest: &ImageManifest) -> Result<Self> {
        let mut files = Self::default();
        for layer in &manifest.layers {
            let blob = store.open_blob(&layer.digest).map_err(|e| Error::Layer {
                layer: layer.digest.to_string(),
                reason: e.to_string(),
            })?;
            files
                .apply_layer(std::io::BufReader::new(blob))
                .map_err(|e| match e {
                    Error::Layer { reason, .. } => Error::Layer {
                        layer: layer.digest.to_string(),
                        reason,
                    },
                    other => other,
                })?;
        }
        Ok(files)
    }

    /// Applies one layer blob (gzip, zstd or plain tar) over what the earlier ones made.
    pub fn apply_layer(&mut self, blob: impl Read) -> Result<()> {
        // Whiteouts hide what lower layers made, never entries of their own layer, so this
        // layer's entries are collected apart and laid over the lower ones at the end.
        let mut upper: BTreeMap<String, Option<Node>> = BTreeMap::new();
        let mut hidden_dirs: Vec<String> = Vec::new();
        let lower = &mut self.nodes;
        scan_layer(blob, None, |entry: &ScannedEntry, data: &mut dyn Read| {
            match &entry.kind {
                ScannedKind::Whiteout => {
                    remove_tree(lower, &entry.path);
                    upper.remove(&entry.path);
                }
                ScannedKind::OpaqueWhiteout => hidden_dirs.push(entry.path.clone()),
                ScannedKind::Directory => {
                    upper.insert(entry.path.clone(), None);
                }
                kind => {
                    // A non-directory replaces a directory of the same name, and its contents.
                    remove_tree(lower, &entry.path);
                    let node = match kind {
                        ScannedKind::Symlink(target) => Some(Node::Symlink(target.clone())),
                        ScannedKind::File if is_package_metadata(&entry.path) => {
                            if entry.size > MAX_KEPT_FILE {
                                return Err(plinth_oci::Error::Layer(format!(
                                    "`/{}` is {} bytes, more than the {MAX_KEPT_FILE} a package database may have",
                                    entry.path, entry.size
                                )));
                            }
                            let mut bytes = Vec::with_capacity(entry.size as usize);
                            data.read_to_end(&mut bytes).map_err(|e| {
                                plinth_oci::Error::Layer(format!("cannot read `/{}`: {e}", entry.path))
                            })?;
                            Some(Node::File(bytes))
                        }
                        ScannedKind::HardLink(target) if is_package_metadata(&entry.path) => upper
                            .get(target)
                            .cloned()
                            .flatten()
                            .or_else(|| lower.get(target).cloned()),
                        _ => None,
                    };
                    upper.insert(entry.path.clone(), node);
                }
            }
            Ok(())
        })
        .map_err(|e| Error::Layer {
            layer: String::new(),
            reason: e.to_string(),
        })?;
        for dir in &hidden_dirs {
            remove_children(lower, dir);
        }
        for (path, node) in upper {
            match node {
                Some(node) => {
                    lower.insert(path, node);
                }
                None => {
                    // A directory or an unread file: only what it replaces matters.
                    if matches!(lower.get(&path), Some(Node::File(_) | Node::Symlink(_))) {
                        lower.remove(&path);
                    }
                }
            }
        }
        Ok(())
    }

    /// The contents of the file at `path` (no leading `/`), symlinks resolved inside the image.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let resolved = self.resolve(path)?;
        match self.nodes.get(&resolved) {
            Some(Node::File(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// The kept files whose resolved-free path satisfies `matches`, in path order.
    pub fn files_matching<'a>(
        &'a self,
        matches: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.nodes
            .iter()
            .filter_map(move |(path, node)| match node {
                Node::File(bytes) if matches(path) => Some((path.as_str(), bytes.as_slice())),
                _ => None,
            })
    }

    /// `path` with every symlink on the way followed (`..` stops at the image's root).
    fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_owned)
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            done.push(component);
            let current = done.join("/");
            if let Some(Node::Symlink(target)) = self.nodes.get(&current) {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return None;
                }
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                pending.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(str::to_owned),
                );
            }
        }
        Some(done.join("/"))
    }
}

fn remove_tree(nodes: &mut BTreeMap<String, Node>, path: &str) {
    nodes.remove(path);
    remove_children(nodes, path);
}

fn remove_children(nodes: &mut BTreeMap<String, Node>, dir: &str) {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let doomed: Vec<String> = nodes
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for key in doomed {
        nodes.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_oci::layer::{LayerEntry, WriteOptions, write_entries_layer};

    fn layer(entries: &[LayerEntry]) -> Vec<u8> {
        write_entries_layer(entries, Vec::new(), &WriteOptions::new())
            .unwrap()
            .0
    }

    #[test]
    fn layers_merge_with_whiteouts_opaque_dirs_and_symlinks() {
        let mut files = ImageFiles::default();
        files
            .apply_layer(
                &layer(&[
                    LayerEntry::dir("usr/lib"),
                    LayerEntry::file("usr/lib/os-release", b"ID=debian\n".to_vec()),
                    LayerEntry::symlink("etc/os-release", "../usr/lib/os-release"),
                    LayerEntry::file("var/lib/dpkg/status", b"old".to_vec()),
                    LayerEntry::file("var/lib/dpkg/status.d/a", b"a".to_vec()),
                    LayerEntry::file("var/lib/dpkg/status.d/b", b"b".to_vec()),
                    LayerEntry::file("lib/apk/db/installed", b"apk".to_vec()),
                    LayerEntry::file("usr/bin/tool", b"not kept".to_vec()),
                ])[..],
            )
            .unwrap();
        assert_eq!(files.read("etc/os-release"), Some(&b"ID=debian\n"[..]));
        assert_eq!(files.read("usr/bin/tool"), None, "only metadata is kept");
        files
            .apply_layer(
                &layer(&[
                    LayerEntry::file("var/lib/dpkg/status", b"new".to_vec()),
                    LayerEntry::dir("var/lib/dpkg/status.d"),
                    LayerEntry::file("var/lib/dpkg/status.d/.wh..wh..opq", Vec::new()),
                    LayerEntry::file("var/lib/dpkg/status.d/c", b"c".to_vec()),
                    LayerEntry::file("lib/apk/db/.wh.installed", Vec::new()),
                ])[..],
            )
            .unwrap();
        assert_eq!(files.read("var/lib/dpkg/status"), Some(&b"new"[..]));
        let status_d: Vec<_> = files
            .files_matching(|p| p.starts_with("var/lib/dpkg/status.d/"))
            .map(|(p, _)| p.to_owned())
            .collect();
        assert_eq!(
            status_d,
            ["var/lib/dpkg/status.d/c"],
            "the opaque dir hid a and b"
        );
        assert_eq!(files.read("lib/apk/db/installed"), None, "whited out");
        // A whiteout of a directory removes what was under it.
        files
            .apply_layer(&layer(&[LayerEntry::file("usr/.wh.lib", Vec::new())])[..])
            .unwrap();
        assert_eq!(files.read("etc/os-release"), None);
    }

    #[test]
    fn metadata_paths() {
        for yes in [
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/base",
            "usr/share/doc/socat/copyright",
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
            "usr/local/lib/python3.11/site-packages/x.egg-info/PKG-INFO",
            "usr/lib/python3/dist-packages/y-1.0.egg-info",
        ] {
            assert!(is_package_metadata(yes), "{yes}");
        }
        for no in [
            "usr/share/doc/socat/examples/copyright",
            "usr/bin/python3",
            "var/lib/dpkg/info/socat.list",
            "x.dist-info/RECORD",
        ] {
            assert!(!is_package_metadata(no), "{no}");
        }
    }
}
