//! Package URLs (`pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`), percent-encoded as the purl
//! specification says: only `A-Z a-z 0-9 . - _ ~` stay as they are in a name, version or
//! qualifier value; qualifiers are sorted by key and empty ones left out.

/// Builds a purl.
pub fn purl(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, Option<&str>)],
) -> String {
    let mut out = format!("pkg:{kind}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        out.push_str(&encode(ns));
        out.push('/');
    }
    out.push_str(&encode(name));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&encode(version));
    }
    let mut pairs: Vec<(&str, &str)> = qualifiers
        .iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (*k, v)))
        .collect();
    pairs.sort();
    for (i, (key, value)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_as_the_spec_writes_them() {
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "socat",
                "1.7.4.4-2",
                &[("distro", Some("debian-12")), ("arch", Some("amd64"))]
            ),
            "pkg:deb/debian/socat@1.7.4.4-2?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u4",
                &[("arch", Some("amd64")), ("upstream", None)]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64"
        );
        assert_eq!(
            purl("pypi", None, "requests", "2.31.0", &[]),
            "pkg:pypi/requests@2.31.0"
        );
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "tzdata",
                "2024a-0+deb12u1",
                &[("arch", Some("all"))]
            ),
            "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all"
        );
        assert_eq!(
            purl("generic", None, "a b:c", "", &[]),
            "pkg:generic/a%20b%3Ac"
        );
    }
}
