//! The one place user-facing output goes through (logs go through `tracing`).

use std::io::{self, IsTerminal, Write};

use crate::cli::ProgressArg;

/// How chatty the CLI is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: only results and errors.
    Quiet,
    /// The default.
    Normal,
    /// `-v`: logs at debug level; progress bars give way to plain lines.
    Verbose,
}

/// How progress is drawn (`--progress`, resolved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drawing {
    /// Spinners and bars redrawn in place on the terminal.
    Bars,
    /// Plain lines, BuildKit's plain progress.
    Plain,
}

/// Writes results to stdout and messages to stderr.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    verbosity: Verbosity,
    drawing: Drawing,
}

impl Printer {
    /// A printer for the given verbosity, with `--progress auto`.
    pub fn new(verbosity: Verbosity) -> Self {
        Self::with_progress(verbosity, ProgressArg::Auto).unwrap_or(Self {
            verbosity,
            drawing: Drawing::Plain,
        })
    }

    /// A printer for the given verbosity and `--progress`: `auto` draws bars when stderr is a
    /// terminal (not under `-v` or `PLINTH_NO_PROGRESS`); `tty` insists on a terminal, as buildx
    /// does, and fails with the way out otherwise.
    pub fn with_progress(verbosity: Verbosity, progress: ProgressArg) -> Result<Self, String> {
        let terminal = io::stderr().is_terminal();
        let drawing = match progress {
            ProgressArg::Tty if !terminal => {
                return Err(
                    "`--progress tty` needs stderr to be a terminal; use `--progress plain`".into(),
                );
            }
            ProgressArg::Tty => Drawing::Bars,
            ProgressArg::Plain | ProgressArg::Quiet => Drawing::Plain,
            ProgressArg::Auto
                if terminal
                    && verbosity == Verbosity::Normal
                    && std::env::var_os(crate::env::PLINTH_NO_PROGRESS).is_none() =>
            {
                Drawing::Bars
            }
            ProgressArg::Auto => Drawing::Plain,
        };
        Ok(Self { verbosity, drawing })
    }

    /// The verbosity.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Whether progress bars are drawn (`--progress tty`, or `auto` on a terminal).
    pub fn progress_bars(&self) -> bool {
        self.drawing == Drawing::Bars && self.verbosity != Verbosity::Quiet
    }

    /// A result line on stdout (always printed, also under `-q`).
    pub fn result(&self, line: impl AsRef<str>) {
        let mut out = io::stdout().lock();
        // A closed pipe (`plinth ls … | head`) is not an error worth reporting.
        let _ = writeln!(out, "{}", line.as_ref());
    }

    /// A status message on stderr (hidden under `-q`).
    pub fn status(&self, line: impl AsRef<str>) {
        if self.verbosity != Verbosity::Quiet {
            let _ = writeln!(io::stderr().lock(), "{}", line.as_ref());
        }
    }

    /// A message on stderr shown even under `-q`: what failed and why.
    pub fn always(&self, line: impl AsRef<str>) {
        let _ = writeln!(io::stderr().lock(), "{}", line.as_ref());
    }

    /// A refusal or a negative outcome on stderr, shown also under `-q`: it is the command's
    /// result, as the original printed it (`Unknown base image name: …`, `Aborting.`).
    pub fn refusal(&self, line: impl AsRef<str>) {
        let _ = writeln!(io::stderr().lock(), "{}", line.as_ref());
    }

    /// A warning on stderr (always shown).
    pub fn warn(&self, line: impl AsRef<str>) {
        let _ = writeln!(io::stderr().lock(), "warning: {}", line.as_ref());
    }
}
