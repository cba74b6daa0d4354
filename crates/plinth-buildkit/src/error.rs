//! The one error type of the crate.

use std::path::PathBuf;

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while building with BuildKit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `docker` client on this machine can drive BuildKit.
    #[error(
        "no docker client that can build with BuildKit was found ({tried}); install the buildx plugin \
         (`apt-get install docker-buildx`), or point {env} at a docker client that has it or is older than 23 \
         (those build with BuildKit themselves)",
        env = crate::DOCKER_CLIENT_ENV
    )]
    NoDockerClient {
        /// What was tried and why each candidate was refused.
        tried: String,
    },

    /// A builder did not answer.
    #[error(
        "cannot reach the BuildKit builder `{builder}` for {platform}: {detail}\n\
         check it with `{check}` (is the daemon running, the address right, the ssh key loaded?)"
    )]
    BuilderUnreachable {
        /// The builder as given (`ssh://arm-host`, a context name, `local`).
        builder: String,
        /// The platform it was meant to build.
        platform: String,
        /// The command that shows the problem.
        check: String,
        /// The last lines the docker client printed.
        detail: String,
    },

    /// A `--builder` value could not be parsed.
    #[error("invalid builder `{input}`: {reason}")]
    InvalidBuilder {
        /// The text given.
        input: String,
        /// Why it was refused.
        reason: String,
    },

    /// The recipe cannot be rendered as a buildable Dockerfile.
    #[error("the recipe cannot be built with BuildKit")]
    Recipe(#[source] plinth_recipe::Error),

    /// A recipe step cannot be prepared for BuildKit.
    #[error("step #{n} cannot be built with BuildKit: {reason}", n = .index + 1)]
    Step {
        /// 0-based index of the operation.
        index: usize,
        /// Why.
        reason: String,
    },

    /// A URL input could not be fetched or did not match its pin (through the
    /// [`UrlFetcher`](plinth_executor::UrlFetcher) both executors share, so with the same
    /// messages).
    #[error(transparent)]
    Input(#[from] plinth_executor::Error),

    /// BuildKit failed the build.
    #[error("{0}")]
    BuildFailed(Box<crate::progress::BuildFailure>),

    /// A root could not be resolved into the store to be handed to the builder.
    #[error("cannot get the root image `{image}` for {platform} to hand it to the builder")]
    Root {
        /// The root's address, as in the recipe.
        image: String,
        /// The platform.
        platform: String,
        /// Why (the resolver's error: pull, import or bootstrap).
        #[source]
        source: plinth_executor::RootError,
    },

    /// `--load` cannot reach a docker daemon (the message says what to do instead).
    #[error("{0}")]
    Load(String),

    /// A docker command other than the build failed.
    #[error("`{command}` failed ({status}): {detail}")]
    Docker {
        /// The command, without credentials (plinth never passes any on the command line).
        command: String,
        /// The exit status.
        status: String,
        /// The last lines it printed.
        detail: String,
    },

    /// BuildKit built an image for another platform than asked.
    #[error(
        "the builder `{builder}` made a {got} image when {platform} was asked for; \
         check that the base image has a {platform} variant"
    )]
    WrongPlatform {
        /// The builder.
        builder: String,
        /// The platform asked for.
        platform: String,
        /// The platform of the result.
        got: String,
    },

    /// The image a builder made does not hold together (its layers and diff_ids disagree).
    #[error("the image the builder `{builder}` made for {platform} cannot be used")]
    Import {
        /// The builder.
        builder: String,
        /// The platform built.
        platform: String,
        /// Why.
        #[source]
        source: Box<plinth_executor::Error>,
    },

    /// The store failed (import, index, refs).
    #[error(transparent)]
    Store(#[from] plinth_oci::Error),

    /// A file operation failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] maker for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
