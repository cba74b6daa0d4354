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
    /// `None` for a writer whose caller hashes the same bytes ([`Self::hashed_by_caller`]).
    hasher: Option<Hasher>,
    /// Bytes written so far.
    len: u64,
    // Held until commit or drop, so gc never runs while this blob is in flight.
    _lock: StoreLock,
}

impl BlobWriter {
    pub(super) fn new(store: Store) -> Result<Self> {
        let mut writer = Self::hashed_by_caller(store)?;
        writer.hasher = Some(Hasher::new());
        Ok(writer)
    }

    /// A writer that does not hash: for code of this crate that computes the digest of exactly
    /// the bytes it writes here (the layer writer) and passes it to [`commit`](Self::commit),
    /// which then takes it as the blob's name.
    pub(crate) fn hashed_by_caller(store: Store) -> Result<Self> {
        let lock = store.lock_shared()?;
        let tmp_dir = store.root().join("tmp");
        let file = tempfile::Builder::new()
            .prefix(".blob-")
            .tempfile_in(&tmp_dir)
            .map_err(|e| Error::io("create temp file in", &tmp_dir, e))?;
        Ok(Self {
            store,
            file: BufWriter::with_capacity(256 * 1024, file),
            hasher: None,
            len: 0,
            _lock: lock,
        })
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Verifies the content against `expected` (when given), syncs it and renames it into the
    /// store. Returns the digest and size.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let len = self.len;
        let digest = match (self.hasher, expected) {
            (Some(hasher), expected) => {
                let digest = hasher.finish();
                if let Some(expected) = expected
                    && expected != &digest
                {
                    return Err(Error::DigestMismatch {
                        expected: expected.clone(),
                        actual: digest,
                    });
                }
                digest
            }
            (None, Some(computed)) => computed.clone(),
            (None, None) => {
                return Err(Error::Layer(
                    "a blob written without hashing was committed without its digest".into(),
                ));
            }
        };
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
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
