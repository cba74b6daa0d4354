//! Comparing two images in one store: the roots, then per platform the manifest, the config
//! (field by field) and the layers (identical ones paired wherever they sit, the rest by
//! position; a layer whose digest differs is listed file by file), and the packages (from SBOMs
//! generated from the layers, or given).

use std::collections::BTreeMap;

use plinth_oci::{
    Descriptor, Digest, ImageConfig, ImageManifest, ManifestDocument, Platform, Store,
};
use serde::Serialize;
use serde_json::Value;

use crate::config::{FieldChange, diff_json};
use crate::error::{Error, Result};
use crate::files::layer_files;
use crate::layers::{FileChange, diff_layer_files};
use crate::packages::{PackageChange, PackageSet, diff_packages};
use crate::pairing::pair_layers;

/// An image to compare: what the user called it and its root (index or manifest) in the store.
#[derive(Clone, Debug)]
pub struct Named {
    /// How it was named (`registry/repo:1.0.0`, `oci:dir`, `rebuilt`).
    pub name: String,
    /// Its root in the store.
    pub root: Descriptor,
}

/// A digest on each side (`None`: that side has none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DigestPair {
    /// The first image's.
    pub before: Option<Digest>,
    /// The second image's.
    pub after: Option<Digest>,
}

impl DigestPair {
    /// Whether both sides have the same digest.
    pub fn equal(&self) -> bool {
        self.before == self.after
    }
}

/// One layer on one side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerSide {
    /// The blob digest.
    pub digest: Digest,
    /// The blob size in bytes.
    pub size: u64,
}

/// One layer of either image and its partner in the other ([`pair_layers`]: identical layers
/// wherever they sit, the rest by position).
///
/// [`pair_layers`]: crate::pairing::pair_layers
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerComparison {
    /// Its position in the first image, from 0 (the lowest layer); `None`: added.
    pub before_index: Option<usize>,
    /// Its position in the second image; `None`: removed.
    pub after_index: Option<usize>,
    /// The first image's layer here.
    pub before: Option<LayerSide>,
    /// The second image's layer here.
    pub after: Option<LayerSide>,
    /// The files that differ (empty when the digests are equal, or when only the tar or its
    /// compression differs).
    pub files: Vec<FileChange>,
}

impl LayerComparison {
    /// Whether both sides have this layer with the same digest.
    pub fn equal(&self) -> bool {
        self.before.as_ref().map(|l| &l.digest) == self.after.as_ref().map(|l| &l.digest)
    }
}

/// One platform of the two images.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlatformComparison {
    /// The platform (`linux/amd64`).
    pub platform: String,
    /// The platform manifests.
    pub manifest: DigestPair,
    /// The manifest fields that differ other than the config and layers (annotations).
    pub manifest_changes: Vec<FieldChange>,
    /// The configs.
    pub config: DigestPair,
    /// The config fields that differ.
    pub config_changes: Vec<FieldChange>,
    /// The layers, paired (identical ones first, the rest by position), bottom first.
    pub layers: Vec<LayerComparison>,
    /// How many layers each image has.
    pub layer_counts: (usize, usize),
    /// The package differences, when packages were compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<PackageChange>>,
}

impl PlatformComparison {
    /// Whether manifest, config and every layer are equal.
    pub fn equal(&self) -> bool {
        self.manifest.equal() && self.config.equal() && self.layers.iter().all(|l| l.equal())
    }
}

/// Two images compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageComparison {
    /// The first image's name.
    pub before_name: String,
    /// The second image's name.
    pub after_name: String,
    /// The roots (index, or manifest for a single-platform image).
    pub root: DigestPair,
    /// The index fields that differ, when both roots are indexes.
    pub index_changes: Vec<FieldChange>,
    /// Every platform either image has.
    pub platforms: Vec<PlatformComparison>,
}

impl ImageComparison {
    /// Whether the two images are the same image (same root digest).
    pub fn equal(&self) -> bool {
        self.root.equal()
    }
}

/// What to compare besides digests, configs and files.
#[derive(Clone, Debug, Default)]
pub struct CompareOptions {
    /// Compare packages (from SBOMs generated from the layers unless given below).
    pub packages: bool,
    /// Package sets already known (attached SBOMs), by (0 for the first image, 1 for the
    /// second; platform).
    pub known_packages: BTreeMap<(usize, Platform), PackageSet>,
    /// Only this platform (default: every platform either image has).
    pub platform: Option<Platform>,
}

/// One platform image: its manifest descriptor, manifest, config bytes.
struct PlatformImage {
    descriptor: Descriptor,
    manifest: ImageManifest,
    config: Value,
}

/// Compares `before` with `after`, both in `store`.
pub fn compare_images(
    store: &Store,
    before: &Named,
    after: &Named,
    options: &CompareOptions,
) -> Result<ImageComparison> {
    let (old_doc, old) = platform_images(store, before)?;
    let (new_doc, new) = platform_images(store, after)?;
    let index_changes = match (&old_doc, &new_doc) {
        (Some(a), Some(b)) if before.root.digest != after.root.digest => diff_json(a, b)
            .into_iter()
            .filter(|c| !c.field.starts_with("manifests["))
            .collect(),
        _ => Vec::new(),
    };
    let platforms: std::collections::BTreeSet<&Platform> = old
        .keys()
        .chain(new.keys())
        .filter(|p| {
            options
                .platform
                .as_ref()
                .is_none_or(|wanted| wanted.matches(p))
        })
        .collect();
    let mut compared = Vec::new();
    for platform in platforms {
        let (a, b) = (old.get(platform), new.get(platform));
        let mut comparison = compare_platform(store, platform, a, b)?;
        if options.packages {
            let packages = |side: usize, image: Option<&PlatformImage>, named: &Named| match (
                options.known_packages.get(&(side, platform.clone())),
                image,
            ) {
                (Some(known), _) => Ok(known.clone()),
                (None, Some(image)) => packages_of(store, image, platform, &named.name),
                (None, None) => Ok(PackageSet::default()),
            };
            let (pa, pb) = (packages(0, a, before)?, packages(1, b, after)?);
            comparison.packages = Some(diff_packages(&pa, &pb));
        }
        compared.push(comparison);
    }
    Ok(ImageComparison {
        before_name: before.name.clone(),
        after_name: after.name.clone(),
        root: DigestPair {
            before: Some(before.root.digest.clone()),
            after: Some(after.root.digest.clone()),
        },
        index_changes,
        platforms: compared,
    })
}

/// The packages of every platform image of `image` (in `store`), from SBOMs generated from
/// their layers: what a changelog draft compares when no SBOM is attached.
pub fn image_packages(store: &Store, image: &Named) -> Result<BTreeMap<Platform, PackageSet>> {
    let (_, images) = platform_images(store, image)?;
    images
        .iter()
        .map(|(platform, one)| {
            Ok((
                platform.clone(),
                packages_of(store, one, platform, &image.name)?,
            ))
        })
        .collect()
}

/// The packages of one platform image, from an SBOM generated from its layers.
fn packages_of(
    store: &Store,
    image: &PlatformImage,
    platform: &Platform,
    name: &str,
) -> Result<PackageSet> {
    let files = plinth_sbom::ImageFiles::from_store(store, &image.manifest)?;
    let subject = plinth_sbom::Subject {
        name: name.to_owned(),
        digest: image.descriptor.digest.clone(),
        platform: platform.clone(),
    };
    Ok(PackageSet::from_sbom(&plinth_sbom::generate(
        &files, subject, 0,
    )?))
}

fn compare_platform(
    store: &Store,
    platform: &Platform,
    a: Option<&PlatformImage>,
    b: Option<&PlatformImage>,
) -> Result<PlatformComparison> {
    let digest = |i: Option<&PlatformImage>, f: fn(&PlatformImage) -> &Digest| i.map(f).cloned();
    let manifest = DigestPair {
        before: digest(a, |i| &i.descriptor.digest),
        after: digest(b, |i| &i.descriptor.digest),
    };
    let config = DigestPair {
        before: digest(a, |i| &i.manifest.config.digest),
        after: digest(b, |i| &i.manifest.config.digest),
    };
    let empty = Value::Object(Default::default());
    let config_changes = if config.equal() {
        Vec::new()
    } else {
        crate::config::without_build_arg_values(diff_json(
            a.map_or(&empty, |i| &i.config),
            b.map_or(&empty, |i| &i.config),
        ))
    };
    let manifest_changes = if manifest.equal() {
        Vec::new()
    } else {
        let shape = |i: Option<&PlatformImage>| -> Result<Value> {
            let Some(i) = i else { return Ok(empty.clone()) };
            let mut value = serde_json::to_value(&i.manifest).map_err(|e| Error::Config {
                digest: i.descriptor.digest.to_string(),
                reason: e.to_string(),
            })?;
            // The config and the layers are compared on their own.
            if let Value::Object(map) = &mut value {
                map.remove("config");
                map.remove("layers");
            }
            Ok(value)
        };
        diff_json(&shape(a)?, &shape(b)?)
    };
    let none = Vec::new();
    let old_layers = a.map_or(&none, |i| &i.manifest.layers);
    let new_layers = b.map_or(&none, |i| &i.manifest.layers);
    let mut layers = Vec::new();
    for (before_index, after_index) in pair_layers(&layer_keys(a), &layer_keys(b)) {
        let x = before_index.and_then(|i| old_layers.get(i));
        let y = after_index.and_then(|i| new_layers.get(i));
        let side = |d: Option<&Descriptor>| {
            d.map(|d| LayerSide {
                digest: d.digest.clone(),
                size: d.size,
            })
        };
        let mut layer = LayerComparison {
            before_index,
            after_index,
            before: side(x),
            after: side(y),
            files: Vec::new(),
        };
        if !layer.equal() {
            let list = |d: Option<&Descriptor>| {
                d.map_or_else(|| Ok(Default::default()), |d| layer_files(store, &d.digest))
            };
            layer.files = diff_layer_files(&list(x)?, &list(y)?);
        }
        layers.push(layer);
    }
    Ok(PlatformComparison {
        platform: platform.to_string(),
        manifest,
        manifest_changes,
        config,
        config_changes,
        layers,
        layer_counts: (old_layers.len(), new_layers.len()),
        packages: None,
    })
}

/// What identifies each layer of `image` for pairing: its diff_id (the same content however
/// compressed), or its blob digest when the config does not list one per layer.
fn layer_keys(image: Option<&PlatformImage>) -> Vec<String> {
    let Some(image) = image else {
        return Vec::new();
    };
    let diff_ids: Vec<String> = image.config["rootfs"]["diff_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    if diff_ids.len() == image.manifest.layers.len() {
        diff_ids
    } else {
        image
            .manifest
            .layers
            .iter()
            .map(|l| l.digest.to_string())
            .collect()
    }
}

/// The root's document when it is an index, and its platform images.
#[allow(clippy::type_complexity)]
fn platform_images(
    store: &Store,
    named: &Named,
) -> Result<(Option<Value>, BTreeMap<Platform, PlatformImage>)> {
    let mut images = BTreeMap::new();
    match store.read_document(&named.root)? {
        ManifestDocument::Image(manifest) => {
            let image = platform_image(store, named, named.root.clone(), manifest)?;
            let config: ImageConfig =
                serde_json::from_value(image.config.clone()).map_err(|e| Error::Config {
                    digest: image.manifest.config.digest.to_string(),
                    reason: e.to_string(),
                })?;
            images.insert(config.platform(), image);
            Ok((None, images))
        }
        ManifestDocument::Index(index) => {
            for child in &index.manifests {
                let ManifestDocument::Image(manifest) = store.read_document(child)? else {
                    return Err(Error::NotAnImage {
                        what: named.name.clone(),
                        reason: "an index inside an index is not an image".to_owned(),
                    });
                };
                let Some(platform) = child.platform.clone() else {
                    continue;
                };
                images.insert(
                    platform,
                    platform_image(store, named, child.clone(), manifest)?,
                );
            }
            let raw = store.read_blob(&named.root.digest)?;
            let value = serde_json::from_slice(&raw).map_err(|e| Error::Config {
                digest: named.root.digest.to_string(),
                reason: e.to_string(),
            })?;
            Ok((Some(value), images))
        }
    }
}

fn platform_image(
    store: &Store,
    named: &Named,
    descriptor: Descriptor,
    manifest: ImageManifest,
) -> Result<PlatformImage> {
    let raw = store.read_blob(&manifest.config.digest)?;
    let config = serde_json::from_slice(&raw).map_err(|e| Error::Config {
        digest: format!("{} of {}", manifest.config.digest, named.name),
        reason: e.to_string(),
    })?;
    Ok(PlatformImage {
        descriptor,
        manifest,
        config,
    })
}
