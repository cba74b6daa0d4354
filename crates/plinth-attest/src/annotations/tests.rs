use plinth_oci::{ImageConfig, ImageManifest, MediaType, Platform};

use super::*;

/// Builds of two platforms whose manifests and configs are really in `store`.
fn stored_builds(store: &Store) -> (Descriptor, Vec<PlatformBuild>) {
    let mut builds = Vec::new();
    let mut children = Vec::new();
    for (platform, created) in [
        (Platform::linux_amd64(), "2026-07-12T08:00:00Z"),
        (Platform::linux_arm64(), "2026-07-13T08:00:00Z"),
    ] {
        let mut config = ImageConfig::for_platform(&platform);
        config.created = Some(created.to_owned());
        let config_descriptor = store.write_config(MediaType::OciConfig, &config).unwrap();
        let manifest =
            ImageManifest::new(MediaType::OciManifest, config_descriptor.clone(), vec![]);
        let descriptor = store
            .write_manifest(&manifest)
            .unwrap()
            .with_platform(platform.clone());
        children.push(descriptor.clone());
        let build = PlatformBuild::new(
            platform.clone(),
            descriptor,
            &manifest,
            config_descriptor,
            config,
            Vec::new(),
            BTreeMap::new(),
        )
        .unwrap()
        .with_inputs([plinth_executor::BuildInput::new(
            InputKind::RootImage,
            "example.com/root:1",
            Digest::of(platform.to_string().as_bytes()),
        )]);
        builds.push(build);
    }
    let index = store
        .write_index(&ImageIndex::new(MediaType::OciIndex, children))
        .unwrap();
    (index, builds)
}

#[test]
fn every_manifest_and_the_index_carry_the_standard_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (index, builds) = stored_builds(&store);
    let annotations = ImageAnnotations {
        source: Some("https://git.example.com/catalog".into()),
        revision: Some("0123abcd".into()),
        version: Some("1.2.3".into()),
        base_name: Some("example.com/root:1".into()),
    };
    let annotated = annotate_image(&store, &index, &builds, &annotations).unwrap();
    assert_ne!(annotated.root.digest, index.digest);
    // Deterministic: annotating again gives the same digests.
    assert_eq!(
        annotate_image(&store, &index, &builds, &annotations).unwrap(),
        annotated
    );
    let ManifestDocument::Index(new_index) = store.read_document(&annotated.root).unwrap() else {
        panic!("an index")
    };
    assert_eq!(
        new_index.annotations[SOURCE],
        "https://git.example.com/catalog"
    );
    assert_eq!(new_index.annotations[REVISION], "0123abcd");
    assert_eq!(new_index.annotations[VERSION], "1.2.3");
    assert_eq!(new_index.annotations[BASE_NAME], "example.com/root:1");
    assert_eq!(new_index.annotations[CREATED], "2026-07-13T08:00:00Z");
    assert!(
        !new_index.annotations.contains_key(BASE_DIGEST),
        "an unpinned root has a digest per platform, none for the index"
    );
    assert_eq!(new_index.manifests.len(), 2);
    for (child, build) in new_index.manifests.iter().zip(&builds) {
        assert_eq!(child.platform.as_ref(), Some(&build.platform));
        assert_eq!(
            annotated.manifest(&build.platform).unwrap().digest,
            child.digest
        );
        let ManifestDocument::Image(m) = store.read_document(child).unwrap() else {
            panic!("a manifest")
        };
        assert_eq!(
            m.config.digest, build.config_descriptor.digest,
            "same config"
        );
        assert_eq!(m.annotations[VERSION], "1.2.3");
        assert_eq!(
            m.annotations[CREATED],
            build.config.created.clone().unwrap()
        );
        assert_eq!(
            m.annotations[BASE_DIGEST],
            Digest::of(build.platform.to_string().as_bytes()).to_string()
        );
    }

    // A pinned root names its digest on the index too.
    let pinned = format!("example.com/root:1@{}", Digest::of(b"index"));
    let pinned_annotations = ImageAnnotations {
        base_name: Some(pinned),
        ..annotations
    };
    let annotated = annotate_image(&store, &index, &builds, &pinned_annotations).unwrap();
    let ManifestDocument::Index(new_index) = store.read_document(&annotated.root).unwrap() else {
        panic!("an index")
    };
    assert_eq!(
        new_index.annotations[BASE_DIGEST],
        Digest::of(b"index").to_string()
    );
}

#[test]
fn a_manifest_the_build_did_not_make_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (index, mut builds) = stored_builds(&store);
    builds.pop();
    let err = annotate_image(&store, &index, &builds, &ImageAnnotations::default()).unwrap_err();
    assert!(
        err.to_string().contains("is not one this build made"),
        "{err}"
    );
}
