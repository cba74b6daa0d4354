//! Building one version of a family: its recipe for every platform, once, into one image.

use std::collections::BTreeMap;
use std::sync::Arc;

use plinth_catalog::{Family, Version};
use plinth_executor::{BuildOptions, BuildReporter, Executor, PlatformBuild};
use plinth_oci::{Descriptor, Digest, ImageIndex, MediaType, Platform};
use plinth_recipe::{AppliedSubstitution, ImageSubstitutions};

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
    /// The sanity-check report of each platform, once checked.
    pub check_reports: Vec<plinth_catalog::checks::CheckReport>,
    /// The image with the standard annotations, once annotated (then [`BuiltVersion::root`]
    /// and [`BuiltVersion::platform_digests`] are its digests).
    pub annotated: Option<plinth_attest::AnnotatedImage>,
    /// The source repository URL the annotations name.
    pub source: Option<String>,
    /// The source revision the annotations name.
    pub revision: Option<String>,
}

/// The store ref that keeps a built version alive (gc roots).
pub fn build_ref(repository: &str, version: &Version) -> String {
    format!("releases/{repository}/{version}")
}

/// Builds `version` of `family` for every platform of the family with `executor` (the embedded
/// engine or BuildKit). When the recipe is the
/// same for every platform (the usual case) the executor builds them concurrently into one index;
/// otherwise each platform is built on its own and the index is assembled here.
pub fn build_version(
    executor: &dyn Executor,
    family: &dyn Family,
    version: &Version,
    reporter: Arc<dyn BuildReporter>,
) -> Result<BuiltVersion> {
    build_version_with(
        executor,
        family,
        version,
        reporter,
        &ImageSubstitutions::new(),
    )
}

/// [`build_version`] with the recipe's images replaced per `substitutions` (stand-in roots for
/// offline builds; see [`plinth_recipe::substitute`]). What was replaced is in
/// [`BuiltVersion::substitutions`].
pub fn build_version_with(
    executor: &dyn Executor,
    family: &dyn Family,
    version: &Version,
    reporter: Arc<dyn BuildReporter>,
    substitutions: &ImageSubstitutions,
) -> Result<BuiltVersion> {
    let repository = family.repository().to_owned();
    let build_err = |source: plinth_executor::Error| Error::Build {
        repository: repository.clone(),
        version: version.clone(),
        source: Box::new(source),
    };
    let platforms = family.platforms();
    let recipes = platforms
        .iter()
        .map(|p| family.recipe(version, p))
        .collect::<plinth_catalog::Result<Vec<_>>>()?;
    let mut applied = Vec::new();
    let recipes: Vec<_> = recipes
        .into_iter()
        .map(|r| {
            let (container, subs) = r.with_substituted_images(substitutions).into_parts();
            for sub in subs {
                if !applied.contains(&sub) {
                    applied.push(sub);
                }
            }
            container
        })
        .collect();
    let recipe_id = format!("{repository}:{version}");
    let tag = build_ref(&repository, version);
    let mut platform_digests = BTreeMap::new();
    let mut url_inputs = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut builds = Vec::new();
    let mut note = |p: &PlatformBuild| {
        platform_digests.insert(p.platform.clone(), p.manifest.digest.clone());
        url_inputs.extend(p.url_inputs.clone());
        warnings.extend(p.warnings.iter().map(|w| format!("[{}] {w}", p.platform)));
        builds.push(p.clone());
    };
    let recipe_digests = platforms
        .iter()
        .zip(&recipes)
        .map(|(p, r)| {
            let (_, digest) = plinth_oci::canonical::to_canonical_with_digest(r)
                .map_err(|e| build_err(e.into()))?;
            Ok((p.clone(), digest))
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    let root = if recipes.windows(2).all(|w| w[0] == w[1]) {
        let options = BuildOptions::new(platforms.clone())
            .with_recipe_id(recipe_id)
            .with_tag(tag)
            .with_reporter(reporter);
        let result = executor.build(&recipes[0], &options).map_err(build_err)?;
        result.platforms.iter().for_each(&mut note);
        result.root
    } else {
        let mut manifests = Vec::new();
        for (platform, recipe) in platforms.iter().zip(&recipes) {
            let options = BuildOptions::new([platform.clone()])
                .with_recipe_id(format!("{recipe_id}/{platform}"))
                .with_reporter(reporter.clone());
            let result = executor.build(recipe, &options).map_err(build_err)?;
            let p = &result.platforms[0];
            note(p);
            manifests.push(p.manifest.clone().with_platform(p.platform.clone()));
        }
        let root = if manifests.len() == 1 {
            manifests.remove(0)
        } else {
            let media_type = match manifests[0].media_type {
                MediaType::DockerManifest => MediaType::DockerManifestList,
                _ => MediaType::OciIndex,
            };
            executor
                .store()
                .write_index(&ImageIndex::new(media_type, manifests))
                .map_err(|e| build_err(e.into()))?
        };
        executor
            .store()
            .set_ref(&tag, &root)
            .map_err(|e| build_err(e.into()))?;
        root
    };
    let root_image = family.root_image(version).map(|s| s.address().to_owned());
    tracing::info!(repository, %version, executor = executor.name(), digest = %root.digest, "built");
    Ok(BuiltVersion {
        repository,
        version: version.clone(),
        root,
        platform_digests,
        url_inputs,
        root_image,
        substitutions: applied,
        executor: executor.name(),
        warnings,
        builds,
        recipe_digests,
        check_reports: Vec::new(),
        annotated: None,
        source: None,
        revision: None,
    })
}
