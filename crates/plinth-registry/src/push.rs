//! The push path (modelled on go-containerregistry's `remote.Write`, and stricter):
//!
//! 1. the tag, every platform manifest and every blob are `HEAD`ed, all at once (reads only);
//!    when the tag already points at the image and nothing is missing, the push ends there
//!    ([`PushReport::unchanged`]): re-publishing an unchanged image costs one round trip;
//! 2. missing blobs are mounted from a known repository on the same registry when possible,
//!    else streamed from the store; uploads run in parallel (bounded) and restart cleanly on
//!    transient failures;
//! 3. missing platform manifests go up by digest, after every blob;
//! 4. the tag is written last, and read back to check it points at what was pushed.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use plinth_oci::{Digest, ManifestDocument, MediaType, Reference};
use tracing::Instrument as _;

use crate::auth::push_scope;
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
    /// The tag (or digest) already pointed at the pushed image and the registry had every
    /// manifest and blob, so nothing was written.
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

    /// Never moves a tag: the tag is `HEAD`ed before anything is written (together with the
    /// blobs and manifests), and again right before it is written. Pointing at another digest fails with [`Error::TagExists`]; pointing at
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

/// One blob of the image, after its `HEAD`.
struct BlobState {
    digest: Digest,
    size: u64,
    /// A repository on the same registry known to hold it.
    mount_from: Option<String>,
    /// The target repository has it already.
    present: bool,
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

    /// With [`ExistingTag::RefuseDifferent`]: whether the tag already points at `root`, or an
    /// error when it points elsewhere (`found` is what a `HEAD` of the tag said).
    fn check_tag_guard(
        tag_ref: &Reference,
        root: &Digest,
        options: &PushOptions,
        found: Option<&Digest>,
    ) -> Result<()> {
        if options.existing_tag != ExistingTag::RefuseDifferent || tag_ref.tag().is_none() {
            return Ok(());
        }
        match found {
            Some(existing) if existing != root => Err(Error::TagExists {
                tag: tag_ref.to_string(),
                existing: existing.clone(),
                new: root.clone(),
            }),
            _ => Ok(()),
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
        let guarded =
            options.existing_tag == ExistingTag::RefuseDifferent && target.tag().is_some();
        // One token with the push scope serves every request below (blobs that may be mounted
        // add the source repository to theirs).
        let push_scopes = vec![push_scope(repository)];

        // 1. Look at everything at once: the tag, every platform manifest and every blob. Only
        // reads: nothing is written before the guard has seen the tag.
        let tag_probe = self.head_manifest_scoped(&endpoint, &root_ref, push_scopes.clone());
        let child_probes = futures_util::future::try_join_all(children.iter().map(|child| {
            let by_digest = target.repository_only().with_digest(child.digest.clone());
            let scopes = push_scopes.clone();
            let endpoint = &endpoint;
            async move {
                let info = self
                    .head_manifest_scoped(endpoint, &by_digest, scopes)
                    .await?;
                Ok::<_, Error>(info.is_some_and(|i| i.digest == child.digest))
            }
        }));
        let blob_probes = futures_util::stream::iter(blobs)
            .map(|(digest, size)| {
                let endpoint = &endpoint;
                async move {
                    let mount_from = blob_sources(store, &digest)
                        .into_iter()
                        .find(|(reg, repo)| reg == target.registry() && repo != repository)
                        .map(|(_, repo)| repo);
                    let scopes = Self::blob_push_scopes(repository, mount_from.as_deref());
                    let present = self
                        .blob_exists_at(endpoint, repository, &digest, scopes)
                        .await
                        .map_err(|e| Error::PushBlob {
                            digest: digest.clone(),
                            repository: target.name(),
                            source: Box::new(e),
                        })?;
                    Ok::<_, Error>(BlobState {
                        digest,
                        size,
                        mount_from,
                        present,
                    })
                }
            })
            .buffer_unordered(self.inner.tag_jobs.max(self.inner.blob_jobs))
            .try_collect::<Vec<_>>();
        let (tag_info, children_present, blob_states) =
            tokio::try_join!(tag_probe, child_probes, blob_probes)?;
        let tag_digest = tag_info.map(|i| i.digest);
        Self::check_tag_guard(&root_ref, root, options, tag_digest.as_ref())?;

        let (present, missing): (Vec<_>, Vec<_>) = blob_states.into_iter().partition(|b| b.present);
        for blob in &present {
            reporter.on_blob_done(&blob.digest, BlobOutcome::Skipped);
            record_blob_source(store, &blob.digest, target.registry(), repository);
        }
        report.blobs_skipped = present.len();
        let missing_children: Vec<ManifestToPush> = children
            .into_iter()
            .zip(children_present)
            .filter_map(|(child, present)| (!present).then_some(child))
            .collect();
        if tag_digest.as_ref() == Some(root) && missing.is_empty() && missing_children.is_empty() {
            // Everything is there and the tag already points at the image: a re-publish of
            // an unchanged image writes nothing, and the HEAD of the tag was the read-back.
            tracing::info!("the tag already points at this image; nothing to push");
            report.digest = Some(root.clone());
            report.unchanged = true;
            return Ok(report);
        }

        // 2. Blobs the registry lacks: mounted or uploaded, a bounded number at once.
        let outcomes: Vec<(BlobOutcome, u64)> = futures_util::stream::iter(missing)
            .map(|blob| {
                let reporter = reporter.clone();
                let endpoint = &endpoint;
                async move {
                    let outcome = self
                        .upload_missing_blob(
                            endpoint,
                            repository,
                            &blob.digest,
                            blob.mount_from.as_deref(),
                            reporter,
                        )
                        .await
                        .map_err(|e| Error::PushBlob {
                            digest: blob.digest.clone(),
                            repository: target.name(),
                            source: Box::new(e),
                        })?;
                    record_blob_source(store, &blob.digest, target.registry(), repository);
                    Ok::<_, Error>((outcome, blob.size))
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

        // 3. Children, by digest, once every blob is in: nobody resolving the tag sees a
        // partial image. They do not depend on each other, so they go up together.
        futures_util::future::try_join_all(missing_children.into_iter().map(|child| {
            let reporter = reporter.clone();
            async move {
                let by_digest = target.repository_only().with_digest(child.digest.clone());
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
                Ok::<_, Error>(())
            }
        }))
        .await
        .map(|done| report.manifests_pushed += done.len())?;

        // 4. The root, under its tag, last. A guarded push looks at the tag once more, to narrow
        // the window in which another publisher could have written it meanwhile.
        let already = if guarded {
            let now = self
                .head_manifest_scoped(&endpoint, &root_ref, push_scopes.clone())
                .await?
                .map(|i| i.digest);
            Self::check_tag_guard(&root_ref, root, options, now.as_ref())?;
            now.as_ref() == Some(root)
        } else {
            tag_digest.as_ref() == Some(root)
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

        // 5. Read back: the tag must now resolve to what was pushed.
        let info = self
            .head_manifest_scoped(&endpoint, &root_ref, push_scopes)
            .await?;
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
