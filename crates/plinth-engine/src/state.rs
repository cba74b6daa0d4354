//! The image being built for one platform: config, layers and the cache key so far.

use plinth_oci::{Descriptor, Digest, History, ImageConfig, Platform};

/// The state between two steps.
#[derive(Clone, Debug)]
pub(crate) struct ImageState {
    /// The config, with history and diff_ids up to now.
    pub(crate) config: ImageConfig,
    /// The layers (bottom first) with their diff_ids.
    pub(crate) layers: Vec<(Descriptor, Digest)>,
    /// BuildKit's description of each layer's snapshot, for the entries a history that does
    /// not account for every layer gets (`plinth_recipe::history::account_for_layers`).
    pub(crate) descriptions: Vec<String>,
    /// The key of the last step.
    pub(crate) key: Digest,
}

impl ImageState {
    /// An empty image (no `from`).
    pub(crate) fn scratch(platform: &Platform) -> Self {
        Self {
            config: ImageConfig::for_platform(platform),
            layers: Vec::new(),
            descriptions: Vec::new(),
            key: crate::cache::root_key(None, platform),
        }
    }

    /// Adds a history entry and, when given, a layer with its description.
    pub(crate) fn push(&mut self, history: History, layer: Option<((Descriptor, Digest), String)>) {
        if let Some(((descriptor, diff_id), description)) = layer {
            self.config.rootfs.diff_ids.push(diff_id.clone());
            self.layers.push((descriptor, diff_id));
            self.descriptions.push(description);
        }
        self.config.created = history.created.clone();
        self.config.history.push(history);
    }
}
