//! A layer whose bytes rotted in the store: the build finds out when unpacking it, drops the bad
//! blob, fetches it again from the image's source and carries on, in the same build.

use std::path::Path;

use plinth_engine::BuildOptions;
use plinth_oci::layout::OciLayout;
use plinth_oci::{ManifestDocument, Platform};
use plinth_recipe::Container;

use crate::common::{TestEngine, busybox_layout, ok, require_root};

/// A private copy of a layout with writable (0644) files, so the store copies rather than links
/// its blobs and corrupting the store leaves the source intact.
fn private_copy(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(&dest, std::fs::read(&entry).unwrap()).unwrap();
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_corrupt_stored_layer_is_fetched_again_in_the_same_build() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let shared = busybox_layout();
    let shared_dir = shared
        .strip_prefix("oci:")
        .unwrap()
        .strip_suffix(":latest")
        .unwrap();
    let layout_dir = t.path("layout");
    private_copy(Path::new(shared_dir), &layout_dir);
    let root = OciLayout::open(&layout_dir)
        .unwrap()
        .import_to_store(&t.store, Some("latest"))
        .unwrap();
    let manifest = match t.store.read_document(&root).unwrap() {
        ManifestDocument::Image(m) => m,
        ManifestDocument::Index(i) => match t.store.read_document(&i.manifests[0]).unwrap() {
            ManifestDocument::Image(m) => m,
            ManifestDocument::Index(_) => panic!("nested index"),
        },
    };
    let layer = manifest.layers[0].digest.clone();
    let path = t.store.blob_path(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();

    let recipe = Container::from_address(&format!("oci:{}:latest", layout_dir.display()))
        .unwrap()
        .with_exec(["sh", "-c", "echo healed > /healed"]);
    let options = BuildOptions::new([Platform::linux_amd64()]);
    let result = ok(t.engine.build(&recipe, &options));
    let unpacked = t.unpack(&result, &Platform::linux_amd64(), "out");
    assert_eq!(std::fs::read(unpacked.join("healed")).unwrap(), b"healed\n");
    // The store holds the layer again, with its right bytes, and the layout was left alone.
    let healed = std::fs::read(t.store.blob_path(&layer)).unwrap();
    assert_eq!(plinth_oci::Digest::of(&healed), layer);
    assert_ne!(healed, bytes);
    let source = std::fs::read(layout_dir.join("blobs/sha256").join(layer.hex())).unwrap();
    assert_eq!(healed, source);
}

/// The same, for a layer pulled from a registry: it is fetched again from the registry.
#[test]
fn a_corrupt_layer_from_a_registry_is_fetched_again_in_the_same_build() {
    if !require_root() {
        return;
    }
    let registry = plinth_test::LocalRegistry::shared();
    let t = TestEngine::new(None);
    let seed_store = plinth_oci::Store::open(t.path("seed-store")).unwrap();
    let image = plinth_test::images::BusyboxImage::builder()
        .with_seed("corrupt-registry-layer")
        .build(&seed_store);
    let target: plinth_oci::Reference = registry.image("corrupt/heal:1").parse().unwrap();
    plinth_executor::block_on(
        plinth_registry::Client::builder(seed_store.clone())
            .build()
            .unwrap()
            .push_image(
                image.digest(),
                &target,
                std::sync::Arc::new(plinth_registry::NoTransferReporter),
            ),
    )
    .unwrap()
    .unwrap();
    let recipe = Container::from_address(&target.to_string())
        .unwrap()
        .with_exec(["sh", "-c", "echo one > /one"]);
    let options = BuildOptions::new([Platform::linux_amd64()]);
    ok(t.engine.build(&recipe, &options));

    // Rot the layer, and drop its unpacked snapshot so the next build must read the blob.
    let layer = image.platforms()[0].layers[0].digest.clone();
    let path = t.store.blob_path(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    empty_dirs(&[t.store.root().join("snapshots"), t.store.root().join("l")]);

    let recipe = recipe.with_exec(["sh", "-c", "echo two > /two"]);
    let result = ok(t.engine.build(&recipe, &options));
    let unpacked = t.unpack(&result, &Platform::linux_amd64(), "out");
    assert_eq!(std::fs::read(unpacked.join("two")).unwrap(), b"two\n");
    let healed = std::fs::read(&path).unwrap();
    assert_eq!(plinth_oci::Digest::of(&healed), layer);
}

/// Removes what `dirs` hold (snapshots are a cache: safe to drop while no build runs).
fn empty_dirs(dirs: &[std::path::PathBuf]) {
    for dir in dirs {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
}
