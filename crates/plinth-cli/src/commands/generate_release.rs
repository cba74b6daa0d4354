//! `plinth generate-release`: cut a new version of a family (the original's interactive flow;
//! every question also a flag). Also the setup the release commands share.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use plinth_catalog::checks::CheckReport;
use plinth_catalog::{BumpKind, Catalog};
use plinth_executor::BuildReporter;
use plinth_registry::{Client, Credential, Credentials, Secret, TagListOptions};
use plinth_release::{ReleaseReporter, ReleaseRequest, ReleaseSettings, Releaser, Target};

use crate::ExitStatus;
use crate::build_progress::BuildProgress;
use crate::cli::GlobalArgs;
use crate::engine_arg::EngineArgs;
use crate::printer::{Printer, Verbosity};
use crate::progress::TransferProgress;
use crate::prompt;
use crate::settings::open_store;

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

/// How the release commands list a registry's tags.
#[derive(Clone, Debug, Args)]
pub struct ListingArgs {
    /// Seconds a cached tag listing stays valid; 0 always asks the registry.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub cache_ttl: u64,
    /// Ask the registry even if the cached listing is still valid.
    #[arg(long)]
    pub refresh: bool,
}

/// Prints library events.
struct CliReporter {
    printer: Printer,
}

impl ReleaseReporter for CliReporter {
    fn status(&self, message: &str) {
        self.printer.status(message);
    }

    fn warning(&self, message: &str) {
        self.printer.warn(message);
    }

    fn check_reports(&self, reports: &[CheckReport]) {
        for report in reports {
            self.printer.status(report.render_table().trim_end());
        }
    }

    fn build_reporter(&self) -> Arc<dyn BuildReporter> {
        // The same renderer as `plinth build`; `-v` also shows why each step hit or missed.
        Arc::new(BuildProgress::new(
            self.printer,
            self.printer.verbosity() == Verbosity::Verbose,
        ))
    }

    fn push_reporter(&self) -> Arc<dyn plinth_registry::Reporter> {
        Arc::new(TransferProgress::new(self.printer))
    }
}

/// The catalog directory: `--catalog-dir`, else the nearest directory at or above the working
/// directory holding `generated/changelogs`, else `./catalog`.
pub(crate) fn catalog_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &global.catalog_dir {
        return Ok(dir.clone());
    }
    let cwd = std::env::current_dir().context("failed to read the working directory")?;
    Ok(cwd
        .ancestors()
        .find(|d| d.join(plinth_catalog::CHANGELOG_DIR).is_dir())
        .map_or_else(|| cwd.join("catalog"), Path::to_path_buf))
}

/// The target registry of the release commands.
pub(crate) fn target(global: &GlobalArgs) -> Target {
    Target::new(
        global
            .registry
            .clone()
            .unwrap_or_else(|| "docker.io".to_owned()),
        global.namespace.clone(),
    )
}

/// A registry client with the usual credential sources; on a terminal, when the target
/// registry has no credential configured and `ask` is set, asks once for one.
fn release_client(global: &GlobalArgs, printer: Printer, ask: bool) -> anyhow::Result<Client> {
    let store = open_store()?;
    let target = target(global);
    let mut credentials = Credentials::from_env();
    if target.registry() == "docker.io" {
        let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
        if set(crate::env::DOCKER_HUB_USERNAME) && set(crate::env::DOCKER_HUB_PASSWORD) {
            printer.status("Using docker credentials from environment variables.");
        }
    }
    if ask && prompt::interactive() {
        let configured = crate::settings::runtime()?
            .block_on(credentials.resolve(target.registry()))
            .with_context(|| {
                format!("failed to read the credentials for `{}`", target.registry())
            })?;
        if configured == Credential::Anonymous
            && !plinth_oci::reference::is_loopback_host(target.registry())
        {
            printer.status("Please enter your docker credentials.");
            printer.status(format!(
                "You can set them as environment variables to avoid being prompted again: {}, {}",
                crate::env::DOCKER_HUB_USERNAME,
                crate::env::DOCKER_HUB_PASSWORD
            ));
            let (username, password) = prompt::credentials(target.registry())?;
            credentials = credentials.with_explicit(
                target.registry(),
                Credential::Basic {
                    username,
                    password: Secret::new(password),
                },
            );
        }
    }
    let mut builder = Client::builder(store).with_credentials(credentials);
    for registry in &global.insecure_registries {
        builder = builder.with_insecure_registry(registry.clone());
    }
    for mirror in &global.registry_mirrors {
        builder = builder.with_docker_hub_mirror(mirror.clone());
    }
    Ok(builder.build()?)
}

/// The releaser of a release command. `ask_credentials`: the command may push.
pub(crate) fn open_releaser(
    global: &GlobalArgs,
    catalog: &Catalog,
    listing: &ListingArgs,
    printer: Printer,
    ask_credentials: bool,
) -> anyhow::Result<Releaser> {
    let client = release_client(global, printer, ask_credentials)?;
    let options = TagListOptions {
        ttl: Duration::from_secs(listing.cache_ttl),
        refresh: listing.refresh,
        ..TagListOptions::default()
    };
    let settings = ReleaseSettings::new(catalog_dir(global)?)
        .with_target(target(global))
        .with_tag_options(options)
        .with_image_substitutions(crate::recipe_arg::image_substitutions(global)?);
    Ok(Releaser::new(
        catalog.clone(),
        client,
        settings,
        Arc::new(CliReporter { printer }),
    )?)
}

/// The releaser building with `--engine` and checking with the embedded engine, both over the
/// releaser's client (same store, credentials and mirrors) and the `--url-mirror`s. Layer times
/// are clamped to `SOURCE_DATE_EPOCH` (0 by default) so a rebuild of a version gives the digest
/// it was published with.
pub(crate) fn with_executor(
    global: &GlobalArgs,
    releaser: Releaser,
    args: &EngineArgs,
) -> anyhow::Result<Releaser> {
    let engine = crate::settings::engine_with_client(global, releaser.client().clone(), Some(0))?;
    let url_mirrors = crate::settings::url_mirrors(global)?;
    let executor = args.executor(&engine, url_mirrors)?;
    Ok(releaser.with_executor(executor, Arc::new(engine))?)
}

/// Prints a refusal the original reported with exit code 1; other errors go up.
pub(crate) fn refusal_or_error(
    err: plinth_release::Error,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if err.is_refusal() {
        let _ = printer;
        say(&err.to_string());
        if matches!(err, plinth_release::Error::ChecksFailed { .. }) {
            say("Aborting.");
        }
        Ok(ExitStatus::Failure)
    } else {
        Err(err.into())
    }
}

/// A line on stderr that `-q` does not hide (refusals are results).
pub(crate) fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
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
