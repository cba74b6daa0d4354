use std::sync::Arc;

use plinth_oci::{Digest, MediaType, Platform, Reference};
use plinth_registry::{BlobOutcome, Error, NoTransferReporter};

use plinth_test::LocalRegistry;

use crate::{CountingReporter, chain, client, new_store, small_image};

fn skopeo_raw(image: &str) -> Vec<u8> {
    plinth_test::skopeo([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{image}"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_skip_mount_pull_round_trip() {
    let registry = LocalRegistry::shared();
    let (_d, store) = new_store();
    let image = small_image(&store);
    let c = client(&store);
    let blob_bytes = image.blob_bytes();

    // First push: everything goes up, children before the index.
    let target: Reference = format!("{}/plinth/push-a:1.0.0", registry.host())
        .parse()
        .unwrap();
    let reporter = Arc::new(CountingReporter::default());
    let report = c
        .push_image(image.digest(), &target, reporter.clone())
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(
        (
            report.blobs_uploaded,
            report.blobs_skipped,
            report.blobs_mounted
        ),
        (4, 0, 0),
        "{report:?}"
    );
    assert_eq!(report.bytes_uploaded, blob_bytes);
    assert_eq!(report.manifests_pushed, 3);
    assert_eq!(report.digest.as_ref(), Some(image.digest()));
    assert_eq!(reporter.count(BlobOutcome::Uploaded), 4);
    assert_eq!(
        *reporter.bytes.lock().unwrap(),
        blob_bytes,
        "progress adds up to the blob sizes"
    );
    let order = reporter.manifests.lock().unwrap().clone();
    assert_eq!(order.len(), 3);
    assert!(order[2].ends_with(":1.0.0"), "the tag goes last: {order:?}");

    // skopeo (another client) sees exactly the pushed index.
    let raw = skopeo_raw(&format!("{}/plinth/push-a:1.0.0", registry.host()));
    assert_eq!(&Digest::of(&raw), image.digest());
    assert_eq!(raw, store.read_blob(image.digest()).unwrap());

    // Second push of the same image: nothing is uploaded.
    let before = c.request_count();
    let reporter = Arc::new(CountingReporter::default());
    let again = c
        .push_image(image.digest(), &target, reporter.clone())
        .await
        .unwrap();
    assert_eq!(
        (
            again.blobs_uploaded,
            again.blobs_skipped,
            again.bytes_uploaded
        ),
        (0, 4, 0),
        "{again:?}"
    );
    assert_eq!(reporter.count(BlobOutcome::Uploaded), 0);
    assert!(again.unchanged, "{again:?}");
    assert_eq!(
        again.manifests_pushed, 0,
        "the tag already points at the image: nothing is written"
    );
    // One HEAD of the tag: it points at the image, so the registry has all the image names.
    assert_eq!(c.request_count() - before, 1);

    // Another repository on the same registry: blobs are mounted, not uploaded.
    let other: Reference = format!("{}/plinth/push-b:1.0.0", registry.host())
        .parse()
        .unwrap();
    let mounted = c
        .push_image(image.digest(), &other, Arc::new(NoTransferReporter))
        .await
        .unwrap();
    assert_eq!(
        (
            mounted.blobs_uploaded,
            mounted.blobs_mounted,
            mounted.bytes_uploaded
        ),
        (0, 4, 0),
        "{mounted:?}"
    );

    // Pull back into a fresh store: same digests, same bytes.
    let (_d2, store2) = new_store();
    let c2 = client(&store2);
    let pulled = c2
        .pull_image(&other, &[], Arc::new(NoTransferReporter))
        .await
        .unwrap();
    assert_eq!(&pulled, image.digest());
    assert_eq!(
        store2.read_blob(&pulled).unwrap(),
        store.read_blob(image.digest()).unwrap()
    );
    for d in image
        .blobs()
        .iter()
        .map(|b| b.digest.clone())
        .chain(image.manifests())
    {
        assert!(store2.has_blob(&d), "{d} missing after pull");
        assert_eq!(store2.blob_size(&d).unwrap(), store.blob_size(&d).unwrap());
    }

    // Pulling again downloads nothing.
    let reporter = Arc::new(CountingReporter::default());
    c2.pull_image(&other, &[], reporter.clone()).await.unwrap();
    assert_eq!(reporter.count(BlobOutcome::Downloaded), 0);
    assert_eq!(reporter.count(BlobOutcome::AlreadyLocal), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_one_platform_and_manifest_endpoints() {
    let registry = LocalRegistry::shared();
    let (_d, store) = new_store();
    let image = small_image(&store);
    let c = client(&store);
    let target: Reference = format!("{}/plinth/platforms:2.0.0", registry.host())
        .parse()
        .unwrap();
    c.push_image(image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .unwrap();

    let head = c.head_manifest(&target).await.unwrap().expect("tag exists");
    assert_eq!(&head.digest, image.digest());
    assert_eq!(head.media_type, MediaType::OciIndex);
    assert_eq!(head.size, image.index.size);
    assert!(
        c.head_manifest(&target.with_tag("nope").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let fetched = c
        .get_manifest(&target.with_digest(image.manifests()[1].clone()))
        .await
        .unwrap();
    assert_eq!(fetched.digest, image.manifests()[1]);
    assert!(
        c.blob_exists(&target, &image.platforms[0].config.digest)
            .await
            .unwrap()
    );
    assert!(
        !c.blob_exists(&target, &Digest::of(b"absent"))
            .await
            .unwrap()
    );

    // Only arm64: the amd64 manifest and layers stay away.
    let (_d2, store2) = new_store();
    let c2 = client(&store2);
    let root = c2
        .pull_image(
            &target,
            &[Platform::linux_arm64()],
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap();
    assert_eq!(&root, image.digest());
    let (amd64, arm64) = (&image.platforms[0], &image.platforms[1]);
    assert!(store2.has_blob(&arm64.manifest.digest) && !store2.has_blob(&amd64.manifest.digest));
    assert!(store2.has_blob(&arm64.layers[0].digest) && !store2.has_blob(&amd64.layers[0].digest));

    let err = c2
        .pull_image(
            &target,
            &["linux/s390x".parse().unwrap()],
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PlatformNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("linux/amd64") && err.to_string().contains("linux/s390x"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_content_missing_from_the_store_fails_clearly() {
    let registry = LocalRegistry::shared();
    let (_d, store) = new_store();
    let image = small_image(&store);
    let removed = image.platforms[1].layers[0].digest.clone();
    std::fs::remove_file(store.blob_path(&removed)).unwrap();
    let target: Reference = format!("{}/plinth/missing:1", registry.host())
        .parse()
        .unwrap();
    let err = client(&store)
        .push_image(image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingContent { .. }), "{err}");
    assert!(err.to_string().contains(&removed.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_hub_reads_go_to_the_mirror_first() {
    let registry = LocalRegistry::shared();
    let (_d, store) = new_store();
    let image = small_image(&store);
    let c = client(&store);
    // The mirror holds `library/mirrored`, as a pull-through cache would.
    let on_mirror: Reference = format!("{}/library/mirrored:1.0.0", registry.host())
        .parse()
        .unwrap();
    c.push_image(image.digest(), &on_mirror, Arc::new(NoTransferReporter))
        .await
        .unwrap();

    // Docker Hub itself is unreachable here: the pull can only succeed through the mirror.
    let (_d2, store2) = new_store();
    let mirrored = plinth_registry::Client::builder(store2.clone())
        .with_credentials(plinth_registry::Credentials::anonymous())
        .with_docker_hub_mirror(registry.host())
        .with_retry_policy(crate::fast_retry())
        .build()
        .unwrap();
    let hub: Reference = "mirrored:1.0.0".parse().unwrap();
    assert_eq!(hub.registry(), "docker.io");
    let digest = mirrored
        .pull_image(
            &hub,
            &[Platform::linux_amd64()],
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap();
    assert_eq!(&digest, image.digest());
    assert!(store2.has_blob(&image.platforms[0].layers[0].digest));
    assert_eq!(
        mirrored
            .head_manifest(&hub)
            .await
            .unwrap()
            .map(|i| i.digest),
        Some(image.digest().clone())
    );
}
