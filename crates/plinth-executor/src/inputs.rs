//! [`BuildInput`]: what a build read from outside the recipe, each with its digest, for the
//! provenance of the image.

use serde::{Deserialize, Serialize};

use plinth_oci::Digest;

/// What kind of thing an input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A root image (`FROM`): named by its address, the digest of its platform manifest.
    RootImage,
    /// A file downloaded from a URL: the digest of its content.
    Url,
    /// A host file (`COPY` from the context): the digest of its content.
    HostFile,
    /// A host directory: the digest the executor computed over its entries.
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
}

impl BuildInput {
    /// An input with a known digest.
    pub fn new(kind: InputKind, name: impl Into<String>, digest: Digest) -> Self {
        Self {
            kind,
            name: name.into(),
            digest: Some(digest),
        }
    }
}

/// Sorts `inputs` and drops repeats (a helper container and the image reading the same file).
pub fn normalize_inputs(inputs: &mut Vec<BuildInput>) {
    inputs.sort();
    inputs.dedup();
}
