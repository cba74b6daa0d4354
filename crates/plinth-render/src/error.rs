//! The error type of `plinth-render`.

/// What can go wrong while rendering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The README template failed to render (a bug in the template or its context).
    #[error("failed to render the README template")]
    Template(#[source] Box<minijinja::Error>),
    /// A value could not be encoded as JSON.
    #[error("failed to encode the registry JSON")]
    Json(#[source] serde_json::Error),
}

impl From<minijinja::Error> for Error {
    fn from(e: minijinja::Error) -> Self {
        Self::Template(Box::new(e))
    }
}

/// `Result` with the renderer's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
