//! Tag listing with `Link` pagination, per-tag digests by `HEAD` (in parallel; semver tags only
//! unless the other tags' are asked for), and an on-disk cache per repository with a TTL, so
//! repeated listings within the TTL send no request. A tag this client writes
//! ([`Client::put_manifest`]) drops its repository's cached listing, so a listing right after a
//! push shows it.
//!
//! Cache files live at `<store>/cache/tags/<registry>/<repository>.json`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt as _, TryStreamExt as _};
use plinth_oci::{Digest, Reference};
use reqwest::Method;
use reqwest::header::LINK;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::pull_scope;
use crate::client::{Client, RateLimit};
use crate::error::{Error, Result};
use crate::secret::RedactedUrl;
use crate::sources::write_atomic;
use crate::transport::{Request, check, check_redirect, http_error};

/// Pages followed at most, a guard against a registry that links in circles.
const MAX_PAGES: usize = 10_000;

/// How to list tags.
#[derive(Clone, Debug)]
pub struct TagListOptions {
    /// `n=` per page; `None` lets the registry choose.
    pub page_size: Option<usize>,
    /// How long a cached listing stays valid; zero turns the cache off.
    pub ttl: Duration,
    /// Ignore the cache and fetch (the result is still written to it).
    pub refresh: bool,
    /// Resolve each semver tag's digest with a manifest `HEAD`.
    pub with_digests: bool,
    /// Resolve the digests of the other tags too (`latest`, `dev`, …): one more `HEAD` each,
    /// which nothing in a release needs, so off by default.
    pub with_other_digests: bool,
}

impl Default for TagListOptions {
    fn default() -> Self {
        Self {
            page_size: Some(1000),
            ttl: Duration::from_secs(300),
            refresh: false,
            with_digests: true,
            with_other_digests: false,
        }
    }
}

/// A tag and the digest it points at (when resolved).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagEntry {
    /// The tag.
    pub tag: String,
    /// Its manifest digest, if resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// A tag that is a semantic version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SemverTag {
    /// The parsed version.
    pub version: semver::Version,
    /// The tag and its digest.
    pub entry: TagEntry,
}

/// The tags of a repository.
#[derive(Clone, Debug)]
pub struct TagListing {
    /// `registry/repository`.
    pub repository: String,
    /// Semver tags, by ascending precedence.
    pub semver: Vec<SemverTag>,
    /// Every other tag (`latest`, `dev`, …), sorted by name.
    pub other: Vec<TagEntry>,
    /// When the registry was asked.
    pub fetched_at: SystemTime,
    /// Whether this came from the cache (no request sent).
    pub from_cache: bool,
    /// The registry's rate-limit figures, when it sent them during this listing.
    pub rate_limit: Option<RateLimit>,
}

impl TagListing {
    /// Every tag, semver ones first.
    pub fn all(&self) -> impl Iterator<Item = &TagEntry> {
        self.semver
            .iter()
            .map(|s| &s.entry)
            .chain(self.other.iter())
    }

    /// The highest semver tag (pre-releases included only if nothing else exists).
    pub fn latest(&self) -> Option<&SemverTag> {
        self.semver
            .iter()
            .rev()
            .find(|s| s.version.pre.is_empty())
            .or_else(|| self.semver.last())
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    fetched_at: u64,
    with_digests: bool,
    /// Whether the tags that are not semver have their digests (older caches: no).
    #[serde(default)]
    with_other_digests: bool,
    tags: Vec<TagEntry>,
}

impl CacheFile {
    /// Whether this listing holds every digest `options` asks for.
    fn serves(&self, options: &TagListOptions) -> bool {
        (self.with_digests || !options.with_digests)
            && (self.with_other_digests || !options.wants_other_digests())
    }
}

impl TagListOptions {
    fn wants_other_digests(&self) -> bool {
        self.with_digests && self.with_other_digests
    }

    /// Whether `tag`'s digest is resolved under these options.
    fn resolves(&self, tag: &str) -> bool {
        self.with_digests && (self.with_other_digests || is_semver(tag))
    }
}

fn is_semver(tag: &str) -> bool {
    semver::Version::parse(tag).is_ok()
}

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Client {
    /// Lists the tags of `repository`'s repository (its tag and digest are ignored). A missing
    /// repository gives an empty listing.
    pub async fn list_tags(
        &self,
        repository: &Reference,
        options: &TagListOptions,
    ) -> Result<TagListing> {
        let cache = self.tag_cache_path(repository);
        if !options.ttl.is_zero()
            && !options.refresh
            && let Some(c) = read_cache(&cache)
            && c.serves(options)
        {
            let fetched_at = UNIX_EPOCH + Duration::from_secs(c.fetched_at);
            if SystemTime::now()
                .duration_since(fetched_at)
                .is_ok_and(|age| age < options.ttl)
            {
                tracing::debug!(repository = %repository.name(), "tag listing from cache");
                return Ok(build_listing(repository, c.tags, fetched_at, true, None));
            }
        }
        let fetched_at = SystemTime::now();
        let names = self.fetch_tag_names(repository, options.page_size).await?;
        let endpoint = self.endpoint(repository.registry())?;
        let entries: Vec<TagEntry> = futures_util::stream::iter(names)
            .map(|tag| {
                let endpoint = &endpoint;
                async move {
                    if !options.resolves(&tag) {
                        return Ok(TagEntry { tag, digest: None });
                    }
                    let r = repository.with_tag(&tag)?;
                    let digest = self.head_manifest_at(endpoint, &r).await?.map(|i| i.digest);
                    Ok::<_, Error>(TagEntry { tag, digest })
                }
            })
            .buffer_unordered(self.inner.tag_jobs)
            .try_collect()
            .await?;
        if !options.ttl.is_zero() {
            let secs = fetched_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let file = CacheFile {
                fetched_at: secs,
                with_digests: options.with_digests,
                with_other_digests: options.wants_other_digests(),
                tags: entries.clone(),
            };
            if let Err(e) = serde_json::to_vec(&file)
                .map_err(std::io::Error::other)
                .and_then(|b| write_atomic(&cache, &b))
            {
                tracing::warn!(path = %cache.display(), "cannot write the tag cache: {e}");
            }
        }
        let rate_limit = self
            .rate_limit()
            .filter(|r| r.registry == repository.registry());
        Ok(build_listing(
            repository, entries, fetched_at, false, rate_limit,
        ))
    }

    /// Drops the cached listing of `repository`'s repository: called around every tag this
    /// client writes, so the next listing asks the registry.
    pub(crate) fn forget_tag_listing(&self, repository: &Reference) {
        let cache = self.tag_cache_path(repository);
        match std::fs::remove_file(&cache) {
            Ok(()) => tracing::debug!(path = %cache.display(), "tag listing cache dropped"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %cache.display(), "cannot drop the stale tag listing cache: {e}")
            }
        }
    }

    fn tag_cache_path(&self, repository: &Reference) -> PathBuf {
        let mut p = self
            .store()
            .root()
            .join("cache")
            .join("tags")
            .join(repository.registry().replace(':', "_"));
        for part in repository.repository().split('/') {
            p.push(part);
        }
        p.set_extension("json");
        p
    }

    async fn fetch_tag_names(
        &self,
        repository: &Reference,
        page_size: Option<usize>,
    ) -> Result<Vec<String>> {
        let endpoint = self.endpoint(repository.registry())?;
        let mut url = endpoint.url(repository.repository(), "tags/list")?;
        if let Some(n) = page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        let mut names = Vec::new();
        for _ in 0..MAX_PAGES {
            let req = Request::new(
                Method::GET,
                url.clone(),
                &endpoint,
                vec![pull_scope(repository.repository())],
            );
            let resp = self.send(req).await?;
            if resp.status().as_u16() == 404 {
                let err = http_error(resp, "GET").await;
                // NAME_UNKNOWN (or a bare 404 from registries without error bodies): no tags yet.
                if err.code().is_none_or(|c| c == "NAME_UNKNOWN") {
                    return Ok(Vec::new());
                }
                return Err(err);
            }
            let resp = check(resp, "GET", &[200]).await?;
            let next = resp
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let shown = RedactedUrl::from(&url);
            let body = resp
                .bytes()
                .await
                .map_err(|source| Error::transport("GET", shown.expose(), source))?;
            let page: TagsPage = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                url: shown.clone(),
                reason: format!("the tag list is not valid JSON: {e}"),
            })?;
            names.extend(page.tags.unwrap_or_default());
            match next {
                Some(link) => {
                    let target: Url = url.join(&link).map_err(|_| Error::Protocol {
                        url: shown,
                        reason: "invalid `Link` header".into(),
                    })?;
                    check_redirect(&endpoint, &target)?;
                    url = target;
                }
                None => return Ok(names),
            }
        }
        Err(Error::Protocol {
            url: url.into(),
            reason: format!("the tag list has more than {MAX_PAGES} pages"),
        })
    }
}

fn read_cache(path: &std::path::Path) -> Option<CacheFile> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn build_listing(
    repository: &Reference,
    entries: Vec<TagEntry>,
    fetched_at: SystemTime,
    from_cache: bool,
    rate_limit: Option<RateLimit>,
) -> TagListing {
    let mut semver = Vec::new();
    let mut other = Vec::new();
    for e in entries {
        match semver::Version::parse(&e.tag) {
            Ok(version) => semver.push(SemverTag { version, entry: e }),
            Err(_) => other.push(e),
        }
    }
    semver.sort_by(|a, b| {
        a.version
            .cmp_precedence(&b.version)
            .then_with(|| a.entry.tag.cmp(&b.entry.tag))
    });
    other.sort_by(|a, b| a.tag.cmp(&b.tag));
    TagListing {
        repository: repository.name(),
        semver,
        other,
        fetched_at,
        from_cache,
        rate_limit,
    }
}

/// The target of the `rel="next"` link in a `Link` header.
pub(crate) fn next_link(header: &str) -> Option<String> {
    for part in header.split(',') {
        let part = part.trim();
        let (Some(start), Some(end)) = (part.find('<'), part.find('>')) else {
            continue;
        };
        if end <= start {
            continue;
        }
        let params = &part[end + 1..];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "rel=\"next\"" || p == "rel=next"
        });
        if is_next {
            return Some(part[start + 1..end].to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"<https://x/prev>; rel="prev", <https://x/n>; rel=next"#).as_deref(),
            Some("https://x/n")
        );
        assert_eq!(next_link("garbage>< ; rel=next"), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn semver_apart_and_ordered() {
        let r: Reference = "127.0.0.1:1/a".parse().unwrap();
        let e = |t: &str| TagEntry {
            tag: t.into(),
            digest: None,
        };
        let l = build_listing(
            &r,
            vec![
                e("1.10.0"),
                e("latest"),
                e("1.2.0"),
                e("1.2.0-rc.1"),
                e("v1"),
                e("2.0.0-dev"),
            ],
            SystemTime::now(),
            false,
            None,
        );
        let order: Vec<&str> = l.semver.iter().map(|s| s.entry.tag.as_str()).collect();
        assert_eq!(order, ["1.2.0-rc.1", "1.2.0", "1.10.0", "2.0.0-dev"]);
        assert_eq!(
            l.other.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(),
            ["latest", "v1"]
        );
        assert_eq!(l.latest().unwrap().entry.tag, "1.10.0");
    }
}
