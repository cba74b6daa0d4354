//! The one error type of the engine crate.

use std::path::PathBuf;

use plinth_oci::Digest;

/// Everything that can stop a build, an export or a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The recipe breaks the rules of the operation model.
    #[error("the recipe is invalid")]
    Recipe(#[source] plinth_recipe::Error),

    /// A store, layer, layout or archive operation failed.
    #[error(transparent)]
    Oci(Box<plinth_oci::Error>),

    /// Talking to a registry failed.
    #[error("failed to pull `{image}` for {platform}")]
    Pull {
        /// The image reference.
        image: String,
        /// The platform wanted.
        platform: String,
        /// The cause.
        #[source]
        source: Box<plinth_registry::Error>,
    },

    /// The sandbox could not run a step (setup failure, not the command's exit code).
    #[error("failed to run {what} in the sandbox")]
    Sandbox {
        /// The step or command, for example ``step 3 `RUN ["true"]` ``.
        what: String,
        /// The cause.
        #[source]
        source: Box<plinth_sandbox::Error>,
    },

    /// A step's command exited with a non-zero status.
    #[error(
        "step #{step} ({platform}) failed: `{argv}` exited with {status}\n--- last lines of output ---\n{tail}",
        step = .index + 1
    )]
    StepFailed {
        /// 0-based index of the step in the recipe.
        index: usize,
        /// The platform being built.
        platform: String,
        /// The command, as JSON.
        argv: String,
        /// The exit status, as text (`exit code 2`, `killed by signal 9`).
        status: String,
        /// The exit code (`128 + signal` when killed).
        exit_code: i32,
        /// The last lines of the combined output.
        tail: String,
    },

    /// arm64 (or another foreign platform) cannot run on this machine.
    #[error("cannot build for {platform} on this machine")]
    Platform {
        /// The platform.
        platform: String,
        /// Why, with how to fix it.
        #[source]
        source: Box<plinth_sandbox::Error>,
    },

    /// A URL input could not be fetched or did not match its pin, or an image's layers and
    /// diff_ids disagree.
    #[error(transparent)]
    Input(#[from] plinth_executor::Error),

    /// A file, directory or user named by the recipe could not be used.
    // Steps are numbered from 1 in messages, as the progress display shows them.
    #[error("step #{step}: {reason}", step = .index + 1)]
    Step {
        /// 0-based index of the step.
        index: usize,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// An owner or user could not be resolved in the image.
    #[error("step #{step}: cannot resolve owner `{owner}` in the image", step = .index + 1)]
    Owner {
        /// 0-based index of the step.
        index: usize,
        /// The owner spec.
        owner: String,
        /// The cause.
        #[source]
        source: Box<plinth_sandbox::Error>,
    },

    /// A host-side file operation failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A cache or build record in the store is not what the engine wrote.
    #[error(
        "corrupt engine record `{name}`: {reason}; delete it with `plinth gc` or remove the ref"
    )]
    CorruptRecord {
        /// The ref or blob.
        name: String,
        /// What is wrong.
        reason: String,
    },

    /// A Debian archive's `InRelease` was refused (bad signature, expired, wrong suite), or a
    /// package index does not match what its `InRelease` lists.
    #[error("refusing the Debian archive at `{url}`: {reason}")]
    DebianArchive {
        /// The `InRelease` or index URL.
        url: String,
        /// What is wrong, with how to fix it.
        reason: String,
    },

    /// A Debian archive's `InRelease` could not be downloaded.
    #[error(
        "cannot reach the Debian archive at `{url}`: {reason}; check the network or give `--apt-mirror`"
    )]
    DebianUnreachable {
        /// The `InRelease` URL.
        url: String,
        /// The status line or transport error.
        reason: String,
    },

    /// A root from Debian's archive could not be made.
    #[error("cannot make the Debian root `{root}` for {platform}: {reason}")]
    Bootstrap {
        /// The root's address.
        root: String,
        /// The platform.
        platform: String,
        /// What went wrong (mmdebstrap's last lines of output).
        reason: String,
    },

    /// The image to export or run is not in the store or not usable.
    #[error("{0}")]
    Image(String),

    /// A stored layer did not match its digest: it was removed from the store, and the next
    /// pull fetches it again (a build does that at once, once).
    #[error(
        "layer `{layer}` was corrupt in the local store and has been removed; run the command again to fetch it from its source"
    )]
    CorruptLayer {
        /// The layer blob.
        layer: Digest,
        /// What unpacking it ran into.
        #[source]
        source: Box<plinth_oci::Error>,
    },

    /// A layer of an image could not be unpacked (hostile, corrupt or truncated).
    #[error("failed to unpack layer `{layer}`")]
    UnpackLayer {
        /// The layer blob.
        layer: Digest,
        /// The cause (it names the entry).
        #[source]
        source: Box<plinth_oci::Error>,
    },
}

impl From<plinth_oci::Error> for Error {
    fn from(e: plinth_oci::Error) -> Self {
        Error::Oci(Box::new(e))
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The exit code of the failed step, when the error is a failing step.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Error::StepFailed { exit_code, .. } => Some(*exit_code),
            _ => None,
        }
    }
}
