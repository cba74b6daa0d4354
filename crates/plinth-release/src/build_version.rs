//! Building one version of a family: its recipe for every platform, once, into one image.

use std::collections::BTreeMap;
use std::sync::Arc;

use plinth_catalog::{Family, Version};
use plinth_executor::{BuildOptions, BuildReporter, Executor, PlatformBuild};
use plinth_oci::{Descriptor, Digest, Platform};
use plinth_recipe::{AppliedSubstitution, BaseResolver, ImageSubstitutions};

use crate::error::{Error, Result};

/// A version built for every platform of its family.
#[derive(Clone, Debug)]
pub struct BuiltVersion {
    /// The family's repository.
    pub repository: String,
    /// The version.
    pub version: Version,
    /// The image: an index over the platforms (a single manifest for a one-platform family).
    pub root: Descriptor,
    /// The manifest digest of each platform.
    pub platform_digests: BTreeMap<Platform, Digest>,
    /// The content digest each URL input had in this build (all platforms).
    pub url_inputs: BTreeMap<String, Digest>,
    /// The root image, as the recipe writes it.
    pub root_image: Option<String>,
    /// The images replaced by stand-ins in this build (empty for a real build). A build with
    /// substitutions is never published outside a loopback registry.
    pub substitutions: Vec<AppliedSubstitution>,
    /// Which [`Executor`] built it (`embedded`, `buildkit`).
    pub executor: &'static str,
    /// What the executor warned about, `[platform] message`.
    pub warnings: Vec<String>,
    /// Each platform's build: its inputs with their digests, config and steps (the
    /// provenance is made from these).
    pub builds: Vec<PlatformBuild>,
    /// The canonical digest of each platform's recipe (after substitutions).
    pub recipe_digests: BTreeMap<Platform, Digest>,
    /// The Dockerfile it was built from, for a family kept as files.
    pub recipe_file: Option<plinth_catalog::RecipeFile>,
    /// The sanity-check report of each platform, once checked.
    pub check_reports: Vec<plinth_catalog::checks::CheckReport>,
    /// The image with the standard annotations, once annotated (then [`BuiltVersion::root`]
    /// and [`BuiltVersion::platform_digests`] are its digests).
    pub annotated: Option<plinth_attest::AnnotatedImage>,
    /// The source repository URL the annotations name.
    pub source: Option<String>,
    /// The source revision the annotations name.
    pub revision: Option<String>,
    /// The `--label`s set on its configs (none for a release; a rebuild gets the recorded
    /// ones).
    pub labels: BTreeMap<String, String>,
}

/// The store ref that keeps a built version alive (gc roots).
pub fn build_ref(repository: &str, version: &Version) -> String {
    format!("releases/{repository}/{version}")
}

/// Builds `version` of `family` for every platform of the family with `executor` (the embedded
/// engine or BuildKit), its Dockerfile stages (a family kept as files) read on the base configs
/// `bases` resolves, through [`PlatformRecipes::build`](crate::PlatformRecipes::build): one
/// concurrent build when the recipe is the same for every platform (the usual case), else one
/// per platform with the index assembled.
pub fn build_version(
    executor: &dyn Executor,
    bases: &dyn BaseResolver,
    family: &dyn Family,
    version: &Version,
    reporter: Arc<dyn BuildReporter>,
) -> Result<BuiltVersion> {
    build_version_with(
        executor,
        bases,
        family,
        version,
        reporter,
        &ImageSubstitutions::new(),
        &BTreeMap::new(),
    )
}

/// [`build_version`] with the recipe's images replaced per `substitutions` (stand-in roots for
/// offline builds; see [`plinth_recipe::substitute`]) and `labels` set on every config (as
/// `plinth build --label` sets them: the final image only). What was replaced is in
/// [`BuiltVersion::substitutions`].
pub fn build_version_with(
    executor: &dyn Executor,
    bases: &dyn BaseResolver,
    family: &dyn Family,
    version: &Version,
    reporter: Arc<dyn BuildReporter>,
    substitutions: &ImageSubstitutions,
    labels: &BTreeMap<String, String>,
) -> Result<BuiltVersion> {
    let repository = family.repository().to_owned();
    let build_err = |source: plinth_executor::Error| Error::Build {
        repository: repository.clone(),
        version: version.clone(),
        source: Box::new(source),
    };
    let mut recipes = crate::PlatformRecipes::new();
    for platform in family.platforms() {
        let recipe = family.build_recipe(version, &platform, bases, substitutions)?;
        recipes.push_substituted(platform, recipe, substitutions);
    }
    let mut options = BuildOptions::new(recipes.platforms())
        .with_recipe_id(format!("{repository}:{version}"))
        .with_tag(build_ref(&repository, version))
        .with_reporter(reporter);
    options.labels = labels.clone();
    let result = recipes.build(executor, &options).map_err(build_err)?;
    let mut platform_digests = BTreeMap::new();
    let mut url_inputs = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut builds = Vec::new();
    for p in &result.platforms {
        platform_digests.insert(p.platform.clone(), p.manifest.digest.clone());
        url_inputs.extend(p.url_inputs.clone());
        warnings.extend(p.warnings.iter().map(|w| format!("[{}] {w}", p.platform)));
        builds.push(p.clone());
    }
    let recipe_digests = recipes
        .recipes()
        .iter()
        .map(|(p, r)| {
            let (_, digest) = plinth_oci::canonical::to_canonical_with_digest(r)
                .map_err(|e| build_err(e.into()))?;
            Ok((p.clone(), digest))
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    let root = result.root;
    let root_image = family.root_image(version).map(|s| s.address().to_owned());
    tracing::info!(repository, %version, executor = executor.name(), digest = %root.digest, "built");
    Ok(BuiltVersion {
        repository,
        version: version.clone(),
        root,
        platform_digests,
        url_inputs,
        root_image,
        substitutions: recipes.substitutions().to_vec(),
        executor: executor.name(),
        warnings,
        builds,
        recipe_digests,
        recipe_file: family.recipe_file(version),
        check_reports: Vec::new(),
        annotated: None,
        source: None,
        revision: None,
        labels: labels.clone(),
    })
}
