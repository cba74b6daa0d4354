//! [`RootResolver`]: who brings a recipe's root images into the store, for an executor that
//! cannot fetch them all itself.

use plinth_oci::{Descriptor, Digest, Platform};
use plinth_recipe::ImageSource;

/// A root as a [`RootResolver`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedRootImage {
    /// The platform manifest, with its config and layers in the store.
    pub manifest: Descriptor,
    /// The index it was taken from, for a multi-platform root (recorded beside the manifest in
    /// the provenance).
    pub index_digest: Option<Digest>,
}

/// The error a [`RootResolver`] reports.
pub type RootError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves a root image (`FROM`) for one platform into the store an executor builds into:
/// pulled from its registry, imported from an OCI layout or docker-archive, or bootstrapped
/// from Debian's archive. The embedded engine is one (`plinth_engine::Engine`): it resolves a
/// root exactly as its own builds do, so a root is fetched once whichever executor builds.
///
/// The BuildKit backend uses one to hand roots to its builders itself
/// (`BuildkitConfig::with_roots`): builders then pull nothing, and roots that no registry
/// serves (Debian's archive, local files) build there too.
pub trait RootResolver: Send + Sync {
    /// The platform manifest of `source` for `platform`, with its config and layers in the
    /// store.
    fn resolve_root(
        &self,
        source: &ImageSource,
        platform: &Platform,
    ) -> std::result::Result<ResolvedRootImage, RootError>;
}
