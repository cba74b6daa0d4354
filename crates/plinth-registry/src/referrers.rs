//! OCI 1.1 referrers: artifacts (attestations, SBOMs) whose `subject` is an image manifest,
//! pushed beside the image and found again from the image's digest.
//!
//! Discovery uses the referrers API (`GET /v2/<name>/referrers/<digest>`) where the registry
//! has it. Where it does not (distribution 2.x, Docker Hub), the registry answers that endpoint
//! with `404`, and the referrers tag schema of the distribution spec takes over: the tag
//! `sha256-<hex of the subject>` holds an image index listing the subject's referrers. Writing
//! that index is a read-modify-write: read the tag, add the new descriptor, write it back, then
//! read it once more and start again when another writer's update replaced ours.

use bytes::Bytes;
use plinth_oci::{Descriptor, Digest, ImageIndex, ManifestDocument, MediaType, Reference};
use reqwest::Method;
use reqwest::header::ACCEPT;

use crate::auth::pull_scope;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::push::PushOptions;
use crate::reporter::TransferReporter;
use crate::secret::RedactedUrl;
use crate::transport::{Request, check};

/// How many times the fallback tag's read-modify-write starts again when another writer's
/// update replaced ours.
const TAG_SCHEMA_ATTEMPTS: usize = 5;

/// How a registry lets clients find an image's referrers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferrersDiscovery {
    /// `GET /v2/<name>/referrers/<digest>`: the registry indexes `subject` fields itself.
    Api,
    /// The `sha256-<hex>` tag holding an index of referrers, which clients keep up to date.
    TagSchema,
}

/// An image's referrers as a registry lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referrers {
    /// One descriptor per artifact: its manifest, `artifactType` and annotations.
    pub manifests: Vec<Descriptor>,
    /// Where the list came from.
    pub discovery: ReferrersDiscovery,
}

impl Referrers {
    /// The referrers of one artifact type.
    pub fn of_type<'a>(&'a self, artifact_type: &'a str) -> impl Iterator<Item = &'a Descriptor> {
        self.manifests
            .iter()
            .filter(move |d| d.artifact_type.as_deref() == Some(artifact_type))
    }
}

/// The tag the referrers tag schema keeps `subject`'s referrers under: `sha256-<hex>`.
pub fn referrers_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm(), subject.hex())
}

/// The descriptor a referrers index lists for an artifact manifest (`bytes`, at `digest`):
/// its media type, `artifactType` (the config's media type when the manifest names none) and
/// annotations, as the distribution spec asks.
pub fn referrer_descriptor(bytes: &[u8], digest: &Digest) -> Result<Descriptor> {
    let document = ManifestDocument::parse(bytes, None)?;
    let (media_type, artifact_type, annotations) = match document {
        ManifestDocument::Image(m) => (
            m.media_type(),
            m.artifact_type
                .clone()
                .or_else(|| Some(m.config.media_type.as_str().to_owned())),
            m.annotations,
        ),
        ManifestDocument::Index(i) => (
            i.media_type.clone().unwrap_or(MediaType::OciIndex),
            i.artifact_type,
            i.annotations,
        ),
    };
    let mut descriptor = Descriptor::new(media_type, digest.clone(), bytes.len() as u64);
    descriptor.artifact_type = artifact_type;
    descriptor.annotations = annotations;
    Ok(descriptor)
}

impl Client {
    /// Pushes the artifact manifest `artifact` (in the store, with a `subject`) and its blobs
    /// to the repository of `repository`, by digest, and makes it discoverable from its
    /// subject: nothing more where the registry has the referrers API, else the subject's
    /// `sha256-<hex>` tag is updated. The subject must already be in the repository.
    pub async fn attach(
        &self,
        repository: &Reference,
        artifact: &Digest,
        reporter: std::sync::Arc<dyn TransferReporter>,
    ) -> Result<ReferrersDiscovery> {
        let bytes = self.store().read_blob(artifact)?;
        let subject = match ManifestDocument::parse(&bytes, None)? {
            ManifestDocument::Image(m) => m.subject,
            ManifestDocument::Index(i) => i.subject,
        }
        .ok_or_else(|| {
            Error::Unsupported(format!(
                "`{artifact}` has no subject, so it refers to no image and cannot be attached"
            ))
        })?;
        let by_digest = repository.repository_only().with_digest(artifact.clone());
        self.push_image_with(artifact, &by_digest, &PushOptions::new(), reporter)
            .await?;
        let discovery = self
            .referrers_discovery(repository, &subject.digest)
            .await?;
        if discovery == ReferrersDiscovery::TagSchema {
            let descriptor = referrer_descriptor(&bytes, artifact)?;
            self.add_to_referrers_tag(repository, &subject.digest, descriptor)
                .await?;
        }
        tracing::info!(%artifact, subject = %subject.digest, ?discovery, "attached");
        Ok(discovery)
    }

    /// The referrers of `subject` in the repository of `repository`: through the referrers
    /// API, or the `sha256-<hex>` tag where the registry lacks it (none when that tag does not
    /// exist).
    pub async fn referrers(&self, repository: &Reference, subject: &Digest) -> Result<Referrers> {
        if let Some(index) = self.referrers_api(repository, subject).await? {
            return Ok(Referrers {
                manifests: index.manifests,
                discovery: ReferrersDiscovery::Api,
            });
        }
        let manifests = self
            .referrers_tag_index(repository, subject)
            .await?
            .map(|i| i.manifests)
            .unwrap_or_default();
        Ok(Referrers {
            manifests,
            discovery: ReferrersDiscovery::TagSchema,
        })
    }

    /// Whether the registry answers the referrers API for `subject`.
    async fn referrers_discovery(
        &self,
        repository: &Reference,
        subject: &Digest,
    ) -> Result<ReferrersDiscovery> {
        Ok(match self.referrers_api(repository, subject).await? {
            Some(_) => ReferrersDiscovery::Api,
            None => ReferrersDiscovery::TagSchema,
        })
    }

    /// `GET /v2/<name>/referrers/<digest>`: the index, or `None` when the registry has no such
    /// endpoint (`404`, as distribution 2.x answers every route it does not know, or `405`).
    async fn referrers_api(
        &self,
        repository: &Reference,
        subject: &Digest,
    ) -> Result<Option<ImageIndex>> {
        let endpoint = self.endpoint(repository.registry())?;
        let url = endpoint.url(repository.repository(), &format!("referrers/{subject}"))?;
        let req = Request::new(
            Method::GET,
            url,
            &endpoint,
            vec![pull_scope(repository.repository())],
        )
        .header(ACCEPT, MediaType::OciIndex.as_str());
        let resp = self.send(req).await?;
        // 404 is what the spec names; some registries answer an unknown route with 405.
        if matches!(resp.status().as_u16(), 404 | 405) {
            return Ok(None);
        }
        let resp = check(resp, "GET", &[200]).await?;
        let url: RedactedUrl = resp.url().into();
        let bytes = crate::manifests::read_manifest_body(resp, &url).await?;
        let index: ImageIndex = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
            url,
            reason: format!("the referrers response is not an image index: {e}"),
        })?;
        Ok(Some(index))
    }

    /// The index under `subject`'s referrers tag, `None` when the tag does not exist.
    async fn referrers_tag_index(
        &self,
        repository: &Reference,
        subject: &Digest,
    ) -> Result<Option<ImageIndex>> {
        let tag = repository
            .repository_only()
            .with_tag(&referrers_tag(subject))?;
        let fetched = match self.get_manifest(&tag).await {
            Ok(m) => m,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match fetched.document()? {
            ManifestDocument::Index(index) => Ok(Some(index)),
            ManifestDocument::Image(_) => Err(Error::Unsupported(format!(
                "`{tag}` is an image, not the index of referrers the tag schema keeps there; \
                 delete that tag so plinth can list {subject}'s referrers under it"
            ))),
        }
    }

    /// Adds `descriptor` to `subject`'s referrers tag (read, modify, write, read back).
    async fn add_to_referrers_tag(
        &self,
        repository: &Reference,
        subject: &Digest,
        descriptor: Descriptor,
    ) -> Result<()> {
        let tag = repository
            .repository_only()
            .with_tag(&referrers_tag(subject))?;
        // Without this, two attaches of one client can both read the index before either writes,
        // both see their own entry right after their PUT, and the later PUT drops the earlier
        // entry. Other clients can still race; the re-read below narrows that window only.
        let _writer = self.inner.referrers_tag_writes.lock().await;
        for _ in 0..TAG_SCHEMA_ATTEMPTS {
            let mut index = self
                .referrers_tag_index(repository, subject)
                .await?
                .unwrap_or_else(|| ImageIndex::new(MediaType::OciIndex, Vec::new()));
            if index
                .manifests
                .iter()
                .any(|d| d.digest == descriptor.digest)
            {
                return Ok(());
            }
            index.manifests.push(descriptor.clone());
            let (bytes, _) = index.to_canonical()?;
            self.put_manifest(&tag, Bytes::from(bytes), &MediaType::OciIndex)
                .await?;
            // Another writer may have replaced the index between our read and our write.
            let now = self.referrers_tag_index(repository, subject).await?;
            if now.is_some_and(|i| i.manifests.iter().any(|d| d.digest == descriptor.digest)) {
                return Ok(());
            }
            tracing::debug!(%tag, "the referrers index changed under us; updating it again");
        }
        Err(Error::Unsupported(format!(
            "`{tag}` kept changing while plinth added `{}` to it; another client is rewriting \
             it; try again",
            descriptor.digest
        )))
    }
}
