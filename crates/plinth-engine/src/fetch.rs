//! URL inputs: downloaded into the store, keyed by content.
//!
//! - A pinned URL (`sha256` in the recipe) whose blob is already in the store is not fetched
//!   again: builds with pinned downloads run offline once cached. A download that does not match
//!   its pin is an error naming the URL and both digests.
//! - An unpinned URL is fetched on every build; its step key uses the content digest, so the same
//!   bytes are a cache hit. When the fetch fails and an earlier build stored the URL, that copy is
//!   used with a warning.
//! - [`UrlMirror`]s rewrite a URL prefix to another base URL or to a local directory, so builds
//!   can run without reaching the original hosts.
//!
//! The store ref `urls/<sha256 of the URL>` keeps the last content of each URL.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;

use plinth_oci::{Descriptor, Digest, MediaType, Store};

use crate::error::{Error, Result};

/// A URL prefix served from somewhere else (`--url-mirror PREFIX=URL-or-dir`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlMirror {
    prefix: String,
    target: MirrorTarget,
}

/// Where a [`UrlMirror`] points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MirrorTarget {
    /// Another base URL: the prefix is replaced by it.
    Url(String),
    /// A local directory: the rest of the URL after the prefix is a path below it.
    Dir(PathBuf),
}

impl UrlMirror {
    /// A mirror of `prefix`.
    pub fn new(prefix: impl Into<String>, target: MirrorTarget) -> Self {
        Self {
            prefix: prefix.into(),
            target,
        }
    }

    /// The URL prefix this mirror replaces.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where the prefix points.
    pub fn target(&self) -> &MirrorTarget {
        &self.target
    }
}

impl FromStr for UrlMirror {
    type Err = Error;

    /// `PREFIX=https://mirror/base/`, `PREFIX=/local/dir` or `PREFIX=file:///local/dir`.
    fn from_str(spec: &str) -> Result<Self> {
        let bad = || Error::InvalidMirror {
            spec: spec.to_owned(),
        };
        let (prefix, target) = spec.split_once('=').ok_or_else(bad)?;
        if prefix.is_empty() || target.is_empty() {
            return Err(bad());
        }
        let target = if let Some(path) = target.strip_prefix("file://") {
            MirrorTarget::Dir(PathBuf::from(path))
        } else if target.starts_with("http://") || target.starts_with("https://") {
            MirrorTarget::Url(target.to_owned())
        } else if target.starts_with('/') || target.starts_with('.') {
            MirrorTarget::Dir(PathBuf::from(target))
        } else {
            return Err(bad());
        };
        Ok(Self::new(prefix, target))
    }
}

/// Where a URL is actually read from.
#[derive(Debug)]
enum Location {
    Url(String),
    File(PathBuf),
}

fn locate(url: &str, mirrors: &[UrlMirror]) -> Location {
    let best = mirrors
        .iter()
        .filter(|m| url.starts_with(&m.prefix))
        .max_by_key(|m| m.prefix.len());
    match best {
        None => Location::Url(url.to_owned()),
        Some(m) => {
            let rest = &url[m.prefix.len()..];
            match &m.target {
                MirrorTarget::Url(base) => Location::Url(format!("{base}{rest}")),
                MirrorTarget::Dir(dir) => {
                    let rest = rest.split(['?', '#']).next().unwrap_or("");
                    Location::File(dir.join(rest.trim_start_matches('/')))
                }
            }
        }
    }
}

/// Downloads URL inputs into a store.
#[derive(Clone, Debug)]
pub(crate) struct Fetcher {
    store: Store,
    mirrors: Vec<UrlMirror>,
}

fn url_ref(url: &str) -> String {
    format!("urls/{}", Digest::of(url.as_bytes()).hex())
}

impl Fetcher {
    pub(crate) fn new(store: &Store, mirrors: Vec<UrlMirror>) -> Self {
        Self {
            store: store.clone(),
            mirrors,
        }
    }

    /// The digest of `url`'s content, now in the store.
    pub(crate) fn fetch(&self, url: &str, pinned: Option<&Digest>) -> Result<Digest> {
        if let Some(pin) = pinned
            && self.store.has_blob(pin)
        {
            tracing::debug!(url, digest = %pin, "pinned URL already in the store");
            return Ok(pin.clone());
        }
        let location = locate(url, &self.mirrors);
        let span = tracing::info_span!("fetch_url", url, ?location);
        let _g = span.enter();
        let fetched = match &location {
            Location::File(path) => self.copy_file(url, path),
            Location::Url(u) => self.download(u),
        };
        let (digest, size) = match fetched {
            Ok(done) => done,
            Err(e) if pinned.is_none() => match self.store.get_ref(&url_ref(url))? {
                Some(old) if self.store.has_blob(&old.digest) => {
                    tracing::warn!(url, error = %e, digest = %old.digest, "fetch failed; using the copy from an earlier build");
                    return Ok(old.digest);
                }
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        };
        if let Some(pin) = pinned
            && pin != &digest
        {
            return Err(Error::UrlChecksum {
                url: url.to_owned(),
                expected: pin.clone(),
                actual: digest,
            });
        }
        self.store.set_ref(
            &url_ref(url),
            &Descriptor::new(
                MediaType::Other("application/octet-stream".into()),
                digest.clone(),
                size,
            ),
        )?;
        Ok(digest)
    }

    fn copy_file(&self, url: &str, path: &std::path::Path) -> Result<(Digest, u64)> {
        let mut file = File::open(path).map_err(|e| Error::Fetch {
            url: url.to_owned(),
            reason: format!("the mirror file `{}` cannot be read: {e}", path.display()),
        })?;
        let mut writer = self.store.blob_writer()?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::io("read", path, e))?;
            if n == 0 {
                break;
            }
            writer
                .write_all(&buf[..n])
                .map_err(|e| Error::io("write into the store", self.store.root(), e))?;
        }
        Ok(writer.commit(None)?)
    }

    fn download(&self, url: &str) -> Result<(Digest, u64)> {
        let fail = |reason: String| Error::Fetch {
            url: url.to_owned(),
            reason,
        };
        let fail = &fail;
        let mut writer = self.store.blob_writer()?;
        let sink = &mut writer;
        let root = self.store.root();
        crate::blocking::block_on(async move {
            let client = reqwest::Client::builder()
                .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| fail(format!("cannot create an HTTP client: {e}")))?;
            let mut response = client
                .get(url)
                .send()
                .await
                .map_err(|e| fail(error_text(e)))?;
            if !response.status().is_success() {
                return Err(fail(format!("the server answered {}", response.status())));
            }
            while let Some(chunk) = response.chunk().await.map_err(|e| fail(error_text(e)))? {
                sink.write_all(&chunk)
                    .map_err(|e| Error::io("write into the store", root, e))?;
            }
            Ok(())
        })
        .unwrap_or_else(|| Err(fail("the HTTP runtime failed or panicked".into())))?;
        Ok(writer.commit(None)?)
    }
}

fn error_text(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_parse_and_rewrite() {
        let m: UrlMirror = "https://example.com/dl/=/srv/mirror".parse().unwrap();
        assert_eq!(m.prefix(), "https://example.com/dl/");
        let u: UrlMirror = "https://example.com/=http://127.0.0.1:8000/x/"
            .parse()
            .unwrap();
        assert!("nothing".parse::<UrlMirror>().is_err());
        assert!("a=relative".parse::<UrlMirror>().is_err());
        let mirrors = vec![u, m];
        match locate("https://example.com/dl/a/b.sh?x=1", &mirrors) {
            Location::File(p) => assert_eq!(p, PathBuf::from("/srv/mirror/a/b.sh")),
            other => panic!("{other:?}"),
        }
        match locate("https://example.com/other", &mirrors) {
            Location::Url(u) => assert_eq!(u, "http://127.0.0.1:8000/x/other"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(locate("https://else/x", &mirrors), Location::Url(u) if u == "https://else/x")
        );
    }
}
