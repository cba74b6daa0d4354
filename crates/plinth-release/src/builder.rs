//! [`ImageBuilder`]: what builds a version's recipe into the store. Two implementations: the
//! embedded engine ([`plinth_engine::Engine`], the default) and BuildKit
//! ([`plinth_buildkit::BuildkitBackend`]). The release flow only needs the result in the store;
//! checks and pushes always go through the embedded engine's store and registry client, so a
//! builder must write into that same store.

use plinth_buildkit::BuildkitBackend;
use plinth_engine::{BuildOptions, BuildResult, Engine};
use plinth_oci::Store;
use plinth_recipe::Container;

/// Why a builder failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The embedded engine failed.
    #[error(transparent)]
    Engine(#[from] plinth_engine::Error),
    /// BuildKit failed.
    #[error(transparent)]
    Buildkit(#[from] plinth_buildkit::Error),
    /// Writing the index over separately built platforms failed.
    #[error(transparent)]
    Store(#[from] plinth_oci::Error),
}

/// Builds a recipe for the platforms of [`BuildOptions`] into [`store`](Self::store), points
/// [`BuildOptions::tag`] at the result and reports steps to [`BuildOptions::reporter`].
pub trait ImageBuilder: Send + Sync {
    /// A short name for messages (`embedded`, `buildkit`).
    fn name(&self) -> &'static str;
    /// The store results land in.
    fn store(&self) -> &Store;
    /// Builds `container` for every platform of `options`.
    fn build(
        &self,
        container: &Container,
        options: &BuildOptions,
    ) -> Result<BuildResult, BuildError>;
}

impl ImageBuilder for Engine {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn store(&self) -> &Store {
        Engine::store(self)
    }

    fn build(
        &self,
        container: &Container,
        options: &BuildOptions,
    ) -> Result<BuildResult, BuildError> {
        Ok(Engine::build(self, container, options)?)
    }
}

impl ImageBuilder for BuildkitBackend {
    fn name(&self) -> &'static str {
        "buildkit"
    }

    fn store(&self) -> &Store {
        BuildkitBackend::store(self)
    }

    fn build(
        &self,
        container: &Container,
        options: &BuildOptions,
    ) -> Result<BuildResult, BuildError> {
        Ok(BuildkitBackend::build(self, container, options)?)
    }
}
