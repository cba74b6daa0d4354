//! The push and pull paths under injected faults: a `FaultProxy` in front of the real registry
//! answers 429s and 5xxs, resets connections in the middle of blob bodies and slows everything
//! down. Each push must complete, or fail with a clear error and no tag pointing at anything;
//! the registry is checked directly afterwards, never through the proxy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plinth_oci::{Digest, Reference, Store};
use plinth_registry::{BlobOutcome, Client, Error, NoTransferReporter, RetryPolicy};
use plinth_test::images::BusyboxImage;
use plinth_test::proxy::{Fault, RequestKind, RequestMatcher, Rule};
use plinth_test::{FaultProxy, LocalRegistry};

use crate::{BIG_LAYER, CountingReporter, big_image, chain, client, client_for, new_store};

/// A fresh store with the big image, a proxy in front of the shared registry, and a client that
/// goes through the proxy.
struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    image: BusyboxImage,
    registry: &'static LocalRegistry,
    proxy: FaultProxy,
}

impl Setup {
    fn new() -> Self {
        let (dir, store) = new_store();
        let image = big_image(&store);
        let registry = LocalRegistry::shared();
        let proxy = FaultProxy::start(registry);
        Self {
            _dir: dir,
            store,
            image,
            registry,
            proxy,
        }
    }

    /// `repo:tag` through the proxy.
    fn via_proxy(&self, repo_and_tag: &str) -> Reference {
        self.proxy.image(repo_and_tag).parse().unwrap()
    }

    /// `repo:tag` on the registry itself, bypassing the proxy.
    fn direct(&self, repo_and_tag: &str) -> Reference {
        self.registry.image(repo_and_tag).parse().unwrap()
    }

    fn client(&self) -> Client {
        client(&self.store)
    }

    fn big_layer(&self) -> Digest {
        self.image.big_layer.clone().unwrap().digest
    }

    fn blob_count(&self) -> usize {
        self.image.blobs().len()
    }

    /// Pulls `reference` straight from the registry into a fresh store: every blob and manifest
    /// is verified against its digest on the way in.
    async fn pull_back_directly(&self, reference: &Reference) {
        let (_d, fresh) = new_store();
        let root = client(&fresh)
            .pull_image(reference, &[], Arc::new(NoTransferReporter))
            .await
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        assert_eq!(&root, self.image.digest());
        for blob in self.image.blobs() {
            assert_eq!(fresh.blob_size(&blob.digest).unwrap(), blob.size);
            assert_eq!(
                Digest::of(&fresh.read_blob(&blob.digest).unwrap()),
                blob.digest
            );
            assert!(self.registry.has_blob_on_disk(&blob.digest.to_string()));
        }
    }

    /// The registry has no tag `repo:tag`, and not the index either.
    async fn assert_nothing_tagged(&self, repo_and_tag: &str) {
        let direct = client(&self.store);
        let tag = self.direct(repo_and_tag);
        assert_eq!(
            direct.head_manifest(&tag).await.unwrap(),
            None,
            "no tag may point at a partial image"
        );
        let index = tag
            .repository_only()
            .with_digest(self.image.digest().clone());
        assert_eq!(direct.head_manifest(&index).await.unwrap(), None);
    }
}

/// Pushes and panics with the error chain and the proxy's counts on failure.
async fn push_ok(
    client: &Client,
    image: &BusyboxImage,
    target: &Reference,
    proxy: &FaultProxy,
) -> plinth_registry::PushReport {
    let reporter = Arc::new(CountingReporter::default());
    let report = client
        .push_image(image.digest(), target, reporter.clone())
        .await
        .unwrap_or_else(|e| panic!("{}\nrequests: {:?}", chain(&e), proxy.counts()));
    assert_eq!(report.digest.as_ref(), Some(image.digest()));
    assert_eq!(
        reporter.count(BlobOutcome::Uploaded),
        image.blobs().len(),
        "each blob is reported done once, retries or not"
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_on_heads_and_upload_starts_honours_retry_after() {
    let s = Setup::new();
    let heads = s
        .proxy
        .add_rule(Rule::on_kind(RequestKind::HeadBlob, Fault::too_many_requests(1)).times(2));
    let posts = s
        .proxy
        .add_rule(Rule::on_kind(RequestKind::StartUpload, Fault::too_many_requests(1)).times(2));
    let target = s.via_proxy("faults/throttled:1.0.0");
    let start = Instant::now();
    let report = push_ok(&s.client(), &s.image, &target, &s.proxy).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1),
        "`Retry-After: 1` was not honoured (the retry policy alone waits 20 ms): {elapsed:?}"
    );
    assert_eq!((s.proxy.fired(heads), s.proxy.fired(posts)), (2, 2));
    let n = s.blob_count();
    assert_eq!(report.blobs_uploaded, n);
    assert_eq!(
        s.proxy.count(RequestKind::HeadBlob),
        n + 2,
        "{:?}",
        s.proxy.counts()
    );
    assert_eq!(
        s.proxy.count(RequestKind::StartUpload),
        n + 2,
        "{:?}",
        s.proxy.counts()
    );
    s.pull_back_directly(&s.direct("faults/throttled:1.0.0"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_on_a_streamed_patch_restarts_after_retry_after() {
    // A streamed body cannot be resent by the request loop, so the upload restarts; the wait
    // must still be the registry's, not the policy's 20 ms.
    let s = Setup::new();
    let patch = s.proxy.add_rule(Rule::on_kind(
        RequestKind::PatchUpload,
        Fault::too_many_requests(2),
    ));
    let target = s.via_proxy("faults/throttled-patch:1");
    let start = Instant::now();
    push_ok(&s.client(), &s.image, &target, &s.proxy).await;
    let elapsed = start.elapsed();
    assert_eq!(s.proxy.fired(patch), 1);
    assert!(
        elapsed >= Duration::from_secs(2),
        "Retry-After: 2 ignored: {elapsed:?}"
    );
    // The throttled upload starts over in a new session.
    let n = s.blob_count();
    assert_eq!(
        s.proxy.count(RequestKind::StartUpload),
        n + 1,
        "{:?}",
        s.proxy.counts()
    );
    s.pull_back_directly(&s.direct("faults/throttled-patch:1"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_on_blob_uploads_and_manifests_are_retried() {
    let s = Setup::new();
    let patch = s
        .proxy
        .add_rule(Rule::on_kind(RequestKind::PatchUpload, Fault::status(500)));
    let put_blob = s
        .proxy
        .add_rule(Rule::on_kind(RequestKind::PutBlob, Fault::status(502)).times(2));
    let put_manifest = s
        .proxy
        .add_rule(Rule::on_kind(RequestKind::PutManifest, Fault::status(503)).times(2));
    let target = s.via_proxy("faults/server-errors:1.0.0");
    let report = push_ok(&s.client(), &s.image, &target, &s.proxy).await;
    assert_eq!(
        (
            s.proxy.fired(patch),
            s.proxy.fired(put_blob),
            s.proxy.fired(put_manifest)
        ),
        (1, 2, 2)
    );
    let n = s.blob_count();
    assert_eq!(report.blobs_uploaded, n);
    assert_eq!(report.manifests_pushed, 3);
    // Three failed uploads start over: three more sessions.
    assert_eq!(
        s.proxy.count(RequestKind::StartUpload),
        n + 3,
        "{:?}",
        s.proxy.counts()
    );
    assert_eq!(
        s.proxy.count(RequestKind::PutBlob),
        n + 2,
        "{:?}",
        s.proxy.counts()
    );
    assert_eq!(s.proxy.count(RequestKind::PutManifest), 3 + 2);
    s.pull_back_directly(&s.direct("faults/server-errors:1.0.0"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_in_the_middle_of_an_upload_restarts_in_a_new_session() {
    let s = Setup::new();
    let big = s.big_layer();
    // Busybox layers go up in one `PUT`, the big one with `PATCH` + `PUT`: reset one of each.
    let c = client_for(&s.store)
        .with_monolithic_limit(3 << 20)
        .build()
        .unwrap();
    let busybox = s.image.platforms[0].layers[0].clone();
    let cut = 1 << 20;
    let patch = s.proxy.add_rule(Rule::on_kind(
        RequestKind::PatchUpload,
        Fault::ResetRequestAfter(cut),
    ));
    let put = s.proxy.add_rule(Rule::on(
        "PUT",
        busybox.digest.hex(),
        Fault::ResetRequestAfter(busybox.size / 2),
    ));
    let target = s.via_proxy("faults/reset-upload:1.0.0");
    push_ok(&c, &s.image, &target, &s.proxy).await;
    assert_eq!((s.proxy.fired(patch), s.proxy.fired(put)), (1, 1));

    let requests = s.proxy.requests();
    let patches: Vec<_> = requests
        .iter()
        .filter(|r| r.kind == RequestKind::PatchUpload)
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert_eq!(patches[0].status, None, "the client got no answer");
    assert_eq!(patches[0].request_body_bytes, cut, "cut mid-body");
    assert_eq!(patches[1].status, Some(202));
    assert!(patches[1].request_body_bytes > BIG_LAYER);
    assert_ne!(
        patches[0].path, patches[1].path,
        "the restart uses a new upload session"
    );
    let busybox_puts: Vec<_> = requests
        .iter()
        .filter(|r| {
            r.kind == RequestKind::PutBlob
                && r.query
                    .as_deref()
                    .is_some_and(|q| q.contains(busybox.digest.hex()))
        })
        .collect();
    assert_eq!(busybox_puts.len(), 2);
    assert_eq!(busybox_puts[0].status, None);
    assert_eq!(busybox_puts[1].status, Some(201));
    assert_ne!(busybox_puts[0].path, busybox_puts[1].path);
    assert!(s.registry.has_blob_on_disk(&big.to_string()));
    s.pull_back_directly(&s.direct("faults/reset-upload:1.0.0"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_in_the_middle_of_a_download_is_retried_and_verified() {
    let s = Setup::new();
    // Pushed directly: only the pull goes through the proxy.
    client(&s.store)
        .push_image(
            s.image.digest(),
            &s.direct("faults/reset-download:1"),
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap();
    let big = s.big_layer();
    let cut = 1 << 20;
    let reset = s.proxy.add_rule(
        Rule::new(
            RequestMatcher::method_path("GET", &format!("/blobs/sha256:{}", big.hex())),
            Fault::ResetResponseAfter(cut),
        )
        .times(2),
    );
    let (_d, fresh) = new_store();
    let reporter = Arc::new(CountingReporter::default());
    let root = client(&fresh)
        .pull_image(
            &s.via_proxy("faults/reset-download:1"),
            &[],
            reporter.clone(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}\n{:?}", chain(&e), s.proxy.counts()));
    assert_eq!(&root, s.image.digest());
    assert_eq!(s.proxy.fired(reset), 2);
    let gets: Vec<_> = s
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::GetBlob && r.path.ends_with(big.hex()))
        .collect();
    assert_eq!(gets.len(), 3, "two broken downloads, then a whole one");
    assert!(gets[..2].iter().all(|g| g.response_body_bytes == cut));
    assert_eq!(reporter.count(BlobOutcome::Downloaded), s.blob_count());
    for blob in s.image.blobs() {
        let bytes = fresh.read_blob(&blob.digest).unwrap();
        assert_eq!(Digest::of(&bytes), blob.digest);
        assert_eq!(bytes.len() as u64, blob.size);
    }
    // No partial download is left behind in the store's temp directory.
    let leftovers: Vec<_> = std::fs::read_dir(fresh.root().join("tmp"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".blob-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_and_a_stalled_one_still_complete() {
    let s = Setup::new();
    // The first manifest PUT stalls past the read timeout; everything else is merely slow.
    let stall = s.proxy.add_rule(Rule::on_kind(
        RequestKind::PutManifest,
        Fault::Delay(Duration::from_secs(3)),
    ));
    let slow = s.proxy.add_rule(
        Rule::new(
            RequestMatcher::any(),
            Fault::Delay(Duration::from_millis(150)),
        )
        .always(),
    );
    let c = client_for(&s.store)
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(1))
        .build()
        .unwrap();
    let target = s.via_proxy("faults/slow:1.0.0");
    let start = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(60),
        push_ok(&c, &s.image, &target, &s.proxy),
    )
    .await
    .expect("the push finishes within a minute");
    assert_eq!(s.proxy.fired(stall), 1);
    assert!(s.proxy.fired(slow) as usize >= 2 * s.blob_count());
    assert!(start.elapsed() >= Duration::from_secs(1));
    // The stalled PUT timed out and was sent again (it may also have landed: PUTs are idempotent).
    assert!(s.proxy.count(RequestKind::PutManifest) >= 4);
    s.pull_back_directly(&s.direct("faults/slow:1.0.0")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_blob_failure_fails_clearly_and_tags_nothing() {
    let s = Setup::new();
    let big = s.big_layer();
    let rule = s.proxy.add_rule(
        Rule::new(
            RequestMatcher::method_path("PUT", big.hex()),
            Fault::status(500),
        )
        .always(),
    );
    let target = s.via_proxy("faults/persistent-blob:1.0.0");
    let err = s
        .client()
        .push_image(s.image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .expect_err("a blob that never goes up fails the push");
    let text = chain(&err);
    let Error::PushBlob { digest, .. } = &err else {
        panic!("expected a blob error: {text}")
    };
    assert_eq!(digest, &big, "{text}");
    assert_eq!(err.status(), Some(500), "{text}");
    // Which blob, where, what the registry said; the upload's signed state is not shown.
    for needle in [
        big.to_string().as_str(),
        "faults/persistent-blob",
        "uploading a blob to `127.0.0.1:",
        "failed: the registry answered HTTP 500 UNKNOWN (injected by the test fault proxy)",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    assert!(!text.contains("_state="), "{text}");
    assert_eq!(
        s.proxy.fired(rule),
        RetryPolicy::default().max_attempts,
        "every attempt was a fresh upload that failed"
    );
    assert_eq!(
        s.proxy.count(RequestKind::PutManifest),
        0,
        "no manifest after a failed blob"
    );
    s.assert_nothing_tagged("faults/persistent-blob:1.0.0")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_tag_failure_leaves_no_tag_and_keeps_an_old_one() {
    let s = Setup::new();
    let rule = s
        .proxy
        .add_rule(Rule::on("PUT", r"/manifests/1\.0\.0$", Fault::status(500)).always());
    let target = s.via_proxy("faults/persistent-tag:1.0.0");
    let err = s
        .client()
        .push_image(s.image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .expect_err("the tag never goes up");
    let text = chain(&err);
    let Error::PushManifest {
        digest, reference, ..
    } = &err
    else {
        panic!("expected a manifest error: {text}")
    };
    assert_eq!(digest, s.image.digest());
    assert!(reference.ends_with("faults/persistent-tag:1.0.0"), "{text}");
    assert_eq!(err.status(), Some(500));
    assert!(
        text.contains("pushing tag `1.0.0` to `127.0.0.1:")
            && text.contains("failed: the registry answered HTTP 500"),
        "{text}"
    );
    assert_eq!(s.proxy.fired(rule), RetryPolicy::default().max_attempts);
    s.assert_nothing_tagged("faults/persistent-tag:1.0.0").await;
    // The platform manifests went up by digest first, which is harmless: nothing names them.
    let direct = client(&s.store);
    for m in s.image.manifests() {
        let by_digest = s
            .direct("faults/persistent-tag:1.0.0")
            .repository_only()
            .with_digest(m.clone());
        assert!(direct.head_manifest(&by_digest).await.unwrap().is_some());
    }

    // A tag that exists keeps pointing where it did when moving it fails.
    let (_d, other_store) = new_store();
    let old = crate::small_image(&other_store);
    client(&other_store)
        .push_image(
            old.digest(),
            &s.direct("faults/persistent-tag:1.0.0"),
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap();
    s.client()
        .push_image(s.image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .expect_err("the tag still cannot be written");
    let now = direct
        .head_manifest(&s.direct("faults/persistent-tag:1.0.0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&now.digest, old.digest());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_a_finished_upload_sends_nothing_twice() {
    let s = Setup::new();
    let big = s.big_layer();
    // The registry commits the big layer, but its answer never reaches the client.
    let lost = s.proxy.add_rule(Rule::new(
        RequestMatcher::method_path("PUT", big.hex()),
        Fault::DropResponse,
    ));
    let target = s.via_proxy("faults/lost-answer:1.0.0");
    push_ok(&s.client(), &s.image, &target, &s.proxy).await;
    assert_eq!(s.proxy.fired(lost), 1);
    let n = s.blob_count();
    // A HEAD after the failure finds the blob: no second session, no second 4 MiB.
    assert_eq!(
        s.proxy.count(RequestKind::StartUpload),
        n,
        "{:?}",
        s.proxy.counts()
    );
    assert_eq!(s.proxy.count(RequestKind::HeadBlob), n + 1);
    let sent: u64 = s
        .proxy
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::PatchUpload)
        .map(|r| r.request_body_bytes)
        .sum();
    assert!(
        sent < 2 * BIG_LAYER,
        "the big layer went up once: {sent} bytes"
    );
    s.pull_back_directly(&s.direct("faults/lost-answer:1.0.0"))
        .await;
}
