//! `plinth diff A B`: what changed between two images or two family versions: packages added,
//! removed and upgraded (from the attached SBOMs, else generated from the layers), the config
//! fields that differ and the files of every layer that differs, with sizes.

use std::collections::BTreeMap;

use clap::Args;
use plinth_catalog::Catalog;
use plinth_diff::{CompareOptions, Named, PackageSet};
use plinth_oci::Platform;
use plinth_registry::Client;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::comparison_arg::ComparisonOutput;
use crate::image_arg::{ImageArg, LoadedImage, load_image};
use crate::printer::Printer;
use crate::settings::{open_store, registry_client, runtime};

/// Arguments of `plinth diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first (older) image: `REPOSITORY:VERSION` of a catalog family (as published),
    /// a name built into the local store, `docker://REF` (or a bare reference), `oci:DIR[:NAME]`
    /// or `docker-archive:FILE[:REF]`; with `--family`, a version.
    pub before: String,
    /// The second (newer) image, in the same forms.
    pub after: String,
    /// Both arguments are versions of this family (its repository).
    #[arg(long, value_name = "REPOSITORY")]
    pub family: Option<String>,
    /// Only this platform (default: every platform either image has).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Output options.
    #[command(flatten)]
    pub output: ComparisonOutput,
}

/// Runs `plinth diff`; exit 0 whatever the difference (it is a report).
pub fn run(
    args: DiffArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let family = args.family.as_deref();
    let before = ImageArg::parse(&args.before, family, catalog)?;
    let after = ImageArg::parse(&args.after, family, catalog)?;
    let store = open_store()?;
    let client = registry_client(global, store.clone())?;
    let (old, new, known_packages) = runtime()?.block_on(async {
        let old = load_image(global, &client, &before).await?;
        let new = load_image(global, &client, &after).await?;
        let mut known = BTreeMap::new();
        for (side, image) in [(0, &old), (1, &new)] {
            for (platform, set) in attached_packages(&client, image).await {
                known.insert((side, platform), set);
            }
        }
        anyhow::Ok((old, new, known))
    })?;
    let options = CompareOptions {
        packages: true,
        known_packages,
        platform: args.platform.clone(),
    };
    let named = |i: &LoadedImage| Named {
        name: i.name.clone(),
        root: i.root.clone(),
    };
    let comparison = plinth_diff::compare_images(&store, &named(&old), &named(&new), &options)?;
    if comparison.platforms.is_empty() {
        anyhow::bail!(
            "neither image has a {} image; drop `--platform` or pick one they have",
            args.platform.map_or_else(String::new, |p| p.to_string())
        );
    }
    args.output.print(&printer, &comparison, &[], "")?;
    Ok(ExitStatus::Success)
}

/// The packages of the SPDX SBOMs attached to `image` in its registry, per platform; nothing
/// (the SBOMs are then generated from the layers) when it has none or they cannot be read.
async fn attached_packages(client: &Client, image: &LoadedImage) -> Vec<(Platform, PackageSet)> {
    let Some(reference) = &image.reference else {
        return Vec::new();
    };
    let spdx = plinth_sbom::Format::Spdx.media_type();
    let wanted = |d: &plinth_oci::Descriptor| d.artifact_type.as_deref() == Some(spdx);
    let found = match plinth_attest::find_attached(client, reference, None, &wanted).await {
        Ok(found) => found,
        Err(e) => {
            tracing::debug!(image = %reference, "no attached SBOM read: {e}");
            return Vec::new();
        }
    };
    found
        .into_iter()
        .filter_map(|attached| {
            let platform = attached.platform?;
            match PackageSet::from_spdx_json(&attached.payload) {
                Ok(set) => Some((platform, set)),
                Err(e) => {
                    tracing::warn!(image = %reference, %platform, "the attached SBOM is unreadable, generating one: {e}");
                    None
                }
            }
        })
        .collect()
}
