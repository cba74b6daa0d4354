//! Where a container's root filesystem comes from: a registry reference, an OCI layout directory
//! or a docker-archive tarball.
//!
//! The address is kept exactly as the recipe wrote it, because the Dockerfile views print it back
//! verbatim (`docker.io/python:…`, not the normalised `docker.io/library/python:…`).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use plinth_oci::{ImageLocation, Reference};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A parsed image source with the text it was written as.
///
/// Serialised as that text, so two sources are equal exactly when they were written the same way.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageSource {
    address: String,
    location: ImageLocation,
}

impl ImageSource {
    /// Parses an image location as skopeo writes it (see [`plinth_oci::location`]):
    /// `docker.io/x:1@sha256:…` (or `docker://…`), `oci:DIR[:NAME]` or
    /// `docker-archive:FILE[:REF]`.
    pub fn parse(input: &str) -> Result<Self> {
        let location =
            input
                .parse::<ImageLocation>()
                .map_err(|source| Error::InvalidReference {
                    input: input.chars().take(200).collect(),
                    source,
                })?;
        Ok(Self {
            address: input.to_owned(),
            location,
        })
    }

    /// The source exactly as written in the recipe.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What the source points at.
    pub fn location(&self) -> &ImageLocation {
        &self.location
    }

    /// The registry reference, for registry sources.
    pub fn reference(&self) -> Option<&Reference> {
        self.location.reference()
    }

    /// The local path, for OCI layout and docker-archive sources.
    pub fn local_path(&self) -> Option<&Path> {
        self.location.local_path()
    }
}

impl From<Reference> for ImageSource {
    fn from(reference: Reference) -> Self {
        Self {
            address: reference.to_string(),
            location: ImageLocation::Registry(reference),
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
            &ImageLocation::OciLayout {
                dir: "/tmp/layout".into(),
                name: Some("1.0".into())
            }
        );
        // Written `oci:layout:`, printed back the same way, read as skopeo reads it.
        let s = ImageSource::parse("oci:layout:").unwrap();
        assert_eq!(s.address(), "oci:layout:");
        assert_eq!(
            s.location(),
            &ImageLocation::OciLayout {
                dir: "layout".into(),
                name: None
            }
        );
        let s = ImageSource::parse("docker-archive:/x/y.tar").unwrap();
        assert_eq!(s.local_path(), Some(Path::new("/x/y.tar")));
        for bad in ["oci:", "docker-archive:", "dir:/x", "Python", ""] {
            assert!(ImageSource::parse(bad).is_err(), "{bad}");
        }
    }
}
