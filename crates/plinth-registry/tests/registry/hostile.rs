//! Hostile and absent registries: bodies that never end, sizes that lie, bytes that trickle, and
//! addresses where nothing listens. Each download stops early with an error naming the cause,
//! and an unreachable registry fails at once with a way out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plinth_oci::{Descriptor, Reference};
use plinth_registry::{Client, Error, MinTransferRate, NoTransferReporter};
use plinth_test::proxy::{Fault, RequestKind, Rule};
use plinth_test::{FaultProxy, LocalRegistry};

use crate::{chain, client, client_for, new_store, small_image};

/// The small image pushed straight to the shared registry, and a proxy in front of it.
async fn pushed(repo: &str) -> (FaultProxy, plinth_test::images::BusyboxImage, String) {
    let registry = LocalRegistry::shared();
    let (_d, store) = new_store();
    let image = small_image(&store);
    let target: Reference = registry.image(&format!("{repo}:1")).parse().unwrap();
    client(&store)
        .push_image(image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    (FaultProxy::start(registry), image, format!("{repo}:1"))
}

/// Bounds a test that would otherwise hang on today's code.
async fn within<T>(limit: Duration, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("still running after {limit:?}"))
}

/// Pulls `reference` with `client`, which must fail (`why` says why it should) within a minute;
/// the error and how long it took.
async fn pull_err(client: &Client, reference: &Reference, why: &str) -> (Error, Duration) {
    let started = Instant::now();
    let err = within(
        Duration::from_secs(60),
        client.pull_image(reference, &[], Arc::new(NoTransferReporter)),
    )
    .await
    .expect_err(why);
    (err, started.elapsed())
}

/// Pulls `reference` into a fresh store with a default client, which must fail.
async fn pull_with_defaults_err(reference: &str, why: &str) -> (Error, Duration) {
    let (_d, store) = new_store();
    let client = Client::builder(store.clone()).build().unwrap();
    pull_err(&client, &reference.parse().unwrap(), why).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_blob_body_stops_past_the_descriptor_size_without_retries() {
    let (proxy, image, name) = pushed("plinth/hostile-endless").await;
    proxy.add_rule(Rule::on_kind(RequestKind::GetBlob, Fault::EndlessBody).always());
    let (_d, store) = new_store();
    let reference: Reference = proxy.image(&name).parse().unwrap();
    let (err, _) = pull_err(&client(&store), &reference, "no blob can come down").await;
    let text = chain(&err);
    assert!(matches!(err, Error::BlobTooLarge { .. }), "{text}");
    assert!(text.contains("sent more than the"), "{text}");
    // Each blob was asked for once: garbage is not fetched again.
    let gets = proxy.count(RequestKind::GetBlob);
    assert!(gets <= image.blobs().len(), "{gets} blob GETs");
    // Sent by the proxy (what the client read, plus what socket buffers held): bounded.
    let sent: u64 = proxy
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::GetBlob)
        .map(|r| r.response_body_bytes)
        .sum();
    assert!(sent < 64 << 20, "{sent} bytes sent");
    for blob in image.blobs() {
        assert!(!store.has_blob(&blob.digest));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_larger_than_its_descriptor_is_refused() {
    let (_proxy, image, name) = pushed("plinth/hostile-lying-size").await;
    let registry = LocalRegistry::shared();
    let reference: Reference = registry.image(&name).parse().unwrap();
    let layer = image.platforms[0].layers[0].clone();
    let lying = Descriptor {
        size: layer.size - 1,
        ..layer.clone()
    };
    let (_d, store) = new_store();
    let err = client(&store)
        .get_blob(&reference, &lying, &NoTransferReporter)
        .await
        .expect_err("the registry sends one byte more than declared");
    assert!(
        matches!(&err, Error::BlobTooLarge { size, .. } if *size == layer.size - 1),
        "{}",
        chain(&err)
    );
    assert!(!store.has_blob(&layer.digest));
    // With the true size the same blob comes down.
    client(&store)
        .get_blob(&reference, &layer, &NoTransferReporter)
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert!(store.has_blob(&layer.digest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_manifest_hits_the_document_deadline() {
    let (proxy, _image, name) = pushed("plinth/hostile-trickle-manifest").await;
    proxy.add_rule(
        Rule::on_kind(
            RequestKind::GetManifest,
            Fault::Trickle(Duration::from_millis(200)),
        )
        .always(),
    );
    let (_d, store) = new_store();
    let c = client_for(&store)
        .with_document_deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    let reference: Reference = proxy.image(&name).parse().unwrap();
    let (err, elapsed) = pull_err(&c, &reference, "the manifest never ends").await;
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    let text = chain(&err);
    assert!(
        text.contains("timed out") || text.contains("timeout"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_blob_fails_under_the_minimum_rate() {
    let (proxy, _image, name) = pushed("plinth/hostile-trickle-blob").await;
    proxy.add_rule(
        Rule::on_kind(
            RequestKind::GetBlob,
            Fault::Trickle(Duration::from_millis(100)),
        )
        .always(),
    );
    let (_d, store) = new_store();
    let c = client_for(&store)
        .with_min_transfer_rate(MinTransferRate {
            bytes: 1024,
            window: Duration::from_secs(1),
        })
        .build()
        .unwrap();
    let reference: Reference = proxy.image(&name).parse().unwrap();
    let (err, elapsed) = pull_err(&c, &reference, "10 bytes a second is too slow").await;
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert!(matches!(err, Error::TooSlow { .. }), "{}", chain(&err));
}

/// A port where nothing listens: reported at once as unreachable, not after ~14 s of retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_fails_within_three_seconds_with_the_cause() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (err, elapsed) = pull_with_defaults_err(
        &format!("127.0.0.1:{port}/plinth/absent:1"),
        "nothing listens there",
    )
    .await;
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let text = chain(&err);
    assert!(matches!(err, Error::Unreachable { .. }), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(
        text.contains("check that the registry is running"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

/// Docker Hub is not reachable from the test machines: the error says how to build without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_docker_hub_names_the_way_out() {
    let (err, elapsed) = pull_with_defaults_err(
        "docker.io/library/python:3.11-slim",
        "Docker Hub is not reachable here",
    )
    .await;
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let text = chain(&err);
    assert!(text.contains("--registry-mirror"), "{text}");
    assert!(text.contains("--substitute-image"), "{text}");
}
