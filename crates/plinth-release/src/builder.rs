//! [`ImageBuilder`]: what builds a version's recipe into the store. Two implementations: the
//! embedded engine ([`plinth_engine::Engine`], the default) and BuildKit
//! ([`plinth_buildkit::BuildkitBackend`]). The release flow only needs the result in the store;
//! checks and pushes always go through the embedded engine's store and registry client, so a
//! builder must write into that same store.

use std::collections::BTreeMap;

use plinth_buildkit::BuildkitBackend;
use plinth_engine::{BuildOptions, Engine};
use plinth_oci::{Descriptor, Digest, Platform, Store};
use plinth_recipe::Container;

/// Why a builder failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The embedded engine failed.
    #[error(transparent)]
    Engine(#[from] plinth_engine::Error),
    /// BuildKit failed.
    #[error(transparent)]
    Buildkit(#[from] plinth_buildkit::Error),
    /// Writing the index over separately built platforms failed.
    #[error(transparent)]
    Store(#[from] plinth_oci::Error),
}

/// One platform of a [`BuiltImage`].
#[derive(Clone, Debug)]
pub struct BuiltPlatform {
    /// The platform.
    pub platform: Platform,
    /// The platform's manifest in the store.
    pub manifest: Descriptor,
    /// The content digest each URL input had in this build.
    pub url_inputs: BTreeMap<String, Digest>,
    /// How many steps ran (not taken from a cache).
    pub steps_run: usize,
    /// What the builder warned about (a BuildKit builder dropping `--network=none`, …).
    pub warnings: Vec<String>,
}

/// What an [`ImageBuilder`] made: an image in the builder's store.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    /// The image: the index when several platforms were built, else the manifest.
    pub root: Descriptor,
    /// Per platform, in the order asked for.
    pub platforms: Vec<BuiltPlatform>,
}

impl BuiltImage {
    /// How many steps ran on all platforms.
    pub fn steps_run(&self) -> usize {
        self.platforms.iter().map(|p| p.steps_run).sum()
    }
}

/// Builds a recipe for the platforms of [`BuildOptions`] into [`store`](Self::store), points
/// [`BuildOptions::tag`] at the result and reports steps to [`BuildOptions::reporter`].
pub trait ImageBuilder: Send + Sync {
    /// A short name for messages (`embedded`, `buildkit`).
    fn name(&self) -> &'static str;
    /// The store results land in.
    fn store(&self) -> &Store;
    /// Builds `container` for every platform of `options`.
    fn build(
        &self,
        container: &Container,
        options: &BuildOptions,
    ) -> Result<BuiltImage, BuildError>;
}

impl ImageBuilder for Engine {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn store(&self) -> &Store {
        Engine::store(self)
    }

    fn build(
        &self,
        container: &Container,
        options: &BuildOptions,
    ) -> Result<BuiltImage, BuildError> {
        let result = Engine::build(self, container, options)?;
        Ok(BuiltImage {
            root: result.root,
            platforms: result
                .platforms
                .into_iter()
                .map(|p| BuiltPlatform {
                    steps_run: p.steps_run(),
                    platform: p.platform,
                    manifest: p.manifest,
                    url_inputs: p.url_inputs,
                    warnings: Vec::new(),
                })
                .collect(),
        })
    }
}

impl ImageBuilder for BuildkitBackend {
    fn name(&self) -> &'static str {
        "buildkit"
    }

    fn store(&self) -> &Store {
        BuildkitBackend::store(self)
    }

    fn build(
        &self,
        container: &Container,
        options: &BuildOptions,
    ) -> Result<BuiltImage, BuildError> {
        let result = BuildkitBackend::build(self, container, options)?;
        Ok(BuiltImage {
            root: result.root,
            platforms: result
                .platforms
                .into_iter()
                .map(|p| BuiltPlatform {
                    steps_run: p.steps_run(),
                    platform: p.platform,
                    manifest: p.manifest,
                    url_inputs: p.url_inputs,
                    warnings: p.warnings,
                })
                .collect(),
        })
    }
}
