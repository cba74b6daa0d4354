//! `plinth copy SRC DST`: copy an image between registries, OCI layouts and docker-archive files.

use std::sync::Arc;

use clap::Args;
use plinth_oci::{ImageLocation, Platform};
use plinth_registry::{DeliverOptions, Delivered, copy_image};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::progress::TransferProgress;
use crate::settings::{open_store, registry_client, runtime};

/// Arguments of `plinth copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source, as skopeo writes it: `docker://REF` (or a bare reference), `oci:DIR[:NAME]`,
    /// `docker-archive:FILE[:REF]` or `docker-archive:FILE:@N`.
    pub source: ImageLocation,
    /// Destination, in the same forms: `docker-archive:FILE:REF` writes FILE with the image
    /// tagged REF.
    pub destination: ImageLocation,
    /// Copy only this platform's image (a single manifest) instead of the whole index. A
    /// docker-archive destination holds one platform: the host's unless this says otherwise.
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Replace an existing docker-archive file (never a FIFO, device, directory or symlink).
    #[arg(long)]
    pub force: bool,
}

/// Runs `plinth copy`.
pub fn run(args: CopyArgs, global: &GlobalArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let client = registry_client(global, open_store()?)?;
    let options = DeliverOptions::new()
        .with_platform(args.platform.clone())
        .replacing_files(args.force);
    let progress = Arc::new(TransferProgress::new(printer));
    let delivered = runtime()?.block_on(copy_image(
        &client,
        &args.source,
        &args.destination,
        &options,
        progress,
    ))?;
    match delivered {
        Delivered::Pushed(report) => {
            let digest = report
                .digest
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            printer.status(format!(
                "copied {} to {}: {} blobs uploaded ({} bytes), {} mounted, {} already present, {} manifests written",
                args.source,
                args.destination,
                report.blobs_uploaded,
                report.bytes_uploaded,
                report.blobs_mounted,
                report.blobs_skipped,
                report.manifests_pushed
            ));
            printer.result(digest);
        }
        Delivered::Written(root) => {
            printer.status(format!("copied {} to {}", args.source, args.destination));
            printer.result(root.digest.to_string());
        }
    }
    Ok(ExitStatus::Success)
}
