//! The consumer format every catalog has: a Dockerfile whose `FROM` lines name its images.
//!
//! A pin is the image word of a `FROM` instruction (after its `--platform=…` flags) that names
//! a family of the catalog, with or without tag and digest; that word alone is replaced by the
//! address to pin, so `AS name`, flags, comments and every other line stay byte for byte.
//! `FROM` lines naming other images, earlier stages or `${ARG}`s are left alone, and so are
//! continuation lines and heredoc bodies (a `FROM` there is not an instruction).

use std::ops::Range;

use plinth_catalog::{ConsumerFamilies, ConsumerFormat, ConsumerPin};

/// The file name a consumer directory holds.
pub const DOCKERFILE: &str = "Dockerfile";

/// Dockerfiles as consumers: `Dockerfile`, `Containerfile` and `*.Dockerfile`/`Dockerfile.*`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dockerfiles;

impl ConsumerFormat for Dockerfiles {
    fn file_name(&self) -> &str {
        DOCKERFILE
    }

    fn reads(&self, path: &std::path::Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        name == DOCKERFILE
            || name == "Containerfile"
            || name.starts_with("Dockerfile.")
            || name.ends_with(".Dockerfile")
            || name.ends_with(".dockerfile")
    }

    fn pins(
        &self,
        text: &str,
        families: &dyn ConsumerFamilies,
    ) -> Result<Vec<ConsumerPin>, String> {
        let pins: Vec<ConsumerPin> = from_images(text)
            .into_iter()
            .filter_map(|span| {
                let value = &text[span.clone()];
                let repository = families.family_of(value)?;
                Some(ConsumerPin {
                    repository,
                    value: value.to_owned(),
                    span,
                })
            })
            .collect();
        if pins.is_empty() {
            return Err(format!(
                "it has no `FROM` line naming an image of this catalog (`{}`)",
                families.repositories().join("`, `")
            ));
        }
        Ok(pins)
    }
}

/// The spans of the image words of the `FROM` instructions of `text`.
fn from_images(text: &str) -> Vec<Range<usize>> {
    let escape = escape_char(text);
    let mut images = Vec::new();
    let mut continued = false;
    let mut heredoc_end: Option<(String, bool)> = None;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if let Some((word, strip_tabs)) = &heredoc_end {
            let candidate = if *strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if candidate == word {
                heredoc_end = None;
            }
            continue;
        }
        let content = line.trim_start();
        if content.starts_with('#') || content.is_empty() {
            continue;
        }
        let starts_instruction = !continued;
        continued = content.ends_with(escape);
        if !starts_instruction {
            continue;
        }
        heredoc_end = heredoc_opened(content);
        let indent = line.len() - content.len();
        if let Some(span) = from_image(content) {
            let start = line_start + indent + span.start;
            images.push(start..line_start + indent + span.end);
        }
    }
    images
}

/// The image word of a `FROM` instruction line (relative to the line's content).
fn from_image(content: &str) -> Option<Range<usize>> {
    let keyword = content.get(..4)?;
    if !keyword.eq_ignore_ascii_case("FROM") || !content[4..].starts_with([' ', '\t']) {
        return None;
    }
    let word = words(content)
        .skip(1)
        .find(|span| !content[span.clone()].starts_with("--"))?;
    let image = &content[word.clone()];
    // `${BASE}` is an argument, and an escape at the end continues the line: neither is a pin.
    (!image.contains('$') && image != "\\" && image != "`").then_some(word)
}

/// The spans of the blank-separated words of `line`.
fn words(line: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = None;
    line.char_indices()
        .chain(std::iter::once((line.len(), ' ')))
        .filter_map(move |(i, c)| match (c == ' ' || c == '\t', start) {
            (true, Some(s)) => {
                start = None;
                Some(s..i)
            }
            (false, None) => {
                start = Some(i);
                None
            }
            _ => None,
        })
}

/// The word closing a heredoc an instruction line opens (`<<EOF`, `<<-"EOF"`), and whether
/// leading tabs are stripped before comparing.
fn heredoc_opened(content: &str) -> Option<(String, bool)> {
    let at = content.find("<<")?;
    let after = &content[at + 2..];
    let (strip_tabs, after) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let word: String = after
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some((word, strip_tabs))
}

/// The escape character a `# escape=` directive at the top sets (`\` by default).
fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let directive = directive.trim();
        if let Some(value) = directive
            .split_once('=')
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case("escape"))
            .map(|(_, value)| value.trim())
        {
            return if value == "`" { '`' } else { '\\' };
        }
    }
    '\\'
}

#[cfg(test)]
mod tests;
