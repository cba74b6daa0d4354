//! OCI 1.1 referrers on distribution 2.x, which has no referrers API: artifacts attached to a
//! platform manifest are listed under the `sha256-<hex>` tag, read-modify-write.

use std::collections::BTreeMap;
use std::sync::Arc;

use plinth_oci::{Artifact, Descriptor, ImageManifest, Reference};
use plinth_registry::{NoTransferReporter, ReferrersDiscovery, referrers_tag};
use plinth_test::LocalRegistry;

use crate::{client, new_store, small_image};

fn artifact(kind: &str, payload: &str) -> Artifact {
    Artifact {
        artifact_type: format!("application/vnd.example.{kind}+json"),
        payload_media_type: "application/json".into(),
        payload: payload.as_bytes().to_vec(),
        annotations: BTreeMap::from([("org.example.kind".to_owned(), kind.to_owned())]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_artifacts_are_listed_under_the_referrers_tag_and_read_back() {
    let registry = LocalRegistry::shared();
    let (_dir, store) = new_store();
    let image = small_image(&store);
    let c = client(&store);
    let target: Reference = registry.image("referrers/app:1.0.0").parse().unwrap();
    c.push_image(image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .unwrap();
    let subject = store
        .descriptor_of(&image.manifests()[0])
        .expect("the platform manifest is in the store");

    // Nothing attached yet: an empty list, found through the fallback (no API here).
    let none = c.referrers(&target, &subject.digest).await.unwrap();
    assert_eq!(none.discovery, ReferrersDiscovery::TagSchema);
    assert!(none.manifests.is_empty());

    let first = artifact("provenance", r#"{"a":1}"#)
        .write(&store, &subject)
        .unwrap();
    let second = artifact("checks", r#"{"b":2}"#)
        .write(&store, &subject)
        .unwrap();
    // Two writers at once: the read-modify-write keeps both entries.
    let (a, b) = tokio::join!(
        c.attach(&target, &first.digest, Arc::new(NoTransferReporter)),
        c.attach(&target, &second.digest, Arc::new(NoTransferReporter))
    );
    assert_eq!(a.unwrap(), ReferrersDiscovery::TagSchema);
    assert_eq!(b.unwrap(), ReferrersDiscovery::TagSchema);
    // Attaching again changes nothing.
    c.attach(&target, &first.digest, Arc::new(NoTransferReporter))
        .await
        .unwrap();

    // A fresh client with an empty store finds both through the tag.
    let (_other_dir, other_store) = new_store();
    let reader = client(&other_store);
    let listed = reader.referrers(&target, &subject.digest).await.unwrap();
    assert_eq!(listed.discovery, ReferrersDiscovery::TagSchema);
    let mut digests: Vec<_> = listed.manifests.iter().map(|d| d.digest.clone()).collect();
    digests.sort();
    let mut expected = vec![first.digest.clone(), second.digest.clone()];
    expected.sort();
    assert_eq!(digests, expected);
    let provenance: Vec<&Descriptor> = listed
        .of_type("application/vnd.example.provenance+json")
        .collect();
    assert_eq!(provenance.len(), 1);
    assert_eq!(provenance[0].digest, first.digest);
    assert_eq!(
        provenance[0].annotations["org.example.kind"], "provenance",
        "the listing carries the artifact's annotations"
    );

    // The artifact manifest and its payload come back byte for byte.
    let fetched = reader
        .get_manifest(&target.repository_only().with_digest(first.digest.clone()))
        .await
        .unwrap();
    let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes).unwrap();
    assert_eq!(manifest.subject.unwrap().digest, subject.digest);
    let layer = &manifest.layers[0];
    reader
        .get_blob(&target, layer, &NoTransferReporter)
        .await
        .expect("the payload blob is in the repository");
    assert_eq!(other_store.read_blob(&layer.digest).unwrap(), br#"{"a":1}"#);

    // The tag is the one the distribution spec names, and skopeo reads it as an OCI index.
    let tag = registry.image(&format!("referrers/app:{}", referrers_tag(&subject.digest)));
    let index = plinth_test::skopeo_json([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{tag}"),
    ]);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}
