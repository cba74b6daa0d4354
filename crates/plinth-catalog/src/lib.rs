//! The version catalog of plinth: which versions of a base image exist, and where from.
//!
//! - [`Version`] and [`BumpKind`]: strict SemVer 2.0.0 (no `v`, no build metadata, since Docker
//!   tags cannot hold `+`), ordered by precedence, with the eight release bumps of the original
//!   tool (python-semver 3 semantics, pre-release token `rc`).
//! - [`Changelog`]: the changelog JSON checked into git (`generated/changelogs/<repo>.json`),
//!   read in both historical forms, written atomically under a lock.
//! - [`VersionHistory`]: the union of the changelog and the published tags of a repository, fed by a
//!   [`TagSource`] (the registry client), with the selectors `latest`, `latest_published` and
//!   `latest_stable_published`.
//!
//! - [`Family`] and [`Catalog`] (module [`family`]): image families as code, every version with
//!   its recipe, its inherited sanity checks and its recorded facts; [`airbyte::catalog`] is the
//!   built-in Airbyte catalog (python, then java).
//! - [`file_family`]: families without code, a folder of the catalog directory
//!   (`families/<name>/family.toml`, a Dockerfile, container-structure-test checks, the recorded
//!   `versions/<X.Y.Z>/`), released through [`Family::stage_version`] ([`staged`]).
//! - [`checks`]: the sanity checks with the original's commands, pass rules and messages, run
//!   through a [`checks::CommandRunner`] the engine implements; reports as a table, JSON or JUnit.
//! - [`cst`]: container-structure-test YAML files turned into the same checks.
//! - [`listing`]: the catalog version by version (declared, buildable, published, provenance,
//!   notes), for `plinth catalog`.
//!
//! Nothing here touches the network or a build sandbox; rendering docs from a [`VersionHistory`] is
//! the job of `plinth-render`.
//!
//! ```
//! use plinth_catalog::{BumpKind, Changelog, ChangelogEntry, VersionHistory, Version};
//! use plinth_oci::{Digest, Reference};
//!
//! let repo: Reference = "airbyte/python-connector-base".parse().unwrap();
//! let changelog = Changelog::new([ChangelogEntry::new("3.0.0".parse().unwrap(), "Create airbyte user", "FROM …")]);
//! let tags = vec![("3.0.0".to_owned(), Digest::of(b"index")), ("latest".to_owned(), Digest::of(b"index"))];
//! let registry = VersionHistory::new(&repo, changelog, tags);
//!
//! let stable = registry.latest_stable_published().unwrap();
//! assert!(stable.published_image().unwrap().address().starts_with("docker.io/airbyte/python-connector-base:3.0.0@sha256:"));
//! assert_eq!(registry.ignored_tags()[0].tag(), "latest");
//! assert_eq!(registry.next_version(BumpKind::PatchPrerelease).unwrap(), "3.0.1-rc.1".parse::<Version>().unwrap());
//! ```

#![deny(missing_docs)]

pub mod about;
pub mod catalog;
pub mod changelog;
pub mod checks;
pub mod consumer;
pub mod cst;
pub mod error;
pub mod family;
pub mod file_family;
pub mod history;
pub mod listing;
pub mod lock_dir;
mod pyjson;
pub mod staged;
pub mod version;

pub use about::{FamilyAbout, FamilyFiles, RecipeFile};
pub use catalog::Catalog;
pub use changelog::{
    CHANGELOG_DIR, Changelog, ChangelogEntry, changelog_file_name, changelog_path,
};
pub use consumer::{ConsumerFamilies, ConsumerFormat, ConsumerPin};
pub use error::{Error, Result};
pub use family::{Family, TableFamily, VersionDecl};
pub use file_family::FileFamily;
pub use history::{
    IgnoredTag, PublishedImage, TagSource, VersionEntry, VersionHistory, VersionStatus,
};
pub use staged::{FamilyKind, StagedVersion};
pub use version::{BumpKind, PRERELEASE_TOKEN, Version};
