//! The archive side of a Debian root: which apt sources serve the suite, and their signed state.
//!
//! The state of an archive is its `InRelease` files: each is signed by Debian's archive keys and
//! lists the hashes of every package index, which in turn list the hash of every package. So the
//! sha256 of the `InRelease` files pins every byte a bootstrap can install, and checking them
//! (one small download per source) is how a second build knows, cheaply, that nothing changed.
//!
//! Signatures are checked with `gpgv` against the keyring apt uses (`debian-archive-keyring`),
//! and the date and validity are read from the signed text only, as apt does.

use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_oci::Digest;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where apt's Debian keyring is installed by `debian-archive-keyring`.
pub const DEBIAN_ARCHIVE_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The archive used when neither `--apt-mirror` nor the machine's apt sources name the suite.
pub const DEFAULT_DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// How long an `InRelease` download may take (a few hundred KiB).
const IN_RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// One `deb URI SUITE` line of the bootstrap (the root's components are added to each).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AptSource {
    /// The archive's base URL, without a trailing `/`.
    pub uri: String,
    /// The suite (`bookworm`, `bookworm-updates`, `bookworm-security`).
    pub suite: String,
}

/// The signed state of one source, as checked before a bootstrap.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReleaseState {
    /// The source.
    pub uri: String,
    /// Its suite.
    pub suite: String,
    /// sha256 of the whole `InRelease` file.
    pub in_release: Digest,
    /// Its `Date:` field, as written.
    pub date: String,
    /// That date in seconds since the epoch.
    pub date_epoch: u64,
}

/// The sources for `suite`: the mirror when given; else the machine's apt sources naming the
/// suite or its `-updates`/`-security` companions; else [`DEFAULT_DEBIAN_MIRROR`].
pub fn sources_for(suite: &str, mirror: Option<&str>, apt_dir: &Path) -> Vec<AptSource> {
    if let Some(m) = mirror {
        return vec![AptSource {
            uri: m.trim_end_matches('/').to_owned(),
            suite: suite.to_owned(),
        }];
    }
    let mut found: Vec<AptSource> = machine_sources(apt_dir)
        .into_iter()
        .filter(|s| {
            s.suite == suite
                || s.suite == format!("{suite}-updates")
                || s.suite == format!("{suite}-security")
        })
        .collect();
    found.sort();
    found.dedup();
    if found.iter().any(|s| s.suite == suite) {
        found
    } else {
        vec![AptSource {
            uri: DEFAULT_DEBIAN_MIRROR.to_owned(),
            suite: suite.to_owned(),
        }]
    }
}

/// Every `deb` entry of `<apt_dir>/sources.list` and `<apt_dir>/sources.list.d/*.{list,sources}`.
fn machine_sources(apt_dir: &Path) -> Vec<AptSource> {
    let mut files: Vec<PathBuf> = vec![apt_dir.join("sources.list")];
    if let Ok(entries) = std::fs::read_dir(apt_dir.join("sources.list.d")) {
        let mut more: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        match file.extension().and_then(|e| e.to_str()) {
            Some("sources") => out.extend(parse_deb822(&text)),
            Some("list") => out.extend(parse_one_line(&text)),
            _ => {}
        }
    }
    out
}

/// `deb [options] URI SUITE COMPONENT…` lines.
fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        if words.next() != Some("deb") {
            continue;
        }
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            out.push(AptSource {
                uri: uri.trim_end_matches('/').to_owned(),
                suite: suite.to_owned(),
            });
        }
    }
    out
}

/// deb822 stanzas (`Types:`, `URIs:`, `Suites:`), skipping `Enabled: no`.
fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| -> Vec<String> {
            stanza
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.split_whitespace().map(str::to_owned).collect())
                })
                .unwrap_or_default()
        };
        if !field("Types").iter().any(|t| t == "deb")
            || field("Enabled")
                .iter()
                .any(|e| e.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        for uri in field("URIs") {
            for suite in field("Suites") {
                out.push(AptSource {
                    uri: uri.trim_end_matches('/').to_owned(),
                    suite,
                });
            }
        }
    }
    out
}

/// Why a source's state could not be read: the network (a build may fall back on the state an
/// earlier build saw) or the archive itself (never ignored).
pub(crate) enum StateError {
    Unreachable(Error),
    Refused(Error),
}

/// Downloads and verifies the `InRelease` of `source`.
pub(crate) fn fetch_state(
    source: &AptSource,
    keyring: &Path,
    work: &Path,
) -> std::result::Result<ReleaseState, StateError> {
    let url = in_release_url(source);
    let bytes = download(&url, IN_RELEASE_TIMEOUT)
        .and_then(|body| body.ok_or_else(|| not_found(&url)))
        .map_err(StateError::Unreachable)?;
    verify_in_release(source, &url, &bytes, keyring, work).map_err(StateError::Refused)
}

/// The URL of a source's `InRelease`.
pub(crate) fn in_release_url(source: &AptSource) -> String {
    format!("{}/dists/{}/InRelease", source.uri, source.suite)
}

/// Downloads and verifies the `InRelease` of `source`, returning its state and signed text;
/// `None` when the archive has no such suite (404).
pub(crate) fn fetch_release(
    source: &AptSource,
    keyring: &Path,
    work: &Path,
) -> Result<Option<SignedRelease>> {
    let url = in_release_url(source);
    let Some(bytes) = download(&url, IN_RELEASE_TIMEOUT)? else {
        return Ok(None);
    };
    verify_signed_release(source, &url, &bytes, keyring, work).map(Some)
}

/// A verified `InRelease`: its state and the text its signature covers.
pub(crate) struct SignedRelease {
    pub(crate) state: ReleaseState,
    pub(crate) text: String,
}

impl SignedRelease {
    /// The sha256 and size the signed text lists for `path` (relative to `dists/SUITE/`).
    pub(crate) fn sha256_of(&self, path: &str) -> Option<(Digest, u64)> {
        let section = self.text.split("\nSHA256:\n").nth(1)?;
        section
            .lines()
            .take_while(|l| l.starts_with(' '))
            .find_map(|line| {
                let mut words = line.split_whitespace();
                let (hash, size, name) = (words.next()?, words.next()?, words.next()?);
                if name != path {
                    return None;
                }
                let digest = format!("sha256:{hash}").parse().ok()?;
                Some((digest, size.parse().ok()?))
            })
    }
}

/// Checks the signature of an `InRelease` file and reads its signed fields.
pub(crate) fn verify_in_release(
    source: &AptSource,
    url: &str,
    bytes: &[u8],
    keyring: &Path,
    work: &Path,
) -> Result<ReleaseState> {
    verify_signed_release(source, url, bytes, keyring, work).map(|r| r.state)
}

/// [`verify_in_release`], keeping the signed text.
fn verify_signed_release(
    source: &AptSource,
    url: &str,
    bytes: &[u8],
    keyring: &Path,
    work: &Path,
) -> Result<SignedRelease> {
    let refused = |reason: String| Error::DebianArchive {
        url: url.to_owned(),
        reason,
    };
    if !keyring.is_file() {
        return Err(refused(format!(
            "the keyring `{}` does not exist; install it with `apt-get install debian-archive-keyring`",
            keyring.display()
        )));
    }
    let signed = work.join(format!("{}.InRelease", source.suite));
    let text_path = work.join(format!("{}.Release", source.suite));
    std::fs::write(&signed, bytes).map_err(|e| Error::io("write", &signed, e))?;
    let _ = std::fs::remove_file(&text_path);
    let out = Command::new("gpgv")
        .arg("--keyring")
        .arg(keyring)
        .arg("--output")
        .arg(&text_path)
        .arg(&signed)
        .output()
        .map_err(|e| {
            refused(format!(
                "cannot run `gpgv` ({e}); install it with `apt-get install gpgv`"
            ))
        })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why: Vec<&str> = why.lines().filter(|l| !l.trim().is_empty()).collect();
        return Err(refused(format!(
            "its signature does not verify against `{}` (gpgv: {}); the mirror is corrupt or not Debian's",
            keyring.display(),
            why.join(" / ")
        )));
    }
    // Only the signed text counts: a cleartext-signed file may carry unsigned lines around it.
    let text = std::fs::read_to_string(&text_path).map_err(|e| Error::io("read", &text_path, e))?;
    let field = |name: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|r| r.strip_prefix(':'))
                .map(|v| v.trim().to_owned())
        })
    };
    let date = field("Date").ok_or_else(|| refused("its signed text has no `Date:`".into()))?;
    let date_epoch = crate::time::parse_rfc2822(&date)
        .ok_or_else(|| refused(format!("cannot read its date `{date}`")))?;
    if let Some(valid_until) = field("Valid-Until")
        && let Some(until) = crate::time::parse_rfc2822(&valid_until)
        && until < crate::time::now_epoch()
    {
        return Err(refused(format!(
            "it expired at {valid_until} (Valid-Until); the mirror is out of date"
        )));
    }
    let names_suite = field("Suite").as_deref() == Some(&source.suite)
        || field("Codename").as_deref() == Some(&source.suite);
    if !names_suite {
        return Err(refused(format!(
            "it is signed for suite `{}` (codename `{}`), not `{}`",
            field("Suite").unwrap_or_default(),
            field("Codename").unwrap_or_default(),
            source.suite
        )));
    }
    let state = ReleaseState {
        uri: source.uri.clone(),
        suite: source.suite.clone(),
        in_release: Digest::of(bytes),
        date,
        date_epoch,
    };
    Ok(SignedRelease { state, text })
}

fn not_found(url: &str) -> Error {
    Error::DebianUnreachable {
        url: url.to_owned(),
        reason: "the server answered 404 Not Found".into(),
    }
}

/// The body of `url`; `None` when the server answers 404.
pub(crate) fn download(url: &str, timeout: std::time::Duration) -> Result<Option<Vec<u8>>> {
    let fail = |reason: String| Error::DebianUnreachable {
        url: url.to_owned(),
        reason,
    };
    plinth_executor::block_on(async {
        let client = reqwest::Client::builder()
            .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(15))
            .timeout(timeout)
            .build()
            .map_err(|e| fail(format!("cannot create an HTTP client: {e}")))?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(fail(format!("the server answered {}", response.status())));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        Ok(Some(body.to_vec()))
    })
    .unwrap_or_else(|| Err(fail("the HTTP runtime failed or panicked".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_apt_source_formats() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sources.list.d")).unwrap();
        std::fs::write(
            dir.path().join("sources.list"),
            "# comment\ndeb [signed-by=/k.gpg arch=amd64] http://m.example/debian/ bookworm main\ndeb-src http://m.example/debian bookworm main\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sources.list.d/debian.sources"),
            "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates trixie\nComponents: main\n\n\
             Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
             Types: deb\nURIs: http://off.example\nSuites: bookworm\nEnabled: no\n",
        )
        .unwrap();
        let got = sources_for("bookworm", None, dir.path());
        let pairs: Vec<(&str, &str)> = got
            .iter()
            .map(|s| (s.uri.as_str(), s.suite.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("http://deb.debian.org/debian", "bookworm"),
                ("http://deb.debian.org/debian", "bookworm-updates"),
                ("http://m.example/debian", "bookworm"),
                (
                    "http://security.debian.org/debian-security",
                    "bookworm-security"
                ),
            ]
        );
        let sid = sources_for("sid", None, dir.path());
        assert_eq!(sid.len(), 1);
        assert_eq!(sid[0].uri, DEFAULT_DEBIAN_MIRROR);
        let mirror = sources_for("bookworm", Some("http://127.0.0.1:9/debian/"), dir.path());
        assert_eq!(
            mirror,
            [AptSource {
                uri: "http://127.0.0.1:9/debian".into(),
                suite: "bookworm".into()
            }]
        );
    }
}
