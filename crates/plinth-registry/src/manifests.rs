//! Manifest endpoints: `HEAD`, `GET` (size-capped, digest-verified) and `PUT`.

use bytes::Bytes;
use futures_util::StreamExt as _;
use plinth_oci::manifest::MAX_MANIFEST_BYTES;
use plinth_oci::{Digest, ManifestDocument, MediaType, Reference};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};

use crate::auth::{pull_scope, push_scope};
use crate::client::{Client, Endpoint};
use crate::error::{Error, Result, error_chain};
use crate::secret::RedactedUrl;
use crate::transport::{Body, Request, check, http_error};

/// The header carrying the registry's digest of a manifest or blob.
pub const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// What a `HEAD` of a manifest tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestInfo {
    /// The digest (`Docker-Content-Digest`).
    pub digest: Digest,
    /// The media type (`Content-Type`).
    pub media_type: MediaType,
    /// The size in bytes (`Content-Length`), 0 when not sent.
    pub size: u64,
}

/// A manifest or index as the registry served it.
#[derive(Clone, Debug)]
pub struct FetchedManifest {
    /// The raw bytes, unchanged.
    pub bytes: Bytes,
    /// Their digest (verified when the reference had one).
    pub digest: Digest,
    /// The media type, from `Content-Type` or the document.
    pub media_type: MediaType,
}

impl FetchedManifest {
    /// Parses the bytes.
    pub fn document(&self) -> Result<ManifestDocument> {
        Ok(ManifestDocument::parse(
            &self.bytes,
            Some(&self.media_type),
        )?)
    }
}

/// The body of a manifest or index response, refused past [`MAX_MANIFEST_BYTES`] (whatever
/// `Content-Length` said).
pub(crate) async fn read_manifest_body(
    resp: reqwest::Response,
    url: &RedactedUrl,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| Error::transport("GET", url.expose(), source))?;
        if bytes.len() + chunk.len() > MAX_MANIFEST_BYTES {
            return Err(Error::ManifestTooLarge {
                url: url.clone(),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A `404` for a manifest, said the way a person asks: which tag (or digest, or repository) is
/// missing where. The raw response goes to the debug log (`http_error` logs it).
async fn not_found(resp: reqwest::Response, reference: &Reference) -> Error {
    let raw = http_error(resp, "GET").await;
    let code = raw.code().map(str::to_owned);
    let what = match (code.as_deref(), reference.tag(), reference.digest()) {
        (Some("NAME_UNKNOWN"), _, _) => "repository".to_owned(),
        (_, _, Some(digest)) => format!("manifest `{digest}`"),
        (_, Some(tag), None) => format!("tag `{tag}`"),
        (_, None, None) => format!("`{}`", reference.object()),
    };
    Error::NotFound {
        what,
        repository: reference.name(),
        code,
    }
}

fn digest_header(headers: &HeaderMap) -> Option<Digest> {
    headers
        .get(DOCKER_CONTENT_DIGEST)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Client {
    /// `HEAD`s a manifest by tag or digest: its digest, media type and size, or `None` if the
    /// registry does not have it. `HEAD` does not count against Docker Hub's pull limit.
    pub async fn head_manifest(&self, reference: &Reference) -> Result<Option<ManifestInfo>> {
        let endpoints = self.read_endpoints(reference.registry())?;
        let last = endpoints.len() - 1;
        for (i, endpoint) in endpoints.iter().enumerate() {
            let result = self.head_manifest_at(endpoint, reference).await;
            match result {
                Ok(None) if i < last => continue,
                Err(e) if i < last => {
                    tracing::warn!(mirror = %endpoint.base, "mirror failed, falling back: {}", error_chain(&e));
                    continue;
                }
                other => return other,
            }
        }
        Ok(None)
    }

    /// `HEAD`s a manifest at one endpoint (no mirror fallback).
    pub(crate) async fn head_manifest_at(
        &self,
        endpoint: &Endpoint,
        reference: &Reference,
    ) -> Result<Option<ManifestInfo>> {
        self.head_manifest_scoped(
            endpoint,
            reference,
            vec![pull_scope(reference.repository())],
        )
        .await
    }

    /// [`Client::head_manifest_at`] asking for a token with `scopes` (a push asks with its push
    /// scope, so that one token serves every request of the push).
    pub(crate) async fn head_manifest_scoped(
        &self,
        endpoint: &Endpoint,
        reference: &Reference,
        scopes: Vec<String>,
    ) -> Result<Option<ManifestInfo>> {
        let url = endpoint.url(
            reference.repository(),
            &format!("manifests/{}", reference.object()),
        )?;
        let req = Request::new(Method::HEAD, url, endpoint, scopes)
            .header(ACCEPT, MediaType::MANIFEST_ACCEPT);
        let resp = self.send(req).await?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let resp = check(resp, "HEAD", &[200]).await?;
        let digest = match digest_header(resp.headers()) {
            Some(d) => d,
            // Without the header only a pinned reference tells the digest.
            None => reference.digest().cloned().ok_or_else(|| Error::Protocol {
                url: resp.url().into(),
                reason: "the manifest HEAD has no `Docker-Content-Digest` header".into(),
            })?,
        };
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map_or(MediaType::OciManifest, MediaType::parse);
        let size = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Some(ManifestInfo {
            digest,
            media_type,
            size,
        }))
    }

    /// `GET`s a manifest or index by tag or digest, reading at most 4 MiB and verifying the
    /// digest when the reference pins one.
    pub async fn get_manifest(&self, reference: &Reference) -> Result<FetchedManifest> {
        let endpoints = self.read_endpoints(reference.registry())?;
        let last = endpoints.len() - 1;
        let mut last_err = None;
        for (i, endpoint) in endpoints.iter().enumerate() {
            let url = endpoint.url(
                reference.repository(),
                &format!("manifests/{}", reference.object()),
            )?;
            let req = Request::new(
                Method::GET,
                url,
                endpoint,
                vec![pull_scope(reference.repository())],
            )
            .header(ACCEPT, MediaType::MANIFEST_ACCEPT);
            match self.fetch_manifest(req, reference).await {
                Ok(m) => return Ok(m),
                Err(e) if i < last => {
                    tracing::warn!(mirror = %endpoint.base, "mirror failed, falling back: {}", error_chain(&e));
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Config("no endpoint to read from".into())))
    }

    async fn fetch_manifest(
        &self,
        req: Request<'_>,
        reference: &Reference,
    ) -> Result<FetchedManifest> {
        let resp = self.send(req).await?;
        if resp.status().as_u16() == 404 {
            return Err(not_found(resp, reference).await);
        }
        let resp = check(resp, "GET", &[200]).await?;
        let url: RedactedUrl = resp.url().into();
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_BYTES as u64)
        {
            return Err(Error::ManifestTooLarge {
                url,
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let header_digest = digest_header(resp.headers());
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(MediaType::parse);
        let bytes = read_manifest_body(resp, &url).await?;
        let digest = Digest::of(&bytes);
        let expected = reference.digest().or(header_digest.as_ref());
        if let Some(expected) = expected
            && expected != &digest
        {
            return Err(Error::DigestMismatch {
                url,
                expected: expected.clone(),
                actual: digest,
            });
        }
        let media_type = match content_type.filter(MediaType::is_manifest_or_index) {
            Some(m) => m,
            None => ManifestDocument::parse(&bytes, None)?.media_type(),
        };
        Ok(FetchedManifest {
            bytes: Bytes::from(bytes),
            digest,
            media_type,
        })
    }

    /// `PUT`s a manifest under the reference's tag (or digest). Returns the digest of `bytes`
    /// after checking the registry agrees.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        bytes: Bytes,
        media_type: &MediaType,
    ) -> Result<Digest> {
        let endpoint = self.endpoint(reference.registry())?;
        let digest = Digest::of(&bytes);
        let url = endpoint.url(
            reference.repository(),
            &format!("manifests/{}", reference.object()),
        )?;
        let req = Request::new(
            Method::PUT,
            url,
            &endpoint,
            vec![push_scope(reference.repository())],
        )
        .header(CONTENT_TYPE, media_type.as_str())
        .body(Body::Bytes(bytes));
        // A cached tag listing would not show this tag: drop it before (so a failed write,
        // which may still have landed, is not hidden) and after (a listing in between).
        let tagged = reference.tag().is_some();
        if tagged {
            self.forget_tag_listing(reference);
        }
        let resp = self.send(req).await;
        if tagged {
            self.forget_tag_listing(reference);
        }
        let resp = check(resp?, "PUT", &[200, 201, 202]).await?;
        if let Some(d) = digest_header(resp.headers())
            && d != digest
        {
            return Err(Error::DigestMismatch {
                url: resp.url().into(),
                expected: digest,
                actual: d,
            });
        }
        Ok(digest)
    }

    /// Whether the repository of `reference` has the blob.
    pub async fn blob_exists(&self, reference: &Reference, digest: &Digest) -> Result<bool> {
        let endpoint = self.endpoint(reference.registry())?;
        self.blob_exists_at(
            &endpoint,
            reference.repository(),
            digest,
            vec![pull_scope(reference.repository())],
        )
        .await
    }

    pub(crate) async fn blob_exists_at(
        &self,
        endpoint: &Endpoint,
        repository: &str,
        digest: &Digest,
        scopes: Vec<String>,
    ) -> Result<bool> {
        let url = endpoint.url(repository, &format!("blobs/{digest}"))?;
        let resp = self
            .send(Request::new(Method::HEAD, url, endpoint, scopes))
            .await?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(http_error(resp, "HEAD").await),
        }
    }
}
