//! What an SBOM holds: the image it describes, its OS and its packages.

use plinth_oci::{Digest, Platform};

use crate::license::License;
use crate::purl::purl;

/// The package manager a package was found through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PackageKind {
    /// dpkg (`var/lib/dpkg/status`, `status.d/*`).
    Deb,
    /// rpm (its sqlite database).
    Rpm,
    /// apk (`lib/apk/db/installed`).
    Apk,
    /// Python distributions (`*.dist-info/METADATA`, `*.egg-info`).
    Python,
}

impl PackageKind {
    /// The purl type.
    pub fn purl_type(self) -> &'static str {
        match self {
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Apk => "apk",
            Self::Python => "pypi",
        }
    }
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Where it was found.
    pub kind: PackageKind,
    /// Its name, as its package manager writes it.
    pub name: String,
    /// Its version (dpkg and apk: as recorded; rpm: `VERSION-RELEASE`, the epoch apart).
    pub version: String,
    /// rpm's epoch, when set.
    pub epoch: Option<u64>,
    /// Its architecture (`amd64`, `x86_64`, `noarch`, …), when recorded.
    pub arch: Option<String>,
    /// The source package it was built from, when another name (dpkg `Source`, apk origin,
    /// rpm source rpm).
    pub source: Option<String>,
    /// Declared licenses, in the order found, without repeats.
    pub licenses: Vec<License>,
    /// The file that recorded it, in the image (`/var/lib/dpkg/status`).
    pub found_in: String,
    /// Its package URL.
    pub purl: String,
}

/// The image's OS as `/etc/os-release` (or `/usr/lib/os-release`) names it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID` (`debian`, `amzn`, `alpine`).
    pub id: String,
    /// `VERSION_ID` (`12`, `2023`, `3.19.1`), when present.
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`, when present.
    pub codename: Option<String>,
    /// `PRETTY_NAME`, when present.
    pub pretty_name: Option<String>,
}

impl OsRelease {
    /// Reads the `KEY=value` lines (quotes removed).
    pub fn parse(text: &str) -> Option<Self> {
        let mut fields = std::collections::BTreeMap::new();
        for line in text.lines() {
            if let Some((key, value)) = line.trim().split_once('=') {
                let value = value.trim().trim_matches('"').trim_matches('\'');
                fields.insert(key.trim().to_owned(), value.to_owned());
            }
        }
        Some(Self {
            id: fields.get("ID").filter(|v| !v.is_empty())?.clone(),
            version_id: fields.get("VERSION_ID").cloned(),
            codename: fields.get("VERSION_CODENAME").cloned(),
            pretty_name: fields.get("PRETTY_NAME").cloned(),
        })
    }

    /// The purl `distro` qualifier: `debian-12`, `amzn-2023` (or the codename without a
    /// version, as Debian's testing has).
    pub fn distro(&self) -> String {
        match (&self.version_id, &self.codename) {
            (Some(v), _) => format!("{}-{v}", self.id),
            (None, Some(c)) => format!("{}-{c}", self.id),
            (None, None) => self.id.clone(),
        }
    }
}

/// The image an SBOM describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// How the image was named (`registry.example/base/python:3.11`, `oci:out:v1`).
    pub name: String,
    /// The digest of its platform manifest.
    pub digest: Digest,
    /// Its platform.
    pub platform: Platform,
}

impl Subject {
    /// The image's purl (`pkg:oci/NAME@sha256:…?arch=amd64&os=linux`), NAME being the last
    /// path component of the repository as the purl spec's oci type says.
    pub fn purl(&self) -> String {
        let repository = self.name.split(['@']).next().unwrap_or(&self.name);
        let last = repository.rsplit('/').next().unwrap_or(repository);
        let name = last.split(':').next().unwrap_or(last).to_ascii_lowercase();
        let arch = self.platform.architecture.clone();
        purl(
            "oci",
            None,
            &name,
            &self.digest.to_string(),
            &[
                ("arch", Some(&arch)),
                ("os", Some(&self.platform.os)),
                ("variant", self.platform.variant.as_deref()),
            ],
        )
    }
}

/// Everything an SBOM document says, before it is written in one format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sbom {
    /// The image.
    pub subject: Subject,
    /// Its OS, when it has an `os-release`.
    pub os: Option<OsRelease>,
    /// Its packages, sorted by kind, name, version, architecture and location.
    pub packages: Vec<Package>,
    /// The document's timestamp, seconds since 1970 (the image's reproducible timestamp).
    pub created: u64,
    /// The generator (`plinth-0.1.0`).
    pub tool: String,
    /// What could not be read (an rpm database in an older format), for the user; not part of
    /// the documents.
    pub warnings: Vec<String>,
}
