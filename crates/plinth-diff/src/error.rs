//! The diff crate's one error type.

/// What can go wrong comparing images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not give a blob or document.
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),
    /// A layer could not be read.
    #[error("cannot read layer {layer}: {reason}")]
    Layer {
        /// The layer's digest.
        layer: String,
        /// Why.
        reason: String,
    },
    /// An image config is not JSON.
    #[error("the config {digest} is not valid JSON: {reason}")]
    Config {
        /// The config's digest.
        digest: String,
        /// Why.
        reason: String,
    },
    /// An index inside an index, or another shape that is not an image.
    #[error("{what}: {reason}")]
    NotAnImage {
        /// Which image.
        what: String,
        /// Why.
        reason: String,
    },
    /// An SBOM could not be made or read.
    #[error(transparent)]
    Sbom(#[from] plinth_sbom::Error),
    /// An SBOM document could not be read back.
    #[error("cannot read the SBOM document: {0}")]
    SbomDocument(String),
}

/// The diff crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
