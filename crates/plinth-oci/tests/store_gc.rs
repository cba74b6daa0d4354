//! The store: refs, walking, verification and garbage collection.

mod store_support;

use std::io::{Read, Write};
use std::time::Duration;

use plinth_oci::store::{GcOptions, Store};
use plinth_oci::{Descriptor, Digest, Error, ManifestDocument, MediaType, Platform};
use store_support::{count_files, store_image, store_index};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

#[test]
fn digest_mismatch_is_rejected_and_leaves_nothing_behind() {
    let (_dir, store) = store();
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"some content").unwrap();
    let wrong = Digest::of(b"other content");
    let err = w.commit(Some(&wrong)).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(!store.has_blob(&wrong));
    assert!(!store.has_blob(&Digest::of(b"some content")));
    assert_eq!(
        count_files(&store.root().join("tmp")),
        0,
        "temp file left behind"
    );
    assert_eq!(count_files(&store.root().join("blobs/sha256")), 0);
}

#[test]
fn refs_round_trip_and_replace_atomically() {
    let (_dir, store) = store();
    let a = Descriptor::new(MediaType::OciLayer, store.write_blob(b"a").unwrap(), 1);
    let b = Descriptor::new(MediaType::OciLayer, store.write_blob(b"b").unwrap(), 1);
    assert_eq!(
        store.get_ref("docker.io/library/busybox:latest").unwrap(),
        None
    );
    store
        .set_ref("docker.io/library/busybox:latest", &a)
        .unwrap();
    store.set_ref("build/01HZX", &b).unwrap();
    assert_eq!(
        store.get_ref("docker.io/library/busybox:latest").unwrap(),
        Some(a.clone())
    );
    store
        .set_ref("docker.io/library/busybox:latest", &b)
        .unwrap();
    assert_eq!(
        store.get_ref("docker.io/library/busybox:latest").unwrap(),
        Some(b.clone())
    );
    let names: Vec<String> = store
        .list_refs()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["build/01HZX", "docker.io/library/busybox:latest"]);
    assert!(store.delete_ref("build/01HZX").unwrap());
    assert!(!store.delete_ref("build/01HZX").unwrap());
    assert_eq!(store.list_refs().unwrap().len(), 1);
    assert!(store.set_ref("", &a).is_err());
    assert!(store.set_ref("bad\nname", &a).is_err());
    assert_eq!(count_files(&store.root().join("tmp")), 0);
}

#[test]
fn walk_lists_children_before_parents_each_once() {
    let (_dir, store) = store();
    let index = store_index(&store, &[Platform::linux_amd64(), Platform::linux_arm64()]);
    let all = store.walk(&index).unwrap();
    assert_eq!(all.last().unwrap().digest, index.digest);
    // 2 manifests, 2 configs, 3 distinct layers (busybox layer shared), 1 index.
    assert_eq!(all.len(), 8, "{all:#?}");
    let pos = |d: &Digest| all.iter().position(|x| &x.digest == d).unwrap();
    for m in all
        .iter()
        .filter(|d| d.media_type == MediaType::OciManifest)
    {
        let plinth_oci::ManifestDocument::Image(manifest) = store.read_document(m).unwrap() else {
            panic!()
        };
        for child in std::iter::once(&manifest.config).chain(&manifest.layers) {
            assert!(pos(&child.digest) < pos(&m.digest));
        }
    }
    let root = store.descriptor_of(&index.digest).unwrap();
    assert_eq!(root.media_type, MediaType::OciIndex);
    assert_eq!(root.size, index.size);
}

#[test]
fn gc_keeps_what_refs_reach_and_removes_the_rest() {
    let (_dir, store) = store();
    let kept = store_index(&store, &[Platform::linux_amd64(), Platform::linux_arm64()]);
    store
        .set_ref("docker.io/library/busybox:latest", &kept)
        .unwrap();
    let dropped = store_image(
        &store,
        &Platform::linux_amd64(),
        "only in the dropped image\n",
        true,
    );
    let loose = store.write_blob(b"referenced by nothing").unwrap();
    std::fs::write(store.root().join("tmp/.blob-crashed"), b"half a blob").unwrap();
    let reachable = store.walk(&kept).unwrap();
    let dropped_only: Vec<Digest> = store
        .walk(&dropped)
        .unwrap()
        .into_iter()
        .map(|d| d.digest)
        .filter(|d| !reachable.iter().any(|r| &r.digest == d))
        .collect();
    assert_eq!(
        dropped_only.len(),
        3,
        "manifest, config and the motd layer are unique to the dropped image"
    );

    // Young garbage survives the default grace period.
    let report = store.gc(&GcOptions::default()).unwrap();
    assert_eq!(report.blobs_removed, 0);
    assert_eq!(report.blobs_in_grace, 4);
    assert!(store.has_blob(&loose));

    let dry = store
        .gc(&GcOptions {
            dry_run: true,
            ..GcOptions::immediate()
        })
        .unwrap();
    assert_eq!(dry.blobs_removed, 4);
    assert!(store.has_blob(&loose));

    let expected_bytes: u64 = dropped_only
        .iter()
        .chain([&loose])
        .map(|d| store.blob_size(d).unwrap())
        .sum::<u64>()
        + "half a blob".len() as u64;
    let report = store.gc(&GcOptions::immediate()).unwrap();
    assert_eq!(report.blobs_kept, reachable.len() as u64);
    assert_eq!(report.blobs_removed, 4);
    assert_eq!(report.temp_files_removed, 1);
    assert_eq!(report.bytes_freed, expected_bytes);
    let mut expected_removed: Vec<Digest> = dropped_only
        .iter()
        .cloned()
        .chain([loose.clone()])
        .collect();
    expected_removed.sort();
    assert_eq!(report.removed, expected_removed);
    for d in &reachable {
        store.verify_blob(&d.digest).unwrap();
    }
    assert!(!store.has_blob(&loose));
    assert_eq!(count_files(&store.root().join("tmp")), 0);

    // Dropping the ref frees everything.
    store
        .delete_ref("docker.io/library/busybox:latest")
        .unwrap();
    let report = store.gc(&GcOptions::immediate()).unwrap();
    assert_eq!(report.blobs_removed, reachable.len() as u64);
    assert_eq!(count_files(&store.root().join("blobs/sha256")), 0);
}

/// An SBOM-like artifact about `subject`, written with its attachment ref.
fn attach(store: &Store, subject: &Descriptor, payload: &[u8]) -> Descriptor {
    plinth_oci::Artifact {
        artifact_type: "application/spdx+json".into(),
        payload_media_type: "application/spdx+json".into(),
        payload: payload.to_vec(),
        annotations: Default::default(),
    }
    .write(store, subject)
    .unwrap()
}

#[test]
fn gc_keeps_attachments_while_their_subject_is_kept_and_drops_them_with_it() {
    let (_dir, store) = store();
    let index = store_index(&store, &[Platform::linux_amd64(), Platform::linux_arm64()]);
    store.set_ref("base:1", &index).unwrap();
    let platform_manifest = store.walk(&index).unwrap()[..]
        .iter()
        .rev()
        .find(|d| d.media_type == MediaType::OciManifest)
        .cloned()
        .unwrap();
    let sbom = attach(
        &store,
        &platform_manifest,
        b"{\"spdxVersion\":\"SPDX-2.3\"}",
    );
    // An attestation about the attestation: kept through the chain.
    let about_sbom = attach(&store, &sbom, b"{\"signature\":1}");
    let payload = Digest::of(b"{\"spdxVersion\":\"SPDX-2.3\"}");
    assert_eq!(
        store.attachments_of(&platform_manifest.digest).unwrap(),
        std::slice::from_ref(&sbom)
    );

    let report = store.gc(&GcOptions::immediate()).unwrap();
    assert_eq!(report.blobs_removed, 0, "{report:?}");
    assert_eq!(report.attachment_refs_removed, 0);
    for kept in [&sbom.digest, &about_sbom.digest, &payload] {
        assert!(
            store.has_blob(kept),
            "{kept} was dropped while its image is kept"
        );
    }
    let ManifestDocument::Image(manifest) = store.read_document(&sbom).unwrap() else {
        panic!("an artifact is an image manifest")
    };
    assert_eq!(
        plinth_oci::Artifact::read_payload(&store, &manifest).unwrap(),
        b"{\"spdxVersion\":\"SPDX-2.3\"}"
    );

    // The image goes: its attachments go with it, refs and blobs.
    assert!(store.delete_ref("base:1").unwrap());
    let report = store.gc(&GcOptions::immediate()).unwrap();
    assert_eq!(report.attachment_refs_removed, 2);
    for gone in [&sbom.digest, &about_sbom.digest, &payload] {
        assert!(!store.has_blob(gone), "{gone} outlived its image");
    }
    assert!(
        store
            .attachments_of(&platform_manifest.digest)
            .unwrap()
            .is_empty()
    );
    assert!(store.list_refs().unwrap().is_empty());
}

#[test]
fn gc_refuses_to_sweep_when_a_ref_points_at_a_corrupt_manifest() {
    let (_dir, store) = store();
    let image = store_image(&store, &Platform::linux_amd64(), "x\n", false);
    store.set_ref("img", &image).unwrap();
    let loose = store.write_blob(b"garbage").unwrap();
    std::fs::write(store.blob_path(&image.digest), b"{\"schemaVersion\":2}").unwrap();
    let err = store.gc(&GcOptions::immediate()).unwrap_err().to_string();
    assert!(err.contains("`img`"), "{err}");
    assert!(
        store.has_blob(&loose),
        "nothing may be removed when marking failed"
    );
}

#[test]
fn corrupt_blobs_fail_verified_reads_and_are_dropped_by_verify() {
    let (_dir, store) = store();
    let digest = store.write_blob(&vec![7u8; 300_000]).unwrap();
    let mut bytes = std::fs::read(store.blob_path(&digest)).unwrap();
    bytes[150_000] ^= 1;
    std::fs::write(store.blob_path(&digest), &bytes).unwrap();

    let mut sink = Vec::new();
    let err = store
        .reader(&digest)
        .unwrap()
        .read_to_end(&mut sink)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("corrupt"), "{err}");
    // With verification off the bytes come through as they are.
    let mut sink = Vec::new();
    store
        .clone()
        .with_verify_on_read(false)
        .reader(&digest)
        .unwrap()
        .read_to_end(&mut sink)
        .unwrap();
    assert_eq!(sink, bytes);

    assert!(matches!(
        store.read_blob(&digest),
        Err(Error::DigestMismatch { .. })
    ));
    assert!(matches!(
        store.verify_blob(&digest),
        Err(Error::DigestMismatch { .. })
    ));
    assert!(
        !store.has_blob(&digest),
        "verify removes the corrupt copy so it can be fetched again"
    );
    store.write_blob(&vec![7u8; 300_000]).unwrap();
    store.verify_blob(&digest).unwrap();
}

#[test]
fn gc_waits_for_writers_and_times_out_with_a_clear_message() {
    let (_dir, store) = store();
    let guard = store.lock_shared().unwrap();
    let err = store
        .gc(&GcOptions {
            lock_timeout: Duration::from_millis(200),
            ..GcOptions::immediate()
        })
        .unwrap_err();
    assert!(err.to_string().contains("exclusive lock"), "{err}");
    let chain = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        chain.contains("in use by another plinth operation"),
        "{chain}"
    );
    drop(guard);
    store.gc(&GcOptions::immediate()).unwrap();
}

/// `gc --verify`: a flipped byte in a blob an image uses is found (dry run: only found) and the
/// blob removed, so the next pull fetches it again; healthy blobs stay.
#[test]
fn gc_verify_finds_and_removes_corrupt_blobs_in_use() {
    let (_dir, store) = store();
    let image = store_image(&store, &Platform::linux_amd64(), "verify\n", false);
    store.set_ref("verify", &image).unwrap();
    let Ok(plinth_oci::ManifestDocument::Image(manifest)) = store.read_document(&image) else {
        panic!("an image manifest");
    };
    let layer = manifest.layers[0].digest.clone();
    let mut bytes = std::fs::read(store.blob_path(&layer)).unwrap();
    bytes[30] ^= 1;
    std::fs::write(store.blob_path(&layer), &bytes).unwrap();

    let verify = GcOptions {
        verify: true,
        ..GcOptions::default()
    };
    let dry = store
        .gc(&GcOptions {
            dry_run: true,
            ..verify.clone()
        })
        .unwrap();
    assert_eq!(dry.corrupt, std::slice::from_ref(&layer));
    assert!(
        store.blob_path(&layer).exists(),
        "a dry run removes nothing"
    );

    let report = store.gc(&verify).unwrap();
    assert_eq!(report.corrupt, std::slice::from_ref(&layer));
    assert!(!store.has_blob(&layer));
    // The manifest, the config and the other layer are healthy and kept.
    assert_eq!(report.blobs_kept, 3, "{report:?}");
    assert!(store.has_blob(&manifest.config.digest));
    // Without --verify nothing is hashed: a second corrupt blob goes unnoticed.
    let config = manifest.config.digest.clone();
    let mut bytes = std::fs::read(store.blob_path(&config)).unwrap();
    bytes[0] ^= 1;
    std::fs::write(store.blob_path(&config), &bytes).unwrap();
    assert!(store.gc(&GcOptions::default()).unwrap().corrupt.is_empty());
}
