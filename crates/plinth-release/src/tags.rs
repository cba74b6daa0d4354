//! [`TagSource`] over the registry client: one listing per repository, cached on disk for a TTL.

use plinth_catalog::TagSource;
use plinth_oci::{Digest, Reference};
use plinth_registry::{Client, TagListOptions};

/// Lists a repository's tags with their digests through [`Client::list_tags`] (pagination,
/// parallel `HEAD`s, the on-disk TTL cache), on a runtime handle.
#[derive(Clone, Debug)]
pub struct ClientTagSource {
    client: Client,
    options: TagListOptions,
    runtime: tokio::runtime::Handle,
}

impl ClientTagSource {
    /// A source over `client` with listing `options`, running requests on `runtime`.
    pub fn new(client: Client, options: TagListOptions, runtime: tokio::runtime::Handle) -> Self {
        Self {
            client,
            options,
            runtime,
        }
    }
}

impl TagSource for ClientTagSource {
    fn list(&self, repository: &Reference) -> plinth_catalog::Result<Vec<(String, Digest)>> {
        let listing = self
            .runtime
            .block_on(self.client.list_tags(repository, &self.options))
            .map_err(|e| plinth_catalog::Error::ListTags {
                repository: repository.name(),
                source: Box::new(e),
            })?;
        if listing.from_cache {
            tracing::debug!(repository = %repository.name(), "tags from the listing cache");
        }
        // Tags whose digest could not be resolved are left out: without a digest there is no
        // address to pin.
        Ok(listing
            .all()
            .filter_map(|e| Some((e.tag.clone(), e.digest.clone()?)))
            .collect())
    }
}
