//! The [`Client`] and its settings: per-registry scheme, mirrors, credentials, concurrency.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use plinth_oci::reference::{DOCKER_HUB, DOCKER_HUB_API_HOST, is_loopback_host};
use plinth_oci::{Digest, Store};
use url::Url;

use crate::auth::RegistryAuth;
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// The user agent sent when none is configured.
pub const DEFAULT_USER_AGENT: &str = concat!("plinth/", env!("CARGO_PKG_VERSION"));
/// Blob transfers running at once by default (ggcr's default).
pub const DEFAULT_BLOB_JOBS: usize = 4;
/// Manifest `HEAD`s running at once when resolving tag digests.
pub const DEFAULT_TAG_JOBS: usize = 16;
/// Blobs up to this size are uploaded with one `PUT` instead of `PATCH` + `PUT`.
pub const DEFAULT_MONOLITHIC_LIMIT: u64 = 1024 * 1024;
/// How long opening a connection may take: a registry that does not answer within it is
/// reported as unreachable at once instead of after minutes of retries.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest a read may wait for the next bytes.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The whole of a request for a small document (manifest, token, tag list, `HEAD`), body
/// included: a registry trickling one byte a second cannot hold a build forever.
pub const DEFAULT_DOCUMENT_DEADLINE: Duration = Duration::from_secs(120);

/// The slowest blob download accepted: fewer than `bytes` in any `window` aborts it (and it is
/// retried), so a registry trickling bytes just fast enough to dodge the stall timeout fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinTransferRate {
    /// Bytes that must arrive in each window.
    pub bytes: u64,
    /// The window.
    pub window: Duration,
}

impl Default for MinTransferRate {
    /// 32 KiB per 30 s (about 1 KiB/s), far below any working link.
    fn default() -> Self {
        Self {
            bytes: 32 * 1024,
            window: Duration::from_secs(30),
        }
    }
}

/// The last rate-limit figures a registry reported (`ratelimit-limit`, `ratelimit-remaining`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// The registry that reported it.
    pub registry: String,
    /// `ratelimit-limit`, verbatim (`100;w=21600`).
    pub limit: Option<String>,
    /// `ratelimit-remaining`, verbatim.
    pub remaining: String,
}

impl RateLimit {
    /// The remaining count, without the window suffix.
    pub fn remaining_count(&self) -> Option<u64> {
        self.remaining.split(';').next()?.trim().parse().ok()
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    store: Store,
    credentials: Credentials,
    user_agent: String,
    insecure: BTreeSet<String>,
    docker_hub_mirrors: Vec<String>,
    blob_jobs: usize,
    tag_jobs: usize,
    retry: RetryPolicy,
    monolithic_limit: u64,
    connect_timeout: Duration,
    read_timeout: Duration,
    document_deadline: Duration,
    min_rate: MinTransferRate,
}

impl ClientBuilder {
    /// Credentials to use (default: [`Credentials::from_env`]).
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// The `User-Agent` header.
    pub fn with_user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Speaks plain HTTP to this registry (`host[:port]`). Loopback registries always use HTTP.
    pub fn with_insecure_registry(mut self, registry: impl Into<String>) -> Self {
        self.insecure.insert(registry.into().to_ascii_lowercase());
        self
    }

    /// Tries this mirror (`host[:port]`) before Docker Hub for reads; falls back on any error.
    pub fn with_docker_hub_mirror(mut self, mirror: impl Into<String>) -> Self {
        self.docker_hub_mirrors.push(mirror.into());
        self
    }

    /// Blob transfers running at once (default 4).
    pub fn with_blob_jobs(mut self, jobs: usize) -> Self {
        self.blob_jobs = jobs.max(1);
        self
    }

    /// Manifest `HEAD`s running at once while listing tags (default 16).
    pub fn with_tag_jobs(mut self, jobs: usize) -> Self {
        self.tag_jobs = jobs.max(1);
        self
    }

    /// The retry policy (tests shorten the backoff).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Blobs up to this size go up in a single `PUT`.
    pub fn with_monolithic_limit(mut self, bytes: u64) -> Self {
        self.monolithic_limit = bytes;
        self
    }

    /// Connect timeout, and the longest a read may stall.
    pub fn with_timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }

    /// The overall deadline of a request for a small document (manifest, token, tag list, `HEAD`).
    pub fn with_document_deadline(mut self, deadline: Duration) -> Self {
        self.document_deadline = deadline;
        self
    }

    /// The slowest blob download accepted.
    pub fn with_min_transfer_rate(mut self, rate: MinTransferRate) -> Self {
        self.min_rate = rate;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client> {
        let http = HttpClients::new(HttpSettings {
            user_agent: self.user_agent.clone(),
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
        })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                store: self.store,
                credentials: self.credentials,
                insecure: self.insecure,
                docker_hub_mirrors: self.docker_hub_mirrors,
                blob_jobs: self.blob_jobs,
                tag_jobs: self.tag_jobs,
                retry: self.retry,
                monolithic_limit: self.monolithic_limit,
                document_deadline: self.document_deadline,
                min_rate: self.min_rate,
                auth: Mutex::new(BTreeMap::new()),
                referrers_tag_writes: tokio::sync::Mutex::new(()),
                downloads: Mutex::new(BTreeMap::new()),
                requests: AtomicU64::new(0),
                rate_limit: Mutex::new(None),
            }),
        })
    }
}

/// A registry client bound to a local [`Store`]. Cheap to clone; clones share token caches and
/// the request counter.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: HttpClients,
    pub(crate) store: Store,
    pub(crate) credentials: Credentials,
    pub(crate) insecure: BTreeSet<String>,
    pub(crate) docker_hub_mirrors: Vec<String>,
    pub(crate) blob_jobs: usize,
    pub(crate) tag_jobs: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) monolithic_limit: u64,
    pub(crate) document_deadline: Duration,
    pub(crate) min_rate: MinTransferRate,
    pub(crate) auth: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<RegistryAuth>>>>,
    pub(crate) requests: AtomicU64,
    pub(crate) rate_limit: Mutex<Option<RateLimit>>,
    /// Held across each read-modify-write of a referrers tag (`sha256-<hex>`). A registry without
    /// the referrers API has no conditional PUT, so two writers that read the same index both
    /// "win" and the later PUT drops the other's entry; serialising this client's writers closes
    /// that race for every attach made through one client (publish attaches concurrently).
    pub(crate) referrers_tag_writes: tokio::sync::Mutex<()>,
    /// One lock per blob being downloaded: two pulls through this client that need the same blob
    /// (a layer both platforms share, pulled by each platform's build at once) fetch it once;
    /// the second finds it in the store.
    pub(crate) downloads: Mutex<BTreeMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

impl Client {
    /// A builder for a client over `store`.
    pub fn builder(store: Store) -> ClientBuilder {
        ClientBuilder {
            store,
            credentials: Credentials::from_env(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            insecure: BTreeSet::new(),
            docker_hub_mirrors: Vec::new(),
            blob_jobs: DEFAULT_BLOB_JOBS,
            tag_jobs: DEFAULT_TAG_JOBS,
            retry: RetryPolicy::default(),
            monolithic_limit: DEFAULT_MONOLITHIC_LIMIT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_STALL_TIMEOUT,
            document_deadline: DEFAULT_DOCUMENT_DEADLINE,
            min_rate: MinTransferRate::default(),
        }
    }

    /// The local store this client pulls into and pushes from.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// How many HTTP requests this client (and its clones) sent, token requests included.
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The last rate-limit figures any registry reported, if one did.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.inner.rate_limit.lock().ok().and_then(|g| g.clone())
    }

    /// The endpoint that serves `registry` (a normalised registry name).
    pub(crate) fn endpoint(&self, registry: &str) -> Result<Endpoint> {
        let host = if registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            registry
        };
        let plain = is_loopback_host(registry)
            || self.inner.insecure.contains(&registry.to_ascii_lowercase());
        Endpoint::new(registry, host, plain)
    }

    /// Endpoints to try for reads: Docker Hub mirrors first, then the registry itself.
    pub(crate) fn read_endpoints(&self, registry: &str) -> Result<Vec<Endpoint>> {
        let mut out = Vec::new();
        if registry == DOCKER_HUB {
            for m in &self.inner.docker_hub_mirrors {
                let plain =
                    is_loopback_host(m) || self.inner.insecure.contains(&m.to_ascii_lowercase());
                out.push(Endpoint::new(m, m, plain)?);
            }
        }
        out.push(self.endpoint(registry)?);
        Ok(out)
    }
}

/// What every HTTP client of a [`Client`] is built with.
#[derive(Clone, Debug)]
pub(crate) struct HttpSettings {
    user_agent: String,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl HttpSettings {
    fn builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            // Redirects are followed by `send`, which applies the SSRF guard to each hop.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
    }
}

/// How many runtimes' connection pools one [`Client`] keeps. A process normally drives its
/// clients from one runtime; callers that make a runtime per call would otherwise grow the list
/// forever, and the pools of runtimes that are gone hold nothing but closed connections.
const MAX_RUNTIME_POOLS: usize = 8;

/// The HTTP clients of one [`Client`], one set per tokio runtime that sends through it.
///
/// A pooled connection is served by a task on the runtime that opened it. Shared with another
/// runtime, it dies under that runtime's request as soon as its own runtime stops (a
/// current-thread runtime stops serving its tasks when its `block_on` returns): the response body
/// ends with "connection closed before message completed" and the download restarts after a
/// second's backoff. That is what made cold two-platform builds restart downloads from a healthy
/// registry in about half the runs while each platform's pull ran on a runtime of its own; so
/// connections are never shared across runtimes.
#[derive(Debug)]
pub(crate) struct HttpClients {
    settings: HttpSettings,
    pools: Mutex<RuntimePools>,
}

#[derive(Debug)]
struct RuntimePools {
    /// Newest last; the runtime is `None` outside any runtime (only building requests there).
    per_runtime: Vec<(Option<tokio::runtime::Id>, Arc<SchemeClients>)>,
    /// The clients built with the [`Client`] (so that an HTTP stack that cannot start fails
    /// there, not on the first request), kept for the first runtime that sends: they have no
    /// connection yet, so they belong to no runtime.
    unclaimed: Option<Arc<SchemeClients>>,
    /// How many sets of clients were built, for tests.
    built: usize,
}

/// One HTTP client per URL scheme. Loading the system's root certificates takes longer than a
/// whole re-push to a loopback registry, so plain-HTTP URLs go through a client without any
/// (it never speaks TLS), and the TLS client is built on the first `https` URL.
#[derive(Debug)]
struct SchemeClients {
    plain: reqwest::Client,
    tls: OnceLock<std::result::Result<reqwest::Client, String>>,
}

impl SchemeClients {
    fn new(settings: &HttpSettings) -> Result<Self> {
        let plain = settings
            .builder()
            .tls_certs_only(Vec::new())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            plain,
            tls: OnceLock::new(),
        })
    }
}

impl HttpClients {
    fn new(settings: HttpSettings) -> Result<Self> {
        // Fail at build time, not on the first request, when the HTTP stack cannot start.
        let first = SchemeClients::new(&settings)?;
        Ok(Self {
            settings,
            pools: Mutex::new(RuntimePools {
                per_runtime: Vec::new(),
                unclaimed: Some(Arc::new(first)),
                built: 1,
            }),
        })
    }

    /// The client for `url` on the calling runtime: the plain one for `http`, the TLS one (built
    /// now if needed) for anything else.
    pub(crate) fn for_url(&self, url: &Url) -> Result<reqwest::Client> {
        let clients = self.scheme_clients()?;
        if url.scheme() == "http" {
            return Ok(clients.plain.clone());
        }
        clients
            .tls
            .get_or_init(|| self.settings.builder().build().map_err(|e| e.to_string()))
            .clone()
            .map_err(|e| Error::Config(format!("cannot build the HTTPS client: {e}")))
    }

    /// The calling runtime's clients, made on its first request.
    fn scheme_clients(&self) -> Result<Arc<SchemeClients>> {
        let runtime = tokio::runtime::Handle::try_current().ok().map(|h| h.id());
        let mut pools = self
            .pools
            .lock()
            .map_err(|_| Error::Config("the HTTP client table is poisoned".into()))?;
        if let Some((_, clients)) = pools.per_runtime.iter().find(|(id, _)| *id == runtime) {
            return Ok(clients.clone());
        }
        let clients = match pools.unclaimed.take() {
            Some(clients) => clients,
            None => {
                pools.built += 1;
                Arc::new(SchemeClients::new(&self.settings)?)
            }
        };
        if pools.per_runtime.len() >= MAX_RUNTIME_POOLS {
            pools.per_runtime.remove(0);
        }
        pools.per_runtime.push((runtime, clients.clone()));
        Ok(clients)
    }
}

/// Where requests for one registry go.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    /// The name credentials and tokens are keyed by.
    pub(crate) registry: String,
    /// `scheme://host[:port]/`.
    pub(crate) base: Url,
}

impl Endpoint {
    pub(crate) fn new(registry: &str, host: &str, plain_http: bool) -> Result<Self> {
        let scheme = if plain_http { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| Error::Config(format!("`{host}` is not a valid registry host: {e}")))?;
        Ok(Self {
            registry: registry.to_owned(),
            base,
        })
    }

    /// `<base>/v2/<repository>/<rest>`.
    pub(crate) fn url(&self, repository: &str, rest: &str) -> Result<Url> {
        self.base
            .join(&format!("v2/{repository}/{rest}"))
            .map_err(|e| Error::Config(format!("cannot build a URL for `{repository}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(http: &HttpClients) -> usize {
        http.pools.lock().unwrap().built
    }

    /// The clients built to check that the HTTP stack starts serve the first runtime; only
    /// another runtime gets clients of its own.
    #[test]
    fn the_clients_built_with_the_client_serve_the_first_runtime() {
        let http = HttpClients::new(HttpSettings {
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_STALL_TIMEOUT,
        })
        .unwrap();
        assert_eq!(built(&http), 1);
        let url = Url::parse("http://127.0.0.1:5000/v2/").unwrap();
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
        };
        runtime().block_on(async {
            http.for_url(&url).unwrap();
            http.for_url(&url).unwrap();
        });
        assert_eq!(
            built(&http),
            1,
            "the first runtime adopts the clients built first"
        );
        runtime().block_on(async { http.for_url(&url).unwrap() });
        assert_eq!(built(&http), 2, "another runtime gets its own");
    }
}
