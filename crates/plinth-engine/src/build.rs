//! [`Engine::build`]: platforms in parallel, then the index and the result refs.

use std::collections::BTreeMap;
use std::sync::Arc;

use plinth_oci::{Descriptor, Digest, ImageConfig, ImageIndex, ImageManifest, Platform};
use plinth_recipe::{Container, Op};

use crate::engine::{Engine, Inner};
use crate::error::{Error, Result};
use crate::report::{CacheStatus, NoReporter, Reporter, StepReport};

/// What to build and how.
#[derive(Clone)]
pub struct BuildOptions {
    /// The platforms to build (default: the host's). They build concurrently.
    pub platforms: Vec<Platform>,
    /// Run every step even when the cache has it.
    pub no_cache: bool,
    /// A stable name for the recipe (`python:3.0.0`, a Dockerfile path): the last build under the
    /// same name is what `explain` texts compare against. Default: derived from the first `from`.
    pub recipe_id: Option<String>,
    /// A store ref name to point at the result (for `plinth run`, export and push).
    pub tag: Option<String>,
    /// Progress events.
    pub reporter: Arc<dyn Reporter>,
}

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("platforms", &self.platforms)
            .field("no_cache", &self.no_cache)
            .field("recipe_id", &self.recipe_id)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            platforms: vec![Platform::host()],
            no_cache: false,
            recipe_id: None,
            tag: None,
            reporter: Arc::new(NoReporter),
        }
    }
}

impl BuildOptions {
    /// Builds for `platforms`, with the cache, without a reporter.
    pub fn new(platforms: impl IntoIterator<Item = Platform>) -> Self {
        Self {
            platforms: platforms.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Sets [`BuildOptions::no_cache`].
    pub fn with_no_cache(mut self, no_cache: bool) -> Self {
        self.no_cache = no_cache;
        self
    }

    /// Sets [`BuildOptions::recipe_id`].
    pub fn with_recipe_id(mut self, id: impl Into<String>) -> Self {
        self.recipe_id = Some(id.into());
        self
    }

    /// Sets [`BuildOptions::tag`].
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Sets [`BuildOptions::reporter`].
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }
}

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
    /// What the builder weakened to build the recipe (BuildKit dropping `RUN --network=none`
    /// on old daemons, …); always empty for the embedded engine.
    pub warnings: Vec<String>,
    /// The layers with their diff_ids, bottom first (helper containers read their snapshots).
    pub(crate) layers: Vec<(Descriptor, Digest)>,
}

impl PlatformBuild {
    /// The build of `platform` by another engine, whose image is already in the store:
    /// `manifest_descriptor` points at `manifest`, whose config is `config`
    /// (at `config_descriptor`). `steps` are sorted into recipe order; no warnings.
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

    /// How many steps ran (cache misses).
    pub fn steps_run(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.status == CacheStatus::Miss)
            .count()
    }
}

/// What [`Engine::build`] made.
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
pub(crate) fn pair_layers(
    manifest_descriptor: &Descriptor,
    manifest: &ImageManifest,
    config: &ImageConfig,
) -> Result<Vec<(Descriptor, Digest)>> {
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::Image(format!(
            "image `{}` has {} layers but its config lists {} diff_ids; the image is corrupt",
            manifest_descriptor.digest,
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    Ok(manifest
        .layers
        .iter()
        .cloned()
        .zip(config.rootfs.diff_ids.iter().cloned())
        .collect())
}

/// What one step runs with.
pub(crate) struct StepContext<'a> {
    pub(crate) engine: &'a Inner,
    pub(crate) platform: &'a Platform,
    pub(crate) index: usize,
    pub(crate) description: &'a str,
    pub(crate) reporter: &'a dyn Reporter,
}

/// The default recipe id: the first `from` address, or `scratch`.
fn default_recipe_id(container: &Container) -> String {
    container
        .ops()
        .iter()
        .find_map(|op| match op {
            Op::From { source } => Some(format!("from/{}", source.address())),
            _ => None,
        })
        .unwrap_or_else(|| "scratch".to_owned())
}

/// Checks that `platform` can run here: natively, or through a binfmt_misc handler (registered
/// now when running as root and qemu-user-static is installed).
pub(crate) fn check_platform(platform: &Platform) -> Result<()> {
    if platform.os != "linux" {
        return Err(Error::Image(format!(
            "cannot build for {platform}: only linux images can be built"
        )));
    }
    if platform.architecture == plinth_sandbox::binfmt::host_arch() {
        return Ok(());
    }
    plinth_sandbox::binfmt::ensure(&platform.architecture).map_err(|source| Error::Platform {
        platform: platform.to_string(),
        source: Box::new(source),
    })
}

impl Engine {
    /// Builds `container` for every platform of `options` (concurrently), writes the images to
    /// the store and points the refs `builds/<recipe id>/image` and [`BuildOptions::tag`] at
    /// the result. Needs root for exec steps.
    pub fn build(&self, container: &Container, options: &BuildOptions) -> Result<BuildResult> {
        container.validate().map_err(Error::Recipe)?;
        if options.platforms.is_empty() {
            return Err(Error::Image("no platform to build for".into()));
        }
        for platform in &options.platforms {
            check_platform(platform)?;
        }
        let inner = &*self.inner;
        // Keep gc away from blobs written before the refs that keep them are set.
        let _lock = inner.store.lock_shared()?;
        let recipe_id = options
            .recipe_id
            .clone()
            .unwrap_or_else(|| default_recipe_id(container));
        let results: Vec<Result<PlatformBuild>> = std::thread::scope(|s| {
            let handles: Vec<_> = options
                .platforms
                .iter()
                .map(|platform| {
                    let recipe_id = &recipe_id;
                    s.spawn(move || {
                        let span = tracing::info_span!("build", %platform);
                        let _g = span.enter();
                        crate::steps::build_platform(
                            inner,
                            container,
                            platform,
                            options.no_cache,
                            recipe_id,
                            options.reporter.as_ref(),
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Image("a platform build thread panicked".into()))
                    })
                })
                .collect()
        });
        let platforms = results.into_iter().collect::<Result<Vec<_>>>()?;
        let (root, index) = if platforms.len() > 1 {
            let index = ImageIndex::new(
                inner.media_types.index(),
                platforms.iter().map(|p| p.manifest.clone()).collect(),
            );
            let descriptor = inner.store.write_index(&index)?;
            (descriptor.clone(), Some(descriptor))
        } else {
            (platforms[0].manifest.clone(), None)
        };
        crate::cache::set_ref_if_changed(
            &inner.store,
            &format!("builds/{recipe_id}/image"),
            &root,
        )?;
        if let Some(tag) = &options.tag {
            crate::cache::set_ref_if_changed(&inner.store, tag, &root)?;
        }
        Ok(BuildResult {
            root,
            index,
            platforms,
        })
    }
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
