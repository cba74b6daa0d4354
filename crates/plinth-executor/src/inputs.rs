//! [`BuildInput`]: what a build read from outside the recipe, each with its digest, for the
//! provenance of the image.

use serde::{Deserialize, Serialize};

use plinth_oci::Digest;

/// What kind of thing an input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A root image (`FROM`): named by its address, the digest of its platform manifest (and
    /// of the index it was chosen from, in [`BuildInput::index_digest`]).
    RootImage,
    /// A file downloaded from a URL: the digest of its content.
    Url,
    /// A host file (`COPY` from the context): the digest of its content.
    HostFile,
    /// A host directory: the [`TreeDigest`](crate::TreeDigest) of its entries (the same for
    /// both executors).
    HostDirectory,
}

impl InputKind {
    /// The name provenance documents use for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::RootImage => "root-image",
            InputKind::Url => "url",
            InputKind::HostFile => "host-file",
            InputKind::HostDirectory => "host-directory",
        }
    }
}

/// One input of a build.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BuildInput {
    /// The kind.
    pub kind: InputKind,
    /// Its name: the address as the recipe writes it, the URL, the host path.
    pub name: String,
    /// The digest of what was read. `None` when the executor could not learn it (a root that
    /// BuildKit resolved by tag without saying which digest it took).
    pub digest: Option<Digest>,
    /// For a root image chosen from an index: the index's digest (`digest` is the platform
    /// manifest's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<Digest>,
}

impl BuildInput {
    /// An input with a known digest.
    pub fn new(kind: InputKind, name: impl Into<String>, digest: Digest) -> Self {
        Self {
            kind,
            name: name.into(),
            digest: Some(digest),
            index_digest: None,
        }
    }

    /// The same input, recorded as chosen from the index `index` (a root image).
    pub fn with_index_digest(mut self, index: Option<Digest>) -> Self {
        self.index_digest = index;
        self
    }
}

/// Finds the platform manifest behind a root's digest, for an executor that learns only the
/// digest its builder resolved a root to (BuildKit prints an index's), so both executors
/// record the platform manifest digest.
pub trait RootManifests: Send + Sync + std::fmt::Debug {
    /// The digest of `platform`'s manifest in the image `reference` pins by digest: the digest
    /// itself for a manifest, the index's entry for `platform` for an index; `None` when it
    /// cannot be read.
    fn platform_manifest(
        &self,
        reference: &plinth_oci::Reference,
        platform: &plinth_oci::Platform,
    ) -> Option<Digest>;
}

/// Sorts `inputs` and drops repeats (a helper container and the image reading the same file).
pub fn normalize_inputs(inputs: &mut Vec<BuildInput>) {
    inputs.sort();
    inputs.dedup();
}
