//! The image configuration (`application/vnd.oci.image.config.v1+json`).
//!
//! Fields plinth does not model are kept in `extra` maps, so a config pulled from a registry and
//! edited by a build step loses nothing it did not mean to change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::canonical::to_canonical_with_digest;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::platform::Platform;

/// Largest config plinth will parse.
pub const MAX_CONFIG_BYTES: usize = 8 * 1024 * 1024;

/// An image configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// OPTIONAL: creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// OPTIONAL: the author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// REQUIRED: the CPU architecture.
    pub architecture: String,
    /// REQUIRED: the operating system.
    pub os: String,
    /// OPTIONAL: the CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OPTIONAL: the execution parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RuntimeConfig>,
    /// REQUIRED: the layer diff ids.
    pub rootfs: RootFs,
    /// OPTIONAL: the history of each layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Fields plinth does not model, kept as they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Execution parameters (`config` in the image config).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    /// The user (`name`, `uid`, `uid:gid`, `name:group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Environment, `NAME=value`, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// The entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Exposed ports (`80/tcp` → `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Volumes (`/data` → `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// The stop signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Fields plinth does not model (Docker's `Healthcheck`, `Shell`, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The root filesystem: the ordered diff ids of the uncompressed layers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The sha256 of each uncompressed layer tar, base first.
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        Self {
            kind: "layers".to_owned(),
            diff_ids: Vec::new(),
        }
    }
}

/// One history entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the layer was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the entry made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// An empty config for a platform.
    pub fn for_platform(platform: &Platform) -> Self {
        Self {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            ..Self::default()
        }
    }

    /// Parses a config blob.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(Error::InvalidConfig(format!(
                "config is {} bytes, over the {MAX_CONFIG_BYTES}-byte limit",
                bytes.len()
            )));
        }
        serde_json::from_slice(bytes).map_err(|e| Error::InvalidConfig(e.to_string()))
    }

    /// Canonical bytes and digest.
    pub fn to_canonical(&self) -> Result<(Vec<u8>, Digest)> {
        to_canonical_with_digest(self)
    }

    /// The platform the config declares.
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
    }

    /// The runtime config, created empty when missing.
    pub fn runtime_mut(&mut self) -> &mut RuntimeConfig {
        self.config.get_or_insert_with(RuntimeConfig::default)
    }

    /// The environment as `(name, value)` pairs, in order.
    pub fn env(&self) -> Vec<(String, String)> {
        self.config
            .as_ref()
            .and_then(|c| c.env.as_ref())
            .map(|env| env.iter().map(|kv| split_env(kv)).collect())
            .unwrap_or_default()
    }

    /// Sets (or replaces) one environment variable, keeping the order of the others.
    pub fn set_env(&mut self, name: &str, value: &str) {
        let env = self.runtime_mut().env.get_or_insert_with(Vec::new);
        let entry = format!("{name}={value}");
        match env.iter_mut().find(|kv| split_env(kv).0 == name) {
            Some(slot) => *slot = entry,
            None => env.push(entry),
        }
    }
}

/// Splits `NAME=value` at the first `=`; a bare `NAME` has an empty value.
pub fn split_env(kv: &str) -> (String, String) {
    match kv.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => (kv.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_round_trip_and_env_is_ordered() {
        let raw = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","A=b=c"],"Healthcheck":{"Test":["NONE"]}},"rootfs":{"type":"layers","diff_ids":[]},"container_config":{"Hostname":"x"}}"#;
        let mut cfg = ImageConfig::parse(raw.as_bytes()).unwrap();
        assert_eq!(cfg.env()[1], ("A".to_owned(), "b=c".to_owned()));
        cfg.set_env("PATH", "/usr/bin");
        cfg.set_env("Z", "1");
        let out = String::from_utf8(cfg.to_canonical().unwrap().0).unwrap();
        assert!(
            out.contains(r#""Env":["PATH=/usr/bin","A=b=c","Z=1"]"#),
            "{out}"
        );
        assert!(out.contains(r#""Healthcheck":{"Test":["NONE"]}"#), "{out}");
        assert!(
            out.contains(r#""container_config":{"Hostname":"x"}"#),
            "{out}"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = ImageConfig::parse(&bytes);
        }
    }
}
