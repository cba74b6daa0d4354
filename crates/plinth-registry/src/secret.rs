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

/// Secrets this process has sent (passwords, tokens), so that a registry echoing one back in an
/// error body cannot get it printed. Process-wide because error bodies are turned into errors
/// far from the credentials; values shorter than 4 bytes are not kept (they would blank out
/// ordinary text).
static SENT_SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remembers a secret that is about to be sent, for [`scrub_credentials`].
pub(crate) fn remember_sent(secret: &Secret) {
    if secret.expose().len() < 4 {
        return;
    }
    if let Ok(mut sent) = SENT_SECRETS.lock()
        && !sent.iter().any(|s| s == secret.expose())
    {
        sent.push(secret.expose().to_owned());
    }
}

/// Words after which the next token is a credential (`Authorization: Basic …`, `Bearer …`).
const CREDENTIAL_SCHEMES: &[&str] = &["basic", "bearer", "token"];

/// Key names whose values are credentials, in `key=value`, `key: value` and `"key":"value"`.
const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "signature",
    "credential",
    "sig",
    "auth",
    "key",
];

/// Scrubs a text a server sent back (an error body): every secret this process sent, the
/// credential after `Basic`/`Bearer`, values of secret-looking keys (`password=`,
/// `"token":"…"`, `X-Amz-Signature=`), and every URL query value.
pub(crate) fn scrub_credentials(text: &str) -> String {
    let mut out = text.to_owned();
    if let Ok(sent) = SENT_SECRETS.lock() {
        for s in sent.iter() {
            out = out.replace(s.as_str(), "<redacted>");
        }
    }
    scrub_patterns(&out)
}

fn is_value_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace()
        || matches!(
            b,
            b'"' | b'\'' | b'&' | b',' | b';' | b'<' | b'>' | b')' | b']' | b'}'
        ))
}

fn scrub_patterns(text: &str) -> String {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let lower = lower.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(start) = secret_value_start(bytes, lower, i) {
            out.push_str(&text[i..start]);
            out.push_str("<redacted>");
            let mut end = start;
            while end < bytes.len() && is_value_byte(bytes[end]) {
                end += 1;
            }
            i = end;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

/// When a secret value starts at or right after `i` (a scheme word, a secret-looking key, or a
/// query parameter), the index where the value begins.
fn secret_value_start(bytes: &[u8], lower: &[u8], i: usize) -> Option<usize> {
    let word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
    if word_start {
        for scheme in CREDENTIAL_SCHEMES {
            let end = i + scheme.len();
            if lower[i..].starts_with(scheme.as_bytes())
                && bytes.get(end) == Some(&b' ')
                && bytes.get(end + 1).is_some_and(|&b| is_value_byte(b))
            {
                return Some(end + 1);
            }
        }
    }
    // A query parameter: `?name=value` or `&name=value`.
    if matches!(bytes[i], b'?' | b'&') {
        let mut j = i + 1;
        while j < bytes.len()
            && (bytes[j].is_ascii_alphanumeric() || matches!(bytes[j], b'-' | b'_' | b'.'))
        {
            j += 1;
        }
        if j > i + 1
            && bytes.get(j) == Some(&b'=')
            && bytes.get(j + 1).is_some_and(|&b| is_value_byte(b))
        {
            return Some(j + 1);
        }
    }
    // A secret-looking key: `password=`, `password: `, `"password":"`.
    if word_start && bytes[i].is_ascii_alphabetic() {
        let mut j = i;
        while j < bytes.len()
            && (bytes[j].is_ascii_alphanumeric() || matches!(bytes[j], b'-' | b'_'))
        {
            j += 1;
        }
        let key = &lower[i..j];
        if SECRET_KEY_PARTS
            .iter()
            .any(|p| key.windows(p.len()).any(|w| w == p.as_bytes()))
        {
            let mut k = j;
            if bytes.get(k) == Some(&b'"') {
                k += 1;
            }
            if matches!(bytes.get(k), Some(b'=' | b':')) {
                k += 1;
                while bytes.get(k) == Some(&b' ') {
                    k += 1;
                }
                if bytes.get(k) == Some(&b'"') {
                    k += 1;
                }
                // `Authorization: Basic …`: the scheme stays and the credential after it goes.
                let scheme_follows = CREDENTIAL_SCHEMES.iter().any(|scheme| {
                    lower[k..].starts_with(scheme.as_bytes())
                        && bytes.get(k + scheme.len()) == Some(&b' ')
                });
                if !scheme_follows && bytes.get(k).is_some_and(|&b| is_value_byte(b)) {
                    return Some(k);
                }
            }
        }
    }
    None
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
    fn error_bodies_lose_every_credential_shape() {
        remember_sent(&Secret::new("hunter2-echoed"));
        let body = r#"{"errors":[{"code":"DENIED","message":"bad request: Authorization: Basic dXNlcjpodW50ZXIy; bearer eyJhbGciOi.x.y","detail":{"password":"pw-in-json","sent":"hunter2-echoed","redirect":"https://s3.example/b?X-Amz-Credential=AKIA123&X-Amz-Signature=abc123"}}]} token=tok-value"#;
        let shown = scrub_credentials(body);
        for secret in [
            "dXNlcjpodW50ZXIy",
            "eyJhbGciOi",
            "pw-in-json",
            "hunter2-echoed",
            "AKIA123",
            "abc123",
            "tok-value",
        ] {
            assert!(!shown.contains(secret), "{secret} left in {shown}");
        }
        // What helps a person stays.
        assert!(
            shown.contains("DENIED") && shown.contains("bad request"),
            "{shown}"
        );
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
