//! Values that must never be printed: passwords, tokens, and URLs that may carry them.

use std::fmt;

use url::Url;

/// A credential (password, token) whose `Debug` and `Display` print `<redacted>`.
///
/// Read the value only where it goes on the wire, with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Query parameters whose values are safe to print; every other value is redacted, because
/// blob redirects carry signed URLs (`X-Amz-Signature`, `sig`, `token`, …).
const SAFE_QUERY_KEYS: &[&str] = &["n", "last", "digest", "mount", "from", "service", "scope"];

/// A URL whose `Display` hides user info and the values of query parameters that may be secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(Box<Url>);

impl RedactedUrl {
    /// Wraps a URL.
    pub fn new(url: Url) -> Self {
        Self(Box::new(url))
    }

    /// The real URL, for sending.
    pub fn expose(&self) -> &Url {
        &self.0
    }
}

impl From<Url> for RedactedUrl {
    fn from(url: Url) -> Self {
        Self::new(url)
    }
}

impl From<&Url> for RedactedUrl {
    fn from(url: &Url) -> Self {
        Self::new(url.clone())
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl({self})")
    }
}

/// The printable form of a URL: no user info, secret-looking query values replaced.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() {
        let _ = u.set_username("redacted");
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("redacted"));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let keep = SAFE_QUERY_KEYS.contains(&k.as_ref());
                (
                    k.into_owned(),
                    if keep {
                        v.into_owned()
                    } else {
                        "redacted".to_owned()
                    },
                )
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.set_fragment(None);
    u.to_string()
}

/// Replaces every occurrence of each secret in `text` (for response bodies that echo input).
pub(crate) fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if s.expose().len() >= 4 {
            out = out.replace(s.expose(), "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<redacted> Secret(<redacted>)");
    }

    #[test]
    fn urls_lose_userinfo_and_signed_query_values() {
        let u = Url::parse("https://bob:pw@h.example/v2/x/blobs/uploads/abc?_state=zzz&digest=sha256:1&X-Amz-Signature=sig#frag").unwrap();
        let shown = redact_url(&u);
        assert!(
            !shown.contains("pw")
                && !shown.contains("bob")
                && !shown.contains("sig")
                && !shown.contains("zzz"),
            "{shown}"
        );
        assert!(shown.contains("digest=sha256%3A1"), "{shown}");
    }

    #[test]
    fn scrub_replaces_echoed_secrets() {
        let s = Secret::new("topsecret");
        assert_eq!(
            scrub("bad password topsecret!", &[&s]),
            "bad password <redacted>!"
        );
    }
}
