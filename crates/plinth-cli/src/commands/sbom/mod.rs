//! `plinth sbom IMAGE`: the SBOM of an image (SPDX 2.3 or CycloneDX 1.5 JSON): the one attached
//! to it when it has one (in its registry, or in the local store after a push), else generated
//! from the package databases in its layers.

mod attached;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use plinth_catalog::Catalog;
use plinth_oci::{Descriptor, ImageLocation, ImageManifest, ManifestDocument, Platform, Store};
use plinth_registry::{NoTransferReporter, fetch_image};
use plinth_sbom::{Format, ImageFiles, Subject};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::image_arg::catalog_or_reference;
use crate::printer::Printer;
use crate::settings::{open_store, registry_client, runtime};

/// Arguments of `plinth sbom`.
#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The image: a name built into the local store (`build --tag`), a catalog version
    /// (`REPOSITORY:VERSION`, as published to `--registry` and `--namespace`), `docker://REF`
    /// (or a bare reference), `oci:DIR[:NAME]` or `docker-archive:FILE[:REF]`.
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
    /// Generate the document from the image's layers even when one is attached to it.
    #[arg(long)]
    pub generate: bool,
}

/// Runs `plinth sbom`.
pub fn run(
    args: SbomArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let format: Format = args.format.parse().map_err(anyhow::Error::msg)?;
    let store = open_store()?;
    let stored = store.get_ref(&args.image)?;
    // A catalog version is named by where it is published, in messages and in the document.
    let mut subject_name = args.image.clone();
    let location = match &stored {
        Some(_) => None,
        None => Some(match catalog_or_reference(global, &args.image, catalog)? {
            Some(published) => {
                subject_name = published.to_string();
                ImageLocation::Registry(published)
            }
            None => args.image.parse::<ImageLocation>().with_context(|| {
                format!(
                    "`{}` is neither a built image, a catalog version (REPOSITORY:VERSION) nor an image location; \
                     an unpublished catalog version is `plinth build REPOSITORY:VERSION --tag NAME`, then `plinth sbom NAME`",
                    args.image
                )
            })?,
        }),
    };
    let client = registry_client(global, store.clone())?;
    if !args.generate
        && let Some(ImageLocation::Registry(reference)) = &location
    {
        match runtime()?.block_on(attached::in_registry(
            &client,
            reference,
            args.platform.as_ref(),
            format,
        )) {
            Ok(Some(found)) => return write_attached(&args, format, &found, printer),
            Ok(None) => {}
            Err(e) => printer.warn(format!(
                "cannot look for an SBOM attached to {}: {e:#}; generating one",
                args.image
            )),
        }
    }
    let root = match (stored, &location) {
        (Some(root), _) => root,
        (None, Some(location)) => {
            let platforms: Vec<Platform> = args.platform.iter().cloned().collect();
            runtime()?.block_on(fetch_image(
                &client,
                location,
                &platforms,
                Arc::new(NoTransferReporter),
            ))?
        }
        (None, None) => anyhow::bail!("`{}` is not in the local store", args.image),
    };
    let (descriptor, manifest, platform) =
        platform_manifest(&store, &root, args.platform.as_ref(), &args.image)?;
    if !args.generate
        && let Some(found) = attached::in_store(&store, &descriptor.digest, &platform, format)?
    {
        return write_attached(&args, format, &found, printer);
    }
    let created = image_created(&store, &manifest)?;
    let files = ImageFiles::from_store(&store, &manifest)?;
    let subject = Subject {
        name: subject_name,
        digest: descriptor.digest.clone(),
        platform,
    };
    let sbom = plinth_sbom::generate(&files, subject, created)?;
    for warning in &sbom.warnings {
        printer.warn(warning);
    }
    let bytes = sbom.to_json(format)?;
    write_document(
        &args,
        format,
        &bytes,
        &format!("{} packages", sbom.packages.len()),
        printer,
    )
}

/// The image's own `created` (a plinth build's reproducible timestamp), so one image always
/// gives one document; else SOURCE_DATE_EPOCH or 0, as builds use.
fn image_created(store: &Store, manifest: &ImageManifest) -> anyhow::Result<u64> {
    let config = store
        .read_blob(&manifest.config.digest)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    match config
        .as_ref()
        .and_then(|c| c["created"].as_str())
        .and_then(plinth_sbom::parse_rfc3339)
    {
        Some(secs) => Ok(secs),
        None => crate::settings::build_epoch(),
    }
}

/// Prints (or writes) an attached document as it was attached, saying on stderr where it
/// came from.
fn write_attached(
    args: &SbomArgs,
    format: Format,
    found: &attached::AttachedSbom,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let platform = found
        .platform
        .as_ref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    printer.status(format!(
        "using the {format} SBOM attached to {}{platform}, found {}; `--generate` makes one from the image instead",
        args.image, found.found
    ));
    write_document(args, format, &found.bytes, "attached", printer)
}

/// The document to `--output` or standard output.
fn write_document(
    args: &SbomArgs,
    format: Format,
    bytes: &[u8],
    what: &str,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    match &args.output {
        Some(path) => {
            plinth_oci::fs::write_atomic(path, bytes)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            printer.status(format!(
                "wrote the {format} SBOM of {} ({what}) to {}",
                args.image,
                path.display()
            ));
        }
        None => printer.result(String::from_utf8_lossy(bytes)),
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
