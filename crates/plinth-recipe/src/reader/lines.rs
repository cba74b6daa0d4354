//! Physical lines → parser directives and logical instructions (comments dropped, continuations
//! joined), following BuildKit's parser.

use super::heredoc::{Heredoc, heredocs_of_line};
use crate::error::Problem;

/// The parser directives at the top of a Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Directives {
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    /// The `# syntax=` value, if any.
    pub syntax: Option<String>,
}

/// One instruction with the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Logical {
    /// 1-based line number.
    pub line: usize,
    /// The instruction text, continuations joined.
    pub text: String,
    /// The heredocs the instruction opens, with their bodies.
    pub heredocs: Vec<Heredoc>,
}

/// Splits `text` into directives and logical lines, recording bad directives in `problems`.
pub(crate) fn split_lines(text: &str, problems: &mut Vec<Problem>) -> (Directives, Vec<Logical>) {
    let mut directives = Directives {
        escape: '\\',
        syntax: None,
    };
    let mut seen = Vec::new();
    let mut physical = text.split('\n').enumerate().peekable();
    // Directives: leading `# name=value` lines; anything else (even a blank line) ends them.
    while let Some((i, raw)) = physical.peek().copied() {
        let Some((name, value)) = parse_directive(raw) else {
            break;
        };
        physical.next();
        let line = i + 1;
        if seen.contains(&name) {
            problems.push(Problem {
                line,
                message: format!("the `{name}` parser directive is given twice"),
            });
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            "escape" => match value.as_str() {
                "\\" => directives.escape = '\\',
                "`" => directives.escape = '`',
                other => problems.push(Problem {
                    line,
                    message: format!("invalid escape character `{other}`: the escape directive takes `\\` or `` ` ``"),
                }),
            },
            "syntax" => {
                if !is_stable_frontend(&value) {
                    problems.push(Problem {
                        line,
                        message: format!(
                            "`# syntax={value}` names a Dockerfile frontend plinth does not implement: \
                             plinth reads Dockerfiles as BuildKit's stable frontend (`docker/dockerfile:1`) does; \
                             remove the directive or use `# syntax=docker/dockerfile:1`"
                        ),
                    });
                }
                directives.syntax = Some(value)
            }
            _ => {}
        }
    }

    let mut out = Vec::new();
    let mut current: Option<Logical> = None;
    while let Some((i, raw)) = physical.next() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let left = raw.trim_start();
        if left.starts_with('#') || left.is_empty() {
            continue;
        }
        let piece = if current.is_none() { left } else { raw };
        let (piece, continues) = strip_continuation(piece, directives.escape);
        match &mut current {
            None => {
                current = Some(Logical {
                    line: i + 1,
                    text: piece.to_owned(),
                    heredocs: Vec::new(),
                })
            }
            Some(c) => c.text.push_str(piece),
        }
        if !continues && let Some(mut c) = current.take() {
            // A heredoc's body lines belong to its instruction, never read as instructions.
            for mut heredoc in heredocs_of_line(&c.text) {
                let mut terminated = false;
                for (_, body) in physical.by_ref() {
                    let bare = body.strip_suffix('\r').unwrap_or(body);
                    let bare = if heredoc.chomp {
                        bare.trim_start_matches('\t')
                    } else {
                        bare
                    };
                    if bare == heredoc.name {
                        terminated = true;
                        break;
                    }
                    heredoc.content.push_str(body);
                    heredoc.content.push('\n');
                }
                if !terminated {
                    problems.push(Problem {
                        line: c.line,
                        message: format!(
                            "the heredoc `<<{}` is never terminated: end it with a line holding only `{}`",
                            heredoc.name, heredoc.name
                        ),
                    });
                }
                c.heredocs.push(heredoc);
            }
            out.push(c);
        }
    }
    out.extend(current);
    (directives, out)
}

/// Whether `# syntax=` names BuildKit's stable Dockerfile frontend, version 1 (`docker/dockerfile:1`,
/// `:1.7`, `:1.7.1`, with or without `docker.io/`, optionally pinned by digest).
fn is_stable_frontend(value: &str) -> bool {
    let name = value.split('@').next().unwrap_or("");
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    let Some(version) = name.strip_prefix("docker/dockerfile:") else {
        return false;
    };
    let mut parts = version.split('.');
    parts.next() == Some("1")
        && parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn parse_directive(raw: &str) -> Option<(String, String)> {
    let rest = raw.trim().strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    if name.is_empty()
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
        || !name.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "syntax" | "escape" | "check").then(|| (name, value.trim().to_owned()))
}

fn strip_continuation(piece: &str, escape: char) -> (&str, bool) {
    let trimmed = piece.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(rest) => (rest, true),
        None => (piece, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_comments_and_directives() {
        let text = "# syntax=docker/dockerfile:1\n# escape=`\n\nFROM x\nRUN a `\n# comment inside\n\n    && b\r\n  ENV A=1 `  \n";
        let mut problems = Vec::new();
        let (d, lines) = split_lines(text, &mut problems);
        assert!(problems.is_empty());
        assert_eq!(
            d,
            Directives {
                escape: '`',
                syntax: Some("docker/dockerfile:1".into())
            }
        );
        assert_eq!(
            lines,
            vec![
                Logical {
                    line: 4,
                    text: "FROM x".into(),
                    heredocs: vec![],
                },
                Logical {
                    line: 5,
                    text: "RUN a     && b".into(),
                    heredocs: vec![],
                },
                Logical {
                    line: 9,
                    text: "ENV A=1 ".into(),
                    heredocs: vec![],
                },
            ]
        );
    }

    #[test]
    fn bad_directives_are_reported() {
        let mut problems = Vec::new();
        split_lines("# escape=x\n# escape=`\nFROM x", &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].line, 1);
        // A directive after an instruction is a plain comment.
        let (d, _) = split_lines("FROM x\n# escape=`", &mut problems);
        assert_eq!(d.escape, '\\');
    }
}
