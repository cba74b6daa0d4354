//! Finding and rewriting one scalar of block-style YAML text without touching the rest.
//!
//! The text is scanned line by line for a key path (block mappings, plain, single- or
//! double-quoted values, comments kept); the scalar's byte span is what a rewrite replaces,
//! in the same quoting style. Flow mappings, block scalars and multi-line values are refused,
//! never guessed.

use std::ops::Range;

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

/// `value` written in `style`.
pub fn quote(value: &str, style: ScalarStyle) -> String {
    match style {
        ScalarStyle::Plain => value.to_owned(),
        ScalarStyle::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        ScalarStyle::DoubleQuoted => {
            format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
        }
    }
}

/// The string at `path` as a YAML parser reads `text` (`None` when it is not one).
pub fn parsed_value(text: &str, path: &[&str]) -> Option<String> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).ok()?;
    let mut v = &doc;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str().map(str::to_owned)
}
