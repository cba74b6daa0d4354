//! Platforms (`linux/amd64`, `linux/arm64/v8`) as the image spec describes them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The platform a manifest runs on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// REQUIRED: the CPU architecture, in Go's `GOARCH` values (`amd64`, `arm64`).
    pub architecture: String,
    /// REQUIRED: the operating system, in Go's `GOOS` values (`linux`).
    pub os: String,
    /// OPTIONAL: the OS version (Windows only).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OPTIONAL: required OS features (Windows only).
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// OPTIONAL: the CPU variant (`v8` for arm64, `v7` for arm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/amd64`.
    pub fn linux_amd64() -> Self {
        Self::new("linux", "amd64", None)
    }

    /// `linux/arm64`.
    pub fn linux_arm64() -> Self {
        Self::new("linux", "arm64", None)
    }

    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Self {
            architecture: architecture.to_owned(),
            os: os.to_owned(),
            os_version: None,
            os_features: Vec::new(),
            variant: variant.map(str::to_owned),
        }
    }

    /// The platform of the running host.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Self::new("linux", arch, None)
    }

    /// Whether `self` (wanted) is satisfied by `candidate` (offered by an index).
    ///
    /// arm64 without a variant matches `v8`, the only arm64 variant in use.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        let norm = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_owned()),
            (_, v) => v.map(str::to_owned),
        };
        match (norm(self), norm(candidate)) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        }
    }

    /// The `uname -m` machine name that binaries of this platform report.
    pub fn uname_machine(&self) -> &str {
        match self.architecture.as_str() {
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            "386" => "i686",
            "arm" => "armv7l",
            other => other,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidPlatform {
            input: s.chars().take(100).collect(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad("expected `os/arch[/variant]`, e.g. `linux/amd64`"));
        }
        let valid = |p: &str| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        };
        if !parts.iter().all(|p| valid(p)) {
            return Err(bad(
                "os, arch and variant may only hold letters, digits, `_`, `.` and `-`",
            ));
        }
        match parts.as_slice() {
            [os, arch] => Ok(Self::new(os, &normalize_arch(arch), None)),
            [os, arch, variant] => Ok(Self::new(os, &normalize_arch(arch), Some(variant))),
            _ => Err(bad("expected `os/arch[/variant]`, e.g. `linux/amd64`")),
        }
    }
}

fn normalize_arch(arch: &str) -> String {
    match arch {
        "x86_64" | "x86-64" => "amd64".to_owned(),
        "aarch64" => "arm64".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(Platform::linux_arm64().matches(&p));
        assert!("linux/x86_64".parse::<Platform>().unwrap() == Platform::linux_amd64());
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//v8".parse::<Platform>().is_err());
        assert!(!Platform::linux_amd64().matches(&Platform::linux_arm64()));
    }
}
