//! Test images written straight into a [`Store`]: a two-platform busybox image (an OCI index over
//! linux/amd64 and linux/arm64), built with plinth's own layer writer.
//!
//! Each platform gets one layer: the [`busybox_rootfs`](crate::busybox_rootfs) plus
//! `/etc/plinth-platform` naming the platform, so the two layers differ and a single-platform
//! pull can be told apart from a full one. Both platforms carry the same static amd64 busybox:
//! registries and skopeo do not care, and docker runs the amd64 one. Options add a seed (unique
//! digests, so tests sharing a registry do not find each other's blobs) and a large
//! incompressible layer shared by both platforms (so faults can hit the middle of a body).
//!
//! ```no_run
//! use plinth_oci::Store;
//! use plinth_test::images::{BusyboxImage, busybox_index};
//!
//! let store = Store::open("/tmp/store")?;
//! let index = busybox_index(&store); // deterministic: same digest on every run
//! let big = BusyboxImage::builder().with_seed("faults").with_big_layer(4 << 20).build(&store);
//! assert_eq!(big.platforms().len(), 2);
//! # Ok::<(), plinth_oci::Error>(())
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

use plinth_oci::layer::{WriteOptions, store_dir_layer};
use plinth_oci::layout::OciLayout;
use plinth_oci::{
    Descriptor, Digest, ImageConfig, ImageIndex, ImageManifest, MediaType, Platform, Store,
};

use crate::context::{TestContext, output};
use crate::error::{Result, io_error};

/// The path of the large layer's one file.
pub const BIG_LAYER_FILE: &str = "var/lib/plinth-test/big.bin";

/// Builds a [`BusyboxImage`].
#[derive(Debug, Clone, Default)]
pub struct BusyboxImageBuilder {
    seed: Option<String>,
    big_layer: Option<u64>,
}

impl BusyboxImageBuilder {
    /// Writes `seed` into every layer (`/etc/plinth-seed`), so the digests are unique to it.
    pub fn with_seed(mut self, seed: impl Into<String>) -> Self {
        self.seed = Some(seed.into());
        self
    }

    /// Adds a layer of about `bytes` incompressible bytes (derived from the seed), shared by both
    /// platforms, after the busybox layer.
    pub fn with_big_layer(mut self, bytes: u64) -> Self {
        self.big_layer = Some(bytes);
        self
    }

    /// Writes the image into `store`, or says why it could not.
    pub fn try_build(&self, store: &Store) -> Result<BusyboxImage> {
        let work = tempfile::Builder::new()
            .prefix("plinth-image-")
            .tempdir()
            .map_err(io_error("create temp directory", std::env::temp_dir()))?;
        // Timestamps are clamped, so the digests depend only on the inputs.
        let options = WriteOptions::new().with_source_date_epoch(Some(0));
        let rootfs = work.path().join("rootfs");
        crate::busybox_rootfs(&rootfs)?;
        if let Some(seed) = &self.seed {
            write(&rootfs.join("etc/plinth-seed"), seed.as_bytes())?;
        }
        let big = match self.big_layer {
            Some(bytes) => {
                let dir = work.path().join("big");
                write_noise(&dir.join(BIG_LAYER_FILE), bytes, self.seed.as_deref())?;
                let info = store_dir_layer(store, &dir, &options)?;
                Some((
                    Descriptor::new(MediaType::OciLayerGzip, info.digest, info.size),
                    info.diff_id,
                ))
            }
            None => None,
        };

        let mut platforms = Vec::new();
        for platform in [Platform::linux_amd64(), Platform::linux_arm64()] {
            write(
                &rootfs.join("etc/plinth-platform"),
                format!("{platform}\n").as_bytes(),
            )?;
            let info = store_dir_layer(store, &rootfs, &options)?;
            let mut layers = vec![Descriptor::new(
                MediaType::OciLayerGzip,
                info.digest,
                info.size,
            )];
            let mut config = ImageConfig::for_platform(&platform);
            config.rootfs.diff_ids.push(info.diff_id);
            if let Some((layer, diff_id)) = &big {
                layers.push(layer.clone());
                config.rootfs.diff_ids.push(diff_id.clone());
            }
            config.set_env("PATH", "/bin:/usr/bin");
            config.runtime_mut().cmd = Some(vec!["sh".into()]);
            let config = store.write_config(MediaType::OciConfig, &config)?;
            let manifest =
                ImageManifest::new(MediaType::OciManifest, config.clone(), layers.clone());
            let manifest = store
                .write_manifest(&manifest)?
                .with_platform(platform.clone());
            platforms.push(PlatformImage {
                platform,
                manifest,
                config,
                layers,
            });
        }
        let index = store.write_index(&ImageIndex::new(
            MediaType::OciIndex,
            platforms.iter().map(|p| p.manifest.clone()).collect(),
        ))?;
        Ok(BusyboxImage {
            index,
            platforms,
            big_layer: big.map(|(d, _)| d),
        })
    }

    /// Writes the image into `store`; panics with the reason if it cannot.
    pub fn build(&self, store: &Store) -> BusyboxImage {
        self.try_build(store)
            .unwrap_or_else(|err| panic!("{}", crate::error_chain(&err)))
    }
}

/// One platform of a [`BusyboxImage`].
#[derive(Debug, Clone)]
pub struct PlatformImage {
    /// The platform.
    pub platform: Platform,
    /// The manifest's descriptor (with the platform), as listed in the index.
    pub manifest: Descriptor,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, busybox first, then the big layer if there is one.
    pub layers: Vec<Descriptor>,
}

/// A two-platform image in a store.
#[derive(Debug, Clone)]
pub struct BusyboxImage {
    /// The index over both platforms.
    pub index: Descriptor,
    /// linux/amd64, then linux/arm64.
    pub platforms: Vec<PlatformImage>,
    /// The large layer shared by both platforms, if one was asked for.
    pub big_layer: Option<Descriptor>,
}

impl BusyboxImage {
    /// Options for a new image.
    pub fn builder() -> BusyboxImageBuilder {
        BusyboxImageBuilder::default()
    }

    /// The platforms, amd64 first.
    pub fn platforms(&self) -> &[PlatformImage] {
        &self.platforms
    }

    /// The digest of the index.
    pub fn digest(&self) -> &Digest {
        &self.index.digest
    }

    /// The digests of the platform manifests, amd64 first.
    pub fn manifests(&self) -> Vec<Digest> {
        self.platforms
            .iter()
            .map(|p| p.manifest.digest.clone())
            .collect()
    }

    /// Every config and layer blob, each once, sorted by digest.
    pub fn blobs(&self) -> Vec<Descriptor> {
        let mut all: Vec<Descriptor> = self
            .platforms
            .iter()
            .flat_map(|p| std::iter::once(p.config.clone()).chain(p.layers.iter().cloned()))
            .collect();
        all.sort_by(|a, b| a.digest.cmp(&b.digest));
        all.dedup_by(|a, b| a.digest == b.digest);
        all
    }

    /// Copies the image (index, manifests, configs, layers) from `from` into `to`, verified.
    /// Building an image compresses a few MiB; tests that each want a fresh store build it once
    /// and copy it.
    pub fn copy_into(&self, from: &Store, to: &Store) -> Result<()> {
        let all = std::iter::once(&self.index)
            .chain(self.platforms.iter().map(|p| &p.manifest))
            .chain(self.blobs().iter())
            .map(|d| d.digest.clone())
            .collect::<Vec<_>>();
        for digest in all {
            if to.has_blob(&digest) {
                continue;
            }
            let path = from.blob_path(&digest);
            let mut source = std::fs::File::open(&path).map_err(io_error("open", &path))?;
            let mut writer = to.blob_writer()?;
            std::io::copy(&mut source, &mut writer).map_err(io_error("copy", &path))?;
            writer.commit(Some(&digest))?;
        }
        Ok(())
    }

    /// The sum of the sizes of [`blobs`](Self::blobs).
    pub fn blob_bytes(&self) -> u64 {
        self.blobs().iter().map(|d| d.size).sum()
    }
}

/// A deterministic two-platform busybox image in `store` (no seed, no big layer); returns the
/// index descriptor. Panics with the reason if it cannot be built.
pub fn busybox_index(store: &Store) -> Descriptor {
    BusyboxImage::builder().build(store).index
}

/// Builds `builder`'s image in the store `DIR/fixture-store` and writes it to the OCI layout
/// `DIR/layout`, tagged `v1`: a root that only this machine has, for `oci:DIR/layout:v1` or
/// a `plinth copy` to a registry. Returns the image and the layout's path.
pub fn busybox_in_layout(dir: &Path, builder: &BusyboxImageBuilder) -> (BusyboxImage, PathBuf) {
    let store = Store::open(dir.join("fixture-store")).expect("a fixture store");
    let image = builder.build(&store);
    let layout = dir.join("layout");
    OciLayout::create(&layout)
        .and_then(|l| l.export_from_store(&store, &image.index, Some("v1")))
        .expect("the busybox layout");
    (image, layout)
}

/// [`busybox_index`] in an OCI layout `DIR/root-layout` tagged `v1` (built in the store
/// `DIR/fixture-store`), as a root a recipe or a Dockerfile can name: `oci:DIR/root-layout:v1`.
pub fn busybox_layout(dir: &Path) -> String {
    let store = Store::open(dir.join("fixture-store")).expect("a fixture store");
    let index = busybox_index(&store);
    let layout = dir.join("root-layout");
    OciLayout::create(&layout)
        .and_then(|l| l.export_from_store(&store, &index, Some("v1")))
        .expect("the busybox layout");
    format!("oci:{}:v1", layout.display())
}

/// Pushes a two-platform busybox image (made with `seed` when given) to `target` through the
/// CLI under test (`plinth copy oci:… docker://target`), as a user would publish a root;
/// returns its index digest. Panics when the copy fails.
pub fn push_busybox_with_plinth(ctx: &TestContext, seed: Option<&str>, target: &str) -> String {
    let dir = ctx
        .temp_dir()
        .join(format!("image-{}", seed.unwrap_or("default")));
    let mut builder = BusyboxImage::builder();
    if let Some(seed) = seed {
        builder = builder.with_seed(seed);
    }
    let (image, layout) = busybox_in_layout(&dir, &builder);
    let out = output(
        ctx,
        ctx.plinth().args([
            "copy",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{target}"),
        ]),
    );
    assert!(out.status.success(), "plinth copy to {target} failed");
    image.index.digest.to_string()
}

/// Writes one single-layer image per `(platform, rootfs directory)` into a new OCI layout at
/// `out`, tagged `latest`: an index when several platforms are given, else the manifest.
/// Layer times are clamped to 0 and each config has the usual `PATH` and `CMD ["sh"]`, so the
/// same directories give the same digests. Returns the tagged descriptor.
pub fn rootfs_layout(rootfs: &[(Platform, PathBuf)], out: &Path) -> Result<Descriptor> {
    write_rootfs_layout(rootfs, out, true)
}

/// [`rootfs_layout`] with no history in the configs, as images written by tools that keep
/// none (umoci, some `crane` uses) have.
pub fn rootfs_layout_without_history(
    rootfs: &[(Platform, PathBuf)],
    out: &Path,
) -> Result<Descriptor> {
    write_rootfs_layout(rootfs, out, false)
}

fn write_rootfs_layout(
    rootfs: &[(Platform, PathBuf)],
    out: &Path,
    with_history: bool,
) -> Result<Descriptor> {
    let tmp = tempfile::tempdir().map_err(io_error("create a temp dir for", out))?;
    let store = Store::open(tmp.path())?;
    let mut manifests = Vec::new();
    for (platform, dir) in rootfs {
        let info = store_dir_layer(
            &store,
            dir,
            &WriteOptions::new().with_source_date_epoch(Some(0)),
        )?;
        let mut config = ImageConfig::for_platform(platform);
        config.rootfs.diff_ids.push(info.diff_id.clone());
        config.set_env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
        config.runtime_mut().cmd = Some(vec!["sh".into()]);
        // One entry per layer, as every real image has (BuildKit appends entries of its own
        // for layers a base's history does not account for).
        if with_history {
            config.history.push(plinth_oci::History {
                created: Some("1970-01-01T00:00:00Z".into()),
                created_by: Some("ADD busybox-rootfs / # plinth-test root".into()),
                ..plinth_oci::History::default()
            });
        }
        let config = store.write_config(MediaType::OciConfig, &config)?;
        let layer = Descriptor::new(MediaType::OciLayerGzip, info.digest, info.size);
        let manifest = ImageManifest::new(MediaType::OciManifest, config, vec![layer]);
        manifests.push(
            store
                .write_manifest(&manifest)?
                .with_platform(platform.clone()),
        );
    }
    let root = match manifests.len() {
        1 => manifests.remove(0),
        _ => store.write_index(&ImageIndex::new(MediaType::OciIndex, manifests))?,
    };
    OciLayout::create(out)?.export_from_store(&store, &root, Some("latest"))?;
    Ok(root)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error("create directory", dir))?;
    }
    std::fs::write(path, bytes).map_err(io_error("write", path))
}

/// Writes `bytes` of xorshift noise (gzip cannot shrink it), seeded from `seed`.
fn write_noise(path: &Path, bytes: u64, seed: Option<&str>) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error("create directory", dir))?;
    }
    let file = std::fs::File::create(path).map_err(io_error("create", path))?;
    let mut out = std::io::BufWriter::new(file);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in seed.unwrap_or_default().bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
    }
    x |= 1;
    let mut chunk = [0u8; 8];
    let mut left = bytes;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
        let n = usize::try_from(left.min(8)).unwrap_or(8);
        out.write_all(&chunk[..n])
            .map_err(io_error("write", path))?;
        left -= n as u64;
    }
    out.flush().map_err(io_error("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_platforms_distinct_layers_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = BusyboxImage::builder().with_seed("x").build(&store);
        assert_eq!(a.platforms().len(), 2);
        assert_ne!(
            a.platforms[0].layers[0].digest,
            a.platforms[1].layers[0].digest
        );
        assert_eq!(a.blobs().len(), 4);
        for blob in a.blobs() {
            assert_eq!(store.blob_size(&blob.digest).unwrap(), blob.size);
        }
        let again = BusyboxImage::builder().with_seed("x").build(&store);
        assert_eq!(a.digest(), again.digest(), "same inputs, same digest");
        let other = BusyboxImage::builder().with_seed("y").build(&store);
        assert_ne!(a.digest(), other.digest());

        let big = BusyboxImage::builder()
            .with_seed("x")
            .with_big_layer(3 << 20)
            .build(&store);
        let layer = big.big_layer.clone().unwrap();
        assert!(
            layer.size > 3 << 20,
            "noise does not compress: {}",
            layer.size
        );
        assert_eq!(big.blobs().len(), 5, "the big layer is shared");
        assert_eq!(big.platforms[1].layers[1], layer);

        let dir2 = tempfile::tempdir().unwrap();
        let store2 = Store::open(dir2.path()).unwrap();
        big.copy_into(&store, &store2).unwrap();
        for blob in big.blobs() {
            assert!(store2.has_blob(&blob.digest));
        }
        assert!(store2.has_blob(big.digest()));
    }
}
