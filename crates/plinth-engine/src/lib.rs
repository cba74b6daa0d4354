//! The embedded build engine of plinth: recipes ([`Container`](plinth_recipe::Container)s)
//! built daemonless into the local [`Store`](plinth_oci::Store), on amd64 and arm64.
//!
//! The pipeline of one platform, one module per stage:
//!
//! - `resolve`: the `from` image (registry, OCI layout, docker-archive) down to one manifest,
//!   config and layers in the store. A digest-pinned image already in the store is used offline.
//! - `debian`: roots made from Debian's archive (`plinth/debian:SUITE…`): the `InRelease`
//!   files verified against Debian's keyring pin the archive state, a root already made from
//!   that state is reused, otherwise `mmdebstrap` makes it and the layer writer stores it.
//! - `snapshot`: layers unpacked once into `<store>/snapshots/<diff_id>` and stacked with
//!   overlayfs (short links under `<store>/l` keep long stacks under mount(2)'s size limit).
//! - `cache`: step keys (parent key, operation, input digests, platform, engine cache version),
//!   entries as small unsynced files `<store>/stepcache/<key>` (a torn or stale entry is a miss),
//!   and the per-build records that [`StepReport::explanation`] compares against; the record's
//!   manifest keeps the build's layers alive for gc.
//! - `gc`: [`Engine::gc`], the store's gc plus snapshots, links, step dirs and stale entries.
//! - URL inputs go through the [`UrlFetcher`] of [`plinth_executor`] (keyed by content, pinned
//!   ones verified, [`UrlMirror`]s for offline builds), which the BuildKit executor uses too.
//! - `exec`: a step's command in the [`plinth_sandbox`], its upper directory becoming the layer
//!   and the next snapshot without unpacking.
//! - `files`: file and directory steps written as layers from entry lists, owners resolved in
//!   the image's own `/etc/passwd`.
//! - `build`/`steps`: [`Engine::build`] (the engine's [`Executor`] implementation) runs
//!   platforms on threads and reports each step to a [`BuildReporter`]; config operations only
//!   change the config and history (`empty_layer`). `step_context` is what one step runs with.
//! - `run`: [`Engine::run`] and [`RunSession`]: commands in a built image, in a throwaway upper.
//!
//! Writing results out (OCI layouts, docker-archives, registries) is
//! [`plinth_registry::transfer`]'s job, shared with `plinth copy` and the release flow.
//!
//! Helper containers of [`DirectorySource::Container`](plinth_recipe::DirectorySource) are built
//! by the same engine for the platform being built (under qemu for arm64), as the recipe model
//! documents: what they produce may be platform-specific. They share the cache.
//!
//! ```no_run
//! use plinth_engine::{BuildOptions, Engine, EngineConfig};
//! use plinth_oci::{Platform, Store};
//! use plinth_recipe::Container;
//!
//! let engine = Engine::new(EngineConfig::new(Store::open_default()?).with_source_date_epoch(Some(0)))?;
//! let recipe = Container::from_address("oci:/tmp/busybox-layout")?
//!     .with_exec(["sh", "-c", "echo hi > /greeting"])
//!     .with_env("GREETING", "/greeting");
//! let result = engine.build(&recipe, &BuildOptions::new([Platform::linux_amd64()]))?;
//! println!("{} ({} steps ran)", result.root.digest, result.steps_run());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Building needs root (namespaces, overlayfs, mknod for whiteouts).

#![deny(missing_docs)]

mod archive_tree;
mod build;
mod cache;
mod cache_mounts;
mod cache_seed;
mod debian;
mod decode;
mod engine;
mod error;
mod exec;
mod exec_mounts;
mod files;
mod gc;
mod image_files;
mod merged;
mod platform;
mod resolve;
mod run;
mod snapshot;
mod ssh_proxy;
mod state;
mod step_context;
mod step_description;
mod steps;
mod time;
mod trust;

pub use cache::{BUILD_RECORD_MEDIA_TYPE, ENGINE_CACHE_VERSION, STEP_RECORD_MEDIA_TYPE};
pub use debian::{
    AptSource, DEBIAN_ARCHIVE_KEYRING, DEBIAN_ARCHIVE_LABEL, DEBIAN_ROOT_LABEL,
    DEBIAN_ROOT_RECORD_MEDIA_TYPE, DEFAULT_DEBIAN_MIRROR, DebianRootRecord, ReleaseState,
    VerifiedIndex, read_package_index,
};
pub use engine::{Engine, EngineConfig};
pub use error::{Error, Result};
pub use gc::{CacheMountsReport, EngineGcReport};
pub use image_files::{FileRead, PathInfo};
pub use run::{RunOptions, RunOutput, RunSession};
pub use trust::STEP_CA_BUNDLE_PATH;

// The executor interface's types, which `Engine::build` speaks.
pub use plinth_executor::{
    self, BuildOptions, BuildReporter, BuildResult, CacheStatus, Executor, MirrorTarget,
    NoReporter, PlatformBuild, StepReport, UrlFetcher, UrlMirror,
};
pub use plinth_oci;
pub use plinth_recipe;
pub use plinth_sandbox::{DiscardOutput, MountSpec, NetworkMode, OutputSink, OutputStream};
