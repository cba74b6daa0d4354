//! Image locations as skopeo writes them: `docker://REF`, `oci:DIR[:TAG]`, `docker-archive:FILE`.
//! A bare reference (`python:3.10`) means a registry.

use std::path::PathBuf;
use std::str::FromStr;

use plinth_oci::Reference;
use plinth_oci::layout::split_location;

/// Where an image is read from or written to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A registry repository (`docker://` or a bare reference).
    Registry(Reference),
    /// An OCI image layout directory, with an optional tag (`org.opencontainers.image.ref.name`).
    OciLayout {
        /// The layout directory.
        dir: PathBuf,
        /// The tag inside the layout.
        tag: Option<String>,
    },
    /// A `docker save`-style tar file.
    DockerArchive(PathBuf),
}

impl FromStr for Location {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        if let Some(rest) = s.strip_prefix("docker://") {
            return Ok(Self::Registry(rest.parse()?));
        }
        if let Some(rest) = s.strip_prefix("oci:") {
            if rest.is_empty() {
                return Err(crate::exit_status::usage_error(format!(
                    "invalid location `{s}`: `oci:` needs a directory, as in `oci:./out:1.0.0`"
                )));
            }
            let (dir, tag) = split_location(rest);
            return Ok(Self::OciLayout { dir, tag });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            if rest.is_empty() {
                return Err(crate::exit_status::usage_error(format!(
                    "invalid location `{s}`: `docker-archive:` needs a file, as in `docker-archive:image.tar`"
                )));
            }
            // skopeo allows `docker-archive:FILE:REF`; plinth takes the path whole.
            return Ok(Self::DockerArchive(PathBuf::from(rest)));
        }
        if let Some((transport, _)) = s.split_once(':')
            && matches!(
                transport,
                "oci-archive" | "dir" | "containers-storage" | "docker-daemon"
            )
        {
            return Err(crate::exit_status::usage_error(format!(
                "the `{transport}:` transport is not supported: use `docker://`, `oci:` or `docker-archive:`"
            )));
        }
        Ok(Self::Registry(s.parse()?))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Registry(r) => write!(f, "docker://{r}"),
            Self::OciLayout {
                dir,
                tag: Some(tag),
            } => write!(f, "oci:{}:{tag}", dir.display()),
            Self::OciLayout { dir, tag: None } => write!(f, "oci:{}", dir.display()),
            Self::DockerArchive(path) => write!(f, "docker-archive:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_skopeo_transports() {
        assert_eq!(
            "docker://127.0.0.1:5000/a/b:1".parse::<Location>().unwrap(),
            Location::Registry("127.0.0.1:5000/a/b:1".parse().unwrap())
        );
        assert_eq!(
            "busybox".parse::<Location>().unwrap(),
            Location::Registry("busybox".parse().unwrap())
        );
        assert_eq!(
            "oci:out:1.0".parse::<Location>().unwrap(),
            Location::OciLayout {
                dir: "out".into(),
                tag: Some("1.0".into())
            }
        );
        assert_eq!(
            "docker-archive:x.tar".parse::<Location>().unwrap(),
            Location::DockerArchive("x.tar".into())
        );
        assert!("oci:".parse::<Location>().is_err());
        assert!(
            "dir:/tmp"
                .parse::<Location>()
                .unwrap_err()
                .to_string()
                .contains("not supported")
        );
    }
}
