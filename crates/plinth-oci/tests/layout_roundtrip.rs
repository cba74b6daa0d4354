//! OCI image layouts: written by plinth and read by skopeo, written by skopeo and read by plinth.

mod store_support;

use plinth_oci::layout::{OciLayout, REF_NAME_ANNOTATION};
use plinth_oci::store::Store;
use plinth_oci::{Error, Platform};
use store_support::{count_files, run, skopeo, store_image, store_index};

#[test]
fn export_adds_images_without_losing_others_and_skopeo_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let one = store_image(&store, &Platform::linux_amd64(), "one\n", false);
    let two = store_index(&store, &[Platform::linux_amd64(), Platform::linux_arm64()]);
    let three = store_image(&store, &Platform::linux_amd64(), "three\n", true);
    let layout_dir = dir.path().join("layout");

    let layout = OciLayout::create(&layout_dir).unwrap();
    layout.export_from_store(&store, &one, Some("one")).unwrap();
    // Reopening with `create` keeps what is there.
    let layout = OciLayout::create(&layout_dir).unwrap();
    layout.export_from_store(&store, &two, Some("two")).unwrap();
    layout
        .export_from_store(&store, &three, Some("one"))
        .unwrap(); // moves the tag
    let tags: Vec<(String, String)> = layout
        .tags()
        .unwrap()
        .into_iter()
        .map(|(t, d)| (t, d.digest.to_string()))
        .collect();
    assert_eq!(
        tags,
        [
            ("two".to_owned(), two.digest.to_string()),
            ("one".to_owned(), three.digest.to_string())
        ]
    );
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout_dir.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(on_disk["imageLayoutVersion"], "1.0.0");
    // No temp files are left in the layout.
    assert!(
        std::fs::read_dir(&layout_dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".tmp"))
    );

    let inspect = run(skopeo(dir.path())
        .arg("inspect")
        .arg(format!("oci:{}:one", layout_dir.display())));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Digest"], three.digest.to_string());
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
    let raw = run(skopeo(dir.path())
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}:two", layout_dir.display())));
    assert_eq!(
        plinth_oci::Digest::of(raw.as_bytes()),
        two.digest,
        "skopeo must see our index byte for byte"
    );
    // skopeo can copy every platform out of the index we wrote, verifying every blob.
    let copy = dir.path().join("copy");
    run(skopeo(dir.path())
        .args(["copy", "--all"])
        .arg(format!("oci:{}:two", layout_dir.display()))
        .arg(format!("oci:{}:copied", copy.display())));
    run(skopeo(dir.path())
        .args(["copy", "--override-arch", "arm64"])
        .arg(format!("oci:{}:two", layout_dir.display()))
        .arg(format!("oci:{}:arm", copy.display())));

    // Back into a fresh store through plinth: same digests, blobs verified.
    let fresh = Store::open(dir.path().join("fresh")).unwrap();
    let copied = OciLayout::open(&copy).unwrap();
    let imported = copied.import_to_store(&fresh, Some("copied")).unwrap();
    assert_eq!(imported.digest, two.digest);
    assert!(!imported.annotations.contains_key(REF_NAME_ANNOTATION));
    assert_eq!(
        fresh.walk(&imported).unwrap().len(),
        store.walk(&two).unwrap().len()
    );
    let arm = copied.import_to_store(&fresh, Some("arm")).unwrap();
    let arm_manifest = store
        .walk(&two)
        .unwrap()
        .into_iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.architecture == "arm64")
        })
        .unwrap();
    assert_eq!(arm.digest, arm_manifest.digest);
}

#[test]
fn reading_checks_digests_and_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let image = store_image(&store, &Platform::linux_amd64(), "x\n", false);
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    layout
        .export_from_store(&store, &image, Some("latest"))
        .unwrap();

    let err = layout.find(Some("nope")).unwrap_err().to_string();
    assert!(
        err.contains("no image tagged `nope`") && err.contains("latest"),
        "{err}"
    );
    assert_eq!(layout.find(None).unwrap().digest, image.digest);
    let err = OciLayout::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no `oci-layout` file"), "{err}");

    // Corrupt the largest layer: import must fail and leave nothing of it in the store.
    let manifest = store.walk(&image).unwrap();
    let layer = manifest.iter().max_by_key(|d| d.size).unwrap();
    let path = layout.blob_path(&layer.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let fresh = Store::open(dir.path().join("fresh")).unwrap();
    let err = layout.import_to_store(&fresh, Some("latest")).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. } | Error::DigestMismatch { .. }),
        "{err:?}"
    );
    let chain = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        chain.contains("corrupt") || chain.contains("does not match"),
        "{chain}"
    );
    assert!(!fresh.has_blob(&layer.digest));
    assert_eq!(count_files(&fresh.root().join("tmp")), 0);
}

/// Flips one byte of a stored blob in place (the store's files are read-only; the test writes
/// through a fresh permission, as a disk fault or a careless user would).
fn flip_a_byte(path: &std::path::Path) {
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(20)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(20)).unwrap();
    f.write_all(&[b[0] ^ 0x01]).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
}

/// A flipped byte in a stored layer is not exported: neither into a new layout nor into one
/// that already shares the blob's file with the store. The corrupt blob leaves the store, so
/// the next pull fetches it again.
#[test]
fn a_corrupt_store_blob_is_never_exported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let image = store_image(&store, &Platform::linux_amd64(), "corrupt\n", false);
    let plinth_oci::ManifestDocument::Image(manifest) = store.read_document(&image).unwrap() else {
        panic!("an image manifest");
    };
    let layer = manifest.layers[0].digest.clone();

    // Exported once while healthy: the layout links the store's file.
    let shared = OciLayout::create(dir.path().join("shared")).unwrap();
    shared.export_from_store(&store, &image, Some("x")).unwrap();
    flip_a_byte(&store.blob_path(&layer));

    let fresh = OciLayout::create(dir.path().join("fresh")).unwrap();
    let err = fresh
        .export_from_store(&store, &image, Some("x"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::DigestMismatch { expected, .. } if expected == &layer),
        "{err}"
    );
    assert!(!store.has_blob(&layer), "the corrupt blob left the store");
    assert!(
        !fresh.blob_path(&layer).exists(),
        "nothing corrupt was exported"
    );

    // The same corruption through the layout that shares the file: found, not skipped.
    let store = Store::open(dir.path().join("store2")).unwrap();
    let image = store_image(&store, &Platform::linux_amd64(), "corrupt\n", false);
    let shared = OciLayout::create(dir.path().join("shared2")).unwrap();
    shared.export_from_store(&store, &image, Some("x")).unwrap();
    flip_a_byte(&store.blob_path(&layer));
    let err = shared
        .export_from_store(&store, &image, Some("y"))
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
}
