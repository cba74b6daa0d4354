//! Walking an image graph (index → manifests → config and layers) over any content source.
//!
//! The [`Store`](crate::Store) and an [`OciLayout`](crate::layout::OciLayout) both hold blobs by
//! digest; [`BlobSource`] is what they share, so export, import, push and garbage collection walk
//! images the same way.

use std::collections::BTreeSet;
use std::io::Read;

use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{ImageManifest, MAX_MANIFEST_BYTES, ManifestDocument};
use crate::platform::Platform;

/// How deep indexes may nest (index → index → manifest) before the walk gives up.
const MAX_NESTING: usize = 8;

/// Something that holds blobs by digest.
pub trait BlobSource {
    /// The streaming reader of one blob.
    type Reader: Read;

    /// Opens a blob for streaming reads.
    fn open_content(&self, digest: &Digest) -> Result<Self::Reader>;

    /// Whether the blob is present.
    fn has_content(&self, digest: &Digest) -> bool;

    /// Reads a whole blob of at most `limit` bytes and checks it against its digest.
    fn read_content(&self, digest: &Digest, limit: usize) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_content(digest)?
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read blob", digest.to_string(), e))?;
        if bytes.len() > limit {
            return Err(Error::InvalidManifest(format!(
                "blob `{digest}` is over the {limit}-byte limit for documents"
            )));
        }
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }
}

/// Reads and parses the manifest or index a descriptor points at, checking digest and size.
pub fn read_document<S: BlobSource + ?Sized>(
    source: &S,
    descriptor: &Descriptor,
) -> Result<ManifestDocument> {
    let bytes = source.read_content(&descriptor.digest, MAX_MANIFEST_BYTES)?;
    if bytes.len() as u64 != descriptor.size {
        return Err(Error::SizeMismatch {
            digest: descriptor.digest.clone(),
            expected: descriptor.size,
            actual: bytes.len() as u64,
        });
    }
    ManifestDocument::parse(&bytes, Some(&descriptor.media_type))
}

/// Every descriptor reachable from `root`, children before parents (layers and config, then their
/// manifest, then the index), each digest once. The root is the last element.
///
/// Manifests and indexes must be present; leaves (configs, layers) are listed without being opened.
pub fn walk<S: BlobSource + ?Sized>(source: &S, root: &Descriptor) -> Result<Vec<Descriptor>> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    walk_into(source, root, false, 0, &mut seen, &mut out)?;
    Ok(out)
}

/// Like [`walk`], but manifests that are missing are skipped instead of failing: what garbage
/// collection needs, since an index pulled for one platform lacks the others' manifests.
pub(crate) fn walk_present<S: BlobSource + ?Sized>(
    source: &S,
    root: &Descriptor,
) -> Result<Vec<Descriptor>> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    walk_into(source, root, true, 0, &mut seen, &mut out)?;
    Ok(out)
}

fn walk_into<S: BlobSource + ?Sized>(
    source: &S,
    node: &Descriptor,
    skip_missing: bool,
    depth: usize,
    seen: &mut BTreeSet<Digest>,
    out: &mut Vec<Descriptor>,
) -> Result<()> {
    if !seen.insert(node.digest.clone()) {
        return Ok(());
    }
    if node.media_type.is_manifest_or_index() {
        if depth > MAX_NESTING {
            return Err(Error::InvalidManifest(format!(
                "indexes nest deeper than {MAX_NESTING} levels at `{}`",
                node.digest
            )));
        }
        if skip_missing && !source.has_content(&node.digest) {
            return Ok(());
        }
        match read_document(source, node)? {
            ManifestDocument::Index(index) => {
                for child in &index.manifests {
                    walk_into(source, child, skip_missing, depth + 1, seen, out)?;
                }
            }
            ManifestDocument::Image(manifest) => {
                for leaf in std::iter::once(&manifest.config).chain(&manifest.layers) {
                    if seen.insert(leaf.digest.clone()) {
                        out.push(leaf.clone());
                    }
                }
            }
        }
    }
    out.push(node.clone());
    Ok(())
}

/// Resolves `root` to one image manifest: the root itself, or the index entry for `platform`
/// (the host platform when `None`; an index with a single platform needs no choice).
pub fn resolve_manifest<S: BlobSource + ?Sized>(
    source: &S,
    root: &Descriptor,
    platform: Option<&Platform>,
) -> Result<(Descriptor, ImageManifest)> {
    let mut current = root.clone();
    for _ in 0..MAX_NESTING {
        match read_document(source, &current)? {
            ManifestDocument::Image(manifest) => return Ok((current, manifest)),
            ManifestDocument::Index(index) => {
                let wanted = platform.cloned().unwrap_or_else(Platform::host);
                let platforms = index.platforms();
                let next = match index.find_platform(&wanted) {
                    Some(d) => d.clone(),
                    None if platform.is_none() && platforms.len() == 1 => index
                        .manifests
                        .iter()
                        .find(|d| d.platform.as_ref().is_some_and(|p| p.os != "unknown"))
                        .cloned()
                        .ok_or_else(|| {
                            Error::InvalidManifest(format!(
                                "index `{}` has no usable manifest",
                                current.digest
                            ))
                        })?,
                    None if index.manifests.len() == 1 && index.manifests[0].platform.is_none() => {
                        index.manifests[0].clone()
                    }
                    None => {
                        let offered: Vec<String> =
                            platforms.iter().map(ToString::to_string).collect();
                        return Err(Error::InvalidManifest(format!(
                            "index `{}` has no manifest for platform `{wanted}` (it offers: {}); choose one of those platforms",
                            current.digest,
                            if offered.is_empty() {
                                "none".to_owned()
                            } else {
                                offered.join(", ")
                            }
                        )));
                    }
                };
                current = next;
            }
        }
    }
    Err(Error::InvalidManifest(format!(
        "indexes nest deeper than {MAX_NESTING} levels under `{}`",
        root.digest
    )))
}
