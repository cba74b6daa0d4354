//! The `plinth` command line as a library: a thin layer of argument parsing and drawing over the
//! library crates.
//!
//! The `plinth` binary calls [`main_with`] with the built-in catalog (`plinth-airbyte`). A team that declares
//! its own families in its own crate gets the whole CLI by calling [`main_with`] with its catalog:
//!
//! ```no_run
//! use plinth_catalog::Catalog;
//! fn main() -> std::process::ExitCode {
//!     let catalog = Catalog::new("team-base-images", "Team"); // add your families with `with_family`
//!     plinth_cli::main_with(catalog)
//! }
//! ```

mod build_progress;
mod checks_arg;
pub mod cli;
mod commands;
mod comparison_arg;
mod context_arg;
mod docker_flags;
mod engine_arg;
pub mod env;
mod exit_status;
mod image_arg;
mod logging;
mod output_arg;
pub mod printer;
mod progress;
mod prompt;
mod recipe_arg;
mod release_context;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use plinth_catalog::Catalog;

use crate::cli::Cli;
pub use crate::exit_status::ExitStatus;
use crate::printer::Printer;

/// Parses the process arguments and runs the command against `catalog`'s families.
pub fn main_with(catalog: Catalog) -> ExitCode {
    let cli = Cli::parse();
    let verbosity = cli.global.verbosity();
    logging::init(verbosity);
    let printer = match Printer::with_progress(verbosity, cli.global.progress) {
        Ok(printer) => printer,
        Err(message) => {
            print_error(&exit_status::usage_error(message));
            return ExitStatus::Usage.into();
        }
    };
    match commands::run(cli, printer, &catalog) {
        Ok(status) => status.into(),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            print_error(&err);
            exit_status::status_of_error(&err).into()
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

#[allow(clippy::print_stderr)]
fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    if let Some(hint) = commands::hint_for(err) {
        eprintln!("hint: {hint}");
    }
}
