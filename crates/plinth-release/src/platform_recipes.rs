//! One recipe per platform built into one image: the operation `plinth build` and the release
//! flow share (stand-in images applied and recorded; one concurrent build when the platforms
//! agree, else one build each with the index assembled here).

use plinth_executor::{BuildOptions, BuildResult, Executor, PlatformBuild};
use plinth_oci::{ImageIndex, MediaType, Platform};
use plinth_recipe::{AppliedSubstitution, Container, ImageSubstitutions};

/// The recipe of each platform, with the images replaced by stand-ins recorded once each.
#[derive(Clone, Debug, Default)]
pub struct PlatformRecipes {
    recipes: Vec<(Platform, Container)>,
    substitutions: Vec<AppliedSubstitution>,
}

impl PlatformRecipes {
    /// No platform yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `platform`'s recipe with the images `substitutions` names replaced by their
    /// stand-ins (see [`plinth_recipe::substitute`]).
    pub fn push_substituted(
        &mut self,
        platform: Platform,
        container: Container,
        substitutions: &ImageSubstitutions,
    ) {
        let (container, applied) = container
            .with_substituted_images(substitutions)
            .into_parts();
        self.push(platform, container, applied);
    }

    /// Adds `platform`'s recipe, whose images were already substituted as `applied` says.
    pub fn push(
        &mut self,
        platform: Platform,
        container: Container,
        applied: Vec<AppliedSubstitution>,
    ) {
        for sub in applied {
            if !self.substitutions.contains(&sub) {
                self.substitutions.push(sub);
            }
        }
        self.recipes.push((platform, container));
    }

    /// The images replaced by stand-ins on any platform, each once (empty for a real build).
    pub fn substitutions(&self) -> &[AppliedSubstitution] {
        &self.substitutions
    }

    /// Each platform's recipe, in the order added (stand-ins applied).
    pub fn recipes(&self) -> &[(Platform, Container)] {
        &self.recipes
    }

    /// The platforms, in the order added.
    pub fn platforms(&self) -> Vec<Platform> {
        self.recipes.iter().map(|(p, _)| p.clone()).collect()
    }

    /// Builds every platform with `executor` (`options.platforms` is ignored: the recipes say
    /// which). When every platform has the same recipe (the usual case) the executor builds
    /// them concurrently into one index; otherwise each platform is built on its own (recipe
    /// id `ID/PLATFORM`) and the index is assembled here and tagged `options.tag`.
    pub fn build(
        &self,
        executor: &dyn Executor,
        options: &BuildOptions,
    ) -> plinth_executor::Result<BuildResult> {
        let Some((_, first)) = self.recipes.first() else {
            return Err(plinth_executor::Error::build(NoPlatform));
        };
        let options = BuildOptions {
            platforms: self.platforms(),
            ..options.clone()
        };
        if self.recipes.iter().all(|(_, c)| c == first) {
            return executor.build(first, &options);
        }
        let recipe_id = options.recipe_id.clone().unwrap_or_default();
        let mut platforms: Vec<PlatformBuild> = Vec::new();
        for (platform, recipe) in &self.recipes {
            let one = BuildOptions::new([platform.clone()])
                .with_no_cache(options.no_cache)
                .with_recipe_id(format!("{recipe_id}/{platform}"))
                .with_reporter(options.reporter.clone());
            let one = BuildOptions {
                labels: options.labels.clone(),
                ..one
            };
            let mut result = executor.build(recipe, &one)?;
            platforms.append(&mut result.platforms);
        }
        let manifests: Vec<_> = platforms
            .iter()
            .map(|p| p.manifest.clone().with_platform(p.platform.clone()))
            .collect();
        let (root, index) = if let [only] = manifests.as_slice() {
            (only.clone(), None)
        } else {
            let media_type = match manifests[0].media_type {
                MediaType::DockerManifest => MediaType::DockerManifestList,
                _ => MediaType::OciIndex,
            };
            let index = executor
                .store()
                .write_index(&ImageIndex::new(media_type, manifests))?;
            (index.clone(), Some(index))
        };
        if let Some(tag) = &options.tag {
            executor.store().set_ref(tag, &root)?;
        }
        Ok(BuildResult {
            root,
            index,
            platforms,
        })
    }
}

/// Building with no platform at all.
#[derive(Debug, thiserror::Error)]
#[error("no platform to build for")]
struct NoPlatform;
