//! Where a container's root filesystem comes from: an image at a
//! [`plinth_oci::ImageLocation`] (a registry reference, an OCI layout directory or a
//! docker-archive tarball, written as skopeo writes them) or Debian's archive ([`DebianRoot`], the
//! reserved `plinth/debian` name).
//!
//! The address is kept exactly as the recipe wrote it, because the Dockerfile views print it back
//! verbatim (`docker.io/python:…`, not the normalised `docker.io/library/python:…`).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use plinth_oci::{ImageLocation, Reference};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::debian::{DebianRoot, is_debian_address};
use crate::error::{Error, Result};

/// A parsed image source with the text it was written as.
///
/// Serialised as that text, so two sources are equal exactly when they were written the same way.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageSource {
    address: String,
    kind: SourceKind,
}

/// What an [`ImageSource`] points at: an image location (one type for every place plinth reads
/// or writes images) or a root plinth makes itself.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// An image in a registry, an OCI layout or a docker-archive.
    Image(ImageLocation),
    /// A root bootstrapped from Debian's archive (`plinth/debian:SUITE[-VARIANT][?include=…]`).
    Debian(DebianRoot),
}

impl ImageSource {
    /// Parses an image location as skopeo writes it (see [`plinth_oci::location`]):
    /// `docker.io/x:1@sha256:…` (or `docker://…`), `oci:DIR[:NAME]`,
    /// `docker-archive:FILE[:REF]`; or a Debian root (`plinth/debian:bookworm`, see
    /// [`DebianRoot::parse`]).
    pub fn parse(input: &str) -> Result<Self> {
        let kind = if is_debian_address(input) {
            SourceKind::Debian(DebianRoot::parse(input)?)
        } else {
            SourceKind::Image(input.parse::<ImageLocation>().map_err(|source| {
                Error::InvalidReference {
                    input: input.chars().take(200).collect(),
                    source,
                }
            })?)
        };
        Ok(Self {
            address: input.to_owned(),
            kind,
        })
    }

    /// The source exactly as written in the recipe.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What the source points at.
    pub fn kind(&self) -> &SourceKind {
        &self.kind
    }

    /// The image location, for sources that are images.
    pub fn location(&self) -> Option<&ImageLocation> {
        match &self.kind {
            SourceKind::Image(location) => Some(location),
            SourceKind::Debian(_) => None,
        }
    }

    /// The registry reference, for registry sources.
    pub fn reference(&self) -> Option<&Reference> {
        self.location().and_then(ImageLocation::reference)
    }

    /// The Debian root, for sources made from Debian's archive.
    pub fn debian(&self) -> Option<&DebianRoot> {
        match &self.kind {
            SourceKind::Debian(root) => Some(root),
            SourceKind::Image(_) => None,
        }
    }

    /// The local path, for OCI layout and docker-archive sources.
    pub fn local_path(&self) -> Option<&Path> {
        self.location().and_then(ImageLocation::local_path)
    }
}

impl From<Reference> for ImageSource {
    fn from(reference: Reference) -> Self {
        Self {
            address: reference.to_string(),
            kind: SourceKind::Image(ImageLocation::Registry(reference)),
        }
    }
}

impl From<DebianRoot> for ImageSource {
    fn from(root: DebianRoot) -> Self {
        Self {
            address: root.address(),
            kind: SourceKind::Debian(root),
        }
    }
}

impl FromStr for ImageSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl fmt::Debug for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageSource({})", self.address)
    }
}

impl Serialize for ImageSource {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.address)
    }
}

impl<'de> Deserialize<'de> for ImageSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_address_as_written() {
        let s = ImageSource::parse("docker.io/python:3.10.14-slim-bookworm").unwrap();
        assert_eq!(s.address(), "docker.io/python:3.10.14-slim-bookworm");
        assert_eq!(s.reference().unwrap().repository(), "library/python");
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            "\"docker.io/python:3.10.14-slim-bookworm\""
        );
    }

    #[test]
    fn local_sources() {
        let s = ImageSource::parse("oci:/tmp/layout:1.0").unwrap();
        assert_eq!(
            s.location(),
            Some(&ImageLocation::OciLayout {
                dir: "/tmp/layout".into(),
                name: Some("1.0".into())
            })
        );
        // Written `oci:layout:`, printed back the same way, read as skopeo reads it.
        let s = ImageSource::parse("oci:layout:").unwrap();
        assert_eq!(s.address(), "oci:layout:");
        assert_eq!(
            s.location(),
            Some(&ImageLocation::OciLayout {
                dir: "layout".into(),
                name: None
            })
        );
        let s = ImageSource::parse("docker-archive:/x/y.tar").unwrap();
        assert_eq!(s.local_path(), Some(Path::new("/x/y.tar")));
        for bad in ["oci:", "docker-archive:", "dir:/x", "Python", ""] {
            assert!(ImageSource::parse(bad).is_err(), "{bad}");
        }
    }
}
