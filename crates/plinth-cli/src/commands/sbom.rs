//! `plinth sbom IMAGE`: the SBOM of an image, generated from the package databases in its
//! layers (SPDX 2.3 or CycloneDX 1.5 JSON).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use plinth_oci::{Descriptor, ImageLocation, ImageManifest, ManifestDocument, Platform, Store};
use plinth_registry::{NoTransferReporter, fetch_image};
use plinth_sbom::{Format, ImageFiles, Subject};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::settings::{open_store, registry_client, runtime};

/// Arguments of `plinth sbom`.
#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The image: a name built into the local store (`build --tag`), `docker://REF` (or a bare
    /// reference), `oci:DIR[:NAME]` or `docker-archive:FILE[:REF]`.
    pub image: String,
    /// The document format.
    #[arg(long, default_value = "spdx", value_parser = ["spdx", "cyclonedx"])]
    pub format: String,
    /// Which platform of a multi-platform image (default: the only one, else the host's).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Write the document to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `plinth sbom`.
pub fn run(args: SbomArgs, global: &GlobalArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let format: Format = args.format.parse().map_err(anyhow::Error::msg)?;
    let store = open_store()?;
    let root = match store.get_ref(&args.image)? {
        Some(root) => root,
        None => {
            let location: ImageLocation = args.image.parse().with_context(|| {
                format!(
                    "`{}` is neither a built image nor an image location",
                    args.image
                )
            })?;
            let client = registry_client(global, store.clone())?;
            let platforms: Vec<Platform> = args.platform.iter().cloned().collect();
            runtime()?.block_on(fetch_image(
                &client,
                &location,
                &platforms,
                Arc::new(NoTransferReporter),
            ))?
        }
    };
    let (descriptor, manifest, platform) =
        platform_manifest(&store, &root, args.platform.as_ref(), &args.image)?;
    let config = store
        .read_blob(&manifest.config.digest)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    // The image's own `created` (a plinth build's reproducible timestamp), so one image always
    // gives one document; else SOURCE_DATE_EPOCH or 0, as builds use.
    let created = match config
        .as_ref()
        .and_then(|c| c["created"].as_str())
        .and_then(plinth_sbom::parse_rfc3339)
    {
        Some(secs) => secs,
        None => crate::settings::build_epoch()?,
    };
    let files = ImageFiles::from_store(&store, &manifest)?;
    let subject = Subject {
        name: args.image.clone(),
        digest: descriptor.digest.clone(),
        platform,
    };
    let sbom = plinth_sbom::generate(&files, subject, created)?;
    for warning in &sbom.warnings {
        printer.warn(warning);
    }
    let bytes = sbom.to_json(format)?;
    match &args.output {
        Some(path) => {
            plinth_oci::fs::write_atomic(path, &bytes)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            printer.status(format!(
                "wrote the {format} SBOM of {} ({} packages) to {}",
                args.image,
                sbom.packages.len(),
                path.display()
            ));
        }
        None => printer.result(String::from_utf8_lossy(&bytes)),
    }
    Ok(ExitStatus::Success)
}

/// The manifest of the wanted platform under `root` (an index or a manifest).
fn platform_manifest(
    store: &Store,
    root: &Descriptor,
    wanted: Option<&Platform>,
    image: &str,
) -> anyhow::Result<(Descriptor, ImageManifest, Platform)> {
    let manifest_of = |d: &Descriptor| -> anyhow::Result<ImageManifest> {
        match store.read_document(d)? {
            ManifestDocument::Image(m) => Ok(m),
            ManifestDocument::Index(_) => {
                anyhow::bail!("{image}: an index inside an index is not an image")
            }
        }
    };
    match store.read_document(root)? {
        ManifestDocument::Image(manifest) => {
            let config: plinth_oci::ImageConfig =
                serde_json::from_slice(&store.read_blob(&manifest.config.digest)?)?;
            let platform =
                Platform::new(&config.os, &config.architecture, config.variant.as_deref());
            if let Some(wanted) = wanted
                && wanted != &platform
            {
                anyhow::bail!("{image} is a {platform} image, not {wanted}; drop `--platform`");
            }
            Ok((root.clone(), manifest, platform))
        }
        ManifestDocument::Index(index) => {
            let platforms = index.platforms();
            let platform = match (wanted, platforms.as_slice()) {
                (Some(p), _) => p.clone(),
                (None, [only]) => only.clone(),
                (None, _) => Platform::host(),
            };
            let Some(child) = index.find_platform(&platform).cloned() else {
                let offered: Vec<String> = platforms.iter().map(ToString::to_string).collect();
                anyhow::bail!(
                    "{image} has no image for {platform}; it offers {}: choose one with `--platform`",
                    offered.join(", ")
                );
            };
            let manifest = manifest_of(&child)?;
            Ok((child, manifest, platform))
        }
    }
}
