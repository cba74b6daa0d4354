//! Streaming, verified, atomic blob writes.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use super::{Store, StoreLock};
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};

/// Writes a blob to a temp file while hashing it; [`commit`](Self::commit) renames it into place.
/// Dropping the writer without committing removes the temp file.
#[derive(Debug)]
pub struct BlobWriter {
    store: Store,
    file: BufWriter<tempfile::NamedTempFile>,
    hasher: Hasher,
    // Held until commit or drop, so gc never runs while this blob is in flight.
    _lock: StoreLock,
}

impl BlobWriter {
    pub(super) fn new(store: Store) -> Result<Self> {
        let lock = store.lock_shared()?;
        let tmp_dir = store.root().join("tmp");
        let file = tempfile::Builder::new()
            .prefix(".blob-")
            .tempfile_in(&tmp_dir)
            .map_err(|e| Error::io("create temp file in", &tmp_dir, e))?;
        Ok(Self {
            store,
            file: BufWriter::with_capacity(256 * 1024, file),
            hasher: Hasher::new(),
            _lock: lock,
        })
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// Verifies the content against `expected` (when given), syncs it and renames it into the
    /// store. Returns the digest and size.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let len = self.hasher.len();
        let digest = self.hasher.finish();
        if let Some(expected) = expected
            && expected != &digest
        {
            return Err(Error::DigestMismatch {
                expected: expected.clone(),
                actual: digest,
            });
        }
        let tmp = self
            .file
            .into_inner()
            .map_err(|e| Error::io("flush", "temp blob", e.into_error()))?;
        tmp.as_file()
            .set_permissions(super::import::blob_file_mode())
            .map_err(|e| Error::io("make read-only", tmp.path(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("sync", tmp.path(), e))?;
        let dest = self.store.blob_path(&digest);
        tmp.persist(&dest)
            .map_err(|e| Error::io("rename into", &dest, e.error))?;
        Ok((digest, len))
    }

    /// The underlying temp file (for callers that need to seek back, e.g. to re-read).
    pub fn as_file(&self) -> &File {
        self.file.get_ref().as_file()
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
