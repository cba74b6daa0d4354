//! Draws library progress events: indicatif bars on a TTY, plain lines otherwise.

use std::collections::BTreeMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use plinth_oci::Digest;
use plinth_registry::{BlobOutcome, TransferReporter};

use crate::printer::{Printer, Verbosity};

/// A transfer reporter for pulls and pushes.
pub struct TransferProgress {
    printer: Printer,
    bars: Option<MultiProgress>,
    active: Mutex<BTreeMap<Digest, ProgressBar>>,
}

impl TransferProgress {
    /// Bars when the printer allows them, plain lines otherwise.
    pub fn new(printer: Printer) -> Self {
        let bars = printer
            .progress_bars()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            printer,
            bars,
            active: Mutex::new(BTreeMap::new()),
        }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template(
            "{prefix:>19} {bar:30} {bytes:>10}/{total_bytes:10} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
    }
}

fn short(digest: &Digest) -> String {
    format!("sha256:{}", &digest.hex()[..12])
}

impl TransferReporter for TransferProgress {
    fn on_blob_start(&self, digest: &Digest, size: u64) {
        let Some(bars) = &self.bars else { return };
        let bar = bars.add(
            ProgressBar::new(size)
                .with_style(Self::style())
                .with_prefix(short(digest)),
        );
        if let Ok(mut active) = self.active.lock() {
            active.insert(digest.clone(), bar);
        }
    }

    fn on_blob_progress(&self, digest: &Digest, bytes: u64) {
        if let Ok(active) = self.active.lock()
            && let Some(bar) = active.get(digest)
        {
            bar.inc(bytes);
        }
    }

    fn on_blob_done(&self, digest: &Digest, outcome: BlobOutcome) {
        if let Ok(mut active) = self.active.lock()
            && let Some(bar) = active.remove(digest)
        {
            bar.finish_and_clear();
        }
        let what = match outcome {
            BlobOutcome::Uploaded => "uploaded",
            BlobOutcome::Skipped => "already in the registry",
            BlobOutcome::Mounted => "mounted",
            BlobOutcome::Downloaded => "downloaded",
            BlobOutcome::AlreadyLocal => "already in the local store",
        };
        let line = format!("blob {}: {what}", short(digest));
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None if self.printer.verbosity() != Verbosity::Quiet => self.printer.status(line),
            None => {}
        }
    }

    fn on_manifest(&self, digest: &Digest, target: &str) {
        let line = format!("manifest {} → {target}", short(digest));
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => self.printer.status(line),
        }
    }
}
