//! `copy_image` from an OCI layout to a registry: the layout is read in place (nothing goes
//! into the store) and each blob is hashed while it is sent. A blob whose bytes do not match its
//! name must never reach the registry under that name: the end of its body is withheld, the
//! final `PUT ?digest=` is never sent (or its body is cut short), and the tag is not written.
//! The registry is checked on disk and directly, never through the proxy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plinth_oci::layout::OciLayout;
use plinth_oci::{Descriptor, Digest, ImageLocation, Platform, Reference};
use plinth_registry::{
    BlobOutcome, Client, DeliverOptions, Delivered, Error, NoTransferReporter, copy_image,
};
use plinth_test::images::{BusyboxImage, busybox_in_layout};
use plinth_test::proxy::{RecordedRequest, RequestKind};
use plinth_test::{FaultProxy, LocalRegistry};

use crate::{CountingReporter, chain, client, client_for, new_store};

/// A busybox image unique to `seed` in the layout `DIR/layout` (tagged `v1`), and a proxy in
/// front of the shared registry.
struct Setup {
    _dir: tempfile::TempDir,
    image: BusyboxImage,
    layout: PathBuf,
    registry: &'static LocalRegistry,
    proxy: FaultProxy,
}

impl Setup {
    fn new(seed: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (image, layout) =
            busybox_in_layout(dir.path(), &BusyboxImage::builder().with_seed(seed));
        let registry = LocalRegistry::shared();
        let proxy = FaultProxy::start(registry);
        Self {
            _dir: dir,
            image,
            layout,
            registry,
            proxy,
        }
    }

    fn source(&self) -> ImageLocation {
        format!("oci:{}:v1", self.layout.display()).parse().unwrap()
    }

    fn destination(&self, repo_and_tag: &str) -> ImageLocation {
        ImageLocation::Registry(self.proxy.image(repo_and_tag).parse().unwrap())
    }

    /// The amd64 busybox layer: the biggest blob, over one chunk of the reader.
    fn layer(&self) -> Descriptor {
        self.image.platforms()[0].layers[0].clone()
    }

    /// The requests that carried or finished `blob`'s upload: a `PUT ?digest=` of it, or a
    /// `PATCH` of its size.
    fn uploads_of(&self, blob: &Descriptor) -> Vec<RecordedRequest> {
        self.proxy
            .requests()
            .into_iter()
            .filter(|r| match r.kind {
                RequestKind::PutBlob => r
                    .query
                    .as_deref()
                    .is_some_and(|q| q.contains(blob.digest.hex())),
                RequestKind::PatchUpload => r.content_length == Some(blob.size),
                _ => false,
            })
            .collect()
    }

    async fn assert_nothing_tagged(&self, repo_and_tag: &str) {
        let (_d, store) = new_store();
        let tag: Reference = self.registry.image(repo_and_tag).parse().unwrap();
        assert_eq!(
            client(&store).head_manifest(&tag).await.unwrap(),
            None,
            "no tag may point at an image with a damaged blob"
        );
    }
}

/// Replaces the layout's file of `blob` by `bytes` (a new file: the original may share its inode
/// with the fixture store).
fn replace_blob(layout: &Path, blob: &Digest, bytes: &[u8]) {
    let path = OciLayout::open(layout).unwrap().blob_path(blob);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, bytes).unwrap();
}

/// A byte flipped in the middle of the layer; same size, other digest.
fn flip_middle_byte(layout: &Path, blob: &Descriptor) -> Digest {
    let path = OciLayout::open(layout).unwrap().blob_path(&blob.digest);
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    replace_blob(layout, &blob.digest, &bytes);
    Digest::of(&bytes)
}

async fn copy_with(
    client: &Client,
    setup: &Setup,
    repo_and_tag: &str,
    reporter: Arc<dyn plinth_registry::TransferReporter>,
) -> plinth_registry::Result<Delivered> {
    copy_image(
        client,
        &setup.source(),
        &setup.destination(repo_and_tag),
        &DeliverOptions::new(),
        reporter,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_is_pushed_from_its_files_without_touching_the_store() {
    let s = Setup::new("layout-push-in-place");
    let (_d, store) = new_store();
    let reporter = Arc::new(CountingReporter::default());
    let delivered = copy_with(&client(&store), &s, "layout/in-place:1", reporter.clone())
        .await
        .unwrap_or_else(|e| panic!("{}\nrequests: {:?}", chain(&e), s.proxy.counts()));
    let Delivered::Pushed(report) = delivered else {
        panic!("a registry destination is pushed: {delivered:?}");
    };
    assert_eq!(report.digest.as_ref(), Some(s.image.digest()));
    assert_eq!(report.blobs_uploaded, s.image.blobs().len(), "{report:?}");
    assert_eq!(report.bytes_uploaded, s.image.blob_bytes());
    assert_eq!(
        *reporter.bytes.lock().unwrap(),
        s.image.blob_bytes(),
        "progress adds up to the blob sizes"
    );
    assert_eq!(reporter.count(BlobOutcome::Uploaded), s.image.blobs().len());

    // Nothing was imported: the copy read the layout's files, and the store holds no blob.
    for blob in s.image.blobs() {
        assert!(
            !store.has_blob(&blob.digest),
            "{} was imported",
            blob.digest
        );
        assert!(s.registry.has_blob_on_disk(&blob.digest.to_string()));
    }
    assert!(!store.has_blob(s.image.digest()));

    // Pulled back directly into a fresh store: every blob verified on the way in.
    let (_d2, fresh) = new_store();
    let tag: Reference = s.registry.image("layout/in-place:1").parse().unwrap();
    let root = client(&fresh)
        .pull_image(&tag, &[], Arc::new(NoTransferReporter))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(&root, s.image.digest());
    for blob in s.image.blobs() {
        assert_eq!(
            Digest::of(&fresh.read_blob(&blob.digest).unwrap()),
            blob.digest
        );
    }
}

/// A flipped byte in a layer, sent in one `PUT ?digest=` (the monolithic upload) or as a
/// `PATCH` then `PUT`: the error names the blob and both digests; the registry never commits it.
async fn a_flipped_byte_never_reaches_the_registry(monolithic: bool) {
    let seed = format!("layout-push-flipped-{monolithic}");
    let s = Setup::new(&seed);
    let layer = s.layer();
    let actual = flip_middle_byte(&s.layout, &layer);
    let (_d, store) = new_store();
    let limit = if monolithic { u64::MAX } else { 0 };
    let client = client_for(&store)
        .with_monolithic_limit(limit)
        .build()
        .unwrap();
    let repo_and_tag = format!("layout/flipped-{monolithic}:1");

    // The damaged layer's platform alone: the other platform's layer may have the very same
    // size (the two differ in one file's content, not its length), and `uploads_of` knows a
    // `PATCH` by its size.
    let err = copy_image(
        &client,
        &s.source(),
        &s.destination(&repo_and_tag),
        &DeliverOptions::new().with_platform(Some(Platform::linux_amd64())),
        Arc::new(NoTransferReporter),
    )
    .await
    .expect_err("a damaged layout must not be pushed");
    let text = chain(&err);
    assert!(
        text.contains(&layer.digest.to_string()) && text.contains(&actual.to_string()),
        "the error names the blob and both digests: {text}"
    );
    assert!(text.contains("damaged"), "{text}");
    let mut found = None;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = cause {
        // Causes are boxed registry errors.
        let registry_error = e
            .downcast_ref::<Error>()
            .or_else(|| e.downcast_ref::<Box<Error>>().map(AsRef::as_ref));
        if let Some(Error::LayoutBlobMismatch {
            expected,
            actual: got,
            expected_size,
            actual_size,
            ..
        }) = registry_error
        {
            found = Some((expected.clone(), got.clone(), *expected_size, *actual_size));
        }
        cause = e.source();
    }
    assert_eq!(
        found,
        Some((layer.digest.clone(), actual.clone(), layer.size, layer.size)),
        "{text}"
    );

    // The registry has the layer under neither name, and no tag.
    assert!(!s.registry.has_blob_on_disk(&layer.digest.to_string()));
    assert!(!s.registry.has_blob_on_disk(&actual.to_string()));
    s.assert_nothing_tagged(&repo_and_tag).await;

    // Plinth withheld it itself (not only the registry's own check): no request carrying the
    // layer's bytes got to its end, and no `PUT ?digest=` of the layer was answered.
    let uploads = s.uploads_of(&layer);
    if monolithic {
        let puts: Vec<_> = uploads
            .iter()
            .filter(|r| r.kind == RequestKind::PutBlob)
            .collect();
        assert!(!puts.is_empty(), "{uploads:?}");
        for put in puts {
            assert!(put.request_body_bytes < layer.size, "{put:?}");
            assert_ne!(put.status, Some(201), "{put:?}");
        }
    } else {
        assert!(
            uploads.iter().all(|r| r.kind == RequestKind::PatchUpload),
            "the final PUT of a damaged blob is never sent: {uploads:?}"
        );
        assert!(
            !uploads.is_empty() && uploads.iter().all(|r| r.request_body_bytes < layer.size),
            "the layer's PATCH was cut short: {uploads:?}"
        );
    }
    // Its session is cancelled, once: a damaged file stays damaged, so it is not retried.
    assert_eq!(
        s.proxy.count(RequestKind::CancelUpload),
        1,
        "{:?}",
        s.proxy.counts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_a_monolithic_upload_never_reaches_the_registry() {
    a_flipped_byte_never_reaches_the_registry(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_a_chunked_upload_never_reaches_the_registry() {
    a_flipped_byte_never_reaches_the_registry(false).await;
}

/// A truncated blob (or one with bytes appended) is refused before anything of it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_of_the_wrong_size_is_refused_before_it_is_sent() {
    let s = Setup::new("layout-push-truncated");
    let layer = s.layer();
    let path = OciLayout::open(&s.layout).unwrap().blob_path(&layer.digest);
    let bytes = std::fs::read(&path).unwrap();
    replace_blob(&s.layout, &layer.digest, &bytes[..bytes.len() - 100]);
    let (_d, store) = new_store();
    let err = copy_with(
        &client(&store),
        &s,
        "layout/truncated:1",
        Arc::new(NoTransferReporter),
    )
    .await
    .expect_err("a truncated blob must not be pushed");
    let text = chain(&err);
    assert!(
        text.contains(&layer.digest.to_string())
            && text.contains(&format!("{} bytes", bytes.len() - 100))
            && text.contains(&layer.size.to_string()),
        "{text}"
    );
    assert_eq!(s.uploads_of(&layer), [], "nothing of it is sent");
    assert!(!s.registry.has_blob_on_disk(&layer.digest.to_string()));
    s.assert_nothing_tagged("layout/truncated:1").await;
}

/// The layout's manifests are checked too: a changed index is refused before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_manifest_is_refused_before_any_request() {
    let s = Setup::new("layout-push-manifest");
    let manifest = s.image.manifests()[0].clone();
    let path = OciLayout::open(&s.layout).unwrap().blob_path(&manifest);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = b' ';
    replace_blob(&s.layout, &manifest, &bytes);
    let (_d, store) = new_store();
    let err = copy_with(
        &client(&store),
        &s,
        "layout/manifest:1",
        Arc::new(NoTransferReporter),
    )
    .await
    .expect_err("a damaged manifest must not be pushed");
    assert!(
        chain(&err).contains(&manifest.to_string()),
        "{}",
        chain(&err)
    );
    assert!(s.proxy.requests().is_empty(), "{:?}", s.proxy.counts());
}

/// `--platform` narrows the layout's index to one manifest, read from the layout too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_platform_of_a_layout_is_pushed_alone() {
    let s = Setup::new("layout-push-one-platform");
    let (_d, store) = new_store();
    let arm64 = &s.image.platforms()[1];
    let delivered = copy_image(
        &client(&store),
        &s.source(),
        &s.destination("layout/arm64:1"),
        &DeliverOptions::new().with_platform(Some(Platform::linux_arm64())),
        Arc::new(NoTransferReporter),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let Delivered::Pushed(report) = delivered else {
        panic!("a registry destination is pushed: {delivered:?}");
    };
    assert_eq!(report.digest.as_ref(), Some(&arm64.manifest.digest));
    assert_eq!(report.blobs_uploaded, 1 + arm64.layers.len(), "{report:?}");
    assert_eq!(report.manifests_pushed, 1);
    let amd64_layer = &s.image.platforms()[0].layers[0];
    assert!(!s.registry.has_blob_on_disk(&amd64_layer.digest.to_string()));
}
