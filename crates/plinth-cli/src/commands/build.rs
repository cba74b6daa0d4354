//! `plinth build`: build a catalog version or a Dockerfile with the embedded engine or BuildKit.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use plinth_catalog::Catalog;
use plinth_executor::{BuildOptions, BuildSecrets};
use plinth_oci::{ImageLocation, Platform, Reference};
use plinth_registry::{DeliverOptions, Delivered, deliver_image};

use crate::ExitStatus;
use crate::build_progress::BuildProgress;
use crate::checks_arg::CheckArgs;
use crate::cli::GlobalArgs;
use crate::engine_arg::EngineArgs;
use crate::printer::Printer;
use crate::progress::TransferProgress;
use crate::recipe_arg::{
    RecipeArgs, image_substitutions, refuse_stand_in_push, warn_substitutions,
};
use crate::settings::{engine, open_store, runtime};

/// Arguments of `plinth build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// What to build.
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Platforms, comma-separated (default: the family's, or the host's for a Dockerfile).
    #[arg(long, value_delimiter = ',', value_name = "OS/ARCH")]
    pub platform: Vec<Platform>,
    /// Name the result in the local store (for `plinth run`), and the push target with `--push`.
    #[arg(long, short = 't', value_name = "REF")]
    pub tag: Option<String>,
    /// Push the result to `--tag` (one multi-platform index).
    #[arg(long, requires = "tag")]
    pub push: bool,
    /// Also write the result to `oci:DIR[:NAME]` or `docker-archive:FILE[:REF]` (one platform;
    /// tagged REF, else `--tag`).
    #[arg(long, short = 'o', value_name = "LOCATION")]
    pub output: Option<ImageLocation>,
    /// Replace an existing docker-archive file given to `--output`.
    #[arg(long)]
    pub force: bool,
    /// A secret for `RUN --mount=type=secret` steps, docker's syntax: `id=ID,src=FILE` or
    /// `id=ID,env=VAR`; repeatable. Never written to the image, the cache keys or the output.
    #[arg(long = "secret", value_name = "id=ID,src=FILE|env=VAR")]
    pub secrets: Vec<String>,
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
}

/// Runs `plinth build`.
pub fn run(
    args: BuildArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let recipe = args
        .recipe
        .resolve(catalog)?
        .with_image_substitutions(image_substitutions(global)?);
    let platforms = if args.platform.is_empty() {
        recipe.default_platforms()
    } else {
        args.platform.clone()
    };
    if let Some(ImageLocation::Registry(_)) = &args.output {
        return Err(crate::exit_status::usage_error(
            "`--output` writes files; to publish, use `--tag REF --push`",
        ));
    }
    if let Some(output @ ImageLocation::DockerArchive { .. }) = &args.output
        && platforms.len() > 1
    {
        // BuildKit's docker exporter refuses a multi-platform result the same way.
        return Err(crate::exit_status::usage_error(format!(
            "`--output {output}`: a docker-archive holds one platform and this build makes {} ({}); \
             build one with `--platform`, or write every platform with `--output oci:DIR[:NAME]`",
            platforms.len(),
            list(&platforms)
        )));
    }
    let mut secrets = BuildSecrets::new();
    for spec in &args.secrets {
        secrets
            .add_flag(spec)
            .map_err(crate::exit_status::usage_error)?;
    }
    let mut allow_host_network = false;
    for entitlement in &args.allow {
        match entitlement.as_str() {
            "network.host" => allow_host_network = true,
            other => {
                return Err(crate::exit_status::usage_error(format!(
                    "`--allow {other}` is not something plinth can allow; the one entitlement is `network.host`"
                )));
            }
        }
    }
    let tag = args.tag.as_deref().map(push_target).transpose()?;
    let store = open_store()?;
    let engine = engine(global, store)?;
    // Recipes are functions of the platform; they must agree apart from platform-specific steps,
    // so each platform builds its own container.
    let mut substituted = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let containers: Vec<_> = platforms
        .iter()
        .map(|p| {
            let built = recipe.build_recipe(p, &engine)?;
            for a in built.substituted {
                if !substituted.contains(&a) {
                    substituted.push(a);
                }
            }
            for w in built.warnings {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            Ok((p.clone(), built.container))
        })
        .collect::<anyhow::Result<_>>()?;
    for warning in &warnings {
        printer.warn(warning);
    }
    if args.push
        && let Some(target) = &tag
    {
        refuse_stand_in_push(&recipe.id, &substituted, target)?;
    }
    warn_substitutions(printer, &recipe.id, &substituted);
    let progress = Arc::new(BuildProgress::new(printer, args.explain));
    let options = BuildOptions::new(platforms.clone())
        .with_no_cache(args.no_cache)
        .with_secrets(secrets)
        .with_host_network_allowed(allow_host_network)
        .with_recipe_id(recipe.id.clone())
        .with_reporter(progress.clone());
    let options = match &args.tag {
        Some(tag) => options.with_tag(tag.clone()),
        None => options,
    };
    let first = &containers[0].1;
    if containers.iter().any(|(_, c)| c != first) {
        return Err(crate::exit_status::usage_error(format!(
            "{} declares a different recipe per platform; build one platform at a time with `--platform`",
            recipe.id
        )));
    }
    let built = args
        .engine
        .executor(&engine, crate::settings::url_mirrors(global)?)?
        .build(first, &options)?;
    for warning in built.platforms.iter().flat_map(|p| &p.warnings) {
        printer.warn(warning);
    }
    let (root, steps_run) = (built.root.clone(), built.steps_run());
    drop(progress);
    let steps = if steps_run == 1 { "step" } else { "steps" };
    printer.status(format!(
        "built {} for {} ({steps_run} {steps} ran)",
        recipe.id,
        list(&platforms)
    ));
    if args.check || !args.checks.cst_files.is_empty() {
        let checks = args.checks.checks(&recipe)?;
        if !args
            .checks
            .run(&engine, &recipe.id, &root, &platforms, &checks, printer)?
        {
            printer.status(format!(
                "sanity checks failed for {}: nothing was pushed or written",
                recipe.id
            ));
            return Ok(ExitStatus::Failure);
        }
        printer.status(format!("sanity checks passed on {}", list(&platforms)));
    }
    let client = engine.registry().clone();
    if args.push
        && let Some(target) = &tag
    {
        let reporter = Arc::new(TransferProgress::new(printer));
        let location = ImageLocation::Registry(target.clone());
        if let Delivered::Pushed(report) = runtime()?.block_on(deliver_image(
            &client,
            &root,
            &location,
            &DeliverOptions::new(),
            reporter,
        ))? {
            printer.status(format!(
                "pushed {target}: {} blobs uploaded, {} mounted, {} already present",
                report.blobs_uploaded, report.blobs_mounted, report.blobs_skipped
            ));
        }
    }
    if let Some(output) = &args.output {
        let reporter = Arc::new(TransferProgress::new(printer));
        let options = DeliverOptions::new()
            .with_platform(platforms.first().cloned())
            .replacing_files(args.force)
            .with_archive_names(
                tag.iter()
                    .map(archive_name)
                    .collect::<anyhow::Result<_>>()?,
            );
        runtime()?
            .block_on(deliver_image(&client, &root, output, &options, reporter))
            .with_context(|| format!("failed to write {output}"))?;
        printer.status(format!("wrote {output}"));
        if let ImageLocation::OciLayout { .. } = output {
            printer.status(format!(
                "run it with `plinth run {output} -- COMMAND`, or load it into docker with \
                 `skopeo copy {output} docker-daemon:NAME:TAG`"
            ));
        }
    }
    printer.result(root.digest.to_string());
    Ok(ExitStatus::Success)
}

/// `--tag`: a registry reference, written bare or as `docker://REF`.
fn push_target(tag: &str) -> anyhow::Result<Reference> {
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

/// The name `--tag` gives an image in a docker-archive: `docker load` needs a tag, and a name
/// alone means `:latest`, as `docker build -t NAME` has it.
fn archive_name(tag: &Reference) -> anyhow::Result<Reference> {
    match tag.tag() {
        Some(_) => Ok(tag.clone()),
        None => Ok(tag.with_tag("latest")?),
    }
}

fn list(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
