//! [`Executor`]: what builds a recipe into the store.

use plinth_oci::Store;
use plinth_recipe::Container;

use crate::error::Result;
use crate::options::BuildOptions;
use crate::result::BuildResult;

/// Builds recipes into a [`Store`]. Two implementations: the embedded engine
/// (`plinth_engine::Engine`, the default) and BuildKit (`plinth_buildkit::BuildkitBackend`).
/// Whoever builds (the CLI's `build`, the release flow) holds one `dyn Executor` and never
/// needs to know which.
///
/// An executor builds `container` for every platform of [`BuildOptions::platforms`], writes
/// the images (an index over several platforms) into [`store`](Self::store), points
/// [`BuildOptions::tag`] at the result, reports each step to [`BuildOptions::reporter`] and
/// returns one [`PlatformBuild`](crate::PlatformBuild) per platform with its step reports and
/// URL inputs.
pub trait Executor: Send + Sync {
    /// A short name for messages and records (`embedded`, `buildkit`).
    fn name(&self) -> &'static str;

    /// The store results land in.
    fn store(&self) -> &Store;

    /// Builds `container` for every platform of `options`. A failure is
    /// [`Error::Build`](crate::Error::Build) holding the executor's own error.
    fn build(&self, container: &Container, options: &BuildOptions) -> Result<BuildResult>;
}
