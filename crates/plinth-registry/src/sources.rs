//! A small on-store record of which repositories hold each blob, so that a push can mount a
//! blob from a repository on the same registry instead of uploading it again.
//!
//! One JSON file per blob at `<store>/cache/blob-sources/<hex>.json`: a list of
//! `registry/repository` names, newest first, at most [`MAX_SOURCES`]. Writes are atomic; two
//! processes racing may drop one entry, which only costs a mount.

use std::path::PathBuf;

use plinth_oci::{Digest, Store};

/// How many repositories are remembered per blob.
pub const MAX_SOURCES: usize = 8;

fn path(store: &Store, digest: &Digest) -> PathBuf {
    store
        .root()
        .join("cache")
        .join("blob-sources")
        .join(format!("{}.json", digest.hex()))
}

/// The repositories known to hold `digest`, as `(registry, repository)`, newest first.
pub fn blob_sources(store: &Store, digest: &Digest) -> Vec<(String, String)> {
    let Ok(bytes) = std::fs::read(path(store, digest)) else {
        return Vec::new();
    };
    let names: Vec<String> = serde_json::from_slice(&bytes).unwrap_or_default();
    names
        .into_iter()
        .filter_map(|n| n.split_once('/').map(|(r, p)| (r.to_owned(), p.to_owned())))
        .collect()
}

/// Records that `registry/repository` holds `digest`. Failures are logged, never fatal.
pub fn record_blob_source(store: &Store, digest: &Digest, registry: &str, repository: &str) {
    let name = format!("{registry}/{repository}");
    let p = path(store, digest);
    let mut names: Vec<String> = std::fs::read(&p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if names.first() == Some(&name) {
        return;
    }
    names.retain(|n| n != &name);
    names.insert(0, name);
    names.truncate(MAX_SOURCES);
    if let Err(e) = write_atomic(&p, &serde_json::to_vec(&names).unwrap_or_default()) {
        tracing::debug!(digest = %digest, "cannot record blob source: {e}");
    }
}

/// Writes `bytes` to `path` atomically ([`plinth_oci::fs::write_atomic`]), creating its directory.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    plinth_oci::fs::write_atomic(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = Digest::of(b"x");
        assert!(blob_sources(&store, &d).is_empty());
        for i in 0..10 {
            record_blob_source(&store, &d, "r.example", &format!("repo{i}"));
        }
        record_blob_source(&store, &d, "r.example", "repo5");
        let s = blob_sources(&store, &d);
        assert_eq!(s.len(), MAX_SOURCES);
        assert_eq!(s[0], ("r.example".to_owned(), "repo5".to_owned()));
        assert_eq!(s.iter().filter(|(_, r)| r == "repo5").count(), 1);
    }
}
