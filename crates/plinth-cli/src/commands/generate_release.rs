//! `plinth generate-release`: cut a new version of a family (the original's interactive flow;
//! every question also a flag).

use clap::Args;
use plinth_catalog::{BumpKind, Catalog};
use plinth_release::ReleaseRequest;

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
    /// The changelog entry (non-empty).
    #[arg(long, alias = "message", value_name = "TEXT")]
    pub changelog: Option<String>,
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
    let repository = match &args.family {
        Some(f) => catalog
            .get(f)
            .map_err(anyhow::Error::new)?
            .repository()
            .to_owned(),
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
            repos[i].clone()
        }
        None => {
            return Err(prompt::missing(
                "the family to release",
                "--family REPOSITORY",
            ));
        }
    };
    // Decide on publishing before anything is built, so credentials are asked at most once.
    let will_ask_publish = !args.publish && !args.no_publish && !args.yes;
    let releaser = open_releaser(global, catalog, &args.listing, printer, !args.no_publish)?;
    let choices = match releaser.release_choices(&repository) {
        Ok(c) => c,
        Err(e) => return refusal_or_error(e, printer),
    };
    let bump = match args.bump {
        Some(b) => b,
        None if interactive => loop {
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
            let i = prompt::select(
                &message,
                choices.choices.iter().map(|c| c.label()).collect(),
                start,
            )?;
            match &choices.choices[i].version {
                Ok(_) => break choices.choices[i].kind,
                Err(why) => printer.warn(format!(
                    "cannot release with `{}`: {why}",
                    choices.choices[i].kind
                )),
            }
        },
        None => return Err(prompt::missing("the kind of version to cut", "--bump KIND")),
    };
    let changelog = match args.changelog {
        Some(text) if text.trim().is_empty() => {
            anyhow::bail!("the changelog entry is empty; describe the change in --changelog")
        }
        Some(text) => text,
        None if interactive => prompt::text_non_empty("What should the changelog entry be?")?,
        None => return Err(prompt::missing("the changelog entry", "--changelog TEXT")),
    };
    let publish = if args.publish || args.yes {
        true
    } else if args.no_publish {
        false
    } else if interactive && will_ask_publish {
        prompt::confirm(
            "Would you like to publish it to our remote registry now?",
            false,
        )?
    } else {
        return Err(prompt::missing(
            "whether to publish",
            "--publish or --no-publish",
        ));
    };
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
