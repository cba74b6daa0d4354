//! Package differences between two images, from their SBOMs: packages added, removed and
//! upgraded (or downgraded), and the one-line summary a changelog entry starts from.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The packages of one image: (purl type, name) → its versions (usually one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PackageSet(pub BTreeMap<(String, String), BTreeSet<String>>);

impl PackageSet {
    /// The packages an SBOM lists.
    pub fn from_sbom(sbom: &plinth_sbom::Sbom) -> Self {
        let mut set = Self::default();
        for p in &sbom.packages {
            set.insert(p.kind.purl_type(), &p.name, &p.version);
        }
        set
    }

    /// The packages of an SPDX 2.3 JSON document (an attached SBOM): every package with a
    /// `pkg:` purl, except the image and its OS.
    pub fn from_spdx_json(bytes: &[u8]) -> Result<Self> {
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| Error::SbomDocument(e.to_string()))?;
        let Some(packages) = doc["packages"].as_array() else {
            return Err(Error::SbomDocument(
                "no `packages` array: not an SPDX JSON document".to_owned(),
            ));
        };
        let mut set = Self::default();
        for package in packages {
            let purl = package["externalRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["referenceLocator"].as_str())
                .find(|l| l.starts_with("pkg:"));
            let Some(kind) = purl.and_then(|p| p["pkg:".len()..].split('/').next()) else {
                continue;
            };
            if kind == "oci" {
                continue;
            }
            let name = package["name"].as_str().unwrap_or_default();
            let version = package["versionInfo"].as_str().unwrap_or_default();
            set.insert(kind, name, version);
        }
        Ok(set)
    }

    /// Adds one package.
    pub fn insert(&mut self, kind: &str, name: &str, version: &str) {
        self.0
            .entry((kind.to_owned(), name.to_owned()))
            .or_default()
            .insert(version.to_owned());
    }

    /// How many packages (name and kind) it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One package's difference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PackageChange {
    /// The purl type (`deb`, `rpm`, `apk`, `pypi`).
    pub kind: String,
    /// The name.
    pub name: String,
    /// Its version(s) in the first image (empty: added).
    pub before: Vec<String>,
    /// Its version(s) in the second image (empty: removed).
    pub after: Vec<String>,
}

impl PackageChange {
    /// `added`, `removed`, `upgraded`, `downgraded` or `changed` (several versions).
    pub fn word(&self) -> &'static str {
        match (self.before.as_slice(), self.after.as_slice()) {
            ([], _) => "added",
            (_, []) => "removed",
            ([old], [new]) => match compare_versions(old, new) {
                Ordering::Less => "upgraded",
                Ordering::Greater => "downgraded",
                Ordering::Equal => "changed",
            },
            _ => "changed",
        }
    }
}

/// Packages added, removed and changed from `before` to `after`, by kind then name.
pub fn diff_packages(before: &PackageSet, after: &PackageSet) -> Vec<PackageChange> {
    let keys: BTreeSet<&(String, String)> = before.0.keys().chain(after.0.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let old = before.0.get(key).cloned().unwrap_or_default();
            let new = after.0.get(key).cloned().unwrap_or_default();
            (old != new).then(|| PackageChange {
                kind: key.0.clone(),
                name: key.1.clone(),
                before: old.into_iter().collect(),
                after: new.into_iter().collect(),
            })
        })
        .collect()
}

/// The changelog-style summary of `changes`: upgrades, then additions, then removals, at most
/// `limit` items (`Upgrade python 3.11.9 → 3.11.10; add socat 1.7.4.4; remove vim 9.0`), or
/// `None` when nothing changed.
pub fn summarize(changes: &[PackageChange], limit: usize) -> Option<String> {
    let order = |c: &PackageChange| match c.word() {
        "upgraded" => 0,
        "downgraded" => 1,
        "changed" => 2,
        "added" => 3,
        _ => 4,
    };
    let mut sorted: Vec<&PackageChange> = changes.iter().collect();
    sorted.sort_by_key(|c| order(c));
    let items: Vec<String> = sorted
        .iter()
        .map(|c| match c.word() {
            "added" => format!("add {} {}", c.name, c.after.join(", ")),
            "removed" => format!("remove {} {}", c.name, c.before.join(", ")),
            word => {
                let verb = match word {
                    "upgraded" => "upgrade",
                    "downgraded" => "downgrade",
                    _ => "change",
                };
                format!(
                    "{verb} {} {} → {}",
                    c.name,
                    c.before.join(", "),
                    c.after.join(", ")
                )
            }
        })
        .collect();
    let (first, rest) = items.split_first()?;
    let mut first = first.clone();
    if let Some(c) = first.get(..1) {
        first.replace_range(..1, &c.to_uppercase());
    }
    let shown: Vec<String> = std::iter::once(first)
        .chain(rest.iter().take(limit.saturating_sub(1)).cloned())
        .collect();
    let more = items.len().saturating_sub(shown.len());
    let mut text = shown.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more package change{}", plural(more)));
    }
    Some(text)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Compares versions by runs of digits (as numbers) and of other characters (as text), which
/// orders `3.11.9` before `3.11.10` and `1.2.3-1` before `1.2.3-2`.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let runs = |s: &str| -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for ch in s.chars() {
            let digit = ch.is_ascii_digit();
            match out.last_mut() {
                Some((d, run)) if *d == digit => run.push(ch),
                _ => out.push((digit, ch.to_string())),
            }
        }
        out
    };
    for (x, y) in runs(a).iter().zip(runs(b).iter()) {
        let ordering = match (x, y) {
            ((true, m), (true, n)) => {
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                m.len().cmp(&n.len()).then_with(|| m.cmp(n))
            }
            ((_, m), (_, n)) => m.cmp(n),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    runs(a).len().cmp(&runs(b).len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(&str, &str, &str)]) -> PackageSet {
        let mut s = PackageSet::default();
        for (k, n, v) in items {
            s.insert(k, n, v);
        }
        s
    }

    #[test]
    fn upgrades_additions_and_removals_summarised() {
        let before = set(&[
            ("deb", "python3.11", "3.11.9-1"),
            ("deb", "vim", "9.0"),
            ("pypi", "pip", "24.0"),
            ("deb", "bash", "5.2"),
        ]);
        let after = set(&[
            ("deb", "python3.11", "3.11.10-1"),
            ("deb", "socat", "1.7.4.4-2"),
            ("pypi", "pip", "23.0"),
            ("deb", "bash", "5.2"),
        ]);
        let changes = diff_packages(&before, &after);
        let words: Vec<_> = changes
            .iter()
            .map(|c| (c.name.as_str(), c.word()))
            .collect();
        assert_eq!(
            words,
            [
                ("python3.11", "upgraded"),
                ("socat", "added"),
                ("vim", "removed"),
                ("pip", "downgraded"),
            ]
        );
        assert_eq!(
            summarize(&changes, 10).unwrap(),
            "Upgrade python3.11 3.11.9-1 → 3.11.10-1; downgrade pip 24.0 → 23.0; \
             add socat 1.7.4.4-2; remove vim 9.0"
        );
        assert_eq!(
            summarize(&changes, 2).unwrap(),
            "Upgrade python3.11 3.11.9-1 → 3.11.10-1; downgrade pip 24.0 → 23.0; and 2 more package changes"
        );
        assert_eq!(summarize(&[], 10), None);
    }

    #[test]
    fn versions_compare_by_number_runs() {
        assert_eq!(compare_versions("3.11.9", "3.11.10"), Ordering::Less);
        assert_eq!(compare_versions("1.2.3-2", "1.2.3-1"), Ordering::Greater);
        assert_eq!(compare_versions("1.0", "1.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.0", "1.0.1"), Ordering::Less);
    }

    #[test]
    fn an_spdx_document_reads_back_without_the_image() {
        let doc = br#"{"packages":[
            {"name":"img","versionInfo":"sha256:1","externalRefs":[{"referenceLocator":"pkg:oci/img@sha256%3A1"}]},
            {"name":"debian","versionInfo":"12"},
            {"name":"socat","versionInfo":"1.7","externalRefs":[{"referenceLocator":"pkg:deb/debian/socat@1.7"}]}
        ]}"#;
        assert_eq!(
            PackageSet::from_spdx_json(doc).unwrap(),
            set(&[("deb", "socat", "1.7")])
        );
        assert!(PackageSet::from_spdx_json(b"{}").is_err());
    }
}
