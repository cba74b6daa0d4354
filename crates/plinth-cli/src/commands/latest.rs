//! `plinth latest REPOSITORY [--stable]`: the address consumers should pin.

use clap::Args;
use plinth_catalog::Catalog;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::release_context::{ListingArgs, open_releaser, refusal_or_error};

/// Arguments of `plinth latest`.
#[derive(Debug, Args)]
pub struct LatestArgs {
    /// The repository (a family's, or any repository of the target registry).
    pub repository: String,
    /// The latest published version that is not a pre-release (what connectors pin).
    #[arg(long)]
    pub stable: bool,
    /// Tag listing options.
    #[command(flatten)]
    pub listing: ListingArgs,
}

/// Runs `plinth latest`.
pub fn run(
    args: LatestArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let releaser = open_releaser(global, catalog, &args.listing, printer, false)?;
    match releaser.latest(&args.repository, args.stable) {
        Ok(image) => {
            printer.result(image.address());
            Ok(ExitStatus::Success)
        }
        Err(e @ plinth_release::Error::NothingPublished { .. }) => {
            printer.refusal(e.to_string());
            Ok(ExitStatus::Failure)
        }
        Err(e) => refusal_or_error(e, printer),
    }
}
