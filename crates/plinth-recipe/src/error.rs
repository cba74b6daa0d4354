//! The error type of `plinth-recipe`.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while declaring, rendering or reading a recipe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Debian root address (`plinth/debian:SUITE…`) did not parse.
    #[error("invalid image source `{input}`: {reason}")]
    InvalidSource {
        /// The input, cut to 200 characters.
        input: String,
        /// Why it is invalid.
        reason: String,
    },
    /// An image location (`docker.io/x:1`, `oci:DIR[:NAME]`, `docker-archive:FILE[:REF]`) did not parse.
    #[error("invalid image source `{input}`")]
    InvalidReference {
        /// The input, cut to 200 characters.
        input: String,
        /// The parse error.
        #[source]
        source: plinth_oci::Error,
    },
    /// An image substitution (`FROM=TO`, the `--substitute-image` flag) did not parse.
    #[error("invalid image substitution `{input}`: {reason}")]
    InvalidSubstitution {
        /// The input, cut to 200 characters.
        input: String,
        /// Why it is invalid and how to write it.
        reason: String,
    },
    /// The recipe breaks a rule of the operation model (an empty argv, a relative cache path, …).
    #[error("invalid recipe:\n{}", bullet_list(.problems))]
    InvalidRecipe {
        /// One line per problem, naming the step.
        problems: Vec<String>,
    },
    /// `--target` names no stage of the Dockerfile.
    #[error("the target stage `{target}` is not in the Dockerfile; its named stages: {stages}")]
    Target {
        /// The target as given.
        target: String,
        /// The stage names, comma-separated (or how to name one).
        stages: String,
    },
    /// The recipe is valid but cannot be written as a Dockerfile that builds the same image.
    #[error("cannot write step #{n} as a Dockerfile: {reason}", n = .step + 1)]
    Unrepresentable {
        /// The 0-based index of the operation in its container.
        step: usize,
        /// What cannot be written and how to fix it.
        reason: String,
    },
    /// A file destination ends in `/` and the file's source has no name to put there.
    #[error("`{path}` names a directory and the file source has no name; give the full file path")]
    NamesDirectory {
        /// The destination as written.
        path: String,
    },
    /// A host path leads nowhere inside its build context (a symlink pointing out of the
    /// context lands inside it, as with BuildKit, and finds nothing there).
    #[error(
        "`{path}` resolves to `{resolved}` inside the build context, which does not exist there \
         (symlinks are followed inside the context only)"
    )]
    NotInContext {
        /// The path as given, relative to the context.
        path: PathBuf,
        /// Where it led, with the context as `/`.
        resolved: PathBuf,
    },
    /// The build context could not be read.
    #[error("failed to read `{path}` in the build context")]
    ContextIo {
        /// The host path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A base image of a Dockerfile could not be resolved to read its stages on its config.
    #[error("failed to resolve `{image}`, a base image of the Dockerfile, for {platform}")]
    BaseImage {
        /// The image as `FROM` names it.
        image: String,
        /// The platform read for.
        platform: String,
        /// Why (the resolver's error).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The Dockerfile reader found problems; all of them are listed.
    #[error("the Dockerfile cannot be read ({} problem{}):\n{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" }, bullet_list(.problems))]
    Dockerfile {
        /// Every problem found, in line order.
        problems: Vec<Problem>,
    },
}

/// `pub type Result<T>` for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem in a Dockerfile, with the line its instruction starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number of the instruction (or directive).
    pub line: usize,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

fn bullet_list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
