//! Where an image is read from or written to, written as skopeo writes it.
//!
//! | text | meaning |
//! | --- | --- |
//! | `docker://REF`, or a bare `REF` | an image in a registry |
//! | `oci:DIR` | the only image of the OCI layout `DIR` (as a destination: untagged) |
//! | `oci:DIR:NAME` | the image whose `org.opencontainers.image.ref.name` is `NAME` |
//! | `docker-archive:FILE` | the only image of a `docker save` tar (as a destination: untagged) |
//! | `docker-archive:FILE:REF` | the image tagged `REF` (normalised: `busybox` → `docker.io/library/busybox:latest`) |
//! | `docker-archive:FILE:@N` | the `N`th image of the archive (sources only) |
//!
//! The rules are containers/image's: the path ends at the first `:` (so it cannot contain one),
//! an empty part after it means none was given, an OCI name follows the OCI annotation grammar,
//! a docker-archive reference is a tagged docker reference without a digest. Other transports
//! (`dir:`, `oci-archive:`, `containers-storage:`, …) are refused with a clear error rather than
//! read as a registry called `dir`.
//!
//! ```
//! use plinth_oci::location::{ArchiveImage, ImageLocation};
//! let location: ImageLocation = "docker-archive:out/image.tar:busybox".parse().unwrap();
//! let ImageLocation::DockerArchive { file, image: ArchiveImage::Tagged(tag) } = &location else {
//!     unreachable!()
//! };
//! assert_eq!(file.to_str(), Some("out/image.tar"));
//! assert_eq!(tag.to_string(), "docker.io/library/busybox:latest");
//! assert_eq!(location.to_string(), "docker-archive:out/image.tar:docker.io/library/busybox:latest");
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::reference::Reference;

/// Transports skopeo knows that plinth does not read or write.
const UNSUPPORTED_TRANSPORTS: &[&str] = &[
    "containers-storage",
    "dir",
    "docker-daemon",
    "oci-archive",
    "ostree",
    "sif",
    "tarball",
];

/// An image location: a registry reference, an OCI layout or a docker-archive file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageLocation {
    /// An image in a registry (`docker://REF` or a bare reference).
    Registry(Reference),
    /// An OCI image layout directory (`oci:DIR[:NAME]`).
    OciLayout {
        /// The layout directory.
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to read or write; `None`: the only image
        /// (source) or no name (destination).
        name: Option<String>,
    },
    /// A `docker save` tar (`docker-archive:FILE[:REF]` or `docker-archive:FILE:@N`).
    DockerArchive {
        /// The tar file.
        file: PathBuf,
        /// Which image of the archive.
        image: ArchiveImage,
    },
}

/// Which image of a docker-archive a location means.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchiveImage {
    /// As a source, the archive's only image; as a destination, one untagged image.
    Only,
    /// The image with this `RepoTags` entry (always tagged, never with a digest).
    Tagged(Reference),
    /// The image at this position of `manifest.json` (sources only).
    Index(usize),
}

impl ImageLocation {
    /// The registry reference, for registry locations.
    pub fn reference(&self) -> Option<&Reference> {
        match self {
            Self::Registry(reference) => Some(reference),
            Self::OciLayout { .. } | Self::DockerArchive { .. } => None,
        }
    }

    /// The directory or file, for local locations.
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            Self::Registry(_) => None,
            Self::OciLayout { dir, .. } => Some(dir),
            Self::DockerArchive { file, .. } => Some(file),
        }
    }
}

impl FromStr for ImageLocation {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidLocation {
            input: input.chars().take(200).collect(),
            reason,
        };
        if let Some(rest) = input.strip_prefix("docker://") {
            return Ok(Self::Registry(rest.parse()?));
        }
        if let Some(rest) = input.strip_prefix("oci:") {
            let (dir, name) = split_path(rest);
            if dir.is_empty() {
                return Err(invalid(
                    "the OCI layout directory is missing: write `oci:DIR` or `oci:DIR:NAME`".into(),
                ));
            }
            if let Some(name) = name {
                validate_layout_name(name).map_err(|why| {
                    invalid(format!(
                        "`{name}` is not an image name an OCI layout can hold: {why}"
                    ))
                })?;
            }
            return Ok(Self::OciLayout {
                dir: PathBuf::from(dir),
                name: name.map(str::to_owned),
            });
        }
        if let Some(rest) = input.strip_prefix("docker-archive:") {
            let (file, image) = split_path(rest);
            if file.is_empty() {
                return Err(invalid(
                    "the archive file is missing: write `docker-archive:FILE` or `docker-archive:FILE:NAME:TAG`"
                        .into(),
                ));
            }
            let image = match image {
                None => ArchiveImage::Only,
                Some(text) => parse_archive_image(text).map_err(invalid)?,
            };
            return Ok(Self::DockerArchive {
                file: PathBuf::from(file),
                image,
            });
        }
        if let Some((transport, _)) = input.split_once(':')
            && UNSUPPORTED_TRANSPORTS.contains(&transport)
        {
            return Err(invalid(format!(
                "the `{transport}:` transport is not supported: use `docker://`, `oci:` or `docker-archive:`"
            )));
        }
        Ok(Self::Registry(input.parse()?))
    }
}

/// containers/image's split: the path ends at the first `:`; nothing after it means no image part.
fn split_path(text: &str) -> (&str, Option<&str>) {
    match text.split_once(':') {
        Some((path, "")) => (path, None),
        Some((path, image)) => (path, Some(image)),
        None => (text, None),
    }
}

fn parse_archive_image(text: &str) -> std::result::Result<ArchiveImage, String> {
    if let Some(index) = text.strip_prefix('@') {
        return index.parse().map(ArchiveImage::Index).map_err(|_| {
            format!("`@{index}` is not an image index: write `@0` for the archive's first image")
        });
    }
    let reference: Reference = text
        .parse()
        .map_err(|e| format!("`{text}` is not an image reference ({e})"))?;
    if reference.digest().is_some() {
        return Err(format!(
            "`{text}` has a digest; a docker-archive names images by `NAME:TAG` only"
        ));
    }
    match reference.tag() {
        Some(_) => Ok(ArchiveImage::Tagged(reference)),
        // As docker and skopeo do, a name alone means its `latest` tag.
        None => reference
            .with_tag("latest")
            .map(ArchiveImage::Tagged)
            .map_err(|e| e.to_string()),
    }
}

/// The OCI annotation grammar for `org.opencontainers.image.ref.name`: slash-separated
/// components of letters and digits joined by `-`, `.`, `_`, `:`, `@`, `+` or `--`.
fn validate_layout_name(name: &str) -> std::result::Result<(), &'static str> {
    for component in name.split('/') {
        if component.is_empty() {
            return Err("it has an empty path component");
        }
        let mut previous_separator = true;
        let mut dashes = 0;
        for c in component.chars() {
            if c.is_ascii_alphanumeric() {
                previous_separator = false;
                dashes = 0;
            } else if matches!(c, '-' | '.' | '_' | ':' | '@' | '+') {
                // `--` is the one doubled separator the grammar allows.
                let doubled_dash = c == '-' && dashes == 1;
                if previous_separator && !doubled_dash {
                    return Err("separators must stand between letters or digits");
                }
                dashes = if c == '-' { dashes + 1 } else { 0 };
                previous_separator = true;
            } else {
                return Err("only letters, digits and `-._:@+/` are allowed");
            }
        }
        if previous_separator {
            return Err("it ends with a separator");
        }
    }
    Ok(())
}

impl fmt::Display for ImageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Registry(reference) => write!(f, "docker://{reference}"),
            Self::OciLayout { dir, name: None } => write!(f, "oci:{}", dir.display()),
            Self::OciLayout {
                dir,
                name: Some(name),
            } => write!(f, "oci:{}:{name}", dir.display()),
            Self::DockerArchive { file, image } => {
                write!(f, "docker-archive:{}", file.display())?;
                match image {
                    ArchiveImage::Only => Ok(()),
                    ArchiveImage::Tagged(reference) => write!(f, ":{reference}"),
                    ArchiveImage::Index(index) => write!(f, ":@{index}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageLocation {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn error(s: &str) -> String {
        s.parse::<ImageLocation>().expect_err(s).to_string()
    }

    #[test]
    fn registry_references_with_or_without_the_transport() {
        let bare = parse("127.0.0.1:5000/a/b:1");
        assert_eq!(bare, parse("docker://127.0.0.1:5000/a/b:1"));
        assert_eq!(bare.reference().unwrap().repository(), "a/b");
        assert_eq!(
            parse("busybox").to_string(),
            "docker://docker.io/library/busybox"
        );
    }

    #[test]
    fn oci_layouts_split_at_the_first_colon() {
        assert_eq!(
            parse("oci:/tmp/layout:1.0"),
            ImageLocation::OciLayout {
                dir: "/tmp/layout".into(),
                name: Some("1.0".into())
            }
        );
        // The name may hold colons: skopeo writes `oci:DIR:docker.io/library/busybox:latest`.
        assert_eq!(
            parse("oci:out:docker.io/library/busybox:latest"),
            ImageLocation::OciLayout {
                dir: "out".into(),
                name: Some("docker.io/library/busybox:latest".into())
            }
        );
        // An empty name is no name, as in containers/image.
        assert_eq!(parse("oci:out:"), parse("oci:out"));
        assert_eq!(parse("oci:out:v1").to_string(), "oci:out:v1");
        assert!(error("oci:").contains("directory is missing"));
        assert!(error("oci::v1").contains("directory is missing"));
        assert!(error("oci:out:v1/").contains("empty path component"));
        assert!(error("oci:out:-v1").contains("separators"));
        assert!(error("oci:out:a b").contains("only letters"));
        assert_eq!(
            parse("oci:out:a--b"),
            ImageLocation::OciLayout {
                dir: "out".into(),
                name: Some("a--b".into())
            }
        );
    }

    #[test]
    fn docker_archives_name_a_tagged_image_or_an_index() {
        let tagged = parse("docker-archive:x.tar:busybox");
        let ImageLocation::DockerArchive { file, image } = &tagged else {
            panic!("{tagged:?}")
        };
        assert_eq!(file, Path::new("x.tar"));
        assert_eq!(
            image,
            &ArchiveImage::Tagged("docker.io/library/busybox:latest".parse().unwrap())
        );
        assert_eq!(
            parse("docker-archive:x.tar:127.0.0.1:5000/team/base:1.0"),
            ImageLocation::DockerArchive {
                file: "x.tar".into(),
                image: ArchiveImage::Tagged("127.0.0.1:5000/team/base:1.0".parse().unwrap())
            }
        );
        assert_eq!(
            parse("docker-archive:x.tar:@1"),
            ImageLocation::DockerArchive {
                file: "x.tar".into(),
                image: ArchiveImage::Index(1)
            }
        );
        assert_eq!(
            parse("docker-archive:x.tar:"),
            parse("docker-archive:x.tar")
        );
        assert_eq!(
            parse("docker-archive:x.tar:@1").to_string(),
            "docker-archive:x.tar:@1"
        );
        assert!(error("docker-archive:").contains("archive file is missing"));
        assert!(error("docker-archive:x.tar:@one").contains("not an image index"));
        assert!(
            error(&format!(
                "docker-archive:x.tar:busybox@sha256:{}",
                "a".repeat(64)
            ))
            .contains("has a digest")
        );
        assert!(error("docker-archive:x.tar:Busy Box").contains("not an image reference"));
    }

    #[test]
    fn other_transports_are_refused_by_name() {
        for transport in ["dir", "oci-archive", "containers-storage", "docker-daemon"] {
            let message = error(&format!("{transport}:/tmp/x"));
            assert!(
                message.contains(&format!("the `{transport}:` transport is not supported")),
                "{message}"
            );
        }
    }

    #[test]
    fn display_parses_back_to_the_same_location() {
        for text in [
            "docker://127.0.0.1:5000/a/b:1",
            "oci:out",
            "oci:out:docker.io/library/busybox:latest",
            "docker-archive:x.tar",
            "docker-archive:x.tar:127.0.0.1:5000/team/base:1.0",
            "docker-archive:x.tar:@3",
        ] {
            let location = parse(text);
            assert_eq!(parse(&location.to_string()), location, "{text}");
        }
    }
}
