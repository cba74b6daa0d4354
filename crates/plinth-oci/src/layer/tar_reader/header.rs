//! One ustar/GNU header block, parsed strictly: checksums verified, numeric fields octal or
//! positive base-256 only, names refused when bytes hide after their NUL.

use std::collections::BTreeMap;

use super::{RawEntry, display_bytes, trim_nuls};
use crate::error::{Error, Result};
use crate::layer::tar_format::BLOCK;

/// The fields of one ustar/GNU header block.
pub(super) struct Header {
    path: Vec<u8>,
    link: Vec<u8>,
    mode: u32,
    uid: u64,
    gid: u64,
    pub(super) size: u64,
    mtime: i64,
    dev_major: u32,
    dev_minor: u32,
}

impl Header {
    pub(super) fn parse(b: &[u8; BLOCK], offset: u64) -> Result<Self> {
        let name = c_field(&b[0..100]).ok_or_else(|| Error::UnsafeEntry {
            entry: display_bytes(&trim_nuls(b[0..100].to_vec())).replace('\0', "\\0"),
            reason: format!("the name field of the header at byte {offset} has bytes after a NUL"),
        })?;
        let bad = |field: &str| Error::UnsafeEntry {
            entry: display_bytes(name),
            reason: format!("invalid {field} field in the header at byte {offset}"),
        };
        let stored = parse_number(&b[148..156]).ok_or_else(|| bad("checksum"))?;
        let mut unsigned: u64 = 0;
        let mut signed: i64 = 0;
        for (i, &x) in b.iter().enumerate() {
            let x = if (148..156).contains(&i) { b' ' } else { x };
            unsigned += u64::from(x);
            signed += i64::from(x as i8);
        }
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            return Err(Error::UnsafeEntry {
                entry: display_bytes(name),
                reason: format!(
                    "header checksum mismatch at byte {offset}: the archive is corrupt"
                ),
            });
        }
        let link = c_field(&b[157..257])
            .ok_or_else(|| bad("link name (bytes after a NUL)"))?
            .to_vec();
        let mut path = name.to_vec();
        // Only POSIX ustar has a prefix field; old GNU headers keep other data there.
        if &b[257..263] == b"ustar\0" {
            let prefix = c_field(&b[345..500]).ok_or_else(|| bad("prefix (bytes after a NUL)"))?;
            if !prefix.is_empty() {
                path = [prefix, b"/", name].concat();
            }
        }
        let num = |range: std::ops::Range<usize>, field: &str| {
            parse_number(&b[range]).ok_or_else(|| bad(field))
        };
        let mode = num(100..108, "mode")?;
        let dev = |range, field| -> Result<u32> {
            u32::try_from(num(range, field)?).map_err(|_| bad(field))
        };
        Ok(Self {
            mode: (mode & 0o7777) as u32,
            uid: num(108..116, "uid")?,
            gid: num(116..124, "gid")?,
            size: num(124..136, "size")?,
            mtime: i64::try_from(num(136..148, "mtime")?).map_err(|_| bad("mtime"))?,
            dev_major: dev(329..337, "device major")?,
            dev_minor: dev(337..345, "device minor")?,
            path,
            link,
        })
    }

    pub(super) fn into_entry(self, typeflag: u8, offset: u64) -> RawEntry {
        RawEntry {
            path: self.path,
            link: self.link,
            typeflag,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            size: self.size,
            mtime: self.mtime,
            dev_major: self.dev_major,
            dev_minor: self.dev_minor,
            xattrs: BTreeMap::new(),
            offset,
        }
    }
}

/// A NUL-terminated field; `None` when non-NUL bytes follow the terminator (a name smuggled
/// past readers that stop at the NUL).
fn c_field(field: &[u8]) -> Option<&[u8]> {
    match field.iter().position(|&b| b == 0) {
        None => Some(field),
        Some(i) if field[i..].iter().all(|&b| b == 0) => Some(&field[..i]),
        Some(_) => None,
    }
}

/// Parses an octal field (leading spaces, trailing NULs/spaces) or a positive base-256 field.
/// Negative base-256 values and overflow are errors.
fn parse_number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut value: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            value = value.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(value);
    }
    let trimmed: &[u8] = {
        let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
        let rest = &field[start..];
        let end = rest
            .iter()
            .position(|&b| b == 0 || b == b' ')
            .unwrap_or(rest.len());
        if rest[end..].iter().any(|&b| b != 0 && b != b' ') {
            return None;
        }
        &rest[..end]
    };
    let mut value: u64 = 0;
    for &b in trimmed {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_octal_and_base256_and_refuse_garbage() {
        assert_eq!(parse_number(b"0000644\0"), Some(0o644));
        assert_eq!(parse_number(b"   644 \0"), Some(0o644));
        assert_eq!(parse_number(b"\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(parse_number(&[0x80, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(parse_number(&[0xff; 12]), None);
        assert_eq!(parse_number(b"0009\0\0\0\0"), None);
        assert_eq!(parse_number(b"12 34\0\0\0"), None);
        assert_eq!(
            parse_number(&[
                0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]),
            None
        );
    }

    #[test]
    fn c_fields_refuse_smuggled_bytes() {
        assert_eq!(c_field(b"abc\0\0\0"), Some(&b"abc"[..]));
        assert_eq!(c_field(b"abc\0x\0"), None);
    }
}
