//! Reading docker-archive tars into the store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::write::HashingReader;
use super::{ArchiveManifestEntry, KIND, MANIFEST_JSON, gzip_encoder};
use crate::canonical::to_canonical_vec;
use crate::config::{ImageConfig, MAX_CONFIG_BYTES};
use crate::descriptor::Descriptor;
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::layer::{Compression, WriteOptions, restamp_layer};
use crate::manifest::ImageManifest;
use crate::media_type::MediaType;
use crate::store::Store;

/// How many symlinks or hard links one lookup may follow.
const MAX_LINK_HOPS: usize = 16;
/// Largest `manifest.json` accepted.
const MAX_ARCHIVE_MANIFEST: u64 = 16 * 1024 * 1024;

/// An image read from a docker-archive into the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedImage {
    /// The OCI manifest written to the store, with the platform from the config.
    pub manifest: Descriptor,
    /// The config, stored byte for byte as it was in the archive.
    pub config: Descriptor,
    /// The `RepoTags` of the archive entry (`name:tag` as written, often familiar names).
    pub repo_tags: Vec<String>,
}

/// What a name in the archive is.
#[derive(Debug)]
enum Node {
    File { offset: u64, size: u64 },
    Link(String),
    Other(&'static str),
}

struct Archive {
    path: PathBuf,
    nodes: BTreeMap<String, Node>,
}

/// `a/./b/../c` → `a/c`; `None` when the path climbs out of the archive.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

impl Archive {
    fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::InvalidArchive {
            kind: KIND,
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Lists every entry with where its data starts, without reading any data.
    fn index(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let mut archive = tar::Archive::new(file);
        let mut nodes = BTreeMap::new();
        let list_err = |e: io::Error| Error::InvalidArchive {
            kind: KIND,
            path: path.to_owned(),
            reason: format!("not a readable tar: {e}"),
        };
        for entry in archive.entries_with_seek().map_err(list_err)? {
            let entry = entry.map_err(list_err)?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(name) = normalize(&name) else {
                continue;
            };
            let kind = entry.header().entry_type();
            let node = if kind.is_file() || kind.is_contiguous() {
                Node::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let resolved = if kind.is_hard_link() || target.starts_with('/') {
                    normalize(&target)
                } else {
                    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    normalize(&format!("{dir}/{target}"))
                };
                match resolved {
                    Some(t) => Node::Link(t),
                    None => Node::Other("a link that points outside the archive"),
                }
            } else if kind.is_dir() {
                continue;
            } else {
                Node::Other("not a regular file")
            };
            nodes.insert(name, node);
        }
        Ok(Self {
            path: path.to_owned(),
            nodes,
        })
    }

    /// Opens the data of `name`, following links; returns the reader and its size.
    fn open(&self, name: &str) -> Result<(io::Take<File>, u64)> {
        let mut current = normalize(name)
            .ok_or_else(|| self.invalid(format!("`{name}` points outside the archive")))?;
        for _ in 0..MAX_LINK_HOPS {
            match self.nodes.get(&current) {
                Some(Node::File { offset, size }) => {
                    let mut file =
                        File::open(&self.path).map_err(|e| Error::io("open", &self.path, e))?;
                    file.seek(SeekFrom::Start(*offset))
                        .map_err(|e| Error::io("seek in", &self.path, e))?;
                    return Ok((file.take(*size), *size));
                }
                Some(Node::Link(target)) => current = target.clone(),
                Some(Node::Other(what)) => {
                    return Err(self.invalid(format!("`{current}` is {what}")));
                }
                None => {
                    return Err(self.invalid(format!(
                        "`{name}` is listed in {MANIFEST_JSON} but missing from the archive"
                    )));
                }
            }
        }
        Err(self.invalid(format!(
            "`{name}` is behind more than {MAX_LINK_HOPS} links"
        )))
    }

    fn read_small(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let (reader, size) = self.open(name)?;
        if size > limit {
            return Err(self.invalid(format!(
                "`{name}` is {size} bytes, over the {limit}-byte limit"
            )));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        reader
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", &self.path, e))?;
        Ok(bytes)
    }

    /// Streams one layer into the store as deterministic gzip, rewritten with `restamp`'s
    /// times when given; checks its diff_id and returns the stored layer's.
    fn import_layer(
        &self,
        store: &Store,
        name: &str,
        expected_diff_id: &Digest,
        restamp: Option<u64>,
    ) -> Result<(Descriptor, Digest)> {
        let (reader, _) = self.open(name)?;
        let mut buffered = BufReader::with_capacity(256 * 1024, reader);
        let magic = buffered
            .fill_buf()
            .map_err(|e| Error::io("read", &self.path, e))?;
        let uncompressed: Box<dyn Read + '_> = if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Box::new(
                zstd::stream::read::Decoder::with_buffer(buffered)
                    .map_err(|e| Error::io("start zstd decoder for", &self.path, e))?,
            )
        } else {
            Box::new(buffered)
        };
        let mut hashing = HashingReader {
            inner: uncompressed,
            hasher: Hasher::new(),
        };
        let mut writer = store.blob_writer()?;
        let stored_diff_id = match restamp {
            Some(epoch) => {
                let options = WriteOptions::new()
                    .with_compression(Compression::Gzip)
                    .with_source_date_epoch(Some(epoch));
                let (_, info) = restamp_layer(&mut hashing, &mut writer, &options)
                    .map_err(|e| self.invalid(format!("cannot rewrite layer `{name}`: {e}")))?;
                Some(info.diff_id)
            }
            None => {
                let mut gz = gzip_encoder(&mut writer)
                    .map_err(|e| Error::io("compress layer into", store.root().join("tmp"), e))?;
                io::copy(&mut hashing, &mut gz)
                    .map_err(|e| self.invalid(format!("cannot read layer `{name}`: {e}")))?;
                gz.finish()
                    .map_err(|e| Error::io("compress layer into", store.root().join("tmp"), e))?;
                None
            }
        };
        let diff_id = hashing.hasher.finish();
        if &diff_id != expected_diff_id {
            return Err(self.invalid(format!("layer `{name}` has diff_id `{diff_id}`, but the image config says `{expected_diff_id}`")));
        }
        let (digest, size) = writer.commit(None)?;
        Ok((
            Descriptor::new(MediaType::OciLayerGzip, digest, size),
            stored_diff_id.unwrap_or(diff_id),
        ))
    }
}

/// How [`read_docker_archive_with`] reads images in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Rewrite each image with this `SOURCE_DATE_EPOCH`: layers through
    /// [`restamp_layer`](crate::layer::restamp_layer) (mtimes clamped), the config's `created`
    /// and its history entries' `created` set to it and its `diff_ids` to the rewritten layers'.
    /// For images of builders that stamp wall-clock times; `None` keeps configs byte for byte.
    pub restamp: Option<u64>,
}

/// Reads every image of a docker-archive into the store: configs byte for byte, layers
/// recompressed with gzip, and a new OCI manifest per image. Returns the images in
/// `manifest.json` order; the caller names them with [`Store::set_ref`].
pub fn read_docker_archive(store: &Store, path: &Path) -> Result<Vec<ImportedImage>> {
    read_docker_archive_with(store, path, ImportOptions::default())
}

/// [`read_docker_archive`] with [`ImportOptions`].
pub fn read_docker_archive_with(
    store: &Store,
    path: &Path,
    options: ImportOptions,
) -> Result<Vec<ImportedImage>> {
    let archive = Archive::index(path)?;
    let manifest_bytes = archive.read_small(MANIFEST_JSON, MAX_ARCHIVE_MANIFEST).map_err(|e| match e {
        Error::InvalidArchive { .. } if !archive.nodes.contains_key(MANIFEST_JSON) => {
            archive.invalid(format!("there is no `{MANIFEST_JSON}`; archives from Docker before 1.10 are not supported, re-save the image with a current docker"))
        }
        other => other,
    })?;
    let entries: Vec<ArchiveManifestEntry> = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| archive.invalid(format!("`{MANIFEST_JSON}` is not valid: {e}")))?;
    if entries.is_empty() {
        return Err(archive.invalid(format!("`{MANIFEST_JSON}` lists no image")));
    }
    let _guard = store.lock_shared()?;
    let mut imported = Vec::new();
    let mut layer_cache: BTreeMap<String, (Descriptor, Digest)> = BTreeMap::new();
    for entry in entries {
        let config_bytes = archive.read_small(&entry.config, MAX_CONFIG_BYTES as u64)?;
        let config = ImageConfig::parse(&config_bytes)?;
        if config.rootfs.diff_ids.len() != entry.layers.len() {
            return Err(archive.invalid(format!(
                "`{}` lists {} diff_ids but {MANIFEST_JSON} lists {} layers for it",
                entry.config,
                config.rootfs.diff_ids.len(),
                entry.layers.len()
            )));
        }
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for (name, diff_id) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
            let key = format!("{name}\0{diff_id}");
            let (layer, stored_diff_id) = match layer_cache.get(&key) {
                Some(d) => d.clone(),
                None => {
                    let d = archive.import_layer(store, name, diff_id, options.restamp)?;
                    layer_cache.insert(key, d.clone());
                    d
                }
            };
            layers.push(layer);
            diff_ids.push(stored_diff_id);
        }
        let config_bytes = match options.restamp {
            Some(epoch) => restamp_config(&config_bytes, &diff_ids, epoch)
                .map_err(|e| archive.invalid(format!("cannot rewrite `{}`: {e}", entry.config)))?,
            None => config_bytes,
        };
        let config_digest = store.write_blob(&config_bytes)?;
        let config_desc = Descriptor::new(
            MediaType::OciConfig,
            config_digest,
            config_bytes.len() as u64,
        );
        let manifest = ImageManifest::new(MediaType::OciManifest, config_desc.clone(), layers);
        let manifest_desc = store
            .write_manifest(&manifest)?
            .with_platform(config.platform());
        tracing::debug!(path = %path.display(), manifest = %manifest_desc.digest, "imported image from docker-archive");
        imported.push(ImportedImage {
            manifest: manifest_desc,
            config: config_desc,
            repo_tags: entry.repo_tags.unwrap_or_default(),
        });
    }
    Ok(imported)
}

/// The config with every `created` set to `epoch` and the rewritten layers' `diff_ids`, as
/// canonical JSON; fields plinth does not model are kept.
fn restamp_config(bytes: &[u8], diff_ids: &[Digest], epoch: u64) -> Result<Vec<u8>> {
    let mut config: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::InvalidConfig(e.to_string()))?;
    let created = serde_json::Value::String(crate::time::rfc3339(epoch));
    config["created"] = created.clone();
    if let Some(history) = config.get_mut("history").and_then(|h| h.as_array_mut()) {
        for entry in history.iter_mut().filter(|e| e.get("created").is_some()) {
            entry["created"] = created.clone();
        }
    }
    config["rootfs"]["diff_ids"] =
        serde_json::Value::Array(diff_ids.iter().map(|d| d.to_string().into()).collect());
    to_canonical_vec(&config)
}

#[cfg(test)]
mod tests {
    use super::{normalize, restamp_config};
    use crate::digest::Digest;

    #[test]
    fn a_restamped_config_keeps_what_plinth_does_not_model() {
        let original = br#"{"architecture":"amd64","os":"linux","created":"2026-12-06T05:00:00.123Z",
            "config":{"Env":["PATH=/bin"]},"moby.buildkit.buildinfo.v1":"e30=",
            "history":[{"created":"1970-01-01T00:00:00Z","created_by":"root"},
                       {"created":"2026-12-06T05:00:00.1Z","created_by":"RUN x # buildkit","comment":"buildkit.dockerfile.v0"},
                       {"created_by":"no time","empty_layer":true}],
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#;
        let new_id = Digest::of(b"layer");
        let bytes = restamp_config(original, std::slice::from_ref(&new_id), 86_400).unwrap();
        let config: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(config["created"], "1970-01-02T00:00:00Z");
        assert_eq!(config["history"][0]["created"], "1970-01-02T00:00:00Z");
        assert_eq!(config["history"][1]["created"], "1970-01-02T00:00:00Z");
        assert_eq!(config["history"][1]["comment"], "buildkit.dockerfile.v0");
        assert!(config["history"][2].get("created").is_none());
        assert_eq!(config["moby.buildkit.buildinfo.v1"], "e30=");
        assert_eq!(config["config"]["Env"][0], "PATH=/bin");
        assert_eq!(config["rootfs"]["diff_ids"][0], new_id.to_string());
        assert_eq!(bytes, crate::canonical::to_canonical_vec(&config).unwrap());
    }

    #[test]
    fn normalizes_paths_and_refuses_escapes() {
        assert_eq!(normalize("./a/b/../c.tar").as_deref(), Some("a/c.tar"));
        assert_eq!(normalize("abc/../../x"), None);
        assert_eq!(
            normalize("/manifest.json").as_deref(),
            Some("manifest.json")
        );
    }
}
