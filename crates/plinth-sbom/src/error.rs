//! The crate's one error type.

/// What can go wrong reading an image's packages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer could not be read.
    #[error("cannot read layer {layer}: {reason}")]
    Layer {
        /// The layer's digest.
        layer: String,
        /// Why.
        reason: String,
    },
    /// A package database is there but unreadable.
    #[error("cannot read the package database {path}: {reason}")]
    Database {
        /// Its path in the image.
        path: String,
        /// Why.
        reason: String,
    },
    /// Writing a document failed.
    #[error("cannot write the SBOM: {0}")]
    Write(String),
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
