//! What PyPI knows of a pinned package: whether the pinned release exists (with files that are
//! not all yanked, so pip can install it) and the latest release (PyPI's JSON API,
//! `GET /pypi/NAME/json`).

use serde::Deserialize;

use crate::error::{Error, Result};

/// The index plinth asks by default.
pub const PYPI: &str = "https://pypi.org";

/// A package's releases as PyPI lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PypiPackage {
    /// The latest release (PyPI's `info.version`: the newest that is not a pre-release, when
    /// there is one).
    pub latest: String,
    /// Whether the pinned version has a release with at least one file that is not yanked.
    pub pinned_installable: bool,
}

#[derive(Deserialize)]
struct ProjectJson {
    info: Info,
    #[serde(default)]
    releases: std::collections::BTreeMap<String, Vec<FileJson>>,
}

#[derive(Deserialize)]
struct Info {
    version: String,
}

#[derive(Deserialize)]
struct FileJson {
    #[serde(default)]
    yanked: bool,
}

/// Asks `index` about `name`, pinned at `version`. A package PyPI does not know is
/// `Ok(None)`.
pub async fn read_package(
    http: &reqwest::Client,
    index: &str,
    name: &str,
    version: &str,
) -> Result<Option<PypiPackage>> {
    let url = format!("{}/pypi/{name}/json", index.trim_end_matches('/'));
    let err = |reason: String| Error::Pypi {
        url: url.clone(),
        reason,
    };
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| err(format!("cannot reach the index: {e}")))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(err(format!("the index answered {}", response.status())));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| err(format!("the answer broke off: {e}")))?;
    let project: ProjectJson =
        serde_json::from_slice(&body).map_err(|e| err(format!("unexpected answer: {e}")))?;
    let wanted = normalize_version(version);
    let pinned_installable = project
        .releases
        .iter()
        .filter(|(v, _)| normalize_version(v) == wanted)
        .any(|(_, files)| files.iter().any(|f| !f.yanked));
    Ok(Some(PypiPackage {
        latest: project.info.version,
        pinned_installable,
    }))
}

/// Whether `latest` is a newer release than `pinned` (numeric release segments compared; equal
/// or unparseable versions are not newer).
pub fn is_newer(latest: &str, pinned: &str) -> bool {
    let parts = |v: &str| -> Option<Vec<u64>> {
        normalize_version(v)
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect()
    };
    match (parts(latest), parts(pinned)) {
        (Some(mut l), Some(mut p)) => {
            let len = l.len().max(p.len());
            l.resize(len, 0);
            p.resize(len, 0);
            l > p
        }
        _ => latest != pinned && normalize_version(latest) != normalize_version(pinned),
    }
}

/// `24.0` and `24.0.0` name the same release for pip; trailing `.0`s are dropped to compare.
fn normalize_version(v: &str) -> String {
    let mut v = v.trim().to_ascii_lowercase();
    while v.ends_with(".0") && v.matches('.').count() > 0 {
        v.truncate(v.len() - 2);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::is_newer;

    #[test]
    fn newer_compares_release_numbers() {
        assert!(is_newer("25.3", "24.0"));
        assert!(is_newer("1.10.0", "1.9.1"));
        assert!(!is_newer("24.0", "24.0.0"));
        assert!(!is_newer("1.6.1", "1.8.4"));
        assert!(is_newer("2.0.0rc1", "1.0"));
    }
}
