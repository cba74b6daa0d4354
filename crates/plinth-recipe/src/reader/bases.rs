//! Reading a Dockerfile as a build reads it: every stage evaluated on its base image's config
//! (env, shell, `ONBUILD` triggers), as BuildKit does. `plinth build -f` and the families kept
//! as Dockerfiles both come through [`read_dockerfile_resolved`], so a Dockerfile means the
//! same wherever plinth builds it.

use plinth_oci::Platform;

use super::{DockerfileRead, ReaderOptions, base_images_by_platform, read_dockerfile};
use crate::error::{Error, Result};
use crate::source::ImageSource;
use crate::substitute::ImageSubstitutions;

/// What the reader needs of a base image's config, as BuildKit uses it while reading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BaseConfig {
    /// `Env`, in order.
    pub env: Vec<(String, String)>,
    /// `Shell`, when set.
    pub shell: Option<Vec<String>>,
    /// `OnBuild` triggers.
    pub on_build: Vec<String>,
    /// `WorkingDir`, when set (a relative `WORKDIR` is recorded joined to it).
    pub workdir: Option<String>,
}

impl BaseConfig {
    /// The parts of an image config the reader uses.
    pub fn of_image(config: &plinth_oci::ImageConfig) -> Self {
        let strings = |name: &str| -> Option<Vec<String>> {
            let value = config.config.as_ref()?.extra.get(name)?;
            serde_json::from_value::<Vec<String>>(value.clone()).ok()
        };
        Self {
            env: config.env(),
            shell: strings("Shell").filter(|s| !s.is_empty()),
            on_build: strings("OnBuild").unwrap_or_default(),
            workdir: config
                .config
                .as_ref()
                .and_then(|c| c.working_dir.clone())
                .filter(|w| !w.is_empty()),
        }
    }
}

/// The error a [`BaseResolver`] reports.
pub type BaseError = Box<dyn std::error::Error + Send + Sync>;

/// Finds the config of a base image for a platform. The embedded engine is one: it resolves
/// the root as a build does (pulled, imported or bootstrapped into its store), so the build
/// that follows finds it there.
pub trait BaseResolver: Send + Sync {
    /// The config of `source` for `platform`.
    fn base_config(
        &self,
        source: &ImageSource,
        platform: &Platform,
    ) -> std::result::Result<BaseConfig, BaseError>;
}

/// Reads `text` with each stage's base image config from `bases`, resolved after
/// `substitutions` (a stage on a stand-in is evaluated on the stand-in's config, as it is
/// built on it). The options must name the platform.
pub fn read_dockerfile_resolved(
    text: &str,
    options: &ReaderOptions,
    bases: &dyn BaseResolver,
    substitutions: &ImageSubstitutions,
) -> Result<DockerfileRead> {
    let platform = options.platform.clone().unwrap_or_else(Platform::host);
    let mut options = options.clone().with_platform(platform.clone());
    // A base image's ONBUILD triggers may copy from a stage that nothing else needs, whose
    // base is then wanted too: resolve until no new base appears.
    let mut resolved: Vec<(Option<Platform>, String)> = Vec::new();
    loop {
        let wanted: Vec<_> = base_images_by_platform(text, &options)
            .into_iter()
            .filter(|base| !resolved.contains(base))
            .collect();
        if wanted.is_empty() {
            break;
        }
        resolved.extend(wanted.iter().cloned());
        options = resolve_bases(options, wanted, &platform, bases, substitutions)?;
    }
    read_dockerfile(text, &options)
}

/// Adds the configs of `wanted` (the build's platform for `None`) to `options`.
fn resolve_bases(
    mut options: ReaderOptions,
    wanted: Vec<(Option<Platform>, String)>,
    platform: &Platform,
    bases: &dyn BaseResolver,
    substitutions: &ImageSubstitutions,
) -> Result<ReaderOptions> {
    for (stage_platform, image) in wanted {
        // A name that does not parse is left to the reader, which reports it with its line.
        let Ok(source) = ImageSource::parse(&image) else {
            continue;
        };
        let source = substitutions
            .replacement_for(&source)
            .cloned()
            .unwrap_or(source);
        let on = stage_platform.as_ref().unwrap_or(platform);
        let config = bases
            .base_config(&source, on)
            .map_err(|source| Error::BaseImage {
                image: image.clone(),
                platform: on.to_string(),
                source,
            })?;
        options = match stage_platform {
            None => options.with_base_config(image, config),
            Some(p) => options.with_platform_base_config(p, image, config),
        };
    }
    Ok(options)
}
