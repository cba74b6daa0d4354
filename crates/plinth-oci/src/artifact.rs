//! OCI 1.1 artifact manifests: an image manifest with an `artifactType`, the empty config
//! (`application/vnd.oci.empty.v1+json`, the two bytes `{}`), one layer holding the payload
//! (an attestation, an SBOM) and a `subject`, the manifest it is about. Registries and
//! clients find it from the subject's digest (the referrers API or its tag fallback).

use std::collections::BTreeMap;

use crate::descriptor::Descriptor;
use crate::error::Result;
use crate::manifest::ImageManifest;
use crate::media_type::MediaType;
use crate::store::Store;

/// The media type of the empty config.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// The empty config's bytes.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// One payload to attach to an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// The artifact type (`application/vnd.in-toto+json`, `application/spdx+json`, …).
    pub artifact_type: String,
    /// The payload's media type, as its layer descriptor says.
    pub payload_media_type: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Annotations of the artifact manifest (shown in referrers listings), for example the
    /// predicate type of an attestation.
    pub annotations: BTreeMap<String, String>,
}

impl Artifact {
    /// Writes the payload, the empty config and the artifact manifest about `subject` into
    /// `store`, with an attachment ref tying it to its subject (so gc keeps it exactly as long
    /// as the subject); returns the manifest's descriptor (with its `artifactType`).
    /// Deterministic: the same payload about the same subject is the same manifest.
    pub fn write(&self, store: &Store, subject: &Descriptor) -> Result<Descriptor> {
        let config_digest = store.write_blob(EMPTY_CONFIG)?;
        let mut config = Descriptor::new(
            MediaType::parse(EMPTY_MEDIA_TYPE),
            config_digest,
            EMPTY_CONFIG.len() as u64,
        );
        config.annotations = BTreeMap::new();
        let payload_digest = store.write_blob(&self.payload)?;
        let layer = Descriptor::new(
            MediaType::parse(&self.payload_media_type),
            payload_digest,
            self.payload.len() as u64,
        );
        // The subject as a plain pointer: an index entry's platform is not part of it.
        let subject = Descriptor::new(
            subject.media_type.clone(),
            subject.digest.clone(),
            subject.size,
        );
        let mut manifest = ImageManifest::new(MediaType::OciManifest, config, vec![layer]);
        manifest.artifact_type = Some(self.artifact_type.clone());
        manifest.subject = Some(subject.clone());
        manifest.annotations = self.annotations.clone();
        let mut descriptor = store.write_manifest(&manifest)?;
        descriptor.artifact_type = Some(self.artifact_type.clone());
        store.set_attachment_ref(&subject.digest, &descriptor)?;
        Ok(descriptor)
    }

    /// The payload of the artifact manifest `manifest`: its only layer's bytes, read from
    /// `store`.
    pub fn read_payload(store: &Store, manifest: &ImageManifest) -> Result<Vec<u8>> {
        match manifest.layers.as_slice() {
            [layer] => store.read_blob(&layer.digest),
            layers => Err(crate::Error::InvalidManifest(format!(
                "an attestation artifact has one layer; this one has {}",
                layers.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Digest;

    #[test]
    fn an_artifact_is_an_image_manifest_with_the_empty_config_and_a_subject() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let subject = Descriptor::new(MediaType::OciManifest, Digest::of(b"image"), 123)
            .with_platform(crate::Platform::linux_amd64());
        let artifact = Artifact {
            artifact_type: "application/vnd.in-toto+json".into(),
            payload_media_type: "application/vnd.in-toto+json".into(),
            payload: br#"{"_type":"x"}"#.to_vec(),
            annotations: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        };
        let descriptor = artifact.write(&store, &subject).unwrap();
        assert_eq!(artifact.write(&store, &subject).unwrap(), descriptor);
        let bytes = store.read_blob(&descriptor.digest).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["artifactType"], "application/vnd.in-toto+json");
        assert_eq!(json["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        assert_eq!(json["config"]["size"], 2);
        assert_eq!(
            json["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(json["subject"]["digest"], subject.digest.to_string());
        assert!(json["subject"].get("platform").is_none(), "{json}");
        assert_eq!(json["annotations"]["k"], "v");
        let manifest: ImageManifest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            Artifact::read_payload(&store, &manifest).unwrap(),
            artifact.payload
        );
    }
}
