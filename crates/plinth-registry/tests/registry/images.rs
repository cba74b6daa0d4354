//! Test images built straight into a store: a gzip'd tar layer with `/bin/busybox` (amd64) or a
//! small file (arm64), a config, a manifest per platform and an OCI index over both.

use std::io::Write as _;

use plinth_oci::canonical::to_canonical_vec;
use plinth_oci::digest::DigestWriter;
use plinth_oci::{Descriptor, Digest, ImageIndex, ImageManifest, MediaType, Platform, Store};

pub struct TestImage {
    pub index: Digest,
    pub manifests: Vec<Digest>,
    /// Config and layer blobs.
    pub blobs: Vec<Digest>,
}

fn add_file(b: &mut tar::Builder<impl std::io::Write>, path: &str, mode: u32, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_path(path).unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// Writes a gzip'd tar layer into the store, streaming; returns (blob digest, size, diff_id).
pub fn write_layer(store: &Store, files: &[(&str, u32, Vec<u8>)]) -> (Digest, u64, Digest) {
    let writer = store.blob_writer().unwrap();
    let gz = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
    let mut tar = tar::Builder::new(DigestWriter::new(gz));
    for (path, mode, data) in files {
        add_file(&mut tar, path, *mode, data);
    }
    let dw = tar.into_inner().unwrap();
    let (gz, diff_id, _) = dw.finish();
    let mut writer = gz.finish().unwrap();
    writer.flush().unwrap();
    let (digest, size) = writer.commit(None).unwrap();
    (digest, size, diff_id)
}

fn write_json(store: &Store, v: &serde_json::Value) -> (Digest, u64) {
    let bytes = to_canonical_vec(v).unwrap();
    (store.write_blob(&bytes).unwrap(), bytes.len() as u64)
}

pub fn platform_manifest(
    store: &Store,
    platform: &Platform,
    layer: (Digest, u64, Digest),
) -> (Digest, u64, Vec<Digest>) {
    let (layer_digest, layer_size, diff_id) = layer;
    let config = serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"Cmd": ["/bin/busybox", "true"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    });
    let (config_digest, config_size) = write_json(store, &config);
    let manifest = ImageManifest::new(
        MediaType::OciManifest,
        Descriptor::new(MediaType::OciConfig, config_digest.clone(), config_size),
        vec![Descriptor::new(
            MediaType::OciLayerGzip,
            layer_digest.clone(),
            layer_size,
        )],
    );
    let (bytes, digest) = manifest.to_canonical().unwrap();
    store.write_blob(&bytes).unwrap();
    (
        digest,
        bytes.len() as u64,
        vec![config_digest, layer_digest],
    )
}

/// A two-platform image; `seed` makes its digests unique.
pub fn build_image(store: &Store, seed: &str) -> TestImage {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static must be installed");
    let amd64 = write_layer(
        store,
        &[
            ("bin/busybox", 0o755, busybox),
            ("etc/seed", 0o644, seed.as_bytes().to_vec()),
        ],
    );
    let arm64 = write_layer(
        store,
        &[
            ("etc/arch", 0o644, b"arm64\n".to_vec()),
            ("etc/seed", 0o644, seed.as_bytes().to_vec()),
        ],
    );
    let mut descriptors = Vec::new();
    let mut manifests = Vec::new();
    let mut blobs = Vec::new();
    for (platform, layer) in [
        (Platform::linux_amd64(), amd64),
        (Platform::linux_arm64(), arm64),
    ] {
        let (digest, size, b) = platform_manifest(store, &platform, layer);
        descriptors.push(
            Descriptor::new(MediaType::OciManifest, digest.clone(), size).with_platform(platform),
        );
        manifests.push(digest);
        blobs.extend(b);
    }
    let (bytes, index) = ImageIndex::new(MediaType::OciIndex, descriptors)
        .to_canonical()
        .unwrap();
    store.write_blob(&bytes).unwrap();
    TestImage {
        index,
        manifests,
        blobs,
    }
}
