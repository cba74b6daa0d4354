//! The content-addressed local store: the hub every pull, build, export and push goes through.
//!
//! Layout under the root (default `$PLINTH_HOME`, else the user's cache dir + `plinth`):
//!
//! ```text
//! blobs/sha256/<hex>   verified content, written by temp file + rename
//! tmp/                 in-flight writes (same file system, so rename is atomic)
//! ```
//!
//! Two processes may write the same blob at once: both verify, both rename, and the second rename
//! replaces identical bytes, which readers never observe as partial.

mod blob_writer;

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

pub use blob_writer::BlobWriter;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The environment variable that overrides the store root.
pub const PLINTH_HOME_ENV: &str = "PLINTH_HOME";

/// A content-addressed blob store on the local disk.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) a store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in [root.join("blobs/sha256"), root.join("tmp")] {
            fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        }
        Ok(Self { root })
    }

    /// Opens the default store: `$PLINTH_HOME`, else `<cache dir>/plinth`.
    pub fn open_default() -> Result<Self> {
        Self::open(default_root())
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives (whether or not it is present).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join(digest.algorithm()).join(digest.hex())
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::BlobNotFound(digest.clone())),
            Err(e) => Err(Error::io("stat", path, e)),
        }
    }

    /// Opens a blob for streaming reads. The content is trusted as verified on write.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::BlobNotFound(digest.clone()),
            _ => Error::io("open", path, e),
        })
    }

    /// Reads a whole (small) blob and verifies it against its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_blob(digest)?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", self.blob_path(digest), e))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch { expected: digest.clone(), actual });
        }
        Ok(bytes)
    }

    /// Writes a whole blob and returns its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if self.has_blob(&digest) {
            return Ok(digest);
        }
        let mut w = self.blob_writer()?;
        std::io::Write::write_all(&mut w, bytes).map_err(|e| Error::io("write", self.root.join("tmp"), e))?;
        w.commit(Some(&digest))?;
        Ok(digest)
    }

    /// A streaming writer; [`BlobWriter::commit`] verifies and moves the blob into place.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        BlobWriter::new(self.clone())
    }
}

/// The default store root: `$PLINTH_HOME`, else `<cache dir>/plinth`, else `./.plinth`.
pub fn default_root() -> PathBuf {
    if let Some(home) = std::env::var_os(PLINTH_HOME_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    dirs::cache_dir().map(|d| d.join("plinth")).unwrap_or_else(|| PathBuf::from(".plinth"))
}
