//! The setup every release command shares (`generate-release`, `publish`, `generate-docs`,
//! `latest`, `upgrade-consumers`, `catalog`): the catalog directory, the target registry, the
//! releaser over the one registry-client factory, the executor, and how refusals are printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use plinth_catalog::checks::CheckReport;
use plinth_catalog::{Catalog, file_family};
use plinth_executor::BuildReporter;
use plinth_registry::{Client, Credential, Credentials, Secret, TagListOptions};
use plinth_release::{ReleaseReporter, ReleaseSettings, Releaser, Target};

use crate::ExitStatus;
use crate::build_progress::BuildProgress;
use crate::cli::GlobalArgs;
use crate::engine_arg::EngineArgs;
use crate::printer::{Printer, Verbosity};
use crate::progress::TransferProgress;
use crate::prompt;
use crate::settings::open_store;

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

    fn push_reporter(&self) -> Arc<dyn plinth_registry::TransferReporter> {
        Arc::new(TransferProgress::new(self.printer))
    }
}

/// The catalog directory: `--catalog-dir`, else the nearest directory at or above the working
/// directory holding `generated/changelogs`, `families/` or `catalog.toml`, else `./catalog`.
pub(crate) fn catalog_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &global.catalog_dir {
        return Ok(dir.clone());
    }
    let cwd = std::env::current_dir().context("failed to read the working directory")?;
    Ok(cwd
        .ancestors()
        .find(|d| {
            d.join(plinth_catalog::CHANGELOG_DIR).is_dir()
                || d.join(file_family::FAMILIES_DIR).is_dir()
                || d.join(file_family::CATALOG_TOML).is_file()
        })
        .map_or_else(|| cwd.join("catalog"), Path::to_path_buf))
}

/// The binary's catalog with the file families of the catalog directory
/// (`families/<name>/family.toml`) and what its `catalog.toml` says.
pub(crate) fn full_catalog(global: &GlobalArgs, base: &Catalog) -> anyhow::Result<Catalog> {
    let dir = catalog_dir(global)?;
    file_family::extend_catalog(base, &dir).with_context(|| {
        format!(
            "failed to read the file families of the catalog directory `{}`",
            dir.display()
        )
    })
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
fn release_client(
    global: &GlobalArgs,
    printer: Printer,
    ask: bool,
    store: plinth_oci::Store,
) -> anyhow::Result<Client> {
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
    crate::settings::registry_client_with(global, store, credentials)
}

/// The releaser of a release command. `ask_credentials`: the command may push.
pub(crate) fn open_releaser(
    global: &GlobalArgs,
    catalog: &Catalog,
    listing: &ListingArgs,
    printer: Printer,
    ask_credentials: bool,
) -> anyhow::Result<Releaser> {
    open_releaser_in(
        global,
        catalog,
        listing,
        printer,
        ask_credentials,
        open_store()?,
    )
}

/// [`open_releaser`] over `store` instead of the local store (`verify --rebuild` builds in an
/// empty one).
pub(crate) fn open_releaser_in(
    global: &GlobalArgs,
    catalog: &Catalog,
    listing: &ListingArgs,
    printer: Printer,
    ask_credentials: bool,
    store: plinth_oci::Store,
) -> anyhow::Result<Releaser> {
    let client = release_client(global, printer, ask_credentials, store)?;
    let options = TagListOptions {
        ttl: Duration::from_secs(listing.cache_ttl),
        refresh: listing.refresh,
        ..TagListOptions::default()
    };
    let settings = ReleaseSettings::new(catalog_dir(global)?)
        .with_target(target(global))
        .with_tag_options(options)
        .with_image_substitutions(crate::recipe_arg::image_substitutions(global)?)
        .with_source_date_epoch(Some(crate::settings::build_epoch()?));
    Ok(Releaser::new(
        catalog.clone(),
        client,
        settings,
        Arc::new(CliReporter { printer }),
    )?)
}

/// The releaser building with `--engine` and checking with the embedded engine, both over the
/// releaser's client (same store, credentials and mirrors) and the `--url-mirror`s. Layer times
/// are clamped to `SOURCE_DATE_EPOCH` (0 by default, as for `plinth build`) so a rebuild of a version gives the digest
/// it was published with.
pub(crate) fn with_executor(
    global: &GlobalArgs,
    releaser: Releaser,
    args: &EngineArgs,
) -> anyhow::Result<Releaser> {
    let engine = crate::settings::engine_with_client(global, releaser.client().clone(), false)?;
    let url_mirrors = crate::settings::url_mirrors(global)?;
    let executor = args.executor(&engine, url_mirrors)?;
    let engine = Arc::new(engine);
    Ok(releaser.with_executor(executor, engine.clone(), engine)?)
}

/// Prints a refusal the original reported with exit code 1; other errors go up.
pub(crate) fn refusal_or_error(
    err: plinth_release::Error,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if err.is_refusal() {
        printer.refusal(err.to_string());
        if matches!(err, plinth_release::Error::ChecksFailed { .. }) {
            printer.refusal("Aborting.");
        }
        Ok(ExitStatus::Failure)
    } else {
        Err(err.into())
    }
}
