//! The one error type of plinth-attest.

use plinth_oci::Digest;

/// What went wrong making, attaching or reading attestations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store or document error.
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),

    /// A registry error.
    #[error(transparent)]
    Registry(#[from] plinth_registry::Error),

    /// A manifest of the image has no build in the build result.
    #[error("the manifest `{0}` is not one this build made; annotate the image the build returned")]
    NotBuilt(Digest),

    /// The SBOM of a platform image could not be made.
    #[error("cannot make the SBOM of `{subject}`")]
    Sbom {
        /// The platform manifest.
        subject: Digest,
        /// Why.
        #[source]
        source: Box<plinth_sbom::Error>,
    },

    /// A payload that should be an in-toto statement is not one.
    #[error("invalid attestation: {0}")]
    InvalidStatement(String),

    /// The image has no platform of that name.
    #[error("`{image}` has no image for platform `{platform}`; it offers: {offered}")]
    NoSuchPlatform {
        /// The image.
        image: String,
        /// The platform asked for.
        platform: String,
        /// The platforms it has.
        offered: String,
    },

    /// Nothing of the kind is attached to the image.
    #[error(
        "no {what} is attached to `{image}` (looked {how}); publish it with plinth to attach one"
    )]
    NotAttached {
        /// What was looked for (`provenance`, `check report`).
        what: String,
        /// The image manifest.
        image: String,
        /// Through the referrers API or the tag.
        how: String,
    },
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
