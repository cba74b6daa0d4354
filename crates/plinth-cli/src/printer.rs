//! The one place user-facing output goes through (logs go through `tracing`).

use std::io::{self, IsTerminal, Write};

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

/// Writes results to stdout and messages to stderr.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    verbosity: Verbosity,
}

impl Printer {
    /// A printer for the given verbosity.
    pub fn new(verbosity: Verbosity) -> Self {
        Self { verbosity }
    }

    /// The verbosity.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Whether progress bars may be drawn: a TTY on stderr, not quiet, not verbose, not disabled.
    pub fn progress_bars(&self) -> bool {
        self.verbosity == Verbosity::Normal
            && io::stderr().is_terminal()
            && std::env::var_os(crate::env::PLINTH_NO_PROGRESS).is_none()
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
