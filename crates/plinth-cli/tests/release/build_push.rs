//! `plinth build REPOSITORY:VERSION --label K=V --push --tag REF`: a catalog version pushed by
//! `build` is annotated as `publish` annotates it, its attestations are about the annotated
//! manifests (found through the `sha256-<hex>` tag fallback of distribution 2.x), its
//! provenance records the label, the platforms, the annotations and the `SOURCE_DATE_EPOCH`,
//! and `verify --rebuild REF` rebuilds it with them to the same digests (after naming an
//! epoch other than the build's).

use serde_json::Value;

use crate::fixture::{Catalog, REPOSITORY, assert_ok, skopeo_json, text};

/// The build's `SOURCE_DATE_EPOCH`, recorded in its provenance.
const EPOCH: &str = "1700000000";

#[test]
fn a_pushed_catalog_version_is_annotated_attested_and_verifies() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::new("buildpush");
    let image = format!("{}/{}/pushed:1", c.registry.host(), c.namespace);
    let out = c.run(
        c.cmd(&[
            "build",
            &format!("{REPOSITORY}:1.0.0"),
            "--label",
            "org.example.team=base",
            "--push",
            "--tag",
            &image,
        ])
        .env("SOURCE_DATE_EPOCH", EPOCH),
    );
    assert_ok(&out);

    let index = skopeo_json(&image, "--raw");
    let annotations = &index["annotations"];
    assert_eq!(annotations["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(
        annotations["org.opencontainers.image.base.name"],
        c.root.as_str()
    );
    assert_eq!(
        annotations["org.opencontainers.image.base.digest"],
        c.root.rsplit_once('@').unwrap().1
    );
    assert!(annotations["org.opencontainers.image.created"].is_string());
    for unknown in ["source", "revision"] {
        assert!(
            annotations
                .get(format!("org.opencontainers.image.{unknown}"))
                .is_none(),
            "the catalog is no git checkout: no {unknown} in {annotations}"
        );
    }
    let repository = image.rsplit_once(':').unwrap().0;
    let mut subjects = Vec::new();
    for entry in index["manifests"].as_array().unwrap() {
        let digest = entry["digest"].as_str().unwrap();
        let manifest = skopeo_json(&format!("{repository}@{digest}"), "--raw");
        assert_eq!(
            manifest["annotations"]["org.opencontainers.image.version"], "1.0.0",
            "{manifest}"
        );
        // The attestations are found under the referrers tag of the annotated manifest.
        let hex = digest.strip_prefix("sha256:").unwrap();
        let referrers = skopeo_json(&format!("{repository}:sha256-{hex}"), "--raw");
        assert_eq!(referrers["manifests"].as_array().unwrap().len(), 3);
        subjects.push(digest.to_owned());
    }
    assert_eq!(subjects.len(), 2, "amd64 and arm64: {index}");

    let out = c.run(&mut c.cmd(&["provenance", &image]));
    assert_ok(&out);
    let statements: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (statement, subject) in statements.as_array().unwrap().iter().zip(&subjects) {
        let about = statement["subject"][0]["digest"]["sha256"]
            .as_str()
            .unwrap();
        assert_eq!(format!("sha256:{about}"), *subject);
        let external = &statement["predicate"]["buildDefinition"]["externalParameters"];
        assert_eq!(external["recipe"]["source"], "family");
        assert_eq!(
            external["labels"],
            serde_json::json!({"org.example.team": "base"})
        );
        assert_eq!(
            external["platforms"],
            serde_json::json!(["linux/amd64", "linux/arm64"])
        );
        assert_eq!(
            external["annotations"]["org.opencontainers.image.version"],
            "1.0.0"
        );
        assert_eq!(external["sourceDateEpoch"], 1_700_000_000);
    }

    // Another SOURCE_DATE_EPOCH is named before rebuilding, and the rebuild differs.
    let out = c.run(&mut c.cmd(&["verify", "--rebuild", &image]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("set SOURCE_DATE_EPOCH=1700000000 to rebuild it alike"),
        "{}",
        text(&out)
    );

    // Rebuilt from the recipe the provenance names, with its label and annotations.
    let out = c.run(
        c.cmd(&["verify", "--rebuild", &image])
            .env("SOURCE_DATE_EPOCH", EPOCH),
    );
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("verified: the rebuild matches"),
        "{}",
        text(&out)
    );
}
