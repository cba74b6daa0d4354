//! docker-archive tars (`docker save` / `docker load`, skopeo's `docker-archive:FILE`).
//!
//! [`write_docker_archive`] writes the layout every `docker load` since 1.10, podman and skopeo
//! read:
//!
//! ```text
//! <config hex>.json   the image config, byte for byte (its digest is the docker image ID)
//! <diff_id hex>.tar   each layer, UNCOMPRESSED (so the file's sha256 is the layer's diff_id)
//! manifest.json       [{"Config": "<hex>.json", "RepoTags": ["name:tag"], "Layers": ["<hex>.tar", …]}]
//! ```
//!
//! The output is deterministic: entries in bytewise name order, hand-built headers with mode
//! 0644, uid/gid 0 and mtime 0, no user names. Layers are decompressed while they stream in,
//! never held in memory. An index is narrowed to one platform per image.
//!
//! [`read_docker_archive`] reads that layout, the one `docker save` writes since Docker 25
//! (`blobs/sha256/<hex>` paths listed in the same `manifest.json`) and skopeo's (with its
//! legacy symlinked `<id>/layer.tar` entries). Each layer is recompressed with gzip
//! (deterministically, level 6), its diff_id checked against the config, and an OCI manifest is
//! written to the store.

mod read;
mod write;

use serde::{Deserialize, Serialize};

pub use read::{ImportOptions, ImportedImage, read_docker_archive, read_docker_archive_with};
pub use write::{ExistingFile, ExportImage, write_docker_archive, write_docker_archive_file};

/// The name of the top-level manifest in a docker-archive.
pub const MANIFEST_JSON: &str = "manifest.json";

const KIND: &str = "docker-archive";

/// One entry of `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ArchiveManifestEntry {
    /// The path of the config file inside the archive.
    #[serde(rename = "Config")]
    config: String,
    /// `name:tag` strings; Docker writes `null` for untagged images.
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars, base first.
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// Deterministic gzip, the layer writer's: a layer read from an archive gets the bytes the same
/// tar written by plinth gets.
fn gzip_encoder<W: std::io::Write>(out: W) -> std::io::Result<crate::layer::LayerGzip<W>> {
    crate::layer::LayerGzip::new(out)
}
