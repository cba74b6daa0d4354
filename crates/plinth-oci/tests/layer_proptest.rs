//! Property tests for tar parsing: random or mutated archives never panic, never allocate
//! beyond the fixed limits and never write outside the target; valid random layers round-trip.

mod layer_support;

use std::fs;

use layer_support::{Hdr, RawTar, Sentinel};
use plinth_oci::layer::{
    Compression, LayerEntry, UnpackOptions, WriteOptions, unpack_layer, write_entries_layer,
};
use proptest::prelude::*;

fn options() -> UnpackOptions {
    // A small entry limit keeps hostile sizes from filling the disk during the run.
    UnpackOptions::new()
        .with_max_entry_size(1 << 20)
        .with_preserve_ownership(false)
}

/// Unpacks `bytes` (any outcome is fine) and checks the sentinel.
fn unpack_anything(bytes: &[u8], compression: Option<Compression>) {
    let s = Sentinel::new();
    let _ = unpack_layer(bytes, &s.target, &options().with_compression(compression));
    s.assert_untouched();
}

fn component() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"a".to_vec()),
        Just(b"b".to_vec()),
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(b"".to_vec()),
        Just(b".wh.a".to_vec()),
        Just(b".wh..wh..opq".to_vec()),
        Just(b".wh...".to_vec()),
        Just(b"x\0y".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..6),
    ]
}

fn path() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), proptest::collection::vec(component(), 1..5)).prop_map(|(absolute, comps)| {
        let mut p = if absolute { b"/".to_vec() } else { Vec::new() };
        p.extend(comps.join(&b'/'));
        p
    })
}

fn typeflag() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b'0'),
        Just(b'1'),
        Just(b'2'),
        Just(b'3'),
        Just(b'5'),
        Just(b'6'),
        Just(b'x'),
        Just(b'L'),
        Just(b'K'),
        Just(b'g'),
        any::<u8>()
    ]
}

#[derive(Debug, Clone)]
struct RandomEntry {
    name: Vec<u8>,
    link: Vec<u8>,
    typeflag: u8,
    data: Vec<u8>,
    declared: Option<u64>,
}

fn random_entry() -> impl Strategy<Value = RandomEntry> {
    (
        path(),
        path(),
        typeflag(),
        proptest::collection::vec(any::<u8>(), 0..700),
        proptest::option::of(0u64..5000),
    )
        .prop_map(|(name, link, typeflag, data, declared)| RandomEntry {
            name,
            link,
            typeflag,
            data,
            declared,
        })
}

fn build(entries: &[RandomEntry]) -> Vec<u8> {
    let mut tar = RawTar::new();
    for e in entries {
        let size = e.declared.unwrap_or(e.data.len() as u64);
        let mut hdr = Hdr::new(&e.name, e.typeflag, size);
        hdr.link = e.link.clone();
        tar = tar.entry(hdr, &e.data);
    }
    tar.finish()
}

/// A well-formed layer to mutate.
fn valid_layer() -> Vec<u8> {
    let entries = [
        LayerEntry::dir("d"),
        LayerEntry::file("d/f", b"hello world".to_vec()),
        LayerEntry::symlink("d/s", "f"),
        LayerEntry::hardlink("d/h", "d/f"),
        LayerEntry::file(format!("d/{}", "n".repeat(150)), b"long".to_vec()),
        LayerEntry::whiteout("d/old"),
    ];
    let opts = WriteOptions::new().with_compression(Compression::None);
    write_entries_layer(&entries, Vec::new(), &opts).unwrap().0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        unpack_anything(&bytes, None);
        unpack_anything(&bytes, Some(Compression::None));
    }

    #[test]
    fn random_headers_never_escape(entries in proptest::collection::vec(random_entry(), 1..6)) {
        unpack_anything(&build(&entries), None);
    }

    #[test]
    fn mutated_layers_never_escape(mutations in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = valid_layer();
        for (index, value) in mutations {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        unpack_anything(&bytes, None);
    }

    #[test]
    fn mutated_compressed_layers_never_panic(
        compression in prop_oneof![Just(Compression::Gzip), Just(Compression::Zstd)],
        mutations in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let opts = WriteOptions::new().with_compression(compression);
        let mut bytes = write_entries_layer(&[LayerEntry::file("f", vec![7u8; 4000])], Vec::new(), &opts).unwrap().0;
        for (index, value) in mutations {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        unpack_anything(&bytes, None);
    }

    #[test]
    fn extension_headers_are_size_bounded(size in (1u64 << 20) + 1..(1u64 << 33)) {
        // A PAX header claiming gigabytes is refused before anything is allocated or read.
        let mut hdr = Hdr::new("PaxHeaders.0/x", b'x', 0);
        hdr.size = format!("{size:011o}").into_bytes();
        let s = Sentinel::new();
        let err = unpack_layer(&RawTar::new().entry(hdr, b"").unfinished()[..], &s.target, &options()).unwrap_err();
        prop_assert!(err.to_string().contains("limit"), "{}", err);
    }

    #[test]
    fn valid_random_layers_round_trip(
        files in proptest::collection::btree_map("[a-z]{1,12}", proptest::collection::vec(any::<u8>(), 0..2000), 1..12),
        mode in prop_oneof![Just(0o644u32), Just(0o600), Just(0o755), Just(0o4755)],
    ) {
        let mut entries = vec![LayerEntry::dir("dir")];
        for (name, data) in &files {
            entries.push(LayerEntry::file(format!("dir/{name}"), data.clone()).with_mode(mode));
        }
        let (blob, info) = write_entries_layer(&entries, Vec::new(), &WriteOptions::new()).unwrap();
        let out = tempfile::tempdir().unwrap();
        let summary = unpack_layer(&blob[..], out.path(), &options()).unwrap();
        prop_assert_eq!(summary.diff_id, info.diff_id);
        for (name, data) in &files {
            let path = out.path().join("dir").join(name);
            prop_assert_eq!(&fs::read(&path).unwrap(), data);
            use std::os::unix::fs::PermissionsExt;
            prop_assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, mode);
        }
    }
}
