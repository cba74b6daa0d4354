//! [`DockerHost`]: where a platform builds (the `--builder` flag): the local daemon, a daemon
//! address, or a docker context.

use std::fmt;
use std::str::FromStr;

use plinth_oci::Platform;

use crate::error::{Error, Result};

/// A Docker Engine (with its built-in BuildKit) that builds one or more platforms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DockerHost {
    /// The daemon the docker client talks to by default (`DOCKER_HOST`, `DOCKER_CONTEXT` or the
    /// current context). Foreign platforms run there under binfmt/qemu.
    Local,
    /// A daemon address passed as `docker -H`: `ssh://user@host`, `tcp://host:2376`,
    /// `unix:///var/run/docker.sock`.
    Host(String),
    /// A docker context name (`docker context ls`), passed as `docker --context`.
    Context(String),
}

const SCHEMES: &[&str] = &["ssh", "tcp", "unix", "fd"];

impl DockerHost {
    /// The global docker client arguments selecting this builder.
    pub(crate) fn client_args(&self) -> Vec<String> {
        match self {
            Self::Local => Vec::new(),
            Self::Host(h) => vec!["-H".to_owned(), h.clone()],
            Self::Context(c) => vec!["--context".to_owned(), c.clone()],
        }
    }

    /// The command that shows whether the builder answers (for error hints).
    pub fn check_command(&self) -> String {
        let mut words = vec!["docker".to_owned()];
        words.extend(self.client_args());
        words.push("info".to_owned());
        words.join(" ")
    }
}

impl fmt::Display for DockerHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Host(h) => f.write_str(h),
            Self::Context(c) => f.write_str(c),
        }
    }
}

impl FromStr for DockerHost {
    type Err = Error;

    /// `local`, a daemon URL (`ssh://`, `tcp://`, `unix://`, `fd://`) or a context name.
    fn from_str(input: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidBuilder {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input == "local" {
            return Ok(Self::Local);
        }
        if let Some((scheme, rest)) = input.split_once("://") {
            if !SCHEMES.contains(&scheme) {
                return Err(invalid(
                    "a builder address starts with ssh://, tcp://, unix:// or fd://",
                ));
            }
            if rest.is_empty() && scheme != "fd" {
                return Err(invalid("the address has no host or path after the scheme"));
            }
            if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid("the address must not contain whitespace"));
            }
            return Ok(Self::Host(input.to_owned()));
        }
        let valid_context = input
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && input
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
        if valid_context {
            Ok(Self::Context(input.to_owned()))
        } else {
            Err(invalid(
                "expected `local`, a daemon address (ssh://host, tcp://host:port, unix:///path) \
                 or a docker context name (letters, digits and `_.+-`)",
            ))
        }
    }
}

/// `--builder PLATFORM=BUILDER`: the builder of one platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerHostAssignment {
    /// The platform (`linux/arm64`).
    pub platform: Platform,
    /// Its builder.
    pub builder: DockerHost,
}

impl FromStr for DockerHostAssignment {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let (platform, builder) = input.split_once('=').ok_or_else(|| Error::InvalidBuilder {
            input: input.to_owned(),
            reason: "expected PLATFORM=BUILDER, e.g. `linux/arm64=ssh://arm-host`".to_owned(),
        })?;
        let platform = platform
            .parse()
            .map_err(|e: plinth_oci::Error| Error::InvalidBuilder {
                input: input.to_owned(),
                reason: format!("the platform is not valid: {e}"),
            })?;
        Ok(Self {
            platform,
            builder: builder.parse()?,
        })
    }
}

/// What a builder said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerHostInfo {
    /// The builder.
    pub builder: DockerHost,
    /// The daemon version (`20.10.24`).
    pub server_version: String,
    /// The daemon's native platform; others run under emulation there.
    pub native_platform: String,
}

impl DockerHostInfo {
    /// Whether the daemon's built-in Dockerfile frontend knows `RUN --network` (Docker 23+).
    pub fn supports_network_flag(&self) -> bool {
        self.major_version().is_some_and(|m| m >= 23)
    }

    /// Whether the daemon's BuildKit removes the mount points it created for `RUN --mount`
    /// (Docker 23+). Older ones leave an empty root-owned directory at each cache mount path
    /// that was missing from the image; the embedded engine does not.
    pub fn removes_mount_stubs(&self) -> bool {
        self.major_version().is_some_and(|m| m >= 23)
    }

    fn major_version(&self) -> Option<u32> {
        self.server_version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_parse() {
        assert_eq!("local".parse::<DockerHost>().unwrap(), DockerHost::Local);
        assert_eq!(
            "ssh://me@arm-host".parse::<DockerHost>().unwrap(),
            DockerHost::Host("ssh://me@arm-host".into())
        );
        assert_eq!(
            "arm-box".parse::<DockerHost>().unwrap(),
            DockerHost::Context("arm-box".into())
        );
        for bad in ["http://x", "tcp://", "-H", "a b", ""] {
            assert!(bad.parse::<DockerHost>().is_err(), "{bad}");
        }
        let a: DockerHostAssignment = "linux/arm64=tcp://10.0.0.5:2375".parse().unwrap();
        assert_eq!(a.platform, Platform::linux_arm64());
        assert_eq!(
            a.builder.check_command(),
            "docker -H tcp://10.0.0.5:2375 info"
        );
        assert!("linux/arm64".parse::<DockerHostAssignment>().is_err());
        assert!("nope=local".parse::<DockerHostAssignment>().is_err());
    }
}
