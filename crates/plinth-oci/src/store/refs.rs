//! Named refs: `docker.io/library/busybox:latest`, a build id or a cache key → a descriptor.
//!
//! Each ref is one small JSON file under `<root>/refs/`, replaced atomically (temp file in
//! `<root>/tmp` + rename), so two processes setting different refs never interfere and two setting
//! the same ref leave one of the two values, never a mix. Refs are the roots garbage collection
//! marks from; anything a ref can reach stays.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Store;
use crate::canonical::to_canonical_vec;
use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, Result};

/// Longest ref name accepted.
pub const MAX_REF_NAME: usize = 1024;
/// File names longer than this are replaced by the hash of the name (file systems cap at 255).
const MAX_FILE_NAME: usize = 200;

/// One named ref.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRef {
    /// The name, as given to [`Store::set_ref`].
    pub name: String,
    /// What it points at: usually an image index or manifest, but any blob may be a root.
    pub descriptor: Descriptor,
}

fn invalid_name(name: &str, reason: &str) -> Error {
    Error::InvalidReference {
        input: name.chars().take(100).collect(),
        part: "ref name".to_owned(),
        reason: reason.to_owned(),
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid_name(name, "a ref name must not be empty"));
    }
    if name.len() > MAX_REF_NAME {
        return Err(invalid_name(name, "a ref name is at most 1024 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid_name(
            name,
            "a ref name must not contain control characters",
        ));
    }
    Ok(())
}

/// The file name for a ref: the name with everything but `[A-Za-z0-9._-]` percent-encoded
/// (readable in `ls`), or `sha256-<hex>` of the name when that would be too long.
fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_FILE_NAME {
        return format!("sha256-{}", Digest::of(name.as_bytes()).hex());
    }
    out
}

impl Store {
    fn refs_dir(&self) -> PathBuf {
        self.root().join("refs")
    }

    /// Points `name` at `descriptor`, replacing any previous value atomically. The blob should
    /// already be in the store (hold [`Store::lock_shared`] from writing it until now).
    pub fn set_ref(&self, name: &str, descriptor: &Descriptor) -> Result<()> {
        validate_name(name)?;
        let _guard = self.lock_shared()?;
        let record = StoreRef {
            name: name.to_owned(),
            descriptor: descriptor.clone(),
        };
        let bytes = to_canonical_vec(&record)?;
        let dir = self.refs_dir();
        fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        let dest = dir.join(file_name(name));
        let tmp_dir = self.root().join("tmp");
        let mut tmp = tempfile::Builder::new()
            .prefix(".ref-")
            .tempfile_in(&tmp_dir)
            .map_err(|e| Error::io("create temp file in", &tmp_dir, e))?;
        tmp.write_all(&bytes)
            .map_err(|e| Error::io("write", tmp.path().to_owned(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("sync", tmp.path().to_owned(), e))?;
        tmp.persist(&dest)
            .map_err(|e| Error::io("rename into", &dest, e.error))?;
        tracing::debug!(name, digest = %descriptor.digest, "set ref");
        Ok(())
    }

    /// The descriptor `name` points at, if the ref exists.
    pub fn get_ref(&self, name: &str) -> Result<Option<Descriptor>> {
        validate_name(name)?;
        let path = self.refs_dir().join(file_name(name));
        match fs::read(&path) {
            Ok(bytes) => {
                let record: StoreRef = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::InvalidManifest(format!(
                        "ref file `{}` is corrupt ({e}); delete it and set the ref again",
                        path.display()
                    ))
                })?;
                Ok(Some(record.descriptor))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Removes a ref; returns whether it existed. Its blobs go at the next [`Store::gc`].
    pub fn delete_ref(&self, name: &str) -> Result<bool> {
        validate_name(name)?;
        let path = self.refs_dir().join(file_name(name));
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove", path, e)),
        }
    }

    /// All refs, sorted by name. Corrupt ref files are skipped with a warning.
    pub fn list_refs(&self) -> Result<Vec<StoreRef>> {
        let dir = self.refs_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", dir, e)),
        };
        let mut refs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
            let path = entry.path();
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                // Deleted between listing and reading.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("read", path, e)),
            };
            match serde_json::from_slice::<StoreRef>(&bytes) {
                Ok(r) => refs.push(r),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping corrupt ref file")
                }
            }
        }
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(
            file_name("docker.io/library/busybox:latest"),
            "docker.io%2Flibrary%2Fbusybox%3Alatest"
        );
        assert_eq!(file_name(".."), "%2E.");
        assert_ne!(file_name("a/b"), file_name("a%2Fb"));
        let long = "x/".repeat(200);
        assert!(file_name(&long).starts_with("sha256-"));
    }
}
