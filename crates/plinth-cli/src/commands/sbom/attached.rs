//! SBOMs already attached to an image: in a registry (referrers API or the `sha256-<hex>` tag
//! fallback) or in the local store (the attachment refs a push or publish writes).

use plinth_oci::{Digest, ManifestDocument, Platform, Reference, Store};
use plinth_registry::{Client, ReferrersDiscovery};
use plinth_sbom::Format;

/// An attached document and where it was found, for the message on stderr.
pub(super) struct AttachedSbom {
    /// The document as attached.
    pub bytes: Vec<u8>,
    /// The platform it is about.
    pub platform: Option<Platform>,
    /// `through the referrers API`, `under the sha256-… tag`, `in the local store`.
    pub found: String,
}

/// The `format` SBOM attached in the registry to the platform of `reference` that `wanted`
/// (or the only one, else the host's) names; `None` when it has none.
pub(super) async fn in_registry(
    client: &Client,
    reference: &Reference,
    wanted: Option<&Platform>,
    format: Format,
) -> anyhow::Result<Option<AttachedSbom>> {
    let manifests = plinth_attest::platform_manifests(client, reference, wanted).await?;
    let platform = match (wanted, manifests.as_slice()) {
        (Some(p), _) => p.clone(),
        (None, [(Some(only), _)]) => only.clone(),
        (None, [(None, _)]) => {
            // A single manifest that names no platform: whatever is attached to it.
            return first_attached(client, reference, None, format).await;
        }
        (None, _) => Platform::host(),
    };
    first_attached(client, reference, Some(&platform), format).await
}

async fn first_attached(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    format: Format,
) -> anyhow::Result<Option<AttachedSbom>> {
    let wanted =
        |d: &plinth_oci::Descriptor| d.artifact_type.as_deref() == Some(format.media_type());
    let found = plinth_attest::find_attached(client, reference, platform, &wanted).await?;
    Ok(found.into_iter().next().map(|a| AttachedSbom {
        bytes: a.payload,
        platform: a.platform,
        found: match a.discovery {
            ReferrersDiscovery::Api => "through the referrers API".to_owned(),
            ReferrersDiscovery::TagSchema => format!("under the {} tag", tag_of(&a.subject)),
        },
    }))
}

/// The referrers tag of `subject`: `sha256-<hex>`.
fn tag_of(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm(), subject.hex())
}

/// The `format` SBOM attached to the platform manifest `subject` in the local store.
pub(super) fn in_store(
    store: &Store,
    subject: &Digest,
    platform: &Platform,
    format: Format,
) -> anyhow::Result<Option<AttachedSbom>> {
    for artifact in store.attachments_of(subject)? {
        if artifact.artifact_type.as_deref() != Some(format.media_type()) {
            continue;
        }
        let ManifestDocument::Image(manifest) = store.read_document(&artifact)? else {
            continue;
        };
        return Ok(Some(AttachedSbom {
            bytes: plinth_oci::Artifact::read_payload(store, &manifest)?,
            platform: Some(platform.clone()),
            found: "in the local store".to_owned(),
        }));
    }
    Ok(None)
}
