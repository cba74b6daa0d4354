//! Attestations of plinth images, and the standard annotations.
//!
//! - [`statement`]: in-toto Statement v1, canonical JSON, as an OCI artifact.
//! - [`provenance`]: the SLSA v1 provenance predicate of one platform image, made from its
//!   [`PlatformBuild`](plinth_executor::PlatformBuild) (inputs with digests, config, engine) and
//!   the recipe's [`RecipeParameters`](provenance::RecipeParameters).
//! - [`check_report`]: the sanity checks of one platform, their results, the plinth version.
//! - [`annotations`]: `org.opencontainers.image.*` on every manifest and the index, by
//!   rewriting them in the store.
//! - [`sbom`]: the SPDX and CycloneDX documents of a platform image, as artifacts.
//! - [`attach`]: the attachments of a build, pushed as OCI 1.1 artifacts whose `subject` is the
//!   platform manifest (never entries of the image index).
//! - [`read`]: finding them again in a registry, through the referrers API or its tag
//!   fallback.
//!
//! The publish order that keeps a tag from pointing at an incomplete image: the image's blobs
//! and manifests by digest, then the attachments (their subjects exist by then), then the tag.

#![deny(missing_docs)]

pub mod annotations;
pub mod attach;
pub mod check_report;
mod error;
pub mod provenance;
pub mod read;
pub mod sbom;
pub mod statement;

pub use annotations::{AnnotatedImage, ImageAnnotations, annotate_image};
pub use attach::{Attachment, attestations, push_attachments, write_attachments};
pub use check_report::{CHECK_REPORT_V1, check_report_statement};
pub use error::{Error, Result};
pub use provenance::{
    BUILD_TYPE, BUILDER_ID, BuildParameters, ProvenanceContext, RecipeParameters,
    RecordedDockerfile, SLSA_PROVENANCE_V1, provenance_statement, recorded_parameters,
};
pub use read::{Attached, find_attached, find_statements, platform_manifests};
pub use sbom::{ATTACHED_FORMATS, sbom_attachments};
pub use statement::{AnyStatement, IN_TOTO_MEDIA_TYPE, Statement, parse_statement};
