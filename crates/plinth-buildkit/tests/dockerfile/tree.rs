//! What the suite compares: the file tree of an image (path, type, mode, owner, size, content
//! hash, link target; no mtimes) and the runtime part of its config.

use std::collections::BTreeMap;
use std::io::Read;

use plinth_oci::image::resolve_manifest;
use plinth_oci::{Descriptor, Digest, Platform, Store};
use serde_json::Value;

/// One path of a file tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// Symlink target, or the sha256 of a file's contents.
    pub content: String,
}

pub type Tree = BTreeMap<String, Entry>;

/// A tar stream, plain or compressed (gzip, zstd), told by its first bytes.
fn decoder(bytes: Vec<u8>) -> Box<dyn Read> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(bytes)))
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(std::io::Cursor::new(bytes)).unwrap())
    } else {
        Box::new(std::io::Cursor::new(bytes))
    }
}

/// Applies one layer (or a whole exported file system) onto `tree`, whiteouts included.
pub fn apply_tar(tree: &mut Tree, bytes: Vec<u8>) {
    let mut archive = tar::Archive::new(decoder(bytes));
    let mut added: Vec<(String, Entry)> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut opaque: Vec<String> = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_owned();
        if path.is_empty() || path == "." {
            continue;
        }
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (format!("{p}/"), n.to_owned()),
            None => (String::new(), path.clone()),
        };
        if name == ".wh..wh..opq" {
            opaque.push(parent);
            continue;
        }
        if let Some(gone) = name.strip_prefix(".wh.") {
            removed.push(format!("{parent}{gone}"));
            continue;
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let link = || {
            header
                .link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches('/')
                .to_owned()
        };
        let (k, size, content) = if kind.is_dir() {
            ('d', 0, String::new())
        } else if kind.is_symlink() {
            ('l', 0, link())
        } else if kind.is_hard_link() {
            let target = link();
            let found = added
                .iter()
                .rev()
                .find(|(p, _)| *p == target)
                .map(|(_, e)| e.clone())
                .or_else(|| tree.get(&target).cloned())
                .expect("hard link target");
            ('f', found.size, found.content)
        } else {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            ('f', bytes.len() as u64, Digest::of(&bytes).to_string())
        };
        added.push((
            path,
            Entry {
                kind: k,
                mode: header.mode().unwrap() & 0o7777,
                uid: header.uid().unwrap(),
                gid: header.gid().unwrap(),
                size,
                content,
            },
        ));
    }
    for dir in opaque {
        tree.retain(|p, _| !p.starts_with(&dir));
    }
    for gone in removed {
        tree.retain(|p, _| *p != gone && !p.starts_with(&format!("{gone}/")));
    }
    for (path, entry) in added {
        if entry.kind != 'd' {
            tree.retain(|p, _| !p.starts_with(&format!("{path}/")));
        }
        tree.insert(path, entry);
    }
}

/// The merged tree and the config of one platform of an image in a store.
pub fn image_of(store: &Store, root: &Descriptor, platform: &Platform) -> (Tree, Value) {
    let (_, manifest) = resolve_manifest(store, root, Some(platform)).unwrap();
    let mut tree = Tree::new();
    for layer in &manifest.layers {
        apply_tar(&mut tree, store.read_blob(&layer.digest).unwrap());
    }
    let config: Value =
        serde_json::from_slice(&store.read_blob(&manifest.config.digest).unwrap()).unwrap();
    (tree, runtime_config(&config["config"], &config["author"]))
}

/// The config fields a Dockerfile sets, with empty values (`null`, `[]`, `{}`, `""`) left out:
/// they mean the same to a runtime, and tools disagree on which one they write.
pub fn runtime_config(config: &Value, author: &Value) -> Value {
    const FIELDS: [&str; 12] = [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "Labels",
        "ExposedPorts",
        "Volumes",
        "StopSignal",
        "Healthcheck",
        "OnBuild",
        "Shell",
    ];
    let mut out = serde_json::Map::new();
    for field in FIELDS {
        let value = &config[field];
        let empty = match value {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if !empty {
            out.insert(field.to_owned(), value.clone());
        }
    }
    if let Value::String(a) = author
        && !a.is_empty()
    {
        out.insert("Author".to_owned(), author.clone());
    }
    Value::Object(out)
}

/// Every difference between two trees, one line each.
pub fn tree_differences(expected: &Tree, actual: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for path in expected
        .keys()
        .chain(actual.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (expected.get(path), actual.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => out.push(format!("  /{path}: BuildKit {a:?}, plinth {b:?}")),
        }
    }
    out
}
