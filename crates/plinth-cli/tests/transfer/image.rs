//! A two-platform busybox image in an OCI layout, from `plinth-test`'s shared image builder.

use std::path::{Path, PathBuf};

use plinth_oci::Store;
use plinth_oci::layout::OciLayout;
use plinth_test::images::busybox_index;

/// Writes the busybox image for linux/amd64 and linux/arm64 (the same static amd64 binary:
/// registries and skopeo do not care, and docker runs the amd64 one) into `<dir>/layout` tagged
/// `tag`.
pub fn busybox_layout(dir: &Path, tag: &str) -> PathBuf {
    let store = Store::open(dir.join("build-store")).unwrap();
    let index = busybox_index(&store);
    let layout_dir = dir.join("layout");
    OciLayout::create(&layout_dir)
        .unwrap()
        .export_from_store(&store, &index, Some(tag))
        .unwrap();
    layout_dir
}
