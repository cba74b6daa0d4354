//! The distribution API client of plinth: authentication, pulls into the local store, the push
//! path, and tag listing.
//!
//! - [`Client`] (built with [`Client::builder`]) talks to registries for one local
//!   [`Store`](plinth_oci::Store): HTTPS by default, plain HTTP for loopback and listed insecure
//!   registries, Docker Hub mirrors tried first for reads, a bounded number of blob jobs.
//! - Authentication: anonymous, Basic, or Bearer tokens from the registry's token service,
//!   cached per (registry, scope set). Credentials come from [`Credentials`]: explicit ones,
//!   `DOCKER_HUB_USERNAME`/`DOCKER_HUB_PASSWORD`, then Docker's `config.json` and its helpers.
//!   Secrets are [`Secret`]s and URLs in errors are [`RedactedUrl`]s: no error or log line
//!   carries a credential.
//! - [`Client::pull_image`] stores raw manifests unchanged and streams verified blobs into the
//!   store; concurrent pulls through one client fetch a blob they share once. A client may be
//!   driven from several tokio runtimes: each runtime gets its own connection pool, since a
//!   connection dies with the runtime that opened it.
//! - [`Client::push_image`] HEADs the tag, the platform manifests and every blob at once
//!   (an unchanged image ends there: [`PushReport::unchanged`]), then mounts or uploads what is
//!   missing in parallel with retries, pushes children before the index and the tag last, and
//!   reads the tag back ([`PushReport`]). There is no `/v2/` probe: the first `401` says what
//!   a registry wants, so re-publishing an unchanged image to an anonymous registry is one
//!   request. `http` registries never load the system's TLS root certificates.
//!   A failed push never leaves the tag pointing at a partial image. Transient failures are
//!   retried once per level: whole blob uploads restart in a new session (after a `HEAD`, in
//!   case the lost attempt landed), waiting as long as `Retry-After` asks.
//!   [`Client::push_image_with`] with [`PushOptions::if_tag_absent_or_same`] refuses to move a
//!   tag that points at another digest ([`Error::TagExists`]), the guard for published versions.
//! - [`Client::list_tags`] follows pagination, resolves digests with `HEAD`, splits semver tags
//!   from the rest, and caches the result on disk for a TTL.
//! - [`transfer`]: whole images between any [`ImageLocation`](plinth_oci::ImageLocation)
//!   (registry, OCI layout, docker-archive) and the store: [`fetch_image`], [`deliver_image`].
//!   [`copy_image`] from an OCI layout to a registry reads the layout in place
//!   ([`Client::push_layout_image`]): each blob is hashed while it is sent, and one whose bytes
//!   do not match its name is never committed ([`Error::LayoutBlobMismatch`]).
//! - [`referrers`]: OCI 1.1 artifacts attached to an image ([`Client::attach`]) and found
//!   again ([`Client::referrers`]) through the referrers API or the `sha256-<hex>` tag schema.
//! - Progress goes to a [`TransferReporter`]; the CLI draws it.
//!
//! ```no_run
//! # async fn demo() -> plinth_registry::Result<()> {
//! use std::sync::Arc;
//! use plinth_oci::{Reference, Store};
//! use plinth_registry::{Client, NoTransferReporter, TagListOptions};
//!
//! let client = Client::builder(Store::open_default()?).build()?;
//! let source: Reference = "127.0.0.1:5000/team/base:1.0.0".parse()?;
//! let digest = client.pull_image(&source, &[], Arc::new(NoTransferReporter)).await?;
//! let target: Reference = "127.0.0.1:5000/team/copy:1.0.0".parse()?;
//! let report = client.push_image(&digest, &target, Arc::new(NoTransferReporter)).await?;
//! assert_eq!(report.blobs_uploaded, 0); // mounted from team/base instead
//! let tags = client.list_tags(&target, &TagListOptions::default()).await?;
//! # let _ = tags; Ok(()) }
//! ```

#![deny(missing_docs)]

mod auth;
mod blobs;
pub mod challenge;
mod client;
pub mod credentials;
pub mod error;
mod http_error;
mod manifests;
mod pull;
mod push;
mod push_source;
pub mod referrers;
pub mod reporter;
pub mod retry;
pub mod secret;
pub mod sources;
mod tags;
pub mod transfer;
mod transport;

pub use client::{
    Client, ClientBuilder, DEFAULT_BLOB_JOBS, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DOCUMENT_DEADLINE,
    DEFAULT_STALL_TIMEOUT, DEFAULT_TAG_JOBS, DEFAULT_USER_AGENT, MinTransferRate, RateLimit,
};
pub use credentials::{Credential, Credentials};
pub use error::{Error, HttpError, Result, error_chain};
pub use manifests::{DOCKER_CONTENT_DIGEST, FetchedManifest, ManifestInfo};
pub use push::{ExistingTag, PushOptions, PushReport};
pub use referrers::{Referrers, ReferrersDiscovery, referrers_tag};
pub use reporter::{BlobOutcome, NoTransferReporter, TransferReporter};
pub use retry::RetryPolicy;
pub use secret::{RedactedUrl, Secret};
pub use tags::{SemverTag, TagEntry, TagListOptions, TagListing};
pub use transfer::{
    DeliverOptions, Delivered, copy_image, deliver_image, fetch_image, push_to_registry,
};
