//! Integration tests of the registry client against a real `docker-registry` process.
#![allow(missing_docs)]

mod images;
#[allow(dead_code)]
mod local_registry;
mod mini_http;
mod protocol;
mod push_pull;
mod tags;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use plinth_oci::{Digest, Store};
use plinth_registry::{BlobOutcome, Client, Credentials, Reporter, RetryPolicy};

pub fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

pub fn client(store: &Store) -> Client {
    Client::builder(store.clone())
        .with_credentials(Credentials::anonymous())
        .with_retry_policy(fast_retry())
        .build()
        .unwrap()
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

impl Reporter for CountingReporter {
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
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str("\ncaused by: ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
