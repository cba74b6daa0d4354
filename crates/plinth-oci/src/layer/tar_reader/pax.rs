//! PAX extended header records (`x` headers): the overrides of the next entry's path, link,
//! size, owner and mtime, and its `SCHILY.xattr.*` attributes. Sparse files are refused.

use std::collections::BTreeMap;

use super::{corrupt, display_bytes};
use crate::error::Result;

/// Overrides collected from extension headers for the next entry.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) path: Option<Vec<u8>>,
    pub(super) link: Option<Vec<u8>>,
    pub(super) size: Option<u64>,
    pub(super) uid: Option<u64>,
    pub(super) gid: Option<u64>,
    pub(super) mtime: Option<i64>,
    pub(super) xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Parses PAX records into `pending`.
pub(super) fn parse_pax(mut data: &[u8], pending: &mut Pending, offset: u64) -> Result<()> {
    let bad = |reason: &str| corrupt(offset, &format!("malformed PAX header: {reason}"));
    while !data.is_empty() {
        // Trailing NUL padding after the last record is tolerated.
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("record without a length"))?;
        let len_text =
            std::str::from_utf8(&data[..space]).map_err(|_| bad("non-numeric record length"))?;
        if len_text.is_empty() || !len_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("non-numeric record length"));
        }
        let len: usize = len_text
            .parse()
            .map_err(|_| bad("record length out of range"))?;
        if len <= space + 1 || len > data.len() {
            return Err(bad("record length does not match the data"));
        }
        let record = &data[space + 1..len];
        data = &data[len..];
        let Some((&b'\n', body)) = record.split_last() else {
            return Err(bad("record does not end with a newline"));
        };
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("record without `=`"))?;
        let (key, value) = (&body[..eq], &body[eq + 1..]);
        apply_pax_record(key, value, pending).map_err(|reason| bad(&reason))?;
    }
    Ok(())
}

fn apply_pax_record(key: &[u8], value: &[u8], p: &mut Pending) -> Result<(), String> {
    let number = |what: &str| -> Result<u64, String> {
        std::str::from_utf8(value)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("invalid {what} `{}`", display_bytes(value)))
    };
    // An empty value removes an override (POSIX).
    let set = !value.is_empty();
    match key {
        b"path" => p.path = set.then(|| value.to_vec()),
        b"linkpath" => p.link = set.then(|| value.to_vec()),
        b"size" => p.size = if set { Some(number("size")?) } else { None },
        b"uid" => p.uid = if set { Some(number("uid")?) } else { None },
        b"gid" => p.gid = if set { Some(number("gid")?) } else { None },
        b"mtime" => {
            p.mtime = if set {
                Some(parse_pax_time(value)?)
            } else {
                None
            }
        }
        _ if key.starts_with(b"SCHILY.xattr.") => {
            p.xattrs
                .insert(key[b"SCHILY.xattr.".len()..].to_vec(), value.to_vec());
        }
        _ if key.starts_with(b"GNU.sparse.") => return Err("sparse files are not supported".into()),
        _ => {} // atime, ctime, uname, gname, comment, hdrcharset, vendor keys: not needed.
    }
    Ok(())
}

/// `[-]seconds[.fraction]`; the fraction is dropped.
fn parse_pax_time(value: &[u8]) -> Result<i64, String> {
    let text = std::str::from_utf8(value).map_err(|_| "invalid mtime".to_string())?;
    let whole = text.split('.').next().unwrap_or_default();
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid mtime `{text}`"));
    }
    whole
        .parse()
        .map_err(|_| format!("mtime `{text}` out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_keep_seconds() {
        assert_eq!(parse_pax_time(b"1700000000.123"), Ok(1_700_000_000));
        assert_eq!(parse_pax_time(b"-5.5"), Ok(-5));
        assert!(parse_pax_time(b"abc").is_err());
    }
}
