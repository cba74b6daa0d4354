//! Applying a layer blob onto a directory, the way container runtimes do, safely.

use std::io::{self, Cursor, Read};
use std::path::Path;

use super::Compression;
use super::apply::Applier;
use super::safe_fs::Root;
use super::tar_reader::TarReader;
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};

/// The default largest entry: 64 GiB.
pub const DEFAULT_MAX_ENTRY_SIZE: u64 = 64 << 30;

/// What to do with whiteout entries (`.wh.<name>`, `.wh..wh..opq`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// Delete the named files and clear opaque directories in the target: the target holds the
    /// merged file system of this layer over the earlier ones (default).
    #[default]
    Apply,
    /// Turn them into overlayfs whiteouts (0/0 character devices, `trusted.overlay.opaque=y`),
    /// so the target can be an overlay lower dir. Needs root (or `CAP_MKNOD`).
    Overlay,
}

/// How a layer is unpacked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackOptions {
    compression: Option<Compression>,
    allow_devices: bool,
    preserve_ownership: bool,
    whiteouts: WhiteoutMode,
    max_entry_size: u64,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        Self {
            compression: None,
            allow_devices: false,
            preserve_ownership: rustix::process::geteuid().is_root(),
            whiteouts: WhiteoutMode::Apply,
            max_entry_size: DEFAULT_MAX_ENTRY_SIZE,
        }
    }
}

impl UnpackOptions {
    /// Detect compression, refuse devices, keep ownership and xattrs when running as root,
    /// apply whiteouts, entries up to [`DEFAULT_MAX_ENTRY_SIZE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the compression instead of detecting it from the magic bytes.
    #[must_use]
    pub fn with_compression(mut self, compression: Option<Compression>) -> Self {
        self.compression = compression;
        self
    }

    /// Allows character and block device entries (otherwise they are an error).
    #[must_use]
    pub fn with_allow_devices(mut self, allow: bool) -> Self {
        self.allow_devices = allow;
        self
    }

    /// Applies numeric owners and `security.capability`/`user.*` xattrs from the layer. Needs
    /// root; the default is whether the process runs as root.
    #[must_use]
    pub fn with_preserve_ownership(mut self, preserve: bool) -> Self {
        self.preserve_ownership = preserve;
        self
    }

    /// Sets how whiteouts are handled.
    #[must_use]
    pub fn with_whiteouts(mut self, mode: WhiteoutMode) -> Self {
        self.whiteouts = mode;
        self
    }

    /// Sets the largest accepted entry size in bytes.
    #[must_use]
    pub fn with_max_entry_size(mut self, bytes: u64) -> Self {
        self.max_entry_size = bytes;
        self
    }

    /// The forced compression, if any.
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// Whether device nodes are allowed.
    pub fn allow_devices(&self) -> bool {
        self.allow_devices
    }

    /// Whether owners and xattrs are applied.
    pub fn preserve_ownership(&self) -> bool {
        self.preserve_ownership
    }

    /// The whiteout handling.
    pub fn whiteouts(&self) -> WhiteoutMode {
        self.whiteouts
    }

    /// The largest accepted entry.
    pub fn max_entry_size(&self) -> u64 {
        self.max_entry_size
    }
}

/// What an unpack did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackSummary {
    /// sha256 of the uncompressed tar: compare it with the config's `rootfs.diff_ids`.
    pub diff_id: Digest,
    /// The compression that was read.
    pub compression: Compression,
    /// Entries applied (whiteouts included, extension headers not).
    pub entries: u64,
    /// Whiteout entries among them.
    pub whiteouts: u64,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
}

/// Unpacks the layer blob read from `blob` onto the existing directory `target`.
///
/// Safety rules (each violation is an [`Error::UnsafeEntry`] naming the entry):
/// - entry paths must be relative: absolute paths are refused, not stripped; `..` components,
///   NUL bytes and names over `PATH_MAX`/`NAME_MAX` are refused;
/// - no entry is ever written through a symlink: every parent component is opened with
///   `O_NOFOLLOW`, so a symlink in a parent (from this layer or an earlier one) is an error even
///   when it points inside the target;
/// - hardlink targets follow the same path rules and must already exist inside the target;
/// - device nodes need [`UnpackOptions::with_allow_devices`];
/// - corrupt headers, bad checksums, data on header-only entries, sparse files and oversized
///   entries or extension headers are refused.
///
/// An entry replaces whatever is at its path, except that a directory over a directory merges.
/// On error the target may hold the entries applied so far: unpack into a fresh directory and
/// discard it on failure. Nothing outside `target` is modified in any case.
pub fn unpack_layer<R: Read>(
    blob: R,
    target: &Path,
    options: &UnpackOptions,
) -> Result<UnpackSummary> {
    let root =
        Root::open(target).map_err(|e| Error::io("open the target directory", target, e.into()))?;
    let (compression, decoded) = decoded(blob, options.compression())?;
    let span = tracing::debug_span!("unpack_layer", target = %target.display(), %compression);
    let _guard = span.enter();

    let mut tar = TarReader::new(
        HashingReader {
            inner: decoded,
            hasher: Hasher::new(),
        },
        options.max_entry_size(),
    );
    let mut applier = Applier::new(root, options);
    while let Some(entry) = tar.next_entry()? {
        applier.apply(&entry, &mut tar)?;
    }
    let (entries, whiteouts) = (applier.entries, applier.whiteouts);
    applier.finish()?;
    // Read to the end so the diff_id covers the whole stream and gzip checks its trailer.
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink())
        .map_err(|e| Error::Layer(format!("failed to read the layer stream: {e}")))?;
    let tar_size = rest.hasher.len();
    let diff_id = rest.hasher.finish();
    tracing::debug!(%diff_id, entries, whiteouts, "layer unpacked");
    Ok(UnpackSummary {
        diff_id,
        compression,
        entries,
        whiteouts,
        tar_size,
    })
}

/// Reads the first bytes to tell gzip (`1f 8b`), zstd (`28 b5 2f fd`) and plain tar apart,
/// unless `forced` says which it is.
pub(super) fn detect_compression<R: Read>(
    mut blob: R,
    forced: Option<Compression>,
) -> Result<(Compression, impl Read)> {
    let mut magic = [0u8; 4];
    let mut filled = 0;
    while filled < magic.len() {
        match blob.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::Layer(format!(
                    "failed to read the layer stream: {e}"
                )));
            }
        }
    }
    let detected = if magic[..filled].starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if magic[..filled] == [0x28, 0xb5, 0x2f, 0xfd] {
        Compression::Zstd
    } else {
        Compression::None
    };
    let compression = forced.unwrap_or(detected);
    Ok((
        compression,
        Cursor::new(magic[..filled].to_vec()).chain(blob),
    ))
}

/// The tar stream of a layer blob: decompressed as `forced` says, else as its magic bytes say.
pub(super) fn decoded<'a, R: Read + 'a>(
    blob: R,
    forced: Option<Compression>,
) -> Result<(Compression, Box<dyn Read + 'a>)> {
    let (compression, blob) = detect_compression(blob, forced)?;
    let stream: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(blob),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(blob)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(blob)
                .map_err(|e| Error::Layer(format!("failed to start zstd decompression: {e}")))?,
        ),
    };
    Ok((compression, stream))
}

struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
