//! Physical lines → parser directives and logical instructions (comments dropped, continuations
//! joined), following BuildKit's parser.

use super::heredoc::{Heredoc, heredoc_words, heredocs_of_line, mid_word_heredoc};
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

type Physical<'t> = std::iter::Peekable<std::iter::Enumerate<std::str::Split<'t, char>>>;

/// Splits `text` into directives and logical lines, recording bad directives in `problems`.
pub(crate) fn split_lines(text: &str, problems: &mut Vec<Problem>) -> (Directives, Vec<Logical>) {
    // A UTF-8 byte order mark before the first line is dropped, as BuildKit's parser drops it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut physical = text.split('\n').enumerate().peekable();
    let directives = read_directives(&mut physical, problems);
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
            read_heredoc_bodies(&mut c, &mut physical, problems);
            out.push(c);
        }
    }
    out.extend(current);
    (directives, out)
}

/// The leading `# name=value` lines; anything else (even a blank line) ends them.
fn read_directives(physical: &mut Physical<'_>, problems: &mut Vec<Problem>) -> Directives {
    let mut directives = Directives {
        escape: '\\',
        syntax: None,
    };
    let mut seen = Vec::new();
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
    directives
}

/// Takes the bodies of the heredocs `c` opens from the following lines: they belong to the
/// instruction and are never read as instructions.
fn read_heredoc_bodies(c: &mut Logical, physical: &mut Physical<'_>, problems: &mut Vec<Problem>) {
    let heredocs = heredocs_of_line(&c.text);
    if heredocs.is_empty() {
        refuse_mid_word_heredoc(c, physical, problems);
    }
    for mut heredoc in heredocs {
        let terminated = take_body(physical, &heredoc.name, heredoc.chomp, |line| {
            heredoc.content.push_str(line);
            heredoc.content.push('\n');
        });
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
}

/// Feeds the lines up to the terminator `name` to `body`; false when no line ends it.
fn take_body(
    physical: &mut Physical<'_>,
    name: &str,
    chomp: bool,
    mut body: impl FnMut(&str),
) -> bool {
    for (_, line) in physical.by_ref() {
        let bare = line.strip_suffix('\r').unwrap_or(line);
        let bare = if chomp {
            bare.trim_start_matches('\t')
        } else {
            bare
        };
        if bare == name {
            return true;
        }
        body(line);
    }
    false
}

/// `RUN cat<<EOF` opens no heredoc for BuildKit (a heredoc word starts with `<<`), so it would
/// read the body and the terminator as instructions and fail on them. When such a terminator
/// follows, the line is refused with the fix, and the body skipped so it adds no errors of its
/// own.
fn refuse_mid_word_heredoc(c: &Logical, physical: &mut Physical<'_>, problems: &mut Vec<Problem>) {
    let words = heredoc_words(&c.text);
    if !matches!(
        words.first().map(|w| w.to_ascii_uppercase()).as_deref(),
        Some("RUN" | "COPY" | "ADD")
    ) {
        return;
    }
    for word in &words {
        let Some(name) = mid_word_heredoc(word) else {
            continue;
        };
        let ahead = physical.clone();
        let terminated = ahead
            .map(|(_, l)| l.strip_suffix('\r').unwrap_or(l))
            .any(|l| l == name || l.trim_start_matches('\t') == name);
        if !terminated {
            continue;
        }
        let at = word.find("<<").unwrap_or(0);
        problems.push(Problem {
            line: c.line,
            message: format!(
                "`{word}` does not open a heredoc: BuildKit starts one only at a word that begins with `<<`, \
                 so the lines up to `{name}` would be read as instructions; put a space before `<<` (`{} {}`)",
                &word[..at],
                &word[at..]
            ),
        });
        take_body(physical, &name, true, |_| {});
        return;
    }
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
    fn a_byte_order_mark_before_the_directives_is_dropped() {
        let mut problems = Vec::new();
        let (d, lines) = split_lines(
            "\u{feff}# escape=`\r\nFROM x\r\nRUN a `\r\n b\r\n",
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(d.escape, '`');
        assert_eq!(lines.len(), 2);
    }

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
    fn a_heredoc_inside_a_word_is_refused_with_the_fix_and_its_body_skipped() {
        let mut problems = Vec::new();
        let (_, lines) = split_lines(
            "FROM x\nRUN cat<<EOF > /f\nhello\nEOF\nRUN true\n",
            &mut problems,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, 2);
        assert!(
            problems[0]
                .message
                .contains("put a space before `<<` (`cat <<EOF`)"),
            "{}",
            problems[0].message
        );
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["FROM x", "RUN cat<<EOF > /f", "RUN true"]);
        // Without a terminator line it is plain shell, as for BuildKit.
        let mut problems = Vec::new();
        split_lines("FROM x\nRUN cat<<EOF > /f\n", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        // `<< EOF` is a heredoc.
        let (_, lines) = split_lines("FROM x\nRUN cat << EOF > /f\nhi\nEOF\n", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(lines[1].heredocs[0].content, "hi\n");
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
