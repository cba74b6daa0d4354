//! Progress events for pulls and pushes. Libraries report, the CLI draws.

use plinth_oci::Digest;

/// What happened to one blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Its bytes were sent to the registry.
    Uploaded,
    /// The registry already had it (found by `HEAD`).
    Skipped,
    /// The registry linked it from another repository (cross-repo mount).
    Mounted,
    /// Its bytes were downloaded into the local store.
    Downloaded,
    /// The local store already had it; nothing was downloaded.
    AlreadyLocal,
}

/// Receives the progress of blob and manifest transfers (pulls and pushes). Every method has an empty default; implementations must be cheap
/// and must not block (they are called from transfer tasks, possibly several at once).
pub trait TransferReporter: Send + Sync {
    /// A blob transfer starts.
    fn on_blob_start(&self, digest: &Digest, size: u64) {
        let _ = (digest, size);
    }

    /// `bytes` more bytes of a blob were sent or received.
    fn on_blob_progress(&self, digest: &Digest, bytes: u64) {
        let _ = (digest, bytes);
    }

    /// A blob is done. A transfer that restarts after a failure reports `on_blob_start` again.
    fn on_blob_done(&self, digest: &Digest, outcome: BlobOutcome) {
        let _ = (digest, outcome);
    }

    /// A manifest or index was written to (or read from) `target` (`repo@digest` or `repo:tag`).
    fn on_manifest(&self, digest: &Digest, target: &str) {
        let _ = (digest, target);
    }
}

/// A reporter that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTransferReporter;

impl TransferReporter for NoTransferReporter {}
