//! The SBOMs of a platform image (SPDX 2.3 and CycloneDX 1.5), generated from its layers in the
//! store, as artifacts about its manifest. Their payload is the document itself, not an in-toto
//! statement, so scanners that look for `application/spdx+json` referrers find them.

use std::collections::BTreeMap;

use plinth_oci::{Artifact, Descriptor, ManifestDocument, Platform, Store};
use plinth_sbom::{Format, ImageFiles, Subject};

use crate::attach::Attachment;
use crate::error::{Error, Result};

/// The formats attached to every published platform image.
pub const ATTACHED_FORMATS: [Format; 2] = [Format::Spdx, Format::CycloneDx];

/// The SBOM attachments of the platform image `subject` (a manifest in `store`), named
/// `image_name`, with `created` (seconds since 1970, the image's reproducible timestamp) as
/// the documents' time. Nothing for an index.
pub fn sbom_attachments(
    store: &Store,
    image_name: &str,
    subject: &Descriptor,
    platform: &Platform,
    created: u64,
) -> Result<Vec<Attachment>> {
    let manifest = match store.read_document(subject)? {
        ManifestDocument::Image(m) => m,
        ManifestDocument::Index(_) => return Ok(Vec::new()),
    };
    let sbom_err = |source| Error::Sbom {
        subject: subject.digest.clone(),
        source: Box::new(source),
    };
    let files = ImageFiles::from_store(store, &manifest).map_err(sbom_err)?;
    let sbom = plinth_sbom::generate(
        &files,
        Subject {
            name: image_name.to_owned(),
            digest: subject.digest.clone(),
            platform: platform.clone(),
        },
        created,
    )
    .map_err(sbom_err)?;
    for warning in &sbom.warnings {
        tracing::warn!(subject = %subject.digest, "{warning}");
    }
    ATTACHED_FORMATS
        .into_iter()
        .map(|format| {
            Ok(Attachment {
                subject: subject.clone(),
                artifact: Artifact {
                    artifact_type: format.media_type().to_owned(),
                    payload_media_type: format.media_type().to_owned(),
                    payload: sbom.to_json(format).map_err(sbom_err)?,
                    annotations: BTreeMap::new(),
                },
                what: format!("{format} SBOM ({platform})"),
            })
        })
        .collect()
}
