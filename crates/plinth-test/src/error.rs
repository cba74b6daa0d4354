//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while setting up a test fixture.
///
/// Most helpers in this crate panic with a message built from this error, since a fixture that
/// cannot start is a broken test environment; the `try_*` variants return it for callers that
/// want to handle it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation on a fixture path failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done, e.g. "create directory".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An external program could not be started.
    #[error("failed to start `{program}`; {hint}")]
    Spawn {
        /// The program that was run.
        program: String,
        /// How to get it.
        hint: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The registry process did not come up.
    #[error("registry did not become ready on {addr}: {reason}; its log says:\n{log}")]
    RegistryNotReady {
        /// The address it was told to listen on.
        addr: String,
        /// What was observed.
        reason: String,
        /// The tail of its log.
        log: String,
    },
    /// Hashing a password for the htpasswd file failed.
    #[error("failed to hash the registry test password")]
    Bcrypt(#[from] bcrypt::BcryptError),
    /// A fixture precondition does not hold (a missing tool, a wrong binary).
    #[error("{0}")]
    Environment(String),
    /// Writing a test image into a store failed.
    #[error("failed to write a test image into the store")]
    Oci(#[from] plinth_oci::Error),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds an [`Error::Io`] from an action and a path.
pub(crate) fn io_error(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
