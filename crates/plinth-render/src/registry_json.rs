//! The machine-readable registry: every family's versions as canonical, stable, pretty JSON.
//!
//! Keys are sorted at every level (the structs below declare their fields alphabetically and maps
//! are `BTreeMap`s; a test checks it), arrays keep a meaningful order (families as given, versions
//! by descending precedence, ignored tags by name), indentation is two spaces and the text ends
//! with a newline, so regenerating it gives a minimal diff. Text is written as UTF-8.
//!
//! ```json
//! {
//!   "families": [
//!     {
//!       "ignored_tags": [{ "digest": "sha256:…", "note": "…", "tag": "latest" }],
//!       "latest": "3.0.2",
//!       "latest_published": "3.0.2",
//!       "latest_stable_published": "3.0.2",
//!       "registry": "docker.io",
//!       "repository": "airbyte/python-connector-base",
//!       "versions": [
//!         {
//!           "address": "docker.io/airbyte/python-connector-base:3.0.0@sha256:…",
//!           "changelog": "Create airbyte user",
//!           "dockerfile_example": "FROM …",
//!           "index_digest": "sha256:…",
//!           "platform_digests": { "linux/amd64": "sha256:…", "linux/arm64": "sha256:…" },
//!           "published": true,
//!           "root_image": "docker.io/library/python:3.10.14-slim-bookworm@sha256:…",
//!           "status": "both",
//!           "version": "3.0.0"
//!         }
//!       ]
//!     }
//!   ],
//!   "schema_version": 1
//! }
//! ```
//!
//! Unknown values are `null`: `address`/`index_digest` for an unpublished version,
//! `changelog`/`dockerfile_example` for a published-only one, `platform_digests` and `root_image`
//! when the caller did not record them.

use std::collections::BTreeMap;

use plinth_catalog::{IgnoredTag, VersionEntry, VersionHistory};
use serde::Serialize;

use crate::error::{Error, Result};

/// The version of the registry JSON layout; bump it on any incompatible change.
pub const REGISTRY_JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct RegistryJson {
    families: Vec<FamilyJson>,
    schema_version: u32,
}

#[derive(Serialize)]
struct FamilyJson {
    ignored_tags: Vec<IgnoredTagJson>,
    latest: Option<String>,
    latest_published: Option<String>,
    latest_stable_published: Option<String>,
    registry: String,
    repository: String,
    versions: Vec<VersionJson>,
}

#[derive(Serialize)]
struct IgnoredTagJson {
    digest: String,
    note: String,
    tag: String,
}

#[derive(Serialize)]
struct VersionJson {
    address: Option<String>,
    changelog: Option<String>,
    dockerfile_example: Option<String>,
    index_digest: Option<String>,
    platform_digests: Option<BTreeMap<String, String>>,
    published: bool,
    root_image: Option<String>,
    status: &'static str,
    version: String,
}

fn version_of(e: Option<&VersionEntry>) -> Option<String> {
    e.map(|e| e.version().to_string())
}

impl From<&VersionHistory> for FamilyJson {
    fn from(r: &VersionHistory) -> Self {
        Self {
            ignored_tags: r.ignored_tags().iter().map(IgnoredTagJson::from).collect(),
            latest: version_of(r.latest()),
            latest_published: version_of(r.latest_published()),
            latest_stable_published: version_of(r.latest_stable_published()),
            registry: r.repository().registry().to_owned(),
            repository: r.display_repository(),
            versions: r.entries().iter().map(VersionJson::from).collect(),
        }
    }
}

impl From<&IgnoredTag> for IgnoredTagJson {
    fn from(t: &IgnoredTag) -> Self {
        Self {
            digest: t.digest().to_string(),
            note: t.note().to_owned(),
            tag: t.tag().to_owned(),
        }
    }
}

impl From<&VersionEntry> for VersionJson {
    fn from(e: &VersionEntry) -> Self {
        let published = e.published_image();
        let changelog = e.changelog_entry();
        Self {
            address: published.map(|p| p.address()),
            changelog: changelog.map(|c| c.changelog_entry().to_owned()),
            dockerfile_example: changelog.map(|c| c.dockerfile_example().to_owned()),
            index_digest: published.map(|p| p.digest().to_string()),
            platform_digests: published
                .filter(|p| !p.platform_digests().is_empty())
                .map(|p| {
                    p.platform_digests()
                        .iter()
                        .map(|(platform, digest)| (platform.to_string(), digest.to_string()))
                        .collect()
                }),
            published: e.is_published(),
            root_image: e.root_image().map(ToString::to_string),
            status: e.status().as_str(),
            version: e.version().to_string(),
        }
    }
}

/// Renders the version histories of every family (in family order) as the registry JSON.
pub fn render_registry_json(histories: &[VersionHistory]) -> Result<String> {
    let doc = RegistryJson {
        families: histories.iter().map(FamilyJson::from).collect(),
        schema_version: REGISTRY_JSON_SCHEMA_VERSION,
    };
    let mut out = serde_json::to_string_pretty(&doc).map_err(Error::Json)?;
    out.push('\n');
    Ok(out)
}
