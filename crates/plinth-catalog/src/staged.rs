//! How a family is declared, and versions staged from working files for a release.
//!
//! A code family declares every version before it is released. A file family
//! ([`crate::file_family`]) declares only what it has released; its *next* version is whatever
//! its working files say, and gets a number only when `generate-release` picks the bump. The
//! release flow asks such a family to [stage](crate::Family::stage_version) that number: the
//! working files are copied where the version will be recorded, built and checked from there,
//! and [committed](StagedVersion::commit) only when the release went through, so a failed
//! release leaves nothing behind and the recorded files are exactly the ones that were built.

use serde::Serialize;

use crate::error::Result;
use crate::family::Family;

/// How a family is declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FamilyKind {
    /// In Rust code (a [`crate::TableFamily`] or another [`Family`] implementation).
    Code,
    /// As a folder of files in the catalog directory (`families/<name>/`).
    Files,
}

impl FamilyKind {
    /// `code` or `files`.
    pub fn as_str(self) -> &'static str {
        match self {
            FamilyKind::Code => "code",
            FamilyKind::Files => "files",
        }
    }
}

/// A version staged from a family's working files (see the module docs).
pub trait StagedVersion: Send + Sync {
    /// The family with the staged version declared, to build, check and render it from.
    fn family(&self) -> &dyn Family;

    /// Keeps the staged files as the version's record. Dropping a staged version without
    /// committing it removes them.
    fn commit(self: Box<Self>) -> Result<()>;
}
