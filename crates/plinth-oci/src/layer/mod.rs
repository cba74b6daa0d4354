//! Layers: deterministic tar writing, safe unpacking, compression.
//!
//! # Writing
//!
//! A layer is written in one streaming pass: the tar goes through a sha256 (the `diff_id`), the
//! compressor (gzip at a fixed level with a zeroed header time, stored blocks for pieces that
//! are already compressed or random, see `gzip.rs`; zstd at a fixed level; or none) and a
//! second sha256 (the blob digest) into any [`Write`] — usually a
//! [`BlobWriter`](crate::store::BlobWriter), which then does not hash the same bytes again
//! ([`store_layer_writer`], [`LayerWriter::commit`]). The result is a [`LayerInfo`].
//!
//! The tar is byte-for-byte reproducible: headers are built by hand (POSIX ustar plus PAX
//! extended headers for long names, long link targets, big numbers and xattrs; never GNU long
//! names), entries are sorted bytewise by path so a directory precedes its contents, owners are
//! numeric with empty user/group names, and with a `SOURCE_DATE_EPOCH` every mtime is clamped to
//! it. There is no atime or ctime. Hard links are found by (device, inode) and written as links
//! to the first path in sort order. Only allow-listed xattrs (`security.capability` by default)
//! are copied.
//!
//! - [`write_dir_layer`]: a directory tree as it is.
//! - [`write_upper_layer`]: an overlayfs upper directory as an OCI layer diff (0/0 character
//!   devices become `.wh.<name>` whiteouts; opaque directories get a `.wh..wh..opq` entry).
//! - [`write_entries_layer`]: an in-memory list of [`LayerEntry`] values.
//! - [`LayerWriter`]: the low-level writer, to append entries and stream large files yourself.
//! - `store_*` variants write straight into the local [`Store`] and commit the blob.
//! - [`restamp_layer`]: a tar someone else wrote, again with plinth's headers and clamped mtimes.
//!
//! # Unpacking
//!
//! [`unpack_layer`] applies a layer blob to a directory and refuses anything that could write
//! outside it; see its documentation for the exact rules. [`scan_layer`] reads the same way
//! without writing: each entry (whiteouts named as such) and its data, for whoever looks at an
//! image's files without unpacking it.
//!
//! ```
//! use plinth_oci::layer::{unpack_layer, write_entries_layer, LayerEntry, UnpackOptions, WriteOptions};
//! let entries = vec![
//!     LayerEntry::dir("app"),
//!     LayerEntry::file("app/run.sh", b"#!/bin/sh\n".to_vec()).with_mode(0o755),
//!     LayerEntry::symlink("app/current", "run.sh"),
//! ];
//! let opts = WriteOptions::new().with_source_date_epoch(Some(0));
//! let (blob, info) = write_entries_layer(&entries, Vec::new(), &opts).unwrap();
//! let target = tempfile::tempdir().unwrap();
//! let summary = unpack_layer(&blob[..], target.path(), &UnpackOptions::new()).unwrap();
//! assert_eq!(summary.diff_id, info.diff_id);
//! assert!(target.path().join("app/run.sh").is_file());
//! ```

mod apply;
mod dir_source;
mod entry;
mod gzip;
mod restamp;
mod safe_fs;
mod scan;
mod squash;
mod tar_format;
mod tar_reader;
mod unpack;
mod writer;

use std::io::Write;
use std::path::Path;

pub use crate::compression::Compression;
pub use entry::{
    EntryMeta, LayerEntry, LayerEntryKind, OPAQUE_WHITEOUT, WHITEOUT_PREFIX, whiteout_name_problem,
};
pub use gzip::GZIP_LEVEL;
pub(crate) use gzip::LayerGzip;
pub use restamp::restamp_layer;
pub use scan::{ScannedEntry, ScannedKind, scan_layer};
pub use squash::{squash_layers, store_squashed_layer};
pub use unpack::{
    DEFAULT_MAX_ENTRY_SIZE, UnpackOptions, UnpackSummary, WhiteoutMode, unpack_layer,
};
pub use writer::{LayerInfo, LayerWriter, WriteOptions, ZSTD_LEVEL};

use crate::error::{Error, Result};
use crate::store::{BlobWriter, Store};

/// The environment variable of the reproducible-builds convention. The library never reads it;
/// the CLI does and passes the value through [`WriteOptions::with_source_date_epoch`].
pub const SOURCE_DATE_EPOCH_ENV: &str = "SOURCE_DATE_EPOCH";

/// Parses a `SOURCE_DATE_EPOCH` value (decimal seconds since the Unix epoch).
pub fn parse_source_date_epoch(value: &str) -> Result<u64> {
    value.trim().parse().map_err(|_| {
        Error::Layer(format!(
            "invalid {SOURCE_DATE_EPOCH_ENV} `{value}`: expected a whole number of seconds since 1970-01-01"
        ))
    })
}

/// Writes the tree under `root` (not the root itself) as a layer into `out`. Symlinks are
/// stored, never followed; sockets are skipped with a warning.
pub fn write_dir_layer<W: Write>(
    root: &Path,
    out: W,
    options: &WriteOptions,
) -> Result<(W, LayerInfo)> {
    dir_source::write_tree(root, dir_source::TreeMode::Plain, out, options)
}

/// Writes an overlayfs upper directory as an OCI layer diff into `out`: a character device
/// 0/0 becomes a `.wh.<name>` whiteout file, a directory with `trusted.overlay.opaque=y` or
/// `user.overlay.opaque=y` is written followed by its `.wh..wh..opq` entry. The overlay must
/// have been mounted without `metacopy` and `redirect_dir` (files carrying those xattrs are an
/// error).
pub fn write_upper_layer<W: Write>(
    upper: &Path,
    out: W,
    options: &WriteOptions,
) -> Result<(W, LayerInfo)> {
    dir_source::write_tree(upper, dir_source::TreeMode::OverlayUpper, out, options)
}

/// Writes in-memory entries as a layer into `out`, sorted bytewise by path (the order given
/// does not matter). Duplicate paths are an error. Parent directories are not invented: add
/// them as entries when the layer must create them with specific metadata.
pub fn write_entries_layer<W: Write>(
    entries: &[LayerEntry],
    out: W,
    options: &WriteOptions,
) -> Result<(W, LayerInfo)> {
    let mut sorted: Vec<&LayerEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        a.path()
            .trim_end_matches('/')
            .cmp(b.path().trim_end_matches('/'))
    });
    for pair in sorted.windows(2) {
        if pair[0].path().trim_end_matches('/') == pair[1].path().trim_end_matches('/') {
            return Err(Error::UnsafeEntry {
                entry: pair[0].path().to_owned(),
                reason: "the path appears twice in the entry list".into(),
            });
        }
    }
    let mut writer = LayerWriter::new(out, options)?;
    for entry in sorted {
        writer.append_entry(entry)?;
    }
    writer.finish()
}

/// [`write_dir_layer`] into the store; the blob is committed under the digest the layer writer
/// computed.
pub fn store_dir_layer(store: &Store, root: &Path, options: &WriteOptions) -> Result<LayerInfo> {
    commit(write_dir_layer(root, layer_blob(store)?, options)?)
}

/// [`write_upper_layer`] into the store; the blob is committed under the digest the layer
/// writer computed.
pub fn store_upper_layer(store: &Store, upper: &Path, options: &WriteOptions) -> Result<LayerInfo> {
    commit(write_upper_layer(upper, layer_blob(store)?, options)?)
}

/// [`write_entries_layer`] into the store; the blob is committed under the digest the layer
/// writer computed.
pub fn store_entries_layer(
    store: &Store,
    entries: &[LayerEntry],
    options: &WriteOptions,
) -> Result<LayerInfo> {
    commit(write_entries_layer(entries, layer_blob(store)?, options)?)
}

/// A [`LayerWriter`] streaming into a new blob of `store`, for layers written entry by entry;
/// [`LayerWriter::commit`] stores it.
pub fn store_layer_writer(
    store: &Store,
    options: &WriteOptions,
) -> Result<LayerWriter<BlobWriter>> {
    LayerWriter::new(layer_blob(store)?, options)
}

impl LayerWriter<BlobWriter> {
    /// Finishes the layer and commits its blob into the store (verified, when the blob writer
    /// hashes by itself: one from [`Store::blob_writer`]).
    pub fn commit(self) -> Result<LayerInfo> {
        commit(self.finish()?)
    }
}

/// A blob writer that leaves hashing to the layer writer around it: the layer writer's own
/// sha256 of the compressed stream sees exactly the bytes the blob receives, so a second one
/// would only cost a pass over them.
fn layer_blob(store: &Store) -> Result<BlobWriter> {
    BlobWriter::hashed_by_caller(store.clone())
}

fn commit((blob, info): (BlobWriter, LayerInfo)) -> Result<LayerInfo> {
    let (digest, size) = blob.commit(Some(&info.digest))?;
    debug_assert_eq!(size, info.size);
    tracing::debug!(%digest, size, diff_id = %info.diff_id, "layer stored");
    Ok(info)
}
