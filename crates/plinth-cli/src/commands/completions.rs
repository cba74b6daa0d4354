//! `plinth completions SHELL`: a completion script for bash, zsh or fish on stdout.

use std::io::Write as _;

use clap::{Args, CommandFactory as _, ValueEnum};

use crate::ExitStatus;
use crate::cli::Cli;

/// A shell plinth writes completions for.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    /// `source <(plinth completions bash)`, or save to `/etc/bash_completion.d/plinth`.
    Bash,
    /// Save as `_plinth` in a directory of `$fpath`.
    Zsh,
    /// Save to `~/.config/fish/completions/plinth.fish`.
    Fish,
}

/// Arguments of `plinth completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Runs `plinth completions`.
pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    match args.shell {
        Shell::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut command, &name, &mut script)
        }
        Shell::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut command, &name, &mut script)
        }
        Shell::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut command, &name, &mut script)
        }
    }
    std::io::stdout().lock().write_all(&script)?;
    Ok(ExitStatus::Success)
}
