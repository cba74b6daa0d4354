//! The BuildKit executor of plinth: the same recipes the embedded engine builds, built by
//! BuildKit inside Docker Engines, with the results brought back into plinth's
//! [`Store`](plinth_oci::Store) so plinth publishes one index with its own push path.
//!
//! Per platform, [`BuildkitBackend::build`]:
//!
//! 1. picks the platform's [`DockerHost`] (`--builder linux/arm64=ssh://arm-host`, a docker
//!    context, or the local daemon, where foreign platforms run under binfmt/qemu) and checks
//!    that it answers;
//! 2. with [`BuildkitConfig::with_roots`] (as the CLI builds), has every root resolved into the
//!    store by a [`RootResolver`](plinth_executor::RootResolver) (the embedded engine: pulled,
//!    imported or bootstrapped from Debian's archive) and `docker load`s it into the builder as
//!    `plinth-root:<config hex>` unless the builder has it, so builders pull nothing;
//! 3. rewrites the recipe (`prepare`): URL inputs are fetched here by the shared
//!    [`UrlFetcher`](plinth_executor::UrlFetcher) (with the [`UrlMirror`](plinth_executor::UrlMirror)s
//!    of [`BuildkitConfig::with_url_mirrors`], pins verified, the store ref `urls/…` shared with
//!    the embedded engine) and `COPY`'d from the context, so builders need neither the
//!    `docker/dockerfile` frontend image nor the download hosts; file modes and `dir/`
//!    destinations are made explicit so both engines give the same files;
//! 4. renders the buildable Dockerfile (without a `# syntax=` line: the daemon's built-in
//!    frontend is used) and materialises the context;
//! 5. runs `docker build --platform …` with BuildKit ([`DockerCli`]), reading the plain
//!    progress for step reports and, on failure, the failing step with its output
//!    ([`BuildFailure`]);
//! 6. `docker save`s the image and imports it into the store.
//!
//! `BuildkitBackend` is an [`Executor`](plinth_executor::Executor): the result is a
//! [`BuildResult`](plinth_executor::BuildResult) (with a
//! [`StepReport`](plinth_executor::StepReport) per step BuildKit reported and the builder's
//! warnings per platform), the options are [`BuildOptions`](plinth_executor::BuildOptions),
//! and progress goes to a [`BuildReporter`](plinth_executor::BuildReporter), as with the
//! embedded engine, so the CLI draws both alike. This crate does not depend on the embedded
//! engine (nor compile its sandbox).
//! [`BuildkitBackend::builder_for`] names a platform's builder and
//! [`BuildkitBackend::dockerfile`] renders the Dockerfile it is given.
//!
//! ```no_run
//! use plinth_buildkit::{BuildkitBackend, BuildkitConfig};
//! use plinth_executor::BuildOptions;
//! use plinth_oci::{Platform, Store};
//! use plinth_recipe::Container;
//!
//! let backend = BuildkitBackend::new(
//!     BuildkitConfig::new(Store::open_default()?)
//!         .with_builder("linux/arm64=ssh://builder@arm-host".parse()?)
//!         .with_cache_from("registry.example/cache/python")
//!         .with_cache_to("registry.example/cache/python"),
//! )?;
//! let recipe = Container::from_address("registry.example/base/python:3.11")?
//!     .with_exec(["sh", "-c", "pip install --no-cache-dir poetry"]);
//! let result = backend.build(
//!     &recipe,
//!     &BuildOptions::new([Platform::linux_amd64(), Platform::linux_arm64()]),
//! )?;
//! println!("{}", result.root.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Limits: without a root resolver, roots must come from a registry every builder can reach;
//! `SOURCE_DATE_EPOCH` is not
//! applied (digests differ between runs where timestamps do); daemons before Docker 23 have no
//! `RUN --network=none`, which is then dropped with a warning; remote cache is BuildKit's
//! inline cache (the final stage's layers, not cache mounts or helper stages).

#![deny(missing_docs)]

mod backend;
mod context;
mod docker;
mod docker_host;
mod error;
mod history;
mod inputs;
mod load;
mod loaded_roots;
mod prepare;
mod progress;
mod roots;

pub use backend::{BuildkitBackend, BuildkitConfig};
pub use docker::{BuildMode, DOCKER_CLIENT_ENV, DockerCli};
pub use docker_host::{DockerHost, DockerHostAssignment, DockerHostInfo};
pub use error::{Error, Result};
pub use load::load_into_docker;
pub use loaded_roots::{LoadedRootsGc, gc_loaded_roots, has_loaded_roots};
pub use progress::{BuildFailure, OUTPUT_TAIL_LINES};

pub use plinth_executor;
pub use plinth_oci;
pub use plinth_recipe;
