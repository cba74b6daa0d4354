//! Reading blobs back with verification.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;

use crate::digest::{Digest, Hasher};

/// A streaming blob reader that hashes what it reads and, at end of file, fails with
/// [`io::ErrorKind::InvalidData`] if the content does not match its digest.
///
/// Made by [`Store::reader`](super::Store::reader); with verification off it only reads.
#[derive(Debug)]
pub struct BlobReader {
    inner: BufReader<File>,
    expected: Digest,
    hasher: Option<Hasher>,
    path: PathBuf,
}

impl BlobReader {
    pub(crate) fn new(file: File, path: PathBuf, expected: Digest, verify: bool) -> Self {
        Self {
            inner: BufReader::with_capacity(256 * 1024, file),
            expected,
            hasher: verify.then(Hasher::new),
            path,
        }
    }

    /// The digest this reader serves.
    pub fn digest(&self) -> &Digest {
        &self.expected
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(h) = &mut self.hasher {
                h.update(&buf[..n]);
            }
        } else if !buf.is_empty()
            && let Some(h) = self.hasher.take()
        {
            let actual = h.finish();
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob `{}` at `{}` is corrupt: its content hashes to `{actual}`; remove it and fetch or build it again",
                        self.expected,
                        self.path.display()
                    ),
                ));
            }
        }
        Ok(n)
    }
}
