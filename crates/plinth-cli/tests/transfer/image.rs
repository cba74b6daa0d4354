//! A two-platform busybox image in an OCI layout, built with plinth's own layer writer.

use std::path::{Path, PathBuf};

use plinth_oci::layer::{WriteOptions, store_dir_layer};
use plinth_oci::layout::OciLayout;
use plinth_oci::{Descriptor, ImageConfig, ImageIndex, ImageManifest, MediaType, Platform, Store};

/// Writes `busybox` for linux/amd64 and linux/arm64 (the same static amd64 binary: registries and
/// skopeo do not care, and docker runs the amd64 one) into `<dir>/layout` tagged `tag`.
pub fn busybox_layout(dir: &Path, tag: &str) -> PathBuf {
    let rootfs = dir.join("rootfs");
    plinth_test::busybox_rootfs(&rootfs).unwrap();
    let store = Store::open(dir.join("build-store")).unwrap();
    let layer = store_dir_layer(&store, &rootfs, &WriteOptions::new().with_source_date_epoch(Some(0))).unwrap();
    let layer_desc = Descriptor::new(MediaType::OciLayerGzip, layer.digest.clone(), layer.size);
    let mut manifests = Vec::new();
    for platform in [Platform::linux_amd64(), Platform::linux_arm64()] {
        let mut config = ImageConfig::for_platform(&platform);
        config.rootfs.diff_ids.push(layer.diff_id.clone());
        config.set_env("PATH", "/bin:/usr/bin");
        config.runtime_mut().cmd = Some(vec!["sh".into()]);
        let config_desc = store.write_config(MediaType::OciConfig, &config).unwrap();
        let manifest = ImageManifest::new(MediaType::OciManifest, config_desc, vec![layer_desc.clone()]);
        manifests.push(store.write_manifest(&manifest).unwrap().with_platform(platform));
    }
    let index = store.write_index(&ImageIndex::new(MediaType::OciIndex, manifests)).unwrap();
    let layout_dir = dir.join("layout");
    OciLayout::create(&layout_dir).unwrap().export_from_store(&store, &index, Some(tag)).unwrap();
    layout_dir
}
