//! The error type of `plinth-release`.

use std::path::PathBuf;

use plinth_catalog::Version;
use plinth_oci::Digest;

/// Everything a release operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalog refused (unknown family or version, invalid changelog, existing version, …).
    #[error(transparent)]
    Catalog(#[from] plinth_catalog::Error),

    /// Building a version failed.
    #[error("failed to build {repository} {version}")]
    Build {
        /// The family.
        repository: String,
        /// The version.
        version: Version,
        /// The executor's error.
        #[source]
        source: Box<plinth_executor::Error>,
    },

    /// The executor or the checker works in another store than the registry client pushes from.
    #[error(
        "the {what} works in the store `{store}`, but pushes read the store `{client_store}`; \
         open them over the same store"
    )]
    OtherStore {
        /// What (`embedded executor`, `checker`).
        what: String,
        /// Its store.
        store: PathBuf,
        /// The registry client's store.
        client_store: PathBuf,
    },

    /// A build operation was asked of a releaser that was given no executor.
    #[error(
        "this releaser cannot build {repository}: it has no executor (`Releaser::with_executor`)"
    )]
    NoExecutor {
        /// The family that was to be built.
        repository: String,
    },

    /// The sandbox could not open the image to run checks in.
    #[error("failed to start the sanity checks of {subject} on {platform}")]
    CheckSetup {
        /// What was checked.
        subject: String,
        /// The platform.
        platform: String,
        /// The checker's error.
        #[source]
        source: plinth_catalog::checks::RunnerError,
    },

    /// A registry operation failed.
    #[error("{action} `{target}` failed")]
    Registry {
        /// What was being done (`push to`, `read the tag`).
        action: &'static str,
        /// The reference.
        target: String,
        /// The registry error.
        #[source]
        source: Box<plinth_registry::Error>,
    },

    /// Making, annotating or attaching the attestations of an image failed.
    #[error("failed to {action} `{target}`")]
    Attest {
        /// What was being done (`annotate`, `attach the attestations of`).
        action: &'static str,
        /// The image.
        target: String,
        /// The cause.
        #[source]
        source: Box<plinth_attest::Error>,
    },

    /// A build with stand-in images (`--substitute-image`) was to be published to a registry
    /// that is not on this machine.
    #[error(
        "refusing to publish {repository} to `{registry}`: this build replaces images with stand-ins \
         ({substitutions}), so it is not the real image; publish stand-in builds only to a loopback \
         registry (`--registry 127.0.0.1:PORT`), or drop `--substitute-image` to build the real one"
    )]
    SubstitutedPublish {
        /// The family.
        repository: String,
        /// The target registry.
        registry: String,
        /// The substitution rules, `FROM=TO`, comma-separated.
        substitutions: String,
    },

    /// The published tag points at another image and `--force` was not given.
    #[error(
        "{address} is already published with digest `{published}`, but this build gives `{built}`; \
         a published version is never overwritten (pass --force to overwrite it anyway)"
    )]
    PublishedDiffers {
        /// `registry/repository:tag`.
        address: String,
        /// The digest in the registry.
        published: Digest,
        /// The digest just built.
        built: Digest,
    },

    /// The latest version of a family is not published yet (the original's refusal).
    #[error(
        "The latest version of {repository} ({version}) has not been published yet. Please publish it first before cutting a new version."
    )]
    LatestUnpublished {
        /// The family.
        repository: String,
        /// Its latest version.
        version: Version,
    },

    /// The bump gives a version the family does not declare.
    #[error(
        "the `{bump}` bump gives {repository} {version}, but the family does not declare {version} with a recipe \
         (its next declared version is {declared}); declare {version} in the family's code, or pick the bump that gives {declared}"
    )]
    NotDeclared {
        /// The family.
        repository: String,
        /// The bump label.
        bump: String,
        /// What the bump gives.
        version: Version,
        /// The newest declared version not released yet, or `none`.
        declared: String,
    },

    /// `publish` of a version without a changelog entry.
    #[error(
        "No entry found for version {version} in the registry. Please cut a new version first: `plinth generate-release`"
    )]
    NoChangelogEntry {
        /// The version.
        version: Version,
    },

    /// `--changelog-from-diff` when the draft has no package summary.
    #[error(
        "there is no package summary to use as the changelog entry of {version}: {reason}; \
         describe the change with `--changelog TEXT`"
    )]
    NoChangelogDraft {
        /// The version being released.
        version: Version,
        /// Why there is none (no previous version, no package changed, unreadable image).
        reason: String,
    },

    /// The question for the changelog entry got no answer (cancelled, or it failed).
    #[error("no changelog entry was given")]
    ChangelogNotGiven {
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Comparing the packages of two images failed.
    #[error("failed to compare the packages")]
    Diff(#[source] Box<plinth_diff::Error>),

    /// The local store failed.
    #[error("failed to {action} the local store")]
    Store {
        /// What was being done.
        action: &'static str,
        /// The store's error.
        #[source]
        source: Box<plinth_oci::Error>,
    },

    /// The checks of a version failed on some platform.
    #[error("Sanity checks failed: {summary}")]
    ChecksFailed {
        /// One line per failed check: platform, id and message.
        summary: String,
    },

    /// Another release of the same family holds its lock.
    #[error(
        "another release of {repository} is in progress (lock `{}`); wait for it to finish and run the command again",
        path.display()
    )]
    Busy {
        /// The family.
        repository: String,
        /// The lock file.
        path: PathBuf,
    },

    /// A generated file is not what the catalog gives (`generate-docs --check`).
    #[error("{} is stale; run `plinth generate-docs` and commit the result:\n{diff}", path.display())]
    Stale {
        /// The file.
        path: PathBuf,
        /// A unified diff from the file to what it should be.
        diff: String,
    },

    /// Rendering the docs failed.
    #[error("failed to render the docs")]
    Render(#[from] plinth_render::Error),

    /// A consumer file (a Dockerfile, a connector's `metadata.yaml`) cannot be updated.
    #[error("cannot update `{}`: {reason}", path.display())]
    Consumer {
        /// The file.
        path: PathBuf,
        /// Why, and how to fix it.
        reason: String,
    },

    /// A family has nothing published to pin.
    #[error("{repository} has no {what} version in `{registry}`; publish one first")]
    NothingPublished {
        /// The family.
        repository: String,
        /// `published` or `stable published`.
        what: &'static str,
        /// Where it was looked for.
        registry: String,
    },

    /// A release record file is invalid.
    #[error("invalid release record `{}`: {reason}; fix it or restore it from git", path.display())]
    InvalidRecord {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A local file operation failed.
    #[error("failed to {action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A package index of Debian's archive could not be read.
    #[error("cannot read the package index `{url}`: {reason}")]
    AptIndex {
        /// The index.
        url: String,
        /// Why.
        reason: String,
    },

    /// Debian's archive could not be reached, or what it served does not verify.
    #[error(transparent)]
    DebianArchive(Box<plinth_engine::Error>),

    /// PyPI could not be asked about a package.
    #[error("cannot ask `{url}`: {reason}")]
    Pypi {
        /// The request.
        url: String,
        /// Why.
        reason: String,
    },

    /// The HTTP client for Debian's archive and PyPI could not start.
    #[error("cannot start an HTTP client")]
    HttpClient(#[source] reqwest::Error),

    /// A root image could not be read from its registry.
    #[error("cannot read the root image `{image}`")]
    RootImage {
        /// The root.
        image: String,
        /// The registry error.
        #[source]
        source: Box<plinth_registry::Error>,
    },

    /// The Debian suite of a root image could not be found.
    #[error("cannot tell which Debian suite `{image}` runs: {reason}; give it with `--suite`")]
    RootSuite {
        /// The root.
        image: String,
        /// Why.
        reason: String,
    },

    /// The async runtime for registry calls could not start.
    #[error("failed to start the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// `Result` with the release [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// Whether this is a refusal the original tool reported with exit code 1 (a negative result,
    /// not a malfunction): unpublished latest, failed checks, missing changelog entry.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::LatestUnpublished { .. }
                | Error::ChecksFailed { .. }
                | Error::NoChangelogEntry { .. }
                | Error::NoChangelogDraft { .. }
                | Error::PublishedDiffers { .. }
                | Error::Catalog(plinth_catalog::Error::VersionExists { .. })
                | Error::Catalog(plinth_catalog::Error::VersionNotAbove { .. })
                | Error::Catalog(plinth_catalog::Error::UnknownFamily { .. })
                | Error::NotDeclared { .. }
                | Error::SubstitutedPublish { .. }
        )
    }
}
