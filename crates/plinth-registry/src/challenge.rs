//! `WWW-Authenticate` parsing (RFC 7235 challenges), written to never panic on hostile input.
//!
//! ```
//! use plinth_registry::challenge::{parse_challenges, Scheme};
//! let c = parse_challenges(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull""#);
//! assert_eq!(c[0].scheme, Scheme::Bearer);
//! assert_eq!(c[0].param("service"), Some("registry.docker.io"));
//! ```

use std::collections::BTreeMap;

/// An authentication scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// HTTP Basic.
    Basic,
    /// OAuth2-style bearer tokens from a token service.
    Bearer,
    /// Anything else, lowercased.
    Other(String),
}

/// One challenge: a scheme and its parameters (keys lowercased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme.
    pub scheme: Scheme,
    /// The auth parameters, keys lowercased.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter by (lowercase) name.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// The `realm`.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// The scopes named in `scope` (space separated).
    pub fn scopes(&self) -> Vec<String> {
        self.param("scope")
            .map(|s| {
                s.split(' ')
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the registry says the token lacks a scope.
    pub fn is_insufficient_scope(&self) -> bool {
        self.param("error") == Some("insufficient_scope")
    }
}

/// Parses a `WWW-Authenticate` value into its challenges. Malformed parts are skipped.
pub fn parse_challenges(input: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: input.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip_ws_and_commas();
        if p.done() {
            break;
        }
        let Some(scheme) = p.token() else {
            // Not a token start: skip one byte and carry on.
            p.i += 1;
            continue;
        };
        let mut challenge = Challenge {
            scheme: scheme_of(&scheme),
            params: BTreeMap::new(),
        };
        // Parameters: `key=value` separated by commas, until a token not followed by `=`.
        loop {
            p.skip_ws_and_commas();
            let save = p.i;
            let Some(key) = p.token() else { break };
            p.skip_ws();
            if p.peek() != Some(b'=') {
                // A new scheme (or a token68 we don't use): rewind and end this challenge.
                p.i = save;
                break;
            }
            p.i += 1;
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token().unwrap_or_default()
            };
            challenge
                .params
                .entry(key.to_ascii_lowercase())
                .or_insert(value);
        }
        out.push(challenge);
    }
    out
}

fn scheme_of(s: &str) -> Scheme {
    match s.to_ascii_lowercase().as_str() {
        "basic" => Scheme::Basic,
        "bearer" => Scheme::Bearer,
        other => Scheme::Other(other.to_owned()),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    /// An RFC 7230 token (plus `/` and `=`-free token68 characters we may meet).
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            let ok = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&b);
            if !ok {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A quoted string with backslash escapes; an unterminated one runs to the end.
    fn quoted(&mut self) -> String {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.i += 1;
                    }
                }
                other => out.push(other),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_bearer() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, Scheme::Bearer);
        assert_eq!(c[0].realm(), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].scopes(), vec!["repository:a/b:pull,push".to_owned()]);
        assert!(c[0].is_insufficient_scope());
    }

    #[test]
    fn several_challenges_and_odd_spacing() {
        let c = parse_challenges(
            r#"Basic realm="Registry Realm" , BEARER  realm = "https://x/t" , service=reg, scope="a b""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, Scheme::Basic);
        assert_eq!(c[0].realm(), Some("Registry Realm"));
        assert_eq!(c[1].scheme, Scheme::Bearer);
        assert_eq!(c[1].param("service"), Some("reg"));
        assert_eq!(c[1].scopes(), vec!["a".to_owned(), "b".to_owned()]);
    }

    #[test]
    fn escapes_and_unterminated_quotes() {
        let c = parse_challenges(r#"Bearer realm="a\"b", service="unterminated"#);
        assert_eq!(c[0].realm(), Some("a\"b"));
        assert_eq!(c[0].param("service"), Some("unterminated"));
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges("   ,,, ").is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = parse_challenges(&s);
        }

        #[test]
        fn never_panics_on_header_like_input(s in "[A-Za-z =,\"\\\\:/._-]{0,200}") {
            let _ = parse_challenges(&s);
        }

        #[test]
        fn round_trips_quoted_values(realm in "[ -~]{0,60}", service in "[a-z0-9.]{1,20}") {
            let escaped = realm.replace('\\', "\\\\").replace('"', "\\\"");
            let header = format!("Bearer realm=\"{escaped}\",service=\"{service}\"");
            let c = parse_challenges(&header);
            proptest::prop_assert_eq!(c[0].realm(), Some(realm.as_str()));
            proptest::prop_assert_eq!(c[0].param("service"), Some(service.as_str()));
        }
    }
}
