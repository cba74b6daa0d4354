//! `plinth verify --rebuild REF|REPOSITORY:VERSION`: rebuild a published version from its
//! recipe in an empty, temporary store and compare the result with what the registry serves:
//! index, manifests, configs and layers. Exit 0 when every digest matches; else exit 1 with the
//! file-level differences per layer and the config fields that differ. An image built by
//! `plinth build -f … --push` is rebuilt from the Dockerfile and context given with `-f`
//! ([`dockerfile`]).

mod dockerfile;

use std::path::PathBuf;

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use plinth_attest::{
    BuildParameters, RecipeParameters, SLSA_PROVENANCE_V1, find_statements, recorded_parameters,
};
use plinth_catalog::{Catalog, Version};
use plinth_diff::{CompareOptions, ImageComparison, Named};
use plinth_oci::{ImageLocation, Platform, Reference, Store};
use plinth_registry::{Client, NoTransferReporter, fetch_image};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::comparison_arg::ComparisonOutput;
use crate::engine_arg::EngineArgs;
use crate::image_arg::{ImageArg, published_reference};
use crate::printer::Printer;
use crate::release_context::{ListingArgs, open_releaser_in, with_executor};
use crate::settings::{registry_client, runtime};

/// Arguments of `plinth verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The published image: `REPOSITORY:VERSION` of a catalog family (in `--registry`,
    /// `--namespace`), or a registry reference whose provenance attestation names the family
    /// version it was built from.
    pub image: String,
    /// Rebuild the image from its recipe in an empty store and compare digests (the only
    /// verification there is so far; required).
    #[arg(long, required = true)]
    pub rebuild: bool,
    /// The Dockerfile of an image `plinth build -f … --push` made: it is rebuilt from this
    /// Dockerfile and the context, after both are compared with the digests its provenance
    /// recorded.
    #[arg(short = 'f', long = "file", value_name = "DOCKERFILE")]
    pub file: Option<PathBuf>,
    /// The build context of `-f` (default: the Dockerfile's directory).
    #[arg(value_name = "CONTEXT", requires = "file")]
    pub context: Option<PathBuf>,
    /// A build arg of the build, `NAME=VALUE` (the provenance holds only its digest);
    /// repeatable.
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]", requires = "file")]
    pub build_args: Vec<String>,
    /// The stage the build targeted (`--target`).
    #[arg(long = "target", value_name = "STAGE", requires = "file")]
    pub stage: Option<String>,
    /// Only compare this platform (every platform is still rebuilt).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Output options (the JSON adds `"verified": true|false`).
    #[command(flatten)]
    pub output: ComparisonOutput,
    /// Tag listing options.
    #[command(flatten)]
    pub listing: ListingArgs,
    /// Engine options.
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `plinth verify --rebuild`.
pub fn run(
    args: VerifyArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    if args.file.is_some() {
        return dockerfile::run(&args, global, printer, catalog);
    }
    let (_temp, store, client) = empty_rebuild_store(global)?;
    let (repository, version, published, recorded) =
        recipe_of(&args.image, global, catalog, &client)?;
    if let Some(recorded) = &recorded {
        refuse_other_substitutions(recorded, global)?;
        if let Some(difference) = epoch_difference(recorded)? {
            printer.warn(difference);
        }
    }
    printer.status(format!(
        "Rebuilding {repository} {version} in an empty store to compare with {published}."
    ));
    let releaser = open_releaser_in(
        global,
        catalog,
        &args.listing,
        printer,
        false,
        store.clone(),
    )?;
    let releaser = with_executor(global, releaser, &args.engine)?;
    let family = releaser.family(&repository)?;
    // The labels and annotations its provenance recorded, when it records them (a version
    // `plinth build REPOSITORY:VERSION --push` made has labels and its own annotations).
    let rebuilt = match recorded.filter(|r| !r.annotations.is_empty()) {
        Some(recorded) => releaser.rebuild_as_recorded(family, &version, &recorded)?,
        None => releaser.build_annotated(family, &version)?,
    };
    let rebuilt_name = format!("{repository}:{version} rebuilt from its recipe");
    compare_with_published(
        &printer,
        &args,
        &client,
        &store,
        &published,
        (rebuilt.root.clone(), rebuilt_name),
    )
}

/// Compares the rebuilt image (its root and name) with the published one (read into `store`),
/// prints the comparison and the verdict, and gives the exit status.
fn compare_with_published(
    printer: &Printer,
    args: &VerifyArgs,
    client: &Client,
    store: &Store,
    published: &Reference,
    (rebuilt, rebuilt_name): (plinth_oci::Descriptor, String),
) -> anyhow::Result<ExitStatus> {
    let published_root = runtime()?
        .block_on(fetch_image(
            client,
            &ImageLocation::Registry(published.clone()),
            &[],
            Arc::new(NoTransferReporter),
        ))
        .with_context(|| format!("cannot read the published image {published}"))?;
    let options = CompareOptions {
        platform: args.platform.clone(),
        ..CompareOptions::default()
    };
    let comparison = plinth_diff::compare_images(
        store,
        &Named {
            name: format!("{published} (published)"),
            root: published_root,
        },
        &Named {
            name: rebuilt_name,
            root: rebuilt,
        },
        &options,
    )?;
    let verified = verified(&comparison, args.platform.is_some());
    let verdict = if verified {
        "\nverified: the rebuild matches the published image (index, manifests, configs and layers)"
    } else {
        "\nNOT verified: the rebuild differs from the published image (see the differences above)"
    };
    args.output.print(
        printer,
        &comparison,
        &[("verified", serde_json::Value::Bool(verified))],
        verdict,
    )?;
    Ok(if verified {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// An empty store in a temporary directory (removed when the guard drops) and a registry
/// client on it: a rebuild must not reuse anything this machine built or pulled before.
fn empty_rebuild_store(global: &GlobalArgs) -> anyhow::Result<(tempfile::TempDir, Store, Client)> {
    let temp = tempfile::Builder::new()
        .prefix("plinth-verify-")
        .tempdir()
        .context("cannot make the temporary store of the rebuild")?;
    let store = Store::open(temp.path().join("store"))?;
    let client = registry_client(global, store.clone())?;
    Ok((temp, store, client))
}

/// A `SOURCE_DATE_EPOCH` other than the one the build recorded, named before rebuilding: every
/// time the rebuild stamps would differ. It comes from the environment, as it did for the build.
fn epoch_difference(recorded: &BuildParameters) -> anyhow::Result<Option<String>> {
    let now = crate::settings::build_epoch()?;
    Ok(match recorded.source_date_epoch {
        Some(then) if then != now => Some(format!(
            "the build stamped its times with SOURCE_DATE_EPOCH={then} and this rebuild stamps {now}: \
             set SOURCE_DATE_EPOCH={then} to rebuild it alike"
        )),
        _ => None,
    })
}

/// Refuses to rebuild without the stand-ins the build used (`--substitute-image`): the rebuild
/// would start from other images, or from ones this machine cannot reach.
fn refuse_other_substitutions(
    recorded: &BuildParameters,
    global: &GlobalArgs,
) -> anyhow::Result<()> {
    let rules = crate::recipe_arg::image_substitutions(global)?;
    let missing: Vec<String> = recorded
        .substitutions
        .iter()
        .filter(|(original, replacement)| {
            plinth_recipe::ImageSource::parse(original).map_or(true, |source| {
                rules
                    .replacement_for(&source)
                    .is_none_or(|r| r.address() != replacement.as_str())
            })
        })
        .map(|(original, replacement)| format!("--substitute-image {original}={replacement}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(crate::exit_status::usage_error(format!(
        "the build replaced images with stand-ins that this rebuild would not use; give the same rules to rebuild it alike: `{}`",
        missing.join(" ")
    )))
}

/// With `--platform`, that platform's digests; else the root's and every platform's.
fn verified(comparison: &ImageComparison, one_platform: bool) -> bool {
    let platforms = comparison.platforms.iter().all(|p| p.equal());
    !comparison.platforms.is_empty() && platforms && (one_platform || comparison.equal())
}

/// The family version to rebuild, the published image to compare with, and the build
/// parameters its provenance records (none when it has no readable provenance).
fn recipe_of(
    image: &str,
    global: &GlobalArgs,
    catalog: &Catalog,
    client: &Client,
) -> anyhow::Result<(String, Version, Reference, Option<BuildParameters>)> {
    match ImageArg::parse(image, None, catalog)? {
        ImageArg::FamilyVersion {
            repository,
            version,
        } => {
            let published = published_reference(global, &repository, &version)?;
            let recorded = runtime()?
                .block_on(recorded_recipe(client, &published))
                .ok()
                .map(|(_, build)| build);
            Ok((repository, version, published, recorded))
        }
        ImageArg::Image(text) => {
            let reference = registry_reference(&text)?;
            let (repository, version, recorded) =
                runtime()?.block_on(recipe_from_provenance(client, &reference))?;
            catalog.get(&repository).with_context(|| {
                format!("the provenance of {reference} names {repository} {version}, which this catalog lacks")
            })?;
            Ok((repository, version, reference, Some(recorded)))
        }
    }
}

/// `text` as a registry reference (`docker://` allowed).
fn registry_reference(text: &str) -> anyhow::Result<Reference> {
    text.trim_start_matches("docker://")
        .parse()
        .with_context(|| {
            format!(
                "`{text}` is neither a family version (REPOSITORY:VERSION) nor a registry reference"
            )
        })
}

/// The recipe and build parameters the provenance attached to `reference` records (the
/// first platform's: a build gives every platform the same).
async fn recorded_recipe(
    client: &Client,
    reference: &Reference,
) -> anyhow::Result<(RecipeParameters, BuildParameters)> {
    let statements = find_statements(client, reference, None, SLSA_PROVENANCE_V1, "provenance")
        .await
        .with_context(|| {
            format!(
                "{reference} has no readable provenance naming its recipe; give the family version as REPOSITORY:VERSION"
            )
        })?;
    let (_, statement) = statements
        .into_iter()
        .next()
        .with_context(|| format!("{reference} has no provenance attached"))?;
    let value = serde_json::to_value(&statement)?;
    recorded_parameters(&value["predicate"])
        .with_context(|| format!("the provenance of {reference} names no recipe"))
}

/// The family version the provenance attached to `reference` names, with the build's other
/// parameters.
async fn recipe_from_provenance(
    client: &Client,
    reference: &Reference,
) -> anyhow::Result<(String, Version, BuildParameters)> {
    let (recipe, build) = recorded_recipe(client, reference).await?;
    match recipe {
        RecipeParameters::Family {
            repository,
            version,
            ..
        } => {
            let version = version.parse().with_context(|| {
                format!("the provenance of {reference} names version `{version}`")
            })?;
            Ok((repository, version, build))
        }
        RecipeParameters::Dockerfile { path, .. } => anyhow::bail!(
            "{reference} was built from the Dockerfile `{path}` by `plinth build`, not from a catalog \
             version: give that Dockerfile and its context (`plinth verify --rebuild {reference} -f {path} CONTEXT`)"
        ),
    }
}
