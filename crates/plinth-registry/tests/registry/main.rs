//! Integration tests of the registry client against a real `docker-registry` process (from
//! `plinth-test`), with a fault-injecting proxy in front of it where the test is about failures.
#![allow(missing_docs)]

mod cold_pulls;
mod error_sentences;
mod faults;
mod hostile;
mod layout_push;
mod mini_http;
mod protocol;
mod push_pull;
mod referrers;
mod tag_guard;
mod tags;

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use plinth_oci::{Digest, Store};
use plinth_registry::{BlobOutcome, Client, Credentials, RetryPolicy, TransferReporter};
use plinth_test::images::BusyboxImage;

pub fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

/// The default attempts, but short waits: for tests where waiting is not the point.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        factor: 2,
        ..RetryPolicy::default()
    }
}

pub fn client(store: &Store) -> Client {
    client_for(store).build().unwrap()
}

pub fn client_for(store: &Store) -> plinth_registry::ClientBuilder {
    Client::builder(store.clone())
        .with_credentials(Credentials::anonymous())
        .with_retry_policy(fast_retry())
}

/// Where the images are built once per test binary (building compresses a few MiB).
fn template_store() -> Store {
    Store::open(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("plinth-registry-images"))
        .unwrap()
}

fn template(big: bool) -> &'static BusyboxImage {
    static SMALL: OnceLock<BusyboxImage> = OnceLock::new();
    static BIG: OnceLock<BusyboxImage> = OnceLock::new();
    let (cell, builder) = if big {
        (
            &BIG,
            BusyboxImage::builder()
                .with_seed("registry-faults")
                .with_big_layer(BIG_LAYER),
        )
    } else {
        (&SMALL, BusyboxImage::builder().with_seed("registry"))
    };
    cell.get_or_init(|| builder.build(&template_store()))
}

/// The size of the big layer's file: large enough for resets to hit the middle of its body.
pub const BIG_LAYER: u64 = 4 << 20;

/// The two-platform busybox image (4 blobs), copied into `store`.
pub fn small_image(store: &Store) -> BusyboxImage {
    let image = template(false).clone();
    image.copy_into(&template_store(), store).unwrap();
    image
}

/// The two-platform busybox image plus a 4 MiB layer shared by both platforms (5 blobs).
pub fn big_image(store: &Store) -> BusyboxImage {
    let image = template(true).clone();
    image.copy_into(&template_store(), store).unwrap();
    image
}

/// Counts what a transfer reported.
#[derive(Default)]
pub struct CountingReporter {
    pub outcomes: Mutex<BTreeMap<String, usize>>,
    pub bytes: Mutex<u64>,
    pub manifests: Mutex<Vec<String>>,
}

impl CountingReporter {
    pub fn count(&self, outcome: BlobOutcome) -> usize {
        self.outcomes
            .lock()
            .unwrap()
            .get(&format!("{outcome:?}"))
            .copied()
            .unwrap_or(0)
    }
}

impl TransferReporter for CountingReporter {
    fn on_blob_progress(&self, _: &Digest, bytes: u64) {
        *self.bytes.lock().unwrap() += bytes;
    }

    fn on_blob_done(&self, _: &Digest, outcome: BlobOutcome) {
        *self
            .outcomes
            .lock()
            .unwrap()
            .entry(format!("{outcome:?}"))
            .or_default() += 1;
    }

    fn on_manifest(&self, _: &Digest, target: &str) {
        self.manifests.lock().unwrap().push(target.to_owned());
    }
}

/// An error with its causes, for assertions and panic messages.
pub use plinth_test::error_chain as chain;
