//! Image manifests and indexes (OCI and Docker schema 2 share one shape).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::canonical::to_canonical_with_digest;
use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::media_type::MediaType;
use crate::platform::Platform;

/// Largest manifest or index plinth will parse. Registries cap manifests at 4 MiB.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// A single-platform image manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// REQUIRED: always 2.
    pub schema_version: u32,
    /// The manifest media type (OPTIONAL in OCI, REQUIRED in Docker schema 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// OPTIONAL: the artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// REQUIRED: the image config.
    pub config: Descriptor,
    /// REQUIRED: the layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// OPTIONAL: a manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// OPTIONAL: arbitrary metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A multi-platform index (OCI) or manifest list (Docker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// REQUIRED: always 2.
    pub schema_version: u32,
    /// The index media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// OPTIONAL: the artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// REQUIRED: the manifests, each with its platform.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// OPTIONAL: a manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// OPTIONAL: arbitrary metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Either document a manifest endpoint may return.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a handful live at a time, one per fetched manifest; boxing would only cost matches"
)]
pub enum ManifestDocument {
    /// A single-platform manifest.
    Image(ImageManifest),
    /// A multi-platform index.
    Index(ImageIndex),
}

impl ImageManifest {
    /// A manifest of the given media type.
    pub fn new(media_type: MediaType, config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: Some(media_type),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// Canonical bytes and digest.
    pub fn to_canonical(&self) -> Result<(Vec<u8>, Digest)> {
        to_canonical_with_digest(self)
    }

    /// The media type, defaulting to OCI.
    pub fn media_type(&self) -> MediaType {
        self.media_type.clone().unwrap_or(MediaType::OciManifest)
    }
}

impl ImageIndex {
    /// An index of the given media type.
    pub fn new(media_type: MediaType, manifests: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: Some(media_type),
            artifact_type: None,
            manifests,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// Canonical bytes and digest.
    pub fn to_canonical(&self) -> Result<(Vec<u8>, Digest)> {
        to_canonical_with_digest(self)
    }

    /// The media type, defaulting to OCI.
    pub fn media_type(&self) -> MediaType {
        self.media_type.clone().unwrap_or(MediaType::OciIndex)
    }

    /// The manifest for `platform`, if the index has one.
    pub fn find_platform(&self, platform: &Platform) -> Option<&Descriptor> {
        self.manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
    }

    /// The platforms this index offers (attestation manifests, `unknown/unknown`, are left out).
    pub fn platforms(&self) -> Vec<Platform> {
        self.manifests
            .iter()
            .filter_map(|d| d.platform.clone())
            .filter(|p| p.os != "unknown")
            .collect()
    }
}

impl ManifestDocument {
    /// Parses raw bytes, using the `Content-Type` (if known) and the document's own `mediaType`.
    pub fn parse(bytes: &[u8], content_type: Option<&MediaType>) -> Result<Self> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(Error::InvalidManifest(format!(
                "manifest is {} bytes, over the {MAX_MANIFEST_BYTES}-byte limit",
                bytes.len()
            )));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            schema_version: Option<u32>,
            media_type: Option<MediaType>,
            manifests: Option<serde::de::IgnoredAny>,
            config: Option<serde::de::IgnoredAny>,
        }
        let probe: Probe = serde_json::from_slice(bytes)
            .map_err(|e| Error::InvalidManifest(format!("not a JSON manifest: {e}")))?;
        match probe.schema_version {
            Some(2) => {}
            Some(1) => return Err(Error::InvalidManifest("Docker schema 1 manifests are deprecated and not supported; re-push the image with a current client".into())),
            Some(v) => return Err(Error::InvalidManifest(format!("unsupported schemaVersion {v}"))),
            None => return Err(Error::InvalidManifest("the `schemaVersion` field is missing".into())),
        }
        let kind = probe.media_type.as_ref().or(content_type);
        let is_index = match kind {
            Some(m) if m.is_index() => true,
            Some(m) if m.is_manifest() => false,
            _ => probe.manifests.is_some() && probe.config.is_none(),
        };
        if is_index {
            let index: ImageIndex = serde_json::from_slice(bytes)
                .map_err(|e| Error::InvalidManifest(format!("invalid index: {e}")))?;
            Ok(Self::Index(index))
        } else {
            let manifest: ImageManifest = serde_json::from_slice(bytes)
                .map_err(|e| Error::InvalidManifest(format!("invalid image manifest: {e}")))?;
            Ok(Self::Image(manifest))
        }
    }

    /// The media type of the document.
    pub fn media_type(&self) -> MediaType {
        match self {
            Self::Image(m) => m.media_type(),
            Self::Index(i) => i.media_type(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER_LIST: &str = r#"{
      "schemaVersion": 2,
      "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
      "manifests": [
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "platform": {"architecture": "amd64", "os": "linux"}}
      ]
    }"#;

    #[test]
    fn reads_docker_manifest_list() {
        let ManifestDocument::Index(index) =
            ManifestDocument::parse(DOCKER_LIST.as_bytes(), None).unwrap()
        else {
            panic!("not an index")
        };
        assert_eq!(index.media_type(), MediaType::DockerManifestList);
        assert!(index.find_platform(&Platform::linux_arm64()).is_some());
        assert_eq!(index.platforms().len(), 2);
    }

    #[test]
    fn rejects_schema1_and_garbage_clearly() {
        let e = ManifestDocument::parse(br#"{"schemaVersion":1}"#, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema 1"), "{e}");
        assert!(ManifestDocument::parse(b"[]", None).is_err());
        assert!(ManifestDocument::parse(b"", None).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = ManifestDocument::parse(&bytes, None);
        }
    }
}
