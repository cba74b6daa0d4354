//! Where a command's recipe comes from: a catalog version (`REPO:VERSION`) or a Dockerfile.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use plinth_catalog::Catalog;
use plinth_catalog::version::Version;
use plinth_oci::{Platform, Reference};
use plinth_recipe::{
    AppliedSubstitution, BaseConfig, Container, DockerfileRead, ImageSource, ImageSubstitutions,
    ReaderOptions, base_images, read_dockerfile,
};

use crate::cli::GlobalArgs;
use crate::printer::Printer;

/// The recipe arguments `build` and `dockerfile` share.
#[derive(Debug, Args)]
pub struct RecipeArgs {
    /// A catalog version, `REPOSITORY:VERSION` (e.g. `airbyte/python-connector-base:3.0.0`), or a
    /// repository alone for its newest version with a known recipe (for a family kept as files:
    /// its working files, what the next release would build).
    #[arg(value_name = "REPOSITORY:VERSION", conflicts_with = "file")]
    pub catalog_version: Option<String>,
    /// Read the recipe from a Dockerfile (the common subset) instead.
    #[arg(short = 'f', long = "file", value_name = "DOCKERFILE")]
    pub file: Option<PathBuf>,
    /// The build context of a Dockerfile (default: the Dockerfile's directory).
    #[arg(long, value_name = "DIR", requires = "file")]
    pub context: Option<PathBuf>,
    /// A Dockerfile `ARG` value, `NAME=VALUE`; repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE", requires = "file")]
    pub build_args: Vec<String>,
}

/// A resolved recipe: a function of the platform, plus a stable id for cache explanations.
pub struct Recipe<'a> {
    /// `repo:version` or the Dockerfile path.
    pub id: String,
    source: Source,
    /// Recipes are resolved against a catalog and used while it lives.
    catalog: PhantomData<&'a Catalog>,
    substitutions: ImageSubstitutions,
}

enum Source {
    /// A Dockerfile, read once per platform (the automatic platform args differ).
    Dockerfile {
        path: PathBuf,
        text: String,
        options: Box<ReaderOptions>,
    },
    Catalog {
        family: Arc<dyn plinth_catalog::Family>,
        version: Version,
    },
}

impl RecipeArgs {
    /// Resolves the arguments against `catalog`.
    pub fn resolve<'a>(&self, catalog: &'a Catalog) -> anyhow::Result<Recipe<'a>> {
        if let Some(file) = &self.file {
            return dockerfile_recipe(file, self.context.as_deref(), &self.build_args);
        }
        let Some(spec) = &self.catalog_version else {
            return Err(crate::exit_status::usage_error(
                "say what to build: `REPOSITORY:VERSION` from the catalog, or `-f Dockerfile`",
            ));
        };
        let (family, version) = match spec.rsplit_once(':') {
            Some((repository, version)) if !version.contains('/') => {
                let family = family_of(catalog, repository)?;
                let version: Version = version.parse()?;
                family.declaration(&version)?;
                (family, version)
            }
            _ => {
                let family = family_of(catalog, spec)?;
                // A file family alone means its working files: what the next release builds.
                if let Some(working) = family.working_version()? {
                    working
                } else {
                    let version = newest_buildable(family.as_ref()).with_context(|| {
                        format!("{spec} declares no version with a known recipe")
                    })?;
                    (family, version)
                }
            }
        };
        Ok(Recipe {
            id: format!("{}:{version}", family.repository()),
            source: Source::Catalog { family, version },
            substitutions: ImageSubstitutions::new(),
            catalog: PhantomData,
        })
    }
}

/// The family of `repository`, shared.
fn family_of(
    catalog: &Catalog,
    repository: &str,
) -> anyhow::Result<Arc<dyn plinth_catalog::Family>> {
    let wanted = catalog.get(repository)?.repository();
    Ok(catalog
        .families()
        .iter()
        .find(|f| f.repository() == wanted)
        .map(Arc::clone)
        .expect("the catalog found the family by this repository"))
}

/// The newest declared version whose recipe can be built.
fn newest_buildable(family: &dyn plinth_catalog::Family) -> Option<Version> {
    let host = Platform::linux_amd64();
    family
        .versions()
        .iter()
        .rev()
        .map(|d| d.version().clone())
        .find(|v| family.recipe(v, &host).is_ok())
}

impl Recipe<'_> {
    /// The catalog family and version, when the recipe comes from the catalog.
    pub fn catalog_version(&self) -> Option<(&dyn plinth_catalog::Family, &Version)> {
        match &self.source {
            Source::Catalog { family, version } => Some((family.as_ref(), version)),
            Source::Dockerfile { .. } => None,
        }
    }

    /// Builds from stand-in images (`--substitute-image`) instead of the recipe's own.
    pub fn with_image_substitutions(mut self, substitutions: ImageSubstitutions) -> Self {
        self.substitutions = substitutions;
        self
    }

    /// The container for `platform`, with the image substitutions applied.
    pub fn container(&self, platform: &Platform) -> anyhow::Result<Container> {
        Ok(self.container_with_substitutions(platform)?.0)
    }

    /// The container for `platform` and the images the substitutions replaced in it. A
    /// Dockerfile is read without its base images' configs here (see [`Self::build_recipe`]).
    pub fn container_with_substitutions(
        &self,
        platform: &Platform,
    ) -> anyhow::Result<(Container, Vec<AppliedSubstitution>)> {
        let container = match &self.source {
            Source::Dockerfile {
                path,
                text,
                options,
            } => {
                read_dockerfile_for(
                    path,
                    text,
                    (**options).clone().with_platform(platform.clone()),
                )?
                .container
            }
            Source::Catalog { family, version } => family.recipe(version, platform)?,
        };
        Ok(container
            .with_substituted_images(&self.substitutions)
            .into_parts())
    }

    /// What `build` builds for `platform`: the container, the images substituted in it and the
    /// reader's warnings. A Dockerfile's stages are read with their base images' configs, which
    /// `engine` resolves (after the substitutions), as BuildKit reads them.
    pub fn build_recipe(
        &self,
        platform: &Platform,
        engine: &plinth_engine::Engine,
    ) -> anyhow::Result<BuildRecipe> {
        let Source::Dockerfile {
            path,
            text,
            options,
        } = &self.source
        else {
            let (container, substituted) = self.container_with_substitutions(platform)?;
            return Ok(BuildRecipe {
                container,
                substituted,
                warnings: Vec::new(),
            });
        };
        let mut options = (**options).clone().with_platform(platform.clone());
        for image in base_images(text, &options) {
            // A name that does not parse is left to the reader, which reports it with its line.
            let Ok(source) = ImageSource::parse(&image) else {
                continue;
            };
            let source = self
                .substitutions
                .replacement_for(&source)
                .cloned()
                .unwrap_or(source);
            let config = engine.resolve_config(&source, platform).with_context(|| {
                format!(
                    "failed to resolve `{image}`, a base image of `{}`",
                    path.display()
                )
            })?;
            options = options.with_base_config(image, BaseConfig::of_image(&config));
        }
        let read = read_dockerfile_for(path, text, options)?;
        let (container, substituted) = read
            .container
            .with_substituted_images(&self.substitutions)
            .into_parts();
        Ok(BuildRecipe {
            container,
            substituted,
            warnings: read.warnings,
        })
    }

    /// The platforms to build when none are asked for: the family's, or the host's.
    pub fn default_platforms(&self) -> Vec<Platform> {
        match &self.source {
            Source::Dockerfile { .. } => vec![Platform::host()],
            Source::Catalog { family, .. } => family.platforms(),
        }
    }

    /// The original's "Dockerfile example" text.
    pub fn dockerfile_example(&self) -> anyhow::Result<String> {
        match &self.source {
            Source::Dockerfile {
                path,
                text,
                options,
            } => Ok(read_dockerfile_for(
                path,
                text,
                (**options).clone().with_platform(Platform::host()),
            )?
            .container
            .dockerfile_example()),
            Source::Catalog { family, version } => Ok(family.dockerfile_example(version)?),
        }
    }
}

fn dockerfile_recipe<'a>(
    file: &Path,
    context: Option<&Path>,
    build_args: &[String],
) -> anyhow::Result<Recipe<'a>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("failed to read `{}`", file.display()))?;
    let context = context
        .map(Path::to_path_buf)
        .unwrap_or_else(|| file.parent().map(Path::to_path_buf).unwrap_or_default());
    let context = if context.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        context
    };
    let mut options = ReaderOptions::new(&context).with_dockerfile(file);
    for arg in build_args {
        match arg.split_once('=') {
            Some((name, value)) => options = options.with_build_arg(name, value),
            // `--build-arg NAME` takes the value from the environment, as docker does; unset,
            // it is not given at all.
            None => {
                if let Some(value) = std::env::var_os(arg) {
                    let value = value.into_string().map_err(|_| {
                        crate::exit_status::usage_error(format!(
                            "`--build-arg {arg}`: the environment's value is not UTF-8"
                        ))
                    })?;
                    options = options.with_build_arg(arg, value);
                }
            }
        }
    }
    Ok(Recipe {
        id: file.display().to_string(),
        source: Source::Dockerfile {
            path: file.to_path_buf(),
            text,
            options: Box::new(options),
        },
        substitutions: ImageSubstitutions::new(),
        catalog: PhantomData,
    })
}

/// One platform's build of a [`Recipe`] (see [`Recipe::build_recipe`]).
pub struct BuildRecipe {
    /// The container to build.
    pub container: Container,
    /// The images substituted in it.
    pub substituted: Vec<AppliedSubstitution>,
    /// Warnings of the Dockerfile reader.
    pub warnings: Vec<String>,
}

fn read_dockerfile_for(
    path: &Path,
    text: &str,
    options: ReaderOptions,
) -> anyhow::Result<DockerfileRead> {
    read_dockerfile(text, &options).with_context(|| {
        format!(
            "failed to read `{}`{}",
            path.display(),
            options
                .platform
                .as_ref()
                .map(|p| format!(" for {p}"))
                .unwrap_or_default()
        )
    })
}

/// The `--substitute-image` rules.
pub fn image_substitutions(global: &GlobalArgs) -> anyhow::Result<ImageSubstitutions> {
    ImageSubstitutions::parse_all(&global.substitute_images)
        .map_err(|e| {
            crate::exit_status::usage_error(format!(
                "invalid `--substitute-image`: {e}; write FROM=TO, e.g. `python=127.0.0.1:5000/standin/python:3.11`"
            ))
        })
}

/// Warns, at build start, about every image replaced by a stand-in.
pub fn warn_substitutions(printer: Printer, id: &str, applied: &[AppliedSubstitution]) {
    if applied.is_empty() {
        return;
    }
    printer.warn(format!(
        "building {id} from stand-in images: the result is not the real image and is only publishable to a loopback registry"
    ));
    for a in applied {
        printer.warn(format!("substituted image: {a}"));
    }
}

/// Refuses to push a stand-in build anywhere but a loopback registry.
pub fn refuse_stand_in_push(
    id: &str,
    applied: &[AppliedSubstitution],
    reference: &Reference,
) -> anyhow::Result<()> {
    if !applied.is_empty() && !reference.is_loopback() {
        bail!(
            "refusing to push {id} to `{reference}`: this build replaces images with stand-ins ({}), so it is not the real image; \
             push stand-in builds only to a loopback registry (127.0.0.1, localhost), or drop `--substitute-image` to build the real one",
            applied
                .iter()
                .map(|a| format!("{} => {}", a.original, a.replacement))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
