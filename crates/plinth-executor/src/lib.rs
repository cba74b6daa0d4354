//! The executor interface of plinth: the one trait both build executors implement and the
//! neutral types it speaks, below everything that implements or uses it.
//!
//! ```text
//! plinth-recipe ──► plinth-executor ◄── plinth-engine   (embedded: namespaces, overlayfs)
//!                         ▲         ◄── plinth-buildkit (BuildKit through a Docker Engine)
//!                         └──────────── plinth-release, plinth-cli (hold one `dyn Executor`)
//! ```
//!
//! - [`Executor`]: builds a [`Container`](plinth_recipe::Container) into a
//!   [`Store`](plinth_oci::Store) for the platforms of [`BuildOptions`], returning a
//!   [`BuildResult`] (one [`PlatformBuild`] per platform).
//! - [`BuildReporter`] receives `on_step_start` / `on_step_output` / `on_step_done` with a
//!   [`StepReport`] ([`CacheStatus`] hit or miss, duration, cache key, explanation), so the CLI
//!   draws both executors alike.
//! - [`shared_runtime`] and [`block_on`]: the one async runtime of the process, on which the
//!   synchronous executors, the release flow and the CLI run registry and HTTP futures.
//! - [`host_tree`], [`host_tree_digest`], [`TreeDigest`]: a host directory as both executors
//!   digest it (the engine's copy cache input, every provenance's host-directory digest).
//! - [`UrlFetcher`]: URL inputs downloaded into the store, keyed by content, pinned ones
//!   verified, [`UrlMirror`]s for offline builds; both executors fetch through it.
//! - [`RootResolver`]: who brings root images into the store (the embedded engine), for an
//!   executor whose builders should not fetch them themselves.
//!
//! This crate compiles neither the sandbox nor a docker client: BuildKit's executor depends on
//! it, not on the embedded engine.
//!
//! ```
//! use std::sync::Arc;
//!
//! use plinth_executor::{BuildOptions, BuildReporter, NoReporter};
//! use plinth_oci::Platform;
//!
//! let options = BuildOptions::new([Platform::linux_amd64(), Platform::linux_arm64()])
//!     .with_recipe_id("python:3.0.0")
//!     .with_tag("releases/python/3.0.0")
//!     .with_reporter(Arc::new(NoReporter) as Arc<dyn BuildReporter>);
//! assert_eq!(options.platforms.len(), 2);
//! ```

#![deny(missing_docs)]

mod error;
mod executor;
mod fetch;
mod host_tree;
mod inputs;
mod options;
mod recipe_inputs;
mod report;
mod result;
mod roots;
mod runtime;
mod secrets;
mod ssh;

pub use error::{Error, Result};
pub use executor::Executor;
pub use fetch::{MirrorTarget, UrlFetcher, UrlMirror};
pub use host_tree::{
    HostEntry, HostEntryKind, TreeDigest, file_digest, hardlink_targets, host_tree,
    host_tree_digest, host_tree_ignoring,
};
pub use inputs::{BuildInput, InputKind, RootManifests, normalize_inputs};
pub use options::BuildOptions;
pub use recipe_inputs::recipe_host_inputs;
pub use report::{BuildReporter, CacheStatus, NoReporter, StepReport};
pub use result::{BuildResult, PlatformBuild, pair_layers};
pub use roots::{ResolvedRootImage, RootError, RootResolver};
pub use runtime::{block_on, shared_runtime};
pub use secrets::{BuildSecrets, SecretValue, redact_line};
pub use ssh::BuildSsh;

pub use plinth_oci;
pub use plinth_recipe;
