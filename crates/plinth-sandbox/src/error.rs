//! The one error type of the sandbox crate.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// Everything that can go wrong while preparing, running or supervising a sandboxed process.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The run specification is not usable as given.
    #[error("invalid sandbox spec: {0}")]
    InvalidSpec(String),

    /// The process is not root and cannot create the namespaces and mounts a sandbox needs.
    #[error(
        "the sandbox needs root (running as uid {euid}); {userns}; run plinth as root (for example with sudo)"
    )]
    NotRoot {
        /// The effective uid of this process.
        euid: u32,
        /// What was found out about user namespaces, which a future rootless mode would use.
        userns: String,
    },

    /// The user named in the spec does not exist in the rootfs.
    #[error("unable to find user `{user}` in the rootfs's /etc/passwd")]
    UserNotFound {
        /// The user part of the user spec.
        user: String,
    },

    /// The group named in the spec does not exist in the rootfs.
    #[error("unable to find group `{group}` in the rootfs's /etc/group")]
    GroupNotFound {
        /// The group name.
        group: String,
    },

    /// A file of the rootfs could not be read safely.
    #[error("failed to read `{path}` from the rootfs: {reason}")]
    RootfsFile {
        /// The path inside the rootfs.
        path: String,
        /// Why it could not be read.
        reason: String,
    },

    /// A host-side file operation failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The host path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// A system call in the supervising process failed.
    #[error("failed to {action}")]
    Sys {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The cause.
        #[source]
        source: Errno,
    },

    /// The user-mode network of a run (slirp4netns) is missing or failed to start.
    #[error("failed to give the run its network: {0}")]
    NetworkHelper(String),

    /// Setting up the sandbox in the child process failed before the command started.
    #[error("failed to set up the sandbox: {step}")]
    Setup {
        /// The failing setup step, for example ``mount overlay at `/…/root` ``.
        step: String,
        /// The errno reported by the child.
        #[source]
        source: Errno,
    },

    /// The command could not be executed inside the rootfs.
    #[error("failed to execute `{program}` in the sandbox (searched {searched})")]
    Exec {
        /// argv\[0\].
        program: String,
        /// The paths that were tried, comma separated.
        searched: String,
        /// The errno of the last attempt.
        #[source]
        source: Errno,
    },

    /// The binfmt_misc handler for a foreign architecture is missing or unusable.
    #[error("{0}")]
    Binfmt(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sys(action: &'static str, source: Errno) -> Self {
        Error::Sys { action, source }
    }
}
