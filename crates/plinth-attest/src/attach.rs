//! Attestations of a built image: made from the build, written into the store as OCI 1.1
//! artifacts and pushed beside the published image.

use std::sync::Arc;

use plinth_catalog::checks::CheckReport;
use plinth_executor::PlatformBuild;
use plinth_oci::{Artifact, Descriptor, Reference, Store};
use plinth_registry::{Client, ReferrersDiscovery, TransferReporter};

use crate::annotations::AnnotatedImage;
use crate::check_report::check_report_statement;
use crate::error::Result;
use crate::provenance::{ProvenanceContext, provenance_statement};
use crate::sbom::sbom_attachments;

/// One artifact to attach to one platform manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The platform manifest it is about.
    pub subject: Descriptor,
    /// The artifact.
    pub artifact: Artifact,
    /// What it is, for messages (`provenance`, `check report`, `SBOM`).
    pub what: String,
}

/// Everything attached to each platform of `image` (the annotated image of `builds`, in
/// `store`): its provenance, its check report where `reports` has one for the platform (checks
/// ran), and its SBOMs (SPDX and CycloneDX), generated from its layers. The one list both the
/// release flow and `plinth build --push` attach.
pub fn attestations(
    store: &Store,
    context: &ProvenanceContext<'_>,
    builds: &[PlatformBuild],
    image: &AnnotatedImage,
    reports: &[CheckReport],
) -> Result<Vec<Attachment>> {
    let mut attachments = Vec::new();
    for build in builds {
        let Some(subject) = image.manifest(&build.platform) else {
            continue;
        };
        let provenance = provenance_statement(context, build, &subject.digest);
        attachments.push(Attachment {
            subject: subject.clone(),
            artifact: provenance.to_artifact()?,
            what: format!("provenance ({})", build.platform),
        });
        if let Some(report) = reports.iter().find(|r| r.platform == build.platform) {
            let statement = check_report_statement(context.image_name, report, &subject.digest);
            attachments.push(Attachment {
                subject: subject.clone(),
                artifact: statement.to_artifact()?,
                what: format!("check report ({})", build.platform),
            });
        }
        let created = build
            .config
            .created
            .as_deref()
            .and_then(plinth_oci::time::parse_rfc3339)
            .unwrap_or(0);
        attachments.extend(sbom_attachments(
            store,
            context.image_name,
            subject,
            &build.platform,
            created,
        )?);
    }
    Ok(attachments)
}

/// Writes each attachment's artifact into `store`; returns their manifests, in order.
pub fn write_attachments(store: &Store, attachments: &[Attachment]) -> Result<Vec<Descriptor>> {
    attachments
        .iter()
        .map(|a| Ok(a.artifact.write(store, &a.subject)?))
        .collect()
}

/// Pushes every attachment (written into the client's store first) to the repository of
/// `repository`, where their subjects must already be, one after the other. Returns how
/// they can be found.
pub async fn push_attachments(
    client: &Client,
    repository: &Reference,
    attachments: &[Attachment],
    reporter: Arc<dyn TransferReporter>,
) -> Result<Option<ReferrersDiscovery>> {
    let manifests = write_attachments(client.store(), attachments)?;
    let mut discovery = None;
    for (manifest, attachment) in manifests.iter().zip(attachments) {
        tracing::info!(what = %attachment.what, artifact = %manifest.digest, "attaching");
        discovery = Some(
            client
                .attach(repository, &manifest.digest, reporter.clone())
                .await?,
        );
    }
    Ok(discovery)
}
