//! The image being built for one platform: config, layers and the cache key so far.

use plinth_oci::{Descriptor, Digest, History, ImageConfig, Platform};

/// The state between two steps.
#[derive(Clone, Debug)]
pub(crate) struct ImageState {
    /// The config, with history and diff_ids up to now.
    pub(crate) config: ImageConfig,
    /// The layers (bottom first) with their diff_ids.
    pub(crate) layers: Vec<(Descriptor, Digest)>,
    /// The key of the last step.
    pub(crate) key: Digest,
}

impl ImageState {
    /// An empty image (no `from`).
    pub(crate) fn scratch(platform: &Platform) -> Self {
        Self {
            config: ImageConfig::for_platform(platform),
            layers: Vec::new(),
            key: crate::cache::root_key(None, platform),
        }
    }

    /// Adds a history entry and, when given, a layer.
    pub(crate) fn push(&mut self, history: History, layer: Option<(Descriptor, Digest)>) {
        if let Some((descriptor, diff_id)) = layer {
            self.config.rootfs.diff_ids.push(diff_id.clone());
            self.layers.push((descriptor, diff_id));
        }
        self.config.created = history.created.clone();
        self.config.history.push(history);
    }
}
