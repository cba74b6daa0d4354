//! Where a container's root filesystem comes from: a registry reference, an OCI layout directory,
//! a docker-archive tarball or Debian's archive ([`DebianRoot`], the reserved `plinth/debian` name).
//!
//! The address is kept exactly as the recipe wrote it, because the Dockerfile views print it back
//! verbatim (`docker.io/python:…`, not the normalised `docker.io/library/python:…`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use plinth_oci::Reference;
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

/// What an [`ImageSource`] points at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// An image in a registry (pinned when the reference has a digest).
    Registry(Reference),
    /// An OCI image layout directory (`oci:DIR[:TAG]`; without a tag the layout must hold one image).
    OciLayout {
        /// The layout directory.
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to pick, if given.
        tag: Option<String>,
    },
    /// A `docker save` tarball (`docker-archive:FILE`).
    DockerArchive {
        /// The tarball.
        file: PathBuf,
    },
    /// A root bootstrapped from Debian's archive (`plinth/debian:SUITE[-VARIANT][?include=…]`).
    Debian(DebianRoot),
}

impl ImageSource {
    /// Parses `docker.io/x:1@sha256:…` (or `docker://…`), `oci:DIR[:TAG]`, `docker-archive:FILE`
    /// or a Debian root (`plinth/debian:bookworm`, see [`DebianRoot::parse`]).
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidSource {
            input: input.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        let kind = if is_debian_address(input) {
            SourceKind::Debian(DebianRoot::parse(input)?)
        } else if let Some(rest) = input.strip_prefix("oci:") {
            // Like containers-image: the directory ends at the first `:`.
            let (dir, tag) = match rest.split_once(':') {
                Some((d, t)) => (d, Some(t)),
                None => (rest, None),
            };
            if dir.is_empty() {
                return Err(bad(
                    "the OCI layout directory is missing: write `oci:DIR` or `oci:DIR:TAG`",
                ));
            }
            if tag.is_some_and(str::is_empty) {
                return Err(bad(
                    "the tag after the directory is empty: drop the `:` or name a tag",
                ));
            }
            SourceKind::OciLayout {
                dir: PathBuf::from(dir),
                tag: tag.map(str::to_owned),
            }
        } else if let Some(file) = input.strip_prefix("docker-archive:") {
            if file.is_empty() {
                return Err(bad(
                    "the archive path is missing: write `docker-archive:FILE`",
                ));
            }
            SourceKind::DockerArchive {
                file: PathBuf::from(file),
            }
        } else {
            let text = input.strip_prefix("docker://").unwrap_or(input);
            let reference =
                text.parse::<Reference>()
                    .map_err(|source| Error::InvalidReference {
                        input: input.chars().take(200).collect(),
                        source,
                    })?;
            SourceKind::Registry(reference)
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

    /// The registry reference, for registry sources.
    pub fn reference(&self) -> Option<&Reference> {
        match &self.kind {
            SourceKind::Registry(r) => Some(r),
            _ => None,
        }
    }

    /// The Debian root, for sources made from Debian's archive.
    pub fn debian(&self) -> Option<&DebianRoot> {
        match &self.kind {
            SourceKind::Debian(root) => Some(root),
            _ => None,
        }
    }

    /// The local path, for OCI layout and docker-archive sources.
    pub fn local_path(&self) -> Option<&Path> {
        match &self.kind {
            SourceKind::Registry(_) | SourceKind::Debian(_) => None,
            SourceKind::OciLayout { dir, .. } => Some(dir),
            SourceKind::DockerArchive { file } => Some(file),
        }
    }
}

impl From<Reference> for ImageSource {
    fn from(reference: Reference) -> Self {
        Self {
            address: reference.to_string(),
            kind: SourceKind::Registry(reference),
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
            s.kind(),
            &SourceKind::OciLayout {
                dir: "/tmp/layout".into(),
                tag: Some("1.0".into())
            }
        );
        let s = ImageSource::parse("oci:layout").unwrap();
        assert_eq!(
            s.kind(),
            &SourceKind::OciLayout {
                dir: "layout".into(),
                tag: None
            }
        );
        let s = ImageSource::parse("docker-archive:/x/y.tar").unwrap();
        assert_eq!(s.local_path(), Some(Path::new("/x/y.tar")));
        for bad in ["oci:", "oci:dir:", "docker-archive:", "Python", ""] {
            assert!(ImageSource::parse(bad).is_err(), "{bad}");
        }
    }
}
