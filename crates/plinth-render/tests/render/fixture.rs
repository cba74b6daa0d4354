//! The fixture catalog: changelogs in `tests/data/generated/changelogs`, tags in
//! `tests/data/published-tags.json` (see `tests/data/README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_catalog::{Result, TagSource, VersionHistory, changelog_path};
use plinth_oci::{Digest, Reference};

/// Family order of the original README: python, then java.
pub const FAMILIES: [&str; 2] = [
    "airbyte/python-connector-base",
    "airbyte/java-connector-base",
];

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn seed_readme() -> String {
    std::fs::read_to_string(data_dir().join("seed-README.md")).unwrap()
}

/// Published tags recorded in a JSON file, standing in for a registry listing.
struct RecordedTags(BTreeMap<String, Vec<(String, Digest)>>);

impl TagSource for RecordedTags {
    fn list(&self, repository: &Reference) -> Result<Vec<(String, Digest)>> {
        Ok(self
            .0
            .get(repository.repository())
            .cloned()
            .unwrap_or_default())
    }
}

pub fn registries() -> Vec<VersionHistory> {
    let text = std::fs::read_to_string(data_dir().join("published-tags.json")).unwrap();
    let tags = RecordedTags(serde_json::from_str(&text).unwrap());
    FAMILIES
        .iter()
        .map(|name| {
            let repo: Reference = name.parse().unwrap();
            VersionHistory::load(&repo, &changelog_path(&data_dir(), name), &tags).unwrap()
        })
        .collect()
}
