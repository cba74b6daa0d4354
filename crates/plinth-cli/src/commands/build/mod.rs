//! `plinth build`: build a catalog version or a Dockerfile with the embedded engine or BuildKit.

mod annotate;
mod metadata;
mod outputs;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use plinth_catalog::Catalog;
use plinth_executor::{BuildOptions, BuildSecrets, BuildSsh};
use plinth_oci::{ImageLocation, Platform, Reference};

use crate::ExitStatus;
use crate::build_progress::BuildProgress;
use crate::checks_arg::CheckArgs;
use crate::cli::GlobalArgs;
use crate::docker_flags::DockerOnlyFlags;
use crate::engine_arg::EngineArgs;
use crate::output_arg::BuildOutput;
use crate::printer::Printer;
use crate::recipe_arg::{
    RecipeArgs, image_substitutions, refuse_stand_in_push, warn_substitutions,
};
use crate::settings::{engine_with_client, open_store, registry_client};

/// Arguments of `plinth build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// What to build.
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Platforms, comma-separated (default: the family's, or the host's for a Dockerfile).
    #[arg(long, value_delimiter = ',', value_name = "OS/ARCH")]
    pub platform: Vec<Platform>,
    /// Name the result (repeatable): a store name for `plinth run`, the push targets of
    /// `--push`, the names in a docker-archive or `--load`ed image (a name alone means `:latest`).
    #[arg(long, short = 't', value_name = "REF")]
    pub tag: Vec<String>,
    /// Push the result to every `--tag` (one multi-platform index); `--output type=registry`.
    #[arg(long, requires = "tag")]
    pub push: bool,
    /// Also write the result (repeatable): `type=oci,dest=FILE` (an OCI layout tarball;
    /// `tar=false` for a directory), `type=docker,dest=FILE` (a docker-archive; without `dest`:
    /// into the local docker daemon), `type=registry[,name=REF]` (push; default the tags),
    /// `type=image[,push=true]`, `type=local,dest=DIR` (the merged file tree; one directory per
    /// platform when several are built), `type=tar,dest=FILE` (that tree as a tarball), `name=REF`
    /// to name the image; or skopeo's `oci:DIR[:NAME]` / `docker-archive:FILE[:REF]`; a bare
    /// PATH is `type=local,dest=PATH`, as with buildx.
    #[arg(long, short = 'o', value_name = "OUTPUT")]
    pub output: Vec<BuildOutput>,
    /// Load the result into the local docker daemon (`docker load`), named by `--tag`; one
    /// platform. Same as `--output type=docker`.
    #[arg(long)]
    pub load: bool,
    /// Set a label in the image config, `KEY=VALUE`; repeatable. As with BuildKit: the final
    /// image only, no history entry, no step rebuilt; the config, so the digest, changes.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Write the image ID to FILE as docker does: the config digest (`sha256:…`, what
    /// `docker images --no-trunc` shows after `--load`) for one platform, the index digest
    /// for several.
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Write the build's result as JSON to FILE, with buildx's keys
    /// (`containerimage.digest`, `containerimage.config.digest`, `containerimage.descriptor`,
    /// `image.name`) and each platform's digests under `plinth.platforms`.
    #[arg(long, value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// Look up every tagged root image in its registry and fail when it cannot be reached,
    /// instead of using the image an earlier build resolved for the tag.
    #[arg(long)]
    pub pull: bool,
    /// Replace an existing file given to `--output`.
    #[arg(long)]
    pub force: bool,
    /// A secret for `RUN --mount=type=secret` steps, docker's syntax: `id=ID,src=FILE` or
    /// `id=ID,env=VAR`; repeatable. Never written to the image, the cache keys or the output.
    #[arg(long = "secret", value_name = "id=ID,src=FILE|env=VAR")]
    pub secrets: Vec<String>,
    /// An SSH agent for `RUN --mount=type=ssh` steps, docker buildx's syntax: `default` (the
    /// agent of `$SSH_AUTH_SOCK`), `ID=SOCKET` or `ID=KEY[,KEY…]`; repeatable. Steps reach the
    /// agent through a socket, never the keys.
    #[arg(long = "ssh", value_name = "default|ID[=SOCKET|KEY[,KEY…]]")]
    pub ssh: Vec<String>,
    /// Allow what steps may ask for: `network.host` (`RUN --network=host`).
    #[arg(long = "allow", value_name = "ENTITLEMENT", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Run every step, ignoring the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Print, per step, whether it came from the cache and what changed.
    #[arg(long)]
    pub explain: bool,
    /// Run the version's sanity checks (and `--cst` files) on every platform before anything is
    /// pushed or written; a failure stops the command with exit code 1.
    #[arg(long)]
    pub check: bool,
    /// Check options.
    #[command(flatten)]
    pub checks: CheckArgs,
    /// Engine options.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// docker's flags that plinth refuses with a reason.
    #[command(flatten)]
    pub docker_only: DockerOnlyFlags,
}

/// Runs `plinth build`.
pub fn run(
    mut args: BuildArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    args.docker_only.refuse_any()?;
    let tags: Vec<Reference> = args
        .tag
        .iter()
        .map(|t| push_target(t))
        .collect::<anyhow::Result<_>>()?;
    let outputs = outputs::requested(&args.output, args.push, args.load, &tags)?;
    let recipe = args
        .recipe
        .resolve(catalog)?
        .with_image_substitutions(image_substitutions(global)?);
    let platforms = if args.platform.is_empty() {
        recipe.default_platforms()
    } else {
        args.platform.clone()
    };
    outputs::refuse_multi_platform(&outputs, &platforms)?;
    let options = build_options(&args, &platforms, &recipe.id)?;
    let store = open_store()?;
    let engine = engine_with_client(global, registry_client(global, store)?, args.pull)?;
    args.engine.always_pull = args.pull;
    let (recipes, warnings) = recipe.platform_recipes(&platforms, &engine)?;
    for warning in &warnings {
        printer.warn(warning);
    }
    for target in outputs::push_targets(&outputs, &tags) {
        refuse_stand_in_push(&recipe.id, recipes.substitutions(), &target)?;
    }
    warn_substitutions(printer, &recipe.id, recipes.substitutions());
    let progress = Arc::new(BuildProgress::new(printer, args.explain));
    let options = options.with_reporter(progress.clone());
    let executor = args
        .engine
        .executor(&engine, crate::settings::url_mirrors(global)?)?;
    let mut built = recipes.build(executor.as_ref(), &options)?;
    for warning in built.platforms.iter().flat_map(|p| &p.warnings) {
        printer.warn(warning);
    }
    let pushes = !outputs::push_targets(&outputs, &tags).is_empty();
    // A pushed image carries the standard annotations `publish` writes; everything this run
    // delivers (and the store's names for it) is then that one annotated image.
    let annotations = if pushes {
        let annotations = annotate::annotations_of(&recipe, recipes.recipes(), global)?;
        annotate::annotate(engine.store(), &mut built, &annotations)?;
        Some(annotations)
    } else {
        None
    };
    for tag in args.tag.iter().skip(usize::from(annotations.is_none())) {
        engine.store().set_ref(tag, &built.root)?;
    }
    let root = built.root.clone();
    // The progress view is closed before the status line is printed under it.
    drop(progress);
    print_built(printer, &recipe.id, &platforms, built.steps_run());
    let Some(check_reports) = passes_checks(&args, &engine, &recipe, &root, &platforms, printer)?
    else {
        return Ok(ExitStatus::Failure);
    };
    let attachments = match &annotations {
        None => Vec::new(),
        Some(annotations) => attachments_of(
            engine.store(),
            (&recipe, &recipes),
            &args,
            &built,
            annotations,
            executor.name(),
            &check_reports,
        )?,
    };
    let delivery = outputs::Delivery {
        client: engine.registry(),
        root: &root,
        platforms: &platforms,
        tags: &tags,
        force: args.force,
        printer,
        attachments,
    };
    for output in &outputs {
        delivery.deliver(output)?;
    }
    write_result(printer, &args, &built)?;
    Ok(ExitStatus::Success)
}

/// The executor's options from the command line, read before anything is resolved so a bad
/// flag fails at once: platforms, cache, secrets, SSH agents, host networking, the store name
/// and labels.
fn build_options(
    args: &BuildArgs,
    platforms: &[Platform],
    recipe_id: &str,
) -> anyhow::Result<BuildOptions> {
    let mut options = BuildOptions::new(platforms.to_vec())
        .with_no_cache(args.no_cache)
        .with_secrets(build_secrets(&args.secrets)?)
        .with_ssh(build_ssh(&args.ssh)?)
        .with_host_network_allowed(host_network_allowed(&args.allow)?)
        .with_recipe_id(recipe_id.to_owned());
    options.tag = args.tag.first().cloned();
    options.labels = parse_labels(&args.labels)?;
    Ok(options)
}

/// Writes `--iidfile` and `--metadata-file`, then prints the result: the image ID under `-q`
/// (as `docker build -q` does), otherwise the digest a push or `plinth run` names.
fn write_result(
    printer: Printer,
    args: &BuildArgs,
    built: &plinth_executor::BuildResult,
) -> anyhow::Result<()> {
    // buildx's `image.name`: the tags, then the names outputs give.
    let mut names = args.tag.clone();
    for name in args.output.iter().filter_map(BuildOutput::image_name) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let image = metadata::BuiltImage::of(built, &names);
    metadata::write_files(
        args.iidfile.as_deref(),
        args.metadata_file.as_deref(),
        &image,
    )?;
    if printer.verbosity() == crate::printer::Verbosity::Quiet {
        printer.result(image.image_id().to_string());
    } else {
        printer.result(built.root.digest.to_string());
    }
    Ok(())
}

/// `--secret id=…,src=…|env=…` flags, each read as BuildKit reads it.
fn build_secrets(specs: &[String]) -> anyhow::Result<BuildSecrets> {
    let mut secrets = BuildSecrets::new();
    for spec in specs {
        secrets
            .add_flag(spec)
            .map_err(crate::exit_status::usage_error)?;
    }
    Ok(secrets)
}

/// `--ssh` flags, each read as docker buildx reads it.
fn build_ssh(specs: &[String]) -> anyhow::Result<BuildSsh> {
    let mut ssh = BuildSsh::new();
    for spec in specs {
        ssh.add_flag(spec)
            .map_err(crate::exit_status::usage_error)?;
    }
    Ok(ssh)
}

/// Whether `--allow` grants `network.host`, the one entitlement plinth knows.
fn host_network_allowed(entitlements: &[String]) -> anyhow::Result<bool> {
    let mut allowed = false;
    for entitlement in entitlements {
        match entitlement.as_str() {
            "network.host" => allowed = true,
            other => {
                return Err(crate::exit_status::usage_error(format!(
                    "`--allow {other}` is not something plinth can allow; the one entitlement is `network.host`"
                )));
            }
        }
    }
    Ok(allowed)
}

fn print_built(printer: Printer, recipe_id: &str, platforms: &[Platform], steps_run: usize) {
    let steps = if steps_run == 1 { "step" } else { "steps" };
    printer.status(format!(
        "built {recipe_id} for {} ({steps_run} {steps} ran)",
        list(platforms)
    ));
}

/// `--check` and `--cst`: the checks on every platform before anything is pushed or written.
/// Their reports when all passed (none when no checks ran), `None` when one failed.
fn passes_checks(
    args: &BuildArgs,
    engine: &plinth_engine::Engine,
    recipe: &crate::recipe_arg::Recipe<'_>,
    root: &plinth_oci::Descriptor,
    platforms: &[Platform],
    printer: Printer,
) -> anyhow::Result<Option<Vec<plinth_catalog::checks::CheckReport>>> {
    if !args.check && args.checks.cst_files.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let checks = args.checks.checks(recipe)?;
    let reports = args
        .checks
        .run(engine, &recipe.id, root, platforms, &checks, printer)?;
    if !reports
        .iter()
        .all(plinth_catalog::checks::CheckReport::passed)
    {
        printer.status(format!(
            "sanity checks failed for {}: nothing was pushed or written",
            recipe.id
        ));
        return Ok(None);
    }
    printer.status(format!("sanity checks passed on {}", list(platforms)));
    Ok(Some(reports))
}

/// What `--push` attaches to each platform of `built` (annotated with `annotations`): its
/// provenance, its check report where checks ran, its SBOMs; the same list a release attaches.
fn attachments_of(
    store: &plinth_oci::Store,
    (recipe, recipes): (
        &crate::recipe_arg::Recipe<'_>,
        &plinth_release::PlatformRecipes,
    ),
    args: &BuildArgs,
    built: &plinth_executor::BuildResult,
    annotations: &plinth_attest::ImageAnnotations,
    engine: &str,
    check_reports: &[plinth_catalog::checks::CheckReport],
) -> anyhow::Result<Vec<plinth_attest::Attachment>> {
    let image = plinth_attest::AnnotatedImage {
        root: built.root.clone(),
        manifests: built
            .platforms
            .iter()
            .map(|p| (p.platform.clone(), p.manifest.clone()))
            .collect(),
    };
    let parameters = plinth_attest::BuildParameters::new(
        built.platforms.iter().map(|p| &p.platform),
        parse_labels(&args.labels)?,
        annotations,
    )
    .with_source_date_epoch(Some(crate::settings::build_epoch()?))
    .with_substitutions(recipes.substitutions().iter().map(|s| {
        (
            s.original.address().to_owned(),
            s.replacement.address().to_owned(),
        )
    }));
    // The attachments name the image by the reference it is pushed as (the SBOM's purl is
    // `pkg:oci/<last path segment>`), as `plinth sbom --generate REF` names it.
    let image_name = match args.tag.first() {
        Some(tag) => push_target(tag)?.to_string(),
        None => recipe.id.clone(),
    };
    let mut attachments = Vec::new();
    for build in &built.platforms {
        let container = recipes
            .recipes()
            .iter()
            .find(|(p, _)| *p == build.platform)
            .map(|(_, c)| c)
            .context("a platform was built without its recipe")?;
        let recipe_parameters = recipe.provenance_parameters(container, &args.recipe.build_args)?;
        let context = plinth_attest::ProvenanceContext {
            recipe: &recipe_parameters,
            engine,
            image_name: &image_name,
            build: &parameters,
        };
        attachments.extend(plinth_attest::attestations(
            store,
            &context,
            std::slice::from_ref(build),
            &image,
            check_reports,
        )?);
    }
    Ok(attachments)
}

/// `--label KEY=VALUE`s (a later one for the same key wins, as with docker).
fn parse_labels(labels: &[String]) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    labels
        .iter()
        .map(|label| match label.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(crate::exit_status::usage_error(format!(
                "`--label {label}`: write KEY=VALUE, e.g. `--label org.opencontainers.image.source=https://…`"
            ))),
        })
        .collect()
}

/// `--tag`: a registry reference, written bare or as `docker://REF`.
pub(crate) fn push_target(tag: &str) -> anyhow::Result<Reference> {
    match tag.parse::<ImageLocation>() {
        Ok(ImageLocation::Registry(reference)) => Ok(reference),
        Ok(_) => Err(crate::exit_status::usage_error(format!(
            "`--tag {tag}` is not a registry reference; write files with `--output`"
        ))),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("`--tag {tag}` is not a registry reference")))
        }
    }
}

pub(crate) fn list(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
