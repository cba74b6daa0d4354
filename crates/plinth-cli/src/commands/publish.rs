//! `plinth publish REPOSITORY VERSION`: build that version's recipe, check every platform, push.

use clap::Args;
use plinth_catalog::{Catalog, Version};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::engine_arg::EngineArgs;
use crate::printer::Printer;
use crate::prompt;
use crate::release_context::{ListingArgs, open_releaser, refusal_or_error, with_executor};

/// Publish a specific version of a base image to our remote registry.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The base image repository name
    pub repository: String,
    /// The version to publish
    #[arg(id = "release_version", value_name = "VERSION")]
    pub version: String,
    /// Overwrite the tag even when it points at another digest (published tags are immutable otherwise).
    #[arg(long)]
    pub force: bool,
    /// Tag listing options.
    #[command(flatten)]
    pub listing: ListingArgs,
    /// Engine options.
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `plinth publish`.
pub fn run(
    args: PublishArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    // Checked before credentials, as the original did.
    if catalog.find(&args.repository).is_none() {
        printer.refusal(format!("Unknown base image name: {}", args.repository));
        return Ok(ExitStatus::Failure);
    }
    let version: Version = args.version.parse().map_err(anyhow::Error::new)?;
    let releaser = open_releaser(global, catalog, &args.listing, printer, true)?;
    let releaser = with_executor(global, releaser, &args.engine)?;
    let interactive = prompt::interactive();
    // Answering "no" is a choice, not a failure: the original exited 0 there.
    let declined = std::cell::Cell::new(false);
    let confirm = |existing: &plinth_oci::Digest| {
        if !interactive {
            return false;
        }
        printer.refusal(format!(
            "The published tag points at {existing}, not at this build."
        ));
        let yes = prompt::confirm(
            "This version has already been published to our remote registry. Would you like to overwrite it?",
            false,
        )
        .unwrap_or(false);
        if !yes {
            printer.refusal("Not overwriting the already existing image.");
            declined.set(true);
        }
        yes
    };
    match releaser.publish(&args.repository, &version, args.force, &confirm) {
        Ok(outcome) => {
            printer.result(outcome.address());
            Ok(ExitStatus::Success)
        }
        Err(plinth_release::Error::PublishedDiffers { .. }) if declined.get() => {
            Ok(ExitStatus::Success)
        }
        Err(e) => refusal_or_error(e, printer),
    }
}
