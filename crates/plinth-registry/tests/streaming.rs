//! Pushing and pulling a large layer keeps memory flat: blobs stream from and into the store
//! and are never held whole in memory. A binary of its own so its peak RSS is its own.
//!
//! The size defaults to 96 MiB; set `PLINTH_STREAM_TEST_MIB=1024` for the 1 GiB run.

#![allow(missing_docs)]

use std::io::Write as _;
use std::sync::Arc;

use plinth_oci::{Descriptor, ImageManifest, MediaType, Reference, Store};
use plinth_registry::{Client, Credentials, NoTransferReporter};

/// Peak resident set size of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_layer_push_and_pull_stream() {
    let mib: u64 = std::env::var("PLINTH_STREAM_TEST_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96);
    let size = mib * 1024 * 1024;
    let registry = plinth_test::LocalRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();

    // Incompressible content, written in 1 MiB chunks.
    let mut w = store.blob_writer().unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1024 * 1024];
    for _ in 0..mib {
        for word in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        w.write_all(&chunk).unwrap();
    }
    drop(chunk);
    let (layer, layer_size) = w.commit(None).unwrap();
    assert_eq!(layer_size, size);
    let config = store
        .write_blob(
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
    let config_size = store.blob_size(&config).unwrap();
    let manifest = ImageManifest::new(
        MediaType::OciManifest,
        Descriptor::new(MediaType::OciConfig, config, config_size),
        vec![Descriptor::new(MediaType::OciLayer, layer.clone(), size)],
    );
    let (bytes, root) = manifest.to_canonical().unwrap();
    store.write_blob(&bytes).unwrap();

    let baseline = peak_rss();
    let client = Client::builder(store.clone())
        .with_credentials(Credentials::anonymous())
        .build()
        .unwrap();
    let target: Reference = format!("{}/plinth/big:1", registry.host()).parse().unwrap();
    let report = client
        .push_image(&root, &target, Arc::new(NoTransferReporter))
        .await
        .unwrap();
    assert_eq!(report.bytes_uploaded, size + config_size);

    let dir2 = tempfile::tempdir().unwrap();
    let store2 = Store::open(dir2.path()).unwrap();
    let client2 = Client::builder(store2.clone())
        .with_credentials(Credentials::anonymous())
        .build()
        .unwrap();
    assert_eq!(
        client2
            .pull_image(&target, &[], Arc::new(NoTransferReporter))
            .await
            .unwrap(),
        root
    );
    assert_eq!(store2.blob_size(&layer).unwrap(), size);

    let growth = peak_rss().saturating_sub(baseline);
    report_growth(growth, mib);
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {growth} bytes: a blob is being buffered"
    );
}

#[allow(clippy::print_stderr)] // the figure is the point of the test
fn report_growth(growth: u64, mib: u64) {
    eprintln!(
        "peak RSS grew by {} MiB for a {mib} MiB layer",
        growth / (1024 * 1024)
    );
}
