//! Where a catalog's images are published: a registry and, optionally, another namespace.
//!
//! A family's repository (`airbyte/python-connector-base`) is published at
//! `docker.io/airbyte/python-connector-base` by default. `--registry 127.0.0.1:5000` moves every
//! family to that registry under the same path; `--namespace team` also replaces the part before
//! the last `/` (`127.0.0.1:5000/team/python-connector-base`), so a whole release flow can run
//! against a local registry without touching the published images.

use plinth_oci::Reference;
use plinth_oci::reference::DOCKER_HUB;

use crate::error::Result;

/// The registry (and namespace) a catalog publishes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    registry: String,
    namespace: Option<String>,
}

impl Default for Target {
    fn default() -> Self {
        Self::docker_hub()
    }
}

impl Target {
    /// `docker.io`, repositories unchanged.
    pub fn docker_hub() -> Self {
        Self {
            registry: DOCKER_HUB.to_owned(),
            namespace: None,
        }
    }

    /// `registry` (`host[:port]`), with `namespace` replacing each repository's namespace.
    pub fn new(registry: impl Into<String>, namespace: Option<String>) -> Self {
        let registry = registry.into();
        let registry = match registry.trim_end_matches('/') {
            "index.docker.io" | "registry-1.docker.io" | "" => DOCKER_HUB.to_owned(),
            other => other.to_owned(),
        };
        Self {
            registry,
            namespace: namespace
                .filter(|n| !n.is_empty())
                .map(|n| n.trim_matches('/').to_owned()),
        }
    }

    /// The registry host.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The namespace override.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The repository path a family is published under (`team/python-connector-base`).
    pub fn repository_path(&self, repository: &str) -> String {
        let name = repository.rsplit('/').next().unwrap_or(repository);
        match &self.namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => repository.to_owned(),
        }
    }

    /// The published repository of a family, without tag.
    pub fn reference(&self, repository: &str) -> Result<Reference> {
        let text = format!("{}/{}", self.registry, self.repository_path(repository));
        text.parse::<Reference>().map_err(|e| {
            plinth_catalog::Error::InvalidAddress {
                input: text.clone(),
                reason: e.to_string(),
            }
            .into()
        })
    }

    /// Any repository of the target registry: a full address (`host[:port]/path`, its first
    /// component naming a registry as docker reads it: with a `.` or `:`, or `localhost`) is
    /// taken as written; a path is placed like a family's ([`reference`](Self::reference)).
    pub fn repository_address(&self, repository: &str) -> Result<Reference> {
        let names_registry = repository.split_once('/').is_some_and(|(first, _)| {
            first.contains('.') || first.contains(':') || first == "localhost"
        });
        if !names_registry {
            return self.reference(repository);
        }
        repository.parse::<Reference>().map_err(|e| {
            plinth_catalog::Error::InvalidAddress {
                input: repository.to_owned(),
                reason: e.to_string(),
            }
            .into()
        })
    }

    /// The family whose published repository is `reference`'s, if any (the reverse of
    /// [`reference`](Self::reference)).
    pub fn matches(&self, repository: &str, reference: &Reference) -> bool {
        self.reference(repository)
            .is_ok_and(|r| r.name() == reference.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_docker_hub_with_the_repository_unchanged() {
        let r = Target::default()
            .reference("airbyte/python-connector-base")
            .unwrap();
        assert_eq!(r.name(), "docker.io/airbyte/python-connector-base");
    }

    #[test]
    fn a_full_address_is_taken_as_written() {
        let t = Target::new("127.0.0.1:5000", None);
        assert_eq!(
            t.repository_address("127.0.0.1:5000/team/demo")
                .unwrap()
                .name(),
            "127.0.0.1:5000/team/demo"
        );
        assert_eq!(
            t.repository_address("team/demo").unwrap().name(),
            "127.0.0.1:5000/team/demo"
        );
        assert_eq!(
            t.repository_address("localhost/demo").unwrap().name(),
            "localhost/demo"
        );
        assert!(t.repository_address("127.0.0.1:5000/Bad Name").is_err());
    }

    #[test]
    fn registry_and_namespace_rewrite_the_repository() {
        let t = Target::new("127.0.0.1:5000", Some("team".into()));
        assert_eq!(
            t.reference("airbyte/python-connector-base").unwrap().name(),
            "127.0.0.1:5000/team/python-connector-base"
        );
        let t = Target::new("127.0.0.1:5000", None);
        assert_eq!(
            t.reference("airbyte/python-connector-base").unwrap().name(),
            "127.0.0.1:5000/airbyte/python-connector-base"
        );
        let t = Target::new("index.docker.io", Some("me/sub".into()));
        assert_eq!(
            t.reference("airbyte/java-connector-base").unwrap().name(),
            "docker.io/me/sub/java-connector-base"
        );
        assert!(t.matches(
            "airbyte/java-connector-base",
            &"me/sub/java-connector-base:1.0.0".parse().unwrap()
        ));
    }
}
