//! `plinth generate-docs [--check]`: the catalog README and `generated/registry.json`.

use clap::Args;
use plinth_catalog::Catalog;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::release_context::{ListingArgs, open_releaser};

/// Arguments of `plinth generate-docs`.
#[derive(Debug, Args)]
pub struct GenerateDocsArgs {
    /// Write nothing; fail with a diff when README.md or generated/registry.json is stale.
    #[arg(long)]
    pub check: bool,
    /// Tag listing options.
    #[command(flatten)]
    pub listing: ListingArgs,
}

/// Runs `plinth generate-docs`.
pub fn run(
    args: GenerateDocsArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let releaser = open_releaser(global, catalog, &args.listing, printer, false)?;
    if args.check {
        return match releaser.check_docs() {
            Ok(docs) => {
                for (path, _) in &docs.files {
                    printer.status(format!("{} is up to date", path.display()));
                }
                Ok(ExitStatus::Success)
            }
            Err(e @ plinth_release::Error::Stale { .. }) => {
                printer.refusal(e.to_string());
                Ok(ExitStatus::Failure)
            }
            Err(e) => Err(e.into()),
        };
    }
    let docs = releaser.write_docs()?;
    for (path, _) in &docs.files {
        printer.result(path.display().to_string());
    }
    Ok(ExitStatus::Success)
}
