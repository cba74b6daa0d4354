//! `plinth upgrade-consumers PATHS…`: pin the files that use the catalog's images (Dockerfiles'
//! `FROM` lines, and the formats the catalog adds, such as Airbyte connectors' `metadata.yaml`)
//! to the latest stable published image of each family, changing only those addresses' text.

use std::path::PathBuf;

use clap::Args;
use plinth_catalog::Catalog;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::release_context::{ListingArgs, open_releaser};

/// Arguments of `plinth upgrade-consumers`.
#[derive(Debug, Args)]
pub struct UpgradeConsumersArgs {
    /// Consumer files (Dockerfiles, or a format of the catalog such as `metadata.yaml`), or
    /// directories holding one.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print the diffs without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Tag listing options.
    #[command(flatten)]
    pub listing: ListingArgs,
}

/// Runs `plinth upgrade-consumers`.
pub fn run(
    args: UpgradeConsumersArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let releaser = open_releaser(global, catalog, &args.listing, printer, false)?;
    let mut failed = false;
    for path in &args.paths {
        match releaser.upgrade_consumer(path, args.dry_run) {
            Ok(update) if update.diff.is_empty() => {
                printer.status(format!(
                    "{}: already pins {}",
                    update.path.display(),
                    update.addresses()
                ));
            }
            Ok(update) => {
                printer.result(update.diff.trim_end());
                if !args.dry_run {
                    printer.status(format!(
                        "{}: now pins {}",
                        update.path.display(),
                        update.addresses()
                    ));
                }
            }
            Err(e) => {
                failed = true;
                printer.warn(format!("{e}"));
            }
        }
    }
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
