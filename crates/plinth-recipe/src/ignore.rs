//! Build-context ignore files (`.dockerignore`, `<Dockerfile>.dockerignore`) with the semantics
//! of moby's `patternmatcher`, which BuildKit applies before it receives the context:
//!
//! - one pattern per line; lines starting with `#` are comments; blank lines are skipped;
//!   `!pattern` re-includes what an earlier pattern excluded; the last matching pattern wins;
//! - patterns are cleaned like paths (`a//b/./c/` is `a/b/c`) and a leading `/` is dropped:
//!   they are relative to the context root;
//! - `*` matches within one path element, `?` one character of it, `**` any number of
//!   elements (none included), `[…]` a class, `\` escapes;
//! - a path is excluded when a pattern matches it or one of its parent directories.
//!
//! Both engines apply the same rules through [`IgnoreRules::kept`], so a directory copy holds
//! what BuildKit would have received: the entries not excluded, plus the excluded directories
//! that hold a re-included entry.

use std::path::{Path, PathBuf};

use regex::Regex;

/// The ignore file of a build: `<Dockerfile>.dockerignore` next to the Dockerfile wins over the
/// context's `.dockerignore`.
pub fn find_ignore_file(context: &Path, dockerfile: Option<&Path>) -> Option<PathBuf> {
    let own = dockerfile.map(|d| {
        let mut name = d.as_os_str().to_owned();
        name.push(".dockerignore");
        PathBuf::from(name)
    });
    own.into_iter()
        .chain([context.join(".dockerignore")])
        .find(|p| p.is_file())
}

/// The patterns of an ignore file's text, normalised as moby's `ignorefile.ReadAll` does.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = if pattern.is_empty() {
            String::new()
        } else {
            clean(pattern)
        };
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for element in path.split('/') {
        match element {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            name => parts.push(name),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

struct Pattern {
    regex: Regex,
    exclusion: bool,
}

/// Compiled ignore patterns.
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

impl IgnoreRules {
    /// Compiles patterns as [`read_patterns`] returns them; a malformed one is an error naming it.
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        let mut compiled = Vec::new();
        for raw in patterns {
            let p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let p = clean(p);
            let (exclusion, p) = match p.strip_prefix('!') {
                Some("") => return Err("`!` alone is not a pattern: write `!path`".into()),
                Some(rest) => (true, rest.to_owned()),
                None => (false, p),
            };
            let regex = Regex::new(&to_regex(&p))
                .map_err(|e| format!("`{raw}` is not a valid ignore pattern: {e}"))?;
            compiled.push(Pattern { regex, exclusion });
        }
        Ok(Self { patterns: compiled })
    }

    /// Whether a re-inclusion (`!`) pattern exists: only then can an excluded directory hold
    /// entries that are kept.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether the context path `path` (`/`-separated, relative to the root) is excluded: the
    /// last pattern matching it or one of its parents decides.
    pub fn excludes(&self, path: &str) -> bool {
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let hit =
                pattern.regex.is_match(path) || parents.iter().any(|p| pattern.regex.is_match(p));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Which entries of a tree copied from the context directory `within` survive: `rels` are
    /// the entries' paths below it in pre-order (`""` is the directory itself). An excluded
    /// directory is kept when something below it is.
    pub fn kept(&self, within: &str, rels: &[&str]) -> Vec<bool> {
        let full = |rel: &str| match (within.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_owned(),
            (false, true) => within.to_owned(),
            (false, false) => format!("{within}/{rel}"),
        };
        let mut keep: Vec<bool> = rels.iter().map(|r| !self.excludes(&full(r))).collect();
        let kept_rels: Vec<&str> = rels
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(r, _)| *r)
            .collect();
        for (i, rel) in rels.iter().enumerate() {
            if !keep[i] {
                keep[i] = kept_rels.iter().any(|k| {
                    rel.is_empty() && !k.is_empty()
                        || k.strip_prefix(rel)
                            .is_some_and(|rest| rest.starts_with('/'))
                });
            }
        }
        keep
    }
}

/// moby's pattern as a regular expression, anchored at both ends.
fn to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                // `**` at the end matches everything; elsewhere any number of elements.
                out.push_str(if chars.peek().is_none() {
                    ".*"
                } else {
                    "(.*/)?"
                });
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => match chars.next() {
                Some(next) => out.push_str(&regex::escape(&next.to_string())),
                None => out.push_str("\\\\"),
            },
            '[' | ']' => out.push(c),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::new(&read_patterns(text)).unwrap()
    }

    #[test]
    fn patterns_match_as_moby_patternmatcher() {
        let r = rules("# comment\n\n*.log\n/secret\n**/tmp\ndocs/**\n!docs/keep.md\n  build/  \n");
        for (path, excluded) in [
            ("a.log", true),
            ("dir/a.log", false),
            ("secret", true),
            ("secret/token", true),
            ("x/secret", false),
            ("tmp", true),
            ("a/b/tmp/c", true),
            ("docs/a.md", true),
            ("docs/keep.md", false),
            ("docs", false),
            ("build/out", true),
            ("src/main.rs", false),
        ] {
            assert_eq!(r.excludes(path), excluded, "{path}");
        }
        assert_eq!(
            read_patterns("#c\n /a/./b/ \n! /c\n../d\n"),
            ["a/b", "!c", "../d"]
        );
        assert!(IgnoreRules::new(&["!".into()]).is_err());
    }

    #[test]
    fn excluded_directories_with_kept_entries_are_kept() {
        let r = rules("dir\n!dir/sub/keep\n");
        let rels = ["", "dir", "dir/a", "dir/sub", "dir/sub/keep", "other"];
        assert_eq!(r.kept("", &rels), [true, true, false, true, true, true]);
        assert_eq!(
            r.kept("dir", &["", "a", "sub", "sub/keep"]),
            [true, false, true, true]
        );
        let r = rules("dir\n");
        assert_eq!(r.kept("dir", &["", "a"]), [false, false]);
    }
}
