//! Cold two-platform pulls from a healthy registry: no request fails, none is cut short or
//! repeated, nothing restarts, and the registry served every blob whole, once per pull.
//!
//! A build pulls each platform's root from a thread of its own. When each of those pulls ran on
//! a runtime of its own (a current-thread runtime per call) through one client, a connection
//! opened by one runtime went back to the shared pool and the other runtime's next request took
//! it; when the first pull finished, its runtime stopped serving that connection, in the middle
//! of the other's response ("connection closed before message completed") or before its request
//! ("dispatch task is gone: runtime dropped the dispatch task"), and the download restarted after
//! a second's backoff: 9 restarts in 20 cold pulls here. The client now keeps one connection pool
//! per runtime, and one download per blob at a time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use plinth_oci::{Digest, Platform, Reference, Store};
use plinth_registry::{Client, Credentials, NoTransferReporter};
use plinth_test::images::BusyboxImage;
use plinth_test::proxy::{Fault, RequestKind, Rule};
use plinth_test::{FaultProxy, LocalRegistry};

use crate::{big_image, chain, fast_retry, new_store};

/// Cold pulls per test: the failure this guards against showed in about one pull in two.
const COLD_PULLS: usize = 10;

/// How the two platform pulls are driven.
#[derive(Clone, Copy, Debug)]
enum Runtimes {
    /// Each platform's pull on a current-thread runtime of its own, as any caller may do.
    OnePerPull,
    /// Both on one multi-thread runtime, as the `plinth` binary does.
    Shared,
}

/// A fresh registry holding the two-platform image with a layer both platforms share, a
/// request-logging proxy in front of it, and where the registry's log stood after the push.
struct Fixture {
    _dir: tempfile::TempDir,
    image: BusyboxImage,
    registry: LocalRegistry,
    proxy: FaultProxy,
    log_start: usize,
    reference: Reference,
}

impl Fixture {
    fn new(repository: &str) -> Self {
        let (dir, store) = new_store();
        let image = big_image(&store);
        let registry = LocalRegistry::start();
        let target: Reference = registry.image(&format!("{repository}:1")).parse().unwrap();
        let pusher = plain_client(&store);
        runtime()
            .block_on(pusher.push_image(&image.index.digest, &target, Arc::new(NoTransferReporter)))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let proxy = FaultProxy::start(&registry);
        let reference = proxy.image(&format!("{repository}:1")).parse().unwrap();
        let log_start = registry.log().len();
        Self {
            _dir: dir,
            image,
            registry,
            proxy,
            log_start,
            reference,
        }
    }

    /// One cold pull of both platforms into an empty store through one client, each platform
    /// from its own thread; returns what was logged at WARN or above.
    fn cold_pull(&self, runtimes: Runtimes) -> String {
        let (_dir, store) = new_store();
        let client = plain_client(&store);
        let logs = LogBuffer::default();
        let shared = runtime();
        std::thread::scope(|scope| {
            for platform in [Platform::linux_amd64(), Platform::linux_arm64()] {
                let (client, logs, shared) = (&client, logs.clone(), &shared);
                scope.spawn(move || {
                    let pull = client.pull_image(
                        &self.reference,
                        std::slice::from_ref(&platform),
                        Arc::new(NoTransferReporter),
                    );
                    let subscriber = tracing_subscriber::fmt()
                        .with_max_level(tracing::Level::WARN)
                        .with_ansi(false)
                        .with_writer(move || logs.clone())
                        .finish();
                    let _log = tracing::subscriber::set_default(subscriber);
                    let pulled = match runtimes {
                        Runtimes::OnePerPull => current_thread_runtime().block_on(pull),
                        Runtimes::Shared => shared.block_on(pull),
                    };
                    pulled.unwrap_or_else(|e| panic!("{platform}: {}", chain(&e)));
                });
            }
        });
        for blob in self.image.blobs() {
            assert_eq!(
                Digest::of(&store.read_blob(&blob.digest).unwrap()),
                blob.digest
            );
        }
        logs.text()
    }

    /// Every blob `GET` the registry answered since the push, as (digest, bytes written).
    fn registry_blob_gets(&self) -> Vec<(String, u64)> {
        self.registry.log()[self.log_start..]
            .lines()
            .filter(|l| l.contains("msg=\"response completed\"") && l.contains("method=GET"))
            .filter_map(|l| {
                let digest = l.split("/blobs/").nth(1)?.split('"').next()?.to_owned();
                let written = l.split("http.response.written=").nth(1)?;
                let written = written.split_whitespace().next()?.parse().ok()?;
                Some((digest, written))
            })
            .collect()
    }

    /// What the registry logged as a problem since the push.
    fn registry_problems(&self) -> Vec<String> {
        self.registry.log()[self.log_start..]
            .lines()
            .filter(|l| {
                ["level=error", "level=warn", "level=fatal", "disconnect"]
                    .iter()
                    .any(|w| l.contains(w))
            })
            .map(str::to_owned)
            .collect()
    }

    fn assert_clean_cold_pulls(&self, runtimes: Runtimes) {
        let sizes: BTreeMap<String, u64> = self
            .image
            .blobs()
            .into_iter()
            .map(|b| (b.digest.to_string(), b.size))
            .collect();
        assert_eq!(
            sizes.len(),
            5,
            "two configs, two busybox layers, one shared"
        );
        for pull in 0..COLD_PULLS {
            self.proxy.clear_requests();
            let warnings = self.cold_pull(runtimes);
            assert!(
                warnings.is_empty(),
                "{runtimes:?} cold pull {pull} logged:\n{warnings}"
            );
            let requests = self.proxy.requests();
            let failed: Vec<_> = requests
                .iter()
                .filter(|r| {
                    r.response_cut_short || !r.status.is_some_and(|s| (200..300).contains(&s))
                })
                .collect();
            assert!(
                failed.is_empty(),
                "{runtimes:?} cold pull {pull}: failed or cut-short requests: {failed:#?}"
            );
            assert_eq!(
                self.proxy.count(RequestKind::GetBlob),
                sizes.len(),
                "{runtimes:?} cold pull {pull}: each blob fetched once, the shared layer too: \
                 {requests:#?}"
            );
        }
        let gets = self.registry_blob_gets();
        assert_eq!(gets.len(), COLD_PULLS * sizes.len(), "{gets:#?}");
        for (digest, written) in &gets {
            assert_eq!(
                Some(written),
                sizes.get(digest),
                "the registry sent {written} bytes of {digest}"
            );
        }
        let problems = self.registry_problems();
        assert!(problems.is_empty(), "the registry logged: {problems:#?}");
    }
}

#[test]
fn cold_pulls_on_a_runtime_per_platform_restart_nothing() {
    Fixture::new("cold/one-runtime-per-pull").assert_clean_cold_pulls(Runtimes::OnePerPull);
}

#[test]
fn cold_pulls_on_one_shared_runtime_restart_nothing() {
    Fixture::new("cold/shared-runtime").assert_clean_cold_pulls(Runtimes::Shared);
}

/// Pulls the whole image into an empty store on this thread, with `rules` in the proxy;
/// returns what was logged at WARN or above.
fn pull_logging_warnings(fixture: &Fixture, rules: Vec<Rule>) -> String {
    fixture.proxy.clear_rules();
    for rule in rules {
        fixture.proxy.add_rule(rule);
    }
    let (_dir, store) = new_store();
    let client = Client::builder(store)
        .with_credentials(Credentials::anonymous())
        .with_retry_policy(fast_retry())
        .build()
        .unwrap();
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);
    current_thread_runtime()
        .block_on(client.pull_image(&fixture.reference, &[], Arc::new(NoTransferReporter)))
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    logs.text()
}

/// Every retry says why: a transient status with the registry's error code, a broken download
/// with the error and each of its causes down to what the connection did.
#[test]
fn retry_warnings_name_their_cause() {
    let fixture = Fixture::new("cold/retry-warnings");
    let logged = pull_logging_warnings(
        &fixture,
        vec![Rule::on_kind(RequestKind::GetManifest, Fault::too_many_requests(0)).times(1)],
    );
    assert!(
        logged
            .contains("registry answered HTTP 429 (TOOMANYREQUESTS), a transient error; retrying"),
        "{logged}"
    );
    let big = fixture.image.big_layer.clone().unwrap().digest;
    let logged = pull_logging_warnings(
        &fixture,
        vec![
            Rule::on(
                "GET",
                &format!("/blobs/{big}$"),
                Fault::ResetResponseAfter(1 << 20),
            )
            .times(1),
        ],
    );
    let warning = logged
        .lines()
        .find(|l| l.contains("blob download failed, restarting: "))
        .unwrap_or_else(|| panic!("no restart warning in:\n{logged}"));
    let why = warning.split_once("restarting: ").unwrap().1;
    assert!(why.starts_with("GET `"), "{warning}");
    assert!(
        why.matches(": ").count() >= 2,
        "the causes are missing: {warning}"
    );
    assert!(
        ["reset", "closed", "connection"]
            .iter()
            .any(|w| why.to_lowercase().contains(w)),
        "{warning}"
    );
    assert!(warning.contains("attempt=1"), "{warning}");
}

/// A client without retry shortcuts: a restart must show as a warning, not be hidden.
fn plain_client(store: &Store) -> Client {
    Client::builder(store.clone())
        .with_credentials(Credentials::anonymous())
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Log lines of both pull threads, collected for the assertions.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
