//! Blob transfers: streaming downloads into the store, and uploads (mount, `POST` + `PATCH` +
//! `PUT`, or one monolithic `PUT`) streamed from the store, restarted cleanly on failure.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;
use plinth_oci::{Descriptor, Digest, Reference};
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use url::Url;

use crate::auth::{pull_scope, push_scope};
use crate::client::MinTransferRate;
use crate::client::{Client, Endpoint};
use crate::error::{Error, Result, error_chain};
use crate::push_source::PushSource;
use crate::reporter::{BlobOutcome, TransferReporter};
use crate::secret::RedactedUrl;
use crate::transport::{Body, Request, check};

impl Client {
    /// Downloads a blob into the store (streamed, verified against the descriptor's digest and
    /// size), unless the store has it already. Returns its size.
    ///
    /// A body longer than the descriptor's size stops one byte past it, and a digest mismatch
    /// is not retried: a registry serving the wrong bytes serves them again.
    pub async fn get_blob(
        &self,
        reference: &Reference,
        blob: &Descriptor,
        reporter: &dyn TransferReporter,
    ) -> Result<u64> {
        let digest = &blob.digest;
        let store = self.store();
        if store.has_blob(digest) {
            reporter.on_blob_done(digest, BlobOutcome::AlreadyLocal);
            return Ok(store.blob_size(digest)?);
        }
        let flight = self.download_lock(digest);
        let turn = flight.lock().await;
        let result = if store.has_blob(digest) {
            // Another pull through this client fetched it while this one waited.
            reporter.on_blob_done(digest, BlobOutcome::AlreadyLocal);
            store.blob_size(digest).map_err(Error::from)
        } else {
            self.download_with_restarts(reference, blob, reporter).await
        };
        drop(turn);
        self.release_download_lock(digest, flight);
        result
    }

    /// The lock held while `digest` is downloaded through this client.
    fn download_lock(&self, digest: &Digest) -> Arc<tokio::sync::Mutex<()>> {
        let mut downloads = self
            .inner
            .downloads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        downloads.entry(digest.clone()).or_default().clone()
    }

    /// Forgets `digest`'s lock once no other pull waits on it (the table holds one reference,
    /// `flight` the other).
    fn release_download_lock(&self, digest: &Digest, flight: Arc<tokio::sync::Mutex<()>>) {
        let mut downloads = self
            .inner
            .downloads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if Arc::strong_count(&flight) <= 2 {
            downloads.remove(digest);
        }
    }

    /// Downloads `blob` from the first endpoint that serves it, restarting the whole download on
    /// transient failures; every restart says why (the error and its causes).
    async fn download_with_restarts(
        &self,
        reference: &Reference,
        blob: &Descriptor,
        reporter: &dyn TransferReporter,
    ) -> Result<u64> {
        let digest = &blob.digest;
        let endpoints = self.read_endpoints(reference.registry())?;
        let mut last_err = None;
        for endpoint in &endpoints {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let started = std::time::Instant::now();
                match self
                    .download_blob(endpoint, reference.repository(), blob, reporter)
                    .await
                {
                    Ok(n) => {
                        reporter.on_blob_done(digest, BlobOutcome::Downloaded);
                        return Ok(n);
                    }
                    Err(e) if attempt < self.inner.retry.max_attempts && e.is_retryable() => {
                        let wait = self.inner.retry.backoff(attempt, e.retry_after());
                        let elapsed = started.elapsed();
                        tracing::warn!(digest = %digest, attempt, ?elapsed, ?wait, "blob download failed, restarting: {}", error_chain(&e));
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => {
                        last_err = Some(e);
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Config("no endpoint to read from".into())))
    }

    async fn download_blob(
        &self,
        endpoint: &Endpoint,
        repository: &str,
        blob: &Descriptor,
        reporter: &dyn TransferReporter,
    ) -> Result<u64> {
        let digest = &blob.digest;
        let url = endpoint.url(repository, &format!("blobs/{digest}"))?;
        let resp = self
            .send(
                Request::new(Method::GET, url, endpoint, vec![pull_scope(repository)])
                    .transfer()
                    // `get_blob` restarts the whole download, mid-body failures included.
                    .single_attempt(),
            )
            .await?;
        let resp = check(resp, "GET", &[200]).await?;
        let shown: RedactedUrl = resp.url().into();
        let too_large = || Error::BlobTooLarge {
            url: shown.clone(),
            digest: digest.clone(),
            size: blob.size,
        };
        if resp.content_length().is_some_and(|n| n > blob.size) {
            return Err(too_large());
        }
        reporter.on_blob_start(digest, blob.size);
        let mut writer = self.store().blob_writer()?;
        let mut floor = RateFloor::new(self.inner.min_rate);
        let mut received = 0u64;
        let mut stream = resp.bytes_stream();
        loop {
            let next = tokio::time::timeout(floor.time_left(), stream.next()).await;
            let chunk = match next {
                Ok(Some(chunk)) => {
                    chunk.map_err(|source| Error::transport("GET", shown.expose(), source))?
                }
                Ok(None) => break,
                Err(_elapsed) => Bytes::new(),
            };
            received += chunk.len() as u64;
            if received > blob.size {
                return Err(too_large());
            }
            if let Some(slow) = floor.record(chunk.len() as u64) {
                return Err(Error::TooSlow {
                    url: shown.clone(),
                    received: slow,
                    min_bytes: self.inner.min_rate.bytes,
                    window_secs: self.inner.min_rate.window.as_secs(),
                });
            }
            std::io::Write::write_all(&mut writer, &chunk)
                .map_err(|e| Error::io("write", self.store().root().join("tmp"), e))?;
            reporter.on_blob_progress(digest, chunk.len() as u64);
        }
        let (_, size) = writer.commit(Some(digest)).map_err(|e| match e {
            plinth_oci::Error::DigestMismatch { expected, actual } => Error::DigestMismatch {
                url: shown.clone(),
                expected,
                actual,
            },
            other => other.into(),
        })?;
        Ok(size)
    }

    /// The scopes a push of `digest` to `repository` needs: push on the repository, plus pull on
    /// the repository it may be mounted from.
    pub(crate) fn blob_push_scopes(repository: &str, mount_from: Option<&str>) -> Vec<String> {
        match mount_from {
            Some(src) => vec![push_scope(repository), pull_scope(src)],
            None => vec![push_scope(repository)],
        }
    }

    /// Sends one blob the registry does not have (its `HEAD` said 404): a mount from
    /// `mount_from` (a repository on the same registry) if given, else a fresh upload streamed
    /// from `source`, restarted in a new session on transient failures. `declared` is the size
    /// the image's descriptor gives it. Returns what happened.
    pub(crate) async fn upload_missing_blob(
        &self,
        endpoint: &Endpoint,
        repository: &str,
        (source, digest, declared): (PushSource<'_>, &Digest, u64),
        mount_from: Option<&str>,
        reporter: Arc<dyn TransferReporter>,
    ) -> Result<BlobOutcome> {
        let size = source.blob_size(digest, declared)?;
        let scopes = Self::blob_push_scopes(repository, mount_from);
        let mut resume_at = None;
        if let Some(src) = mount_from {
            match self
                .mount_blob(endpoint, repository, digest, src, scopes.clone())
                .await
            {
                Ok(None) => {
                    reporter.on_blob_done(digest, BlobOutcome::Mounted);
                    return Ok(BlobOutcome::Mounted);
                }
                Ok(Some(location)) => resume_at = Some(location),
                Err(e) => {
                    tracing::info!(digest = %digest, from = src, "mount failed, uploading instead: {e}")
                }
            }
        }
        let policy = &self.inner.retry;
        let mut attempt = 0;
        let mut reauthorized = false;
        loop {
            attempt += 1;
            let location = match resume_at.take() {
                Some(l) => l,
                None => self.start_upload(endpoint, repository, &scopes).await?,
            };
            reporter.on_blob_start(digest, size);
            let err = match self
                .send_blob(
                    endpoint,
                    location,
                    (source, digest, size),
                    &scopes,
                    reporter.clone(),
                )
                .await
            {
                Ok(()) => {
                    reporter.on_blob_done(digest, BlobOutcome::Uploaded);
                    return Ok(BlobOutcome::Uploaded);
                }
                Err(e) => e,
            };
            // A streamed body cannot be resent by `send`, so a token that expired mid-push
            // shows up here as a 401; `send` has dropped it, so one more go gets a fresh one.
            let unauthorized = err.status() == Some(401) && !reauthorized;
            let why = error_chain(&err);
            if unauthorized {
                reauthorized = true;
                attempt -= 1;
            } else if attempt >= policy.max_attempts || !err.is_retryable() {
                return Err(err);
            }
            let wait = if unauthorized {
                std::time::Duration::ZERO
            } else {
                policy.backoff(attempt, err.retry_after())
            };
            tracing::warn!(digest = %digest, attempt, ?wait, "blob upload failed, restarting it in a new upload session: {why}");
            tokio::time::sleep(wait).await;
            // The failed attempt may have landed: the registry can commit a blob and the answer
            // still get lost on the way back. Never send the bytes twice for nothing.
            if self
                .blob_exists_at(endpoint, repository, digest, scopes.clone())
                .await
                .unwrap_or(false)
            {
                tracing::info!(digest = %digest, "the failed upload had completed after all");
                reporter.on_blob_done(digest, BlobOutcome::Uploaded);
                return Ok(BlobOutcome::Uploaded);
            }
        }
    }

    /// `POST ?mount=&from=`: `None` when mounted (201), else the upload location to continue (202).
    async fn mount_blob(
        &self,
        endpoint: &Endpoint,
        repository: &str,
        digest: &Digest,
        from: &str,
        scopes: Vec<String>,
    ) -> Result<Option<Url>> {
        let mut url = endpoint.url(repository, "blobs/uploads/")?;
        url.query_pairs_mut()
            .append_pair("mount", &digest.to_string())
            .append_pair("from", from);
        let req =
            Request::new(Method::POST, url.clone(), endpoint, scopes).header(CONTENT_LENGTH, "0");
        let resp = check(self.send(req).await?, "POST", &[201, 202]).await?;
        if resp.status().as_u16() == 201 {
            return Ok(None);
        }
        tracing::debug!(digest = %digest, from, "registry did not mount; continuing the upload it opened");
        Ok(Some(self.upload_location(endpoint, &url, &resp)?))
    }

    async fn start_upload(
        &self,
        endpoint: &Endpoint,
        repository: &str,
        scopes: &[String],
    ) -> Result<Url> {
        let url = endpoint.url(repository, "blobs/uploads/")?;
        let req = Request::new(Method::POST, url.clone(), endpoint, scopes.to_vec())
            .header(CONTENT_LENGTH, "0");
        let resp = check(self.send(req).await?, "POST", &[202]).await?;
        self.upload_location(endpoint, &url, &resp)
    }

    /// Sends the bytes to an open upload and commits it with `PUT ?digest=`. Bytes that do not
    /// match `digest` (a layout's blob, hashed as it goes) are never committed: the end of the
    /// body is withheld, the final `PUT` is not sent, and the session is cancelled.
    async fn send_blob(
        &self,
        endpoint: &Endpoint,
        location: Url,
        (source, digest, size): (PushSource<'_>, &Digest, u64),
        scopes: &[String],
        reporter: Arc<dyn TransferReporter>,
    ) -> Result<()> {
        let monolithic = size <= self.inner.monolithic_limit;
        let (body, verdict) = match source.body(digest, size, reporter) {
            Ok(b) => b,
            Err(e) => return Err(self.cancel_upload(endpoint, &location, scopes, e).await),
        };
        let (finish_at, put_body) = if monolithic {
            (location.clone(), Some(body))
        } else {
            let req = Request::new(Method::PATCH, location.clone(), endpoint, scopes.to_vec())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, &size.to_string())
                .body(Body::Stream(body));
            let sent = self.send(req).await;
            // A mismatch cut the body short; that, not the failed request, is the news.
            if let Err(e) = verdict.result() {
                return Err(self.cancel_upload(endpoint, &location, scopes, e).await);
            }
            let resp = check(sent?, "PATCH", &[202, 204]).await?;
            (self.upload_location(endpoint, &location, &resp)?, None)
        };
        let mut put_url = finish_at;
        put_url
            .query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        // `push_blob` restarts the whole upload in a new session on any transient failure.
        let req = Request::new(Method::PUT, put_url, endpoint, scopes.to_vec())
            .header(CONTENT_TYPE, "application/octet-stream")
            .single_attempt();
        let req = match put_body {
            Some(body) => req
                .header(CONTENT_LENGTH, &size.to_string())
                .body(Body::Stream(body)),
            None => req.header(CONTENT_LENGTH, "0"),
        };
        let sent = self.send(req).await;
        if let Err(e) = verdict.result() {
            return Err(self.cancel_upload(endpoint, &location, scopes, e).await);
        }
        check(sent?, "PUT", &[201, 204]).await?;
        Ok(())
    }

    /// Cancels an upload session (`DELETE` of its location) that must not be finished, and
    /// returns `why`. A registry that refuses only keeps an unfinished session, which it expires.
    async fn cancel_upload(
        &self,
        endpoint: &Endpoint,
        location: &Url,
        scopes: &[String],
        why: Error,
    ) -> Error {
        let req = Request::new(Method::DELETE, location.clone(), endpoint, scopes.to_vec());
        match self.send(req).await {
            Ok(resp) if resp.status().is_success() || resp.status().as_u16() == 404 => {}
            Ok(resp) => {
                tracing::debug!(
                    status = resp.status().as_u16(),
                    "the registry did not cancel the upload session"
                );
            }
            Err(e) => tracing::debug!("cannot cancel the upload session: {}", error_chain(&e)),
        }
        why
    }
}

/// Tracks a download against its [`MinTransferRate`]: each window must bring enough bytes.
struct RateFloor {
    rate: MinTransferRate,
    window_start: tokio::time::Instant,
    in_window: u64,
}

impl RateFloor {
    fn new(rate: MinTransferRate) -> Self {
        Self {
            rate,
            window_start: tokio::time::Instant::now(),
            in_window: 0,
        }
    }

    /// How long to wait for the next chunk before the current window must be judged.
    fn time_left(&self) -> std::time::Duration {
        (self.window_start + self.rate.window)
            .saturating_duration_since(tokio::time::Instant::now())
    }

    /// Counts `n` bytes; when a window has ended, returns its byte count if it fell short.
    fn record(&mut self, n: u64) -> Option<u64> {
        self.in_window += n;
        if self.time_left().is_zero() {
            let got = std::mem::take(&mut self.in_window);
            self.window_start = tokio::time::Instant::now();
            if got < self.rate.bytes {
                return Some(got);
            }
        }
        None
    }
}
