//! Hand-built tar headers: POSIX ustar blocks plus PAX extended headers, nothing else.
//!
//! Every byte of a header is decided here, so the same entry always encodes to the same bytes:
//! empty user and group names, no atime/ctime, fixed PAX header metadata, records sorted by key.
//! Values that do not fit a ustar field go to a PAX record (`path`, `linkpath`, `size`, `uid`,
//! `gid`, `mtime`); GNU long-name headers are never written.

use std::collections::BTreeMap;

/// The size of a tar block.
pub(crate) const BLOCK: usize = 512;

/// The largest value an 11-digit octal field (size, mtime) holds.
const MAX_OCTAL_11: u64 = 0o777_7777_7777;
/// The largest value a 7-digit octal field (uid, gid, devices) holds.
const MAX_OCTAL_7: u64 = 0o777_7777;

/// The kind of a tar entry, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TarKind {
    Regular,
    Hardlink,
    Symlink,
    CharDevice,
    BlockDevice,
    Directory,
    Fifo,
}

impl TarKind {
    fn typeflag(self) -> u8 {
        match self {
            Self::Regular => b'0',
            Self::Hardlink => b'1',
            Self::Symlink => b'2',
            Self::CharDevice => b'3',
            Self::BlockDevice => b'4',
            Self::Directory => b'5',
            Self::Fifo => b'6',
        }
    }
}

/// Everything a written entry carries.
#[derive(Clone, Debug)]
pub(crate) struct TarHeader {
    /// Relative path without a trailing slash (one is added for directories).
    pub path: Vec<u8>,
    pub kind: TarKind,
    /// Permission bits including setuid/setgid/sticky (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Data bytes that follow (only regular files have any).
    pub size: u64,
    pub mtime: u64,
    /// Symlink target or hardlink target path.
    pub link: Vec<u8>,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Extended attributes, written as `SCHILY.xattr.<name>` PAX records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Appends the header blocks of `h` (a PAX header first when needed) to `out`.
pub(crate) fn encode_header(h: &TarHeader, out: &mut Vec<u8>) {
    let mut name = h.path.clone();
    if h.kind == TarKind::Directory {
        name.push(b'/');
    }
    let mut pax: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if name.len() > 100 {
        pax.insert("path".into(), name.clone());
    }
    if h.link.len() > 100 {
        pax.insert("linkpath".into(), h.link.clone());
    }
    for (key, value, max) in [
        ("size", h.size, MAX_OCTAL_11),
        ("mtime", h.mtime, MAX_OCTAL_11),
        ("uid", h.uid, MAX_OCTAL_7),
        ("gid", h.gid, MAX_OCTAL_7),
    ] {
        if value > max {
            pax.insert(key.into(), value.to_string().into_bytes());
        }
    }
    for (xattr, value) in &h.xattrs {
        pax.insert(format!("SCHILY.xattr.{xattr}"), value.clone());
    }

    if !pax.is_empty() {
        let records = encode_pax_records(&pax);
        let mut pax_name = b"PaxHeaders.0/".to_vec();
        pax_name.extend_from_slice(base_name(&h.path));
        let pax_header = ustar_block(&UstarFields {
            name: &pax_name,
            typeflag: b'x',
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: records.len() as u64,
            mtime: 0,
            link: b"",
            dev_major: 0,
            dev_minor: 0,
        });
        out.extend_from_slice(&pax_header);
        out.extend_from_slice(&records);
        pad_to_block(out, records.len() as u64);
    }

    out.extend_from_slice(&ustar_block(&UstarFields {
        name: &name,
        typeflag: h.kind.typeflag(),
        mode: h.mode & 0o7777,
        uid: h.uid.min(MAX_OCTAL_7),
        gid: h.gid.min(MAX_OCTAL_7),
        size: if h.size > MAX_OCTAL_11 { 0 } else { h.size },
        mtime: h.mtime.min(MAX_OCTAL_11),
        link: &h.link,
        dev_major: h.dev_major,
        dev_minor: h.dev_minor,
    }));
}

/// Appends zero bytes so that `len` data bytes end on a block boundary.
pub(crate) fn pad_to_block(out: &mut Vec<u8>, len: u64) {
    out.resize(out.len() + padding_for(len), 0);
}

/// How many zero bytes follow `len` data bytes.
pub(crate) fn padding_for(len: u64) -> usize {
    let rem = (len % BLOCK as u64) as usize;
    if rem == 0 { 0 } else { BLOCK - rem }
}

fn base_name(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Encodes PAX records `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
pub(crate) fn encode_pax_records(records: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

struct UstarFields<'a> {
    name: &'a [u8],
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    link: &'a [u8],
    dev_major: u32,
    dev_minor: u32,
}

fn ustar_block(f: &UstarFields<'_>) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    copy_truncated(&mut b[0..100], f.name);
    write_octal(&mut b[100..108], u64::from(f.mode));
    write_octal(&mut b[108..116], f.uid);
    write_octal(&mut b[116..124], f.gid);
    write_octal(&mut b[124..136], f.size);
    write_octal(&mut b[136..148], f.mtime);
    b[156] = f.typeflag;
    copy_truncated(&mut b[157..257], f.link);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    // uname (265..297) and gname (297..329) stay empty: ownership is numeric only.
    write_device(&mut b[329..337], f.dev_major);
    write_device(&mut b[337..345], f.dev_minor);
    // The checksum is computed with its own field as spaces.
    b[148..156].fill(b' ');
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    let digits = format!("{sum:06o}");
    b[148..154].copy_from_slice(digits.as_bytes());
    b[154] = 0;
    b[155] = b' ';
    b
}

fn copy_truncated(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal digits followed by a NUL; the caller guarantees the value fits.
fn write_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let digits = format!("{value:0width$o}");
    field[..width].copy_from_slice(&digits.as_bytes()[digits.len() - width..]);
    field[width] = 0;
}

/// Device numbers above the octal range use the base-256 encoding every reader understands.
fn write_device(field: &mut [u8], value: u32) {
    if u64::from(value) <= MAX_OCTAL_7 {
        write_octal(field, u64::from(value));
    } else {
        field.fill(0);
        field[0] = 0x80;
        field[4..8].copy_from_slice(&value.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(path: &str) -> TarHeader {
        TarHeader {
            path: path.as_bytes().to_vec(),
            kind: TarKind::Regular,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 3,
            mtime: 1,
            link: Vec::new(),
            dev_major: 0,
            dev_minor: 0,
            xattrs: BTreeMap::new(),
        }
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let mut m = BTreeMap::new();
        m.insert("path".to_string(), vec![b'a'; 3]);
        assert_eq!(encode_pax_records(&m), b"12 path=aaa\n");
        // 9 + 91 = 100 bytes: the length grows from two to three digits.
        m.insert("path".to_string(), vec![b'a'; 91]);
        let rec = encode_pax_records(&m);
        assert_eq!(rec.len(), 101);
        assert!(rec.starts_with(b"101 path="));
    }

    #[test]
    fn short_entries_need_one_block_and_long_ones_a_pax_header() {
        let mut out = Vec::new();
        encode_header(&header("a/b"), &mut out);
        assert_eq!(out.len(), BLOCK);
        assert_eq!(&out[257..263], b"ustar\0");
        let mut out = Vec::new();
        encode_header(&header(&"x/".repeat(80)), &mut out);
        assert_eq!(out.len(), 3 * BLOCK);
        assert_eq!(out[156], b'x');
    }

    #[test]
    fn checksum_matches_the_header_sum() {
        let mut out = Vec::new();
        encode_header(&header("file"), &mut out);
        let mut copy = out.clone();
        copy[148..156].fill(b' ');
        let sum: u64 = copy.iter().map(|&x| u64::from(x)).sum();
        let stored = std::str::from_utf8(&out[148..154]).unwrap();
        assert_eq!(u64::from_str_radix(stored, 8).unwrap(), sum);
    }
}
