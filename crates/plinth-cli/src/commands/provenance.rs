//! `plinth provenance IMAGE [--platform P] [--check-report]`: the attestations plinth attached to
//! a published image (a registry reference, or a catalog version where it is published), read from the registry (through the referrers API, or the
//! `sha256-<digest>` tag where the registry lacks it) and printed as in-toto JSON.

use anyhow::Context as _;
use clap::Args;
use plinth_attest::{CHECK_REPORT_V1, SLSA_PROVENANCE_V1, find_statements};
use plinth_catalog::Catalog;
use plinth_oci::{Platform, Reference};
use serde_json::Value;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::image_arg::catalog_or_reference;
use crate::printer::Printer;
use crate::settings::{open_store, registry_client, runtime};

/// Arguments of `plinth provenance`.
#[derive(Debug, Args)]
pub struct ProvenanceArgs {
    /// The image: a catalog version (`REPOSITORY:VERSION`, as published to `--registry` and
    /// `--namespace`) or an image in a registry (`REGISTRY/REPO:TAG` or `…@sha256:…`).
    pub image: String,
    /// Only this platform's statement, printed as one JSON object (default: every platform's,
    /// as a JSON array).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Print the sanity-check report attached beside the provenance instead.
    #[arg(long)]
    pub check_report: bool,
}

/// Runs `plinth provenance`.
pub fn run(
    args: ProvenanceArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let image = match catalog_or_reference(global, &args.image, catalog)? {
        Some(published) => published,
        None => args.image.parse::<Reference>().with_context(|| {
            format!(
                "`{}` is neither a catalog version (REPOSITORY:VERSION) nor an image reference",
                args.image
            )
        })?,
    };
    let store = open_store()?;
    let client = registry_client(global, store)?;
    let (predicate_type, what) = if args.check_report {
        (CHECK_REPORT_V1, "check report")
    } else {
        (SLSA_PROVENANCE_V1, "provenance")
    };
    let found = runtime()?.block_on(find_statements(
        &client,
        &image,
        args.platform.as_ref(),
        predicate_type,
        what,
    ))?;
    let mut statements: Vec<Value> = found
        .into_iter()
        .map(|(_, statement)| serde_json::to_value(statement))
        .collect::<Result<_, _>>()?;
    let output = if args.platform.is_some() && statements.len() == 1 {
        statements.remove(0)
    } else {
        Value::Array(statements)
    };
    printer.result(serde_json::to_string_pretty(&output)?);
    Ok(ExitStatus::Success)
}
