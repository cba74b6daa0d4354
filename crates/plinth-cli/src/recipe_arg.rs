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
    AppliedSubstitution, Container, DockerfileRead, ImageSubstitutions, ReaderOptions,
    read_dockerfile, read_dockerfile_resolved,
};

use plinth_release::PlatformRecipes;

use crate::cli::GlobalArgs;
use crate::context_arg::{self, Positional};
use crate::exit_status::usage_error;
use crate::printer::Printer;

/// The recipe arguments `build`, `check`, `dockerfile` and `outdated` share.
#[derive(Debug, Args)]
pub struct RecipeArgs {
    /// What to build, as `docker build` takes it: a build context directory (`.`), `-` (stdin:
    /// a Dockerfile with an empty context, or a tar context), or a catalog version
    /// `REPOSITORY[:VERSION]` (a repository alone: its newest version with a known recipe; for a
    /// family kept as files, its working files, what the next release would build).
    /// The rule: `-` is stdin; with `-f` the argument is always the context; otherwise an
    /// existing directory, or anything starting with `.`, `/` or `~`, is a context, and anything
    /// else is a catalog version. A context without `-f` is built from its `Dockerfile`.
    #[arg(value_name = "PATH|-|REPOSITORY[:VERSION]")]
    pub target: Option<String>,
    /// The Dockerfile (relative to the current directory, as docker reads it; `-` for stdin).
    /// Without a context argument the context is the Dockerfile's directory.
    #[arg(short = 'f', long = "file", value_name = "DOCKERFILE|-")]
    pub file: Option<PathBuf>,
    /// The build context (the positional PATH says the same; kept for older command lines).
    #[arg(long, value_name = "DIR", requires = "file", hide = true)]
    pub context: Option<PathBuf>,
    /// A Dockerfile `ARG` value, `NAME=VALUE` (or `NAME`: its value from the environment);
    /// repeatable.
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    pub build_args: Vec<String>,
    /// Build this stage of the Dockerfile (`FROM … AS STAGE`) instead of the last; stages it
    /// does not need are not built.
    #[arg(long = "target", value_name = "STAGE")]
    pub stage: Option<String>,
}

/// A resolved recipe: a function of the platform, plus a stable id for cache explanations.
pub struct Recipe<'a> {
    /// `repo:version` or the Dockerfile path.
    pub id: String,
    source: Source<'a>,
    substitutions: ImageSubstitutions,
}

enum Source<'a> {
    /// A Dockerfile, read once per platform (the automatic platform args differ).
    Dockerfile {
        path: PathBuf,
        text: String,
        options: Box<ReaderOptions>,
        /// The context read from stdin, removed when the recipe is dropped.
        _temp_context: Option<std::sync::Arc<tempfile::TempDir>>,
    },
    Catalog {
        family: Arc<dyn plinth_catalog::Family>,
        version: Version,
        /// Resolved against a catalog, used while it lives.
        _catalog: PhantomData<&'a Catalog>,
    },
}

impl Recipe<'_> {
    /// The recipe as a provenance statement's `externalParameters`: the family and version
    /// with the digest of `built` (the container built for the platform) and, for a family kept
    /// as files, its Dockerfile; or the Dockerfile's path and digest with the `--build-arg`
    /// names. A build arg's value may be a secret and an attestation is public, so only its
    /// digest is recorded.
    pub fn provenance_parameters(
        &self,
        built: &Container,
        build_args: &[String],
    ) -> anyhow::Result<plinth_attest::RecipeParameters> {
        Ok(match &self.source {
            Source::Catalog {
                family, version, ..
            } => {
                let (_, digest) = plinth_oci::canonical::to_canonical_with_digest(built)?;
                plinth_attest::RecipeParameters::Family {
                    repository: family.repository().to_owned(),
                    version: version.to_string(),
                    recipe_digest: digest.to_string(),
                    dockerfile: family.recipe_file(version).map(|f| {
                        plinth_attest::RecordedDockerfile {
                            path: f.path,
                            digest: f.digest.to_string(),
                        }
                    }),
                }
            }
            Source::Dockerfile {
                path,
                text,
                options,
                ..
            } => plinth_attest::RecipeParameters::Dockerfile {
                path: path.display().to_string(),
                digest: plinth_oci::Digest::of(text.as_bytes()).to_string(),
                build_args: build_args
                    .iter()
                    .map(|arg| build_arg_value(arg))
                    .filter_map(Result::transpose)
                    .map(|arg| {
                        arg.map(|(name, value)| {
                            let digest = plinth_oci::Digest::of(value.as_bytes());
                            (name, digest.to_string())
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
                target: options.target.clone(),
            },
        })
    }
}

impl RecipeArgs {
    /// Resolves the arguments against `catalog` (reading stdin when the context or the
    /// Dockerfile is `-`).
    pub fn resolve<'a>(&self, catalog: &'a Catalog) -> anyhow::Result<Recipe<'a>> {
        let positional = self
            .target
            .as_deref()
            .map(|arg| context_arg::classify(arg, self.file.is_some()))
            .transpose()?;
        let from_stdin = self.file.as_deref() == Some(Path::new("-"));
        let context = match (&positional, &self.context) {
            (Some(_), Some(_)) => {
                return Err(usage_error(
                    "give the build context once: as the PATH argument (`--context` is its older spelling)",
                ));
            }
            (Some(Positional::Context(dir)), None) | (None, Some(dir)) => Some(dir.clone()),
            _ => None,
        };
        match (positional, &self.file) {
            (Some(Positional::Catalog(spec)), None) => {
                if !self.build_args.is_empty() {
                    return Err(usage_error(
                        "`--build-arg` sets a Dockerfile's ARGs; a catalog version has none",
                    ));
                }
                catalog_recipe(catalog, &spec)
            }
            (Some(Positional::Catalog(_)), Some(_)) => unreachable!("with -f it is a context"),
            (Some(Positional::Stdin), Some(_)) if from_stdin => Err(usage_error(
                "the Dockerfile and the context cannot both come from stdin; give the context as PATH",
            )),
            (Some(Positional::Stdin), file) => self.stdin_context_recipe(file.as_deref()),
            (_, Some(_)) if from_stdin => {
                let Some(context) = context else {
                    return Err(usage_error(
                        "`-f -` reads the Dockerfile from stdin; give the build context as PATH (`plinth build -f - .`)",
                    ));
                };
                let context_arg::StdinInput::Dockerfile(text) = context_arg::read_stdin(true)?
                else {
                    unreachable!("read_stdin(true) reads a Dockerfile")
                };
                self.dockerfile_recipe(DockerfileText::Stdin(text), &context, None)
            }
            (_, Some(file)) => {
                let context = context.unwrap_or_else(|| parent_dir(file));
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("failed to read `{}`", file.display()))?;
                self.dockerfile_recipe(DockerfileText::File(file.clone(), text), &context, None)
            }
            (Some(Positional::Context(dir)), None) => {
                let file = dir.join("Dockerfile");
                let text = std::fs::read_to_string(&file).with_context(|| {
                    format!(
                        "failed to read `{}`, the context's Dockerfile; name another with `-f FILE`",
                        file.display()
                    )
                })?;
                self.dockerfile_recipe(DockerfileText::File(file, text), &dir, None)
            }
            (None, None) => Err(usage_error(
                "say what to build: a context directory (`.`, with its Dockerfile), `-f Dockerfile`, or `REPOSITORY:VERSION` from the catalog",
            )),
        }
    }

    /// `plinth build -` (stdin holds a Dockerfile or a tar context) with `-f FILE` naming the
    /// Dockerfile inside a tar context.
    fn stdin_context_recipe<'a>(&self, file: Option<&Path>) -> anyhow::Result<Recipe<'a>> {
        match context_arg::read_stdin(false)? {
            context_arg::StdinInput::Dockerfile(text) => {
                if file.is_some() {
                    return Err(usage_error(
                        "stdin holds a Dockerfile, not a tar context, so `-f` has nothing to name; drop `-f`",
                    ));
                }
                // docker builds a Dockerfile from stdin with an empty context.
                let empty = tempfile::Builder::new()
                    .prefix("plinth-context-")
                    .tempdir()
                    .context("failed to create an empty build context")?;
                let dir = empty.path().to_path_buf();
                self.dockerfile_recipe(DockerfileText::Stdin(text), &dir, Some(empty))
            }
            context_arg::StdinInput::Context(dir) => {
                let path = dir.path().to_path_buf();
                let file = path.join(file.unwrap_or(Path::new("Dockerfile")));
                let text = std::fs::read_to_string(&file).with_context(|| {
                    format!(
                        "the tar context read from stdin has no `{}`; name its Dockerfile with `-f PATH-IN-CONTEXT`",
                        file.strip_prefix(&path).unwrap_or(&file).display()
                    )
                })?;
                self.dockerfile_recipe(DockerfileText::File(file, text), &path, Some(dir))
            }
        }
    }

    fn dockerfile_recipe<'a>(
        &self,
        dockerfile: DockerfileText,
        context: &Path,
        temp_context: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Recipe<'a>> {
        let mut options = ReaderOptions::new(context);
        let (path, text) = match dockerfile {
            DockerfileText::File(path, text) => {
                options = options.with_dockerfile(&path);
                (path, text)
            }
            DockerfileText::Stdin(text) => (context.join("Dockerfile (stdin)"), text),
        };
        for arg in &self.build_args {
            options = with_build_arg(options, arg)?;
        }
        if let Some(stage) = &self.stage {
            options = options.with_target(stage);
        }
        Ok(Recipe {
            id: path.display().to_string(),
            source: Source::Dockerfile {
                path,
                text,
                options: Box::new(options),
                _temp_context: temp_context.map(std::sync::Arc::new),
            },
            substitutions: ImageSubstitutions::new(),
        })
    }
}

/// Where a Dockerfile's text came from.
enum DockerfileText {
    File(PathBuf, String),
    Stdin(String),
}

fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Adds one `--build-arg` (see [`build_arg_value`]).
fn with_build_arg(options: ReaderOptions, arg: &str) -> anyhow::Result<ReaderOptions> {
    Ok(match build_arg_value(arg)? {
        Some((name, value)) => options.with_build_arg(name, value),
        None => options,
    })
}

/// One `--build-arg`'s name and value: `NAME=VALUE`, or `NAME` taking the environment's value
/// as docker does (`None` when the environment lacks it: it is not given at all).
fn build_arg_value(arg: &str) -> anyhow::Result<Option<(String, String)>> {
    Ok(match arg.split_once('=') {
        Some((name, value)) => Some((name.to_owned(), value.to_owned())),
        None => match std::env::var_os(arg) {
            Some(value) => {
                let value = value.into_string().map_err(|_| {
                    usage_error(format!(
                        "`--build-arg {arg}`: the environment's value is not UTF-8"
                    ))
                })?;
                Some((arg.to_owned(), value))
            }
            None => None,
        },
    })
}

fn catalog_recipe<'a>(catalog: &'a Catalog, spec: &str) -> anyhow::Result<Recipe<'a>> {
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
                let version = newest_buildable(family.as_ref())
                    .with_context(|| format!("{spec} declares no version with a known recipe"))?;
                (family, version)
            }
        }
    };
    Ok(Recipe {
        id: format!("{}:{version}", family.repository()),
        source: Source::Catalog {
            family,
            version,
            _catalog: PhantomData,
        },
        substitutions: ImageSubstitutions::new(),
    })
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
            Source::Catalog {
                family, version, ..
            } => Some((family.as_ref(), version)),
            Source::Dockerfile { .. } => None,
        }
    }

    /// The build context of a Dockerfile recipe.
    pub fn context_dir(&self) -> Option<&Path> {
        match &self.source {
            Source::Dockerfile { options, .. } => Some(&options.context_dir),
            Source::Catalog { .. } => None,
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
                ..
            } => {
                read_dockerfile_for(
                    path,
                    text,
                    (**options).clone().with_platform(platform.clone()),
                )?
                .container
            }
            Source::Catalog {
                family, version, ..
            } => family.recipe(version, platform)?,
        };
        Ok(container
            .with_substituted_images(&self.substitutions)
            .into_parts())
    }

    /// What `build` builds for `platform`: the container, the images substituted in it and the
    /// reader's warnings. A Dockerfile's stages (a file family's too) are read with their base
    /// images' configs, which `engine` resolves (after the substitutions), as BuildKit reads them.
    pub fn build_recipe(
        &self,
        platform: &Platform,
        engine: &plinth_engine::Engine,
    ) -> anyhow::Result<BuildRecipe> {
        let (container, warnings) = match &self.source {
            Source::Dockerfile {
                path,
                text,
                options,
                ..
            } => {
                let options = (**options).clone().with_platform(platform.clone());
                let read = read_dockerfile_resolved(text, &options, engine, &self.substitutions)
                    .with_context(|| read_context(path, &options))?;
                (read.container, read.warnings)
            }
            Source::Catalog {
                family, version, ..
            } => (
                family.build_recipe(version, platform, engine, &self.substitutions)?,
                Vec::new(),
            ),
        };
        let (container, substituted) = container
            .with_substituted_images(&self.substitutions)
            .into_parts();
        Ok(BuildRecipe {
            container,
            substituted,
            warnings,
        })
    }

    /// What `build` builds: each platform's recipe (see [`Self::build_recipe`]) with its
    /// stand-ins recorded, and the reader's warnings, each once.
    pub fn platform_recipes(
        &self,
        platforms: &[Platform],
        engine: &plinth_engine::Engine,
    ) -> anyhow::Result<(PlatformRecipes, Vec<String>)> {
        let mut recipes = PlatformRecipes::new();
        let mut warnings: Vec<String> = Vec::new();
        for platform in platforms {
            let built = self.build_recipe(platform, engine)?;
            for warning in built.warnings {
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
            recipes.push(platform.clone(), built.container, built.substituted);
        }
        Ok((recipes, warnings))
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
                ..
            } => Ok(read_dockerfile_for(
                path,
                text,
                (**options).clone().with_platform(Platform::host()),
            )?
            .container
            .dockerfile_example()),
            Source::Catalog {
                family, version, ..
            } => Ok(family.dockerfile_example(version)?),
        }
    }
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
    read_dockerfile(text, &options).with_context(|| read_context(path, &options))
}

/// What a failed read says first: the Dockerfile and the platform read for.
fn read_context(path: &Path, options: &ReaderOptions) -> String {
    format!(
        "failed to read `{}`{}",
        path.display(),
        options
            .platform
            .as_ref()
            .map(|p| format!(" for {p}"))
            .unwrap_or_default()
    )
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
