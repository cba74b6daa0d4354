//! `plinth man`: the manual page (roff) on stdout, or one page per command written to a directory.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory as _};

use crate::ExitStatus;
use crate::cli::Cli;
use crate::printer::Printer;

/// Arguments of `plinth man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `plinth.1` and a `plinth-COMMAND.1` page per command into this directory (for
    /// `/usr/local/share/man/man1`) instead of printing `plinth.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `plinth man`.
pub fn run(args: ManArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let mut command = Cli::command();
    command.build();
    let Some(dir) = args.dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        std::io::stdout().lock().write_all(&page)?;
        return Ok(ExitStatus::Success);
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("failed to create `{}`", dir.display()))?;
    let mut pages = vec![command.clone()];
    pages.extend(command.get_subcommands().cloned());
    for page in pages {
        let man = clap_mangen::Man::new(page);
        let mut text = Vec::new();
        man.render(&mut text)?;
        let path = dir.join(man.get_filename());
        plinth_release::record::write_atomic(&path, &text)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
    }
    printer.status(format!("wrote the manual pages to {}", dir.display()));
    Ok(ExitStatus::Success)
}
