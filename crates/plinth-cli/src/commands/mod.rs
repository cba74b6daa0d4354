//! One module per command; each holds its args and a short `run` over the libraries.

pub mod build;
pub mod catalog;
pub mod check;
pub mod completions;
pub mod copy;
pub mod diff;
pub mod dockerfile;
pub mod gc;
pub mod generate_docs;
pub mod generate_release;
pub mod inspect;
pub mod latest;
pub mod ls;
pub mod man;
pub mod outdated;
pub mod provenance;
pub mod publish;
pub mod run;
pub mod sbom;
pub mod upgrade_consumers;
pub mod verify;

use crate::ExitStatus;
use crate::cli::{Cli, Command};
use crate::printer::Printer;

/// Runs the parsed command line.
pub fn run(
    cli: Cli,
    printer: Printer,
    catalog: &plinth_catalog::Catalog,
) -> anyhow::Result<ExitStatus> {
    let uses_catalog = matches!(
        cli.command,
        Command::Build(_)
            | Command::Check(_)
            | Command::Dockerfile(_)
            | Command::GenerateRelease(_)
            | Command::Publish(_)
            | Command::GenerateDocs(_)
            | Command::Catalog(_)
            | Command::Outdated(_)
            | Command::Latest(_)
            | Command::UpgradeConsumers(_)
            | Command::Diff(_)
            | Command::Verify(_)
            | Command::Sbom(_)
            | Command::Provenance(_)
    );
    // File families live in the catalog directory, so they join the catalog per command.
    let catalog = &if uses_catalog {
        crate::release_context::full_catalog(&cli.global, catalog)?
    } else {
        catalog.clone()
    };
    match cli.command {
        Command::Inspect(args) => inspect::run(args, &cli.global, printer),
        Command::Sbom(args) => sbom::run(args, &cli.global, printer, catalog),
        Command::Ls(args) => ls::run(args, &cli.global, printer),
        Command::Copy(args) => copy::run(args, &cli.global, printer),
        Command::Diff(args) => diff::run(args, &cli.global, printer, catalog),
        Command::Verify(args) => verify::run(args, &cli.global, printer, catalog),
        Command::Gc(args) => gc::run(args, &cli.global, printer),
        Command::Build(args) => build::run(args, &cli.global, printer, catalog),
        Command::Check(args) => check::run(args, &cli.global, printer, catalog),
        Command::Dockerfile(args) => dockerfile::run(args, printer, catalog),
        Command::Run(args) => run::run(args, &cli.global, printer),
        Command::GenerateRelease(args) => {
            generate_release::run(args, &cli.global, printer, catalog)
        }
        Command::Publish(args) => publish::run(args, &cli.global, printer, catalog),
        Command::GenerateDocs(args) => generate_docs::run(args, &cli.global, printer, catalog),
        Command::Catalog(args) => catalog::run(args, &cli.global, printer, catalog),
        Command::Outdated(args) => outdated::run(args, &cli.global, printer, catalog),
        Command::Provenance(args) => provenance::run(args, &cli.global, printer, catalog),
        Command::Latest(args) => latest::run(args, &cli.global, printer, catalog),
        Command::UpgradeConsumers(args) => {
            upgrade_consumers::run(args, &cli.global, printer, catalog)
        }
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args, printer),
    }
}

/// A hint that tells the user how to fix a known kind of error.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        let pins = plinth_release::outdated::vanished_apt_pins(&cause.to_string());
        if !pins.is_empty() {
            return Some(format!(
                "the archive no longer carries the apt pin{} {}; `plinth outdated` with the same recipe \
                 arguments lists the versions it carries (declare a new version with one of them)",
                if pins.len() == 1 { "" } else { "s" },
                pins.iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(oci) = cause.downcast_ref::<plinth_oci::Error>() {
            match oci {
                plinth_oci::Error::InvalidReference { .. } => {
                    return Some("write references as `[registry/]repository[:tag][@sha256:digest]`, e.g. `python:3.10` or `127.0.0.1:5000/team/base:1.0.0`".into());
                }
                plinth_oci::Error::BlobNotFound(_) => {
                    return Some(
                        "the local store is missing content; pull or build the image again".into(),
                    );
                }
                _ => {}
            }
        }
    }
    None
}
