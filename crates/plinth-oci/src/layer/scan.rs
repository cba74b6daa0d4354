//! Reading a layer's entries one by one without writing anything: for tools that look at an
//! image's files (an SBOM, a file listing) and must not unpack it to disk.

use std::io::Read;

use serde::Serialize;

use super::tar_reader::TarReader;
use super::unpack::decoded;
use super::{Compression, DEFAULT_MAX_ENTRY_SIZE, OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use crate::error::Result;

/// What a layer entry is, as far as a reader of the merged file system cares. Serialized as
/// `{"type": "symlink", "target": "…"}` (`plinth diff --json` prints it so).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "target")]
pub enum ScannedKind {
    /// A regular file; its data is read through the reader given with it.
    File,
    /// A directory.
    Directory,
    /// A symbolic link to this target (as written, relative or absolute).
    Symlink(String),
    /// A hard link to this path of the same layer (or a lower one), normalised like entry paths.
    HardLink(String),
    /// `.wh.<name>`: the entry's path (without the prefix) is deleted from lower layers.
    Whiteout,
    /// `.wh..wh..opq`: everything under the entry's path (the directory) from lower layers is
    /// hidden.
    OpaqueWhiteout,
    /// A device, FIFO or another type without content.
    Other,
}

/// One entry of a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedEntry {
    /// The path inside the image, without a leading `/` or `./` and without a trailing `/`
    /// (for whiteouts: the path they delete; for an opaque whiteout: its directory, `""` for
    /// the root).
    pub path: String,
    /// What it is.
    pub kind: ScannedKind,
    /// Data bytes (regular files only).
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// The owner's numeric user id.
    pub uid: u64,
    /// The owner's numeric group id.
    pub gid: u64,
    /// The modification time, seconds since 1970.
    pub mtime: i64,
}

/// Reads a layer blob (gzip, zstd or plain tar, detected from its magic bytes unless
/// `compression` is given) and calls `visit` with every entry in archive order; a regular
/// file's data can be read from the reader given with it (what `visit` leaves unread is
/// skipped). The same strict tar reader as [`unpack_layer`](super::unpack_layer) is used, so a
/// corrupt or hostile layer is refused the same way.
pub fn scan_layer<R: Read>(
    blob: R,
    compression: Option<Compression>,
    mut visit: impl FnMut(&ScannedEntry, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let (_, decoded) = decoded(blob, compression)?;
    let mut tar = TarReader::new(decoded, DEFAULT_MAX_ENTRY_SIZE);
    while let Some(raw) = tar.next_entry()? {
        let path = normalize(&String::from_utf8_lossy(&raw.path));
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("", path.as_str()),
        };
        let (path, kind) = if name == OPAQUE_WHITEOUT {
            (dir.to_owned(), ScannedKind::OpaqueWhiteout)
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            let deleted = if dir.is_empty() {
                hidden.to_owned()
            } else {
                format!("{dir}/{hidden}")
            };
            (deleted, ScannedKind::Whiteout)
        } else {
            let link = || String::from_utf8_lossy(&raw.link).into_owned();
            let kind = match raw.typeflag {
                b'0' | b'\0' | b'7' => ScannedKind::File,
                b'5' => ScannedKind::Directory,
                b'2' => ScannedKind::Symlink(link()),
                b'1' => ScannedKind::HardLink(normalize(&link())),
                _ => ScannedKind::Other,
            };
            (path, kind)
        };
        let entry = ScannedEntry {
            path,
            size: if kind == ScannedKind::File {
                raw.size
            } else {
                0
            },
            kind,
            mode: raw.mode & 0o7777,
            uid: raw.uid,
            gid: raw.gid,
            mtime: raw.mtime,
        };
        visit(&entry, &mut tar)?;
    }
    Ok(())
}

/// `./usr/lib/` → `usr/lib`; `/` and `.` → `""`.
pub(crate) fn normalize(path: &str) -> String {
    let mut p = path;
    loop {
        let before = p;
        p = p.trim_start_matches("./").trim_start_matches('/');
        if p == before {
            break;
        }
    }
    let p = p.trim_end_matches('/');
    if p == "." {
        String::new()
    } else {
        p.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{LayerEntry, WriteOptions, write_entries_layer};

    #[test]
    fn entries_come_in_order_with_data_whiteouts_and_links() {
        let entries = vec![
            LayerEntry::dir("etc"),
            LayerEntry::file("etc/os-release", b"ID=debian\n".to_vec()),
            LayerEntry::symlink("etc/alias", "os-release"),
            LayerEntry::file("etc/.wh.gone", Vec::new()),
            LayerEntry::dir("opt"),
            LayerEntry::file("opt/.wh..wh..opq", Vec::new()),
        ];
        let (blob, _) = write_entries_layer(&entries, Vec::new(), &WriteOptions::new()).unwrap();
        let mut seen = Vec::new();
        scan_layer(&blob[..], None, |entry, data| {
            let mut text = String::new();
            data.read_to_string(&mut text).unwrap();
            seen.push((entry.path.clone(), entry.kind.clone(), text));
            Ok(())
        })
        .unwrap();
        let file = |p: &str, t: &str| (p.to_owned(), ScannedKind::File, t.to_owned());
        assert_eq!(
            seen,
            [
                ("etc".to_owned(), ScannedKind::Directory, String::new()),
                ("etc/gone".to_owned(), ScannedKind::Whiteout, String::new()),
                (
                    "etc/alias".to_owned(),
                    ScannedKind::Symlink("os-release".to_owned()),
                    String::new()
                ),
                file("etc/os-release", "ID=debian\n"),
                ("opt".to_owned(), ScannedKind::Directory, String::new()),
                ("opt".to_owned(), ScannedKind::OpaqueWhiteout, String::new()),
            ]
        );
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalize("./usr/lib/"), "usr/lib");
        assert_eq!(normalize("/etc"), "etc");
        assert_eq!(normalize("./"), "");
        assert_eq!(normalize("."), "");
    }
}
