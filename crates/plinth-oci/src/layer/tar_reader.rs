//! A strict, streaming tar reader with bounded allocation.
//!
//! It understands ustar, PAX (`x` local and `g` global headers) and GNU long names/links, which is
//! what layer tars in the wild use. Anything else is refused rather than guessed at: a bad
//! checksum, bytes after a NUL in a name field, data on a header-only entry (readers disagree on
//! whether to skip it, which lets one archive show different files to different tools), sparse
//! files, sizes over the limit. Extension headers are read into memory only up to small fixed
//! limits, so a hostile header cannot make the reader allocate more than about a megabyte.

use std::collections::BTreeMap;
use std::io::{self, Read};

use super::tar_format::{BLOCK, padding_for};
use crate::error::{Error, Result};

/// The largest PAX extended header accepted.
const MAX_PAX_SIZE: u64 = 1024 * 1024;
/// The largest GNU long name or long link accepted.
const MAX_GNU_LONG_SIZE: u64 = 64 * 1024;
/// Extension headers allowed in a row before a real entry.
const MAX_EXTENSION_HEADERS: usize = 8;

/// One entry as read from the archive, after PAX and GNU extensions were applied.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawEntry {
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// `SCHILY.xattr.*` records: name → value.
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Where the entry's (first) header starts in the uncompressed stream.
    pub offset: u64,
}

impl RawEntry {
    /// The entry path for error messages.
    pub fn display_path(&self) -> String {
        display_bytes(&self.path)
    }
}

/// Lossy UTF-8, cut to 200 characters, for error messages.
pub(crate) fn display_bytes(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s.into_owned()
    }
}

/// Overrides collected from extension headers for the next entry.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<i64>,
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Reads entries one by one; the data of the current entry is read through [`Read`].
pub(crate) struct TarReader<R> {
    inner: R,
    offset: u64,
    data_left: u64,
    pad_left: u64,
    finished: bool,
    max_entry_size: u64,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R, max_entry_size: u64) -> Self {
        Self {
            inner,
            offset: 0,
            data_left: 0,
            pad_left: 0,
            finished: false,
            max_entry_size,
        }
    }

    /// Gives the underlying reader back (to drain what follows the end-of-archive marker).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The next entry, or `None` at the end of the archive. Unread data of the previous entry
    /// is skipped.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>> {
        if self.finished {
            return Ok(None);
        }
        self.skip(self.data_left, "<previous entry>")?;
        self.data_left = 0;
        // umoci (0.4, Debian's) ends its layers right after the last entry's data, without
        // padding it to a block or writing the end-of-archive blocks; docker and containerd
        // apply such layers, so a stream that ends inside the last padding is a complete one.
        let pad = std::mem::take(&mut self.pad_left);
        let copied =
            io::copy(&mut (&mut self.inner).take(pad), &mut io::sink()).map_err(read_error)?;
        self.offset += copied;
        if copied < pad {
            self.finished = true;
            return Ok(None);
        }

        let mut pending = Pending::default();
        let mut gnu_name: Option<Vec<u8>> = None;
        let mut gnu_link: Option<Vec<u8>> = None;
        let mut extensions = 0usize;
        let mut first_offset = None;
        loop {
            let offset = self.offset;
            let start = *first_offset.get_or_insert(offset);
            let Some(block) = self.read_block()? else {
                if extensions > 0 {
                    return Err(corrupt(
                        offset,
                        "the archive ends right after an extension header",
                    ));
                }
                self.finished = true;
                return Ok(None);
            };
            if block.iter().all(|&b| b == 0) {
                if extensions > 0 {
                    return Err(corrupt(
                        offset,
                        "an end-of-archive block follows an extension header",
                    ));
                }
                self.finished = true;
                return Ok(None);
            }
            let header = Header::parse(&block, offset)?;
            let typeflag = block[156];
            match typeflag {
                b'x' | b'g' | b'L' | b'K' => {
                    extensions += 1;
                    if extensions > MAX_EXTENSION_HEADERS {
                        return Err(corrupt(
                            offset,
                            "too many extension headers before one entry",
                        ));
                    }
                    let limit = if matches!(typeflag, b'L' | b'K') {
                        MAX_GNU_LONG_SIZE
                    } else {
                        MAX_PAX_SIZE
                    };
                    if header.size > limit {
                        return Err(corrupt(
                            offset,
                            &format!(
                                "extension header of {} bytes exceeds the {limit}-byte limit",
                                header.size
                            ),
                        ));
                    }
                    let data = self.read_exact_data(header.size, offset)?;
                    match typeflag {
                        b'x' => parse_pax(&data, &mut pending, offset)?,
                        // Global headers are validated and ignored: they would change how every
                        // later entry is read, which no layer needs.
                        b'g' => parse_pax(&data, &mut Pending::default(), offset)?,
                        b'L' => gnu_name = Some(trim_nuls(data)),
                        _ => gnu_link = Some(trim_nuls(data)),
                    }
                }
                _ => {
                    let entry = with_extensions(
                        header.into_entry(typeflag, start),
                        pending,
                        gnu_name,
                        gnu_link,
                    );
                    self.check_size(&entry)?;
                    self.data_left = entry.size;
                    self.pad_left = padding_for(entry.size) as u64;
                    return Ok(Some(entry));
                }
            }
        }
    }

    fn check_size(&self, entry: &RawEntry) -> Result<()> {
        let header_only = matches!(entry.typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
        if header_only && entry.size != 0 {
            return Err(Error::UnsafeEntry {
                entry: entry.display_path(),
                reason: format!(
                    "a header-only entry (type `{}`) declares {} data bytes; tools disagree on skipping them",
                    entry.typeflag as char, entry.size
                ),
            });
        }
        if entry.size > self.max_entry_size {
            return Err(Error::UnsafeEntry {
                entry: entry.display_path(),
                reason: format!(
                    "entry size {} exceeds the limit of {} bytes",
                    entry.size, self.max_entry_size
                ),
            });
        }
        Ok(())
    }

    /// Reads one block; `None` on a clean end of stream at a block boundary.
    fn read_block(&mut self) -> Result<Option<[u8; BLOCK]>> {
        let mut block = [0u8; BLOCK];
        let mut filled = 0;
        while filled < BLOCK {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(e)),
            }
        }
        self.offset += filled as u64;
        match filled {
            0 => Ok(None),
            BLOCK => Ok(Some(block)),
            _ => Err(corrupt(
                self.offset - filled as u64,
                "the archive ends inside a header block",
            )),
        }
    }

    fn read_exact_data(&mut self, size: u64, header_offset: u64) -> Result<Vec<u8>> {
        // `size` is bounded by the caller, so this allocation is too.
        let mut data = vec![0u8; size as usize];
        self.inner
            .read_exact(&mut data)
            .map_err(|e| eof_or_read(e, header_offset))?;
        self.offset += size;
        self.skip(padding_for(size) as u64, "<extension header>")?;
        Ok(data)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        let copied =
            io::copy(&mut (&mut self.inner).take(n), &mut io::sink()).map_err(read_error)?;
        self.offset += copied;
        if copied < n {
            return Err(Error::UnsafeEntry {
                entry: what.to_owned(),
                reason: format!(
                    "the archive ends {} bytes before the entry's data does",
                    n - copied
                ),
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for TarReader<R> {
    /// Reads the current entry's data; fails with `UnexpectedEof` when the archive is truncated.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data_left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside an entry's data",
            ));
        }
        self.data_left -= n as u64;
        self.offset += n as u64;
        Ok(n)
    }
}

fn read_error(e: io::Error) -> Error {
    Error::Layer(format!("failed to read the layer stream: {e}"))
}

fn eof_or_read(e: io::Error, offset: u64) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        corrupt(offset, "the archive ends inside an extension header's data")
    } else {
        read_error(e)
    }
}

fn corrupt(offset: u64, reason: &str) -> Error {
    Error::UnsafeEntry {
        entry: format!("<header at byte {offset}>"),
        reason: reason.to_owned(),
    }
}

fn trim_nuls(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// The fields of one ustar/GNU header block.
struct Header {
    path: Vec<u8>,
    link: Vec<u8>,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: i64,
    dev_major: u32,
    dev_minor: u32,
}

impl Header {
    fn parse(b: &[u8; BLOCK], offset: u64) -> Result<Self> {
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

    fn into_entry(self, typeflag: u8, offset: u64) -> RawEntry {
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

/// Parses PAX records into `pending`.
fn parse_pax(mut data: &[u8], pending: &mut Pending, offset: u64) -> Result<()> {
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

/// `entry` with what its extension headers say: PAX keys win over the GNU long name and link,
/// which win over the ustar header's fields.
fn with_extensions(
    mut entry: RawEntry,
    pending: Pending,
    gnu_name: Option<Vec<u8>>,
    gnu_link: Option<Vec<u8>>,
) -> RawEntry {
    if let Some(p) = pending.path.or(gnu_name) {
        entry.path = p;
    }
    if let Some(l) = pending.link.or(gnu_link) {
        entry.link = l;
    }
    entry.size = pending.size.unwrap_or(entry.size);
    entry.uid = pending.uid.unwrap_or(entry.uid);
    entry.gid = pending.gid.unwrap_or(entry.gid);
    entry.mtime = pending.mtime.unwrap_or(entry.mtime);
    entry.xattrs = pending.xattrs;
    entry
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

    #[test]
    fn pax_times_keep_seconds() {
        assert_eq!(parse_pax_time(b"1700000000.123"), Ok(1_700_000_000));
        assert_eq!(parse_pax_time(b"-5.5"), Ok(-5));
        assert!(parse_pax_time(b"abc").is_err());
    }
}
