//! `plinth inspect LOCATION`: an image's manifest or index and its config.

use std::sync::Arc;

use clap::Args;
use plinth_oci::{
    Descriptor, Digest, ImageConfig, ImageLocation, ImageManifest, ManifestDocument, Platform,
};
use plinth_registry::{Client, NoTransferReporter, fetch_image};
use serde_json::{Value, json};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::settings::{open_store, registry_client, runtime};

/// Arguments of `plinth inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image: `docker://REF` (or a bare reference), `oci:DIR[:NAME]` or `docker-archive:FILE[:REF]`.
    pub image: ImageLocation,
    /// For an index, show this platform's manifest and config (default: the index and its platforms).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Print JSON: the raw manifest or index, and the config when one platform is shown.
    #[arg(long)]
    pub json: bool,
}

/// What was found, ready to print.
struct Inspected {
    digest: Digest,
    document: ManifestDocument,
    raw: Vec<u8>,
    config: Option<ImageConfig>,
}

/// Runs `plinth inspect`.
pub fn run(args: InspectArgs, global: &GlobalArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let store = open_store()?;
    let client = registry_client(global, store)?;
    let inspected = runtime()?.block_on(inspect(&client, &args.image, args.platform.as_ref()))?;
    if args.json {
        let manifest: Value = serde_json::from_slice(&inspected.raw)?;
        printer.result(serde_json::to_string_pretty(&json!({
            "name": args.image.to_string(),
            "digest": inspected.digest.to_string(),
            "mediaType": inspected.document.media_type().to_string(),
            "manifest": manifest,
            "config": inspected.config,
        }))?);
        return Ok(ExitStatus::Success);
    }
    print_human(&printer, &args.image, &inspected);
    Ok(ExitStatus::Success)
}

async fn inspect(
    client: &Client,
    image: &ImageLocation,
    platform: Option<&Platform>,
) -> anyhow::Result<Inspected> {
    let store = client.store();
    // Registries answer the manifest (and config) alone; local formats are read through the store.
    let (mut digest, mut raw) = match image {
        ImageLocation::Registry(reference) => {
            let fetched = client.get_manifest(reference).await?;
            (fetched.digest, fetched.bytes.to_vec())
        }
        other => {
            let root = fetch_image(client, other, &[], Arc::new(NoTransferReporter)).await?;
            (root.digest.clone(), store.read_blob(&root.digest)?)
        }
    };
    let mut document = ManifestDocument::parse(&raw, None)?;
    if let (ManifestDocument::Index(index), Some(wanted)) = (&document, platform) {
        let Some(child) = index.find_platform(wanted).cloned() else {
            let offered: Vec<String> = index.platforms().iter().map(ToString::to_string).collect();
            anyhow::bail!(
                "{image} has no image for {wanted}; it offers {}",
                offered.join(", ")
            );
        };
        raw = child_bytes(client, image, &child).await?;
        digest = child.digest;
        document = ManifestDocument::parse(&raw, Some(&child.media_type))?;
    }
    let config = match &document {
        ManifestDocument::Image(manifest) => Some(read_config(client, image, manifest).await?),
        ManifestDocument::Index(_) => None,
    };
    Ok(Inspected {
        digest,
        document,
        raw,
        config,
    })
}

async fn child_bytes(
    client: &Client,
    image: &ImageLocation,
    child: &Descriptor,
) -> anyhow::Result<Vec<u8>> {
    match image {
        ImageLocation::Registry(reference) => Ok(client
            .get_manifest(&reference.with_digest(child.digest.clone()))
            .await?
            .bytes
            .to_vec()),
        _ => Ok(client.store().read_blob(&child.digest)?),
    }
}

async fn read_config(
    client: &Client,
    image: &ImageLocation,
    manifest: &ImageManifest,
) -> anyhow::Result<ImageConfig> {
    let digest = &manifest.config.digest;
    if let ImageLocation::Registry(reference) = image
        && !client.store().has_blob(digest)
    {
        client
            .get_blob(reference, &manifest.config, &NoTransferReporter)
            .await?;
    }
    Ok(ImageConfig::parse(&client.store().read_blob(digest)?)?)
}

fn print_human(printer: &Printer, image: &ImageLocation, inspected: &Inspected) {
    printer.result(format!("Name:       {image}"));
    printer.result(format!("Digest:     {}", inspected.digest));
    printer.result(format!("MediaType:  {}", inspected.document.media_type()));
    match &inspected.document {
        ManifestDocument::Index(index) => {
            printer.result("Platforms:");
            for m in &index.manifests {
                let platform = m
                    .platform
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "-".into());
                printer.result(format!("  {platform:<16} {} ({} bytes)", m.digest, m.size));
            }
        }
        ManifestDocument::Image(manifest) => {
            let total: u64 = manifest.layers.iter().map(|l| l.size).sum();
            printer.result(format!(
                "Layers:     {} ({total} bytes)",
                manifest.layers.len()
            ));
            for layer in &manifest.layers {
                printer.result(format!(
                    "  {} {:>12} {}",
                    layer.digest, layer.size, layer.media_type
                ));
            }
        }
    }
    let Some(config) = &inspected.config else {
        return;
    };
    printer.result(format!("Platform:   {}", config.platform()));
    if let Some(created) = &config.created {
        printer.result(format!("Created:    {created}"));
    }
    let Some(runtime) = &config.config else {
        return;
    };
    let list = |v: &Option<Vec<String>>| {
        v.as_ref()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "-".into())
    };
    printer.result(format!(
        "User:       {}",
        runtime
            .user
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or("-")
    ));
    printer.result(format!(
        "WorkingDir: {}",
        runtime
            .working_dir
            .as_deref()
            .filter(|w| !w.is_empty())
            .unwrap_or("-")
    ));
    printer.result(format!("Entrypoint: {}", list(&runtime.entrypoint)));
    printer.result(format!("Cmd:        {}", list(&runtime.cmd)));
    printer.result("Env:");
    for kv in runtime.env.iter().flatten() {
        printer.result(format!("  {kv}"));
    }
    if let Some(labels) = runtime.labels.as_ref().filter(|l| !l.is_empty()) {
        printer.result("Labels:");
        for (k, v) in labels {
            printer.result(format!("  {k}={v}"));
        }
    }
}
