//! Where a push reads an image from: the client's store, or an OCI layout read in place.
//!
//! The store's blobs were verified when they were written, so they are sent as they are. A
//! layout may come from anywhere: its manifests are verified when read, and each blob is hashed
//! while it is sent. The last chunk of a blob's body is held back until the whole file has been
//! hashed and is never sent when the bytes do not match the blob's name: the request then fails,
//! the registry sees a body cut short and commits nothing, and the push aborts the upload session
//! and reports both digests ([`Error::LayoutBlobMismatch`]). Hashing during the upload instead of
//! importing the layout into the store first is what makes a first copy cost one pass over the
//! bytes, as skopeo's does.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use plinth_oci::digest::Hasher;
use plinth_oci::image::BlobSource as _;
use plinth_oci::layout::OciLayout;
use plinth_oci::manifest::MAX_MANIFEST_BYTES;
use plinth_oci::{Digest, Store};

use crate::error::{Error, Result};
use crate::reporter::TransferReporter;

/// Read size when streaming a blob from disk.
const CHUNK: usize = 256 * 1024;
/// Chunks read ahead of the connection: enough to keep it busy, little memory.
const CHUNKS_AHEAD: usize = 4;

/// Where a push reads manifests and blobs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PushSource<'a> {
    /// The client's store: every blob was verified when it was written.
    Store(&'a Store),
    /// An OCI layout: manifests verified when read, blobs while they are sent.
    Layout(&'a OciLayout),
}

impl PushSource<'_> {
    /// A manifest or index, whole (a layout's is checked against its digest).
    pub(crate) fn read_manifest(&self, digest: &Digest) -> Result<Vec<u8>> {
        match self {
            Self::Store(store) => match store.read_blob(digest) {
                Ok(b) => Ok(b),
                Err(plinth_oci::Error::BlobNotFound(d)) => Err(Error::MissingContent { digest: d }),
                Err(e) => Err(e.into()),
            },
            Self::Layout(layout) => Ok(layout.read_content(digest, MAX_MANIFEST_BYTES)?),
        }
    }

    /// Fails when the blob is not there to be sent.
    pub(crate) fn require_blob(&self, digest: &Digest) -> Result<()> {
        match self {
            Self::Store(store) if store.has_blob(digest) => Ok(()),
            Self::Store(_) => Err(Error::MissingContent {
                digest: digest.clone(),
            }),
            Self::Layout(layout) if layout.has_content(digest) => Ok(()),
            Self::Layout(layout) => Err(layout_invalid(
                layout,
                format!("blob `{digest}` is referenced but missing"),
            )),
        }
    }

    /// The number of bytes a blob's upload sends: the store's file size, or for a layout the
    /// descriptor's `declared` size once the file is found to have it.
    pub(crate) fn blob_size(&self, digest: &Digest, declared: u64) -> Result<u64> {
        match self {
            Self::Store(store) => store.blob_size(digest).map_err(|_| Error::MissingContent {
                digest: digest.clone(),
            }),
            Self::Layout(layout) => {
                let path = layout.blob_path(digest);
                let actual = std::fs::metadata(&path)
                    .map_err(|e| Error::io("stat", &path, e))?
                    .len();
                if actual != declared {
                    return Err(layout_invalid(
                        layout,
                        format!(
                            "blob `{digest}` has {actual} bytes where the image's descriptor says {declared}; the layout is damaged: write it again"
                        ),
                    ));
                }
                Ok(declared)
            }
        }
    }

    /// The blob's bytes as a streamed request body of `size` bytes, reporting progress, with
    /// the check that says afterwards whether they matched `digest` (always, for the store).
    pub(crate) fn body(
        &self,
        digest: &Digest,
        size: u64,
        reporter: Arc<dyn TransferReporter>,
    ) -> Result<(reqwest::Body, BodyCheck)> {
        let (path, verify) = match self {
            Self::Store(store) => (store.blob_path(digest), false),
            Self::Layout(layout) => (layout.blob_path(digest), true),
        };
        let check = BodyCheck {
            path: path.clone(),
            expected: digest.clone(),
            expected_size: size,
            found: Arc::new(OnceLock::new()),
        };
        // An empty body has no last chunk to hold back: judge it before anything is sent.
        if verify && size == 0 {
            let empty = Digest::of(b"");
            if &empty != digest {
                let _ = check.found.set(Found {
                    digest: empty,
                    size: 0,
                });
                check.result()?;
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        let reader = FileReader {
            path,
            size,
            verify: verify.then(|| (digest.clone(), check.found.clone())),
            tx,
        };
        // One thread reads (and hashes) the whole file while the connection sends: the hashing
        // overlaps the upload instead of preceding it.
        tokio::task::spawn_blocking(move || reader.run());
        let d = digest.clone();
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let stream = futures_util::StreamExt::inspect(stream, move |chunk| {
            if let Ok(c) = chunk {
                reporter.on_blob_progress(&d, c.len() as u64);
            }
        });
        Ok((reqwest::Body::wrap_stream(stream), check))
    }
}

fn layout_invalid(layout: &OciLayout, reason: String) -> Error {
    Error::Oci(plinth_oci::Error::InvalidArchive {
        kind: "OCI layout",
        path: layout.dir().to_owned(),
        reason,
    })
}

/// What a layout blob's bytes turned out to be when they did not match its name.
#[derive(Clone, Debug)]
struct Found {
    digest: Digest,
    size: u64,
}

/// Says, once a request carrying a blob body has ended, whether the bytes were the blob's.
#[derive(Debug)]
pub(crate) struct BodyCheck {
    path: PathBuf,
    expected: Digest,
    expected_size: u64,
    found: Arc<OnceLock<Found>>,
}

impl BodyCheck {
    /// [`Error::LayoutBlobMismatch`] when the bytes read did not match the blob's digest or
    /// size (their end was then withheld from the request).
    pub(crate) fn result(&self) -> Result<()> {
        match self.found.get() {
            None => Ok(()),
            Some(found) => Err(Error::LayoutBlobMismatch {
                path: self.path.clone(),
                expected: self.expected.clone(),
                expected_size: self.expected_size,
                actual: found.digest.clone(),
                actual_size: found.size,
            }),
        }
    }
}

/// Reads one blob file into a body channel, one chunk behind: the last chunk goes out only once
/// the whole file has matched its digest.
struct FileReader {
    path: PathBuf,
    size: u64,
    /// The digest to match, and where to say what the bytes were instead.
    verify: Option<(Digest, Arc<OnceLock<Found>>)>,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

impl FileReader {
    fn run(self) {
        if let Err(e) = self.stream() {
            // The receiver may be gone already (the request ended); nothing else to tell.
            let _ = self.tx.blocking_send(Err(e));
        }
    }

    /// Sends every chunk but the last as it is read; `Err` ends the body instead of the last
    /// chunk when the bytes are not the blob's.
    fn stream(&self) -> std::io::Result<()> {
        let file = plinth_oci::fs::open_regular(&self.path)?;
        // One byte more than declared shows a file that grew.
        let mut file = file.take(self.size.saturating_add(1));
        let mut hasher = self.verify.as_ref().map(|_| Hasher::new());
        let mut held: Option<Bytes> = None;
        loop {
            let chunk = read_chunk(&mut file)?;
            if chunk.is_empty() {
                break;
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            if let Some(previous) = held.replace(chunk)
                && self.tx.blocking_send(Ok(previous)).is_err()
            {
                return Ok(()); // the request was dropped
            }
        }
        if let (Some(hasher), Some((expected, found))) = (hasher, &self.verify) {
            let size = hasher.len();
            let digest = hasher.finish();
            if &digest != expected || size != self.size {
                let _ = found.set(Found { digest, size });
                return Err(std::io::Error::other(format!(
                    "the bytes of `{}` do not match its name; the upload was withheld",
                    self.path.display()
                )));
            }
        }
        if let Some(last) = held {
            let _ = self.tx.blocking_send(Ok(last));
        }
        Ok(())
    }
}

/// Up to [`CHUNK`] bytes (fewer only at the end of the file).
fn read_chunk(file: &mut impl std::io::Read) -> std::io::Result<Bytes> {
    let mut buf = vec![0; CHUNK];
    let mut filled = 0;
    while filled < CHUNK {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
}
