//! `plinth check IMAGE`: run sanity checks in an existing image on every platform.

use std::sync::Arc;

use clap::Args;
use plinth_catalog::Catalog;
use plinth_oci::{ImageLocation, Platform};
use plinth_registry::{NoReporter, fetch_image};

use crate::ExitStatus;
use crate::checks_arg::CheckArgs;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::recipe_arg::RecipeArgs;
use crate::settings::{engine, open_store, runtime};

/// Arguments of `plinth check`.
#[derive(Debug, Args)]
pub struct CheckCommandArgs {
    /// Whose checks to run: a catalog `REPOSITORY:VERSION` (its declared checks), or `-f Dockerfile`
    /// (only `--cst` files then).
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
    let recipe = args.recipe.resolve(catalog)?;
    let platforms = if args.platform.is_empty() {
        recipe.default_platforms()
    } else {
        args.platform.clone()
    };
    let store = open_store()?;
    let engine = engine(global, store.clone())?;
    let name = args
        .image
        .clone()
        .unwrap_or_else(|| format!("builds/{}/image", recipe.id));
    let image = match store.get_ref(&name)? {
        Some(image) => image,
        None if args.image.is_none() => {
            anyhow::bail!(
                "{} has not been built here yet: run `plinth build {}` first, or name an image with --image",
                recipe.id,
                recipe.id
            )
        }
        None => {
            let location: ImageLocation = name.parse()?;
            let client = engine.registry().clone();
            runtime()?.block_on(fetch_image(
                &client,
                &location,
                &platforms,
                Arc::new(NoReporter),
            ))?
        }
    };
    let checks = args.checks.checks(&recipe)?;
    if checks.is_empty() {
        anyhow::bail!(
            "no checks to run: {} declares none; add container-structure-test files with --cst",
            recipe.id
        );
    }
    let passed = args
        .checks
        .run(&engine, &recipe.id, &image, &platforms, &checks, printer)?;
    Ok(if passed {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
