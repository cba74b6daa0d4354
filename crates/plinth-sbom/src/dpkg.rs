//! dpkg: `var/lib/dpkg/status` (packages whose status is `installed`) and distroless's
//! `var/lib/dpkg/status.d/*` (one file per package, often without a `Status` field); licenses
//! from machine-readable `usr/share/doc/PACKAGE/copyright` files.

use crate::control::{field, fields, paragraphs};
use crate::files::ImageFiles;
use crate::license::License;
use crate::model::{OsRelease, Package, PackageKind};
use crate::purl::purl;

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d/";

/// The dpkg packages of the image.
pub fn packages(files: &ImageFiles, os: Option<&OsRelease>) -> Vec<Package> {
    let mut out = Vec::new();
    let sources = files
        .read(STATUS)
        .map(|bytes| (format!("/{STATUS}"), bytes))
        .into_iter()
        .chain(
            files
                .files_matching(|p| p.starts_with(STATUS_D))
                .map(|(p, bytes)| (format!("/{p}"), bytes)),
        );
    for (found_in, bytes) in sources {
        let text = String::from_utf8_lossy(bytes);
        for paragraph in paragraphs(&text, false) {
            let (Some(name), Some(version)) =
                (field(&paragraph, "Package"), field(&paragraph, "Version"))
            else {
                continue;
            };
            let installed = field(&paragraph, "Status")
                .is_none_or(|s| s.split_whitespace().nth(2) == Some("installed"));
            if !installed {
                continue;
            }
            let arch = field(&paragraph, "Architecture").map(str::to_owned);
            let source = field(&paragraph, "Source")
                .and_then(|s| s.split_whitespace().next())
                .filter(|s| *s != name)
                .map(str::to_owned);
            let namespace = os.map_or("debian", |o| o.id.as_str());
            let distro = os.map(OsRelease::distro);
            let purl = purl(
                "deb",
                Some(namespace),
                name,
                version,
                &[
                    ("arch", arch.as_deref()),
                    ("distro", distro.as_deref()),
                    ("upstream", source.as_deref()),
                ],
            );
            out.push(Package {
                kind: PackageKind::Deb,
                name: name.to_owned(),
                version: version.to_owned(),
                epoch: None,
                arch,
                source,
                licenses: copyright_licenses(files, name),
                found_in: found_in.clone(),
                purl,
            });
        }
    }
    out
}

/// The `License:` short names of a machine-readable copyright file (DEP-5), those of `Files`
/// paragraphs (the standalone `License` paragraphs only hold texts). A free-form copyright file
/// declares nothing this can read, so it gives none.
fn copyright_licenses(files: &ImageFiles, package: &str) -> Vec<License> {
    let Some(bytes) = files.read(&format!("usr/share/doc/{package}/copyright")) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(bytes);
    let paragraphs = paragraphs(&text, false);
    let machine_readable = paragraphs
        .first()
        .and_then(|p| field(p, "Format"))
        .is_some_and(|f| f.contains("copyright-format"));
    if !machine_readable {
        return Vec::new();
    }
    let mut out: Vec<License> = Vec::new();
    for paragraph in paragraphs.iter().filter(|p| field(p, "Files").is_some()) {
        for value in fields(paragraph, "License") {
            let short = value.lines().next().unwrap_or("").trim();
            if short.is_empty() {
                continue;
            }
            let license = License::parse(short);
            if !out.contains(&license) {
                out.push(license);
            }
        }
    }
    out
}
