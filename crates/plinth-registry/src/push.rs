//! The push path (modelled on go-containerregistry's `remote.Write`, and stricter):
//! every blob is `HEAD`ed first, mounted from a known repository on the same registry when
//! possible, else streamed from the store; uploads run in parallel (bounded) and restart cleanly
//! on transient failures; platform manifests go up by digest before the index, the tag is
//! written last, and the tag is read back to check it points at what was pushed.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use plinth_oci::{Digest, ManifestDocument, MediaType, Reference};
use tracing::Instrument as _;

use crate::client::{Client, Endpoint};
use crate::error::{Error, Result};
use crate::pull::manifest_blobs;
use crate::reporter::{BlobOutcome, Reporter};
use crate::sources::{blob_sources, record_blob_source};

/// What a push did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Blobs whose bytes were sent.
    pub blobs_uploaded: usize,
    /// Blobs the registry already had.
    pub blobs_skipped: usize,
    /// Blobs linked from another repository.
    pub blobs_mounted: usize,
    /// Bytes of blob content sent (retries not counted twice).
    pub bytes_uploaded: u64,
    /// Manifests and indexes written (children and root; ones already present are not counted).
    pub manifests_pushed: usize,
    /// The digest the target now points at.
    pub digest: Option<Digest>,
    /// The tag already pointed at the pushed digest, so nothing was sent (only with
    /// [`PushOptions::if_tag_absent_or_same`]).
    pub unchanged: bool,
}

/// What a push does when its tag already exists in the registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExistingTag {
    /// Move the tag to the pushed image (what registries do on a `PUT`).
    #[default]
    Overwrite,
    /// Fail with [`Error::TagExists`] when the tag points at another digest; do nothing when it
    /// already points at the pushed one.
    RefuseDifferent,
}

/// Options for [`Client::push_image_with`].
#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    existing_tag: ExistingTag,
}

impl PushOptions {
    /// The defaults: an existing tag is overwritten.
    pub fn new() -> Self {
        Self::default()
    }

    /// Never moves a tag: the tag is `HEAD`ed before anything is sent, and again right before
    /// it is written. Pointing at another digest fails with [`Error::TagExists`]; pointing at
    /// the pushed digest makes the push a no-op ([`PushReport::unchanged`]). This is the guard
    /// for published versions. Another client writing the tag between the last check and the
    /// `PUT` still wins; the registry protocol has no compare-and-swap.
    pub fn if_tag_absent_or_same(self) -> Self {
        self.with_existing_tag(ExistingTag::RefuseDifferent)
    }

    /// What to do when the tag exists.
    pub fn with_existing_tag(mut self, policy: ExistingTag) -> Self {
        self.existing_tag = policy;
        self
    }

    /// What happens when the tag exists.
    pub fn existing_tag(&self) -> ExistingTag {
        self.existing_tag
    }
}

/// A manifest to push: its bytes and media type.
struct ManifestToPush {
    digest: Digest,
    bytes: Bytes,
    media_type: MediaType,
}

impl Client {
    /// Pushes the image whose root manifest or index `root` is in the store to `target`
    /// (tagged, or by digest when `target` has no tag), and verifies the result. An existing tag
    /// is overwritten; see [`Client::push_image_with`] to refuse that.
    ///
    /// When the push fails, the tag has not been written: blobs and platform manifests may be
    /// in the repository by digest, but the tag still points where it pointed before (or does
    /// not exist).
    pub async fn push_image(
        &self,
        root: &Digest,
        target: &Reference,
        reporter: Arc<dyn Reporter>,
    ) -> Result<PushReport> {
        self.push_image_with(root, target, &PushOptions::default(), reporter)
            .await
    }

    /// [`Client::push_image`] with options (e.g. [`PushOptions::if_tag_absent_or_same`]).
    pub async fn push_image_with(
        &self,
        root: &Digest,
        target: &Reference,
        options: &PushOptions,
        reporter: Arc<dyn Reporter>,
    ) -> Result<PushReport> {
        let span = tracing::info_span!("push", image = %target, digest = %root);
        self.push_image_inner(root, target, options, reporter)
            .instrument(span)
            .await
    }

    /// With [`ExistingTag::RefuseDifferent`]: whether the tag already points at `root` (a
    /// no-op push), or an error when it points elsewhere.
    async fn tag_already_points_at(
        &self,
        endpoint: &Endpoint,
        tag_ref: &Reference,
        root: &Digest,
        options: &PushOptions,
    ) -> Result<bool> {
        if options.existing_tag != ExistingTag::RefuseDifferent || tag_ref.tag().is_none() {
            return Ok(false);
        }
        match self.head_manifest_at(endpoint, tag_ref).await? {
            None => Ok(false),
            Some(info) if &info.digest == root => Ok(true),
            Some(info) => Err(Error::TagExists {
                tag: tag_ref.to_string(),
                existing: info.digest,
                new: root.clone(),
            }),
        }
    }

    async fn push_image_inner(
        &self,
        root: &Digest,
        target: &Reference,
        options: &PushOptions,
        reporter: Arc<dyn Reporter>,
    ) -> Result<PushReport> {
        let store = self.store();
        let root_bytes = self.read_manifest_from_store(root)?;
        let root_doc = ManifestDocument::parse(&root_bytes, None)?;
        let mut children = Vec::new();
        let mut blobs = BTreeMap::new();
        match &root_doc {
            ManifestDocument::Image(m) => manifest_blobs(m, &mut blobs),
            ManifestDocument::Index(index) => {
                for child in &index.manifests {
                    let bytes = self.read_manifest_from_store(&child.digest)?;
                    match ManifestDocument::parse(&bytes, Some(&child.media_type))? {
                        ManifestDocument::Image(m) => manifest_blobs(&m, &mut blobs),
                        ManifestDocument::Index(_) => {
                            return Err(Error::Unsupported(format!(
                                "`{}` is an index inside an index, which plinth does not push",
                                child.digest
                            )));
                        }
                    }
                    children.push(ManifestToPush {
                        digest: child.digest.clone(),
                        bytes: Bytes::from(bytes),
                        media_type: child.media_type.clone(),
                    });
                }
            }
        }
        for digest in blobs.keys() {
            if !store.has_blob(digest) {
                return Err(Error::MissingContent {
                    digest: digest.clone(),
                });
            }
        }

        let endpoint = self.endpoint(target.registry())?;
        let repository = target.repository();
        let mut report = PushReport::default();
        // Where the root goes: the tag, or the digest when the target has no tag.
        let root_ref = match target.tag() {
            Some(_) => Reference::new(target.registry(), repository, target.tag(), None)?,
            None => target.repository_only().with_digest(root.clone()),
        };
        if self
            .tag_already_points_at(&endpoint, &root_ref, root, options)
            .await?
        {
            tracing::info!("the tag already points at this image; nothing to push");
            report.digest = Some(root.clone());
            report.unchanged = true;
            return Ok(report);
        }
        let outcomes: Vec<(BlobOutcome, u64)> = futures_util::stream::iter(blobs)
            .map(|(digest, size)| {
                let reporter = reporter.clone();
                let endpoint = &endpoint;
                async move {
                    let from = blob_sources(store, &digest)
                        .into_iter()
                        .find(|(reg, repo)| reg == target.registry() && repo != repository)
                        .map(|(_, repo)| repo);
                    let outcome = self
                        .push_blob(endpoint, repository, &digest, from.as_deref(), reporter)
                        .await
                        .map_err(|e| Error::PushBlob {
                            digest: digest.clone(),
                            repository: target.name(),
                            source: Box::new(e),
                        })?;
                    record_blob_source(store, &digest, target.registry(), repository);
                    Ok::<_, Error>((outcome, size))
                }
            })
            .buffer_unordered(self.inner.blob_jobs)
            .try_collect()
            .await?;
        for (outcome, size) in outcomes {
            match outcome {
                BlobOutcome::Uploaded => {
                    report.blobs_uploaded += 1;
                    report.bytes_uploaded += size;
                }
                BlobOutcome::Mounted => report.blobs_mounted += 1,
                _ => report.blobs_skipped += 1,
            }
        }

        // Children first, by digest, so nobody resolving the tag sees a partial image.
        for child in children {
            let by_digest = target.repository_only().with_digest(child.digest.clone());
            if self
                .head_manifest_at(&endpoint, &by_digest)
                .await?
                .is_some_and(|i| i.digest == child.digest)
            {
                continue;
            }
            self.put_manifest(&by_digest, child.bytes, &child.media_type)
                .await
                .map_err(|e| Error::PushManifest {
                    digest: child.digest.clone(),
                    reference: by_digest.to_string(),
                    source: Box::new(e),
                })?;
            reporter.on_manifest(
                &child.digest,
                &format!("{}@{}", target.name(), child.digest),
            );
            report.manifests_pushed += 1;
        }

        // The root, under its tag, last. A guarded push looks at the tag once more, to narrow
        // the window in which another publisher could have written it meanwhile.
        let already = match target.tag() {
            None => self.head_manifest_at(&endpoint, &root_ref).await?.is_some(),
            Some(_) => {
                self.tag_already_points_at(&endpoint, &root_ref, root, options)
                    .await?
            }
        };
        if !already {
            self.put_manifest(&root_ref, Bytes::from(root_bytes), &root_doc.media_type())
                .await
                .map_err(|e| Error::PushManifest {
                    digest: root.clone(),
                    reference: root_ref.to_string(),
                    source: Box::new(e),
                })?;
            reporter.on_manifest(root, &root_ref.to_string());
            report.manifests_pushed += 1;
        }

        // Read back: the tag must now resolve to what was pushed.
        let info = self.head_manifest_at(&endpoint, &root_ref).await?;
        match info {
            Some(i) if &i.digest == root => {}
            other => {
                return Err(Error::VerifyFailed {
                    reference: root_ref.to_string(),
                    expected: root.clone(),
                    actual: other
                        .map_or_else(|| "nothing (404)".to_owned(), |i| i.digest.to_string()),
                });
            }
        }
        report.digest = Some(root.clone());
        tracing::info!(
            uploaded = report.blobs_uploaded,
            skipped = report.blobs_skipped,
            mounted = report.blobs_mounted,
            bytes = report.bytes_uploaded,
            "pushed"
        );
        Ok(report)
    }

    fn read_manifest_from_store(&self, digest: &Digest) -> Result<Vec<u8>> {
        match self.store().read_blob(digest) {
            Ok(b) => Ok(b),
            Err(plinth_oci::Error::BlobNotFound(d)) => Err(Error::MissingContent { digest: d }),
            Err(e) => Err(e.into()),
        }
    }
}
