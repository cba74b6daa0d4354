//! Test support for plinth (a dev-dependency only).
//!
//! - [`LocalRegistry`]: a real `docker-registry` process on `127.0.0.1:PORT` with its own temp
//!   storage, optionally behind Basic auth or Bearer tokens from a [`TokenServer`]; one per test binary ([`LocalRegistry::shared`]) or a
//!   fresh one per test ([`LocalRegistry::start`]).
//! - [`FaultProxy`]: a streaming HTTP/1.1 reverse proxy in front of a registry that counts the
//!   distribution API calls it sees and injects faults (429 with `Retry-After`, 5xx, connection
//!   resets mid-body, latency, dropped responses) by [`proxy::Rule`]s.
//! - [`busybox_rootfs`]: a minimal root file system from the static busybox, and
//!   [`images::busybox_index`]: a two-platform busybox image written into a store;
//!   [`arm64_busybox`]: Debian's static arm64 busybox, fetched once.
//! - [`shared_data::shared_fixture`]: a directory made once a day for every test process of a
//!   run (file lock, temp directory, atomic rename) under `TARGET/plinth-test-data`;
//!   [`TestContext::seed_debian_root`] and [`shared_data::seed_store`]: a Debian root
//!   bootstrapped once and seeded into each test's store.
//! - [`skopeo`] and [`skopeo_json`]: the independent reader, run with a clear failure.
//! - [`tree::image_tree`]: an image's merged file tree (type, mode, owner, size, content hash)
//!   for comparing what two builds made.
//! - [`TestContext`]: a temp `PLINTH_HOME`, the `plinth` binary, and filters for insta snapshots
//!   ([`plinth_snapshot!`]).
//! - [`checks::Canned`] (feature `checks`): a check runner answering recorded command outputs
//!   and file entries, and [`checks::assert_check_table`] for a check's pass rules and messages.
//! - [`require_external!`]: tests needing root, docker or binfmt run everywhere unless
//!   `PLINTH_TEST_ALLOW_SKIP=1` is set; CI never sets it.
//!
//! ```no_run
//! use plinth_test::{FaultProxy, LocalRegistry, proxy::{Fault, RequestKind, Rule}};
//!
//! let registry = LocalRegistry::shared();
//! let proxy = FaultProxy::start(registry);
//! proxy.add_rule(Rule::on_kind(RequestKind::PutManifest, Fault::status(503)).times(1));
//! // push an image to `proxy.image("it/works:1")`, then check what happened:
//! assert_eq!(proxy.count(RequestKind::PutManifest), 2);
//! ```
#![deny(missing_docs)]

mod arm64;
#[cfg(feature = "checks")]
pub mod checks;
mod context;
mod debian_root;
mod error;
mod external;
mod file_server;
mod files;
pub mod images;
pub mod proxy;
mod registry;
mod rootfs;
pub mod shared_data;
mod skopeo;
mod token;
pub mod tree;

pub use insta;

pub use crate::arm64::{ARM64_BUSYBOX_ENV, arm64_busybox, try_arm64_busybox};
pub use crate::context::{
    PLINTH_BIN_ENV, PLINTH_HOME_ENV, TestContext, format_output, output, stderr_of, stdout_of,
};
pub use crate::error::{Error, Result};
pub use crate::external::{
    ALLOW_SKIP_ENV, DOCKER_ENV, External, current_uid, find_in_path, require_external,
};
pub use crate::file_server::FileServer;
pub use crate::files::copy_tree;
pub use crate::proxy::FaultProxy;
pub use crate::registry::{
    BasicAuth, LocalRegistry, LocalRegistryBuilder, REGISTRY_BINARY, free_port,
};
pub use crate::rootfs::{
    BUSYBOX_APPLETS, BUSYBOX_PATH, GROUP, PASSWD, busybox_rootfs, busybox_rootfs_tempdir,
};
pub use crate::skopeo::{skopeo, skopeo_json};
pub use crate::token::{
    TOKEN_ISSUER, TOKEN_LIFETIME_SECS, TOKEN_SERVICE, TokenRequest, TokenServer,
};

/// Formats an error with its causes, one per line (`caused by: …`), for assertions and panic
/// messages.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!("\ncaused by: {cause}"));
        source = cause.source();
    }
    text
}
