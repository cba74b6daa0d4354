//! `plinth generate-release`: cut a new version of a family (the original's interactive flow;
//! every question also a flag).

use clap::Args;
use plinth_catalog::{BumpKind, Catalog};
use std::sync::Arc;

use plinth_release::{ChangelogDraft, ChangelogSource, ReleaseChoices, ReleaseRequest};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::engine_arg::EngineArgs;
use crate::printer::Printer;
use crate::prompt;
use crate::release_context::{ListingArgs, open_releaser, refusal_or_error, with_executor};

/// Arguments of `plinth generate-release`.
#[derive(Debug, Args)]
pub struct GenerateReleaseArgs {
    /// The family to release (its repository, e.g. `airbyte/python-connector-base`).
    #[arg(long, value_name = "REPOSITORY")]
    pub family: Option<String>,
    /// The kind of version to cut: prerelease, finalize, patch, patch-prerelease, minor, minor-prerelease, major, major-prerelease.
    #[arg(long, value_name = "KIND")]
    pub bump: Option<BumpKind>,
    /// The changelog entry (non-empty). At a terminal without it, the question comes once the
    /// version is built, with the package changes since the previous version as the draft.
    #[arg(long, alias = "message", value_name = "TEXT")]
    pub changelog: Option<String>,
    /// Use the package changes since the previous published version as the changelog entry
    /// (`Upgrade openssl 3.0.11 → 3.0.13; add socat 1.7.4.4-2`); fails when none changed.
    #[arg(long, conflicts_with = "changelog")]
    pub changelog_from_diff: bool,
    /// Publish the new version once its checks pass.
    #[arg(long, conflicts_with = "no_publish")]
    pub publish: bool,
    /// Do not publish (publish later with `plinth publish REPOSITORY VERSION`).
    #[arg(long)]
    pub no_publish: bool,
    /// Answer yes to yes/no questions (publish now).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Tag listing options.
    #[command(flatten)]
    pub listing: ListingArgs,
    /// Engine options.
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `plinth generate-release`.
pub fn run(
    args: GenerateReleaseArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let interactive = prompt::interactive();
    let repository = ask_family(args.family.as_deref(), catalog, interactive)?;
    // Decide on publishing before anything is built, so credentials are asked at most once.
    let releaser = open_releaser(global, catalog, &args.listing, printer, !args.no_publish)?;
    let choices = match releaser.release_choices(&repository) {
        Ok(c) => c,
        Err(e) => return refusal_or_error(e, printer),
    };
    let bump = match args.bump {
        Some(b) => b,
        None if interactive => ask_bump(&choices, printer)?,
        None => return Err(prompt::missing("the kind of version to cut", "--bump KIND")),
    };
    let changelog = changelog_source(&args, interactive, printer)?;
    let publish = ask_publish(&args, interactive)?;
    let releaser = with_executor(global, releaser, &args.engine)?;
    let request = ReleaseRequest {
        repository,
        bump,
        changelog,
        publish,
    };
    match releaser.release(&request) {
        Ok(outcome) => {
            printer.result(
                outcome
                    .published
                    .unwrap_or_else(|| format!("{} {}", request.repository, outcome.version)),
            );
            Ok(ExitStatus::Success)
        }
        Err(e) => refusal_or_error(e, printer),
    }
}

/// The family's repository: `--family`, else chosen from the catalog at a terminal.
fn ask_family(
    family: Option<&str>,
    catalog: &Catalog,
    interactive: bool,
) -> anyhow::Result<String> {
    match family {
        Some(f) => Ok(catalog
            .get(f)
            .map_err(anyhow::Error::new)?
            .repository()
            .to_owned()),
        None if interactive => {
            let repos: Vec<String> = catalog
                .repositories()
                .into_iter()
                .map(str::to_owned)
                .collect();
            let i = prompt::select(
                "Which base image would you like to release a new version for?",
                repos.clone(),
                0,
            )?;
            Ok(repos[i].clone())
        }
        None => Err(prompt::missing(
            "the family to release",
            "--family REPOSITORY",
        )),
    }
}

/// Asks for the kind of version until one that can be cut is chosen.
fn ask_bump(choices: &ReleaseChoices, printer: Printer) -> anyhow::Result<BumpKind> {
    // The original's text had a stray `)` here; it is dropped on purpose.
    let message = format!(
        "Which kind of new version would you like to cut? (latest version is {})",
        choices.latest
    );
    let start = choices
        .choices
        .iter()
        .position(|c| c.version.is_ok())
        .unwrap_or(0);
    loop {
        let i = prompt::select(
            &message,
            choices.choices.iter().map(|c| c.label()).collect(),
            start,
        )?;
        match &choices.choices[i].version {
            Ok(_) => return Ok(choices.choices[i].kind),
            Err(why) => printer.warn(format!(
                "cannot release with `{}`: {why}",
                choices.choices[i].kind
            )),
        }
    }
}

/// Where the changelog entry comes from: `--changelog` (not blank), `--changelog-from-diff`,
/// else asked at a terminal once the version is built, the package summary as the draft.
fn changelog_source(
    args: &GenerateReleaseArgs,
    interactive: bool,
    printer: Printer,
) -> anyhow::Result<ChangelogSource> {
    match &args.changelog {
        Some(text) if text.trim().is_empty() => {
            anyhow::bail!("the changelog entry is empty; describe the change in --changelog")
        }
        Some(text) => Ok(ChangelogSource::Given(text.clone())),
        None if args.changelog_from_diff => Ok(ChangelogSource::FromDiff),
        None if interactive => Ok(ChangelogSource::Ask(Arc::new(move |draft| {
            ask_changelog(draft, printer).map_err(Into::into)
        }))),
        None => Err(prompt::missing(
            "the changelog entry",
            "--changelog TEXT` or `--changelog-from-diff",
        )),
    }
}

/// Asks for the changelog entry, the package summary (when there is one) as the editable
/// starting text.
fn ask_changelog(draft: &ChangelogDraft, printer: Printer) -> anyhow::Result<String> {
    if let Some(why) = &draft.missing {
        printer.status(format!("No changelog draft: {why}."));
    } else if let Some(compared_with) = &draft.compared_with {
        printer.status(format!(
            "The draft lists the package changes since {compared_with}."
        ));
    }
    prompt::text_non_empty(
        "What should the changelog entry be?",
        draft.summary.as_deref(),
    )
}

/// Whether to publish: `--publish`/`-y`, `--no-publish`, else asked at a terminal.
fn ask_publish(args: &GenerateReleaseArgs, interactive: bool) -> anyhow::Result<bool> {
    if args.publish || args.yes {
        Ok(true)
    } else if args.no_publish {
        Ok(false)
    } else if interactive {
        prompt::confirm(
            "Would you like to publish it to our remote registry now?",
            false,
        )
    } else {
        Err(prompt::missing(
            "whether to publish",
            "--publish or --no-publish",
        ))
    }
}
