//! URL inputs: downloaded into the store, keyed by content, by the one [`UrlFetcher`] both build
//! engines use (the embedded engine and the BuildKit backend).
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
//! The store ref `urls/<sha256 of the URL>` keeps the last content of each URL, for every engine
//! that fetches through a [`UrlFetcher`] over that store.

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
enum Origin {
    Url(String),
    File(PathBuf),
}

fn locate(url: &str, mirrors: &[UrlMirror]) -> Origin {
    let best = mirrors
        .iter()
        .filter(|m| url.starts_with(&m.prefix))
        .max_by_key(|m| m.prefix.len());
    match best {
        None => Origin::Url(url.to_owned()),
        Some(m) => {
            let rest = &url[m.prefix.len()..];
            match &m.target {
                MirrorTarget::Url(base) => Origin::Url(format!("{base}{rest}")),
                MirrorTarget::Dir(dir) => {
                    let rest = rest.split(['?', '#']).next().unwrap_or("");
                    Origin::File(dir.join(rest.trim_start_matches('/')))
                }
            }
        }
    }
}

/// Fetches URL inputs into a [`Store`]: the one URL fetcher of plinth, used by the embedded engine
/// for its `File` steps and by the BuildKit backend before it renders a recipe.
///
/// [`fetch`](Self::fetch) returns the digest of the URL's content, whose blob is then in the
/// store:
///
/// - a pinned URL whose blob is already in the store is not fetched (offline rebuilds);
/// - the URL is read through the longest matching [`UrlMirror`] prefix, if any (another base URL
///   or a local directory), else from the URL itself;
/// - a download that does not match its pin is [`Error::UrlChecksum`], naming the URL and both
///   digests; a failed read is [`Error::Fetch`] with the URL and the reason;
/// - an unpinned URL that cannot be fetched falls back, with a warning, to the copy an earlier
///   fetch left under the ref `urls/<sha256 of the URL>` (which every successful fetch updates,
///   keeping the blob from gc).
///
/// ```no_run
/// use plinth_executor::{MirrorTarget, UrlFetcher, UrlMirror};
/// use plinth_oci::Store;
///
/// let store = Store::open_default()?;
/// let fetcher = UrlFetcher::new(
///     &store,
///     vec![UrlMirror::new("https://downloads.example/", MirrorTarget::Dir("/srv/mirror".into()))],
/// );
/// // Read from /srv/mirror/tool.sh.
/// let digest = fetcher.fetch("https://downloads.example/tool.sh", None)?;
/// println!("{}", store.blob_path(&digest).display());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct UrlFetcher {
    store: Store,
    mirrors: Vec<UrlMirror>,
}

fn url_ref(url: &str) -> String {
    format!("urls/{}", Digest::of(url.as_bytes()).hex())
}

impl UrlFetcher {
    /// A fetcher into `store`, reading URLs through `mirrors` (the longest matching prefix wins).
    pub fn new(store: &Store, mirrors: Vec<UrlMirror>) -> Self {
        Self {
            store: store.clone(),
            mirrors,
        }
    }

    /// The store fetched blobs land in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The mirrors URLs are read through.
    pub fn mirrors(&self) -> &[UrlMirror] {
        &self.mirrors
    }

    /// The digest of `url`'s content, now in the store; `pinned` is the recipe's `sha256`.
    pub fn fetch(&self, url: &str, pinned: Option<&Digest>) -> Result<Digest> {
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
            Origin::File(path) => self.copy_file(url, path),
            Origin::Url(u) => self.download(u),
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
        crate::runtime::block_on(async move {
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
    fn fetches_through_a_directory_mirror_checks_pins_and_keeps_the_last_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let mirror = dir.path().join("mirror");
        std::fs::create_dir(&mirror).unwrap();
        std::fs::write(mirror.join("tool.sh"), "v1").unwrap();
        let url = "https://unreachable.invalid/dl/tool.sh";
        let fetcher = UrlFetcher::new(
            &store,
            vec![UrlMirror::new(
                "https://unreachable.invalid/dl/",
                MirrorTarget::Dir(mirror.clone()),
            )],
        );
        assert_eq!(fetcher.fetch(url, None).unwrap(), Digest::of(b"v1"));
        assert_eq!(store.read_blob(&Digest::of(b"v1")).unwrap(), b"v1");
        assert_eq!(
            store.get_ref(&url_ref(url)).unwrap().unwrap().digest,
            Digest::of(b"v1")
        );

        std::fs::write(mirror.join("tool.sh"), "v2").unwrap();
        match fetcher.fetch(url, Some(&Digest::of(b"v3"))) {
            Err(Error::UrlChecksum {
                url: u,
                expected,
                actual,
            }) => {
                assert_eq!(u, url);
                assert_eq!((expected, actual), (Digest::of(b"v3"), Digest::of(b"v2")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.get_ref(&url_ref(url)).unwrap().unwrap().digest,
            Digest::of(b"v1"),
            "a mismatch does not replace the URL's last content"
        );

        // A pinned blob already in the store is not read again.
        std::fs::remove_file(mirror.join("tool.sh")).unwrap();
        assert_eq!(
            fetcher.fetch(url, Some(&Digest::of(b"v1"))).unwrap(),
            Digest::of(b"v1")
        );
        // An unpinned URL that cannot be read falls back to its last content; a pinned one fails.
        assert_eq!(fetcher.fetch(url, None).unwrap(), Digest::of(b"v1"));
        let err = fetcher
            .fetch(url, Some(&Digest::of(b"v4")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("failed to fetch `{url}`: the mirror file `")),
            "{err}"
        );
    }

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
            Origin::File(p) => assert_eq!(p, PathBuf::from("/srv/mirror/a/b.sh")),
            other => panic!("{other:?}"),
        }
        match locate("https://example.com/other", &mirrors) {
            Origin::Url(u) => assert_eq!(u, "http://127.0.0.1:8000/x/other"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(locate("https://else/x", &mirrors), Origin::Url(u) if u == "https://else/x")
        );
    }
}
