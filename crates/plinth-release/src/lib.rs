//! The release operations of plinth: each command of the release workflow is a thin CLI
//! wrapper around one method here (cargo's "ops").
//!
//! ```text
//! cli ──► plinth-release ──► plinth-catalog (families, versions, changelog, checks)
//!                       ├──► plinth-executor (build every platform once, with either executor)
//!                       ├──► plinth-engine  (run checks in the sandbox)
//!                       ├──► plinth-registry (list tags with a TTL cache, HEAD, push)
//!                       └──► plinth-render  (catalog README, registry JSON)
//! ```
//!
//! - [`Releaser`]: the state of one command: the catalog, the registry client, the
//!   [`Target`] registry/namespace, the catalog directory, the tag listings (each family is
//!   listed once per command and reused for the docs), and a [`ReleaseReporter`].
//! - [`Releaser::release_choices`] / [`Releaser::release`]: `generate-release` (see
//!   [`generate_release`] for which recipe a release builds).
//! - [`Releaser::publish`]: `publish REPOSITORY VERSION`, with immutable tags.
//! - [`Releaser::write_docs`] / [`Releaser::check_docs`]: `generate-docs [--check]`.
//! - [`Releaser::latest`] and [`Releaser::upgrade_consumer`]: what consumers pin.
//! - [`check_image`] with an [`ImageChecker`] (the embedded engine, through [`SessionRunner`]):
//!   sanity checks in built images on every platform.
//! - [`Releaser::with_executor`]: what builds versions, one [`plinth_executor::Executor`] (the
//!   embedded engine or BuildKit), and the [`ImageChecker`] that checks them; both work in the
//!   registry client's store, from which pushes read.
//! - [`ReleaseRecords`]: per-version digests and URL-input digests at release time.
//! - [`attest`]: the standard annotations on every built version (before its checks, so the
//!   checked image is the published one) and its attestations (provenance and check report per
//!   platform), attached after the image and before the version tag.
//! - [`FamilyLock`]: one release per family at a time.
//!
//! Files below the catalog directory:
//!
//! | path | what |
//! |---|---|
//! | `generated/changelogs/<repo>.json` | the changelog (the original's format) |
//! | `generated/inputs/<repo>.json` | release records ([`record`]) |
//! | `generated/registry.json` | the machine-readable registry |
//! | `README.md` | the catalog README |
//! | `generated/.locks/<repo>.lock` | the family lock (`.locks/` ignores itself for git) |
//! | `generated/changelogs/.locks/<repo>.json.lock` | the changelog write lock (the same) |
//!
//! Building needs root (the engine's sandbox).

#![deny(missing_docs)]

pub mod attest;
pub mod build_version;
pub mod changelog_draft;
pub mod consumers;
pub mod docs;
pub mod error;
pub mod generate_release;
pub mod lock;
pub mod outdated;
pub mod platform_recipes;
pub mod publish;
pub mod record;
pub mod releaser;
pub mod runner;
pub mod tags;
pub mod target;

pub use build_version::{BuiltVersion, build_version, build_version_with};
pub use changelog_draft::{ChangelogDraft, ChangelogSource};
pub use consumers::{ConsumerPinUpdate, ConsumerUpdate, Dockerfiles};
pub use docs::{Docs, README_FILE, REGISTRY_JSON_FILE};
pub use error::{Error, Result};
pub use generate_release::{BumpChoice, ReleaseChoices, ReleaseOutcome, ReleaseRequest};
pub use lock::FamilyLock;
pub use platform_recipes::PlatformRecipes;
pub use publish::PublishOutcome;
pub use record::{ReleaseRecords, VersionRecord};
pub use releaser::{LogReporter, ReleaseReporter, ReleaseSettings, Releaser};
pub use runner::{ImageChecker, SessionRunner, check_image, require_passed};
pub use tags::ClientTagSource;
pub use target::Target;
