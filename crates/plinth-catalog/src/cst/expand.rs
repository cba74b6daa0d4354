//! `$VAR` expansion as container-structure-test does it: Go's `os.Expand`, so `$NAME`, `${NAME}`
//! and the shell's one-character specials (`$1`, `$?`, …) are replaced, an unknown name becomes
//! the empty string, and a `$` followed by nothing nameable stays as it is.

/// Expands `text` with `lookup` (an unknown name gives `None`, expanded as empty).
pub(crate) fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&text[copied..j]);
            let (name, width) = shell_name(&text[j + 1..]);
            match name {
                // `${}` and an unclosed `${`: Go eats them.
                None if width > 0 => {}
                None => out.push('$'),
                Some(name) => out.push_str(&lookup(name).unwrap_or_default()),
            }
            j += width;
            copied = j + 1;
        }
        j += 1;
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

fn is_special(c: u8) -> bool {
    matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || c.is_ascii_digit()
}

fn is_name_char(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// The name after a `$` and how many bytes it takes (Go's `getShellName`); `None` with a
/// non-zero width is bad syntax to drop.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_special(b[1]) && b[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        return match b.iter().skip(1).position(|&c| c == b'}') {
            Some(0) => (None, 2),
            Some(end) => (Some(&s[1..=end]), end + 2),
            None => (None, 1),
        };
    }
    if is_special(b[0]) {
        return (Some(&s[..1]), 1);
    }
    let end = b.iter().position(|&c| !is_name_char(c)).unwrap_or(b.len());
    if end == 0 {
        (None, 0)
    } else {
        (Some(&s[..end]), end)
    }
}

/// Expands each `(name, value)` in order against `base` plus the ones before it, the way
/// container-structure-test sets its variables one after the other.
pub(crate) fn expand_env(
    base: &[(String, String)],
    vars: &[(String, String)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = base.to_vec();
    let mut out = Vec::with_capacity(vars.len());
    for (name, value) in vars {
        let value = expand(value, |key| {
            env.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        });
        env.push((name.clone(), value.clone()));
        out.push((name.clone(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> String {
        expand(text, |name| match name {
            "PATH" => Some("/usr/bin:/bin".into()),
            "HOME" => Some("/root".into()),
            "1" => Some("one".into()),
            _ => None,
        })
    }

    #[test]
    fn expands_as_go_os_expand() {
        assert_eq!(env("/env/bin:$PATH"), "/env/bin:/usr/bin:/bin");
        assert_eq!(env("${HOME}/x"), "/root/x");
        assert_eq!(env("$HOME$HOME"), "/root/root");
        assert_eq!(env("$UNSET-x"), "-x");
        assert_eq!(env("$1 ${1}"), "one one");
        assert_eq!(env("cost: $"), "cost: $");
        assert_eq!(env("a $/b"), "a $/b");
        assert_eq!(env("${}x"), "x");
        assert_eq!(env("${HOME"), "HOME");
        assert_eq!(env("no dollars"), "no dollars");
        assert_eq!(env("$$"), "");
        assert_eq!(env("é$HOME€"), "é/root€");
    }

    #[test]
    fn later_variables_see_earlier_ones() {
        let base = vec![("PATH".to_owned(), "/bin".to_owned())];
        let vars = vec![
            ("VIRTUAL_ENV".to_owned(), "/env".to_owned()),
            ("PATH".to_owned(), "$VIRTUAL_ENV/bin:$PATH".to_owned()),
        ];
        assert_eq!(
            expand_env(&base, &vars),
            [
                ("VIRTUAL_ENV".to_owned(), "/env".to_owned()),
                ("PATH".to_owned(), "/env/bin:/bin".to_owned())
            ]
        );
    }
}
