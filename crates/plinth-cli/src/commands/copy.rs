//! `plinth copy SRC DST`: copy an image between registries, OCI layouts and docker-archive files.

use std::sync::Arc;

use clap::Args;
use plinth_oci::Platform;
use plinth_oci::image::resolve_manifest;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::location::Location;
use crate::printer::Printer;
use crate::progress::TransferProgress;
use crate::settings::{open_store, registry_client, runtime};
use crate::transfer::{Delivered, deliver, fetch};

/// Arguments of `plinth copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source: `docker://REF` (or a bare reference), `oci:DIR[:TAG]` or `docker-archive:FILE`.
    pub source: Location,
    /// Destination, in the same forms.
    pub destination: Location,
    /// Copy only this platform's image (a single manifest) instead of the whole index. A
    /// docker-archive destination holds one platform: the host's unless this says otherwise.
    #[arg(long)]
    pub platform: Option<Platform>,
}

/// Runs `plinth copy`.
pub fn run(args: CopyArgs, global: &GlobalArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let store = open_store()?;
    let client = registry_client(global, store.clone())?;
    let progress = Arc::new(TransferProgress::new(printer));
    let platforms: Vec<Platform> = args.platform.iter().cloned().collect();
    let delivered = runtime()?.block_on(async {
        // Holding the shared lock keeps a concurrent `plinth gc` away from blobs between fetch and delivery.
        let _lock = store.lock_shared()?;
        // The destination registry's auth probe runs while the source is read.
        if let Location::Registry(reference) = &args.destination {
            client.warm_up(reference.registry());
        }
        let mut root = fetch(&client, &args.source, &platforms, progress.clone()).await?;
        if let Some(platform) = &args.platform {
            root = resolve_manifest(&store, &root, Some(platform))?.0;
        }
        deliver(
            &client,
            &root,
            &args.destination,
            args.platform.as_ref(),
            progress,
        )
        .await
    })?;
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
