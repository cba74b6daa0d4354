//! Writing docker-archive tars from the store.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use super::{ArchiveManifestEntry, MANIFEST_JSON};
use crate::config::ImageConfig;
use crate::descriptor::Descriptor;
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::image::resolve_manifest;
use crate::layer::Compression;
use crate::layout::shareable_file_mode;
use crate::platform::Platform;
use crate::reference::Reference;
use crate::store::Store;

/// One image to put into a docker-archive.
#[derive(Clone, Debug)]
pub struct ExportImage {
    /// The image: a manifest, or an index narrowed to [`ExportImage::platform`].
    pub root: Descriptor,
    /// The platform to take from an index (the host's when `None`).
    pub platform: Option<Platform>,
    /// The names `docker load` tags the image with; each needs a tag.
    pub repo_tags: Vec<Reference>,
}

impl ExportImage {
    /// An untagged image for the host platform.
    pub fn new(root: Descriptor) -> Self {
        Self {
            root,
            platform: None,
            repo_tags: Vec::new(),
        }
    }

    /// Chooses the platform taken from an index.
    #[must_use]
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Adds a name to tag the image with on load.
    #[must_use]
    pub fn with_repo_tag(mut self, reference: Reference) -> Self {
        self.repo_tags.push(reference);
        self
    }
}

/// What goes into the tar under one name.
enum Source {
    Bytes(Vec<u8>),
    Layer(Box<LayerPlan>),
}

struct LayerPlan {
    blob: Descriptor,
    compression: Compression,
    diff_id: Digest,
    size: u64,
}

/// A reader that hashes and counts what passes through.
pub(super) struct HashingReader<R> {
    pub(super) inner: R,
    pub(super) hasher: Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Opens a stored layer and undoes its compression, streaming.
fn open_uncompressed(
    store: &Store,
    blob: &Descriptor,
    compression: Compression,
) -> Result<Box<dyn Read>> {
    let reader = store.reader(&blob.digest)?;
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(reader))),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(reader)
                .map_err(|e| Error::io("start zstd decoder for", blob.digest.to_string(), e))?,
        ),
    })
}

/// The uncompressed size of a layer, checking that it hashes to `diff_id`.
fn measure_layer(
    store: &Store,
    blob: &Descriptor,
    compression: Compression,
    diff_id: &Digest,
) -> Result<u64> {
    if compression == Compression::None && &blob.digest == diff_id {
        return store.blob_size(&blob.digest);
    }
    let mut reader = HashingReader {
        inner: open_uncompressed(store, blob, compression)?,
        hasher: Hasher::new(),
    };
    io::copy(&mut reader, &mut io::sink())
        .map_err(|e| Error::io("decompress layer", blob.digest.to_string(), e))?;
    let size = reader.hasher.len();
    let actual = reader.hasher.finish();
    if &actual != diff_id {
        return Err(Error::Layer(format!(
            "layer `{}` decompresses to `{actual}`, but the image config lists diff_id `{diff_id}`; the image is inconsistent, rebuild or re-pull it",
            blob.digest
        )));
    }
    Ok(size)
}

fn repo_tag(reference: &Reference) -> Result<String> {
    if reference.tag().is_none() || reference.digest().is_some() {
        return Err(Error::InvalidReference {
            input: reference.to_string(),
            part: "tag".to_owned(),
            reason: "a docker-archive names images by `name:tag`: give a tag and no digest"
                .to_owned(),
        });
    }
    Ok(reference.familiar())
}

/// Plans every file of the archive: name → content, in the sorted order they are written.
fn plan_archive(store: &Store, images: &[ExportImage]) -> Result<BTreeMap<String, Source>> {
    let mut files = BTreeMap::new();
    let mut manifest = Vec::new();
    for image in images {
        let (_, image_manifest) = resolve_manifest(store, &image.root, image.platform.as_ref())?;
        let config_bytes = store.read_blob(&image_manifest.config.digest)?;
        let config = ImageConfig::parse(&config_bytes)?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != image_manifest.layers.len() {
            return Err(Error::InvalidManifest(format!(
                "image `{}` has {} layers but its config lists {} diff_ids",
                image.root.digest,
                image_manifest.layers.len(),
                diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (blob, diff_id) in image_manifest.layers.iter().zip(diff_ids) {
            let name = format!("{}.tar", diff_id.hex());
            if !files.contains_key(&name) {
                let compression = blob.media_type.layer_compression().ok_or_else(|| {
                    Error::Layer(format!("layer `{}` has media type `{}`, which is not a layer plinth can decompress", blob.digest, blob.media_type))
                })?;
                let size = measure_layer(store, blob, compression, diff_id)?;
                files.insert(
                    name.clone(),
                    Source::Layer(Box::new(LayerPlan {
                        blob: blob.clone(),
                        compression,
                        diff_id: diff_id.clone(),
                        size,
                    })),
                );
            }
            layers.push(name);
        }
        let config_name = format!("{}.json", image_manifest.config.digest.hex());
        files.insert(config_name.clone(), Source::Bytes(config_bytes));
        let repo_tags = image
            .repo_tags
            .iter()
            .map(repo_tag)
            .collect::<Result<Vec<_>>>()?;
        manifest.push(ArchiveManifestEntry {
            config: config_name,
            repo_tags: Some(repo_tags),
            layers,
        });
    }
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(Error::EncodeJson)?;
    files.insert(MANIFEST_JSON.to_owned(), Source::Bytes(manifest_bytes));
    Ok(files)
}

fn file_header(name: &str, size: u64) -> io::Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    Ok(header)
}

/// Writes a docker-archive of `images` (usually one) to `out` and returns `out`.
///
/// Every layer is read twice (once to learn its uncompressed size for the tar header, once to
/// copy it), so nothing is buffered in memory or on disk.
pub fn write_docker_archive<W: Write>(store: &Store, images: &[ExportImage], out: W) -> Result<W> {
    if images.is_empty() {
        return Err(Error::InvalidManifest(
            "no image given to write into the docker-archive".to_owned(),
        ));
    }
    let files = plan_archive(store, images)?;
    let mut builder = tar::Builder::new(out);
    let write_err = |name: &str, e: io::Error| Error::io("write archive entry", name, e);
    for (name, source) in &files {
        match source {
            Source::Bytes(bytes) => {
                let header =
                    file_header(name, bytes.len() as u64).map_err(|e| write_err(name, e))?;
                builder
                    .append(&header, bytes.as_slice())
                    .map_err(|e| write_err(name, e))?;
            }
            Source::Layer(plan) => {
                let header = file_header(name, plan.size).map_err(|e| write_err(name, e))?;
                let inner = open_uncompressed(store, &plan.blob, plan.compression)?.take(plan.size);
                let mut reader = HashingReader {
                    inner,
                    hasher: Hasher::new(),
                };
                builder
                    .append(&header, &mut reader)
                    .map_err(|e| write_err(name, e))?;
                let len = reader.hasher.len();
                let actual = reader.hasher.finish();
                if len != plan.size || actual != plan.diff_id {
                    return Err(Error::Layer(format!(
                        "layer `{}` changed while it was being written (now {len} bytes, `{actual}`)",
                        plan.blob.digest
                    )));
                }
            }
        }
        tracing::trace!(name, "wrote docker-archive entry");
    }
    builder
        .into_inner()
        .map_err(|e| Error::io("finish", "docker-archive", e))
}

/// What writing an archive does when its path exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExistingFile {
    /// Refuse when anything is at the path (skopeo refuses to write into an existing archive).
    #[default]
    Refuse,
    /// Replace an existing regular file (atomically, by rename). Anything else at the path (a
    /// FIFO, a device, a directory, a symlink) is still refused.
    Replace,
}

/// Refuses to put an archive where something other than a regular file is, or where a regular
/// file is unless `existing` is [`ExistingFile::Replace`].
fn check_destination(path: &Path, existing: ExistingFile) -> Result<()> {
    let refuse = |reason: String| Error::RefusedDestination {
        path: path.to_owned(),
        reason,
    };
    // Not following symlinks: the rename would replace the link, so the link is what is there.
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("inspect", path, e)),
    };
    let file_type = metadata.file_type();
    if !file_type.is_file() {
        use std::os::unix::fs::FileTypeExt as _;
        let what = if file_type.is_fifo() {
            "a FIFO"
        } else if file_type.is_char_device() || file_type.is_block_device() {
            "a device"
        } else if file_type.is_dir() {
            "a directory"
        } else if file_type.is_symlink() {
            "a symbolic link"
        } else if file_type.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(refuse(format!(
            "it is {what}; a docker-archive is written only as a new regular file, choose another path"
        )));
    }
    match existing {
        ExistingFile::Replace => Ok(()),
        ExistingFile::Refuse => Err(refuse(
            "the file exists; remove it or choose another path (or replace it with `--force`)"
                .to_owned(),
        )),
    }
}

/// Writes a docker-archive to `path` atomically (temp file in the same directory, then rename).
///
/// Only a regular file is ever replaced, and only with [`ExistingFile::Replace`]; with
/// [`ExistingFile::Refuse`] a file created at `path` meanwhile is not replaced either.
pub fn write_docker_archive_file(
    store: &Store,
    images: &[ExportImage],
    path: &Path,
    existing: ExistingFile,
) -> Result<()> {
    check_destination(path, existing)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(shareable_file_mode())
        .tempfile_in(dir)
        .map_err(|e| Error::io("create temp file in", dir, e))?;
    let buffered =
        write_docker_archive(store, images, io::BufWriter::with_capacity(256 * 1024, tmp))?;
    let tmp = buffered
        .into_inner()
        .map_err(|e| Error::io("write", path, e.into_error()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("sync", path, e))?;
    match existing {
        ExistingFile::Replace => {
            check_destination(path, existing)?;
            tmp.persist(path)
                .map_err(|e| Error::io("rename into", path, e.error))?;
        }
        ExistingFile::Refuse => {
            tmp.persist_noclobber(path).map_err(|e| {
                if e.error.kind() == io::ErrorKind::AlreadyExists {
                    Error::RefusedDestination {
                        path: path.to_owned(),
                        reason: "a file appeared there while the archive was written".to_owned(),
                    }
                } else {
                    Error::io("rename into", path, e.error)
                }
            })?;
        }
    }
    tracing::debug!(path = %path.display(), images = images.len(), "wrote docker-archive");
    Ok(())
}
