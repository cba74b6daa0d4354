//! Pulling an image into the store: the root manifest or index (raw bytes, unchanged), the
//! manifests of the wanted platforms, then their blobs in parallel.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::TryStreamExt as _;
use plinth_oci::manifest::MAX_MANIFEST_BYTES;
use plinth_oci::{Descriptor, Digest, ImageManifest, ManifestDocument, Platform, Reference};
use tracing::Instrument as _;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::manifests::FetchedManifest;
use crate::reporter::TransferReporter;
use crate::sources::record_blob_source;

impl Client {
    /// Pulls `reference` into the store and returns the digest of its root (the index when the
    /// image is multi-platform). With an index, only the manifests for `platforms` are pulled
    /// (all of them when `platforms` is empty); the index itself is stored unchanged. A
    /// reference pinned to a digest the store holds is not asked for again; only what the
    /// store lacks below it is fetched.
    pub async fn pull_image(
        &self,
        reference: &Reference,
        platforms: &[Platform],
        reporter: Arc<dyn TransferReporter>,
    ) -> Result<Digest> {
        let span = tracing::info_span!("pull", image = %reference);
        self.pull_image_inner(reference, platforms, reporter)
            .instrument(span)
            .await
    }

    async fn pull_image_inner(
        &self,
        reference: &Reference,
        platforms: &[Platform],
        reporter: Arc<dyn TransferReporter>,
    ) -> Result<Digest> {
        let root = match reference.digest() {
            // Pinned, and stored by an earlier pull (verified then): no need to ask again. A
            // build's second platform pulls its root this way, by the digest its tag gave.
            Some(digest) if self.store().has_blob(digest) => {
                let bytes = bytes::Bytes::from(self.store().read_blob(digest)?);
                FetchedManifest {
                    media_type: ManifestDocument::parse(&bytes, None)?.media_type(),
                    bytes,
                    digest: digest.clone(),
                }
            }
            _ => self.get_manifest(reference).await?,
        };
        let stored = self.store().write_blob(&root.bytes)?;
        debug_assert_eq!(stored, root.digest);
        reporter.on_manifest(&root.digest, &reference.to_string());
        let mut images: Vec<ImageManifest> = Vec::new();
        match root.document()? {
            ManifestDocument::Image(m) => images.push(m),
            ManifestDocument::Index(index) => {
                let wanted: Vec<Descriptor> = if platforms.is_empty() {
                    index
                        .manifests
                        .iter()
                        .filter(|d| d.media_type.is_manifest())
                        .cloned()
                        .collect()
                } else {
                    let mut out = Vec::new();
                    for p in platforms {
                        let d = index
                            .find_platform(p)
                            .ok_or_else(|| Error::PlatformNotFound {
                                reference: reference.to_string(),
                                platform: p.to_string(),
                                offered: index
                                    .platforms()
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            })?;
                        out.push(d.clone());
                    }
                    out
                };
                for child in wanted {
                    images.push(
                        self.pull_child_manifest(reference, &child.digest, reporter.as_ref())
                            .await?,
                    );
                }
            }
        }
        let mut blobs: BTreeMap<Digest, Descriptor> = BTreeMap::new();
        for m in &images {
            if m.config.size > MAX_MANIFEST_BYTES as u64 {
                return Err(Error::Unsupported(format!(
                    "the config `{}` of `{reference}` declares {} bytes, over the {MAX_MANIFEST_BYTES}-byte limit for configs",
                    m.config.digest, m.config.size
                )));
            }
            blobs.insert(m.config.digest.clone(), m.config.clone());
            for l in &m.layers {
                blobs.insert(l.digest.clone(), l.clone());
            }
        }
        futures_util::stream::iter(blobs.into_values().map(Ok::<_, Error>))
            .try_for_each_concurrent(self.inner.blob_jobs, |blob| {
                let reporter = reporter.clone();
                async move {
                    let digest = &blob.digest;
                    self.get_blob(reference, &blob, reporter.as_ref()).await?;
                    record_blob_source(
                        self.store(),
                        digest,
                        reference.registry(),
                        reference.repository(),
                    );
                    Ok(())
                }
            })
            .await?;
        Ok(root.digest)
    }

    async fn pull_child_manifest(
        &self,
        reference: &Reference,
        digest: &Digest,
        reporter: &dyn TransferReporter,
    ) -> Result<ImageManifest> {
        let bytes = if self.store().has_blob(digest) {
            bytes::Bytes::from(self.store().read_blob(digest)?)
        } else {
            let fetched = self
                .get_manifest(&reference.with_digest(digest.clone()))
                .await?;
            self.store().write_blob(&fetched.bytes)?;
            fetched.bytes
        };
        reporter.on_manifest(digest, &format!("{}@{digest}", reference.name()));
        match ManifestDocument::parse(&bytes, None)? {
            ManifestDocument::Image(m) => Ok(m),
            ManifestDocument::Index(_) => Err(Error::Unsupported(format!(
                "`{}@{digest}` is an index inside an index, which plinth does not pull",
                reference.name()
            ))),
        }
    }
}

/// Collects the (config + layer) blobs of a manifest.
pub(crate) fn manifest_blobs(m: &ImageManifest, out: &mut BTreeMap<Digest, u64>) {
    out.insert(m.config.digest.clone(), m.config.size);
    for l in &m.layers {
        out.insert(l.digest.clone(), l.size);
    }
}
