//! Content-addressed unpacked layers, used as overlayfs lower directories.
//!
//! ```text
//! <store>/snapshots/<diff_id hex>/   one layer, whiteouts as overlayfs whiteouts
//! <store>/l/<16 hex>                 short symlink to it, so 100+ lowers fit in mount(2)'s page
//! <store>/steps/<tmp>/{u,w}          a running step's upper and work directories
//! ```
//!
//! A snapshot is written once: unpacked into a temp directory next to the final one, its
//! `diff_id` checked, then renamed into place. Two builds unpacking the same layer both finish;
//! the second rename fails because the directory exists and its copy is discarded. A step's upper
//! directory becomes a snapshot by the same rename, without unpacking its layer again.
//!
//! Snapshots are a cache: deleting `<store>/snapshots` and `<store>/l` is always safe while no
//! build runs; they are unpacked again from the layer blobs on demand.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use plinth_oci::layer::{Compression, UnpackOptions, WhiteoutMode, unpack_layer};
use plinth_oci::{Descriptor, Digest, Store};

use crate::decode::ThreadedDecoder;
use crate::error::{Error, Result};

/// Length of the short link names under `<store>/l`.
const SHORT_NAME: usize = 16;

/// The snapshot directories of one store.
#[derive(Clone, Debug)]
pub(crate) struct Snapshots {
    store: Store,
    dir: PathBuf,
    links: PathBuf,
    steps: PathBuf,
}

impl Snapshots {
    pub(crate) fn new(store: &Store) -> Result<Self> {
        let root = store.root();
        let this = Self {
            store: store.clone(),
            dir: root.join("snapshots"),
            links: root.join("l"),
            steps: root.join("steps"),
        };
        for d in [&this.dir, &this.links, &this.steps] {
            fs::create_dir_all(d).map_err(|e| Error::io("create directory", d, e))?;
        }
        Ok(this)
    }

    fn final_dir(&self, diff_id: &Digest) -> PathBuf {
        self.dir.join(diff_id.hex())
    }

    /// An empty lower directory, for steps on an empty (scratch) image.
    pub(crate) fn empty_lower(&self) -> Result<PathBuf> {
        let dir = self.dir.join("empty");
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create", &dir, e)),
        }
        Ok(dir)
    }

    /// The short path of the snapshot of `diff_id` (which must exist), for overlay options.
    pub(crate) fn lower_path(&self, diff_id: &Digest) -> Result<PathBuf> {
        let link = self.links.join(&diff_id.hex()[..SHORT_NAME]);
        let target = PathBuf::from("../snapshots").join(diff_id.hex());
        match fs::read_link(&link) {
            Ok(existing) if existing == target => return Ok(link),
            Ok(_) => {
                // A 64-bit prefix collision: never expected; fall back to the long path.
                return Ok(self.final_dir(diff_id));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("read link", &link, e)),
        }
        match std::os::unix::fs::symlink(&target, &link) {
            Ok(()) => Ok(link),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => self.lower_path(diff_id),
            Err(e) => Err(Error::io("create link", &link, e)),
        }
    }

    /// The directory of the snapshot, if it exists.
    pub(crate) fn get(&self, diff_id: &Digest) -> Option<PathBuf> {
        let dir = self.final_dir(diff_id);
        dir.is_dir().then_some(dir)
    }

    /// Makes sure the layer `layer` with `diff_id` is unpacked; returns its directory.
    pub(crate) fn ensure(&self, layer: &Descriptor, diff_id: &Digest) -> Result<PathBuf> {
        if let Some(dir) = self.get(diff_id) {
            return Ok(dir);
        }
        let span = tracing::debug_span!("unpack_snapshot", %diff_id, layer = %layer.digest);
        let _g = span.enter();
        let tmp = tempfile::Builder::new()
            .prefix(".unpack-")
            .tempdir_in(&self.dir)
            .map_err(|e| Error::io("create a temp directory in", &self.dir, e))?;
        let options = UnpackOptions::new()
            .with_whiteouts(WhiteoutMode::Overlay)
            .with_allow_devices(true);
        let reader = self.store.reader(&layer.digest)?;
        let summary = match layer.media_type.layer_compression() {
            Some(compression @ (Compression::Gzip | Compression::Zstd)) => {
                // Decompress on a second thread while this one creates the files.
                let decoder = ThreadedDecoder::spawn(reader, compression).map_err(|e| {
                    Error::io(
                        "start decompressing",
                        self.store.blob_path(&layer.digest),
                        e,
                    )
                })?;
                let options = options.with_compression(Some(Compression::None));
                let mut decoder = decoder;
                let unpacked = unpack_layer(&mut decoder, tmp.path(), &options);
                match (unpacked, decoder.finish()) {
                    (_, Err(e)) => Err(plinth_oci::Error::Layer(format!(
                        "the layer could not be decompressed ({compression}): {e}"
                    ))),
                    (unpacked, Ok(())) => unpacked,
                }
            }
            compression => unpack_layer(reader, tmp.path(), &options.with_compression(compression)),
        }
        .map_err(|e| self.unpack_error(layer, e))?;
        if &summary.diff_id != diff_id {
            return Err(Error::Image(format!(
                "layer `{}` unpacks to diff_id `{}` but the image config says `{diff_id}`; the image is corrupt",
                layer.digest, summary.diff_id
            )));
        }
        self.install(tmp.keep(), diff_id)
    }

    /// The error for a layer that failed to unpack. It may be one whose bytes rotted in the
    /// store (a gzip error is the usual sign): a corrupt blob is removed, so the next pull of the
    /// image fetches it again from its registry instead of failing the same way forever.
    fn unpack_error(&self, layer: &Descriptor, source: plinth_oci::Error) -> Error {
        let source = Box::new(source);
        match self.store.verify_blob(&layer.digest) {
            Err(plinth_oci::Error::DigestMismatch { .. }) => Error::CorruptLayer {
                layer: layer.digest.clone(),
                source,
            },
            _ => Error::UnpackLayer {
                layer: layer.digest.clone(),
                source,
            },
        }
    }

    /// Moves a finished directory (an unpacked layer or a step's upper directory) into place as
    /// the snapshot of `diff_id`. When another process got there first, `dir` is removed.
    pub(crate) fn install(&self, dir: PathBuf, diff_id: &Digest) -> Result<PathBuf> {
        let dest = self.final_dir(diff_id);
        match fs::rename(&dir, &dest) {
            Ok(()) => Ok(dest),
            Err(e)
                if e.kind() == ErrorKind::AlreadyExists
                    || e.kind() == ErrorKind::DirectoryNotEmpty
                    || dest.is_dir() =>
            {
                remove_tree(&dir);
                Ok(dest)
            }
            Err(e) => {
                remove_tree(&dir);
                Err(Error::io("move into place", dest, e))
            }
        }
    }

    /// A fresh directory for a step's upper and work directories.
    pub(crate) fn step_dir(&self) -> Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("s")
            .tempdir_in(&self.steps)
            .map_err(|e| Error::io("create a step directory in", &self.steps, e))
    }

    /// The overlay lower directories for an image whose layers are `layers` (bottom first, with
    /// their diff_ids): unpacked on demand, returned top first.
    ///
    /// A layer present twice (the empty layer of several steps that changed nothing) is
    /// given once, at its topmost place: overlayfs refuses a lower directory given twice, and
    /// the lower copy shows nothing the upper one does not already show or hide.
    pub(crate) fn lowers(&self, layers: &[(Descriptor, Digest)]) -> Result<Vec<PathBuf>> {
        let mut out = Vec::with_capacity(layers.len().max(1));
        let mut seen = std::collections::BTreeSet::new();
        for (layer, diff_id) in layers.iter().rev() {
            if !seen.insert(diff_id) {
                continue;
            }
            self.ensure(layer, diff_id)?;
            out.push(self.lower_path(diff_id)?);
        }
        if out.is_empty() {
            out.push(self.empty_lower()?);
        }
        Ok(out)
    }

    /// The snapshot directories (full paths, top first) for reading files from the host side.
    pub(crate) fn read_dirs(&self, layers: &[(Descriptor, Digest)]) -> Result<Vec<PathBuf>> {
        let mut out = Vec::with_capacity(layers.len());
        for (layer, diff_id) in layers.iter().rev() {
            out.push(self.ensure(layer, diff_id)?);
        }
        Ok(out)
    }
}

/// Removes a directory tree, logging instead of failing (cleanup of temp state).
pub(crate) fn remove_tree(dir: &Path) {
    if let Err(e) = fs::remove_dir_all(dir)
        && e.kind() != ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove a temporary directory");
    }
}
