//! Step keys, the step cache and the per-build records `--explain` compares against.
//!
//! A step key is the sha256 of the canonical JSON
//! `{"inputs":{…},"op":<op_key>,"parent":"sha256:…","platform":{…},"version":N}`: the parent
//! step's key, the operation, the digests of what the operation reads besides its own text
//! (host file contents, downloaded bytes, a helper image, the active cache mounts) and the
//! platform. The chain starts at a root key made from the resolved root manifest digest.
//!
//! A cache entry is the store ref `cache/steps/<key hex>` pointing at a tiny OCI manifest whose
//! config is a [`StepRecord`] blob and whose layers are the step's layer (none for config
//! steps). Because it is a manifest, [`Store::gc`](plinth_oci::Store::gc) keeps the layer as long
//! as the entry exists.

use std::collections::BTreeMap;

use plinth_oci::{Descriptor, Digest, ImageManifest, ManifestDocument, MediaType, Platform, Store};
use plinth_recipe::Op;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Bumped whenever the way steps are executed changes what they produce.
pub const ENGINE_CACHE_VERSION: u32 = 1;

/// Media type of a [`StepRecord`] blob.
pub const STEP_RECORD_MEDIA_TYPE: &str = "application/vnd.plinth.step.v1+json";
/// Media type of a build record blob.
pub const BUILD_RECORD_MEDIA_TYPE: &str = "application/vnd.plinth.build.v1+json";

#[derive(Serialize)]
struct KeyInput<'a> {
    version: u32,
    parent: Option<&'a Digest>,
    op: serde_json::Value,
    inputs: &'a BTreeMap<String, String>,
    platform: &'a Platform,
}

/// The key of the first step: the root image (or scratch) on a platform.
pub(crate) fn root_key(manifest: Option<&Digest>, platform: &Platform) -> Digest {
    let mut inputs = BTreeMap::new();
    inputs.insert(
        "root".to_owned(),
        manifest.map_or_else(|| "scratch".to_owned(), ToString::to_string),
    );
    digest_of(&KeyInput {
        version: ENGINE_CACHE_VERSION,
        parent: None,
        op: serde_json::Value::Null,
        inputs: &inputs,
        platform,
    })
}

/// The key of a step after `parent`.
pub(crate) fn step_key(
    parent: &Digest,
    op: &Op,
    inputs: &BTreeMap<String, String>,
    platform: &Platform,
) -> Digest {
    let op = serde_json::from_slice(&op.op_key()).unwrap_or(serde_json::Value::Null);
    digest_of(&KeyInput {
        version: ENGINE_CACHE_VERSION,
        parent: Some(parent),
        op,
        inputs,
        platform,
    })
}

fn digest_of<T: Serialize>(value: &T) -> Digest {
    let bytes = plinth_oci::canonical::to_canonical_vec(value)
        .expect("key inputs are strings and maps of strings");
    Digest::of(&bytes)
}

/// What a cache entry remembers about a step besides its layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StepRecord {
    /// RFC 3339 creation time of the history entry.
    pub(crate) created: String,
    /// The history `created_by`.
    pub(crate) created_by: String,
    /// The diff_id of the layer, when the step made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) diff_id: Option<Digest>,
}

/// One step as the build record keeps it, for `--explain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StepTrace {
    pub(crate) description: String,
    pub(crate) op_digest: Digest,
    pub(crate) parent: Option<Digest>,
    pub(crate) inputs: BTreeMap<String, String>,
    pub(crate) key: Digest,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BuildRecord {
    pub(crate) steps: Vec<StepTrace>,
}

/// The step cache of one store.
#[derive(Clone, Debug)]
pub(crate) struct StepCache {
    store: Store,
}

fn step_ref(key: &Digest) -> String {
    format!("cache/steps/{}", key.hex())
}

fn build_ref(recipe_id: &str, platform: &Platform) -> String {
    format!("builds/{recipe_id}/{platform}/steps")
}

impl StepCache {
    pub(crate) fn new(store: &Store) -> Self {
        Self {
            store: store.clone(),
        }
    }

    /// The entry for `key`, when it exists and its layer blob is still present.
    pub(crate) fn lookup(&self, key: &Digest) -> Result<Option<(StepRecord, Option<Descriptor>)>> {
        let name = step_ref(key);
        let Some(root) = self.store.get_ref(&name)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| Error::CorruptRecord {
            name: name.clone(),
            reason,
        };
        let ManifestDocument::Image(manifest) = self.store.read_document(&root)? else {
            return Err(corrupt("it points at an index".into()));
        };
        let bytes = self.store.read_blob(&manifest.config.digest)?;
        let record: StepRecord =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let layer = manifest.layers.first().cloned();
        if let Some(layer) = &layer
            && !self.store.has_blob(&layer.digest)
        {
            tracing::debug!(%key, layer = %layer.digest, "cache entry without its layer: a miss");
            return Ok(None);
        }
        if layer.is_some() != record.diff_id.is_some() {
            return Err(corrupt("the layer and the diff_id disagree".into()));
        }
        Ok(Some((record, layer)))
    }

    /// Stores the entry for `key` (hold the store's shared lock since the layer was written).
    pub(crate) fn insert(
        &self,
        key: &Digest,
        record: &StepRecord,
        layer: Option<&Descriptor>,
    ) -> Result<()> {
        let config = self
            .store
            .write_json(MediaType::Other(STEP_RECORD_MEDIA_TYPE.to_owned()), record)?;
        let manifest = ImageManifest::new(
            MediaType::OciManifest,
            config,
            layer.into_iter().cloned().collect(),
        );
        let descriptor = self.store.write_manifest(&manifest)?;
        self.store.set_ref(&step_ref(key), &descriptor)?;
        Ok(())
    }

    /// The record of the last build of `recipe_id` on `platform`.
    pub(crate) fn last_build(&self, recipe_id: &str, platform: &Platform) -> Option<BuildRecord> {
        let descriptor = self.store.get_ref(&build_ref(recipe_id, platform)).ok()??;
        let bytes = self.store.read_blob(&descriptor.digest).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Replaces the record of the last build of `recipe_id` on `platform`.
    pub(crate) fn save_build(
        &self,
        recipe_id: &str,
        platform: &Platform,
        record: &BuildRecord,
    ) -> Result<()> {
        let descriptor = self
            .store
            .write_json(MediaType::Other(BUILD_RECORD_MEDIA_TYPE.to_owned()), record)?;
        self.store
            .set_ref(&build_ref(recipe_id, platform), &descriptor)?;
        Ok(())
    }
}

/// Why a step hit or missed, compared with the last build of the same recipe.
pub(crate) fn explain(
    previous: Option<&BuildRecord>,
    index: usize,
    trace: &StepTrace,
    hit: bool,
    no_cache: bool,
) -> String {
    if hit {
        return "cache hit".to_owned();
    }
    if no_cache {
        return "cache disabled (--no-cache)".to_owned();
    }
    let Some(previous) = previous else {
        return "not in the cache (no earlier build of this recipe on this platform)".to_owned();
    };
    let Some(before) = previous.steps.get(index) else {
        return format!(
            "a new step (the last build had {} steps)",
            previous.steps.len()
        );
    };
    if before.op_digest != trace.op_digest {
        return format!(
            "the operation changed: was `{}`, now `{}`",
            before.description, trace.description
        );
    }
    let mut changed = Vec::new();
    for (name, value) in &trace.inputs {
        match before.inputs.get(name) {
            Some(old) if old == value => {}
            Some(old) => changed.push(format!("input `{name}` changed from `{old}` to `{value}`")),
            None => changed.push(format!("new input `{name}` = `{value}`")),
        }
    }
    for name in before.inputs.keys() {
        if !trace.inputs.contains_key(name) {
            changed.push(format!("input `{name}` is gone"));
        }
    }
    if !changed.is_empty() {
        return changed.join("; ");
    }
    if before.parent != trace.parent {
        return "an earlier step changed (the parent key differs)".to_owned();
    }
    "not in the cache (same key as the last build: the entry was removed, or that build failed)"
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(desc: &str, op: &[u8], parent: &[u8], inputs: &[(&str, &str)]) -> StepTrace {
        StepTrace {
            description: desc.into(),
            op_digest: Digest::of(op),
            parent: Some(Digest::of(parent)),
            inputs: inputs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            key: Digest::of(b"k"),
        }
    }

    #[test]
    fn keys_depend_on_every_part() {
        let p = Platform::linux_amd64();
        let root = root_key(None, &p);
        assert_ne!(root, root_key(None, &Platform::linux_arm64()));
        let op = Op::Env {
            name: "A".into(),
            value: "1".into(),
        };
        let none = BTreeMap::new();
        let k = step_key(&root, &op, &none, &p);
        assert_eq!(k, step_key(&root, &op, &none, &p));
        assert_ne!(k, step_key(&Digest::of(b"x"), &op, &none, &p));
        let mut inputs = BTreeMap::new();
        inputs.insert("url".to_owned(), "sha256:x".to_owned());
        assert_ne!(k, step_key(&root, &op, &inputs, &p));
    }

    #[test]
    fn explanations_name_what_changed() {
        let before = BuildRecord {
            steps: vec![trace("RUN [\"a\"]", b"a", b"p", &[("url", "1")])],
        };
        let same_op = trace("RUN [\"a\"]", b"a", b"p", &[("url", "2")]);
        assert_eq!(
            explain(Some(&before), 0, &same_op, false, false),
            "input `url` changed from `1` to `2`"
        );
        let other = trace("RUN [\"b\"]", b"b", b"p", &[]);
        assert!(explain(Some(&before), 0, &other, false, false).contains("was `RUN [\"a\"]`"));
        let moved = trace("RUN [\"a\"]", b"a", b"q", &[("url", "1")]);
        assert!(explain(Some(&before), 0, &moved, false, false).contains("earlier step"));
        assert!(explain(Some(&before), 1, &moved, false, false).contains("new step"));
        assert_eq!(explain(None, 0, &moved, true, false), "cache hit");
    }
}
