//! The history of an image BuildKit built from the buildable view: BuildKit records the lines
//! of the generated Dockerfile (`ARG`s inlined, sources renamed in the generated context, …),
//! not the recipe's. The recipe's entries (`plinth_recipe::history`, the same the embedded
//! engine writes) replace them, layer for layer, after the base image's own entries, which
//! BuildKit keeps as they are. The view writes a `COPY` of several sources as a line per
//! source; their layers are merged into one, as BuildKit makes for the Dockerfile itself. When
//! the layers do not line up (a base the resolver did not give) BuildKit's history stays.

use plinth_oci::image::resolve_manifest;
use plinth_oci::layer::{WriteOptions, store_squashed_layer};
use plinth_oci::{Descriptor, History, ImageConfig, ImageManifest, Platform, Store};
use plinth_recipe::history::{
    EXPORTER_COMMENT, FILE_OPERATION_SNAPSHOT, HISTORY_COMMENT, HistoryEntry, account_for_layers,
    op_entry, pulled_description, snapshot_description,
};
use plinth_recipe::{Container, Op};

use crate::error::Result;
use crate::roots::LoadedRoot;

/// One of the recipe's entries with the layers BuildKit makes for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RecipeEntry {
    pub(crate) entry: HistoryEntry,
    /// How many layers BuildKit makes for it from the generated Dockerfile.
    pub(crate) layers: usize,
    /// BuildKit's description of the snapshot its layer holds
    /// (`plinth_recipe::history::snapshot_description`).
    pub(crate) description: String,
}

/// The recipe's entries after its `FROM`, each with the number of layers BuildKit makes for
/// it: one per `RUN`, `COPY`, `ADD` and `WORKDIR` other than `/` (empty ones included).
pub(crate) fn recipe_entries(container: &Container) -> Vec<RecipeEntry> {
    let recorded = container.has_history();
    let mut out = Vec::new();
    let mut layers = 0;
    let mut description = None;
    for step in container.steps() {
        let own = op_entry(step.op, &step.state);
        let makes_layer = match step.op {
            Op::Exec { .. } | Op::File { .. } | Op::Directory { .. } => true,
            Op::Workdir { .. } => own.as_ref().is_some_and(|e| e.layer),
            _ => false,
        };
        let snapshot = snapshot_description(step.op).filter(|_| makes_layer);
        match step.op {
            Op::From { .. } => {
                out.clear();
                layers = 0;
            }
            Op::History { created_by, layer } => {
                out.push(RecipeEntry {
                    entry: HistoryEntry {
                        created_by: created_by.clone(),
                        layer: *layer,
                    },
                    layers: if *layer { layers.max(1) } else { layers },
                    description: description.take().unwrap_or_else(fileop),
                });
                layers = 0;
            }
            _ if recorded => {
                layers += usize::from(makes_layer);
                description = description.or(snapshot);
            }
            _ => {
                if let Some(entry) = own {
                    out.push(RecipeEntry {
                        entry,
                        layers: usize::from(makes_layer),
                        description: snapshot.unwrap_or_else(fileop),
                    });
                }
            }
        }
    }
    out
}

/// The description of a file operation's snapshot.
fn fileop() -> String {
    FILE_OPERATION_SNAPSHOT.to_owned()
}

/// `config` with the recipe's history after the base's `base_entries`, or `None` when the
/// layers do not line up with it.
pub(crate) fn with_recipe_history(
    config: &ImageConfig,
    base_entries: usize,
    base_layers: usize,
    entries: &[RecipeEntry],
) -> Option<ImageConfig> {
    if !lines_up(config, base_entries, base_layers, entries) {
        return None;
    }
    let mut out = config.clone();
    out.history.truncate(base_entries);
    for e in entries {
        let history = History {
            created: config.created.clone(),
            created_by: Some(e.entry.created_by.clone()),
            comment: Some(HISTORY_COMMENT.to_owned()),
            empty_layer: e.layers == 0,
            ..History::default()
        };
        out.history
            .extend(std::iter::repeat_n(history, e.layers.max(1)));
    }
    Some(out)
}

/// Whether `config` holds the base's `base_entries` and `base_layers` and then exactly the
/// layers the recipe's entries count.
fn lines_up(
    config: &ImageConfig,
    base_entries: usize,
    base_layers: usize,
    entries: &[RecipeEntry],
) -> bool {
    let layers: usize = entries.iter().map(|e| e.layers).sum();
    base_layers + layers == config.rootfs.diff_ids.len() && base_entries <= config.history.len()
}

/// What BuildKit built: the generated Dockerfile and its context directory.
pub(crate) struct Generated<'a> {
    pub(crate) text: &'a str,
    pub(crate) context: &'a std::path::Path,
}

/// How many entries and layers of the built image are the base's: from the root the resolver
/// gave, else what is left once the entries BuildKit recorded for the generated Dockerfile
/// (read back with plinth's reader, which records what BuildKit records) and the entries it
/// appends for layers a history-less base does not account for are taken off.
fn base_part(
    store: &Store,
    container: &Container,
    loaded: &std::collections::BTreeMap<String, LoadedRoot>,
    platform: &Platform,
    (config, generated): (&ImageConfig, &Generated<'_>),
    recipe_layers: usize,
) -> Result<Option<(usize, usize)>> {
    let Some(Op::From { source }) = container.ops().first() else {
        return Ok(Some((0, 0)));
    };
    if let Some(root) = loaded.get(source.address()) {
        let root = store.descriptor_of(&root.manifest)?;
        let (_, manifest) = resolve_manifest(store, &root, Some(platform))?;
        let base = ImageConfig::parse(&store.read_blob(&manifest.config.digest)?)?;
        return Ok(Some((base.history.len(), manifest.layers.len())));
    }
    let Ok(read) = plinth_recipe::parse_dockerfile(generated.text, generated.context) else {
        return Ok(None);
    };
    let recorded = read
        .ops()
        .iter()
        .filter(|op| matches!(op, Op::History { .. }))
        .count();
    let appended = config
        .history
        .iter()
        .rev()
        .take_while(|h| h.comment.as_deref() == Some(EXPORTER_COMMENT))
        .count();
    let Some(base_entries) = config.history.len().checked_sub(recorded + appended) else {
        return Ok(None);
    };
    let Some(base_layers) = config.rootfs.diff_ids.len().checked_sub(recipe_layers) else {
        return Ok(None);
    };
    Ok(Some((base_entries, base_layers)))
}

/// Rewrites the imported image with the recipe's history (see the module docs), the layers of
/// an instruction the view wrote as several lines (a `COPY` of several sources) merged into one
/// as the embedded engine merges them; returns the manifest, its descriptor, the config and its
/// descriptor to use.
pub(crate) fn restore(
    store: &Store,
    (container, generated): (&Container, &Generated<'_>),
    loaded: &std::collections::BTreeMap<String, LoadedRoot>,
    (platform, source_date_epoch): (&Platform, Option<u64>),
    imported: (Descriptor, ImageManifest, Descriptor, ImageConfig),
) -> Result<(Descriptor, ImageManifest, Descriptor, ImageConfig)> {
    let mut entries = recipe_entries(container);
    let recipe_layers = entries.iter().map(|e| e.layers).sum();
    let Some((base_entries, base_layers)) = base_part(
        store,
        container,
        loaded,
        platform,
        (&imported.3, generated),
        recipe_layers,
    )?
    else {
        tracing::debug!(%platform, "the base's part of the history is unknown: BuildKit's history kept");
        return Ok(imported);
    };
    if !lines_up(&imported.3, base_entries, base_layers, &entries) {
        tracing::debug!(%platform, "the layers do not line up with the recipe: BuildKit's history kept");
        return Ok(imported);
    }
    let (_, mut manifest, config_descriptor, mut config) = imported;
    merge_instruction_layers(
        store,
        (&mut manifest, &mut config),
        base_layers,
        &mut entries,
        source_date_epoch,
    )?;
    let described_by_buildkit = buildkit_descriptions(&config.history);
    let Some(mut restored) = with_recipe_history(&config, base_entries, base_layers, &entries)
    else {
        unreachable!("merging keeps the layers lined up with the entries");
    };
    // The base's layers BuildKit described keep its words (how it came by them); the
    // recipe's get their instruction's.
    let recipe: Vec<&str> = entries
        .iter()
        .filter(|e| e.layers > 0)
        .map(|e| e.description.as_str())
        .collect();
    let pulled = base_description(store, container, loaded, platform)?;
    account_for_layers(
        &mut restored.history,
        manifest.layers.len(),
        |i| match i.checked_sub(base_layers) {
            Some(r) => recipe.get(r).map_or_else(fileop, |d| (*d).to_owned()),
            None => described_by_buildkit
                .get(&i)
                .cloned()
                .unwrap_or_else(|| pulled.clone()),
        },
        restored.created.clone(),
    );
    let config_descriptor = store.write_config(config_descriptor.media_type.clone(), &restored)?;
    manifest.config = config_descriptor.clone();
    let descriptor = store
        .write_manifest(&manifest)?
        .with_platform(restored.platform());
    Ok((descriptor, manifest, config_descriptor, restored))
}

/// The layers BuildKit's exporter appended entries for (see
/// `plinth_recipe::history::account_for_layers`), with their text: the appended entries
/// name the layers after the ones the other entries account for.
fn buildkit_descriptions(history: &[History]) -> std::collections::BTreeMap<usize, String> {
    let appended = history
        .iter()
        .rev()
        .take_while(|h| h.comment.as_deref() == Some(EXPORTER_COMMENT))
        .count();
    let (named, appended) = history.split_at(history.len() - appended);
    let first = named.iter().filter(|h| !h.empty_layer).count();
    appended
        .iter()
        .enumerate()
        .map(|(j, h)| (first + j, h.created_by.clone().unwrap_or_default()))
        .collect()
}

/// What BuildKit calls a layer of the base it pulled: `pulled from NAME@DIGEST`, the digest
/// the platform's manifest's when the root was handed over by plinth.
fn base_description(
    store: &Store,
    container: &Container,
    loaded: &std::collections::BTreeMap<String, LoadedRoot>,
    platform: &Platform,
) -> Result<String> {
    let Some(Op::From { source }) = container.ops().first() else {
        return Ok(pulled_description("", None));
    };
    let Some(root) = loaded.get(source.address()) else {
        return Ok(pulled_description(source.address(), None));
    };
    let root = store.descriptor_of(&root.manifest)?;
    let (manifest, _) = resolve_manifest(store, &root, Some(platform))?;
    Ok(pulled_description(source.address(), Some(&manifest.digest)))
}

/// Merges the layers of each entry counted with several into one ([`store_squashed_layer`]),
/// in the manifest and the config's `rootfs`; the entry then counts one.
fn merge_instruction_layers(
    store: &Store,
    (manifest, config): (&mut ImageManifest, &mut ImageConfig),
    base_layers: usize,
    entries: &mut [RecipeEntry],
    source_date_epoch: Option<u64>,
) -> Result<()> {
    let mut layers = manifest.layers[..base_layers].to_vec();
    let mut diff_ids = config.rootfs.diff_ids[..base_layers].to_vec();
    let mut at = base_layers;
    for count in entries.iter_mut().map(|e| &mut e.layers) {
        let parts = &manifest.layers[at..at + *count];
        if let [first, _, ..] = parts {
            let options = WriteOptions::new()
                .with_compression(first.media_type.layer_compression().unwrap_or_default())
                .with_source_date_epoch(source_date_epoch);
            let info = store_squashed_layer(store, parts, &options)?;
            layers.push(Descriptor::new(
                first.media_type.clone(),
                info.digest,
                info.size,
            ));
            diff_ids.push(info.diff_id);
        } else {
            layers.extend_from_slice(parts);
            diff_ids.extend_from_slice(&config.rootfs.diff_ids[at..at + *count]);
        }
        at += *count;
        *count = (*count).min(1);
    }
    manifest.layers = layers;
    config.rootfs.diff_ids = diff_ids;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dockerfile_read_counts_one_layer_per_layered_instruction() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        std::fs::write(dir.path().join("b"), "b").unwrap();
        let c = plinth_recipe::parse_dockerfile(
            "FROM scratch\nARG X=1\nCOPY a b /d/\nWORKDIR /\nWORKDIR /w\nRUN true\nENV A=1 B=2\n",
            dir.path(),
        )
        .unwrap();
        let got: Vec<(String, bool, usize, String)> = recipe_entries(&c)
            .into_iter()
            .map(|e| (e.entry.created_by, e.entry.layer, e.layers, e.description))
            .collect();
        let entry = |text: &str, layer, layers, description: &str| {
            (text.to_owned(), layer, layers, description.to_owned())
        };
        assert_eq!(
            got,
            [
                entry("ARG X=1", false, 0, "fileop target"),
                entry("COPY a b /d/ # buildkit", true, 2, "fileop target"),
                entry("WORKDIR /", false, 0, "fileop target"),
                entry("WORKDIR /w", true, 1, "fileop target"),
                entry(
                    "RUN |1 X=1 /bin/sh -c true # buildkit",
                    true,
                    1,
                    "mount / from exec /bin/sh -c true"
                ),
                entry("ENV A=1 B=2", false, 0, "fileop target"),
            ]
        );
        let mut config = ImageConfig::for_platform(&Platform::linux_amd64());
        config.history.push(History::default());
        assert!(with_recipe_history(&config, 1, 0, &recipe_entries(&c)).is_none());
    }
}
