//! Reading attachments back from a registry: the image's platform manifests, their referrers
//! (through the referrers API or the `sha256-<hex>` tag), each artifact's payload.

use plinth_oci::{Descriptor, Digest, ImageManifest, ManifestDocument, Platform, Reference};
use plinth_registry::{Client, NoTransferReporter, ReferrersDiscovery};

use crate::error::{Error, Result};
use crate::statement::{
    AnyStatement, IN_TOTO_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION, parse_statement,
};

/// One artifact found attached to a platform manifest.
#[derive(Clone, Debug)]
pub struct Attached {
    /// The platform of the manifest it is about (`None` for a manifest that names none).
    pub platform: Option<Platform>,
    /// The manifest it is about.
    pub subject: Digest,
    /// The artifact manifest, as the referrers listing describes it.
    pub artifact: Descriptor,
    /// Its payload.
    pub payload: Vec<u8>,
    /// How it was found.
    pub discovery: ReferrersDiscovery,
}

/// The platform manifests of the image at `reference` (only `platform`'s when given), with
/// their platforms.
pub async fn platform_manifests(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
) -> Result<Vec<(Option<Platform>, Digest)>> {
    let fetched = client.get_manifest(reference).await?;
    let all = match fetched.document()? {
        ManifestDocument::Image(m) => {
            let platform = image_platform(client, reference, &m).await;
            vec![(platform, fetched.digest.clone())]
        }
        ManifestDocument::Index(index) => index
            .manifests
            .iter()
            .map(|d| (d.platform.clone(), d.digest.clone()))
            .collect(),
    };
    let Some(wanted) = platform else {
        return Ok(all);
    };
    let chosen: Vec<_> = all
        .iter()
        .filter(|(p, _)| p.as_ref().is_some_and(|p| wanted.matches(p)))
        .cloned()
        .collect();
    if chosen.is_empty() {
        let offered: Vec<String> = all
            .iter()
            .map(|(p, _)| p.as_ref().map_or("unknown".to_owned(), ToString::to_string))
            .collect();
        return Err(Error::NoSuchPlatform {
            image: reference.to_string(),
            platform: wanted.to_string(),
            offered: offered.join(", "),
        });
    }
    Ok(chosen)
}

/// A single manifest's platform, from its config.
async fn image_platform(
    client: &Client,
    reference: &Reference,
    manifest: &ImageManifest,
) -> Option<Platform> {
    let store = client.store();
    client
        .get_blob(reference, &manifest.config, &NoTransferReporter)
        .await
        .ok()?;
    let config: plinth_oci::ImageConfig =
        serde_json::from_slice(&store.read_blob(&manifest.config.digest).ok()?).ok()?;
    Some(config.platform())
}

/// Every artifact attached to the platform manifests of `reference` (only `platform`'s when
/// given) that `wanted` accepts, with its payload.
pub async fn find_attached(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    wanted: &(dyn Fn(&Descriptor) -> bool + Sync),
) -> Result<Vec<Attached>> {
    let mut found = Vec::new();
    for (platform, subject) in platform_manifests(client, reference, platform).await? {
        let referrers = client.referrers(reference, &subject).await?;
        for artifact in referrers.manifests.iter().filter(|d| wanted(d)) {
            let by_digest = reference
                .repository_only()
                .with_digest(artifact.digest.clone());
            let manifest = match client.get_manifest(&by_digest).await?.document()? {
                ManifestDocument::Image(m) => m,
                ManifestDocument::Index(_) => continue,
            };
            if manifest.subject.as_ref().map(|s| &s.digest) != Some(&subject) {
                tracing::warn!(artifact = %artifact.digest, "listed as a referrer of {subject} but its subject differs; skipped");
                continue;
            }
            let [layer] = manifest.layers.as_slice() else {
                continue;
            };
            client
                .get_blob(reference, layer, &NoTransferReporter)
                .await?;
            found.push(Attached {
                platform: platform.clone(),
                subject: subject.clone(),
                artifact: artifact.clone(),
                payload: client.store().read_blob(&layer.digest)?,
                discovery: referrers.discovery,
            });
        }
    }
    Ok(found)
}

/// The in-toto statements of `predicate_type` attached to `reference`'s platform manifests,
/// each checked to be about the manifest it is attached to. An error when there are none.
pub async fn find_statements(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    predicate_type: &str,
    what: &str,
) -> Result<Vec<(Attached, AnyStatement)>> {
    let wanted = |d: &Descriptor| {
        d.artifact_type.as_deref() == Some(IN_TOTO_MEDIA_TYPE)
            && d.annotations
                .get(PREDICATE_TYPE_ANNOTATION)
                .is_none_or(|t| t == predicate_type)
    };
    let attached = find_attached(client, reference, platform, &wanted).await?;
    let mut statements = Vec::new();
    let mut discovery = None;
    for a in attached {
        discovery = Some(a.discovery);
        let statement = parse_statement(&a.payload)?;
        if statement.predicate_type != predicate_type {
            continue;
        }
        let about_subject = statement
            .subject
            .iter()
            .any(|s| s.digest_of(a.subject.algorithm()) == Some(a.subject.hex()));
        if !about_subject {
            return Err(Error::InvalidStatement(format!(
                "the attestation `{}` attached to `{}` is about another image",
                a.artifact.digest, a.subject
            )));
        }
        statements.push((a, statement));
    }
    if statements.is_empty() {
        return Err(Error::NotAttached {
            what: what.to_owned(),
            image: reference.to_string(),
            how: match discovery {
                Some(ReferrersDiscovery::Api) | None => {
                    "through the referrers API and the sha256-<digest> tag".to_owned()
                }
                Some(ReferrersDiscovery::TagSchema) => "under the sha256-<digest> tag".to_owned(),
            },
        });
    }
    Ok(statements)
}
