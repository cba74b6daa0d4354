//! [`Engine::gc`]: the store's garbage collection plus the engine's own directories.
//!
//! [`Store::gc`](plinth_oci::Store::gc) knows blobs and refs only. The engine also keeps
//! unpacked layers (`<store>/snapshots`, with short links in `<store>/l`), step directories
//! (`<store>/steps`) and cache entries (`<store>/stepcache`). After the store's gc, under the
//! store's exclusive lock (so no build or run session is using them), this removes:
//!
//! - snapshots whose diff_id no live image config and no cache entry with a present layer blob
//!   names (the layer is gone from the store, so nothing can stack it any more);
//! - links under `l/` whose snapshot is gone, and interrupted unpacks (`snapshots/.unpack-*`);
//! - step directories left by interrupted builds (every build holds the shared lock, so under
//!   the exclusive one none is running), and the sandbox's run directories and cgroups whose
//!   process is gone (after `kill -9`);
//! - cache entries whose layer blob is gone (they could only ever miss), and the
//!   `cache/steps/<key>` refs earlier versions used as entries (before the store's gc, so the
//!   blobs only they kept are collected).

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plinth_oci::store::{GcOptions, GcReport};
use plinth_oci::{Descriptor, Digest, ImageConfig, ManifestDocument, Store};

use crate::cache::{CacheEntry, entries_dir};
use crate::cache_mounts::caches_root;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// The ref prefix of cache entries written by earlier versions.
const LEGACY_ENTRY_REFS: &str = "cache/steps/";

/// What [`Engine::gc`] removed (or would remove, in a dry run).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct EngineGcReport {
    /// The store's own report (blobs and temp files).
    pub store: GcReport,
    /// Snapshots kept because a live image or cache entry still uses their layer.
    pub snapshots_kept: u64,
    /// Snapshots removed, their diff_ids sorted.
    pub snapshots_removed: Vec<Digest>,
    /// Cache entries removed because their layer blob is gone (and refs of entries in the
    /// format of earlier versions).
    pub cache_entries_removed: u64,
    /// Dangling links, interrupted unpacks and leftover step directories removed.
    pub temp_dirs_removed: u64,
    /// Bytes freed in the engine's directories (files only, as `du --apparent-size` counts).
    pub bytes_freed: u64,
}

impl Engine {
    /// Collects garbage: first [`Store::gc`](plinth_oci::Store::gc) with `options`, then, under
    /// the store's exclusive lock, the engine's snapshots, links, step directories and cache
    /// entries that no longer serve any layer in the store (see the module docs). Honours
    /// [`GcOptions::dry_run`] and [`GcOptions::lock_timeout`].
    pub fn gc(&self, options: &GcOptions) -> Result<EngineGcReport> {
        let store = &self.inner.store;
        let legacy_refs = remove_legacy_entry_refs(store, options.dry_run)?;
        let mut report = EngineGcReport {
            store: store.gc(options)?,
            ..EngineGcReport::default()
        };
        let _lock = lock_exclusive(store.root(), options.lock_timeout)?;
        let dry = options.dry_run;
        let removed: BTreeSet<Digest> = if dry {
            report.store.removed.iter().cloned().collect()
        } else {
            BTreeSet::new()
        };
        let present = |d: &Digest| store.has_blob(d) && !removed.contains(d);

        report.cache_entries_removed += legacy_refs;
        let mut live = live_diff_ids(store, &present)?;
        sweep_cache_entries(store, &present, &mut live, &mut report, dry)?;
        sweep_snapshots(store, &live, &mut report, dry)?;
        sweep_links(store, &live, &mut report, dry)?;
        for (_, path) in list_dir(&store.root().join("steps"))? {
            report.temp_dirs_removed += 1;
            report.bytes_freed += remove(&path, dry)?;
        }
        // Run directories of sandboxes whose process was killed (a live one's stay).
        if !dry {
            let runs = self
                .inner
                .sandbox
                .remove_stale_runs()
                .map_err(|source| Error::Sandbox {
                    what: "garbage collection of run directories".into(),
                    source: Box::new(source),
                })?;
            report.temp_dirs_removed += runs as u64;
        }
        tracing::debug!(
            kept = report.snapshots_kept,
            removed = report.snapshots_removed.len(),
            entries = report.cache_entries_removed,
            "engine gc finished"
        );
        Ok(report)
    }

    /// Removes every `RUN --mount=type=cache` volume, as `docker builder prune` does, under the
    /// store's exclusive lock (no build is using one). The next build that mounts a cache
    /// starts it empty (or from its seed).
    pub fn remove_cache_mounts(
        &self,
        dry_run: bool,
        lock_timeout: Duration,
    ) -> Result<CacheMountsReport> {
        let store = &self.inner.store;
        let _lock = lock_exclusive(store.root(), lock_timeout)?;
        let mut report = CacheMountsReport::default();
        for (_, path) in list_dir(&caches_root(store.root()))? {
            // Lock files and seed lists beside the volumes go with them, uncounted.
            if path.is_dir() {
                report.volumes += 1;
            }
            report.bytes_freed += remove(&path, dry_run)?;
        }
        Ok(report)
    }
}

/// What [`Engine::remove_cache_mounts`] removed (or would remove, in a dry run).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheMountsReport {
    /// Cache volumes (and their instances: owners, seeds, private copies).
    pub volumes: u64,
    /// Bytes freed (files only, as `du --apparent-size` counts).
    pub bytes_freed: u64,
}

/// Cache entries used to be refs `cache/steps/<key>`; nothing reads them any more, and they
/// would keep their blobs forever. Returns how many there were.
fn remove_legacy_entry_refs(store: &Store, dry: bool) -> Result<u64> {
    let mut legacy_refs = 0;
    for r in store.list_refs()? {
        if r.name.starts_with(LEGACY_ENTRY_REFS) {
            legacy_refs += 1;
            if !dry {
                store.delete_ref(&r.name)?;
            }
        }
    }
    Ok(legacy_refs)
}

/// Removes the cache entries whose layer is gone (and unreadable ones); the diff_ids of the
/// layers the others serve join `live`.
fn sweep_cache_entries(
    store: &Store,
    present: &dyn Fn(&Digest) -> bool,
    live: &mut BTreeSet<String>,
    report: &mut EngineGcReport,
    dry: bool,
) -> Result<()> {
    let entries = entries_dir(store.root());
    for (path, entry) in list_entries(&entries)? {
        match entry
            .as_ref()
            .and_then(|e| e.layer.as_ref().zip(e.record.diff_id.as_ref()))
        {
            Some((layer, diff_id)) if present(&layer.digest) => {
                live.insert(diff_id.hex().to_owned());
            }
            Some(_) => {
                report.cache_entries_removed += 1;
                report.bytes_freed += remove(&path, dry)?;
            }
            // Config-only entries (no layer) are kept; unreadable ones are misses anyway.
            None if entry.is_none() => {
                report.cache_entries_removed += 1;
                report.bytes_freed += remove(&path, dry)?;
            }
            None => {}
        }
    }
    Ok(())
}

/// Removes the snapshots no live layer needs and interrupted unpacks.
fn sweep_snapshots(
    store: &Store,
    live: &BTreeSet<String>,
    report: &mut EngineGcReport,
    dry: bool,
) -> Result<()> {
    let snapshots = store.root().join("snapshots");
    for (name, path) in list_dir(&snapshots)? {
        if name == "empty" {
            continue;
        }
        if name.starts_with(".unpack-") {
            report.temp_dirs_removed += 1;
            report.bytes_freed += remove(&path, dry)?;
            continue;
        }
        if live.contains(&name) {
            report.snapshots_kept += 1;
            continue;
        }
        report.bytes_freed += remove(&path, dry)?;
        if let Ok(d) = format!("sha256:{name}").parse::<Digest>() {
            report.snapshots_removed.push(d);
        }
    }
    report.snapshots_removed.sort();
    Ok(())
}

/// Removes the short snapshot links whose snapshot is gone or no longer live.
fn sweep_links(
    store: &Store,
    live: &BTreeSet<String>,
    report: &mut EngineGcReport,
    dry: bool,
) -> Result<()> {
    let links = store.root().join("l");
    for (name, path) in list_dir(&links)? {
        let target_live = fs::read_link(&path)
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
            .is_some_and(|t| live.contains(&t) && path.exists());
        if !target_live {
            tracing::debug!(link = %name, "removing a dangling snapshot link");
            report.temp_dirs_removed += 1;
            if !dry {
                fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
            }
        }
    }
    Ok(())
}

/// The diff_ids (hex) of every image config reachable from a ref whose blobs are present.
fn live_diff_ids(store: &Store, present: &dyn Fn(&Digest) -> bool) -> Result<BTreeSet<String>> {
    let mut live = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut queue: Vec<Descriptor> = store
        .list_refs()?
        .into_iter()
        .map(|r| r.descriptor)
        .collect();
    while let Some(d) = queue.pop() {
        if !seen.insert(d.digest.clone())
            || !present(&d.digest)
            || !d.media_type.is_manifest_or_index()
        {
            continue;
        }
        match store.read_document(&d) {
            Ok(ManifestDocument::Index(index)) => queue.extend(index.manifests),
            Ok(ManifestDocument::Image(manifest)) => {
                if !present(&manifest.config.digest) {
                    continue;
                }
                // Build records and other non-image configs do not parse: nothing to add.
                if let Ok(config) = store
                    .read_blob(&manifest.config.digest)
                    .map_err(Error::from)
                    .and_then(|b| ImageConfig::parse(&b).map_err(Error::from))
                {
                    live.extend(config.rootfs.diff_ids.iter().map(|d| d.hex().to_owned()));
                }
            }
            Err(e) => {
                return Err(Error::Image(format!(
                    "cannot read `{}` while collecting garbage: {e}; run `plinth gc` again after fixing or deleting the ref that names it",
                    d.digest
                )));
            }
        }
    }
    Ok(live)
}

fn list_entries(dir: &Path) -> Result<Vec<(PathBuf, Option<CacheEntry>)>> {
    Ok(list_dir(dir)?
        .into_iter()
        .map(|(_, path)| {
            let entry = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<CacheEntry>(&b).ok());
            (path, entry)
        })
        .collect())
}

fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    out.sort();
    Ok(out)
}

/// Removes a file or a tree (unless `dry`); returns the bytes of the files in it.
fn remove(path: &Path, dry: bool) -> Result<u64> {
    let bytes = tree_bytes(path);
    if !dry {
        remove_path(path)?;
    }
    Ok(bytes)
}

/// Removes the file or tree at `path`, if there is one.
pub(crate) fn remove_path(path: &Path) -> Result<()> {
    let removed = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

fn tree_bytes(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| tree_bytes(&e.path())).sum())
        .unwrap_or(0)
}

/// The store's exclusive lock (the `flock` on `<store>/lock` that [`Store::gc`] takes and every
/// writer shares), polled until `timeout`: a caller holding a shared guard itself would wait
/// for itself forever otherwise.
fn lock_exclusive(root: &Path, timeout: Duration) -> Result<File> {
    let path = root.join("lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("open the store lock", &path, e))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::Image(format!(
                    "the store at `{}` is still in use by another plinth command after {timeout:?}; wait for it to finish and run gc again",
                    root.display()
                )));
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
    }
}
