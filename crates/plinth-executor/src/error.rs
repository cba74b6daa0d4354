//! The one error type of the executor crate.

use std::path::PathBuf;

use plinth_oci::Digest;

/// What fetching an input or assembling a build result can fail with, and the error an
/// [`Executor`](crate::Executor) returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A downloaded file did not match its pinned checksum.
    #[error(
        "the content of `{url}` does not match its pinned checksum: expected `{expected}`, got `{actual}`; update the recipe's sha256 if the new file is trusted"
    )]
    UrlChecksum {
        /// The URL, as in the recipe.
        url: String,
        /// The pinned digest.
        expected: Digest,
        /// The digest of what was downloaded.
        actual: Digest,
    },

    /// A URL could not be fetched.
    #[error("failed to fetch `{url}`: {reason}")]
    Fetch {
        /// The URL (or the mirror location it was rewritten to).
        url: String,
        /// What went wrong (status line, or the transport error).
        reason: String,
    },

    /// A URL mirror specification did not parse.
    #[error("invalid URL mirror `{spec}`: expected `PREFIX=URL` or `PREFIX=/local/dir`")]
    InvalidMirror {
        /// The text given.
        spec: String,
    },

    /// An image's manifest and config disagree on its layers.
    #[error(
        "image `{image}` has {layers} layers but its config lists {diff_ids} diff_ids; the image is corrupt"
    )]
    LayerCount {
        /// The manifest digest.
        image: Digest,
        /// The manifest's layer count.
        layers: usize,
        /// The config's diff_id count.
        diff_ids: usize,
    },

    /// A store operation failed.
    #[error(transparent)]
    Store(Box<plinth_oci::Error>),

    /// A host-side file operation failed.
    #[error("the ignore patterns of `{}` do not parse: {reason}", path.display())]
    IgnorePatterns {
        /// The directory they apply to.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A host file operation failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An executor failed to build; the source is the executor's own error (the embedded
    /// engine's or BuildKit's), whose message says which step and why.
    #[error(transparent)]
    Build(Box<dyn std::error::Error + Send + Sync>),
}

impl From<plinth_oci::Error> for Error {
    fn from(e: plinth_oci::Error) -> Self {
        Error::Store(Box::new(e))
    }
}

impl Error {
    /// An executor's own build error.
    pub fn build(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Build(Box::new(error))
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
