//! `FaultProxy` in front of a real registry: counting, rewriting and every kind of fault.

use std::time::{Duration, Instant};

use plinth_test::proxy::{Fault, RequestKind, RequestMatcher, Rule};
use plinth_test::{FaultProxy, LocalRegistry};
use reqwest::StatusCode;

use crate::client::{
    client, digest, location, manifest_json, push_blob, put_manifest, start_upload,
};

#[tokio::test]
async fn pass_through_counts_calls_and_rewrites_locations() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    // A pooling client: several requests share one proxied connection.
    let client = reqwest::Client::new();
    let base = proxy.url();

    let location = start_upload(&client, &base, "selftest/pass").await;
    assert!(
        location.starts_with(&format!("{}/v2/selftest/pass/blobs/uploads/", proxy.url())),
        "{location}"
    );
    let data = vec![7u8; 300_000];
    let patched = client
        .patch(&location)
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::ACCEPTED);
    let location = crate::client::location(&patched);
    assert!(location.starts_with(&proxy.url()), "{location}");
    let blob = digest(&data);
    let put = client
        .put(format!("{location}&digest={blob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let head = client
        .head(format!("{base}/v2/selftest/pass/blobs/{blob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let get = client
        .get(format!("{base}/v2/selftest/pass/blobs/{blob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.bytes().await.unwrap().len(), data.len());

    let counts = proxy.counts();
    for kind in [
        RequestKind::StartUpload,
        RequestKind::PatchUpload,
        RequestKind::PutBlob,
        RequestKind::HeadBlob,
    ] {
        assert_eq!(counts.get(&kind), Some(&1), "{kind:?} in {counts:?}");
    }
    assert_eq!(proxy.count_matching("PATCH", "/blobs/uploads/"), 1);
    assert_eq!(proxy.count_matching("*", r"digest=sha256:"), 1);
    let requests = proxy.requests();
    let statuses: Vec<Option<u16>> = requests.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Some(202), Some(202), Some(201), Some(200), Some(200)]
    );
    let patch = &requests[1];
    assert_eq!(patch.request_body_bytes, data.len() as u64);
    assert_eq!(patch.content_length, Some(data.len() as u64));
    assert!(requests.iter().all(|r| r.fault.is_none()));
    assert_eq!(requests[4].response_body_bytes, data.len() as u64);
}

#[tokio::test]
async fn too_many_requests_with_retry_after_for_the_first_k() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    let client = client();
    let blob = push_blob(
        &client,
        &registry.url(),
        "selftest/429",
        b"rate limited blob",
    )
    .await;
    let rule =
        proxy.add_rule(Rule::on_kind(RequestKind::HeadBlob, Fault::too_many_requests(2)).times(2));
    let url = format!("{}/v2/selftest/429/blobs/{blob}", proxy.url());

    for _ in 0..2 {
        let response = client.head(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "2");
    }
    let response = client.head(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(proxy.fired(rule), 2);
    assert_eq!(proxy.count(RequestKind::HeadBlob), 3);
    let faults: Vec<_> = proxy.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            Some(Fault::too_many_requests(2)),
            Some(Fault::too_many_requests(2)),
            None
        ]
    );

    // A GET gets a distribution error body.
    proxy.add_rule(Rule::on(
        "GET",
        "/blobs/sha256:",
        Fault::too_many_requests(1),
    ));
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.text().await.unwrap().contains("TOOMANYREQUESTS"));
}

#[tokio::test]
async fn server_errors_read_the_body_then_answer_and_later_requests_pass() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    let client = client();
    let base = proxy.url();
    proxy.add_rule(Rule::on_kind(RequestKind::PatchUpload, Fault::status(502)));
    proxy.add_rule(
        Rule::on_kind(RequestKind::PutManifest, Fault::status(503))
            .after(1)
            .times(1),
    );
    proxy.add_rule(
        Rule::new(
            RequestMatcher::kind(RequestKind::PutManifest),
            Fault::status(500),
        )
        .after(2),
    );

    let location = start_upload(&client, &base, "selftest/5xx").await;
    let response = client
        .patch(&location)
        .body(vec![1u8; 200_000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let failed_patch = &proxy.requests()[1];
    assert_eq!(
        failed_patch.request_body_bytes, 200_000,
        "the injected 502 must consume the body"
    );

    let config = push_blob(&client, &base, "selftest/5xx", b"{}").await;
    let layer = push_blob(&client, &base, "selftest/5xx", b"layer").await;
    let manifest = manifest_json(&config, 2, &layer, 5);
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(
                put_manifest(&client, &base, "selftest/5xx", "1", &manifest)
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
            );
        }
        statuses
    };
    // First passes (the 503 rule skips one), second gets 503, third gets the 500 rule (which
    // skipped two), fourth passes again.
    assert_eq!(statuses, [201, 503, 500, 201]);
}

#[tokio::test]
async fn reset_in_the_middle_of_a_blob_upload() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    let client = client();
    let base = proxy.url();
    let cut = 64 * 1024;
    proxy.add_rule(Rule::on_kind(
        RequestKind::PatchUpload,
        Fault::ResetRequestAfter(cut),
    ));

    let location = start_upload(&client, &base, "selftest/reset-up").await;
    // Stream the body in chunks, as a real pusher does.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![9u8; 16 * 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let result = client.patch(&location).body(body).send().await;
    assert!(
        result.is_err(),
        "the client should see a broken connection, got {result:?}"
    );
    let patch = proxy
        .requests()
        .into_iter()
        .find(|r| r.kind == RequestKind::PatchUpload)
        .unwrap();
    assert_eq!(patch.status, None);
    assert_eq!(patch.request_body_bytes, cut);
    assert_eq!(patch.fault, Some(Fault::ResetRequestAfter(cut)));

    // The next upload through the same proxy works.
    let blob = push_blob(&client, &base, "selftest/reset-up", &vec![3u8; 1 << 20]).await;
    assert!(registry.has_blob_on_disk(&blob));
}

#[tokio::test]
async fn reset_in_the_middle_of_a_blob_download() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    let client = client();
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let blob = push_blob(&client, &registry.url(), "selftest/reset-down", &data).await;
    let cut = 300_000;
    proxy.add_rule(Rule::on_kind(
        RequestKind::GetBlob,
        Fault::ResetResponseAfter(cut),
    ));

    let url = format!("{}/v2/selftest/reset-down/blobs/{blob}", proxy.url());
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let result = response.bytes().await;
    assert!(
        result.is_err(),
        "the download should break, got {} bytes",
        result.map(|b| b.len()).unwrap_or(0)
    );
    let get = proxy
        .requests()
        .into_iter()
        .find(|r| r.kind == RequestKind::GetBlob)
        .unwrap();
    assert_eq!(get.response_body_bytes, cut);
    assert_eq!(get.status, Some(200));

    // A ranged retry through the proxy passes.
    let rest = client
        .get(&url)
        .header("range", format!("bytes={cut}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&rest.bytes().await.unwrap()[..], &data[cut as usize..]);
}

#[tokio::test]
async fn dropped_response_after_the_registry_acted() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    let client = client();
    let config = push_blob(&client, &registry.url(), "selftest/drop", b"{}").await;
    let layer = push_blob(&client, &registry.url(), "selftest/drop", b"layer").await;
    let manifest = manifest_json(&config, 2, &layer, 5);
    proxy.add_rule(Rule::on_kind(RequestKind::PutManifest, Fault::DropResponse));

    let result = put_manifest(&client, &proxy.url(), "selftest/drop", "dropped", &manifest).await;
    assert!(
        result.is_err(),
        "the client must get no answer, got {result:?}"
    );
    assert_eq!(proxy.requests()[0].status, None);
    // The registry stored it anyway.
    let stored = client
        .get(format!(
            "{}/v2/selftest/drop/manifests/dropped",
            registry.url()
        ))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(stored.text().await.unwrap(), manifest);
}

#[tokio::test]
async fn latency_and_mount_counting() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    let client = client();
    let blob = push_blob(&client, &registry.url(), "selftest/mount-src", b"mount me").await;
    proxy.add_rule(Rule::on_kind(
        RequestKind::MountBlob,
        Fault::Delay(Duration::from_millis(300)),
    ));

    let started = Instant::now();
    let url = format!(
        "{}/v2/selftest/mount-dst/blobs/uploads/?mount={blob}&from=selftest/mount-src",
        proxy.url()
    );
    let response = client.post(&url).send().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "no latency was added"
    );
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(location(&response).starts_with(&proxy.url()));
    assert_eq!(proxy.count(RequestKind::MountBlob), 1);
    assert_eq!(proxy.count(RequestKind::StartUpload), 0);
    assert_eq!(proxy.count_matching("POST", "mount="), 1);
}

#[test]
fn works_from_sync_tests_and_streams_large_bodies() {
    let registry = LocalRegistry::start();
    let proxy = FaultProxy::start(&registry);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = client();
        let data = vec![0x5au8; 48 << 20];
        let blob = push_blob(&client, &proxy.url(), "selftest/large", &data).await;
        assert!(registry.has_blob_on_disk(&blob));
    });
    let patch = proxy
        .requests()
        .into_iter()
        .find(|r| r.kind == RequestKind::PatchUpload)
        .unwrap();
    assert_eq!(patch.request_body_bytes, 48 << 20);
    proxy.clear_requests();
    assert!(proxy.requests().is_empty());
}
