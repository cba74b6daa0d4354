//! The error type of `plinth-catalog`.

use std::path::PathBuf;

use crate::version::Version;

/// Everything that can go wrong while reading, reconciling or writing the version catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A version string is not strict SemVer 2.0.0 usable as a Docker tag.
    #[error("invalid version `{input}`: {reason}")]
    InvalidVersion {
        /// The input, cut to 100 characters.
        input: String,
        /// Why it was rejected, with a hint.
        reason: String,
    },
    /// A bump kind label is not one of the eight known labels.
    #[error(
        "unknown version bump `{input}`: expected one of prerelease, finalize, patch, patch-prerelease, minor, \
         minor-prerelease, major, major-prerelease"
    )]
    UnknownBumpKind {
        /// The input, cut to 100 characters.
        input: String,
    },
    /// The changelog file exists but could not be read.
    #[error("failed to read changelog `{path}`")]
    ReadChangelog {
        /// The changelog file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The changelog file is not a JSON array of entry objects.
    #[error(
        "changelog `{path}` is not a JSON array of {{\"version\", \"changelog_entry\", \"dockerfile_example\"}} objects; \
         fix the file by hand or restore it from git"
    )]
    ParseChangelog {
        /// The changelog file.
        path: PathBuf,
        /// The JSON error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// One changelog entry has a version that is not strict SemVer.
    #[error(
        "changelog `{path}`, entry {index} (counting from 0): invalid version `{version}`: {reason}"
    )]
    InvalidChangelogEntry {
        /// The changelog file.
        path: PathBuf,
        /// Position of the entry in the file's array.
        index: usize,
        /// The version string found in the entry.
        version: String,
        /// Why the version was rejected.
        reason: String,
    },
    /// The changelog could not be written (temp file, fsync or rename).
    #[error("failed to write changelog `{path}`")]
    WriteChangelog {
        /// The changelog file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The lock guarding the changelog could not be taken.
    #[error("failed to lock `{path}` to update the changelog")]
    LockChangelog {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A published image address does not have the `registry/repository:tag@sha256:hex` shape.
    #[error("invalid published image address `{input}`: {reason}")]
    InvalidAddress {
        /// The input, cut to 300 characters.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Listing the published tags of a repository failed.
    #[error("failed to list the published tags of `{repository}`")]
    ListTags {
        /// The repository (`registry/repository`).
        repository: String,
        /// The error of the tag source.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A new version would collide with a version that is already released or published.
    #[error(
        "version {version} already exists (in the changelog or as a published tag); pick another bump"
    )]
    VersionExists {
        /// The colliding version.
        version: Version,
    },
    /// A new version would not be above the latest existing version.
    #[error("version {version} is not above the latest version {latest}; pick another bump")]
    VersionNotAbove {
        /// The proposed version.
        version: Version,
        /// The latest existing version.
        latest: Version,
    },
    /// No family of the catalog has this repository.
    #[error("unknown base image repository `{repository}`: known repositories are {known}")]
    UnknownFamily {
        /// The repository asked for.
        repository: String,
        /// The catalog's repositories, comma-separated.
        known: String,
    },
    /// The family does not declare this version.
    #[error(
        "{repository} has no version {version}: declare it in the family before building or checking it"
    )]
    UnknownVersion {
        /// The family's repository.
        repository: String,
        /// The version asked for.
        version: Version,
    },
    /// The version is known (published), but how it was built is not.
    #[error("cannot build {repository} {version}: its recipe is not known ({reason})")]
    RecipeUnknown {
        /// The family's repository.
        repository: String,
        /// The version asked for.
        version: Version,
        /// Why, in plain words.
        reason: String,
    },
    /// The version is known, but which sanity checks it was released with is not.
    #[error(
        "no sanity checks are declared for {repository} {version} ({reason}); declare them in the family"
    )]
    ChecksUnknown {
        /// The family's repository.
        repository: String,
        /// The version asked for.
        version: Version,
        /// Why, in plain words.
        reason: String,
    },
    /// A recipe function failed.
    #[error("the recipe of {repository} {version} for {platform} is invalid")]
    Recipe {
        /// The family's repository.
        repository: String,
        /// The version.
        version: Version,
        /// The platform it was asked for.
        platform: String,
        /// The recipe error.
        #[source]
        source: Box<plinth_recipe::Error>,
    },
    /// A family's version table breaks a rule (order, duplicates, check changes).
    #[error("invalid family `{repository}`: {reason}")]
    InvalidFamily {
        /// The family's repository.
        repository: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A container-structure-test file is not valid YAML of the expected shape.
    #[error("failed to parse container-structure-test file `{origin}`")]
    ParseCst {
        /// Where the text came from (a path or a name).
        origin: String,
        /// The YAML error, with line and column.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// A container-structure-test file parsed but is not usable; every problem is listed.
    #[error("invalid container-structure-test file `{origin}`:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    InvalidCst {
        /// Where the text came from (a path or a name).
        origin: String,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// A file of a file family (`family.toml`, a Dockerfile, a check file) is wrong; the message
    /// names the line and the key where the file format has them.
    #[error("`{path}`: {message}")]
    FamilyFile {
        /// The file (or the family directory, for a missing file).
        path: PathBuf,
        /// What is wrong, where, and how to fix it.
        message: String,
    },
    /// A file family's version could not be staged or recorded.
    #[error("failed to {action} `{path}`")]
    RecordVersion {
        /// What was being done (`copy`, `rename`, …).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with the catalog's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
