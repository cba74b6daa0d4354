//! `plinth dockerfile`: a recipe's Dockerfile view.

use clap::{Args, ValueEnum};
use plinth_catalog::Catalog;
use plinth_oci::Platform;
use plinth_recipe::BuildableOptions;

use crate::ExitStatus;
use crate::printer::Printer;
use crate::recipe_arg::RecipeArgs;

/// Which view to print.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum DockerfileFormat {
    /// The original tool's documentation format: FROM, RUN, ENV, LABEL only, argv joined by spaces.
    #[default]
    Example,
    /// A Dockerfile `docker build` turns into the same filesystem (exec-form RUN, USER, WORKDIR, …).
    Buildable,
}

/// Arguments of `plinth dockerfile`.
#[derive(Debug, Args)]
pub struct DockerfileArgs {
    /// The recipe.
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// The view.
    #[arg(long, value_enum, default_value_t)]
    pub format: DockerfileFormat,
    /// The platform whose recipe to render (the example format always uses linux/amd64, as the original did).
    #[arg(long, default_value = "linux/amd64")]
    pub platform: Platform,
    /// For the buildable view: numeric ids of a user named in cache mounts, `NAME=UID:GID`; repeatable.
    #[arg(long = "owner-ids", value_name = "NAME=UID:GID")]
    pub owner_ids: Vec<String>,
}

/// Runs `plinth dockerfile`.
pub fn run(
    args: DockerfileArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let recipe = args.recipe.resolve(catalog)?;
    match args.format {
        DockerfileFormat::Example => printer.result(recipe.dockerfile_example()?),
        DockerfileFormat::Buildable => {
            let mut options = BuildableOptions::new();
            for spec in &args.owner_ids {
                let parsed = spec.split_once('=').and_then(|(name, ids)| {
                    let (uid, gid) = ids.split_once(':')?;
                    Some((name, uid.parse().ok()?, gid.parse().ok()?))
                });
                let Some((name, uid, gid)) = parsed else {
                    return Err(crate::exit_status::usage_error(format!(
                        "`--owner-ids {spec}`: write it as NAME=UID:GID, e.g. airbyte=1000:1000"
                    )));
                };
                options = options.with_owner_ids(name, uid, gid);
            }
            let dockerfile = recipe
                .container(&args.platform)?
                .buildable_dockerfile(&options)?;
            printer.result(dockerfile.text.trim_end_matches('\n'));
            for entry in &dockerfile.context.entries {
                printer.status(format!("note: the build context needs `{}`", entry.path));
            }
        }
    }
    Ok(ExitStatus::Success)
}
