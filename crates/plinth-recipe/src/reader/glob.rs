//! Wildcards in `COPY`/`ADD` sources: Go's `filepath.Match` per path element, expanded against
//! the build context in lexical order, as BuildKit expands them.

use std::path::Path;

/// Whether a source holds a wildcard (`*`, `?`, `[`).
pub fn has_wildcard(src: &str) -> bool {
    src.contains(['*', '?', '['])
}

/// The context paths (relative, `/`-separated, sorted) that `pattern` matches.
pub(super) fn expand_in_context(context: &Path, pattern: &str) -> Result<Vec<String>, String> {
    expand_wildcard(
        pattern,
        |dir| {
            let entries = std::fs::read_dir(context.join(dir)).ok()?;
            Some(
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect(),
            )
        },
        |path| context.join(path).symlink_metadata().is_ok(),
    )
}

/// The paths (relative, `/`-separated, sorted) of a tree that `pattern` matches, element by
/// element as Go's `filepath.Glob` does: `list(dir)` names a directory's entries (`None` when
/// it is no directory), `exists(path)` says whether a path without wildcards is there. The
/// tree can be the build context or a stage's files (`COPY --from=stage /o/*`).
pub fn expand_wildcard(
    pattern: &str,
    mut list: impl FnMut(&str) -> Option<Vec<String>>,
    mut exists: impl FnMut(&str) -> bool,
) -> Result<Vec<String>, String> {
    let mut found: Vec<String> = vec![String::new()];
    for element in pattern.split('/').filter(|e| !e.is_empty() && *e != ".") {
        let mut next = Vec::new();
        for base in &found {
            if !has_wildcard(element) {
                let candidate = join(base, &unescape(element));
                if exists(&candidate) {
                    next.push(candidate);
                }
                continue;
            }
            let Some(mut names) = list(base) else {
                continue;
            };
            names.sort();
            for name in names {
                if go_match(element, &name)? {
                    next.push(join(base, &name));
                }
            }
        }
        found = next;
    }
    found.retain(|p| !p.is_empty());
    found.sort();
    Ok(found)
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_owned()
    } else {
        format!("{base}/{name}")
    }
}

fn unescape(element: &str) -> String {
    let mut out = String::new();
    let mut chars = element.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `filepath.Match` for one path element; a malformed pattern is an error.
pub(super) fn go_match(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n).ok_or_else(|| format!("`{pattern}` is not a valid wildcard pattern"))
}

fn match_from(p: &[char], n: &[char]) -> Option<bool> {
    let Some((&c, rest)) = p.split_first() else {
        return Some(n.is_empty());
    };
    match c {
        '*' => {
            // `*` never crosses a path separator.
            let longest = n.iter().position(|c| *c == '/').unwrap_or(n.len());
            let mut any = false;
            for skip in 0..=longest {
                any |= match_from(rest, &n[skip..])?;
            }
            Some(any)
        }
        '?' => match n.split_first() {
            Some((&h, n_rest)) if h != '/' => match_from(rest, n_rest),
            Some(_) => match_from(rest, n).map(|_| false),
            None => {
                // Still check the rest of the pattern is well formed.
                match_from(rest, n).map(|_| false)
            }
        },
        '[' => {
            let (matched, after) = match_class(rest, n.first().copied())?;
            match n.split_first() {
                Some((_, n_rest)) if matched => match_from(after, n_rest),
                _ => match_from(after, n).map(|_| false),
            }
        }
        '\\' => {
            let (&lit, rest) = rest.split_first()?;
            match n.split_first() {
                Some((&h, n_rest)) if h == lit => match_from(rest, n_rest),
                _ => match_from(rest, n).map(|_| false),
            }
        }
        lit => match n.split_first() {
            Some((&h, n_rest)) if h == lit => match_from(rest, n_rest),
            _ => match_from(rest, n).map(|_| false),
        },
    }
}

/// A `[...]` class after its `[`: whether `ch` is in it, and the pattern after the `]`.
fn match_class(p: &[char], ch: Option<char>) -> Option<(bool, &[char])> {
    let (negated, mut p) = match p.split_first() {
        Some(('^', rest)) => (true, rest),
        _ => (false, p),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let (&c, rest) = p.split_first()?;
        if c == ']' && !first {
            return Some((ch.is_some() && matched != negated, rest));
        }
        first = false;
        let (lo, rest) = class_char(c, rest)?;
        let (hi, rest) = match rest.split_first() {
            Some(('-', after)) if after.first() != Some(&']') => {
                let (&c2, after) = after.split_first()?;
                class_char(c2, after)?
            }
            _ => (lo, rest),
        };
        if lo > hi {
            return None;
        }
        if let Some(ch) = ch
            && lo <= ch
            && ch <= hi
        {
            matched = true;
        }
        p = rest;
    }
}

fn class_char(c: char, rest: &[char]) -> Option<(char, &[char])> {
    match c {
        '\\' => rest.split_first().map(|(&e, r)| (e, r)),
        '-' | ']' => None,
        c => Some((c, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_as_go_filepath_match() {
        for (pattern, name, want) in [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*", "axbxcxdxe", true),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a?b", "ab", false),
            ("*.txt", ".hidden.txt", true),
            ("[\\]a]", "]", true),
        ] {
            assert_eq!(go_match(pattern, name), Ok(want), "{pattern} vs {name}");
        }
        for bad in ["[", "a[", "[^", "[a-", "ab[]", "[x-a]", "a\\"] {
            assert!(go_match(bad, "a").is_err(), "{bad}");
        }
    }

    #[test]
    fn expands_against_a_directory_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.txt", "a.txt", "c.log", "sub/x.txt", "sub/y.md"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        assert_eq!(
            expand_in_context(dir.path(), "*.txt").unwrap(),
            ["a.txt", "b.txt"]
        );
        assert_eq!(
            expand_in_context(dir.path(), "/s*/*.txt").unwrap(),
            ["sub/x.txt"]
        );
        assert!(expand_in_context(dir.path(), "*.none").unwrap().is_empty());
    }
}
