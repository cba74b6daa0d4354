//! Release records: what each released version was built from and into, kept beside the
//! changelog at `generated/inputs/<repository with - and / as _>.json`.
//!
//! Per version: the index digest, each platform's manifest digest, the root image, the
//! content digest every URL input had when the version was released, and the source and
//! revision its annotations name. A rebuild compares its URL
//! inputs with the record and warns when an unpinned input changed (the build is then not the
//! released one); the docs take the per-platform digests from here instead of fetching every
//! index from the registry.
//!
//! ```json
//! {
//!   "repository": "airbyte/python-connector-base",
//!   "schema_version": 1,
//!   "versions": [
//!     {
//!       "index_digest": "sha256:…",
//!       "platform_digests": { "linux/amd64": "sha256:…", "linux/arm64": "sha256:…" },
//!       "root_image": "docker.io/python:3.11.11-slim-bookworm@sha256:…",
//!       "url_inputs": { "https://…/punkt.zip": "sha256:…" },
//!       "source": "https://git.example.com/catalog.git",
//!       "revision": "0123abcd…",
//!       "version": "4.0.0"
//!     }
//!   ]
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_catalog::{Version, changelog_file_name};
use plinth_oci::{Digest, Platform};
use serde::{Deserialize, Serialize};

use crate::build_version::BuiltVersion;
use crate::error::{Error, Result};

/// Where release records live, below the catalog directory.
pub const RECORD_DIR: &str = "generated/inputs";

/// The record file of `repository` below `catalog_dir`.
pub fn record_path(catalog_dir: &Path, repository: &str) -> PathBuf {
    catalog_dir
        .join(RECORD_DIR)
        .join(changelog_file_name(repository))
}

/// What one released version was built from and into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRecord {
    /// The index (or manifest) digest.
    pub index_digest: Digest,
    /// The manifest digest of each platform, by `os/arch[/variant]`.
    #[serde(default)]
    pub platform_digests: BTreeMap<String, Digest>,
    /// The root image, as the recipe writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_image: Option<String>,
    /// URL → content digest at release time.
    #[serde(default)]
    pub url_inputs: BTreeMap<String, Digest>,
    /// The source repository the image's annotations name (kept so a re-publish annotates
    /// alike and reproduces the digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source revision the image's annotations name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The version.
    pub version: Version,
}

impl VersionRecord {
    /// The record of a build.
    pub fn of(built: &BuiltVersion) -> Self {
        Self {
            index_digest: built.root.digest.clone(),
            platform_digests: built
                .platform_digests
                .iter()
                .map(|(p, d)| (p.to_string(), d.clone()))
                .collect(),
            root_image: built.root_image.clone(),
            url_inputs: built.url_inputs.clone(),
            source: built.source.clone(),
            revision: built.revision.clone(),
            version: built.version.clone(),
        }
    }

    /// The platform digests with parsed platforms (entries that do not parse are skipped).
    pub fn platforms(&self) -> BTreeMap<Platform, Digest> {
        self.platform_digests
            .iter()
            .filter_map(|(p, d)| Some((p.parse().ok()?, d.clone())))
            .collect()
    }

    /// The URL inputs whose content differs in `built`: `(url, recorded, now)`.
    pub fn changed_inputs(&self, built: &BuiltVersion) -> Vec<(String, Digest, Digest)> {
        self.url_inputs
            .iter()
            .filter_map(|(url, old)| {
                let new = built.url_inputs.get(url)?;
                (new != old).then(|| (url.clone(), old.clone(), new.clone()))
            })
            .collect()
    }
}

/// The release records of one family, newest version first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRecords {
    /// The family's repository.
    pub repository: String,
    /// The layout version of this file.
    pub schema_version: u32,
    /// One record per version.
    pub versions: Vec<VersionRecord>,
}

impl ReleaseRecords {
    /// Reads the records of `repository` (empty when the file does not exist).
    pub fn load(catalog_dir: &Path, repository: &str) -> Result<Self> {
        let path = record_path(catalog_dir, repository);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::InvalidRecord {
                path: path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                repository: repository.to_owned(),
                schema_version: 1,
                versions: Vec::new(),
            }),
            Err(e) => Err(Error::io("read", &path)(e)),
        }
    }

    /// The record of `version`.
    pub fn get(&self, version: &Version) -> Option<&VersionRecord> {
        self.versions.iter().find(|r| &r.version == version)
    }

    /// Adds or replaces the record of its version, keeping newest first.
    pub fn upsert(&mut self, record: VersionRecord) {
        self.versions.retain(|r| r.version != record.version);
        self.versions.push(record);
        self.versions.sort_by(|a, b| b.version.cmp(&a.version));
    }

    /// Writes the file atomically (temp file + rename). Callers hold the family lock.
    pub fn write(&self, catalog_dir: &Path) -> Result<()> {
        let path = record_path(catalog_dir, &self.repository);
        let mut text = serde_json::to_string_pretty(self).expect("records are plain data");
        text.push('\n');
        write_atomic(&path, text.as_bytes())
    }
}

/// Writes `bytes` to `path` atomically ([`plinth_oci::fs::write_atomic`]), creating its directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
    plinth_oci::fs::write_atomic(path, bytes).map_err(Error::io("replace", path))
}
