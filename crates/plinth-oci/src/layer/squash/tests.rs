use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::layer::{
    Compression, LayerEntry, ScannedKind, UnpackOptions, scan_layer, unpack_layer,
    write_entries_layer,
};

fn plain() -> WriteOptions {
    WriteOptions::new().with_compression(Compression::None)
}

fn layer(entries: &[LayerEntry]) -> Vec<u8> {
    write_entries_layer(entries, Vec::new(), &plain())
        .unwrap()
        .0
}

fn squash(layers: &[Vec<u8>]) -> Result<Vec<u8>> {
    squash_layers(|i| Ok(&layers[i][..]), layers.len(), Vec::new(), &plain()).map(|(out, _)| out)
}

/// What a file tree holds, by path: type, permission bits, owner and content or link target.
fn tree(root: &Path) -> BTreeMap<String, (String, u32, u32, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let what = if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_owned()
            } else if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&path).unwrap().display())
            } else {
                format!("file {:?}", std::fs::read(&path).unwrap())
            };
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            out.insert(rel, (what, mode, meta.uid(), meta.gid()));
        }
    }
    out
}

/// The tree `layers` give applied one by one.
fn applied(layers: &[&[u8]]) -> BTreeMap<String, (String, u32, u32, u32)> {
    let dir = tempfile::tempdir().unwrap();
    for l in layers {
        unpack_layer(*l, dir.path(), &UnpackOptions::new()).unwrap();
    }
    tree(dir.path())
}

fn paths(blob: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    scan_layer(blob, None, |e, _| {
        let mark = match e.kind {
            ScannedKind::Whiteout => "wh ",
            ScannedKind::OpaqueWhiteout => "opq ",
            _ => "",
        };
        out.push(format!("{mark}{}", e.path));
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn later_layers_replace_delete_and_hide_what_earlier_ones_wrote() {
    let base = layer(&[
        LayerEntry::dir("keep"),
        LayerEntry::file("keep/old", b"base".to_vec()),
        LayerEntry::dir("gone"),
        LayerEntry::file("gone/f", b"base".to_vec()),
        LayerEntry::dir("opaque"),
        LayerEntry::file("opaque/base", b"base".to_vec()),
    ]);
    let first = layer(&[
        LayerEntry::dir("keep"),
        LayerEntry::file("keep/a", b"first".to_vec()),
        LayerEntry::dir("x"),
        LayerEntry::file("x/under", b"first".to_vec()),
        LayerEntry::file("f", b"first".to_vec()),
        LayerEntry::file("opaque/first", b"first".to_vec()),
        LayerEntry::file("doomed", b"first".to_vec()),
        LayerEntry::file("linked", b"shared".to_vec()),
        LayerEntry::hardlink("linked2", "linked"),
    ]);
    let second = layer(&[
        LayerEntry::dir("keep").with_mode(0o700).with_owner(7, 8),
        LayerEntry::file("keep/a", b"second".to_vec()),
        LayerEntry::file("x", b"now a file".to_vec()),
        LayerEntry::whiteout("gone"),
        LayerEntry::whiteout("doomed"),
        LayerEntry::dir("opaque"),
        LayerEntry::opaque("opaque"),
        LayerEntry::file("opaque/second", b"second".to_vec()),
        LayerEntry::symlink("f", "keep/a"),
    ]);
    let merged = squash(&[first.clone(), second.clone()]).unwrap();
    assert_eq!(
        paths(&merged),
        [
            "wh doomed",
            "wh gone",
            "f",
            "keep",
            "keep/a",
            "linked",
            "linked2",
            "opaque",
            "opq opaque",
            "opaque/second",
            "x",
        ]
    );
    assert_eq!(
        applied(&[&base, &merged]),
        applied(&[&base, &first, &second])
    );
    // Merging is deterministic and a single layer merges to itself.
    assert_eq!(squash(&[first.clone(), second]).unwrap(), merged);
    assert_eq!(squash(std::slice::from_ref(&first)).unwrap(), first);
}

#[test]
fn a_hard_link_to_a_path_a_later_layer_replaces_is_refused() {
    let first = layer(&[
        LayerEntry::file("a", b"one".to_vec()),
        LayerEntry::hardlink("b", "a"),
    ]);
    let second = layer(&[LayerEntry::file("a", b"two".to_vec())]);
    let err = squash(&[first, second]).unwrap_err().to_string();
    assert!(
        err.contains("the hard link `b` points to `a`, which a later layer replaces"),
        "{err}"
    );
}

#[test]
fn layers_in_directory_order_stay_in_directory_order() {
    // Walkers of sorted directory names (BuildKit's differ) put `a/x` before `a.txt`.
    let tar = |names: &[(&str, tar::EntryType)]| {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind) in names {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(*kind);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, name, &b""[..]).unwrap();
        }
        b.into_inner().unwrap()
    };
    use tar::EntryType::{Directory, Regular};
    let first = tar(&[("a/", Directory), ("a/x", Regular), ("a.txt", Regular)]);
    let second = tar(&[("a/", Directory), ("a/y", Regular), ("a-b", Regular)]);
    let merged = squash(&[first, second]).unwrap();
    assert_eq!(paths(&merged), ["a", "a/x", "a/y", "a-b", "a.txt"]);
}

/// An entry of a generated layer.
#[derive(Clone, Debug)]
enum Gen {
    File(u8),
    Dir(u8),
    Link(&'static str),
    Whiteout,
    Opaque,
}

const NAMES: &[&str] = &["a", "b", "a-c", "a.d"];

fn gen_path() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(NAMES), 1..4).prop_map(|c| c.join("/"))
}

fn gen_entry() -> impl Strategy<Value = (String, Gen)> {
    let kind = prop_oneof![
        4 => any::<u8>().prop_map(Gen::File),
        3 => any::<u8>().prop_map(Gen::Dir),
        1 => proptest::sample::select(&["a", "../b", "/a/b"][..]).prop_map(Gen::Link),
        2 => Just(Gen::Whiteout),
        1 => Just(Gen::Opaque),
    ];
    (gen_path(), kind)
}

/// A valid layer from generated entries: parents made as directories, entries that would
/// contradict an earlier one of the layer left out.
fn valid_layer(generated: &[(String, Gen)]) -> Vec<LayerEntry> {
    let mut kinds: BTreeMap<String, bool> = BTreeMap::new(); // path → is a directory
    let mut entries = Vec::new();
    'next: for (path, kind) in generated {
        let components: Vec<&str> = path.split('/').collect();
        for i in 1..components.len() {
            let parent = components[..i].join("/");
            match kinds.get(&parent) {
                Some(true) => {}
                Some(false) => continue 'next,
                None => {
                    kinds.insert(parent.clone(), true);
                    entries.push(LayerEntry::dir(parent));
                }
            }
        }
        let dir = matches!(kind, Gen::Dir(_) | Gen::Opaque);
        let blocked = kinds.contains_key(path)
            || kinds
                .range(format!("{path}/")..)
                .next()
                .is_some_and(|(p, _)| p.starts_with(&format!("{path}/")));
        if blocked {
            continue;
        }
        kinds.insert(path.clone(), dir);
        entries.push(match kind {
            Gen::File(b) => {
                LayerEntry::file(path.as_str(), vec![*b]).with_mode(0o600 | u32::from(*b & 7))
            }
            Gen::Dir(b) => LayerEntry::dir(path.as_str()).with_owner(u64::from(*b), 0),
            Gen::Link(t) => LayerEntry::symlink(path.as_str(), *t),
            Gen::Whiteout => LayerEntry::whiteout(path),
            Gen::Opaque => LayerEntry::opaque(path),
        });
        if matches!(kind, Gen::Opaque) {
            entries.push(LayerEntry::dir(path.as_str()));
        }
    }
    entries
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any base with any layers over it gives the same tree as the base with their merge.
    #[test]
    fn the_merged_layer_has_the_effect_of_the_layers(
        layers in proptest::collection::vec(proptest::collection::vec(gen_entry(), 0..8), 1..5)
    ) {
        let blobs: Vec<Vec<u8>> = layers.iter().map(|g| layer(&valid_layer(g))).collect();
        let base = layer(&valid_layer(&[
            ("a/b".to_owned(), Gen::File(1)),
            ("a-c/a".to_owned(), Gen::File(2)),
            ("b".to_owned(), Gen::Dir(3)),
            ("b/a.d".to_owned(), Gen::File(4)),
        ]));
        let merged = squash(&blobs).unwrap();
        let mut one_by_one: Vec<&[u8]> = vec![&base];
        one_by_one.extend(blobs.iter().map(Vec::as_slice));
        prop_assert_eq!(applied(&[&base, &merged]), applied(&one_by_one));
        let order = paths(&merged);
        let mut sorted = order.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(order.len(), sorted.len());
    }
}
