//! OCI image layout directories (`oci:DIR[:NAME]` in skopeo's syntax, see [`crate::location`]).
//!
//! ```text
//! DIR/oci-layout         {"imageLayoutVersion":"1.0.0"}
//! DIR/index.json         an image index; each entry's `org.opencontainers.image.ref.name` is its tag
//! DIR/blobs/sha256/<hex> content
//! ```
//!
//! [`OciLayout::import_to_store`] copies one image (by tag) into the [`Store`], verifying every
//! blob; [`OciLayout::export_from_store`] copies an image out and adds it to `index.json`, keeping
//! the other images already there. Every file is written to a temp file and renamed into place.
//!
//! On one file system both directions hard-link blobs instead of copying them
//! ([`Store::import_file`], [`Store::link_blob_to`]): the layout and the store then share the
//! blob's inode, which is read-only (`0444`). Blobs are immutable, as in every OCI tool: to
//! change an image, write new blobs; never edit a file under `blobs/` in place.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let store = plinth_oci::Store::open(dir.path().join("store")).unwrap();
//! use plinth_oci::layout::OciLayout;
//! use plinth_oci::{Descriptor, MediaType};
//! # let layer = store.write_blob(b"not really a tar").unwrap();
//! # let config = store.write_blob(b"{}").unwrap();
//! # let manifest = plinth_oci::ImageManifest::new(MediaType::OciManifest,
//! #     Descriptor::new(MediaType::OciConfig, config, 2), vec![Descriptor::new(MediaType::OciLayer, layer, 16)]);
//! let root = store.write_manifest(&manifest).unwrap();
//! let layout = OciLayout::create(dir.path().join("layout")).unwrap();
//! layout.export_from_store(&store, &root, Some("v1")).unwrap();
//! assert_eq!(layout.tags().unwrap()[0].0, "v1");
//! assert_eq!(layout.import_to_store(&store, Some("v1")).unwrap(), root);
//! ```

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::canonical::to_canonical_vec;
use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::{BlobSource, walk};
use crate::manifest::{ImageIndex, MAX_MANIFEST_BYTES};
use crate::media_type::MediaType;
use crate::store::{BlobReader, Store};

/// The annotation that names an image in an OCI layout.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// The layout version plinth reads and writes.
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

const KIND: &str = "OCI layout";
/// The most blobs hashed at once while importing a layout.
const IMPORT_THREADS: usize = 4;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayoutMarker {
    image_layout_version: String,
}

/// `rw-r--r--` (before the umask): layouts and archives are handed to other tools and users,
/// unlike temp files, which default to owner-only.
pub(crate) fn shareable_file_mode() -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(0o644)
}

/// An OCI image layout directory.
#[derive(Clone, Debug)]
pub struct OciLayout {
    dir: PathBuf,
}

impl OciLayout {
    /// Opens an existing layout; fails if `oci-layout` is missing or has another version.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let layout = Self { dir: dir.into() };
        let marker_path = layout.dir.join("oci-layout");
        let bytes = fs::read(&marker_path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => layout
                .invalid("there is no `oci-layout` file; is this an OCI image layout directory?"),
            _ => Error::io("read", &marker_path, e),
        })?;
        let marker: LayoutMarker = serde_json::from_slice(&bytes)
            .map_err(|e| layout.invalid(&format!("`oci-layout` is not valid JSON: {e}")))?;
        if marker.image_layout_version != IMAGE_LAYOUT_VERSION {
            return Err(layout.invalid(&format!(
                "unsupported imageLayoutVersion `{}` (plinth reads {IMAGE_LAYOUT_VERSION})",
                marker.image_layout_version
            )));
        }
        Ok(layout)
    }

    /// Opens the layout at `dir`, creating the directory, `oci-layout`, an empty `index.json` and
    /// `blobs/sha256/` where missing. An existing layout keeps its images.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        let layout = Self { dir: dir.into() };
        let blobs = layout.dir.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(|e| Error::io("create directory", &blobs, e))?;
        if !layout.dir.join("oci-layout").exists() {
            let marker = to_canonical_vec(&LayoutMarker {
                image_layout_version: IMAGE_LAYOUT_VERSION.to_owned(),
            })?;
            layout.write_file_atomic("oci-layout", &marker)?;
        }
        if !layout.dir.join("index.json").exists() {
            layout.write_index(&ImageIndex::new(MediaType::OciIndex, Vec::new()))?;
        }
        Self::open(layout.dir)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn invalid(&self, reason: &str) -> Error {
        Error::InvalidArchive {
            kind: KIND,
            path: self.dir.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Where a blob lives in the layout.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.hex())
    }

    /// The top-level `index.json`.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.dir.join("index.json");
        let bytes = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(self.invalid("`index.json` is over the 4 MiB limit"));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| self.invalid(&format!("`index.json` is not a valid image index: {e}")))
    }

    /// Tagged images: `(tag, descriptor)` in `index.json` order.
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| {
                d.annotations
                    .get(REF_NAME_ANNOTATION)
                    .cloned()
                    .map(|t| (t, d))
            })
            .collect())
    }

    /// The image for `tag`, or the only image when `tag` is `None` (as skopeo does).
    pub fn find(&self, tag: Option<&str>) -> Result<Descriptor> {
        let index = self.index()?;
        match tag {
            Some(tag) => index
                .manifests
                .iter()
                .find(|d| {
                    d.annotations
                        .get(REF_NAME_ANNOTATION)
                        .is_some_and(|t| t == tag)
                })
                .cloned()
                .ok_or_else(|| {
                    let tags: Vec<&str> = index
                        .manifests
                        .iter()
                        .filter_map(|d| d.annotations.get(REF_NAME_ANNOTATION).map(String::as_str))
                        .collect();
                    self.invalid(&format!(
                        "no image tagged `{tag}` (tags here: {})",
                        if tags.is_empty() {
                            "none".to_owned()
                        } else {
                            tags.join(", ")
                        }
                    ))
                }),
            None => match index.manifests.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(self.invalid("the layout holds no image")),
                many => Err(self.invalid(&format!(
                    "the layout holds {} images; name one with `oci:DIR:NAME`",
                    many.len()
                ))),
            },
        }
    }

    /// Copies the image `tag` (see [`OciLayout::find`]) and everything it references into the
    /// store, verifying each blob, and returns its root descriptor.
    ///
    /// Hold [`Store::lock_shared`] from before this call until the ref that keeps the image is set.
    pub fn import_to_store(&self, store: &Store, tag: Option<&str>) -> Result<Descriptor> {
        let mut root = self.find(tag)?;
        root.annotations.remove(REF_NAME_ANNOTATION);
        let _guard = store.lock_shared()?;
        let descriptors = walk(self, &root)?;
        for descriptor in &descriptors {
            if !store.has_blob(&descriptor.digest) && !self.has_content(&descriptor.digest) {
                return Err(self.invalid(&format!(
                    "blob `{}` is referenced but missing",
                    descriptor.digest
                )));
            }
        }
        // Hashing is the cost of an import (linking is free): spread the blobs over the cores.
        let next = AtomicUsize::new(0);
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, IMPORT_THREADS)
            .min(descriptors.len().max(1));
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(d) = descriptors.get(i) else {
                                return Ok(());
                            };
                            if let Err(e) =
                                store.import_file(&self.blob_path(&d.digest), &d.digest, d.size)
                            {
                                // Stop the other workers early: the import failed anyway.
                                next.store(descriptors.len(), Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect::<Result<Vec<()>>>()
        })?;
        tracing::debug!(dir = %self.dir.display(), digest = %root.digest, "imported image from OCI layout");
        Ok(root)
    }

    /// Copies `root` and everything it references from the store into the layout, then adds it to
    /// `index.json` (tagged `tag`, replacing the entry that had that tag; other images stay).
    /// Returns the descriptor written to `index.json`.
    pub fn export_from_store(
        &self,
        store: &Store,
        root: &Descriptor,
        tag: Option<&str>,
    ) -> Result<Descriptor> {
        if let Some(tag) = tag
            && (tag.is_empty() || tag.chars().any(char::is_control))
        {
            return Err(self.invalid(&format!("`{}` is not a usable tag", tag.escape_debug())));
        }
        for descriptor in store.walk(root)? {
            self.copy_blob_in(store, &descriptor)?;
        }
        let mut entry = root.clone();
        entry.annotations.remove(REF_NAME_ANNOTATION);
        if let Some(tag) = tag {
            entry
                .annotations
                .insert(REF_NAME_ANNOTATION.to_owned(), tag.to_owned());
        }
        let mut index = self.index()?;
        index.manifests.retain(|d| match tag {
            Some(tag) => d
                .annotations
                .get(REF_NAME_ANNOTATION)
                .is_none_or(|t| t != tag),
            None => d.digest != entry.digest || d.annotations.contains_key(REF_NAME_ANNOTATION),
        });
        index.manifests.push(entry.clone());
        self.write_index(&index)?;
        tracing::debug!(dir = %self.dir.display(), digest = %entry.digest, tag, "exported image to OCI layout");
        Ok(entry)
    }

    fn copy_blob_in(&self, store: &Store, descriptor: &Descriptor) -> Result<()> {
        let dest = self.blob_path(&descriptor.digest);
        if let Ok(meta) = fs::metadata(&dest)
            && meta.len() == descriptor.size
        {
            return Ok(());
        }
        store.link_blob_to(&descriptor.digest, &dest, shareable_file_mode())?;
        Ok(())
    }

    fn write_index(&self, index: &ImageIndex) -> Result<()> {
        let bytes = to_canonical_vec(index)?;
        self.write_file_atomic("index.json", &bytes)
    }

    fn write_file_atomic(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.dir.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(shareable_file_mode())
            .tempfile_in(&self.dir)
            .map_err(|e| Error::io("create temp file in", &self.dir, e))?;
        tmp.write_all(bytes)
            .map_err(|e| Error::io("write", tmp.path().to_owned(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("sync", tmp.path().to_owned(), e))?;
        tmp.persist(&dest)
            .map_err(|e| Error::io("rename into", &dest, e.error))?;
        Ok(())
    }
}

impl BlobSource for OciLayout {
    type Reader = BlobReader;

    /// Blobs read from a layout are always verified: the directory may come from anywhere.
    fn open_content(&self, digest: &Digest) -> Result<BlobReader> {
        let path = self.blob_path(digest);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                self.invalid(&format!("blob `{digest}` is referenced but missing"))
            }
            _ => Error::io("open", &path, e),
        })?;
        Ok(BlobReader::new(file, path, digest.clone(), true))
    }

    fn has_content(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }
}
