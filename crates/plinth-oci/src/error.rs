//! The error type of `plinth-oci`.

use std::path::PathBuf;

use crate::digest::Digest;

/// Everything that can go wrong in the OCI core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A digest string did not parse.
    #[error("invalid digest `{input}`: {reason}")]
    InvalidDigest {
        /// The input, cut to 100 characters.
        input: String,
        /// Why it is invalid.
        reason: String,
    },
    /// An image reference did not parse.
    #[error("invalid image reference `{input}`: `{part}`: {reason}")]
    InvalidReference {
        /// The whole input.
        input: String,
        /// The part that is wrong.
        part: String,
        /// Why it is wrong.
        reason: String,
    },
    /// An image location (`docker://REF`, `oci:DIR[:NAME]`, `docker-archive:FILE[:REF]`) did not parse.
    #[error("invalid image location `{input}`: {reason}")]
    InvalidLocation {
        /// The input, cut to 200 characters.
        input: String,
        /// What is wrong and how to write it.
        reason: String,
    },
    /// A platform string did not parse.
    #[error("invalid platform `{input}`: {reason}")]
    InvalidPlatform {
        /// The input.
        input: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A manifest or index did not parse.
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    /// A config did not parse.
    #[error("invalid image config: {0}")]
    InvalidConfig(String),
    /// JSON encoding failed.
    #[error("failed to encode JSON")]
    EncodeJson(#[source] serde_json::Error),
    /// Content did not match the digest it was stored or fetched under.
    #[error("content does not match its digest: expected `{expected}`, got `{actual}`")]
    DigestMismatch {
        /// The digest that was asked for.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// Content had a size other than its descriptor said.
    #[error("content of `{digest}` is {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// The descriptor's size.
        expected: u64,
        /// What arrived.
        actual: u64,
    },
    /// A blob is not in the store.
    #[error("blob `{0}` is not in the local store")]
    BlobNotFound(Digest),
    /// A file system operation failed.
    #[error("failed to {action} `{}`", path.display())]
    Io {
        /// What was being done (`read`, `write`, `rename`, …).
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A layer tar is malformed or hostile.
    #[error("unsafe or malformed layer entry `{entry}`: {reason}")]
    UnsafeEntry {
        /// The entry path as written in the tar (lossy UTF-8).
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A layer could not be read or written.
    #[error("layer error: {0}")]
    Layer(String),
    /// A file was not written because of what is already at its path.
    #[error("refusing to write `{}`: {reason}", path.display())]
    RefusedDestination {
        /// The destination.
        path: PathBuf,
        /// What is there and how to go on.
        reason: String,
    },
    /// An OCI layout or docker-archive is malformed.
    #[error("invalid {kind} at `{}`: {reason}", path.display())]
    InvalidArchive {
        /// `OCI layout` or `docker-archive`.
        kind: &'static str,
        /// Where.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// An I/O error with the path and action it happened on.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The result type of `plinth-oci`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes on one line (`error: cause: cause`), for warnings and messages
/// that carry a failure as text: the message alone often only names the operation, and the
/// cause says why it failed.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
