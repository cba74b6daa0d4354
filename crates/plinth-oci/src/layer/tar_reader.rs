//! A strict, streaming tar reader with bounded allocation.
//!
//! It understands ustar, PAX (`x` local and `g` global headers) and GNU long names/links, which is
//! what layer tars in the wild use. Anything else is refused rather than guessed at: a bad
//! checksum, bytes after a NUL in a name field, data on a header-only entry (readers disagree on
//! whether to skip it, which lets one archive show different files to different tools), sparse
//! files, sizes over the limit. Extension headers are read into memory only up to small fixed
//! limits, so a hostile header cannot make the reader allocate more than about a megabyte.
//!
//! The header block itself is read in `header`, PAX records in `pax`.

use std::collections::BTreeMap;
use std::io::{self, Read};

use super::tar_format::{BLOCK, padding_for};
use crate::error::{Error, Result};

mod header;
mod pax;

use self::header::Header;
use self::pax::{Pending, parse_pax};

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

/// The extension headers read before an entry, applied to it once its own header comes.
#[derive(Default)]
struct Extensions {
    pax: Pending,
    /// GNU `L` and `K` headers; a PAX `path` or `linkpath` wins over them.
    gnu_name: Option<Vec<u8>>,
    gnu_link: Option<Vec<u8>>,
    count: usize,
}

impl Extensions {
    fn apply_to(self, entry: &mut RawEntry) {
        let pax = self.pax;
        if let Some(p) = pax.path.or(self.gnu_name) {
            entry.path = p;
        }
        if let Some(l) = pax.link.or(self.gnu_link) {
            entry.link = l;
        }
        entry.size = pax.size.unwrap_or(entry.size);
        entry.uid = pax.uid.unwrap_or(entry.uid);
        entry.gid = pax.gid.unwrap_or(entry.gid);
        entry.mtime = pax.mtime.unwrap_or(entry.mtime);
        entry.xattrs = pax.xattrs;
    }
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
        if self.finished || !self.skip_rest_of_entry()? {
            return Ok(None);
        }
        // An entry is its own header, after up to MAX_EXTENSION_HEADERS extension headers; its
        // offset is that of the first of them.
        let start = self.offset;
        let mut extensions = Extensions::default();
        loop {
            let offset = self.offset;
            let Some(block) = self.read_header_block(extensions.count > 0)? else {
                return Ok(None);
            };
            let header = Header::parse(&block, offset)?;
            let typeflag = block[156];
            if matches!(typeflag, b'x' | b'g' | b'L' | b'K') {
                self.read_extension(&mut extensions, typeflag, &header, offset)?;
                continue;
            }
            let mut entry = header.into_entry(typeflag, start);
            extensions.apply_to(&mut entry);
            self.check_size(&entry)?;
            self.data_left = entry.size;
            self.pad_left = padding_for(entry.size) as u64;
            return Ok(Some(entry));
        }
    }

    /// Skips the previous entry's unread data and its padding; `false` when the stream ends
    /// inside that padding, which is a complete archive.
    fn skip_rest_of_entry(&mut self) -> Result<bool> {
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
            return Ok(false);
        }
        Ok(true)
    }

    /// The next header block; `None` at the end of the archive (the end of the stream or a
    /// zero block), which may not come between extension headers and their entry.
    fn read_header_block(&mut self, after_extension: bool) -> Result<Option<[u8; BLOCK]>> {
        let offset = self.offset;
        let block = self.read_block()?;
        let end = match &block {
            None => Some("the archive ends right after an extension header"),
            Some(b) if b.iter().all(|&x| x == 0) => {
                Some("an end-of-archive block follows an extension header")
            }
            Some(_) => None,
        };
        match end {
            Some(reason) if after_extension => Err(corrupt(offset, reason)),
            Some(_) => {
                self.finished = true;
                Ok(None)
            }
            None => Ok(block),
        }
    }

    /// Reads the data of an extension header (bounded by its kind's limit) into `extensions`.
    fn read_extension(
        &mut self,
        extensions: &mut Extensions,
        typeflag: u8,
        header: &Header,
        offset: u64,
    ) -> Result<()> {
        extensions.count += 1;
        if extensions.count > MAX_EXTENSION_HEADERS {
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
            b'x' => parse_pax(&data, &mut extensions.pax, offset)?,
            // Global headers are validated and ignored: they would change how every later
            // entry is read, which no layer needs.
            b'g' => parse_pax(&data, &mut Pending::default(), offset)?,
            b'L' => extensions.gnu_name = Some(trim_nuls(data)),
            _ => extensions.gnu_link = Some(trim_nuls(data)),
        }
        Ok(())
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
