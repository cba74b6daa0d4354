//! `upgrade-consumers`: point connectors' `metadata.yaml` at the address to pin.
//!
//! Only the text of one scalar changes, `data.connectorBuildOptions.baseImage`: the file is
//! scanned line by line for that key path (block mappings, plain, single- or double-quoted
//! values, comments kept), the scalar's byte span is replaced with the new address in the same
//! quoting style, and the result is parsed again to check that the value read there is the new
//! address. Everything else stays byte for byte. Files are replaced atomically.
//!
//! Which family a connector uses: `data.language` `python` and `low-code` take
//! `airbyte/python-connector-base`, `manifest-only` takes `airbyte/source-declarative-manifest`;
//! any other connector keeps the repository its current value names.

use std::ops::Range;
use std::path::{Path, PathBuf};

use plinth_oci::Reference;

use crate::docs::unified_diff;
use crate::error::{Error, Result};
use crate::record::write_atomic;
use crate::releaser::Releaser;

/// The family of python and low-code connectors. `metadata.yaml` is Airbyte's connector format,
/// so this command speaks Airbyte's repository names.
const PYTHON_REPOSITORY: &str = "airbyte/python-connector-base";
/// The repository of manifest-only connectors.
const SOURCE_DECLARATIVE_MANIFEST_REPOSITORY: &str = "airbyte/source-declarative-manifest";

/// The key path of the base image in a connector's `metadata.yaml`.
pub const BASE_IMAGE_PATH: [&str; 3] = ["data", "connectorBuildOptions", "baseImage"];

/// How a scalar is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    /// `key: value`.
    Plain,
    /// `key: 'value'`.
    SingleQuoted,
    /// `key: "value"`.
    DoubleQuoted,
}

/// A scalar value found in YAML text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalarSpan {
    /// The value (unquoted, unescaped).
    pub value: String,
    /// The bytes of the scalar in the text, quotes included.
    pub span: Range<usize>,
    /// Its style.
    pub style: ScalarStyle,
}

fn key_of(content: &str) -> Option<(&str, &str)> {
    let (key, rest) = if let Some(q) = content.strip_prefix('"') {
        let end = q.find('"')?;
        (&q[..end], &q[end + 1..])
    } else if let Some(q) = content.strip_prefix('\'') {
        let end = q.find('\'')?;
        (&q[..end], &q[end + 1..])
    } else {
        let end = content.find(':')?;
        (&content[..end], &content[end..])
    };
    let rest = rest.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t']))
        || key.is_empty()
        || key.contains(['#', '{', '['])
    {
        return None;
    }
    Some((key.trim_end(), rest))
}

fn parse_scalar(rest: &str, offset: usize) -> std::result::Result<Option<ScalarSpan>, String> {
    let lead = rest.len() - rest.trim_start().len();
    let text = &rest[lead..];
    let start = offset + lead;
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    if let Some(body) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    return Ok(Some(ScalarSpan {
                        value,
                        span: start..start + i + 2,
                        style: ScalarStyle::DoubleQuoted,
                    }));
                }
                '\\' => match chars.next() {
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '/')) => value.push('/'),
                    Some((_, other)) => {
                        return Err(format!(
                            "the escape `\\{other}` in the value is not supported"
                        ));
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        return Err("the double-quoted value does not end on its line".into());
    }
    if let Some(body) = text.strip_prefix('\'') {
        let mut value = String::new();
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < body.len() {
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    value.push('\'');
                    i += 2;
                    continue;
                }
                return Ok(Some(ScalarSpan {
                    value,
                    span: start..start + i + 2,
                    style: ScalarStyle::SingleQuoted,
                }));
            }
            let c = body[i..].chars().next().unwrap_or_default();
            value.push(c);
            i += c.len_utf8();
        }
        return Err("the single-quoted value does not end on its line".into());
    }
    if text.starts_with(['|', '>', '&', '*', '!', '{', '[']) {
        return Err("the value is not a plain or quoted scalar on the key's line".into());
    }
    let end = text
        .find(" #")
        .or_else(|| text.find("\t#"))
        .unwrap_or(text.len());
    let value = text[..end].trim_end();
    Ok(Some(ScalarSpan {
        value: value.to_owned(),
        span: start..start + value.len(),
        style: ScalarStyle::Plain,
    }))
}

/// Finds the scalar at `path` in block-style YAML text.
pub fn find_scalar(text: &str, path: &[&str]) -> std::result::Result<Option<ScalarSpan>, String> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut block_scalar_indent: Option<usize> = None;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let content = line.trim_start_matches(' ');
        let mut indent = line.len() - content.len();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some(parent) = block_scalar_indent {
            if indent > parent {
                continue;
            }
            block_scalar_indent = None;
        }
        if content == "---" || content.starts_with("--- ") {
            stack.clear();
            continue;
        }
        let mut content = content;
        while let Some(rest) = content.strip_prefix("- ") {
            indent += 2 + (rest.len() - rest.trim_start_matches(' ').len());
            content = rest.trim_start_matches(' ');
        }
        let Some((key, rest)) = key_of(content) else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_owned()));
        let value_trimmed = rest.trim_start();
        if value_trimmed.starts_with(['|', '>']) {
            block_scalar_indent = Some(indent);
        }
        if stack.len() == path.len() && stack.iter().zip(path).all(|((_, k), p)| k == p) {
            let rest_offset = line_start + (line.len() - rest.len());
            return parse_scalar(rest, rest_offset);
        }
    }
    Ok(None)
}

fn quote(value: &str, style: ScalarStyle) -> String {
    match style {
        ScalarStyle::Plain => value.to_owned(),
        ScalarStyle::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        ScalarStyle::DoubleQuoted => {
            format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
        }
    }
}

fn parsed_value(text: &str, path: &[&str]) -> Option<String> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).ok()?;
    let mut v = &doc;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str().map(str::to_owned)
}

/// `text` with the base image set to `address`; `Ok(None)` when it already is. Fails when the
/// key is missing or written in a way this editor does not handle (it never guesses).
pub fn set_base_image(text: &str, address: &str) -> std::result::Result<Option<String>, String> {
    let found = find_scalar(text, &BASE_IMAGE_PATH)?
        .ok_or("it has no `data.connectorBuildOptions.baseImage` value")?;
    if parsed_value(text, &BASE_IMAGE_PATH).as_deref() != Some(found.value.as_str()) {
        return Err("its `data.connectorBuildOptions.baseImage` is written in a form this editor does not handle; edit it by hand".into());
    }
    if found.value == address {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len() + address.len());
    out.push_str(&text[..found.span.start]);
    out.push_str(&quote(address, found.style));
    out.push_str(&text[found.span.end..]);
    if parsed_value(&out, &BASE_IMAGE_PATH).as_deref() != Some(address) {
        return Err("the edited file would not read back the new address; edit it by hand".into());
    }
    Ok(Some(out))
}

/// The family repository a connector's `metadata.yaml` takes its base image from.
pub fn connector_repository(text: &str, known: &[&str]) -> std::result::Result<String, String> {
    let language = find_scalar(text, &["data", "language"])
        .ok()
        .flatten()
        .map(|s| s.value);
    match language.as_deref() {
        Some("python" | "low-code") => return Ok(PYTHON_REPOSITORY.to_owned()),
        Some("manifest-only") => return Ok(SOURCE_DECLARATIVE_MANIFEST_REPOSITORY.to_owned()),
        _ => {}
    }
    let current = find_scalar(text, &BASE_IMAGE_PATH)?
        .ok_or("it has no `data.connectorBuildOptions.baseImage` value")?;
    let without_digest = current.value.split('@').next().unwrap_or_default();
    let reference: Reference = without_digest.parse().map_err(|e| {
        format!(
            "its base image `{}` is not an image address: {e}",
            current.value
        )
    })?;
    let name = reference.repository();
    let short = name.rsplit('/').next().unwrap_or(name);
    Ok(known
        .iter()
        .find(|k| **k == name)
        .or_else(|| known.iter().find(|k| k.rsplit('/').next() == Some(short)))
        .map_or_else(|| name.to_owned(), |k| (*k).to_owned()))
}

/// What `upgrade-consumers` did to one file.
#[derive(Clone, Debug)]
pub struct ConsumerUpdate {
    /// The file.
    pub path: PathBuf,
    /// The family repository.
    pub repository: String,
    /// The new address.
    pub address: String,
    /// The diff (empty when the file already pins the address).
    pub diff: String,
}

impl Releaser {
    /// Points the connector `metadata.yaml` at `path` (a file, or a directory holding one) at
    /// the latest stable published version of its family; with `dry_run` only the diff is
    /// computed.
    pub fn upgrade_consumer(&self, path: &Path, dry_run: bool) -> Result<ConsumerUpdate> {
        let path = if path.is_dir() {
            path.join("metadata.yaml")
        } else {
            path.to_path_buf()
        };
        let bad = |reason: String| Error::Metadata {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(Error::io("read", &path))?;
        let repository = connector_repository(&text, &self.catalog.repositories()).map_err(bad)?;
        let address = self.latest(&repository, true)?.address();
        let Some(new) = set_base_image(&text, &address).map_err(bad)? else {
            return Ok(ConsumerUpdate {
                path,
                repository,
                address,
                diff: String::new(),
            });
        };
        let diff = unified_diff(&path, &text, &new);
        if !dry_run {
            write_atomic(&path, new.as_bytes())?;
        }
        Ok(ConsumerUpdate {
            path,
            repository,
            address,
            diff,
        })
    }
}

#[cfg(test)]
mod tests;
