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

use crate::client::Client;
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
}

/// A manifest to push: its bytes and media type.
struct ManifestToPush {
    digest: Digest,
    bytes: Bytes,
    media_type: MediaType,
}

impl Client {
    /// Pushes the image whose root manifest or index `root` is in the store to `target`
    /// (tagged, or by digest when `target` has no tag), and verifies the result.
    pub async fn push_image(
        &self,
        root: &Digest,
        target: &Reference,
        reporter: Arc<dyn Reporter>,
    ) -> Result<PushReport> {
        let span = tracing::info_span!("push", image = %target, digest = %root);
        self.push_image_inner(root, target, reporter)
            .instrument(span)
            .await
    }

    async fn push_image_inner(
        &self,
        root: &Digest,
        target: &Reference,
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
                .await?;
            reporter.on_manifest(
                &child.digest,
                &format!("{}@{}", target.name(), child.digest),
            );
            report.manifests_pushed += 1;
        }

        // The root, under its tag, last.
        let root_ref = match target.tag() {
            Some(_) => Reference::new(target.registry(), repository, target.tag(), None)?,
            None => target.repository_only().with_digest(root.clone()),
        };
        let already =
            target.tag().is_none() && self.head_manifest_at(&endpoint, &root_ref).await?.is_some();
        if !already {
            self.put_manifest(&root_ref, Bytes::from(root_bytes), &root_doc.media_type())
                .await?;
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
