//! Airbyte connectors as consumers: `plinth upgrade-consumers` points a connector's
//! `metadata.yaml` at the address to pin.
//!
//! Only the text of one scalar changes, `data.connectorBuildOptions.baseImage` ([`yaml_scalar`]
//! finds it and keeps its quoting style); the file is parsed again to check that the value
//! read there is the one found. Everything else stays byte for byte.
//!
//! Which family a connector uses: `data.language` `python` and `low-code` take
//! `airbyte/python-connector-base`, `manifest-only` takes `airbyte/source-declarative-manifest`;
//! any other connector keeps the repository its current value names.

pub mod yaml_scalar;

use plinth_catalog::{ConsumerFamilies, ConsumerFormat, ConsumerPin};
use plinth_oci::Reference;

use crate::{PYTHON_REPOSITORY, SOURCE_DECLARATIVE_MANIFEST_REPOSITORY};
use yaml_scalar::{ScalarStyle, find_scalar, parsed_value, quote};

/// The file a connector directory holds.
pub const METADATA_FILE: &str = "metadata.yaml";

/// The key path of the base image in a connector's `metadata.yaml`.
pub const BASE_IMAGE_PATH: [&str; 3] = ["data", "connectorBuildOptions", "baseImage"];

/// The consumer format of Airbyte connectors: their `metadata.yaml`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectorMetadata;

impl ConsumerFormat for ConnectorMetadata {
    fn file_name(&self) -> &str {
        METADATA_FILE
    }

    fn pins(
        &self,
        text: &str,
        families: &dyn ConsumerFamilies,
    ) -> Result<Vec<ConsumerPin>, String> {
        let found = find_scalar(text, &BASE_IMAGE_PATH)?
            .ok_or("it has no `data.connectorBuildOptions.baseImage` value")?;
        if parsed_value(text, &BASE_IMAGE_PATH).as_deref() != Some(found.value.as_str()) {
            return Err("its `data.connectorBuildOptions.baseImage` is written in a form this editor does not handle; edit it by hand".into());
        }
        let repository = connector_repository(text, &found.value, families)?;
        Ok(vec![ConsumerPin {
            repository,
            value: found.value,
            span: found.span,
        }])
    }

    fn set_pin(&self, text: &str, pin: &ConsumerPin, address: &str) -> String {
        let style = match text.as_bytes().get(pin.span.start) {
            Some(b'"') => ScalarStyle::DoubleQuoted,
            Some(b'\'') => ScalarStyle::SingleQuoted,
            _ => ScalarStyle::Plain,
        };
        let mut out = String::with_capacity(text.len() + address.len());
        out.push_str(&text[..pin.span.start]);
        out.push_str(&quote(address, style));
        out.push_str(&text[pin.span.end..]);
        out
    }
}

/// The family repository a connector's `metadata.yaml` takes its base image from, given the
/// image it pins now (`current`): by its language, else the family `current` names (exactly,
/// then by the last part of its repository), else `current`'s own repository.
pub fn connector_repository(
    text: &str,
    current: &str,
    families: &dyn ConsumerFamilies,
) -> Result<String, String> {
    let language = find_scalar(text, &["data", "language"])
        .ok()
        .flatten()
        .map(|s| s.value);
    match language.as_deref() {
        Some("python" | "low-code") => return Ok(PYTHON_REPOSITORY.to_owned()),
        Some("manifest-only") => return Ok(SOURCE_DECLARATIVE_MANIFEST_REPOSITORY.to_owned()),
        _ => {}
    }
    if let Some(family) = families.family_of(current) {
        return Ok(family);
    }
    let without_digest = current.split('@').next().unwrap_or_default();
    let reference: Reference = without_digest
        .parse()
        .map_err(|e| format!("its base image `{current}` is not an image address: {e}"))?;
    let name = reference.repository();
    let short = name.rsplit('/').next().unwrap_or(name);
    let known = families.repositories();
    Ok(known
        .iter()
        .find(|k| *k == name)
        .or_else(|| known.iter().find(|k| k.rsplit('/').next() == Some(short)))
        .map_or_else(|| name.to_owned(), Clone::clone))
}

#[cfg(test)]
mod tests;
