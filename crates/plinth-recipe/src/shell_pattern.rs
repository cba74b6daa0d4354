//! The pattern modifiers of BuildKit's shell lexer: `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`,
//! `${V/p/r}` and `${V//p/r}`. A pattern is a shell wildcard without bracket expressions: `*`
//! (shortest match for `#`/`%`, longest for `##`/`%%` and `/`), `?` (one character) and `\`
//! escaping `*`, `?`, `\`, `}` and `/`; anything else is literal. BuildKit turns it into a
//! regular expression with leftmost-first matching, and so does this module.

use regex::{NoExpand, Regex};

/// The regular expression of a pattern; `anchored` matches at the start only.
fn to_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<Regex, String> {
    let invalid = |why: String| format!("invalid pattern `{pattern}` in substitution: {why}");
    let mut out = String::from(if anchored { "^" } else { "" });
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => out.push('.'),
            // `}` and `/` are escaped to stay inside `${…}`; the escape is not part of the
            // pattern, and the character after it is read as usual.
            '\\' if matches!(chars.peek(), Some('}' | '/')) => {}
            '\\' => match chars.next() {
                Some(e @ ('*' | '?' | '\\')) => out.push_str(&regex::escape(&e.to_string())),
                Some(e) => {
                    return Err(invalid(format!(
                        "`\\{e}` is not an escape: escape only `*`, `?`, `\\`, `}}` and `/`"
                    )));
                }
                None => return Err(invalid("it ends with `\\`".into())),
            },
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    Regex::new(&out).map_err(|e| invalid(e.to_string()))
}

/// `${V#p}` (shortest) or `${V##p}` (`greedy`): `value` without the match of `pattern` at its
/// start.
pub(crate) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let re = to_regex(pattern, greedy, true)?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_owned(),
        None => value.to_owned(),
    })
}

/// `${V%p}` (shortest) or `${V%%p}` (`greedy`): `value` without the match of `pattern` at its
/// end. As BuildKit does, both are reversed so the shortest rightmost match is a leftmost one.
pub(crate) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let reversed_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed_value, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// A pattern reversed with its escapes kept in front of what they escape (`a\*c` → `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pieces: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            pieces.push(chars[i..i + 2].iter().collect());
            i += 2;
        } else {
            pieces.push(chars[i].to_string());
            i += 1;
        }
    }
    pieces.reverse();
    pieces.concat()
}

/// `${V/p/r}` (the first match) or `${V//p/r}` (`all` matches); `*` is always greedy. Replacing
/// every match expands `$1`-style group references in the replacement, as Go's
/// `ReplaceAllString` (which BuildKit calls) does; replacing the first does not.
pub(crate) fn replace(
    pattern: &str,
    replacement: &str,
    value: &str,
    all: bool,
) -> Result<String, String> {
    let re = to_regex(pattern, true, false)?;
    Ok(if all {
        re.replace_all(value, replacement).into_owned()
    } else {
        re.replace(value, NoExpand(replacement)).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_replaces_as_buildkit() {
        let v = "archive.tar.gz";
        assert_eq!(trim_prefix("*.", v, false).unwrap(), "tar.gz");
        assert_eq!(trim_prefix("*.", v, true).unwrap(), "gz");
        assert_eq!(trim_suffix(".*", v, false).unwrap(), "archive.tar");
        assert_eq!(trim_suffix(".*", v, true).unwrap(), "archive");
        assert_eq!(trim_prefix("x", v, false).unwrap(), v);
        assert_eq!(trim_suffix("?z", v, false).unwrap(), "archive.tar.");
        assert_eq!(trim_prefix("a\\*", "a*b", false).unwrap(), "b");
        assert_eq!(trim_suffix("\\*b", "a*b", false).unwrap(), "a");
        assert_eq!(replace("a", "o", "banana", false).unwrap(), "bonana");
        assert_eq!(replace("a", "o", "banana", true).unwrap(), "bonono");
        assert_eq!(replace("n*a", "_", "banana", false).unwrap(), "ba_");
        assert_eq!(replace("\\/", "-", "a/b/c", true).unwrap(), "a-b-c");
        assert_eq!(replace("x", "y", "", true).unwrap(), "");
        // Regex characters are literal.
        assert_eq!(replace("(.)", "!", "a(.)b(x)", true).unwrap(), "a!b(x)");
        assert!(
            trim_prefix("\\d", "d", false)
                .unwrap_err()
                .contains("is not an escape")
        );
    }
}
