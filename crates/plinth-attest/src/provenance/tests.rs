use std::collections::BTreeMap;

use plinth_executor::{BuildInput, InputKind, PlatformBuild};
use plinth_oci::{Descriptor, Digest, ImageConfig, ImageManifest, MediaType, Platform};

use super::*;

/// A one-layer build with a Debian archive label, a root, a URL and a host file.
pub(crate) fn build(platform: Platform, created: &str) -> PlatformBuild {
    let mut config = ImageConfig::for_platform(&platform);
    config.created = Some(created.to_owned());
    config.rootfs.diff_ids = vec![Digest::of(b"diff")];
    config.runtime_mut().labels = Some(BTreeMap::from([(
        DEBIAN_ARCHIVE_LABEL.to_owned(),
        format!(
            "bookworm@{} (Sat, 11 Jul 2026 10:16:37 UTC), bookworm-updates@{} (Sun, 12 Jul 2026 08:00:00 UTC)",
            Digest::of(b"inrelease"),
            Digest::of(b"inrelease-updates")
        ),
    )]));
    let config_descriptor = Descriptor::new(MediaType::OciConfig, Digest::of(b"config"), 10);
    let manifest = ImageManifest::new(
        MediaType::OciManifest,
        config_descriptor.clone(),
        vec![Descriptor::new(
            MediaType::OciLayerGzip,
            Digest::of(b"layer"),
            5,
        )],
    );
    PlatformBuild::new(
        platform.clone(),
        Descriptor::new(
            MediaType::OciManifest,
            Digest::of(platform.to_string().as_bytes()),
            20,
        ),
        &manifest,
        config_descriptor,
        config,
        Vec::new(),
        BTreeMap::from([(
            "https://example.com/tool.tar.gz".to_owned(),
            Digest::of(b"tool"),
        )]),
    )
    .unwrap()
    .with_inputs([
        BuildInput::new(
            InputKind::RootImage,
            "plinth/debian:bookworm",
            Digest::of(b"root"),
        ),
        BuildInput::new(InputKind::HostFile, "context/app.py", Digest::of(b"app")),
        BuildInput {
            index_digest: None,
            kind: InputKind::HostDirectory,
            name: "context/lib".into(),
            digest: None,
        },
    ])
}

#[test]
fn provenance_names_the_recipe_every_input_with_its_digest_and_the_builder() {
    let recipe = RecipeParameters::Family {
        repository: "example/python".into(),
        version: "1.2.3".into(),
        recipe_digest: Digest::of(b"recipe").to_string(),
        dockerfile: None,
    };
    let parameters = BuildParameters::new(
        &[Platform::linux_arm64(), Platform::linux_amd64()],
        BTreeMap::from([("org.example.team".to_owned(), "base".to_owned())]),
        &crate::ImageAnnotations {
            source: Some("https://git.example.com/catalog.git".into()),
            revision: Some("0123abcd".into()),
            version: Some("1.2.3".into()),
            base_name: None,
        },
    )
    .with_source_date_epoch(Some(1_783_843_200))
    .with_substitutions([(
        "plinth/debian:bookworm".to_owned(),
        "127.0.0.1:5000/standin/debian:bookworm".to_owned(),
    )]);
    let context = ProvenanceContext {
        recipe: &recipe,
        engine: "embedded",
        image_name: "127.0.0.1:5000/example/python",
        build: &parameters,
    };
    let build = build(Platform::linux_amd64(), "2026-07-12T08:00:00Z");
    let subject = Digest::of(b"annotated manifest");
    let statement = provenance_statement(&context, &build, &subject);
    let bytes = statement.to_bytes().unwrap();
    // Canonical: the same build gives the same bytes.
    assert_eq!(
        provenance_statement(&context, &build, &subject)
            .to_bytes()
            .unwrap(),
        bytes
    );
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(json["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(json["subject"][0]["digest"]["sha256"], subject.hex());
    let builder_version = &mut json["predicate"]["runDetails"]["builder"]["version"]["plinth"];
    assert_eq!(*builder_version, env!("CARGO_PKG_VERSION"));
    // The snapshot outlives version bumps.
    *builder_version = "[version]".into();
    insta::assert_json_snapshot!("provenance_statement", json);
    assert_eq!(
        statement_platform(&json["predicate"]),
        Some(Platform::linux_amd64())
    );
    // What a rebuild reads back: the recipe and the same parameters.
    assert_eq!(
        recorded_parameters(&json["predicate"]),
        Some((recipe.clone(), parameters.clone()))
    );
    assert_eq!(
        parameters.image_annotations().version.as_deref(),
        Some("1.2.3")
    );
}

#[test]
fn the_debian_archive_label_becomes_one_dependency_per_source() {
    let label = format!(
        "bookworm@{} (Sat, 11 Jul 2026 10:16:37 UTC), bookworm-security@{} (Mon, 13 Jul 2026 01:02:03 UTC)",
        Digest::of(b"a"),
        Digest::of(b"b")
    );
    let deps = debian_archive_state(&label);
    assert_eq!(deps.len(), 2);
    assert_eq!(
        deps[1].name.as_deref(),
        Some("debian:bookworm-security/InRelease")
    );
    assert_eq!(deps[1].digest_of("sha256"), Some(Digest::of(b"b").hex()));
    assert_eq!(deps[1].annotations["date"], "Mon, 13 Jul 2026 01:02:03 UTC");
    assert!(debian_archive_state("nonsense").is_empty());
}
