//! An HTTP/1.1 reverse proxy in front of a registry that records requests and injects faults.
//!
//! The proxy runs on its own tokio runtime, so sync and async tests use it the same way. Bodies
//! are streamed, never buffered, so gigabyte blobs pass through in constant memory. `Location`
//! headers from the registry are rewritten to point back at the proxy, so upload sessions stay
//! behind it.
//!
//! ```no_run
//! use plinth_test::{FaultProxy, LocalRegistry, proxy::{Fault, RequestKind, Rule}};
//! let registry = LocalRegistry::start();
//! let proxy = FaultProxy::start(&registry);
//! proxy.add_rule(Rule::on_kind(RequestKind::PatchUpload, Fault::too_many_requests(1)).times(2));
//! // ... push through `proxy.host()` ...
//! assert_eq!(proxy.count(RequestKind::PatchUpload), 3);
//! ```

mod body;
mod conn;
mod rules;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub use self::rules::{
    ECHOED_PASSWORD, Fault, RecordedRequest, RequestKind, RequestMatcher, Rule, RuleId,
    SIGNED_QUERY,
};
use self::server::{ActiveRule, Shared, lock};
use crate::error::{Error, Result, io_error};
use crate::registry::LocalRegistry;

/// A fault-injecting reverse proxy on `127.0.0.1:PORT`, stopped when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

impl FaultProxy {
    /// Starts a proxy in front of `registry`; panics if it cannot.
    pub fn start(registry: &LocalRegistry) -> Self {
        Self::try_start_to(&registry.host())
            .unwrap_or_else(|err| panic!("{}", crate::error_chain(&err)))
    }

    /// Starts a proxy in front of any plain-HTTP server at `upstream` (`host:port`).
    pub fn try_start_to(upstream: &str) -> Result<Self> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").map_err(io_error("bind", "127.0.0.1:0"))?;
        listener
            .set_nonblocking(true)
            .map_err(io_error("configure", "127.0.0.1:0"))?;
        let addr = listener
            .local_addr()
            .map_err(io_error("inspect", "127.0.0.1:0"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::Environment(format!("failed to start the fault proxy runtime: {e}"))
            })?;
        let client = {
            let _guard = runtime.enter();
            Client::builder(TokioExecutor::new()).build_http()
        };
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            own_host: addr.to_string(),
            client,
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let accept_shared = shared.clone();
        runtime.spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(err) => {
                    tracing::error!(%err, "fault proxy could not listen");
                    return;
                }
            };
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(conn::serve_connection(stream, accept_shared.clone()));
                    }
                    Err(err) => {
                        tracing::warn!(%err, "fault proxy accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
        });
        Ok(Self {
            addr,
            shared,
            runtime: Some(runtime),
        })
    }

    /// `127.0.0.1:PORT` of the proxy: use it as the registry host in image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT/<repo_and_tag>` through the proxy.
    pub fn image(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.addr)
    }

    /// The upstream `host:port`.
    pub fn upstream(&self) -> &str {
        &self.shared.upstream
    }

    /// Adds a rule. Every rule counts the requests it matches (see [`Rule::after`]); when several
    /// are due for a request, the one added first applies.
    pub fn add_rule(&self, rule: Rule) -> RuleId {
        let mut rules = lock(&self.shared.rules);
        rules.push(ActiveRule {
            rule,
            fired: 0,
            seen: 0,
        });
        RuleId(rules.len() - 1)
    }

    /// How many requests the rule has been applied to.
    pub fn fired(&self, id: RuleId) -> u32 {
        lock(&self.shared.rules).get(id.0).map_or(0, |r| r.fired)
    }

    /// Removes every rule (ids of removed rules then report 0).
    pub fn clear_rules(&self) {
        lock(&self.shared.rules).clear();
    }

    /// Every request seen so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log)
            .iter()
            .map(server::Entry::snapshot)
            .collect()
    }

    /// How many requests of this API call were seen.
    pub fn count(&self, kind: RequestKind) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|e| e.record.kind == kind)
            .count()
    }

    /// How many requests with this method (`"*"` for any) and a path-and-query matching
    /// `path_regex` were seen.
    pub fn count_matching(&self, method: &str, path_regex: &str) -> usize {
        let matcher = RequestMatcher::method_path(method, path_regex);
        lock(&self.shared.log)
            .iter()
            .filter(|e| {
                let r = &e.record;
                let pq = match &r.query {
                    Some(q) => format!("{}?{q}", r.path),
                    None => r.path.clone(),
                };
                matcher.matches(&r.method, &pq, r.kind)
            })
            .count()
    }

    /// Counts per API call, for snapshotting a whole exchange at once.
    pub fn counts(&self) -> std::collections::BTreeMap<RequestKind, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for entry in lock(&self.shared.log).iter() {
            *counts.entry(entry.record.kind).or_insert(0) += 1;
        }
        counts
    }

    /// Forgets the recorded requests (rules stay).
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Does not block, so dropping inside an async test is fine.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
