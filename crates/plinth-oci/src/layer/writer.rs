//! The streaming layer writer: tar → sha256 (diff_id) → compressor → sha256 (blob digest) → sink.

use std::io::{self, Read, Write};

use super::Compression;
use super::entry::{EntryMeta, LayerEntry, LayerEntryKind, check_relative_path};
use super::gzip::LayerGzip;
use super::tar_format::{BLOCK, TarHeader, TarKind, encode_header, pad_to_block};
use crate::digest::{Digest, DigestWriter};
use crate::error::{Error, Result};

/// The zstd level: fixed for the same reason (and zstd runs single-threaded here).
pub const ZSTD_LEVEL: i32 = 3;

/// How many bytes of a file go from its reader to the sink at a time.
const COPY_BUFFER: usize = 256 * 1024;

/// What a written layer is known by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LayerInfo {
    /// sha256 of the uncompressed tar (goes into the image config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// sha256 of the blob as stored and pushed (goes into the manifest's layer descriptor).
    pub digest: Digest,
    /// Size of the blob in bytes.
    pub size: u64,
    /// How the blob is compressed.
    pub compression: Compression,
}

/// How layers are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    compression: Compression,
    source_date_epoch: Option<u64>,
    xattr_allow_list: Vec<String>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            compression: Compression::Gzip,
            source_date_epoch: None,
            xattr_allow_list: vec!["security.capability".into()],
        }
    }
}

impl WriteOptions {
    /// Gzip, no mtime clamping, xattrs limited to `security.capability`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the compression.
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Clamps every mtime to at most `epoch` (the `SOURCE_DATE_EPOCH` convention). The library
    /// never reads the environment: callers pass the value (see [`super::parse_source_date_epoch`]).
    #[must_use]
    pub fn with_source_date_epoch(mut self, epoch: Option<u64>) -> Self {
        self.source_date_epoch = epoch;
        self
    }

    /// Replaces the extended attributes copied from disk (exact names).
    #[must_use]
    pub fn with_xattr_allow_list(mut self, names: Vec<String>) -> Self {
        self.xattr_allow_list = names;
        self
    }

    /// The compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The clamp for mtimes.
    pub fn source_date_epoch(&self) -> Option<u64> {
        self.source_date_epoch
    }

    /// The xattrs copied from disk.
    pub fn xattr_allow_list(&self) -> &[String] {
        &self.xattr_allow_list
    }
}

enum Encoder<W: Write> {
    Plain(W),
    Gzip(LayerGzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    fn new(out: W, compression: Compression) -> io::Result<Self> {
        Ok(match compression {
            Compression::None => Self::Plain(out),
            Compression::Gzip => Self::Gzip(LayerGzip::new(out)?),
            Compression::Zstd => Self::Zstd(zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?),
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Self::Plain(w) => Ok(w),
            Self::Gzip(e) => e.finish(),
            Self::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(w) => w.write(buf),
            Self::Gzip(e) => e.write(buf),
            Self::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(w) => w.flush(),
            Self::Gzip(e) => e.flush(),
            Self::Zstd(e) => e.flush(),
        }
    }
}

/// Writes a layer entry by entry, in the order given, streaming into `W` (a
/// [`BlobWriter`](crate::store::BlobWriter), a file, a socket…) while hashing both the tar
/// and the compressed bytes in one pass. Nothing but one header is held in memory.
///
/// The writer does not sort: [`write_entries_layer`](super::write_entries_layer) and
/// [`write_dir_layer`](super::write_dir_layer) do. Use it directly to stream big files.
///
/// ```
/// use plinth_oci::layer::{Compression, LayerEntry, LayerWriter, WriteOptions};
/// let opts = WriteOptions::new().with_compression(Compression::None);
/// let mut w = LayerWriter::new(Vec::new(), &opts).unwrap();
/// w.append_entry(&LayerEntry::dir("etc")).unwrap();
/// w.append_entry(&LayerEntry::file("etc/motd", b"hi\n".to_vec())).unwrap();
/// let (bytes, info) = w.finish().unwrap();
/// assert_eq!(info.size, bytes.len() as u64);
/// assert_eq!(info.diff_id, info.digest); // uncompressed: the same bytes
/// ```
pub struct LayerWriter<W: Write> {
    sink: DigestWriter<Encoder<DigestWriter<W>>>,
    compression: Compression,
    source_date_epoch: Option<u64>,
    header: Vec<u8>,
    /// File bytes on their way from a reader to the sink: big reads mean few system calls and
    /// whole pieces for the gzip encoder to judge without copying them first.
    copy_buffer: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for LayerWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerWriter")
            .field("compression", &self.compression)
            .field("source_date_epoch", &self.source_date_epoch)
            .field("tar_bytes", &self.sink.len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> LayerWriter<W> {
    /// Starts a layer that streams into `out`.
    pub fn new(out: W, options: &WriteOptions) -> Result<Self> {
        let encoder =
            Encoder::new(DigestWriter::new(out), options.compression).map_err(write_error)?;
        Ok(Self {
            sink: DigestWriter::new(encoder),
            compression: options.compression,
            source_date_epoch: options.source_date_epoch,
            header: Vec::with_capacity(4 * BLOCK),
            copy_buffer: Vec::new(),
        })
    }

    /// Appends an in-memory entry. Its path must be relative and normalized.
    pub fn append_entry(&mut self, entry: &LayerEntry) -> Result<()> {
        let path = check_relative_path(entry.path(), entry.path(), "path")?;
        let (kind, link, size, dev) = match entry.kind() {
            LayerEntryKind::File(data) => (TarKind::Regular, "", data.len() as u64, (0, 0)),
            LayerEntryKind::Dir => (TarKind::Directory, "", 0, (0, 0)),
            LayerEntryKind::Symlink(target) => {
                if target.is_empty() || target.contains('\0') {
                    return Err(Error::UnsafeEntry {
                        entry: path.to_owned(),
                        reason: "a symlink target must be non-empty and free of NUL bytes".into(),
                    });
                }
                (TarKind::Symlink, target.as_str(), 0, (0, 0))
            }
            LayerEntryKind::Hardlink(target) => (
                TarKind::Hardlink,
                check_relative_path(path, target, "hardlink target")?,
                0,
                (0, 0),
            ),
            LayerEntryKind::CharDevice { major, minor } => {
                (TarKind::CharDevice, "", 0, (*major, *minor))
            }
            LayerEntryKind::BlockDevice { major, minor } => {
                (TarKind::BlockDevice, "", 0, (*major, *minor))
            }
            LayerEntryKind::Fifo => (TarKind::Fifo, "", 0, (0, 0)),
        };
        let header = self.header_for(
            path.as_bytes().to_vec(),
            kind,
            entry.meta(),
            size,
            link.as_bytes(),
            dev,
        );
        match entry.kind() {
            LayerEntryKind::File(data) => self.append_raw(&header, &mut &data[..]),
            _ => self.append_raw(&header, &mut io::empty()),
        }
    }

    /// Appends a regular file whose `size` bytes are streamed from `contents`. Fails if
    /// `contents` ends early; reads no more than `size` bytes.
    pub fn append_file(
        &mut self,
        path: &str,
        meta: &EntryMeta,
        size: u64,
        contents: impl Read,
    ) -> Result<()> {
        let path = check_relative_path(path, path, "path")?;
        let header = self.header_for(
            path.as_bytes().to_vec(),
            TarKind::Regular,
            meta,
            size,
            b"",
            (0, 0),
        );
        self.append_raw(&header, &mut contents.take(size))
    }

    pub(crate) fn header_for(
        &self,
        path: Vec<u8>,
        kind: TarKind,
        meta: &EntryMeta,
        size: u64,
        link: &[u8],
        (dev_major, dev_minor): (u32, u32),
    ) -> TarHeader {
        TarHeader {
            path,
            kind,
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            size,
            mtime: self.clamp(meta.mtime()),
            link: link.to_vec(),
            dev_major,
            dev_minor,
            xattrs: meta.xattrs().clone(),
        }
    }

    /// Applies the `SOURCE_DATE_EPOCH` clamp.
    pub(crate) fn clamp(&self, mtime: u64) -> u64 {
        self.source_date_epoch
            .map_or(mtime, |epoch| mtime.min(epoch))
    }

    /// Writes a header and exactly `header.size` data bytes from `data`.
    pub(crate) fn append_raw(&mut self, header: &TarHeader, data: &mut dyn Read) -> Result<()> {
        self.header.clear();
        encode_header(header, &mut self.header);
        self.sink.write_all(&self.header).map_err(write_error)?;
        let copied = self.copy_contents(data, header)?;
        if copied != header.size {
            return Err(Error::Layer(format!(
                "`{}` has {copied} bytes but {} were expected: it changed while the layer was written",
                String::from_utf8_lossy(&header.path),
                header.size
            )));
        }
        self.header.clear();
        pad_to_block(&mut self.header, header.size);
        self.sink.write_all(&self.header).map_err(write_error)?;
        Ok(())
    }

    /// Copies at most `header.size` bytes of `data` into the sink; returns how many there were.
    fn copy_contents(&mut self, data: &mut dyn Read, header: &TarHeader) -> Result<u64> {
        if self.copy_buffer.is_empty() && header.size > 0 {
            self.copy_buffer = vec![0; COPY_BUFFER];
        }
        let mut copied = 0u64;
        while copied < header.size {
            let want = usize::try_from(header.size - copied)
                .map_or(COPY_BUFFER, |left| left.min(COPY_BUFFER));
            let n = match data.read(&mut self.copy_buffer[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::Io {
                        action: "read the contents of",
                        path: String::from_utf8_lossy(&header.path).into_owned().into(),
                        source: e,
                    });
                }
            };
            self.sink
                .write_all(&self.copy_buffer[..n])
                .map_err(write_error)?;
            copied += n as u64;
        }
        Ok(copied)
    }

    /// Writes the end-of-archive marker, finishes compression and returns the sink with the
    /// layer's digests. Call [`BlobWriter::commit`](crate::store::BlobWriter::commit) with
    /// `Some(&info.digest)` afterwards when writing into the store.
    pub fn finish(mut self) -> Result<(W, LayerInfo)> {
        self.sink
            .write_all(&[0u8; 2 * BLOCK])
            .map_err(write_error)?;
        let (encoder, diff_id, _) = self.sink.finish();
        let blob = encoder.finish().map_err(write_error)?;
        let (out, digest, size) = blob.finish();
        Ok((
            out,
            LayerInfo {
                diff_id,
                digest,
                size,
                compression: self.compression,
            },
        ))
    }
}

fn write_error(e: io::Error) -> Error {
    Error::Layer(format!("failed to write the layer stream: {e}"))
}
