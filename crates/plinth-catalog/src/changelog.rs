//! The changelog JSON: the only persisted state of a family, checked into git.
//!
//! One file per image repository, at `generated/changelogs/<repository with - and / as _>.json`
//! (`airbyte/python-connector-base` → `airbyte_python_connector_base.json`). It is an array of
//! objects with exactly the keys `version`, `changelog_entry` and `dockerfile_example`, in that
//! order, sorted by descending version precedence.
//!
//! # Forms
//!
//! Both forms found in the wild are read: the *compact* one the original Python writer produced
//! (`json.dumps(entries)`: one line, `", "`/`": "` separators, non-ASCII as `\uXXXX`, no trailing
//! newline) and the *pretty* one checked in after the repository tooling reformatted the files
//! (2-space indent, trailing newline).
//!
//! plinth writes the **pretty** form, byte-identical to Python's
//! `json.dumps(entries, indent=2) + "\n"`. It keeps `ensure_ascii`: non-ASCII text is written as
//! `\uXXXX` escapes, because that is what the checked-in files hold (the reformatting only
//! changed whitespace, it never unescaped strings), it keeps the files pure ASCII, and it keeps the
//! pretty and compact forms identical up to whitespace. [`Changelog::to_compact_json`] gives the
//! original one-line form byte for byte, for tools that compare against it.
//!
//! # Concurrency
//!
//! Writes go to a temporary file in the same directory, are synced, then renamed over the file,
//! so readers see the old or the new file and never a torn one. Writers serialise on an exclusive
//! lock of the sibling file `.<name>.lock` (safe to ignore in git), and [`Changelog::update`]
//! performs the whole read-modify-write under that lock, so two concurrent releases both land.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pyjson;
use crate::version::Version;

/// The directory of changelog files, relative to the catalog root.
pub const CHANGELOG_DIR: &str = "generated/changelogs";

/// The file name of a repository's changelog: `-` and `/` replaced by `_`, plus `.json`.
pub fn changelog_file_name(repository: &str) -> String {
    format!("{}.json", repository.replace(['-', '/'], "_"))
}

/// The path of a repository's changelog under the catalog root `root`.
pub fn changelog_path(root: &Path, repository: &str) -> PathBuf {
    root.join(CHANGELOG_DIR)
        .join(changelog_file_name(repository))
}

/// One released version: its changelog text and its rendered Dockerfile example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangelogEntry {
    version: Version,
    changelog_entry: String,
    dockerfile_example: String,
}

impl ChangelogEntry {
    /// A new entry. The text is kept verbatim (leading spaces included).
    pub fn new(
        version: Version,
        changelog_entry: impl Into<String>,
        dockerfile_example: impl Into<String>,
    ) -> Self {
        Self {
            version,
            changelog_entry: changelog_entry.into(),
            dockerfile_example: dockerfile_example.into(),
        }
    }

    /// The version.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// The changelog text.
    pub fn changelog_entry(&self) -> &str {
        &self.changelog_entry
    }

    /// The Dockerfile example rendered from the version's amd64 recipe.
    pub fn dockerfile_example(&self) -> &str {
        &self.dockerfile_example
    }

    fn as_row(&self) -> Vec<(&'static str, String)> {
        vec![
            ("version", self.version.to_string()),
            ("changelog_entry", self.changelog_entry.clone()),
            ("dockerfile_example", self.dockerfile_example.clone()),
        ]
    }
}

/// The entry shape as found on disk, before the version is validated with its position known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    version: String,
    changelog_entry: String,
    dockerfile_example: String,
}

/// A repository's changelog: unique versions, sorted by descending precedence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changelog {
    entries: Vec<ChangelogEntry>,
}

impl Changelog {
    /// A changelog from entries in any order; for a duplicated version the last one wins.
    pub fn new(entries: impl IntoIterator<Item = ChangelogEntry>) -> Self {
        let by_version: BTreeMap<Version, ChangelogEntry> = entries
            .into_iter()
            .map(|e| (e.version.clone(), e))
            .collect();
        Self {
            entries: by_version.into_values().rev().collect(),
        }
    }

    /// Parses the JSON text of a changelog (compact or pretty form); `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let raw: Vec<RawEntry> =
            serde_json::from_str(text).map_err(|source| Error::ParseChangelog {
                path: origin.to_owned(),
                source,
            })?;
        let mut entries = Vec::with_capacity(raw.len());
        for (index, r) in raw.into_iter().enumerate() {
            let version =
                r.version
                    .parse::<Version>()
                    .map_err(|e| Error::InvalidChangelogEntry {
                        path: origin.to_owned(),
                        index,
                        version: r.version.chars().take(100).collect(),
                        reason: match e {
                            Error::InvalidVersion { reason, .. } => reason,
                            other => other.to_string(),
                        },
                    })?;
            entries.push(ChangelogEntry {
                version,
                changelog_entry: r.changelog_entry,
                dockerfile_example: r.dockerfile_example,
            });
        }
        let count = entries.len();
        let changelog = Self::new(entries);
        if changelog.len() != count {
            tracing::warn!(path = %origin.display(), duplicates = count - changelog.len(), "changelog has duplicate versions; the last entry of each wins");
        }
        Ok(changelog)
    }

    /// Reads a changelog file; a missing file is an empty changelog.
    pub fn load(path: &Path) -> Result<Self> {
        match fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(Error::ReadChangelog {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The entries, highest version first.
    pub fn entries(&self) -> &[ChangelogEntry] {
        &self.entries
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `version`, if any.
    pub fn get(&self, version: &Version) -> Option<&ChangelogEntry> {
        self.entries.iter().find(|e| &e.version == version)
    }

    /// The highest entry.
    pub fn latest(&self) -> Option<&ChangelogEntry> {
        self.entries.first()
    }

    /// Adds an entry at its sorted place, replacing (and returning) an entry of the same version.
    pub fn insert(&mut self, entry: ChangelogEntry) -> Option<ChangelogEntry> {
        match self
            .entries
            .binary_search_by(|e| entry.version.cmp(&e.version))
        {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i], entry)),
            Err(i) => {
                self.entries.insert(i, entry);
                None
            }
        }
    }

    /// Removes and returns the entry of `version`.
    pub fn remove(&mut self, version: &Version) -> Option<ChangelogEntry> {
        let i = self.entries.iter().position(|e| &e.version == version)?;
        Some(self.entries.remove(i))
    }

    fn rows(&self) -> Vec<Vec<(&'static str, String)>> {
        self.entries.iter().map(ChangelogEntry::as_row).collect()
    }

    /// The pretty form plinth writes: Python `json.dumps(entries, indent=2) + "\n"` byte for byte.
    pub fn to_pretty_json(&self) -> String {
        let rows = self.rows();
        pyjson::dumps_pretty(&borrow_rows(&rows))
    }

    /// The original compact form: Python `json.dumps(entries)` byte for byte.
    pub fn to_compact_json(&self) -> String {
        let rows = self.rows();
        pyjson::dumps_compact(&borrow_rows(&rows))
    }

    /// Writes the pretty form atomically, under the changelog lock. Creates the directory.
    pub fn write(&self, path: &Path) -> Result<()> {
        let _lock = ChangelogLock::acquire(path)?;
        self.write_unlocked(path)
    }

    /// Loads, changes and writes the changelog at `path` as one step under the changelog lock, so
    /// concurrent updates (two releases at once) are serialised and none is lost. Nothing is
    /// written when `change` fails.
    pub fn update<T>(path: &Path, change: impl FnOnce(&mut Changelog) -> Result<T>) -> Result<T> {
        let _lock = ChangelogLock::acquire(path)?;
        let mut changelog = Self::load(path)?;
        let out = change(&mut changelog)?;
        changelog.write_unlocked(path)?;
        Ok(out)
    }

    fn write_unlocked(&self, path: &Path) -> Result<()> {
        let text = self.to_pretty_json();
        if fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
            return Ok(());
        }
        let err = |source| Error::WriteChangelog {
            path: path.to_owned(),
            source,
        };
        plinth_oci::fs::write_atomic(path, text.as_bytes()).map_err(err)?;
        tracing::debug!(path = %path.display(), entries = self.len(), "wrote changelog");
        Ok(())
    }
}

fn borrow_rows<'a>(rows: &'a [Vec<(&'static str, String)>]) -> Vec<Vec<(&'a str, &'a str)>> {
    rows.iter()
        .map(|r| r.iter().map(|(k, v)| (*k, v.as_str())).collect())
        .collect()
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// An exclusive advisory lock on `.locks/<changelog name>.lock` beside the changelog (see
/// [`lock_dir`](crate::lock_dir)), released on drop.
struct ChangelogLock {
    _file: File,
}

impl ChangelogLock {
    fn acquire(changelog: &Path) -> Result<Self> {
        let dir = parent_dir(changelog);
        let name = changelog
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let locks = dir.join(crate::lock_dir::LOCK_DIR);
        let lock_path = locks.join(format!("{name}.lock"));
        let err = |source| Error::LockChangelog {
            path: lock_path.clone(),
            source,
        };
        crate::lock_dir::lock_dir(dir).map_err(err)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(err)?;
        file.lock().map_err(err)?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: &str, text: &str) -> ChangelogEntry {
        ChangelogEntry::new(v.parse().unwrap(), text, format!("FROM scratch # {v}"))
    }

    #[test]
    fn file_name_replaces_dashes_and_slashes() {
        assert_eq!(
            changelog_file_name("airbyte/python-connector-base"),
            "airbyte_python_connector_base.json"
        );
        assert_eq!(changelog_file_name("example-repo"), "example_repo.json");
        assert_eq!(
            changelog_path(Path::new("cat"), "airbyte/java-connector-base"),
            Path::new("cat/generated/changelogs/airbyte_java_connector_base.json")
        );
    }

    #[test]
    fn entries_are_sorted_descending_and_the_last_duplicate_wins() {
        let c = Changelog::new([
            entry("1.0.0", "a"),
            entry("3.0.0-rc.1", "b"),
            entry("1.0.0", "c"),
            entry("3.0.0", "d"),
        ]);
        let got: Vec<(String, &str)> = c
            .entries()
            .iter()
            .map(|e| (e.version().to_string(), e.changelog_entry()))
            .collect();
        assert_eq!(
            got,
            [
                ("3.0.0".into(), "d"),
                ("3.0.0-rc.1".into(), "b"),
                ("1.0.0".into(), "c")
            ]
        );
    }

    #[test]
    fn insert_keeps_order_and_replaces() {
        let mut c = Changelog::new([entry("1.0.0", "a"), entry("3.0.0", "c")]);
        assert!(c.insert(entry("2.0.0", "b")).is_none());
        assert_eq!(
            c.insert(entry("3.0.0", "C")).unwrap().changelog_entry(),
            "c"
        );
        let got: Vec<String> = c
            .entries()
            .iter()
            .map(|e| e.version().to_string())
            .collect();
        assert_eq!(got, ["3.0.0", "2.0.0", "1.0.0"]);
        assert_eq!(
            c.get(&"3.0.0".parse().unwrap()).unwrap().changelog_entry(),
            "C"
        );
        assert_eq!(
            c.remove(&"2.0.0".parse().unwrap())
                .unwrap()
                .changelog_entry(),
            "b"
        );
    }

    #[test]
    fn invalid_version_names_file_and_entry() {
        let text = r#"[{"version": "1.0.0", "changelog_entry": "a", "dockerfile_example": "x"},
                       {"version": "v2.0.0", "changelog_entry": "b", "dockerfile_example": "y"}]"#;
        let err = Changelog::parse(text, Path::new("gen/x.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`gen/x.json`") && err.contains("entry 1") && err.contains("`v2.0.0`"),
            "{err}"
        );
        assert!(err.contains("remove the `v` prefix"), "{err}");
    }

    #[test]
    fn unknown_or_missing_keys_are_load_errors() {
        let extra = r#"[{"version": "1.0.0", "changelog_entry": "a", "dockerfile_example": "x", "digest": "y"}]"#;
        assert!(matches!(
            Changelog::parse(extra, Path::new("f")),
            Err(Error::ParseChangelog { .. })
        ));
        let missing = r#"[{"version": "1.0.0", "changelog_entry": "a"}]"#;
        let err = Changelog::parse(missing, Path::new("f")).unwrap_err();
        assert!(
            std::error::Error::source(&err)
                .unwrap()
                .to_string()
                .contains("dockerfile_example")
        );
    }

    #[test]
    fn missing_file_is_empty_and_empty_writes_as_empty_array() {
        let dir = tempfile::tempdir().unwrap();
        let path = changelog_path(dir.path(), "x/y");
        let c = Changelog::load(&path).unwrap();
        assert!(c.is_empty());
        c.write(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "[]\n");
        assert_eq!(c.to_compact_json(), "[]");
    }
}
