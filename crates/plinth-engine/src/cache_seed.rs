//! Seeded cache volumes (`RUN --mount=type=cache,from=STAGE,source=PATH`).
//!
//! In BuildKit a seeded cache is a writable snapshot over the whole seed container, and the
//! mount shows its `source` path. Here the volume directory stands for that snapshot's root
//! and is filled lazily: a mount copies in only the seed path it shows, the first time one
//! asks for it. That is the same as copying the whole tree up front, because a run can change
//! only what its mount shows:
//!
//! - a path already copied, or under one, is the volume's (with what earlier runs did to it);
//! - a path above earlier copied ones is copied from the seed *around* them: their contents
//!   (runs' changes, deletions included) are moved into the new copy, the rest comes from the
//!   seed, which no run could have touched.
//!
//! ```text
//! <volume>            the seed container's root, as far as copied
//! <volume>@seeded     the seed paths copied so far, one per line
//! <volume>@seeding    flock held while a path is copied
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use crate::cache_mounts::{open_lock_file, suffixed};
use crate::error::{Error, Result};
use crate::exec_mounts::write_tree;
use crate::files::{CopyItem, ItemKind};
use crate::gc::remove_path;
use crate::steps::PreparedSeed;

/// The directory of `volume` (a seeded cache instance) that shows `seed.source`, copied in
/// from the seed if no earlier mount copied it.
pub(crate) fn seeded_dir(volume: &Path, seed: &PreparedSeed) -> Result<PathBuf> {
    let source = seed.source.trim_start_matches('/');
    let target = if source.is_empty() {
        volume.to_path_buf()
    } else {
        volume.join(source)
    };
    let (lock, lock_path) = open_lock_file(volume, "@seeding")?;
    lock.lock()
        .map_err(|e| Error::io("lock the cache", &lock_path, e))?;

    let list_path = suffixed(volume, "@seeded");
    let seeded = read_list(&list_path)?;
    if seeded.iter().any(|done| covers(done, source)) {
        return Ok(target);
    }
    // Earlier copies below this one keep their contents; the seed fills in around them.
    let (inside, mut kept): (Vec<String>, Vec<String>) =
        seeded.into_iter().partition(|done| covers(source, done));
    let fresh = suffixed(volume, "@seeding-tree");
    remove_path(&fresh)?;
    let within = |rel: &str| -> Option<String> {
        let full = join_rel(source, rel);
        inside
            .iter()
            .any(|done| covers(done, &full))
            .then_some(full)
    };
    let items: Vec<CopyItem> = seed
        .items
        .iter()
        .filter(|item| {
            within(&item.rel).is_none()
                && !matches!(&item.kind, ItemKind::Hardlink(to) if within(to).is_some())
        })
        .cloned()
        .collect();
    write_tree(&fresh, &items)?;
    for done in &inside {
        let from = volume.join(done);
        let rel = done
            .strip_prefix(source)
            .unwrap_or(done)
            .trim_start_matches('/');
        let to = fresh.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        if fs::symlink_metadata(&from).is_ok() {
            fs::rename(&from, &to).map_err(|e| Error::io("move the cache path", &from, e))?;
        }
    }
    remove_path(&target)?;
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    fs::rename(&fresh, &target).map_err(|e| Error::io("place the cache seed", &target, e))?;
    kept.push(source.to_owned());
    write_list(&list_path, &kept)?;
    Ok(target)
}

/// Whether the seed path `outer` is `inner` or one of its parents (`""` is the root).
fn covers(outer: &str, inner: &str) -> bool {
    outer.is_empty()
        || inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn join_rel(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_owned(),
        (false, true) => base.to_owned(),
        (false, false) => format!("{base}/{rel}"),
    }
}

fn read_list(path: &Path) -> Result<Vec<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// Written whole to a temp file and renamed, so a killed build leaves the old list.
fn write_list(path: &Path, paths: &[String]) -> Result<()> {
    let temp = suffixed(path, ".tmp");
    let text: String = paths.iter().map(|p| format!("{p}\n")).collect();
    fs::write(&temp, text).map_err(|e| Error::io("write", &temp, e))?;
    fs::rename(&temp, path).map_err(|e| Error::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(rel: &str) -> CopyItem {
        CopyItem::plain_dir(rel)
    }

    fn file(rel: &str, text: &str) -> CopyItem {
        CopyItem {
            kind: ItemKind::Bytes(text.as_bytes().to_vec()),
            mode: 0o644,
            ..dir(rel)
        }
    }

    /// The seed tree `/a/b/f`, `/a/g`, `/h`, as the seed at `source` shows it.
    fn seed(source: &str) -> PreparedSeed {
        let all = [
            dir(""),
            dir("a"),
            dir("a/b"),
            file("a/b/f", "f"),
            file("a/g", "g"),
            file("h", "h"),
        ];
        let base = source.trim_start_matches('/');
        let items = all
            .iter()
            .filter_map(|item| {
                let rel = if base.is_empty() {
                    Some(item.rel.clone())
                } else if item.rel == base {
                    Some(String::new())
                } else {
                    item.rel
                        .strip_prefix(&format!("{base}/"))
                        .map(str::to_owned)
                };
                rel.map(|rel| CopyItem {
                    rel,
                    ..item.clone()
                })
            })
            .collect();
        PreparedSeed {
            path: "/cache".into(),
            identity: plinth_oci::Digest::of(b"seed"),
            source: source.to_owned(),
            items,
            contents: plinth_oci::Digest::of(b"contents"),
        }
    }

    #[test]
    fn a_path_is_copied_once_and_keeps_what_runs_did_to_it() {
        let t = tempfile::tempdir().unwrap();
        let volume = t.path().join("v");
        let shown = seeded_dir(&volume, &seed("/a/b")).unwrap();
        assert_eq!(shown, volume.join("a/b"));
        assert_eq!(fs::read_to_string(shown.join("f")).unwrap(), "f");
        fs::write(shown.join("f"), "changed").unwrap();
        fs::write(shown.join("new"), "n").unwrap();
        let again = seeded_dir(&volume, &seed("/a/b")).unwrap();
        assert_eq!(fs::read_to_string(again.join("f")).unwrap(), "changed");
        assert!(again.join("new").exists());
    }

    #[test]
    fn a_parent_is_copied_around_what_runs_changed_below_it() {
        let t = tempfile::tempdir().unwrap();
        let volume = t.path().join("v");
        let below = seeded_dir(&volume, &seed("/a/b")).unwrap();
        fs::remove_file(below.join("f")).unwrap();
        fs::write(below.join("new"), "n").unwrap();
        let root = seeded_dir(&volume, &seed("/")).unwrap();
        assert_eq!(root, volume);
        assert!(!root.join("a/b/f").exists(), "a deletion stays deleted");
        assert_eq!(fs::read_to_string(root.join("a/b/new")).unwrap(), "n");
        assert_eq!(fs::read_to_string(root.join("a/g")).unwrap(), "g");
        assert_eq!(fs::read_to_string(root.join("h")).unwrap(), "h");
        // Now the root covers everything: a path below is not copied again.
        fs::write(root.join("a/g"), "changed").unwrap();
        let a = seeded_dir(&volume, &seed("/a")).unwrap();
        assert_eq!(fs::read_to_string(a.join("g")).unwrap(), "changed");
        assert_eq!(
            read_list(&suffixed(&volume, "@seeded")).unwrap(),
            [String::new()]
        );
    }

    #[test]
    fn coverage_is_by_whole_components() {
        assert!(covers("", "a"));
        assert!(covers("a", "a/b"));
        assert!(covers("a", "a"));
        assert!(!covers("a", "ab"));
        assert!(!covers("a/b", "a"));
    }
}
