//! The buildable Dockerfile view: a Dockerfile that `docker build` (BuildKit) turns into the same
//! filesystem and config as the recipe, plus the [`BuildContext`] it needs.
//!
//! - `RUN` uses the exec form (`RUN ["sh","-c","…"]`), so argv is kept exactly.
//! - Active cache mounts become `RUN --mount=type=cache,target=…,id=<volume>[,uid=…,gid=…]` on every
//!   later `RUN`; a cache owner given as a name needs numeric ids: from [`BuildableOptions`], else
//!   those the recipe creates the user with (`adduser --uid 1000 --group airbyte`).
//! - An entrypoint is followed by `CMD []`, because the recipe's entrypoint clears inherited
//!   default arguments.
//! - Downloads become `ADD [--checksum=sha256:…] <url> <dest>`; unpinned ones get a comment.
//! - Host files, host directories and literal bytes are `COPY`'d from the build context, which the
//!   backend materialises from [`BuildContext::entries`] (`file-<n>`, `dir-<n>`).
//! - Helper containers become named stages (`FROM bash:latest AS stage0`) used by `COPY --from`.
//! - Root images from an OCI layout or docker-archive are named `plinth-image-<n>`; the backend
//!   passes them as named build contexts ([`BuildContext::images`]).
//! - `# syntax=docker/dockerfile:1` is added only when a feature needs it (`RUN --mount`,
//!   `RUN --network`, `ADD --checksum`, `--chmod`), unless turned off.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::Container;
use crate::error::Result;
use crate::source::ImageSource;

mod flags;
mod writer;

use writer::Writer;

/// The `# syntax=` line written when a feature needs the external frontend.
pub const SYNTAX_HEADER: &str = "# syntax=docker/dockerfile:1";

/// Options of the buildable view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildableOptions {
    owner_ids: BTreeMap<String, (u32, u32)>,
    syntax_header: bool,
}

impl Default for BuildableOptions {
    fn default() -> Self {
        Self {
            owner_ids: BTreeMap::new(),
            syntax_header: true,
        }
    }
}

impl BuildableOptions {
    /// Defaults: no owner ids, syntax header when needed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Numeric ids for an owner name (`airbyte`) or spec (`airbyte:airbyte`) of cache mounts.
    pub fn with_owner_ids(mut self, owner: impl Into<String>, uid: u32, gid: u32) -> Self {
        self.owner_ids.insert(owner.into(), (uid, gid));
        self
    }

    /// Never write the `# syntax=` line (for a builder whose built-in frontend is recent enough
    /// and which cannot pull the frontend image).
    pub fn without_syntax_header(mut self) -> Self {
        self.syntax_header = false;
        self
    }
}

/// A rendered Dockerfile with the context it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildableDockerfile {
    /// The Dockerfile text (ends with a newline).
    pub text: String,
    /// What the backend must provide next to it.
    pub context: BuildContext,
}

/// What the backend materialises for a [`BuildableDockerfile`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildContext {
    /// Files and directories of the context directory, by relative path.
    pub entries: Vec<ContextEntry>,
    /// Named build contexts standing for local root images.
    pub images: Vec<NamedImage>,
}

/// One path of the build context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextEntry {
    /// Path relative to the context root (`file-0`, `dir-1`).
    pub path: String,
    /// What to put there.
    pub source: ContextSource,
}

/// Contents of a context entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextSource {
    /// Literal bytes for a file.
    Bytes(Vec<u8>),
    /// A host file to copy.
    HostFile(PathBuf),
    /// A host directory to copy recursively.
    HostDir(PathBuf),
    /// A build-context directory to copy recursively through its ignore patterns
    /// ([`crate::ignore::IgnoreRules::kept`]), as [`DirectorySource::HostIgnoring`] holds it.
    HostDirIgnoring {
        /// The directory on the host.
        path: PathBuf,
        /// Its path in the context the patterns apply to.
        within: String,
        /// The patterns.
        ignore: Vec<String>,
    },
}

/// A named build context for a local root image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedImage {
    /// The name used in `FROM`.
    pub name: String,
    /// The image.
    pub source: ImageSource,
}

impl Container {
    /// Renders the buildable Dockerfile view (see [`crate::buildable`]).
    pub fn buildable_dockerfile(&self, options: &BuildableOptions) -> Result<BuildableDockerfile> {
        self.validate()?;
        let mut w = Writer::new(options);
        w.render_stage(self, None)?;
        let mut text = String::new();
        if w.needs_syntax && options.syntax_header {
            text.push_str(SYNTAX_HEADER);
            text.push('\n');
        }
        text.push_str(&w.blocks.join("\n\n"));
        text.push('\n');
        Ok(BuildableDockerfile {
            text,
            context: w.context,
        })
    }
}
