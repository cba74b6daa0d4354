//! [`BuildResult`] and [`PlatformBuild`]: what an [`Executor`](crate::Executor) made.

use std::collections::BTreeMap;

use plinth_oci::{Descriptor, Digest, ImageConfig, ImageManifest, Platform};

use crate::error::{Error, Result};
use crate::inputs::{BuildInput, InputKind, normalize_inputs};
use crate::report::{CacheStatus, StepReport};

/// The image built for one platform.
#[derive(Clone, Debug)]
pub struct PlatformBuild {
    /// The platform.
    pub platform: Platform,
    /// The manifest in the store (its descriptor carries the platform).
    pub manifest: Descriptor,
    /// The config descriptor.
    pub config_descriptor: Descriptor,
    /// The config.
    pub config: ImageConfig,
    /// One report per operation of the recipe, in recipe order. Other engines report the steps
    /// they can see (BuildKit has none for config-only steps such as `ENV`).
    pub steps: Vec<StepReport>,
    /// The content digest each URL input had in this build.
    pub url_inputs: BTreeMap<String, Digest>,
    /// Every input the build read besides the recipe: root images, URL inputs, host files and
    /// directories, each with its digest, sorted (see [`PlatformBuild::with_inputs`]).
    pub inputs: Vec<BuildInput>,
    /// What the builder weakened to build the recipe (BuildKit dropping `RUN --network=none`
    /// on old daemons, …); always empty for the embedded engine.
    pub warnings: Vec<String>,
    /// The layers with their diff_ids, bottom first (helper containers read their snapshots).
    layers: Vec<(Descriptor, Digest)>,
}

impl PlatformBuild {
    /// The build of `platform`, whose image is already in the store: `manifest_descriptor`
    /// points at `manifest`, whose config is `config` (at `config_descriptor`). `steps` are
    /// sorted into recipe order; no warnings.
    ///
    /// Fails when the manifest's layers and the config's diff_ids do not pair up.
    pub fn new(
        platform: Platform,
        manifest_descriptor: Descriptor,
        manifest: &ImageManifest,
        config_descriptor: Descriptor,
        config: ImageConfig,
        mut steps: Vec<StepReport>,
        url_inputs: BTreeMap<String, Digest>,
    ) -> Result<Self> {
        let layers = pair_layers(&manifest_descriptor, manifest, &config)?;
        steps.sort_by_key(|s| s.index);
        Ok(Self {
            platform,
            manifest: manifest_descriptor,
            config_descriptor,
            config,
            steps,
            inputs: url_inputs
                .iter()
                .map(|(url, digest)| BuildInput::new(InputKind::Url, url, digest.clone()))
                .collect(),
            url_inputs,
            warnings: Vec::new(),
            layers,
        })
    }

    /// Sets [`PlatformBuild::warnings`].
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    /// Adds to [`PlatformBuild::inputs`] (which start with the URL inputs).
    pub fn with_inputs(mut self, inputs: impl IntoIterator<Item = BuildInput>) -> Self {
        self.inputs.extend(inputs);
        normalize_inputs(&mut self.inputs);
        self
    }

    /// The image's layers with their diff_ids, bottom first.
    pub fn layers(&self) -> &[(Descriptor, Digest)] {
        &self.layers
    }

    /// How many steps ran (cache misses).
    pub fn steps_run(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.status == CacheStatus::Miss)
            .count()
    }
}

/// What [`Executor::build`](crate::Executor::build) made.
#[derive(Clone, Debug)]
pub struct BuildResult {
    /// The image: the index when several platforms were built, else the manifest.
    pub root: Descriptor,
    /// The index, when several platforms were built.
    pub index: Option<Descriptor>,
    /// Per platform, in the order asked for.
    pub platforms: Vec<PlatformBuild>,
}

impl BuildResult {
    /// How many steps ran on all platforms.
    pub fn steps_run(&self) -> usize {
        self.platforms.iter().map(PlatformBuild::steps_run).sum()
    }

    /// The build of one platform.
    pub fn platform(&self, platform: &Platform) -> Option<&PlatformBuild> {
        self.platforms
            .iter()
            .find(|p| platform.matches(&p.platform) || p.platform == *platform)
    }
}

/// The layers of `manifest` (at `manifest_descriptor`) with the diff_ids of its `config`,
/// bottom first; an error when their counts differ.
pub fn pair_layers(
    manifest_descriptor: &Descriptor,
    manifest: &ImageManifest,
    config: &ImageConfig,
) -> Result<Vec<(Descriptor, Digest)>> {
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::LayerCount {
            image: manifest_descriptor.digest.clone(),
            layers: manifest.layers.len(),
            diff_ids: config.rootfs.diff_ids.len(),
        });
    }
    Ok(manifest
        .layers
        .iter()
        .cloned()
        .zip(config.rootfs.diff_ids.iter().cloned())
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use plinth_oci::MediaType;

    use super::*;

    fn report(index: usize, status: CacheStatus) -> StepReport {
        StepReport {
            index,
            description: format!("step {index}"),
            status,
            duration: Duration::ZERO,
            key: Digest::of(index.to_string().as_bytes()),
            explanation: String::new(),
            layer: None,
        }
    }

    #[test]
    fn another_engines_build_pairs_layers_with_diff_ids_and_orders_its_steps() {
        let platform = Platform::linux_amd64();
        let layer = |n: &str| Descriptor::new(MediaType::OciLayerGzip, Digest::of(n.as_bytes()), 1);
        let diff_ids = vec![Digest::of(b"diff-a"), Digest::of(b"diff-b")];
        let mut config = ImageConfig::for_platform(&platform);
        config.rootfs.diff_ids = diff_ids.clone();
        let config_descriptor = Descriptor::new(MediaType::OciConfig, Digest::of(b"config"), 2);
        let manifest = ImageManifest::new(
            MediaType::OciManifest,
            config_descriptor.clone(),
            vec![layer("a"), layer("b")],
        );
        let manifest_descriptor =
            Descriptor::new(MediaType::OciManifest, Digest::of(b"manifest"), 3);
        let build = PlatformBuild::new(
            platform.clone(),
            manifest_descriptor.clone(),
            &manifest,
            config_descriptor.clone(),
            config.clone(),
            vec![report(2, CacheStatus::Miss), report(0, CacheStatus::Hit)],
            BTreeMap::new(),
        )
        .unwrap()
        .with_warnings(vec!["weakened".into()]);
        assert_eq!(
            build.layers,
            [
                (layer("a"), diff_ids[0].clone()),
                (layer("b"), diff_ids[1].clone())
            ]
        );
        let order: Vec<_> = build.steps.iter().map(|s| (s.index, s.status)).collect();
        assert_eq!(order, [(0, CacheStatus::Hit), (2, CacheStatus::Miss)]);
        assert_eq!(build.steps_run(), 1);
        assert_eq!(build.warnings, ["weakened"]);

        config.rootfs.diff_ids.pop();
        let err = PlatformBuild::new(
            platform,
            manifest_descriptor,
            &manifest,
            config_descriptor,
            config,
            Vec::new(),
            BTreeMap::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("has 2 layers but its config lists 1 diff_ids"),
            "{err}"
        );
    }
}
