//! Image references (`registry/repository[:tag][@digest]`) with Docker Hub normalisation.
//!
//! `python:3.10` becomes `docker.io/library/python:3.10`; `index.docker.io` and
//! `registry-1.docker.io` are spellings of `docker.io`. A tag and a digest may appear together, as
//! in `docker.io/airbyte/python-connector-base:3.0.0@sha256:…`; the digest then wins for pulls and
//! the tag is kept for display.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The canonical name of Docker Hub.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's distribution API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// A parsed, normalised image reference.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// A reference from already-validated parts (validated again here).
    pub fn new(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<Digest>,
    ) -> Result<Self> {
        let mut s = format!("{registry}/{repository}");
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
        }
        let mut r: Reference = s.parse()?;
        r.digest = digest;
        Ok(r)
    }

    /// The registry host (and port), normalised (`docker.io` for Docker Hub).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path (`library/python`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry for: the digest when present, else the tag, else `latest`.
    pub fn object(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Self> {
        Self::new(&self.registry, &self.repository, Some(tag), None)
    }

    /// The same reference pinned to a digest (the tag is kept for display).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository, with neither tag nor digest.
    pub fn repository_only(&self) -> Self {
        Self {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The host to connect to (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on the loopback interface, where docker speaks plain HTTP by default.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }

    /// The short form Docker prints (`python:3.10` for `docker.io/library/python:3.10`).
    pub fn familiar(&self) -> String {
        let name = if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_owned()
        } else {
            self.name()
        };
        let mut s = name;
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

/// Whether a `host[:port]` is loopback (`localhost`, `127.0.0.0/8`, `[::1]`).
pub fn is_loopback_host(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                registry
            }
        })
    };
    if host == "localhost" {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let bad = |part: &str, reason: &str| Error::InvalidReference {
            input: input.chars().take(200).collect(),
            part: part.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(bad("", "the reference is empty"));
        }
        if input.len() > 4096 {
            return Err(bad("", "the reference is longer than 4096 bytes"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => {
                let digest = d.parse::<Digest>().map_err(|e| bad(d, &e.to_string()))?;
                (rest, Some(digest))
            }
            None => (input, None),
        };
        // A tag is after the last `:` that follows the last `/` (a `:` before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            validate_tag(t).map_err(|reason| bad(t, reason))?;
        }
        let (registry, repository) = split_registry(name);
        let registry = match registry {
            Some(r) => {
                validate_registry(r).map_err(|reason| bad(r, reason))?;
                normalize_registry(r)
            }
            None => DOCKER_HUB.to_owned(),
        };
        if repository.is_empty() {
            return Err(bad(name, "the repository name is missing"));
        }
        for component in repository.split('/') {
            validate_component(component).map_err(|reason| bad(component, reason))?;
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        if repository.len() > 255 {
            return Err(bad(
                &repository,
                "the repository name is longer than 255 characters",
            ));
        }
        Ok(Self {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }
}

/// Splits `host/path` into registry and path the way docker does: the first component is a
/// registry only if it contains `.` or `:` or is `localhost`.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.starts_with('[') =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn normalize_registry(r: &str) -> String {
    match r {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_owned()
        }
        other => other.to_ascii_lowercase(),
    }
}

fn validate_registry(r: &str) -> std::result::Result<(), &'static str> {
    let ok = r
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    if !ok || r.starts_with('-') || r.starts_with('.') || r.ends_with('.') || r.ends_with(':') {
        return Err("a registry is a host name or address with an optional `:port`");
    }
    Ok(())
}

fn validate_tag(t: &str) -> std::result::Result<(), &'static str> {
    let bytes = t.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if bytes.is_empty() {
        return Err("the tag after `:` is empty");
    }
    if bytes.len() > 128 {
        return Err("a tag is at most 128 characters");
    }
    if !word(bytes[0]) || !bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-') {
        return Err(
            "a tag starts with a letter, digit or `_` and holds only letters, digits, `_`, `.` and `-`",
        );
    }
    Ok(())
}

fn validate_component(c: &str) -> std::result::Result<(), &'static str> {
    const MSG: &str = "repository path components are lowercase letters and digits, separated by `.`, `_`, `__` or dashes";
    let b = c.as_bytes();
    if b.is_empty() {
        return Err("the repository has an empty path component");
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(MSG);
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let valid = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !valid {
            return Err(MSG);
        }
    }
    Ok(())
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_normalisation() {
        assert_eq!(
            r("python:3.10").to_string(),
            "docker.io/library/python:3.10"
        );
        assert_eq!(r("python").object(), "latest");
        assert_eq!(
            r("index.docker.io/airbyte/x:1").to_string(),
            "docker.io/airbyte/x:1"
        );
        assert_eq!(r("docker.io/python").repository(), "library/python");
        assert_eq!(
            r("airbyte/python-connector-base:1.0.0").registry(),
            "docker.io"
        );
        assert_eq!(r("docker.io/python").api_host(), "registry-1.docker.io");
        assert_eq!(r("docker.io/library/python:3.10").familiar(), "python:3.10");
    }

    #[test]
    fn tag_and_digest_together() {
        let d = "sha256:1a0845ff2b30eafa793c6eee4e8f4283c2e52e1bbd44eed6cb9e9abd5d34d844";
        let x = r(&format!(
            "docker.io/airbyte/python-connector-base:3.0.0@{d}"
        ));
        assert_eq!(x.tag(), Some("3.0.0"));
        assert_eq!(x.digest().unwrap().to_string(), d);
        assert_eq!(x.object(), d);
        assert_eq!(
            x.to_string(),
            format!("docker.io/airbyte/python-connector-base:3.0.0@{d}")
        );
    }

    #[test]
    fn ports_and_loopback() {
        let x = r("127.0.0.1:5000/team/base:1.2.3");
        assert_eq!(
            (x.registry(), x.repository(), x.tag()),
            ("127.0.0.1:5000", "team/base", Some("1.2.3"))
        );
        assert!(x.is_loopback());
        assert!(r("localhost/foo").is_loopback());
        assert!(r("localhost:5000/foo").is_loopback());
        assert!(r("[::1]:5000/foo").is_loopback());
        assert!(!r("ghcr.io/foo").is_loopback());
        assert_eq!(r("localhost:5000/foo").object(), "latest");
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("Python:3", "Python"),
            ("python:", ""),
            ("python:-x", "-x"),
            ("python@sha256:123", "sha256:123"),
            ("host:5000/a//b", ""),
            ("a/B", "B"),
            ("a__-b", "a__-b"),
        ];
        for (input, part) in cases {
            let err = input.parse::<Reference>().unwrap_err();
            match &err {
                Error::InvalidReference { part: p, .. } => assert_eq!(p, part, "{input}: {err}"),
                other => panic!("{input}: unexpected {other}"),
            }
        }
    }

    #[test]
    fn valid_component_separators() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a0"] {
            assert!(validate_component(ok).is_ok(), "{ok}");
        }
        for bad in ["a..b", "a___b", "-a", "a-", "a._b", "A"] {
            assert!(validate_component(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in "[a-zA-Z0-9:/@._\\-\\[\\]]{0,80}") {
            if let Ok(parsed) = s.parse::<Reference>() {
                let again: Reference = parsed.to_string().parse().unwrap();
                proptest::prop_assert_eq!(again, parsed);
            }
        }
    }
}
