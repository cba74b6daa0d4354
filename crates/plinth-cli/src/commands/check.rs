//! `plinth check`: run sanity checks in an image on every platform: a catalog version's own
//! checks and container-structure-test files, or only the files against any image
//! (`plinth check --image REF --cst FILE`).

use std::sync::Arc;

use clap::Args;
use plinth_catalog::Catalog;
use plinth_oci::{ImageLocation, Platform};
use plinth_registry::{NoTransferReporter, fetch_image};

use crate::ExitStatus;
use crate::checks_arg::CheckArgs;
use crate::cli::GlobalArgs;
use crate::exit_status::usage_error;
use crate::printer::Printer;
use crate::recipe_arg::RecipeArgs;
use crate::settings::{engine, open_store, runtime};

/// Arguments of `plinth check`.
#[derive(Debug, Args)]
pub struct CheckCommandArgs {
    /// Whose checks to run: a catalog `REPOSITORY:VERSION` (its declared checks), or `-f Dockerfile`
    /// (only `--cst` files then). Without either, `--image REF --cst FILE` checks any image.
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// The image to check: a name from `plinth build --tag`, a registry reference, `oci:DIR[:TAG]`
    /// or `docker-archive:FILE`. Default: the local build of the catalog version.
    #[arg(long)]
    pub image: Option<String>,
    /// Platforms, comma-separated (default: the family's, or the host's).
    #[arg(long, value_delimiter = ',', value_name = "OS/ARCH")]
    pub platform: Vec<Platform>,
    /// Check options.
    #[command(flatten)]
    pub checks: CheckArgs,
}

/// Runs `plinth check`.
pub fn run(
    args: CheckCommandArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let recipe = if args.recipe.target.is_none() && args.recipe.file.is_none() {
        None
    } else {
        Some(args.recipe.resolve(catalog)?)
    };
    let (subject, checks, default_platforms) = match &recipe {
        Some(recipe) => (
            recipe.id.clone(),
            args.checks.checks(recipe)?,
            recipe.default_platforms(),
        ),
        // An existing image and container-structure-test files, as container-structure-test
        // itself is used.
        None => {
            let Some(image) = &args.image else {
                return Err(usage_error(
                    "say what to check: `REPOSITORY:VERSION` from the catalog, `-f Dockerfile`, \
                     or an existing image with `--image REF --cst FILE`",
                ));
            };
            (
                image.clone(),
                args.checks.cst_checks()?,
                vec![Platform::host()],
            )
        }
    };
    if checks.is_empty() {
        return Err(usage_error(match &recipe {
            Some(recipe) => format!(
                "no checks to run: {} declares none; add container-structure-test files with --cst",
                recipe.id
            ),
            None => "no checks to run: add container-structure-test files with --cst FILE".into(),
        }));
    }
    let platforms = if args.platform.is_empty() {
        default_platforms
    } else {
        args.platform.clone()
    };
    let store = open_store()?;
    let engine = engine(global, store.clone())?;
    let name = match (&args.image, &recipe) {
        (Some(image), _) => image.clone(),
        (None, Some(recipe)) => format!("builds/{}/image", recipe.id),
        // Refused above: without a recipe, an image is required.
        (None, None) => return Err(usage_error("say which image to check with --image REF")),
    };
    let image = match store.get_ref(&name)? {
        Some(image) => image,
        None => match (&args.image, &recipe) {
            (None, Some(recipe)) => anyhow::bail!(
                "{} has not been built here yet: run `plinth build {}` first, or name an image with --image",
                recipe.id,
                recipe.id
            ),
            _ => {
                let location: ImageLocation = name.parse()?;
                let client = engine.registry().clone();
                runtime()?.block_on(fetch_image(
                    &client,
                    &location,
                    &platforms,
                    Arc::new(NoTransferReporter),
                ))?
            }
        },
    };
    let reports = args
        .checks
        .run(&engine, &subject, &image, &platforms, &checks, printer)?;
    Ok(
        if reports
            .iter()
            .all(plinth_catalog::checks::CheckReport::passed)
        {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        },
    )
}
