//! A layer whose bytes rotted in the store: the build says so, drops the bad blob, and the next
//! build fetches it again from the image's source and succeeds.

use std::path::Path;

use plinth_engine::BuildOptions;
use plinth_oci::layout::OciLayout;
use plinth_oci::{ManifestDocument, Platform};
use plinth_recipe::Container;

use crate::common::{TestEngine, busybox_layout, error_chain, ok, require_root};

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
fn a_corrupt_stored_layer_is_dropped_and_fetched_again() {
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
    let err = t
        .engine
        .build(&recipe, &options)
        .expect_err("the stored layer is corrupt");
    let text = error_chain(&err);
    assert!(
        text.contains(&format!("layer `{layer}` was corrupt in the local store")),
        "{text}"
    );
    assert!(!t.store.has_blob(&layer), "the corrupt blob was removed");

    // The next build imports the layer again from the layout and succeeds.
    let result = ok(t.engine.build(&recipe, &options));
    let unpacked = t.unpack(&result, &Platform::linux_amd64(), "out");
    assert_eq!(std::fs::read(unpacked.join("healed")).unwrap(), b"healed\n");
    assert!(t.store.has_blob(&layer));
}
