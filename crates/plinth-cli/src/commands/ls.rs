//! `plinth ls REPO`: a repository's tags with their digests, semver-sorted.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use plinth_oci::Reference;
use plinth_registry::TagListOptions;
use serde_json::json;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::settings::{open_store, registry_client, runtime};

/// Arguments of `plinth ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// The repository (`airbyte/python-connector-base`, `127.0.0.1:5000/team/base`); a tag is ignored.
    pub repository: Reference,
    /// Seconds a cached listing stays valid; 0 always asks the registry.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub cache_ttl: u64,
    /// Ask the registry even if the cached listing is still valid.
    #[arg(long)]
    pub refresh: bool,
    /// List tag names only, without a manifest `HEAD` per tag.
    #[arg(long, conflicts_with = "all_digests")]
    pub no_digests: bool,
    /// Resolve the digests of the tags that are not semantic versions too (`latest`, `dev`):
    /// one more `HEAD` each. By default only semver tags get their digest.
    #[arg(long)]
    pub all_digests: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `plinth ls`.
pub fn run(args: LsArgs, global: &GlobalArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let client = registry_client(global, open_store()?)?;
    let options = TagListOptions {
        ttl: Duration::from_secs(args.cache_ttl),
        refresh: args.refresh,
        with_digests: !args.no_digests,
        with_other_digests: args.all_digests,
        ..TagListOptions::default()
    };
    let listing = runtime()?
        .block_on(client.list_tags(&args.repository, &options))
        .with_context(|| format!("failed to list the tags of `{}`", args.repository.name()))?;
    let digest = |d: &Option<plinth_oci::Digest>| d.as_ref().map(ToString::to_string);
    if args.json {
        let semver: Vec<_> = listing
            .semver
            .iter()
            .rev()
            .map(|t| json!({"tag": t.entry.tag, "digest": digest(&t.entry.digest)}))
            .collect();
        let other: Vec<_> = listing
            .other
            .iter()
            .map(|t| json!({"tag": t.tag, "digest": digest(&t.digest)}))
            .collect();
        printer.result(serde_json::to_string_pretty(&json!({
            "repository": listing.repository,
            "from_cache": listing.from_cache,
            "tags": semver,
            "non_semver_tags": other,
        }))?);
        return Ok(ExitStatus::Success);
    }
    if listing.semver.is_empty() && listing.other.is_empty() {
        printer.status(format!("{} has no tags", listing.repository));
    }
    // Highest version first: what a release manager looks for.
    for tag in listing.semver.iter().rev() {
        printer.result(format!(
            "{:<24} {}",
            tag.entry.tag,
            digest(&tag.entry.digest).unwrap_or_default()
        ));
    }
    if !listing.other.is_empty() {
        printer.status(match listing.other.len() {
            1 => "1 tag that is not a semantic version:".to_owned(),
            n => format!("{n} tags that are not semantic versions:"),
        });
        for tag in &listing.other {
            // Without `--all-digests` these have no digest: print the name alone, unpadded.
            let line = format!(
                "{:<24} {}",
                tag.tag,
                digest(&tag.digest).unwrap_or_default()
            );
            printer.result(line.trim_end());
        }
    }
    if listing.from_cache {
        printer.status(format!(
            "(cached listing; --refresh or --cache-ttl 0 to ask {} again)",
            args.repository.registry()
        ));
    }
    Ok(ExitStatus::Success)
}
