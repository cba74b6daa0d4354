//! Rewriting a layer someone else wrote with plinth's own headers and clamped mtimes, for
//! builders that stamp wall-clock times (docker's BuildKit before 0.13 ignores
//! `SOURCE_DATE_EPOCH`). The same job as BuildKit 0.13's `rewrite-timestamp` exporter option,
//! done while the layer is imported anyway.
//!
//! Entries keep their order, paths, types, modes, owners, link targets, device numbers, data
//! and every extended attribute; mtimes later than the epoch become the epoch; what plinth's
//! writer never writes (user and group names, atime, ctime, other PAX records) is dropped, as
//! the embedded engine's layers have none of it. A layer plinth wrote with the same epoch comes
//! out byte for byte as it went in.

use std::io::{self, Read, Write};

use super::entry::{EntryMeta, check_relative_path};
use super::scan::normalize;
use super::tar_format::{TarHeader, TarKind};
use super::tar_reader::{RawEntry, TarReader};
use super::{DEFAULT_MAX_ENTRY_SIZE, LayerInfo, LayerWriter, WriteOptions};
use crate::error::{Error, Result};

/// Reads the uncompressed tar `tar` and writes it again into `out` with `options` (its
/// `SOURCE_DATE_EPOCH` clamps the mtimes). Reads `tar` to its end, past the end-of-archive
/// marker, so a caller hashing the input sees all of it.
pub fn restamp_layer<R: Read, W: Write>(
    tar: R,
    out: W,
    options: &WriteOptions,
) -> Result<(W, LayerInfo)> {
    let mut reader = TarReader::new(tar, DEFAULT_MAX_ENTRY_SIZE);
    let mut writer = LayerWriter::new(out, options)?;
    while let Some(raw) = reader.next_entry()? {
        match rewritten_header(&writer, &raw)? {
            Some((_, header)) => writer.append_raw(&header, &mut reader)?,
            // The root directory itself: plinth's layers never hold it, and the image's root
            // is the runtime's to make.
            None => {
                io::copy(&mut reader, &mut io::sink()).map_err(read_error)?;
            }
        }
    }
    io::copy(&mut reader.into_inner(), &mut io::sink()).map_err(read_error)?;
    writer.finish()
}

/// `raw` as plinth's writer writes it (see the module docs), with its normalised path; `None`
/// for the root directory. Hard link targets are normalised like paths.
pub(super) fn rewritten_header<W: Write>(
    writer: &LayerWriter<W>,
    raw: &RawEntry,
) -> Result<Option<(String, TarHeader)>> {
    let Some(path) = entry_path(raw)? else {
        return Ok(None);
    };
    let kind = kind_of(raw)?;
    let link = match kind {
        TarKind::Hardlink => {
            let target = utf8(&raw.link, raw, "hard link target")?;
            let target = target.trim_start_matches("./").trim_start_matches('/');
            check_relative_path(&path, target, "hard link target")?
                .as_bytes()
                .to_vec()
        }
        TarKind::Symlink => raw.link.clone(),
        _ => Vec::new(),
    };
    let size = if kind == TarKind::Regular {
        raw.size
    } else {
        0
    };
    let header = writer.header_for(
        path.clone().into_bytes(),
        kind,
        &meta_of(raw)?,
        size,
        &link,
        (raw.dev_major, raw.dev_minor),
    );
    Ok(Some((path, header)))
}

/// The entry's path, normalised as plinth writes paths; `None` for the root directory.
pub(super) fn entry_path(raw: &RawEntry) -> Result<Option<String>> {
    let path = utf8(&raw.path, raw, "path")?;
    let normalized = normalize(path);
    if normalized.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        check_relative_path(path, &normalized, "path")?.to_owned(),
    ))
}

fn kind_of(raw: &RawEntry) -> Result<TarKind> {
    Ok(match raw.typeflag {
        b'0' | b'\0' | b'7' => TarKind::Regular,
        b'1' => TarKind::Hardlink,
        b'2' => TarKind::Symlink,
        b'3' => TarKind::CharDevice,
        b'4' => TarKind::BlockDevice,
        b'5' => TarKind::Directory,
        b'6' => TarKind::Fifo,
        other => {
            return Err(Error::UnsafeEntry {
                entry: raw.display_path(),
                reason: format!(
                    "tar entry type `{}` has no place in a layer",
                    char::from(other).escape_default()
                ),
            });
        }
    })
}

fn meta_of(raw: &RawEntry) -> Result<EntryMeta> {
    let mut meta = EntryMeta::new(raw.mode & 0o7777)
        .with_owner(raw.uid, raw.gid)
        .with_mtime(u64::try_from(raw.mtime).unwrap_or(0));
    for (name, value) in &raw.xattrs {
        meta = meta.with_xattr(utf8(name, raw, "extended attribute name")?, value.clone());
    }
    Ok(meta)
}

fn utf8<'a>(bytes: &'a [u8], raw: &RawEntry, what: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| Error::UnsafeEntry {
        entry: raw.display_path(),
        reason: format!("the {what} is not UTF-8"),
    })
}

fn read_error(e: io::Error) -> Error {
    Error::Layer(format!("failed to read the layer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Compression, LayerEntry, write_entries_layer};

    fn plain(epoch: Option<u64>) -> WriteOptions {
        WriteOptions::new()
            .with_compression(Compression::None)
            .with_source_date_epoch(epoch)
    }

    /// A tar as GNU tar and Go write them: `./` prefixes, user names, a root entry, PAX
    /// times with fractions.
    fn foreign_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: tar::EntryType, data: &[u8], mtime: u64, link: &str| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            h.set_mode(if kind == tar::EntryType::Directory {
                0o755
            } else {
                0o4755
            });
            h.set_uid(1000);
            h.set_gid(33);
            h.set_username("alice").unwrap();
            h.set_groupname("www-data").unwrap();
            h.set_mtime(mtime);
            h.set_size(data.len() as u64);
            if !link.is_empty() {
                h.set_link_name(link).unwrap();
            }
            b.append_data(&mut h, path, data).unwrap();
        };
        add("./", tar::EntryType::Directory, b"", 1_700_000_000, "");
        add("./app/", tar::EntryType::Directory, b"", 1_700_000_000, "");
        add(
            "./app/run",
            tar::EntryType::Regular,
            b"#!/bin/sh\n",
            1_700_000_001,
            "",
        );
        add(
            "./app/again",
            tar::EntryType::Link,
            b"",
            1_700_000_002,
            "./app/run",
        );
        add("./app/old", tar::EntryType::Regular, b"old\n", 5, "");
        b.into_inner().unwrap()
    }

    #[test]
    fn clamps_mtimes_and_keeps_everything_else() {
        let (out, _) = restamp_layer(&foreign_tar()[..], Vec::new(), &plain(Some(100))).unwrap();
        let mut archive = tar::Archive::new(&out[..]);
        let seen: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut data = String::new();
                e.read_to_string(&mut data).unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    (h.uid().unwrap(), h.gid().unwrap()),
                    h.mtime().unwrap(),
                    h.username().unwrap().unwrap_or_default().to_owned(),
                    e.link_name().unwrap().map(|l| l.display().to_string()),
                    data,
                )
            })
            .collect();
        let entry = |p: &str, mode, mtime, link: Option<&str>, data: &str| {
            (
                p.to_owned(),
                mode,
                (1000, 33),
                mtime,
                String::new(),
                link.map(str::to_owned),
                data.to_owned(),
            )
        };
        assert_eq!(
            seen,
            vec![
                entry("app/", 0o755, 100, None, ""),
                entry("app/run", 0o4755, 100, None, "#!/bin/sh\n"),
                entry("app/again", 0o4755, 100, Some("app/run"), ""),
                entry("app/old", 0o4755, 5, None, "old\n"),
            ]
        );
    }

    #[test]
    fn a_layer_plinth_wrote_with_the_same_epoch_is_a_fixed_point() {
        let entries = vec![
            LayerEntry::dir("etc"),
            LayerEntry::file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n".to_vec()),
            LayerEntry::symlink("etc/mtab", "/proc/mounts"),
            LayerEntry::file("bin/ping", b"elf".to_vec())
                .with_mode(0o755)
                .with_xattr("security.capability", vec![1, 0, 0, 2]),
            LayerEntry::hardlink("bin/ping6", "bin/ping"),
            LayerEntry::new(
                "dev/null",
                crate::layer::LayerEntryKind::CharDevice { major: 1, minor: 3 },
            ),
            LayerEntry::file(format!("deep/{}", "x".repeat(150)), b"long".to_vec()),
        ];
        let (tar, info) = write_entries_layer(&entries, Vec::new(), &plain(Some(0))).unwrap();
        let (again, again_info) = restamp_layer(&tar[..], Vec::new(), &plain(Some(0))).unwrap();
        assert_eq!(again, tar);
        assert_eq!(again_info.diff_id, info.diff_id);
    }

    #[test]
    fn unsafe_paths_are_refused() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let name = b"../escape";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let err = restamp_layer(&tar[..], Vec::new(), &plain(Some(0))).unwrap_err();
        assert!(err.to_string().contains("`..` component"), "{err}");
    }
}
