//! Exit codes: 0 success, 1 a command that failed or was refused, 2 a usage error (clap's code
//! for a bad command line, and ours for arguments that parse but make no sense).

use std::process::ExitCode;

/// The exit codes, as `plinth --help` documents them.
pub const EXIT_CODES_HELP: &str = "\
Exit status:
  0  success (also: a question answered \"no\", as nothing failed)
  1  a build, check, publish or other command failed or was refused
  2  usage error: a bad command line, flag value, reference or missing answer
  `plinth run` exits with the command's own code.";

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything worked.
    Success,
    /// The command ran and reports a negative result (a failed check or build, a refused release).
    Failure,
    /// The command line asked for something that cannot be done as written.
    Usage,
    /// The exit code of a command run in a container (`plinth run`).
    Code(i32),
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Usage => ExitCode::from(2),
            ExitStatus::Code(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        }
    }
}

/// An error in how the command was called (exit code 2); the message says what to write instead.
#[derive(Debug)]
pub struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error with `message`.
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// The exit status of a command that ended with `err`: usage errors (ours, and the libraries'
/// errors about input read from the command line) exit 2, everything else 1.
pub fn status_of_error(err: &anyhow::Error) -> ExitStatus {
    let usage = err.chain().any(|cause| {
        cause.is::<UsageError>()
            || matches!(
                cause.downcast_ref::<plinth_oci::Error>(),
                Some(
                    plinth_oci::Error::InvalidReference { .. }
                        | plinth_oci::Error::InvalidLocation { .. }
                )
            )
            || matches!(
                cause.downcast_ref::<plinth_catalog::Error>(),
                Some(
                    plinth_catalog::Error::InvalidVersion { .. }
                        | plinth_catalog::Error::UnknownBumpKind { .. }
                        | plinth_catalog::Error::UnknownFamily { .. }
                        | plinth_catalog::Error::UnknownVersion { .. }
                        | plinth_catalog::Error::RecipeUnknown { .. }
                        | plinth_catalog::Error::ParseCst { .. }
                        | plinth_catalog::Error::InvalidCst { .. }
                )
            )
    });
    if usage {
        ExitStatus::Usage
    } else {
        ExitStatus::Failure
    }
}
