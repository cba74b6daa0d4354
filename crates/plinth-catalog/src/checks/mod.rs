//! Sanity checks: commands run in a throw-away container of an image, with a pass rule each.
//!
//! A [`Check`] is plain data: an id and a [`CheckKind`] with its parameters. The checks of the
//! original tool keep their exact commands, pass rules and failure messages (see [`CheckKind`]).
//! Running them is abstracted behind [`CommandRunner`], which the engine implements with its
//! sandbox; [`Check::evaluate`] turns the command outputs into a [`CheckOutcome`], and
//! [`run_checks`] collects the outcomes of one platform into a [`CheckReport`] with human, JSON
//! and JUnit renderings.
//!
//! ```
//! use plinth_catalog::checks::{Check, CommandOutput, CommandRunner, CommandSpec, RunnerError};
//!
//! /// Answers `date` like a UTC container would.
//! struct Utc;
//! impl CommandRunner for Utc {
//!     fn run(&self, command: &CommandSpec) -> Result<CommandOutput, RunnerError> {
//!         assert_eq!(command.argv, ["date"]);
//!         Ok(CommandOutput::new(0, "Mon Jan  1 00:00:00 UTC 2024\n", ""))
//!     }
//! }
//!
//! let outcome = Check::timezone_is_utc().evaluate(&Utc);
//! assert!(outcome.passed());
//! assert_eq!(outcome.id, "timezone_is_utc");
//! ```

mod eval;
mod kind;
mod report;

use plinth_oci::ImageConfig;
use serde::{Deserialize, Serialize};

pub use eval::{CheckSession, Verdict, split_lines};
pub use kind::{Check, CheckKind, CustomCheck, CustomKind};
pub use report::{CheckReport, render_junit, run_checks};

/// The error a [`CommandRunner`] returns when it could not run a command at all (the sandbox
/// failed, the image is missing, …). A command that ran and exited non-zero is not an error: it is
/// a [`CommandOutput`] with its exit code.
pub type RunnerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One command to run in the container under test.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// The program and its arguments, run directly (no shell, no entrypoint).
    pub argv: Vec<String>,
    /// The user to run as; `None` runs as the image's configured user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Variables added to (or replacing those of) the image environment for this command only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
}

impl CommandSpec {
    /// `argv` as the image's user, with the image's environment.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            user: None,
            env: Vec::new(),
        }
    }

    /// The same command run as `user`.
    pub fn as_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The same command with one more environment variable.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The argv joined with spaces, for messages.
    pub fn display(&self) -> String {
        self.argv.join(" ")
    }
}

/// What a command printed and how it exited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The exit code (128 + signal number when killed by a signal, as shells report it).
    pub exit_code: i32,
    /// Standard output, decoded lossily as UTF-8.
    pub stdout: String,
    /// Standard error, decoded lossily as UTF-8.
    pub stderr: String,
}

impl CommandOutput {
    /// An output from its parts.
    pub fn new(exit_code: i32, stdout: impl Into<String>, stderr: impl Into<String>) -> Self {
        Self {
            exit_code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    /// Whether the command exited with 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// An entry of the container's filesystem as `lstat` describes it (a final symlink not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// `st_mode`: the file type bits and the permission bits.
    pub mode: u32,
    /// The owner's uid.
    pub uid: u32,
    /// The group's gid.
    pub gid: u32,
}

/// What reading a file of the container found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileContents {
    /// The file's bytes (symlinks followed inside the container's root).
    Bytes(Vec<u8>),
    /// Nothing at the path.
    Missing,
    /// A directory.
    Directory,
    /// Something without contents (a device, a pipe, a socket).
    Special,
}

/// The error of a runner that cannot read the container's filesystem.
pub const NO_FILESYSTEM_ACCESS: &str = "this check runner cannot read the image's filesystem";

/// Runs commands in a throw-away container derived from the image under test, for one platform.
///
/// Contract:
/// - Commands run directly (never through the image's entrypoint), in the image's workdir, with
///   the image's environment plus [`CommandSpec::env`].
/// - Filesystem changes made by one command are visible to the later commands **of the same
///   check** (`user_can_read_dir` creates a file, then reads it as another user). Before each
///   check the evaluator calls [`start_check`](Self::start_check); a runner that can should start
///   from the pristine image there, as the original tool did (every check derived its own
///   container). The published image is never changed.
/// - A command that ran returns `Ok` whatever its exit code. `Err` means it could not be run.
pub trait CommandRunner {
    /// Runs one command and returns its output.
    fn run(&self, command: &CommandSpec) -> Result<CommandOutput, RunnerError>;

    /// Called before each check (with its id); the default does nothing.
    fn start_check(&self, check_id: &str) -> Result<(), RunnerError> {
        let _ = check_id;
        Ok(())
    }

    /// The config of the image under test, for metadata checks; `None` by default.
    fn image_config(&self) -> Option<&ImageConfig> {
        None
    }

    /// The entry at `path` in the container's filesystem (with the changes of the check's earlier
    /// commands), read without running anything in the image; `None` when nothing is there.
    /// container-structure-test's file checks use this, so they work in images without a shell.
    /// The default cannot read files and says so.
    fn stat_file(&self, path: &str) -> Result<Option<FileStat>, RunnerError> {
        let _ = path;
        Err(NO_FILESYSTEM_ACCESS.into())
    }

    /// The contents of the file at `path`, as [`stat_file`](Self::stat_file) reads the filesystem.
    fn read_file(&self, path: &str) -> Result<FileContents, RunnerError> {
        let _ = path;
        Err(NO_FILESYSTEM_ACCESS.into())
    }
}

impl<T: CommandRunner + ?Sized> CommandRunner for &T {
    fn run(&self, command: &CommandSpec) -> Result<CommandOutput, RunnerError> {
        (**self).run(command)
    }

    fn start_check(&self, check_id: &str) -> Result<(), RunnerError> {
        (**self).start_check(check_id)
    }

    fn image_config(&self) -> Option<&ImageConfig> {
        (**self).image_config()
    }

    fn stat_file(&self, path: &str) -> Result<Option<FileStat>, RunnerError> {
        (**self).stat_file(path)
    }

    fn read_file(&self, path: &str) -> Result<FileContents, RunnerError> {
        (**self).read_file(path)
    }
}

/// The result of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The pass rule held.
    Passed,
    /// The image does not satisfy the check.
    Failed,
    /// The check could not be evaluated (a command could not be run, a metadata check without
    /// image config).
    Error,
}

impl CheckStatus {
    /// `passed`, `failed` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::Error => "error",
        }
    }
}

/// One command a check ran, with what came back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// The command.
    pub command: CommandSpec,
    /// Its output, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<CommandOutput>,
    /// Why it could not be run, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// The check's id.
    pub id: String,
    /// Passed, failed or error.
    pub status: CheckStatus,
    /// The failure message (the original tool's text where it had one); `None` when passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Every command run, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRecord>,
    /// The outcomes of the members of a group check (a custom kind with members).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<CheckOutcome>,
}

impl CheckOutcome {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.status == CheckStatus::Passed
    }

    /// The first line of the message (`""` without one): what a one-line summary shows.
    pub fn message_first_line(&self) -> &str {
        self.message
            .as_deref()
            .and_then(|m| m.lines().next())
            .unwrap_or("")
    }
}
