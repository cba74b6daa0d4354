//! `FROM`: the root image resolved (fetched, imported or bootstrapped) becomes the state the
//! next steps build on; its manifest digest is the step's only input.

use std::collections::BTreeMap;

use plinth_executor::{BuildInput, CacheStatus, InputKind};
use plinth_recipe::ImageSource;
use plinth_recipe::history::pulled_description;

use super::{PlatformBuilder, StepOutcome};
use crate::cache::root_key;
use crate::error::Result;
use crate::state::ImageState;
use crate::step_description::set_default_path;

impl PlatformBuilder<'_> {
    /// Replaces the state with the root of `source`. A root already in the store is a hit; the
    /// explanation says when it differs from the previous build's.
    pub(super) fn run_from(
        &mut self,
        index: usize,
        source: &ImageSource,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<StepOutcome> {
        let root = crate::resolve::resolve_root(self.engine, source, self.platform)?;
        let digest = root.manifest.digest.clone();
        inputs.insert("root".to_owned(), digest.to_string());
        self.inputs.push(
            BuildInput::new(InputKind::RootImage, source.address(), digest.clone())
                .with_index_digest(root.index.clone()),
        );
        let before = self
            .previous
            .as_ref()
            .and_then(|p| p.steps.get(index))
            .and_then(|s| s.inputs.get("root"));
        let explanation = match before {
            Some(old) if *old != digest.to_string() => {
                format!("the root image changed from `{old}` to `{digest}`")
            }
            _ if root.fetched => format!("root image `{digest}` fetched"),
            _ => format!("root image `{digest}` already in the store"),
        };
        let mut config = root.config;
        set_default_path(&mut config);
        let pulled = pulled_description(source.address(), Some(&digest));
        self.state = ImageState {
            config,
            descriptions: vec![pulled; root.layers.len()],
            layers: root.layers,
            key: root_key(Some(&digest), self.platform),
        };
        let status = if root.fetched {
            CacheStatus::Miss
        } else {
            CacheStatus::Hit
        };
        Ok(StepOutcome {
            status,
            explanation,
            layer: None,
        })
    }
}
