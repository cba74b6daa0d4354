//! What a BuildKit build returns: the same shape as `plinth_engine::BuildResult`.

use std::collections::BTreeMap;

use plinth_engine::CacheStatus;
use plinth_oci::{Descriptor, Digest, ImageConfig, Platform};

use crate::builder::Builder;

/// The image one builder made for one platform, now in the store.
#[derive(Clone, Debug)]
pub struct BuildkitPlatformBuild {
    /// The platform asked for.
    pub platform: Platform,
    /// Where it was built.
    pub builder: Builder,
    /// The manifest in the store (its descriptor carries the image's platform).
    pub manifest: Descriptor,
    /// The config descriptor.
    pub config_descriptor: Descriptor,
    /// The config (as BuildKit wrote it, byte for byte in the store).
    pub config: ImageConfig,
    /// Cache status of each recipe step BuildKit reported (config-only steps have none).
    pub steps: BTreeMap<usize, CacheStatus>,
    /// The content digest each URL input had in this build.
    pub url_inputs: BTreeMap<String, Digest>,
    /// The generated Dockerfile.
    pub dockerfile: String,
    /// What was weakened to fit the builder (e.g. `RUN --network=none` dropped).
    pub warnings: Vec<String>,
}

impl BuildkitPlatformBuild {
    /// How many steps ran (not cached).
    pub fn steps_run(&self) -> usize {
        self.steps
            .values()
            .filter(|s| **s == CacheStatus::Miss)
            .count()
    }
}

/// What [`BuildkitBackend::build`](crate::BuildkitBackend::build) made: the same shape as `plinth_engine::BuildResult`.
#[derive(Clone, Debug)]
pub struct BuildkitResult {
    /// The image: the index when several platforms were built, else the manifest.
    pub root: Descriptor,
    /// The index, when several platforms were built.
    pub index: Option<Descriptor>,
    /// Per platform, in the order asked for.
    pub platforms: Vec<BuildkitPlatformBuild>,
}

impl BuildkitResult {
    /// How many steps ran on all platforms.
    pub fn steps_run(&self) -> usize {
        self.platforms
            .iter()
            .map(BuildkitPlatformBuild::steps_run)
            .sum()
    }

    /// The build of one platform.
    pub fn platform(&self, platform: &Platform) -> Option<&BuildkitPlatformBuild> {
        self.platforms
            .iter()
            .find(|p| p.platform == *platform || platform.matches(&p.platform))
    }
}
