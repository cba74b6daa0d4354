//! The file tree of an image, for comparing what two builds made: path → type, mode, owner,
//! size and content hash (or link target), mtimes left out on purpose.

use std::collections::BTreeMap;
use std::io::Read;

use plinth_oci::image::resolve_manifest;
use plinth_oci::{Descriptor, Digest, Platform, Store};

/// One path of a file tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `d` directory, `l` symlink, `p` FIFO, `c`/`b` device (content `major:minor`), `f` a
    /// file (hard links as their target's file).
    pub kind: char,
    /// The permission bits (`0o7777`).
    pub mode: u32,
    /// The owner.
    pub uid: u64,
    /// The group.
    pub gid: u64,
    /// A file's size (0 for directories and symlinks).
    pub size: u64,
    /// Symlink target as written, or the sha256 of a file's contents.
    pub content: String,
}

/// Paths (relative, no leading `/` or `./`) to entries.
pub type Tree = BTreeMap<String, Entry>;

/// A tar stream, plain or compressed (gzip, zstd), told by its first bytes.
fn decoder(bytes: Vec<u8>) -> Box<dyn Read> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(bytes)))
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(std::io::Cursor::new(bytes)).expect("zstd"))
    } else {
        Box::new(std::io::Cursor::new(bytes))
    }
}

/// A path in an archive as a tree key.
fn tree_path(path: &str) -> String {
    path.trim_end_matches('/')
        .trim_start_matches("./")
        .trim_start_matches('/')
        .to_owned()
}

/// Applies one layer (or a whole exported file system) onto `tree`, whiteouts included.
pub fn apply_tar(tree: &mut Tree, bytes: Vec<u8>) {
    let mut archive = tar::Archive::new(decoder(bytes));
    let mut added: Vec<(String, Entry)> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut opaque: Vec<String> = Vec::new();
    for entry in archive.entries().expect("a tar stream") {
        let mut entry = entry.expect("a tar entry");
        let path = tree_path(&entry.path().expect("a path").to_string_lossy());
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
                .expect("a link name")
                .expect("a link target")
                .to_string_lossy()
                .into_owned()
        };
        let (k, size, content) = if kind.is_dir() {
            ('d', 0, String::new())
        } else if kind.is_symlink() {
            ('l', 0, link())
        } else if kind.is_hard_link() {
            let target = tree_path(&link());
            let found = added
                .iter()
                .rev()
                .find(|(p, _)| *p == target)
                .map(|(_, e)| e.clone())
                .or_else(|| tree.get(&target).cloned())
                .expect("hard link target");
            ('f', found.size, found.content)
        } else if kind.is_fifo() {
            ('p', 0, String::new())
        } else if kind.is_character_special() || kind.is_block_special() {
            let device = format!(
                "{}:{}",
                header.device_major().ok().flatten().unwrap_or(0),
                header.device_minor().ok().flatten().unwrap_or(0)
            );
            (
                if kind.is_character_special() {
                    'c'
                } else {
                    'b'
                },
                0,
                device,
            )
        } else {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("the entry's bytes");
            ('f', bytes.len() as u64, Digest::of(&bytes).to_string())
        };
        let entry = Entry {
            kind: k,
            mode: header.mode().expect("a mode") & 0o7777,
            uid: header.uid().expect("a uid"),
            gid: header.gid().expect("a gid"),
            size,
            content,
        };
        added.push((path, entry));
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

/// The merged file tree of one platform of the image `root` in `store`, whiteouts applied.
pub fn image_tree(store: &Store, root: &Descriptor, platform: &Platform) -> Tree {
    let (_, manifest) = resolve_manifest(store, root, Some(platform)).expect("the image");
    let mut tree = Tree::new();
    for layer in &manifest.layers {
        apply_tar(
            &mut tree,
            store.read_blob(&layer.digest).expect("the layer"),
        );
    }
    tree
}
