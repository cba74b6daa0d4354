//! SBOMs made from what is in an image, not from the recipe that built it.
//!
//! The image's layers are read in order as a stream ([`ImageFiles`]: whiteouts and opaque
//! directories applied, nothing unpacked to disk) keeping only package databases, and the
//! packages they record are listed with package URLs, versions and declared licenses:
//!
//! - dpkg: `var/lib/dpkg/status` and distroless's `status.d/*`; licenses from machine-readable
//!   `usr/share/doc/PACKAGE/copyright` files;
//! - rpm: the sqlite database (`rpmdb.sqlite`, Amazon Linux 2023, Fedora), the Berkeley DB
//!   hash database (`Packages`, Amazon Linux 2, CentOS 7) and ndb (`Packages.db`, SUSE);
//! - Python: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and `*.egg-info` files anywhere;
//! - apk: `lib/apk/db/installed`.
//!
//! The OS comes from `/etc/os-release`. Output is SPDX 2.3 JSON or CycloneDX 1.5 JSON, as
//! canonical JSON (sorted keys, no whitespace) with the packages sorted and every timestamp the
//! one given (the image's reproducible timestamp), so one image gives one document.
//!
//! ```no_run
//! use plinth_oci::{Descriptor, ManifestDocument, Platform, Store};
//! use plinth_sbom::{ImageFiles, Subject};
//!
//! /// The SPDX document of the platform image `manifest_descriptor` names in `store`.
//! fn spdx_of(
//!     store: &Store,
//!     manifest_descriptor: &Descriptor,
//! ) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
//!     let ManifestDocument::Image(manifest) = store.read_document(manifest_descriptor)? else {
//!         return Err("an index, not a platform image: pick one of its manifests".into());
//!     };
//!     let files = ImageFiles::from_store(store, &manifest)?;
//!     let subject = Subject {
//!         name: "registry.example/base/python:3.11".to_owned(),
//!         digest: manifest_descriptor.digest.clone(),
//!         platform: Platform::linux_amd64(),
//!     };
//!     let sbom = plinth_sbom::generate(&files, subject, 0)?;
//!     Ok(sbom.to_spdx_json()?)
//! }
//! ```

mod apk;
mod control;
mod cyclonedx;
mod dpkg;
mod error;
mod files;
mod license;
mod model;
mod purl;
mod python;
mod rpm;
mod spdx;

use std::fmt;
use std::str::FromStr;

pub use error::{Error, Result};
pub use files::{ImageFiles, is_package_metadata};
pub use license::License;
pub use model::{OsRelease, Package, PackageKind, Sbom, Subject};
pub use plinth_oci::time::{parse_rfc3339, rfc3339};

/// The generator named in every document.
pub const TOOL: &str = concat!("plinth-", env!("CARGO_PKG_VERSION"));

/// Lists the packages of `files` (an image's merged layers) for `subject`, with `created`
/// (seconds since 1970: the image's reproducible timestamp) as the document time.
pub fn generate(files: &ImageFiles, subject: Subject, created: u64) -> Result<Sbom> {
    let os = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| files.read(p))
        .and_then(|bytes| OsRelease::parse(&String::from_utf8_lossy(bytes)));
    let mut packages = dpkg::packages(files, os.as_ref());
    let (rpms, warnings) = rpm::packages(files, os.as_ref())?;
    packages.extend(rpms);
    packages.extend(apk::packages(files, os.as_ref()));
    packages.extend(python::packages(files));
    packages.sort();
    packages.dedup();
    for warning in &warnings {
        tracing::warn!(image = %subject.name, "{warning}");
    }
    Ok(Sbom {
        subject,
        os,
        packages,
        created,
        tool: TOOL.to_owned(),
        warnings,
    })
}

/// An SBOM document format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    /// SPDX 2.3 JSON.
    #[default]
    Spdx,
    /// CycloneDX 1.5 JSON.
    CycloneDx,
}

impl Format {
    /// The document's media type (`application/spdx+json`, `application/vnd.cyclonedx+json`),
    /// for an OCI artifact's `artifactType` or layer.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Spdx => "application/spdx+json",
            Self::CycloneDx => "application/vnd.cyclonedx+json",
        }
    }

    /// The in-toto predicate type of an attestation carrying the document.
    pub fn predicate_type(self) -> &'static str {
        match self {
            Self::Spdx => "https://spdx.dev/Document",
            Self::CycloneDx => "https://cyclonedx.org/bom",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Spdx => "spdx",
            Self::CycloneDx => "cyclonedx",
        })
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "spdx" | "spdx-json" => Ok(Self::Spdx),
            "cyclonedx" | "cyclonedx-json" | "cdx" => Ok(Self::CycloneDx),
            other => Err(format!(
                "unknown SBOM format `{other}`: use spdx or cyclonedx"
            )),
        }
    }
}

impl Sbom {
    /// The SPDX 2.3 JSON document, canonical.
    pub fn to_spdx_json(&self) -> Result<Vec<u8>> {
        canonical(&spdx::document(self))
    }

    /// The CycloneDX 1.5 JSON document, canonical.
    pub fn to_cyclonedx_json(&self) -> Result<Vec<u8>> {
        canonical(&cyclonedx::document(self))
    }

    /// The document in `format`, canonical.
    pub fn to_json(&self, format: Format) -> Result<Vec<u8>> {
        match format {
            Format::Spdx => self.to_spdx_json(),
            Format::CycloneDx => self.to_cyclonedx_json(),
        }
    }
}

fn canonical(value: &serde_json::Value) -> Result<Vec<u8>> {
    plinth_oci::canonical::to_canonical_vec(value).map_err(|e| Error::Write(e.to_string()))
}
