//! `RUN --mount=type=cache`: the volumes under `<store>/caches/`, and how concurrent steps
//! share one (BuildKit's `sharing=`).
//!
//! ```text
//! <store>/caches/<volume>                   the volume (its name percent-encoded)
//! <store>/caches/<volume>@<uid>-<gid>-<mode> the volume as mounts naming an owner or mode see it
//! <store>/caches/<dir>@lock                 flock held by a `locked` or `private` user
//! <store>/caches/<dir>@private-<n>          more instances for `private` users that found it busy
//! <store>/caches/<volume>@seed-<snapshot>    a cache seeded from a container (`cache_seed.rs`)
//! ```
//!
//! A mount that names `uid`, `gid` or `mode` gets the volume BuildKit gives it: its frontend
//! bases such a cache on a directory made with those, and a cache's identity is its id plus
//! its base, so `id=pip,uid=1000` and `id=pip` are two caches. `@` is always percent-encoded in
//! a volume's name, so these never meet another volume.

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

use plinth_recipe::{CacheMount, CacheSharing};
use plinth_sandbox::{MountSpec, RunSpec};

use crate::cache_seed::seeded_dir;
use crate::error::{Error, Result};
use crate::files::resolve_owner;
use crate::step_context::StepContext;
use crate::steps::PreparedSeed;

/// Where the cache volumes of the store at `store_root` are.
pub(crate) fn caches_root(store_root: &Path) -> PathBuf {
    store_root.join("caches")
}

/// The cache directory of a volume: the name percent-encoded to one safe path component.
pub(crate) fn cache_dir(store_root: &Path, volume: &str) -> PathBuf {
    let mut name = String::new();
    for b in volume.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && !name.is_empty()) {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    caches_root(store_root).join(name)
}

/// Locks a step holds on the cache volumes it mounts, released when dropped (the kernel also
/// releases them if the process dies).
#[derive(Default)]
pub(crate) struct CacheLocks(Vec<File>);

/// The active cache mounts on `spec`: owned by their `uid:gid` in the image and with their mode
/// when created, read-only when asked; a `locked` volume waits for its other users, a
/// `private` one that is busy is replaced by a free instance of its own.
pub(crate) fn with_caches(
    ctx: &StepContext<'_>,
    (caches, seeds): (&[CacheMount], &[PreparedSeed]),
    read_dirs: &[PathBuf],
    mut spec: RunSpec,
) -> Result<(RunSpec, CacheLocks)> {
    let mut locks = CacheLocks::default();
    for cache in caches {
        let (uid, gid) = match &cache.owner {
            Some(owner) => resolve_owner(read_dirs, owner, ctx.index)?,
            None => (0, 0),
        };
        let mut volume = cache_dir(ctx.engine.store.root(), &cache.volume);
        let mut seed = seeds.iter().find(|s| s.path == cache.path);
        if let Some(found) = seed {
            volume = suffixed(&volume, &format!("@seed-{}", &found.identity.hex()[..16]));
        }
        let mode = cache.options.mode.unwrap_or(0o755);
        // BuildKit applies `uid`/`gid`/`mode` only to a cache shown from its seed's root: it
        // makes the directory they describe on the seed and shows that, empty, instead.
        let named = cache.owner.is_some() || cache.options.mode.is_some();
        if named && seed.is_none_or(|s| s.source == "/") {
            volume = suffixed(&volume, &format!("@{uid}-{gid}-{mode:04o}"));
            seed = None;
        }
        let dir = match cache.options.sharing {
            CacheSharing::Shared => volume,
            CacheSharing::Locked => {
                let (file, path) = open_lock(&volume)?;
                file.lock()
                    .map_err(|e| Error::io("lock the cache", &path, e))?;
                locks.0.push(file);
                volume
            }
            CacheSharing::Private => {
                let (dir, lock) = free_instance(&volume)?;
                locks.0.push(lock);
                dir
            }
        };
        let dir = match seed {
            Some(seed) => seeded_dir(&dir, seed)?,
            None => dir,
        };
        spec = spec.with_mount(
            MountSpec::cache(dir, &cache.path, uid, gid)
                .with_cache_mode(mode)
                .with_readonly(cache.options.readonly),
        );
    }
    Ok((spec, locks))
}

/// `path` with `suffix` added to its last component.
pub(crate) fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The lock file of the cache instance at `dir`, opened (not locked) and its path.
fn open_lock(dir: &Path) -> Result<(File, PathBuf)> {
    open_lock_file(dir, "@lock")
}

/// The lock file `dir` + `suffix` beside a cache directory, opened (not locked), and its path.
pub(crate) fn open_lock_file(dir: &Path, suffix: &str) -> Result<(File, PathBuf)> {
    let path = suffixed(dir, suffix);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("open the cache lock", &path, e))?;
    Ok((file, path))
}

/// The lock of the cache instance at `dir` when no other step holds it.
fn try_lock(dir: &Path) -> Result<Option<File>> {
    let (file, path) = open_lock(dir)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(Error::io("lock the cache", &path, e)),
    }
}

/// The first instance of the volume no other step holds (the volume itself, then
/// `@private-1`, `@private-2`, …), locked.
fn free_instance(volume: &Path) -> Result<(PathBuf, File)> {
    for n in 0usize.. {
        let dir = if n == 0 {
            volume.to_path_buf()
        } else {
            suffixed(volume, &format!("@private-{n}"))
        };
        if let Some(lock) = try_lock(&dir)? {
            return Ok((dir, lock));
        }
    }
    unreachable!("some instance is free: each busy one is held by a running step")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_private_volume_gives_the_next_free_instance() {
        let t = tempfile::tempdir().unwrap();
        let volume = cache_dir(t.path(), "pip");
        let (first, _held) = free_instance(&volume).unwrap();
        assert_eq!(first, volume);
        let (second, held_second) = free_instance(&volume).unwrap();
        assert_eq!(second, t.path().join("caches/pip@private-1"));
        drop(held_second);
        let (again, _) = free_instance(&volume).unwrap();
        assert_eq!(again, second, "a released instance is reused");
        assert!(
            try_lock(&volume).unwrap().is_none(),
            "the first is still held"
        );
    }

    #[test]
    fn volume_names_are_one_path_component_and_never_hold_an_at_sign() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(
            cache_dir(t.path(), "/root/.cache@x"),
            t.path().join("caches/%2Froot%2F.cache%40x")
        );
    }
}
