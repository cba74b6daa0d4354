//! A layer's entries as comparable facts: path, type, mode, owner, size, modification time and
//! a sha256 of the content, read by streaming the blob (nothing is unpacked).

use std::collections::BTreeMap;
use std::io::Read;

use plinth_oci::layer::{ScannedEntry, ScannedKind, scan_layer};
use plinth_oci::{Digest, Store};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// A short word for an entry's type in text output.
pub fn kind_word(kind: &ScannedKind) -> String {
    match kind {
        ScannedKind::File => "file".to_owned(),
        ScannedKind::Directory => "dir".to_owned(),
        ScannedKind::Symlink(target) => format!("symlink → {target}"),
        ScannedKind::HardLink(target) => format!("hardlink → /{target}"),
        ScannedKind::Whiteout => "whiteout".to_owned(),
        ScannedKind::OpaqueWhiteout => "opaque whiteout".to_owned(),
        ScannedKind::Other => "special".to_owned(),
    }
}

/// One entry of a layer, as compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// Its type.
    #[serde(flatten)]
    pub kind: ScannedKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Content bytes (regular files).
    pub size: u64,
    /// Modification time, seconds since 1970.
    pub mtime: i64,
    /// `sha256:…` of the content (regular files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A layer's entries by path (no leading `/`; a whiteout under the path it deletes, an
/// opaque whiteout under its directory with `/.wh..wh..opq` appended so it never collides with
/// the directory itself).
pub type LayerFiles = BTreeMap<String, FileEntry>;

/// Lists the layer blob `digest` of `store`.
pub fn layer_files(store: &Store, digest: &Digest) -> Result<LayerFiles> {
    let blob = store.open_blob(digest)?;
    read_layer_files(std::io::BufReader::new(blob)).map_err(|e| match e {
        Error::Layer { reason, .. } => Error::Layer {
            layer: digest.to_string(),
            reason,
        },
        other => other,
    })
}

/// Lists a layer blob (gzip, zstd or plain tar).
pub fn read_layer_files(blob: impl Read) -> Result<LayerFiles> {
    let mut files = LayerFiles::new();
    scan_layer(blob, None, |entry: &ScannedEntry, data: &mut dyn Read| {
        // An opaque whiteout is listed under its own name so it never collides with its
        // directory's entry.
        let path = match entry.kind {
            ScannedKind::OpaqueWhiteout => format!("{}/.wh..wh..opq", entry.path)
                .trim_start_matches('/')
                .to_owned(),
            _ => entry.path.clone(),
        };
        let kind = entry.kind.clone();
        let sha256 = if kind == ScannedKind::File {
            Some(hash(data).map_err(|e| {
                plinth_oci::Error::Layer(format!("cannot read `/{}`: {e}", entry.path))
            })?)
        } else {
            None
        };
        files.insert(
            path,
            FileEntry {
                kind,
                mode: entry.mode,
                uid: entry.uid,
                gid: entry.gid,
                size: entry.size,
                mtime: entry.mtime,
                sha256,
            },
        );
        Ok(())
    })
    .map_err(|e| Error::Layer {
        layer: String::new(),
        reason: e.to_string(),
    })?;
    Ok(files)
}

fn hash(data: &mut dyn Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = data.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_oci::layer::{LayerEntry, WriteOptions, write_entries_layer};

    #[test]
    fn entries_carry_type_mode_owner_size_and_content_hash() {
        let entries = vec![
            LayerEntry::dir("etc"),
            LayerEntry::file("etc/motd", b"hello\n".to_vec()).with_mode(0o640),
            LayerEntry::symlink("etc/alias", "motd"),
            LayerEntry::file("etc/.wh.gone", Vec::new()),
            LayerEntry::dir("opt"),
            LayerEntry::file("opt/.wh..wh..opq", Vec::new()),
        ];
        let options = WriteOptions::new().with_source_date_epoch(Some(0));
        let (blob, _) = write_entries_layer(&entries, Vec::new(), &options).unwrap();
        let files = read_layer_files(&blob[..]).unwrap();
        let motd = &files["etc/motd"];
        assert_eq!(motd.kind, ScannedKind::File);
        assert_eq!(motd.mode, 0o640);
        assert_eq!(motd.size, 6);
        assert_eq!(
            motd.sha256.as_deref(),
            Some("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        );
        assert_eq!(files["etc/alias"].kind, ScannedKind::Symlink("motd".into()));
        assert_eq!(files["etc/gone"].kind, ScannedKind::Whiteout);
        assert_eq!(files["opt/.wh..wh..opq"].kind, ScannedKind::OpaqueWhiteout);
        assert_eq!(files["opt"].kind, ScannedKind::Directory);
        assert_eq!(files.len(), 6);
    }

    #[test]
    fn entries_serialize_with_their_type_flattened() {
        let entry = |kind| FileEntry {
            kind,
            mode: 0o777,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 1,
            sha256: None,
        };
        assert_eq!(
            serde_json::to_string(&entry(ScannedKind::Symlink("motd".into()))).unwrap(),
            r#"{"type":"symlink","target":"motd","mode":511,"uid":0,"gid":0,"size":0,"mtime":1}"#
        );
        assert_eq!(
            serde_json::to_string(&entry(ScannedKind::OpaqueWhiteout)).unwrap(),
            r#"{"type":"opaque_whiteout","mode":511,"uid":0,"gid":0,"size":0,"mtime":1}"#
        );
    }
}
