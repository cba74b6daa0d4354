//! Two real images written into a real store (layers, configs, manifests, an index), compared
//! and rendered: the text form is a snapshot, the facts are asserted.

use plinth_diff::layers::Change;
use plinth_diff::{CompareOptions, Named, TextOptions, compare_images, render_text};
use plinth_oci::layer::{LayerEntry, WriteOptions, store_entries_layer};
use plinth_oci::{Descriptor, ImageConfig, ImageIndex, ImageManifest, MediaType, Platform, Store};

const OS_RELEASE: &str = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";

fn status(packages: &[(&str, &str)]) -> Vec<u8> {
    packages
        .iter()
        .map(|(name, version)| {
            format!(
                "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

/// A one-platform image in an index: a root layer with dpkg status, and an app layer.
fn image(store: &Store, packages: &[(&str, &str)], app: &[LayerEntry], env: &str) -> Descriptor {
    let options = WriteOptions::new().with_source_date_epoch(Some(0));
    let root = store_entries_layer(
        store,
        &[
            LayerEntry::dir("etc"),
            LayerEntry::file("etc/os-release", OS_RELEASE.as_bytes().to_vec()),
            LayerEntry::dir("var"),
            LayerEntry::dir("var/lib"),
            LayerEntry::dir("var/lib/dpkg"),
            LayerEntry::file("var/lib/dpkg/status", status(packages)),
        ],
        &options,
    )
    .unwrap();
    let app = store_entries_layer(store, app, &options).unwrap();
    let platform = Platform::linux_amd64();
    let mut config = ImageConfig::for_platform(&platform);
    config.created = Some("1970-01-01T00:00:00Z".to_owned());
    config.rootfs.diff_ids = vec![root.diff_id.clone(), app.diff_id.clone()];
    config.set_env("PATH", "/bin");
    config.set_env("MODE", env);
    let config = store.write_config(MediaType::OciConfig, &config).unwrap();
    let layers = [root, app]
        .into_iter()
        .map(|l| Descriptor::new(MediaType::OciLayerGzip, l.digest, l.size))
        .collect();
    let manifest = store
        .write_manifest(&ImageManifest::new(MediaType::OciManifest, config, layers))
        .unwrap();
    store
        .write_index(&ImageIndex::new(
            MediaType::OciIndex,
            vec![manifest.with_platform(platform)],
        ))
        .unwrap()
}

fn app_v1() -> Vec<LayerEntry> {
    vec![
        LayerEntry::dir("app"),
        LayerEntry::file("app/run.sh", b"#!/bin/sh\necho one\n".to_vec()).with_mode(0o755),
        LayerEntry::file("app/old.txt", b"old\n".to_vec()),
        LayerEntry::file("app/owned", b"x".to_vec()),
        LayerEntry::dir("var"),
        LayerEntry::dir("var/log"),
        LayerEntry::file("var/log/dpkg.log", b"2024-01-01 install\n".to_vec()),
    ]
}

fn app_v2() -> Vec<LayerEntry> {
    vec![
        LayerEntry::dir("app"),
        LayerEntry::file("app/run.sh", b"#!/bin/sh\necho two!\n".to_vec()).with_mode(0o755),
        LayerEntry::file("app/new.txt", b"new\n".to_vec()),
        LayerEntry::file("app/owned", b"x".to_vec()).with_owner(1000, 1000),
        LayerEntry::dir("var"),
        LayerEntry::dir("var/log"),
        LayerEntry::file("var/log/dpkg.log", b"2024-02-02 install\n".to_vec()),
    ]
}

#[test]
fn two_versions_differ_in_packages_config_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let before = Named {
        name: "example/base:1.0.0".to_owned(),
        root: image(
            &store,
            &[
                ("python3.11", "3.11.9-1"),
                ("vim", "2:9.0.1378-2"),
                ("bash", "5.2.15-2"),
            ],
            &app_v1(),
            "one",
        ),
    };
    let after = Named {
        name: "example/base:1.1.0".to_owned(),
        root: image(
            &store,
            &[
                ("python3.11", "3.11.10-1"),
                ("socat", "1.7.4.4-2"),
                ("bash", "5.2.15-2"),
            ],
            &app_v2(),
            "two",
        ),
    };
    let options = CompareOptions {
        packages: true,
        ..CompareOptions::default()
    };
    let cmp = compare_images(&store, &before, &after, &options).unwrap();
    assert!(!cmp.equal());
    let [platform] = cmp.platforms.as_slice() else {
        panic!("one platform")
    };
    assert_eq!(platform.platform, "linux/amd64");
    let packages = platform.packages.as_ref().unwrap();
    assert_eq!(
        plinth_diff::summarize(packages, 10).unwrap(),
        "Upgrade python3.11 3.11.9-1 → 3.11.10-1; add socat 1.7.4.4-2; remove vim 2:9.0.1378-2"
    );
    let app = &platform.layers[1];
    let changed: Vec<(&str, &str)> = app
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.word()))
        .collect();
    assert_eq!(
        changed,
        [
            ("app/new.txt", "added"),
            ("app/old.txt", "removed"),
            ("app/owned", "changed"),
            ("app/run.sh", "changed"),
            ("var/log/dpkg.log", "changed"),
        ]
    );
    let Change::Changed { fields, .. } = &app.files[2].change else {
        panic!("changed")
    };
    assert_eq!(fields, &["owner"]);
    assert!(app.files[4].noise.is_some(), "the dpkg log is known noise");
    assert!(
        platform
            .config_changes
            .iter()
            .any(|c| c.field == "config.Env[1]"),
        "{:?}",
        platform.config_changes
    );
    insta::assert_snapshot!(render_text(&cmp, TextOptions::default()));

    // The same image against itself: equal everywhere, no file listing.
    let same = compare_images(&store, &before, &before, &options).unwrap();
    assert!(same.equal());
    assert!(
        same.platforms
            .iter()
            .all(|p| p.equal() && p.layers.iter().all(|l| l.files.is_empty()))
    );
    assert_eq!(same.platforms[0].packages.as_deref(), Some(&[][..]));
}

/// A one-platform image of the given layers, each written from its entries.
fn layered(store: &Store, layers: &[Vec<LayerEntry>]) -> Descriptor {
    let options = WriteOptions::new().with_source_date_epoch(Some(0));
    let platform = Platform::linux_amd64();
    let mut config = ImageConfig::for_platform(&platform);
    let mut descriptors = Vec::new();
    for entries in layers {
        let layer = store_entries_layer(store, entries, &options).unwrap();
        config.rootfs.diff_ids.push(layer.diff_id.clone());
        descriptors.push(Descriptor::new(
            MediaType::OciLayerGzip,
            layer.digest,
            layer.size,
        ));
    }
    let config = store.write_config(MediaType::OciConfig, &config).unwrap();
    store
        .write_manifest(&ImageManifest::new(
            MediaType::OciManifest,
            config,
            descriptors,
        ))
        .unwrap()
}

#[test]
fn an_inserted_layer_is_one_added_layer_and_the_counts_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let file = |name: &str| vec![LayerEntry::file(name, name.as_bytes().to_vec())];
    let before = Named {
        name: "two".to_owned(),
        root: layered(&store, &[file("a"), file("b")]),
    };
    let after = Named {
        name: "three".to_owned(),
        root: layered(&store, &[file("a"), file("inserted"), file("b")]),
    };
    let cmp = compare_images(&store, &before, &after, &CompareOptions::default()).unwrap();
    let platform = &cmp.platforms[0];
    assert_eq!(platform.layer_counts, (2, 3));
    let pairs: Vec<_> = platform
        .layers
        .iter()
        .map(|l| (l.before_index, l.after_index, l.equal()))
        .collect();
    assert_eq!(
        pairs,
        [
            (Some(0), Some(0), true),
            (None, Some(1), false),
            (Some(1), Some(2), true)
        ],
        "the last layer is paired with its twin, not with the inserted one"
    );
    let added: Vec<_> = platform.layers[1]
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.word()))
        .collect();
    assert_eq!(added, [("inserted", "added")]);
    let text = render_text(&cmp, TextOptions::default());
    assert!(
        text.contains("  layers: 2 → 3 (identical layers are paired wherever they sit"),
        "{text}"
    );
    assert!(text.contains("  layer 1 (added): (none) → "), "{text}");
    assert!(text.contains("  layer 1 → 2: "), "{text}");
    assert!(text.contains("    added   /inserted"), "{text}");
}
