//! The content-addressed local store: the hub every pull, build, export and push goes through.
//!
//! Layout under the root (default `$PLINTH_HOME`, else the user's cache dir + `plinth`):
//!
//! ```text
//! blobs/sha256/<hex>   verified content, written by temp file + rename, read-only (0444)
//! refs/<name>          named roots (image names, build ids, cache keys) → descriptor, JSON
//! tmp/                 in-flight writes (same file system, so rename is atomic)
//! lock                 flock: writers share it, gc takes it alone
//! ```
//!
//! Two processes may write the same blob at once: both verify, both rename, and the second rename
//! replaces identical bytes, which readers never observe as partial. A crash leaves at most a temp
//! file behind, which [`Store::gc`] removes. Blobs are verified when written; [`Store::reader`]
//! verifies again while streaming when [`Store::with_verify_on_read`] is on (the default).
//!
//! Blobs are immutable: nothing writes into a stored blob, and every blob file is read-only
//! (`0444`) so that an accidental in-place write fails. [`Store::import_file`] and
//! [`Store::link_blob_to`] hard-link between the store and OCI layouts on the same file system,
//! so a store blob and a layout blob may share an inode (see the `import` module).
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use plinth_oci::store::{GcOptions, Store};
//! use plinth_oci::{Descriptor, MediaType};
//! let store = Store::open(dir.path()).unwrap();
//! let guard = store.lock_shared().unwrap(); // keep gc away until the ref is set
//! let digest = store.write_blob(b"hello").unwrap();
//! store.set_ref("example", &Descriptor::new(MediaType::OciLayer, digest.clone(), 5)).unwrap();
//! drop(guard);
//! let report = store.gc(&GcOptions::immediate()).unwrap();
//! assert_eq!(report.blobs_kept, 1);
//! assert!(store.has_blob(&digest));
//! ```

mod attachments;
mod blob_writer;
mod gc;
mod import;
mod lock;
mod reader;
mod refs;

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use attachments::{ATTACHMENT_REF_PREFIX, attachment_ref_name, attachment_subject};
pub use blob_writer::BlobWriter;
pub use gc::{GcOptions, GcReport};
pub use import::Transferred;
pub use lock::StoreLock;
pub use reader::BlobReader;
pub use refs::{MAX_REF_NAME, StoreRef};

use crate::canonical::to_canonical_with_digest;
use crate::config::ImageConfig;
use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::{BlobSource, walk};
use crate::manifest::{ImageIndex, ImageManifest, MAX_MANIFEST_BYTES, ManifestDocument};
use crate::media_type::MediaType;

/// The environment variable that overrides the store root.
pub const PLINTH_HOME_ENV: &str = "PLINTH_HOME";

/// A content-addressed blob store on the local disk.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    verify_on_read: bool,
}

/// Creates the store root if needed and makes it private (`0700`, as docker's `/var/lib/docker`
/// is): unpacked layers below it keep their setuid bits and file capabilities, which must not
/// be reachable by other local users. A root owned by someone else is left alone (that user
/// decides who may enter it).
fn make_private(root: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(root) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io("create directory", root, e)),
    }
    let meta = fs::metadata(root).map_err(|e| Error::io("inspect", root, e))?;
    let ours = meta.uid() == rustix::process::geteuid().as_raw();
    if ours && meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("make the store private (chmod 0700)", root, e))?;
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) a store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        make_private(&root)?;
        for dir in [
            root.join("blobs/sha256"),
            root.join("tmp"),
            root.join("refs"),
        ] {
            fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        }
        Ok(Self {
            root,
            verify_on_read: true,
        })
    }

    /// Opens the default store: `$PLINTH_HOME`, else `<cache dir>/plinth`.
    pub fn open_default() -> Result<Self> {
        Self::open(default_root())
    }

    /// The same store with verification in [`Store::reader`] turned on or off.
    pub fn with_verify_on_read(mut self, verify: bool) -> Self {
        self.verify_on_read = verify;
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the shared store lock. Hold it across writing blobs and setting the ref that keeps
    /// them, so a concurrent [`Store::gc`] cannot remove them in between. Blob writers and
    /// [`Store::set_ref`] also take it for their own duration.
    pub fn lock_shared(&self) -> Result<StoreLock> {
        lock::lock_shared(&self.root.join("lock"))
    }

    fn lock_exclusive(&self, timeout: Duration) -> Result<StoreLock> {
        lock::lock_exclusive(&self.root.join("lock"), timeout)
    }

    /// Where a blob lives (whether or not it is present).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.hex())
    }

    /// Whether a blob is present.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The size of a present blob.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(Error::io("stat", path, e)),
        }
    }

    /// Opens a blob for streaming reads without verification (see [`Store::reader`]).
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::BlobNotFound(digest.clone()),
            _ => Error::io("open", path, e),
        })
    }

    /// Opens a blob for streaming reads that fail at the end if the content does not match its
    /// digest (unless verification was turned off with [`Store::with_verify_on_read`]).
    pub fn reader(&self, digest: &Digest) -> Result<BlobReader> {
        Ok(BlobReader::new(
            self.open_blob(digest)?,
            self.blob_path(digest),
            digest.clone(),
            self.verify_on_read,
        ))
    }

    /// Reads a whole (small) blob and verifies it against its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_blob(digest)?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", self.blob_path(digest), e))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Hashes a stored blob; a corrupt one is removed (so it can be fetched again) and reported
    /// as [`Error::DigestMismatch`].
    pub fn verify_blob(&self, digest: &Digest) -> Result<()> {
        let mut reader = self.open_blob(digest)?;
        let mut hasher = crate::digest::Hasher::new();
        let mut buf = vec![0; 256 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| Error::io("read", self.blob_path(digest), e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let actual = hasher.finish();
        if &actual != digest {
            let path = self.blob_path(digest);
            tracing::warn!(%digest, %actual, "removing corrupt blob from the store");
            fs::remove_file(&path).map_err(|e| Error::io("remove corrupt blob", path, e))?;
            return Err(Error::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Writes a whole blob and returns its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if self.has_blob(&digest) {
            self.freshen(&digest);
            return Ok(digest);
        }
        let mut w = self.blob_writer()?;
        std::io::Write::write_all(&mut w, bytes)
            .map_err(|e| Error::io("write", self.root.join("tmp"), e))?;
        w.commit(Some(&digest))?;
        Ok(digest)
    }

    /// Marks an existing blob as just written, so that [`GcOptions::grace`] protects it again.
    /// Blobs are read-only; setting the time of one needs ownership, not write access.
    pub(crate) fn freshen(&self, digest: &Digest) {
        let path = self.blob_path(digest);
        if let Err(e) = File::open(&path).and_then(|f| f.set_modified(SystemTime::now())) {
            tracing::debug!(path = %path.display(), error = %e, "could not freshen blob mtime");
        }
    }

    /// A streaming writer; [`BlobWriter::commit`] verifies and moves the blob into place.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        BlobWriter::new(self.clone())
    }

    /// Stores a document as canonical JSON and returns its descriptor.
    pub fn write_json<T: serde::Serialize + ?Sized>(
        &self,
        media_type: MediaType,
        value: &T,
    ) -> Result<Descriptor> {
        let (bytes, digest) = to_canonical_with_digest(value)?;
        self.write_blob(&bytes)?;
        Ok(Descriptor::new(media_type, digest, bytes.len() as u64))
    }

    /// Stores an image manifest; the descriptor carries the manifest's media type.
    pub fn write_manifest(&self, manifest: &ImageManifest) -> Result<Descriptor> {
        self.write_json(manifest.media_type(), manifest)
    }

    /// Stores an index; the descriptor carries the index's media type.
    pub fn write_index(&self, index: &ImageIndex) -> Result<Descriptor> {
        self.write_json(index.media_type(), index)
    }

    /// Stores an image config with the given (config) media type.
    pub fn write_config(&self, media_type: MediaType, config: &ImageConfig) -> Result<Descriptor> {
        self.write_json(media_type, config)
    }

    /// A descriptor for a stored blob: size from disk, media type from the content when it is a
    /// manifest or index, else `application/octet-stream`.
    pub fn descriptor_of(&self, digest: &Digest) -> Result<Descriptor> {
        let size = self.blob_size(digest)?;
        let mut media_type = MediaType::Other("application/octet-stream".to_owned());
        if size as usize <= MAX_MANIFEST_BYTES {
            let bytes = self.read_blob(digest)?;
            if let Ok(doc) = ManifestDocument::parse(&bytes, None) {
                media_type = doc.media_type();
            }
        }
        Ok(Descriptor::new(media_type, digest.clone(), size))
    }

    /// Every descriptor reachable from `root` (see [`crate::image::walk`]): children first, root
    /// last, each digest once. Push and export iterate this.
    pub fn walk(&self, root: &Descriptor) -> Result<Vec<Descriptor>> {
        walk(self, root)
    }

    /// Reads and parses a stored manifest or index.
    pub fn read_document(&self, descriptor: &Descriptor) -> Result<ManifestDocument> {
        crate::image::read_document(self, descriptor)
    }
}

impl BlobSource for Store {
    type Reader = BlobReader;

    fn open_content(&self, digest: &Digest) -> Result<BlobReader> {
        self.reader(digest)
    }

    fn has_content(&self, digest: &Digest) -> bool {
        self.has_blob(digest)
    }
}

/// The default store root: `$PLINTH_HOME`, else `<cache dir>/plinth`, else `./.plinth`.
pub fn default_root() -> PathBuf {
    if let Some(home) = std::env::var_os(PLINTH_HOME_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    dirs::cache_dir()
        .map(|d| d.join("plinth"))
        .unwrap_or_else(|| PathBuf::from(".plinth"))
}
