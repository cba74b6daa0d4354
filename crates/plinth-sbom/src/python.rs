//! Python distributions: `*.dist-info/METADATA` (pip, poetry, uv) and `*.egg-info/PKG-INFO` or
//! a `*.egg-info` file (setuptools' older installs), wherever they are in the image.

use crate::control::{field, fields, paragraphs};
use crate::files::ImageFiles;
use crate::license::License;
use crate::model::{Package, PackageKind};
use crate::purl::purl;

/// The Python distributions of the image.
pub fn packages(files: &ImageFiles) -> Vec<Package> {
    let metadata = |path: &str| {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = dir.rsplit('/').next().unwrap_or(dir);
        (name == "METADATA" && parent.ends_with(".dist-info"))
            || (name == "PKG-INFO" && parent.ends_with(".egg-info"))
            || name.ends_with(".egg-info")
    };
    files
        .files_matching(metadata)
        .filter_map(|(path, bytes)| {
            let text = String::from_utf8_lossy(bytes);
            let headers = paragraphs(&text, true).into_iter().next()?;
            let name = field(&headers, "Name")?.trim();
            let version = field(&headers, "Version")?.trim();
            if name.is_empty() || version.is_empty() {
                return None;
            }
            Some(Package {
                kind: PackageKind::Python,
                name: name.to_owned(),
                version: version.to_owned(),
                epoch: None,
                arch: None,
                source: None,
                licenses: licenses(&headers),
                found_in: format!("/{path}"),
                purl: purl("pypi", None, &normalize(name), version, &[]),
            })
        })
        .collect()
}

/// PEP 503's normalised name, which the purl spec asks for: lowercase, runs of `-`, `_` and
/// `.` as one `-`.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// PEP 639's `License-Expression`, else a one-line `License` (many put the whole text there,
/// which names nothing), else the `License ::` classifiers.
fn licenses(headers: &crate::control::Paragraph) -> Vec<License> {
    if let Some(expr) = field(headers, "License-Expression").filter(|e| !e.is_empty()) {
        return vec![License::parse(expr)];
    }
    if let Some(license) = field(headers, "License")
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('\n') && l.len() <= 80)
        .filter(|l| !l.eq_ignore_ascii_case("UNKNOWN"))
    {
        return vec![License::parse(license)];
    }
    let mut out = Vec::new();
    for classifier in fields(headers, "Classifier") {
        let mut parts = classifier.split("::").map(str::trim);
        if parts.next() != Some("License") {
            continue;
        }
        let Some(last) = parts.last().filter(|l| *l != "OSI Approved") else {
            continue;
        };
        let license = License::parse(last);
        if !out.contains(&license) {
            out.push(license);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_for_purls() {
        assert_eq!(normalize("Jinja2"), "jinja2");
        assert_eq!(normalize("typing_extensions"), "typing-extensions");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("a__-b"), "a-b");
    }
}
