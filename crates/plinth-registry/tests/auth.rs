//! Authentication against a real registry, with every log line captured: no credential may
//! appear in any error or log output. A binary of its own, because it installs the global
//! `tracing` subscriber.

#![allow(missing_docs)]

use std::sync::{Arc, Mutex};

use plinth_oci::{Reference, Store};
use plinth_registry::{
    Client, ClientBuilder, Credential, Credentials, Error, NoTransferReporter, PushReport, Secret,
};
use plinth_test::images::BusyboxImage;
use plinth_test::proxy::{Fault, RequestKind, Rule};
use plinth_test::{FaultProxy, LocalRegistry, error_chain as chain};

fn new_store() -> (tempfile::TempDir, plinth_oci::Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = plinth_oci::Store::open(dir.path()).unwrap();
    (dir, store)
}

/// A two-platform busybox image (4 blobs) in `store`. Each test builds its own: nextest runs a
/// test per process, so a per-binary template would be made as often, and its temp directory
/// (held by a static, never dropped) would be left behind.
fn image(store: &Store) -> BusyboxImage {
    BusyboxImage::builder().with_seed("auth").build(store)
}

fn fast_retry() -> plinth_registry::RetryPolicy {
    plinth_registry::RetryPolicy {
        initial_backoff: std::time::Duration::from_millis(20),
        ..Default::default()
    }
}

/// Installs (once) a global subscriber that records every event at every level.
fn captured_logs() -> Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
    .clone()
}

const USER: &str = "pusher";
const PASSWORD: &str = "Pa55-word-never-shown";

/// Collects everything `tracing` writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn anonymous_client(store: &Store) -> Client {
    Client::builder(store.clone())
        .with_credentials(Credentials::anonymous())
        .with_retry_policy(fast_retry())
        .build()
        .unwrap()
}

fn basic_client(store: &plinth_oci::Store, registry: &str, password: &str) -> Client {
    basic_client_builder(store, registry, password)
        .build()
        .unwrap()
}

/// A client of `registry` as `USER` with `password`, retrying fast.
fn basic_client_builder(store: &Store, registry: &str, password: &str) -> ClientBuilder {
    let creds = Credentials::anonymous().with_explicit(
        registry,
        Credential::Basic {
            username: USER.into(),
            password: Secret::new(password),
        },
    );
    Client::builder(store.clone())
        .with_credentials(creds)
        .with_retry_policy(fast_retry())
}

/// A registry asking for `USER`/`PASSWORD` with Basic auth, or through a token service.
fn registry(tokens: bool) -> LocalRegistry {
    let builder = LocalRegistry::builder();
    if tokens {
        builder.with_token_auth(USER, PASSWORD).start()
    } else {
        builder.with_basic_auth(USER, PASSWORD).start()
    }
}

/// A registry behind a fault proxy, a fresh store holding the image, and a client of the proxy
/// with the right password.
struct Proxied {
    registry: LocalRegistry,
    proxy: FaultProxy,
    _dir: tempfile::TempDir,
    store: Store,
    image: BusyboxImage,
    client: Client,
}

fn proxied(tokens: bool) -> Proxied {
    let registry = registry(tokens);
    let proxy = FaultProxy::start(&registry);
    let (dir, store) = new_store();
    let image = image(&store);
    let client = basic_client(&store, &proxy.host(), PASSWORD);
    Proxied {
        registry,
        proxy,
        _dir: dir,
        store,
        image,
        client,
    }
}

/// Pushes `image` to `target`, panicking with the error's causes.
async fn push(client: &Client, image: &BusyboxImage, target: &Reference) -> PushReport {
    client
        .push_image(image.digest(), target, Arc::new(NoTransferReporter))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)))
}

/// Pushes `image` to `target`, which must fail (`why` says why it should).
async fn push_err(client: &Client, image: &BusyboxImage, target: &Reference, why: &str) -> Error {
    client
        .push_image(image.digest(), target, Arc::new(NoTransferReporter))
        .await
        .expect_err(why)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_no_secret_in_errors_or_logs() {
    let logs = captured_logs();

    let registry = registry(false);
    let (_d, store) = new_store();
    let image = image(&store);
    let target: Reference = format!("{}/plinth/basic:1.0.0", registry.host())
        .parse()
        .unwrap();

    // Anonymous: refused with a hint, not a crash.
    let anon = anonymous_client(&store);
    let err = push_err(&anon, &image, &target, "anonymous pushes are refused").await;
    let text = chain(&err);
    assert!(text.contains("401"), "{text}");
    assert!(
        matches!(
            err,
            Error::PushBlob { .. } | Error::Auth { .. } | Error::Http(_)
        ),
        "{text}"
    );

    // Wrong password: refused; the wrong password is not printed either.
    let wrong = basic_client(&store, &registry.host(), "wrong-Pa55-also-secret");
    let err = push_err(&wrong, &image, &target, "a wrong password is refused").await;
    let text = chain(&err);
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains("wrong-Pa55-also-secret"), "{text}");
    assert!(!format!("{err:?}").contains("wrong-Pa55-also-secret"));

    // Right password: the push works and reads back.
    let good = basic_client(&store, &registry.host(), PASSWORD);
    let report = push(&good, &image, &target).await;
    assert_eq!(report.blobs_uploaded, 4);
    let tags = good
        .list_tags(
            &target,
            &plinth_registry::TagListOptions {
                ttl: std::time::Duration::ZERO,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tags.semver.len(), 1);

    // An error after authentication (a missing manifest) carries no credential either.
    let err = good
        .get_manifest(&target.with_tag("absent").unwrap())
        .await
        .unwrap_err();
    let text = format!("{} {err:?}", chain(&err));
    assert!(
        text.contains("tag `absent` not found in") && text.contains("MANIFEST_UNKNOWN"),
        "{text}"
    );
    assert_eq!(err.status(), Some(404));

    let all = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // The raw response is in the debug log (what `-v` shows), not in the error.
    assert!(
        all.contains("returned HTTP 404 (MANIFEST_UNKNOWN)"),
        "{all}"
    );
    assert!(
        all.contains("registry request"),
        "the log capture works: {all}"
    );
    assert_no_credentials(&logs, &text, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_from_a_token_service_with_cache_and_mounts() {
    let logs = captured_logs();
    let registry = registry(true);
    let tokens = registry.token_server().unwrap();
    let (_d, store) = new_store();
    let image = image(&store);
    let target: Reference = format!("{}/plinth/bearer:1.0.0", registry.host())
        .parse()
        .unwrap();

    // Anonymous: the token service refuses, and the error says how to fix it.
    let anon = anonymous_client(&store);
    let err = push_err(&anon, &image, &target, "the token service refuses").await;
    let text = chain(&err);
    assert!(
        text.contains("authentication") && text.contains("login"),
        "{text}"
    );

    let token_requests = || tokens.request_count();
    let before = token_requests();
    let c = basic_client(&store, &registry.host(), PASSWORD);
    let report = c
        .push_image(image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", chain(&e), registry.log()));
    assert_eq!(report.blobs_uploaded, 4);
    // One token for the push scope, reused by every request of the push.
    assert_eq!(
        token_requests() - before,
        1,
        "tokens are cached per scope set"
    );

    // A second repository: mounting needs one token with both repositories in scope.
    let other: Reference = format!("{}/plinth/bearer-copy:1.0.0", registry.host())
        .parse()
        .unwrap();
    let mounted = push(&c, &image, &other).await;
    assert_eq!(
        (mounted.blobs_mounted, mounted.blobs_uploaded),
        (4, 0),
        "{mounted:?}"
    );
    let both = tokens.requests().iter().any(|r| {
        r.granted
            && r.scopes
                .iter()
                .any(|s| s == "repository:plinth/bearer-copy:pull,push")
            && r.scopes
                .iter()
                .any(|s| s == "repository:plinth/bearer:pull")
    });
    assert!(both, "the mount token covers the source repository");

    // Pull back with the same client: tokens for pull scopes.
    let (_d2, store2) = new_store();
    let c2 = basic_client(&store2, &registry.host(), PASSWORD);
    assert_eq!(
        c2.pull_image(&other, &[], Arc::new(NoTransferReporter))
            .await
            .unwrap(),
        image.digest().clone()
    );

    let issued = tokens.issued_tokens();
    assert!(!issued.is_empty());
    assert_no_credentials(&logs, &text, &issued);
}

/// Everything logged so far plus `extra`, checked for every form of the test credentials.
fn assert_no_credentials(logs: &Captured, extra: &str, tokens: &[String]) {
    use base64::Engine as _;
    let mut all = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    all.push_str(extra);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for secret in [PASSWORD, basic.as_str()]
        .into_iter()
        .chain(tokens.iter().map(String::as_str))
    {
        assert!(
            !all.contains(secret),
            "a credential leaked into logs or errors"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_pushes_with_basic_auth_leak_no_credentials() {
    let logs = captured_logs();
    let fixture = proxied(false);
    let Proxied {
        proxy,
        image,
        client: c,
        ..
    } = &fixture;

    // Throttled HEADs, a reset upload, and one layer that never goes up.
    proxy.add_rule(Rule::on_kind(RequestKind::HeadBlob, Fault::too_many_requests(0)).times(2));
    proxy.add_rule(Rule::on_kind(
        RequestKind::PatchUpload,
        Fault::ResetRequestAfter(4096),
    ));
    let layer = image.platforms[0].layers[0].digest.clone();
    proxy.add_rule(Rule::on("PUT", layer.hex(), Fault::status(500)).always());
    let target: Reference = proxy.image("plinth/failing:1.0.0").parse().unwrap();
    let err = push_err(c, image, &target, "the layer never goes up").await;
    let blob_text = format!("{}\n{err:?}", chain(&err));
    assert!(
        matches!(&err, Error::PushBlob { digest, .. } if digest == &layer),
        "{blob_text}"
    );
    assert!(blob_text.contains("500"), "{blob_text}");
    assert!(
        proxy
            .requests()
            .iter()
            .all(|r| r.authorized || r.status == Some(401)),
        "every request but the first (whose 401 says Basic is wanted) carried the credentials, \
         so they were there to leak"
    );

    // The tag never goes up either.
    proxy.clear_rules();
    proxy.add_rule(Rule::on_kind(RequestKind::PutManifest, Fault::status(503)).always());
    let err = push_err(c, image, &target, "no manifest goes up").await;
    let manifest_text = format!("{}\n{err:?}", chain(&err));
    assert!(matches!(err, Error::PushManifest { .. }), "{manifest_text}");

    let all = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        all.contains("blob upload failed, restarting"),
        "the failure paths were logged"
    );
    assert_no_credentials(&logs, &format!("{blob_text}\n{manifest_text}"), &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_pushes_with_tokens_leak_no_credentials() {
    let logs = captured_logs();
    let fixture = proxied(true);
    let Proxied {
        registry,
        proxy,
        image,
        client: c,
        ..
    } = &fixture;
    proxy.add_rule(Rule::on_kind(RequestKind::PutManifest, Fault::status(500)).always());
    proxy.add_rule(Rule::on_kind(RequestKind::StartUpload, Fault::status(502)).times(1));
    let target: Reference = proxy.image("plinth/failing-bearer:1.0.0").parse().unwrap();
    let err = push_err(c, image, &target, "no manifest goes up").await;
    let text = format!("{}\n{err:?}", chain(&err));
    assert!(matches!(err, Error::PushManifest { .. }), "{text}");
    let tokens = registry.token_server().unwrap().issued_tokens();
    assert!(!tokens.is_empty(), "the push used Bearer tokens");
    assert_no_credentials(&logs, &text, &tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_mid_upload_restarts_the_upload_once() {
    let fixture = proxied(true);
    let Proxied {
        proxy,
        store,
        image,
        ..
    } = &fixture;
    // One blob at a time, so the counts are exact.
    let client = |store: &Store| {
        basic_client_builder(store, &proxy.host(), PASSWORD)
            .with_blob_jobs(1)
            .build()
            .unwrap()
    };
    let c = client(store);

    // A streamed upload cannot be resent by the request loop: the registry refusing the token
    // once (revoked, expired early) restarts the upload with a fresh token instead of failing.
    let once = proxy.add_rule(Rule::on_kind(RequestKind::PutBlob, Fault::status(401)));
    let target: Reference = proxy.image("plinth/refused-once:1.0.0").parse().unwrap();
    push(&c, image, &target).await;
    assert_eq!(proxy.fired(once), 1);
    let blobs = image.blobs().len();
    assert_eq!(proxy.count(RequestKind::StartUpload), blobs + 1);

    // Refused every time: one restart, then a clear 401, not a loop.
    proxy.clear_rules();
    proxy.clear_requests();
    proxy.add_rule(Rule::on_kind(RequestKind::PutBlob, Fault::status(401)).always());
    let target: Reference = proxy.image("plinth/refused-always:1.0.0").parse().unwrap();
    // A fresh store, so that nothing can be mounted from the first repository.
    let (_d2, store2) = new_store();
    let image = self::image(&store2);
    let err = push_err(
        &client(&store2),
        &image,
        &target,
        "the registry never accepts the upload",
    )
    .await;
    assert_eq!(err.status(), Some(401), "{}", chain(&err));
    assert_eq!(proxy.count(RequestKind::PutBlob), 2, "{:?}", proxy.counts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_broader_token_is_dropped_not_sent_again() {
    let fixture = proxied(true);
    let Proxied {
        registry,
        proxy,
        image,
        client: c,
        ..
    } = &fixture;
    let tokens = registry.token_server().unwrap();
    let target: Reference = proxy.image("plinth/revoked:1.0.0").parse().unwrap();
    push(c, image, &target).await;

    // The push token (pull,push) serves the pull that follows, until the registry refuses it:
    // the client must then ask for a new token, not resend the refused one.
    let before = tokens.request_count();
    let refused = proxy.add_rule(Rule::on_kind(
        RequestKind::GetManifest,
        Fault::StripAuthorization,
    ));
    let pulled = c
        .pull_image(&target, &[], Arc::new(NoTransferReporter))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(&pulled, image.digest());
    assert_eq!(proxy.fired(refused), 1);
    let new: Vec<_> = tokens.requests().split_off(before);
    assert_eq!(new.len(), 1, "one new token after the refusal: {new:?}");
    assert!(new[0].granted, "{new:?}");
    assert!(
        new[0]
            .scopes
            .iter()
            .any(|s| s.starts_with("repository:plinth/revoked:") && s.contains("pull")),
        "{new:?}"
    );
}

/// A registry that echoes the request's `Authorization` header and a password in its error
/// bodies, and sends blob downloads to signed URLs: nothing of either reaches an error or a log
/// line at any level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_credentials_and_signed_redirects_leak_nothing() {
    use plinth_test::proxy::{ECHOED_PASSWORD, SIGNED_QUERY};
    let logs = captured_logs();
    let fixture = proxied(false);
    let Proxied {
        proxy,
        image,
        client: c,
        ..
    } = &fixture;
    let target: Reference = proxy.image("plinth/echoing:1").parse().unwrap();
    push(c, image, &target).await;

    proxy.add_rule(Rule::on_kind(RequestKind::GetManifest, Fault::EchoCredentials(403)).always());
    let (_d2, fresh) = new_store();
    let reader = basic_client(&fresh, &proxy.host(), PASSWORD);
    let err = reader
        .pull_image(&target, &[], Arc::new(NoTransferReporter))
        .await
        .expect_err("the registry refuses the manifest");
    let echoed = format!("{}\n{err:?}", chain(&err));
    assert!(
        echoed.contains("403") && echoed.contains("DENIED"),
        "{echoed}"
    );

    proxy.clear_rules();
    proxy.add_rule(Rule::on_kind(RequestKind::GetBlob, Fault::RedirectSigned).always());
    let err = reader
        .pull_image(&target, &[], Arc::new(NoTransferReporter))
        .await
        .expect_err("the signed location does not exist");
    let redirected = format!("{}\n{err:?}", chain(&err));
    assert!(redirected.contains("/signed/v2/"), "{redirected}");
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/signed/")),
        "the redirect was followed, so its URL was there to leak"
    );

    let markers: Vec<String> = std::iter::once(ECHOED_PASSWORD.to_owned())
        .chain(
            SIGNED_QUERY
                .split('&')
                .filter_map(|kv| kv.split_once('=').map(|(_, v)| v.to_owned()))
                .filter(|v| v != "AWS4-HMAC-SHA256"),
        )
        .chain(["AKIAPLINTHLEAK".to_owned()])
        .collect();
    assert_no_credentials(&logs, &format!("{echoed}\n{redirected}"), &markers);
}
