//! The standard OCI annotations (`org.opencontainers.image.*`) on every manifest and index
//! plinth publishes: what Renovate, scanners and registry UIs read to link an image to its
//! source and changelog and to notice base image updates.
//!
//! Annotating rewrites the manifests (and the index over them) in the store, so the annotated
//! image has new manifest digests; its config and layers are the built ones. Annotations are
//! derived from the build only (the image's reproducible `created`, the root it started from)
//! and from what the caller names (source, revision, version), so the result is as reproducible
//! as the build.

use std::collections::BTreeMap;

use plinth_executor::{InputKind, PlatformBuild};
use plinth_oci::{Descriptor, Digest, ImageIndex, ManifestDocument, Platform, Reference, Store};

use crate::error::{Error, Result};

/// `org.opencontainers.image.source`: where the recipe lives (a repository URL).
pub const SOURCE: &str = "org.opencontainers.image.source";
/// `org.opencontainers.image.revision`: the source's revision (a git commit).
pub const REVISION: &str = "org.opencontainers.image.revision";
/// `org.opencontainers.image.version`: the image's version.
pub const VERSION: &str = "org.opencontainers.image.version";
/// `org.opencontainers.image.created`: the reproducible creation time (RFC 3339).
pub const CREATED: &str = "org.opencontainers.image.created";
/// `org.opencontainers.image.base.name`: the root image as the recipe names it.
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// `org.opencontainers.image.base.digest`: the digest of that root.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// What the caller knows about an image, beyond its build.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageAnnotations {
    /// The source repository's URL.
    pub source: Option<String>,
    /// Its revision.
    pub revision: Option<String>,
    /// The image's version.
    pub version: Option<String>,
    /// The root image of the final stage, as the recipe names it.
    pub base_name: Option<String>,
}

impl ImageAnnotations {
    /// The annotations as they are written (only the known ones), keyed by their names.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        [
            (SOURCE, &self.source),
            (REVISION, &self.revision),
            (VERSION, &self.version),
            (BASE_NAME, &self.base_name),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_owned(), value.clone()?)))
        .collect()
    }

    /// The annotations [`Self::to_map`] wrote (other keys are ignored).
    pub fn from_map(map: &BTreeMap<String, String>) -> Self {
        let get = |key: &str| map.get(key).cloned();
        Self {
            source: get(SOURCE),
            revision: get(REVISION),
            version: get(VERSION),
            base_name: get(BASE_NAME),
        }
    }
}

/// An image after [`annotate_image`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnotatedImage {
    /// The annotated root (index, or the manifest of a one-platform image).
    pub root: Descriptor,
    /// Each platform's annotated manifest, with its platform.
    pub manifests: BTreeMap<Platform, Descriptor>,
}

impl AnnotatedImage {
    /// The annotated manifest of `platform`.
    pub fn manifest(&self, platform: &Platform) -> Option<&Descriptor> {
        self.manifests.get(platform)
    }
}

/// Writes the image `root` (built as `builds`) again with the standard annotations on every
/// manifest and on the index: `created` from each platform's config (the newest of them on the
/// index), `base.digest` per platform from the root image the build resolved (on the index only
/// when the recipe pins the root by digest, since the platforms' roots are different manifests).
pub fn annotate_image(
    store: &Store,
    root: &Descriptor,
    builds: &[PlatformBuild],
    annotations: &ImageAnnotations,
) -> Result<AnnotatedImage> {
    let common = annotations.to_map();
    let mut manifests = BTreeMap::new();
    let mut annotate_manifest = |descriptor: &Descriptor| -> Result<Descriptor> {
        let build = builds
            .iter()
            .find(|b| b.manifest.digest == descriptor.digest)
            .ok_or_else(|| Error::NotBuilt(descriptor.digest.clone()))?;
        let mut manifest = match store.read_document(descriptor)? {
            ManifestDocument::Image(m) => m,
            ManifestDocument::Index(_) => return Err(Error::NotBuilt(descriptor.digest.clone())),
        };
        manifest.annotations.extend(common.clone());
        if let Some(created) = &build.config.created {
            manifest.annotations.insert(CREATED.into(), created.clone());
        }
        if let Some(digest) = base_digest(build, annotations.base_name.as_deref()) {
            manifest
                .annotations
                .insert(BASE_DIGEST.into(), digest.to_string());
        }
        let mut written = store.write_manifest(&manifest)?;
        written.platform = Some(build.platform.clone());
        manifests.insert(build.platform.clone(), written.clone());
        Ok(written)
    };
    let new_root = match store.read_document(root)? {
        ManifestDocument::Image(_) => {
            let mut written = annotate_manifest(root)?;
            written.platform = root.platform.clone();
            written
        }
        ManifestDocument::Index(index) => {
            let children = index
                .manifests
                .iter()
                .map(|child| {
                    let mut annotated = annotate_manifest(child)?;
                    annotated.platform = child.platform.clone();
                    annotated.annotations = child.annotations.clone();
                    Ok(annotated)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut new_index = ImageIndex {
                manifests: children,
                ..index
            };
            new_index.annotations.extend(common);
            if let Some(created) = builds.iter().filter_map(|b| b.config.created.clone()).max() {
                new_index.annotations.insert(CREATED.into(), created);
            }
            if let Some(pinned) = annotations
                .base_name
                .as_deref()
                .and_then(|n| n.parse::<Reference>().ok())
                .and_then(|r| r.digest().cloned())
            {
                new_index
                    .annotations
                    .insert(BASE_DIGEST.into(), pinned.to_string());
            }
            store.write_index(&new_index)?
        }
    };
    Ok(AnnotatedImage {
        root: new_root,
        manifests,
    })
}

/// The digest the build resolved the root named `base_name` to (its platform manifest).
fn base_digest(build: &PlatformBuild, base_name: Option<&str>) -> Option<Digest> {
    let base_name = base_name?;
    build
        .inputs
        .iter()
        .find(|i| i.kind == InputKind::RootImage && i.name == base_name)
        .and_then(|i| i.digest.clone())
}

#[cfg(test)]
mod tests;
