//! An image's merged file tree outside the store: a directory (BuildKit's `local` exporter) or
//! one tar file of it (its `tar` exporter).
//!
//! The layers are applied bottom first with whiteouts applied, by the same hardened unpacker
//! the engine uses, into a fresh temporary directory beside the destination, which is renamed
//! into place only when complete: a failed export leaves nothing half-written.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::image::resolve_manifest;
use crate::layer::{
    Compression, UnpackOptions, WhiteoutMode, WriteOptions, unpack_layer, write_dir_layer,
};
use crate::{Descriptor, Platform, Store};

/// Writes the merged file tree of `root` into the new directory `dest` (which must not exist
/// yet, or be empty): the tree of the one platform in `platforms`, or with several, one
/// sub-directory per platform named by [`platform_dir_name`], as BuildKit's local exporter
/// writes them.
pub fn export_tree(
    store: &Store,
    root: &Descriptor,
    platforms: &[Platform],
    dest: &Path,
) -> Result<()> {
    refuse_non_empty_dir(dest)?;
    let staging = staging_dir(dest)?;
    unpack_platforms(store, root, platforms, staging.path())?;
    if dest.is_dir() {
        std::fs::remove_dir(dest).map_err(|e| Error::io("replace the empty directory", dest, e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        Error::io("move the exported tree into place", dest, e)
    })
}

/// [`export_tree`] as one uncompressed tar file `dest` (entries sorted, mtimes clamped to
/// `source_date_epoch` when given), replacing a regular file there.
pub fn export_tree_tar(
    store: &Store,
    root: &Descriptor,
    platforms: &[Platform],
    dest: &Path,
    source_date_epoch: Option<u64>,
) -> Result<()> {
    let staging = staging_dir(dest)?;
    let tree = staging.path().join("tree");
    std::fs::create_dir(&tree).map_err(|e| Error::io("create", &tree, e))?;
    unpack_platforms(store, root, platforms, &tree)?;
    write_tar_of_dir(&tree, dest, source_date_epoch)
}

/// The directory a platform's tree gets in a multi-platform export: `linux_amd64`,
/// `linux_arm_v7` (BuildKit's names).
pub fn platform_dir_name(platform: &Platform) -> String {
    platform.to_string().replace('/', "_")
}

fn unpack_platforms(
    store: &Store,
    root: &Descriptor,
    platforms: &[Platform],
    target: &Path,
) -> Result<()> {
    match platforms {
        [] => unpack_image(store, root, None, target),
        [only] => unpack_image(store, root, Some(only), target),
        several => several.iter().try_for_each(|platform| {
            let dir = target.join(platform_dir_name(platform));
            std::fs::create_dir(&dir).map_err(|e| Error::io("create", &dir, e))?;
            unpack_image(store, root, Some(platform), &dir)
        }),
    }
}

/// Writes the tree under `dir` (not `dir` itself) as an uncompressed tar `dest`, through a
/// temporary file renamed into place.
pub fn write_tar_of_dir(dir: &Path, dest: &Path, source_date_epoch: Option<u64>) -> Result<()> {
    let parent = parent_of(dest);
    let temp = tempfile::Builder::new()
        .prefix(".plinth-tar-")
        .tempfile_in(&parent)
        .map_err(|e| Error::io("create a temporary file in", &parent, e))?;
    let options = WriteOptions::new()
        .with_compression(Compression::None)
        .with_source_date_epoch(source_date_epoch);
    let (mut out, _) = write_dir_layer(dir, BufWriter::new(temp.as_file()), &options)?;
    out.flush().map_err(|e| Error::io("write", dest, e))?;
    drop(out);
    temp.persist(dest)
        .map_err(|e| Error::io("move the tar file into place", dest, e.error))?;
    Ok(())
}

/// Applies the layers of `root`'s image for `platform` onto the existing directory `target`.
fn unpack_image(
    store: &Store,
    root: &Descriptor,
    platform: Option<&Platform>,
    target: &Path,
) -> Result<()> {
    let (_, manifest) = resolve_manifest(store, root, platform)?;
    // Devices are kept as the image has them when running as root (as BuildKit's local
    // exporter does); without root they cannot be made and the unpacker refuses them.
    let options = UnpackOptions::new()
        .with_whiteouts(WhiteoutMode::Apply)
        .with_allow_devices(rustix::process::geteuid().is_root());
    for layer in &manifest.layers {
        let blob: File = store.open_blob(&layer.digest)?;
        unpack_layer(std::io::BufReader::new(blob), target, &options)?;
    }
    Ok(())
}

fn refuse_non_empty_dir(dest: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("inspect", dest, e)),
        Ok(meta) if meta.is_dir() => {
            let mut entries =
                std::fs::read_dir(dest).map_err(|e| Error::io("read the directory", dest, e))?;
            if entries.next().is_none() {
                Ok(())
            } else {
                Err(Error::RefusedDestination {
                    path: dest.to_path_buf(),
                    reason: "the directory is not empty; give a new or empty directory (the tree is written whole, never merged into existing files)".into(),
                })
            }
        }
        Ok(_) => Err(Error::RefusedDestination {
            path: dest.to_path_buf(),
            reason: "it exists and is not a directory; give a new directory for the file tree"
                .into(),
        }),
    }
}

fn staging_dir(dest: &Path) -> Result<tempfile::TempDir> {
    let parent = parent_of(dest);
    std::fs::create_dir_all(&parent).map_err(|e| Error::io("create", &parent, e))?;
    tempfile::Builder::new()
        .prefix(".plinth-export-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io("create a temporary directory in", &parent, e))
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
