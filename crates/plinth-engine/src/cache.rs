//! Step keys, the step cache and the per-build records `--explain` compares against.
//!
//! A step key is the sha256 of the canonical JSON
//! `{"inputs":{…},"op":<op_key>,"parent":"sha256:…","platform":{…},"version":N}`: the parent
//! step's key, the operation, the digests of what the operation reads besides its own text
//! (host file contents, downloaded bytes, a helper image, the active cache mounts) and the
//! platform. The chain starts at a root key made from the resolved root manifest digest.
//!
//! A cache entry is a small JSON file `<store>/stepcache/<key hex>` holding the [`StepRecord`]
//! and the step's layer descriptor (none for config steps). Entries are written by temp file +
//! rename without `fsync`: they are a cache, and an entry that is missing, torn by a crash or
//! names a layer blob the store no longer has is a miss, never an error. This keeps a step from
//! paying for three synced writes (record, manifest, ref) on top of its layer blob.
//!
//! What keeps layers alive for [`Store::gc`](plinth_oci::Store::gc) is the build record: the
//! ref `builds/<recipe id>/<platform>/steps` points at a tiny OCI manifest whose config is the
//! [`BuildRecord`] and whose layers are every layer of the image the build reached (a failed
//! build records the layers of the steps that succeeded under `.../partial`). Entries of older
//! builds whose layers gc removed become misses; `Engine::gc` deletes them and their snapshots.

use std::collections::BTreeMap;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use plinth_oci::{Descriptor, Digest, ImageManifest, ManifestDocument, MediaType, Platform, Store};
use plinth_recipe::Op;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Bumped whenever the way steps are executed changes what they produce (2: a workdir step
/// makes its directory, copies carry their existing parents and give missing ones the copy's
/// owner, a file copied onto a directory goes inside it, roots without `PATH` get BuildKit's;
/// 3: gzip layers from the zlib-rs encoder, pieces of compressed or random bytes stored, so the
/// same step gives other blob bytes than before; 4: copies keep hard links, a file copied from a
/// stage onto an existing directory lands inside it, destinations follow the image's symlinks,
/// build steps see BuildKit's hostname and groups).
pub const ENGINE_CACHE_VERSION: u32 = 4;

/// Media type of the step record blobs of earlier versions (entries are files now, see above).
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
    /// The step's description when it ran (for reading a cache entry; the image history is
    /// written from the recipe, not from here, so its text never depends on what the cache
    /// holds).
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

/// A cache entry as stored in its file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CacheEntry {
    pub(crate) record: StepRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) layer: Option<Descriptor>,
}

/// The step cache of one store.
#[derive(Clone, Debug)]
pub(crate) struct StepCache {
    store: Store,
    dir: PathBuf,
}

/// The directory of the cache entries of a store.
pub(crate) fn entries_dir(store_root: &Path) -> PathBuf {
    store_root.join("stepcache")
}

fn build_ref(recipe_id: &str, platform: &Platform) -> String {
    format!("builds/{recipe_id}/{platform}/steps")
}

fn partial_ref(recipe_id: &str, platform: &Platform) -> String {
    format!("builds/{recipe_id}/{platform}/partial")
}

/// Points `name` at `descriptor` unless it already points there: an unchanged ref costs no
/// synced write (a fully cached rebuild rewrites nothing).
pub(crate) fn set_ref_if_changed(store: &Store, name: &str, descriptor: &Descriptor) -> Result<()> {
    if let Ok(Some(old)) = store.get_ref(name)
        && old == *descriptor
    {
        return Ok(());
    }
    store.set_ref(name, descriptor)?;
    Ok(())
}

impl StepCache {
    pub(crate) fn new(store: &Store) -> Result<Self> {
        let dir = entries_dir(store.root());
        fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        Ok(Self {
            store: store.clone(),
            dir,
        })
    }

    fn entry_path(&self, key: &Digest) -> PathBuf {
        self.dir.join(key.hex())
    }

    /// The entry for `key`, when it exists, reads back whole and its layer blob is present.
    pub(crate) fn lookup(&self, key: &Digest) -> Result<Option<(StepRecord, Option<Descriptor>)>> {
        let path = self.entry_path(key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read the cache entry", &path, e)),
        };
        let entry: CacheEntry = match serde_json::from_slice(&bytes) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(%key, error = %e, "unreadable cache entry (torn by a crash?): a miss");
                return Ok(None);
            }
        };
        if entry.layer.is_some() != entry.record.diff_id.is_some() {
            tracing::debug!(%key, "cache entry whose layer and diff_id disagree: a miss");
            return Ok(None);
        }
        if let Some(layer) = &entry.layer
            && !self.store.has_blob(&layer.digest)
        {
            tracing::debug!(%key, layer = %layer.digest, "cache entry without its layer: a miss");
            return Ok(None);
        }
        Ok(Some((entry.record, entry.layer)))
    }

    /// Stores the entry for `key` (hold the store's shared lock since the layer was written,
    /// until the build record that keeps the layer is saved).
    pub(crate) fn insert(
        &self,
        key: &Digest,
        record: &StepRecord,
        layer: Option<&Descriptor>,
    ) -> Result<()> {
        let entry = CacheEntry {
            record: record.clone(),
            layer: layer.cloned(),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| Error::Image(e.to_string()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".entry-")
            .tempfile_in(&self.dir)
            .map_err(|e| Error::io("create a temp file in", &self.dir, e))?;
        tmp.write_all(&bytes)
            .map_err(|e| Error::io("write", tmp.path().to_owned(), e))?;
        let dest = self.entry_path(key);
        tmp.persist(&dest)
            .map_err(|e| Error::io("rename into place", &dest, e.error))?;
        Ok(())
    }

    /// The record of the last build of `recipe_id` on `platform`.
    pub(crate) fn last_build(&self, recipe_id: &str, platform: &Platform) -> Option<BuildRecord> {
        let descriptor = self.store.get_ref(&build_ref(recipe_id, platform)).ok()??;
        let digest = match self.store.read_document(&descriptor) {
            Ok(ManifestDocument::Image(manifest)) => manifest.config.digest,
            // Records written before they became manifests: the ref names the record itself.
            _ => descriptor.digest,
        };
        let bytes = self.store.read_blob(&digest).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Replaces the record of the last build of `recipe_id` on `platform`; the record's manifest
    /// keeps `layers` (the image the build reached) alive.
    pub(crate) fn save_build(
        &self,
        recipe_id: &str,
        platform: &Platform,
        record: &BuildRecord,
        layers: &[Descriptor],
    ) -> Result<()> {
        let descriptor = self.record_manifest(record, layers)?;
        set_ref_if_changed(&self.store, &build_ref(recipe_id, platform), &descriptor)?;
        if self
            .store
            .get_ref(&partial_ref(recipe_id, platform))
            .ok()
            .flatten()
            .is_some()
        {
            self.store.delete_ref(&partial_ref(recipe_id, platform))?;
        }
        Ok(())
    }

    /// After a failed build: keeps the layers of the steps that succeeded (their cache entries
    /// stay hits after a gc), without replacing the last complete build's record.
    pub(crate) fn save_partial(
        &self,
        recipe_id: &str,
        platform: &Platform,
        record: &BuildRecord,
        layers: &[Descriptor],
    ) -> Result<()> {
        if layers.is_empty() {
            return Ok(());
        }
        let descriptor = self.record_manifest(record, layers)?;
        set_ref_if_changed(&self.store, &partial_ref(recipe_id, platform), &descriptor)
    }

    fn record_manifest(&self, record: &BuildRecord, layers: &[Descriptor]) -> Result<Descriptor> {
        let config = self
            .store
            .write_json(MediaType::Other(BUILD_RECORD_MEDIA_TYPE.to_owned()), record)?;
        let manifest = ImageManifest::new(MediaType::OciManifest, config, layers.to_vec());
        Ok(self.store.write_manifest(&manifest)?)
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
