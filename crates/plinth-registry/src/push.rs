//! The push path (modelled on go-containerregistry's `remote.Write`, and stricter):
//!
//! 1. the tag is `HEAD`ed: when it already points at the image, the registry has everything the
//!    image names and the push ends there ([`PushReport::unchanged`]): re-publishing an
//!    unchanged image costs one request;
//! 2. otherwise every platform manifest and every blob are `HEAD`ed, all at once (reads only);
//! 3. missing blobs are mounted from a known repository on the same registry when possible,
//!    else streamed from the store; uploads run in parallel (bounded) and restart cleanly on
//!    transient failures;
//! 4. missing platform manifests go up by digest, after every blob;
//! 5. the tag is written last, and read back to check it points at what was pushed.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use plinth_oci::layout::OciLayout;
use plinth_oci::{Digest, ManifestDocument, MediaType, Reference};
use tracing::Instrument as _;

use crate::auth::push_scope;
use crate::client::{Client, Endpoint};
use crate::error::{Error, Result};
use crate::pull::manifest_blobs;
use crate::push_source::PushSource;
use crate::reporter::{BlobOutcome, TransferReporter};
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

/// What a push sends, read from the store before any request.
struct PushPlan {
    root_bytes: Vec<u8>,
    children: Vec<ManifestToPush>,
    blobs: BTreeMap<Digest, u64>,
}

/// What every step of one push needs.
struct PushContext<'a> {
    /// Where the image's manifests and blobs are read.
    source: PushSource<'a>,
    endpoint: &'a Endpoint,
    target: &'a Reference,
    /// The tag, or the digest when the target has none.
    root_ref: &'a Reference,
    push_scopes: Vec<String>,
    reporter: Arc<dyn TransferReporter>,
}

impl PushContext<'_> {
    fn blob_error(&self, digest: &Digest, source: Error) -> Error {
        Error::PushBlob {
            digest: digest.clone(),
            repository: self.target.name(),
            source: Box::new(source),
        }
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
        reporter: Arc<dyn TransferReporter>,
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
        reporter: Arc<dyn TransferReporter>,
    ) -> Result<PushReport> {
        let span = tracing::info_span!("push", image = %target, digest = %root);
        self.push_image_inner(
            PushSource::Store(self.store()),
            root,
            target,
            options,
            reporter,
        )
        .instrument(span)
        .await
    }

    /// [`Client::push_image_with`] reading the image from an OCI layout in place instead of the
    /// store (`plinth copy oci:DIR REF`): nothing is imported, and each blob is hashed while it
    /// is sent. A blob whose bytes do not match its name never reaches the registry under that
    /// name ([`Error::LayoutBlobMismatch`]); the tag is then not written.
    pub async fn push_layout_image(
        &self,
        layout: &OciLayout,
        root: &Digest,
        target: &Reference,
        options: &PushOptions,
        reporter: Arc<dyn TransferReporter>,
    ) -> Result<PushReport> {
        let span = tracing::info_span!("push", image = %target, digest = %root, layout = %layout.dir().display());
        self.push_image_inner(PushSource::Layout(layout), root, target, options, reporter)
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
        source: PushSource<'_>,
        root: &Digest,
        target: &Reference,
        options: &PushOptions,
        reporter: Arc<dyn TransferReporter>,
    ) -> Result<PushReport> {
        let plan = Self::plan_push(source, root)?;
        let endpoint = self.endpoint(target.registry())?;
        // Where the root goes: the tag, or the digest when the target has no tag.
        let root_ref = match target.tag() {
            Some(_) => Reference::new(target.registry(), target.repository(), target.tag(), None)?,
            None => target.repository_only().with_digest(root.clone()),
        };
        let push = PushContext {
            source,
            endpoint: &endpoint,
            target,
            root_ref: &root_ref,
            // One token with the push scope serves every request (blobs that may be mounted
            // add the source repository to theirs).
            push_scopes: vec![push_scope(target.repository())],
            reporter,
        };
        let mut report = PushReport::default();

        // 1. The tag first, alone: when it already points at the image, the registry has every
        // manifest and blob it names (registries refuse a manifest whose content is missing),
        // so a re-publish of an unchanged image ends after this one request.
        let tag_digest = self
            .head_manifest_scoped(&endpoint, &root_ref, push.push_scopes.clone())
            .await?
            .map(|i| i.digest);
        Self::check_tag_guard(&root_ref, root, options, tag_digest.as_ref())?;
        if tag_digest.as_ref() == Some(root) {
            tracing::info!("the tag already points at this image; nothing to push");
            for digest in plan.blobs.keys() {
                push.reporter.on_blob_done(digest, BlobOutcome::Skipped);
            }
            report.blobs_skipped = plan.blobs.len();
            report.digest = Some(root.clone());
            report.unchanged = true;
            return Ok(report);
        }

        // 2. Every platform manifest and blob, all at once (reads only).
        let (missing_children, blob_states) = tokio::try_join!(
            self.missing_children(&push, plan.children),
            self.probe_blobs(&push, plan.blobs)
        )?;
        let (present, missing): (Vec<_>, Vec<_>) = blob_states.into_iter().partition(|b| b.present);
        for blob in &present {
            push.reporter
                .on_blob_done(&blob.digest, BlobOutcome::Skipped);
            record_blob_source(
                self.store(),
                &blob.digest,
                target.registry(),
                target.repository(),
            );
        }
        report.blobs_skipped = present.len();

        // 3. Blobs the registry lacks, then the children by digest: nobody resolving the tag
        // sees a partial image.
        self.upload_blobs(&push, missing, &mut report).await?;
        report.manifests_pushed += self.put_children(&push, missing_children).await?;

        // 4. The root, under its tag, last, and read back.
        self.put_root(
            &push,
            root,
            plan.root_bytes,
            options,
            tag_digest.as_ref(),
            &mut report,
        )
        .await?;
        self.verify_pushed(&push, root).await?;
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

    /// Reads the root and its children from `source`: the manifests to push and every blob.
    fn plan_push(source: PushSource<'_>, root: &Digest) -> Result<PushPlan> {
        let root_bytes = source.read_manifest(root)?;
        let mut children = Vec::new();
        let mut blobs = BTreeMap::new();
        match ManifestDocument::parse(&root_bytes, None)? {
            ManifestDocument::Image(m) => manifest_blobs(&m, &mut blobs),
            ManifestDocument::Index(index) => {
                for child in &index.manifests {
                    let bytes = source.read_manifest(&child.digest)?;
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
            source.require_blob(digest)?;
        }
        Ok(PushPlan {
            root_bytes,
            children,
            blobs,
        })
    }

    /// The platform manifests the repository lacks (each `HEAD`ed by digest, all at once).
    async fn missing_children(
        &self,
        push: &PushContext<'_>,
        children: Vec<ManifestToPush>,
    ) -> Result<Vec<ManifestToPush>> {
        let present = futures_util::future::try_join_all(children.iter().map(|child| {
            let by_digest = push
                .target
                .repository_only()
                .with_digest(child.digest.clone());
            async move {
                let info = self
                    .head_manifest_scoped(push.endpoint, &by_digest, push.push_scopes.clone())
                    .await?;
                Ok::<_, Error>(info.is_some_and(|i| i.digest == child.digest))
            }
        }))
        .await?;
        Ok(children
            .into_iter()
            .zip(present)
            .filter_map(|(child, present)| (!present).then_some(child))
            .collect())
    }

    /// `HEAD`s every blob in the target repository, and finds a repository to mount each from.
    async fn probe_blobs(
        &self,
        push: &PushContext<'_>,
        blobs: BTreeMap<Digest, u64>,
    ) -> Result<Vec<BlobState>> {
        let (registry, repository) = (push.target.registry(), push.target.repository());
        futures_util::stream::iter(blobs)
            .map(|(digest, size)| async move {
                let mount_from = blob_sources(self.store(), &digest)
                    .into_iter()
                    .find(|(reg, repo)| reg == registry && repo != repository)
                    .map(|(_, repo)| repo);
                let scopes = Self::blob_push_scopes(repository, mount_from.as_deref());
                let present = self
                    .blob_exists_at(push.endpoint, repository, &digest, scopes)
                    .await
                    .map_err(|e| push.blob_error(&digest, e))?;
                Ok::<_, Error>(BlobState {
                    digest,
                    size,
                    mount_from,
                    present,
                })
            })
            .buffer_unordered(self.inner.tag_jobs.max(self.inner.blob_jobs))
            .try_collect()
            .await
    }

    /// Mounts or uploads the missing blobs, a bounded number at once, counting what happened.
    async fn upload_blobs(
        &self,
        push: &PushContext<'_>,
        missing: Vec<BlobState>,
        report: &mut PushReport,
    ) -> Result<()> {
        let (registry, repository) = (push.target.registry(), push.target.repository());
        let outcomes: Vec<(BlobOutcome, u64)> = futures_util::stream::iter(missing)
            .map(|blob| async move {
                let outcome = self
                    .upload_missing_blob(
                        push.endpoint,
                        repository,
                        (push.source, &blob.digest, blob.size),
                        blob.mount_from.as_deref(),
                        push.reporter.clone(),
                    )
                    .await
                    .map_err(|e| push.blob_error(&blob.digest, e))?;
                record_blob_source(self.store(), &blob.digest, registry, repository);
                Ok::<_, Error>((outcome, blob.size))
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
        Ok(())
    }

    /// Puts the missing platform manifests by digest; they do not depend on each other, so they
    /// go up together. Returns how many went up.
    async fn put_children(
        &self,
        push: &PushContext<'_>,
        children: Vec<ManifestToPush>,
    ) -> Result<usize> {
        let done =
            futures_util::future::try_join_all(children.into_iter().map(|child| async move {
                let by_digest = push
                    .target
                    .repository_only()
                    .with_digest(child.digest.clone());
                self.put_manifest(&by_digest, child.bytes, &child.media_type)
                    .await
                    .map_err(|e| Error::PushManifest {
                        digest: child.digest.clone(),
                        reference: by_digest.to_string(),
                        source: Box::new(e),
                    })?;
                push.reporter.on_manifest(
                    &child.digest,
                    &format!("{}@{}", push.target.name(), child.digest),
                );
                Ok::<_, Error>(())
            }))
            .await?;
        Ok(done.len())
    }

    /// Puts the root under its tag. A guarded push looks at the tag once more first, to narrow
    /// the window in which another publisher could have written it meanwhile.
    async fn put_root(
        &self,
        push: &PushContext<'_>,
        root: &Digest,
        root_bytes: Vec<u8>,
        options: &PushOptions,
        tag_digest: Option<&Digest>,
        report: &mut PushReport,
    ) -> Result<()> {
        let guarded =
            options.existing_tag == ExistingTag::RefuseDifferent && push.target.tag().is_some();
        let already = if guarded {
            let now = self
                .head_manifest_scoped(push.endpoint, push.root_ref, push.push_scopes.clone())
                .await?
                .map(|i| i.digest);
            Self::check_tag_guard(push.root_ref, root, options, now.as_ref())?;
            now.as_ref() == Some(root)
        } else {
            tag_digest == Some(root)
        };
        if already {
            return Ok(());
        }
        let media_type = ManifestDocument::parse(&root_bytes, None)?.media_type();
        self.put_manifest(push.root_ref, Bytes::from(root_bytes), &media_type)
            .await
            .map_err(|e| Error::PushManifest {
                digest: root.clone(),
                reference: push.root_ref.to_string(),
                source: Box::new(e),
            })?;
        push.reporter.on_manifest(root, &push.root_ref.to_string());
        report.manifests_pushed += 1;
        Ok(())
    }

    /// Reads the tag back: it must now resolve to what was pushed.
    async fn verify_pushed(&self, push: &PushContext<'_>, root: &Digest) -> Result<()> {
        let info = self
            .head_manifest_scoped(push.endpoint, push.root_ref, push.push_scopes.clone())
            .await?;
        match info {
            Some(i) if &i.digest == root => Ok(()),
            other => Err(Error::VerifyFailed {
                reference: push.root_ref.to_string(),
                expected: root.clone(),
                actual: other.map_or_else(|| "nothing (404)".to_owned(), |i| i.digest.to_string()),
            }),
        }
    }
}
