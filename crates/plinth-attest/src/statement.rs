//! in-toto Statement v1: a typed predicate about subjects named by digest.
//! <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use plinth_oci::{Artifact, Digest};

use crate::error::{Error, Result};

/// `_type` of every statement.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The media type of a statement (the artifact type and the payload's media type).
pub const IN_TOTO_MEDIA_TYPE: &str = "application/vnd.in-toto+json";

/// The annotation naming the predicate type on an attestation's artifact manifest, as
/// BuildKit, cosign and `docker buildx imagetools` write it.
pub const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";

/// A resource named by digest (in-toto's ResourceDescriptor, the fields plinth writes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// A URI for the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// A name (what the recipe calls it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `algorithm → hex`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// Anything else worth knowing about it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ResourceDescriptor {
    /// A descriptor with a name and, when known, a digest.
    pub fn named(name: impl Into<String>, digest: Option<&Digest>) -> Self {
        Self {
            name: Some(name.into()),
            digest: digest.map(digest_map).unwrap_or_default(),
            ..Self::default()
        }
    }

    /// The digest of the given algorithm, when the descriptor has one.
    pub fn digest_of(&self, algorithm: &str) -> Option<&str> {
        self.digest.get(algorithm).map(String::as_str)
    }
}

/// `{"sha256": "<hex>"}`.
pub fn digest_map(digest: &Digest) -> BTreeMap<String, String> {
    BTreeMap::from([(digest.algorithm().to_owned(), digest.hex().to_owned())])
}

/// An in-toto statement with a predicate of type `P`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement<P> {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// The predicate's type URI.
    pub predicate_type: String,
    /// The predicate.
    pub predicate: P,
}

impl<P: Serialize> Statement<P> {
    /// A statement about the image manifest `subject` (named `name`).
    pub fn about(name: &str, subject: &Digest, predicate_type: &str, predicate: P) -> Self {
        Self {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject: vec![ResourceDescriptor::named(name, Some(subject))],
            predicate_type: predicate_type.to_owned(),
            predicate,
        }
    }

    /// The statement as canonical JSON (sorted keys, no spaces): the same statement always
    /// has the same bytes, so the artifact holding it has the same digest.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(plinth_oci::canonical::to_canonical_vec(self)?)
    }

    /// The OCI artifact holding this statement (artifact type and payload
    /// `application/vnd.in-toto+json`, the predicate type as an annotation).
    pub fn to_artifact(&self) -> Result<Artifact> {
        Ok(Artifact {
            artifact_type: IN_TOTO_MEDIA_TYPE.to_owned(),
            payload_media_type: IN_TOTO_MEDIA_TYPE.to_owned(),
            payload: self.to_bytes()?,
            annotations: BTreeMap::from([(
                PREDICATE_TYPE_ANNOTATION.to_owned(),
                self.predicate_type.clone(),
            )]),
        })
    }
}

/// A statement read back, its predicate left as JSON.
pub type AnyStatement = Statement<serde_json::Value>;

/// Parses a statement, checking its `_type`.
pub fn parse_statement(bytes: &[u8]) -> Result<AnyStatement> {
    let statement: AnyStatement = serde_json::from_slice(bytes)
        .map_err(|e| Error::InvalidStatement(format!("not an in-toto statement: {e}")))?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(Error::InvalidStatement(format!(
            "`_type` is `{}`, not `{STATEMENT_TYPE}`",
            statement.statement_type
        )));
    }
    Ok(statement)
}
