//! Sending one logical request: authentication, the retry loop, redirects with the SSRF guard,
//! rate-limit bookkeeping and the request counter.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::StreamExt as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response};
use url::Url;

use crate::auth::is_retryable_status;
use crate::client::{Client, Endpoint, RateLimit};
use crate::error::{Error, HttpError, MAX_ERROR_BODY, Result, SHOWN_HEADERS, error_chain};
use crate::http_error::MAX_ERROR_MESSAGE;
use crate::retry::parse_retry_after;
use crate::secret::{RedactedUrl, scrub_credentials};

/// How many redirects a `GET`/`HEAD` may follow.
const MAX_REDIRECTS: usize = 5;

/// A request body.
pub(crate) enum Body {
    /// No body.
    Empty,
    /// A small body that can be resent on retry.
    Bytes(Bytes),
    /// A streamed body: sent once, never retried here (the caller restarts the whole upload).
    Stream(reqwest::Body),
}

/// One logical request to a registry.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) scopes: Vec<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    /// Transient failures are returned, not retried: the caller retries at a higher level
    /// (a whole blob upload or download), and retrying here too would multiply the attempts.
    pub(crate) single_attempt: bool,
    /// A blob transfer: no overall deadline (its floor is the minimum rate, checked by the
    /// reader); every other request must finish, body included, within the document deadline.
    pub(crate) transfer: bool,
}

impl<'a> Request<'a> {
    pub(crate) fn new(
        method: Method,
        url: Url,
        endpoint: &'a Endpoint,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            method,
            url,
            endpoint,
            scopes,
            headers: HeaderMap::new(),
            body: Body::Empty,
            single_attempt: false,
            transfer: false,
        }
    }

    /// Marks a blob download, which has no overall deadline (see [`Request::transfer`]).
    pub(crate) fn transfer(mut self) -> Self {
        self.transfer = true;
        self
    }

    /// Leaves transient failures to the caller (see [`Request::single_attempt`]).
    pub(crate) fn single_attempt(mut self) -> Self {
        self.single_attempt = true;
        self
    }

    pub(crate) fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Self {
        if let Ok(v) = reqwest::header::HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    pub(crate) fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
}

impl Client {
    /// Sends `req`, retrying transient failures (when the body can be resent), re-authenticating
    /// once on `401`, and following `GET`/`HEAD` redirects. Returns the final response whatever
    /// its status; use [`check`] to turn unexpected statuses into errors.
    pub(crate) async fn send(&self, req: Request<'_>) -> Result<Response> {
        let Request {
            method,
            mut url,
            endpoint,
            mut scopes,
            headers,
            body,
            single_attempt,
            transfer,
        } = req;
        let (fixed, mut stream) = match body {
            Body::Empty => (None, None),
            Body::Bytes(b) => (Some(b), None),
            Body::Stream(s) => (None, Some(s)),
        };
        let resendable = stream.is_none();
        let deadline = (!transfer && resendable).then_some(self.inner.document_deadline);
        // Whether transient failures are retried here; a `401` is answered either way.
        let retry_transient = resendable && !single_attempt;
        let policy = &self.inner.retry;
        let mut attempt: u32 = 0;
        let mut auth_retried = false;
        let mut redirects = 0;
        let mut on_registry = true;
        loop {
            attempt += 1;
            let auth = if on_registry {
                self.authorization(endpoint, &scopes).await?
            } else {
                None
            };
            let mut rb = self.request_builder(&method, &url, &headers, auth, deadline)?;
            if let Some(b) = &fixed {
                rb = rb.body(b.clone());
            } else if let Some(s) = stream.take() {
                rb = rb.body(s);
            }
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let shown = RedactedUrl::from(&url);
            tracing::debug!(method = %method, url = %shown, attempt, "registry request");
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(source) => {
                    let err = Error::transport(method.as_str(), &url, source);
                    if retry_transient && attempt < policy.max_attempts && err.is_retryable() {
                        let wait = policy.backoff(attempt, None);
                        tracing::warn!(method = %method, url = %shown, ?wait, "request failed, retrying: {}", error_chain(&err));
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(err);
                }
            };
            self.record_rate_limit(endpoint, &resp);
            let status = resp.status().as_u16();
            if status == 401 && on_registry && !auth_retried {
                auth_retried = true;
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if self
                    .on_unauthorized(endpoint, &mut scopes, challenge.as_deref())
                    .await?
                    && resendable
                {
                    attempt -= 1;
                    continue;
                }
                return Ok(resp);
            }
            if resp.status().is_redirection()
                && (method == Method::GET || method == Method::HEAD)
                && let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok())
            {
                redirects += 1;
                let target = redirect_target(endpoint, &url, loc, redirects)?;
                // Credentials for the registry never go to another host (blob storage, CDNs).
                on_registry = same_origin(&target, &endpoint.base);
                url = target;
                attempt -= 1;
                continue;
            }
            if retry_transient && attempt < policy.max_attempts && is_retryable_status(status) {
                let wait = policy.backoff(attempt, retry_after_of(&resp));
                // Reading the answer names the cause (the registry's error code) and frees the
                // connection for the retry; the whole answer is for `-v`.
                let answer = http_error(resp, method.as_str()).await;
                let code = answer.code().map(|c| format!(" ({c})")).unwrap_or_default();
                tracing::debug!("transient error in full: {answer}");
                tracing::warn!(method = %method, url = %shown, ?wait, "registry answered HTTP {status}{code}, a transient error; retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Ok(resp);
        }
    }

    /// One attempt's request without its body: headers, the credential, the deadline.
    fn request_builder(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        auth: Option<reqwest::header::HeaderValue>,
        deadline: Option<std::time::Duration>,
    ) -> Result<reqwest::RequestBuilder> {
        let mut rb = self
            .inner
            .http
            .for_url(url)?
            .request(method.clone(), url.clone())
            .headers(headers.clone());
        if let Some(a) = auth {
            rb = rb.header(AUTHORIZATION, a);
        }
        if let Some(d) = deadline {
            rb = rb.timeout(d);
        }
        Ok(rb)
    }

    fn record_rate_limit(&self, endpoint: &Endpoint, resp: &Response) {
        let get = |k: &str| {
            resp.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Some(remaining) = get("ratelimit-remaining") {
            let rl = RateLimit {
                registry: endpoint.registry.clone(),
                limit: get("ratelimit-limit"),
                remaining,
            };
            tracing::debug!(registry = %rl.registry, remaining = %rl.remaining, "rate limit");
            if let Ok(mut g) = self.inner.rate_limit.lock() {
                *g = Some(rl);
            }
        }
    }

    /// The `Location` of an upload response, resolved against the request URL and checked.
    pub(crate) fn upload_location(
        &self,
        endpoint: &Endpoint,
        current: &Url,
        resp: &Response,
    ) -> Result<Url> {
        let shown = RedactedUrl::from(current);
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Protocol {
                url: shown.clone(),
                reason: format!(
                    "HTTP {} without a `Location` header",
                    resp.status().as_u16()
                ),
            })?;
        let target = current.join(loc).map_err(|_| Error::Protocol {
            url: shown,
            reason: "invalid `Location` header".into(),
        })?;
        check_redirect(endpoint, &target)?;
        Ok(target)
    }
}

/// Returns `resp` when its status is one of `ok`, else an error describing it.
pub(crate) async fn check(resp: Response, method: &str, ok: &[u16]) -> Result<Response> {
    if ok.contains(&resp.status().as_u16()) {
        return Ok(resp);
    }
    Err(http_error(resp, method).await)
}

/// Builds an [`Error::Http`] from a failed response, reading at most a few KiB of its body.
pub(crate) async fn http_error(resp: Response, method: &str) -> Error {
    let status = resp.status().as_u16();
    let url = RedactedUrl::from(resp.url());
    let headers: Vec<(String, String)> = SHOWN_HEADERS
        .iter()
        .filter_map(|k| {
            resp.headers()
                .get(*k)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    (
                        (*k).to_owned(),
                        scrub_credentials(v).chars().take(200).collect(),
                    )
                })
        })
        .collect();
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= 4096 {
            break;
        }
    }
    let (code, message) = registry_error(&body);
    let text = scrub_credentials(&String::from_utf8_lossy(&body));
    let mut cut: String = text.trim().chars().take(MAX_ERROR_BODY).collect();
    if text.trim().chars().count() > MAX_ERROR_BODY {
        cut.push('…');
    }
    let error = HttpError {
        method: method.to_owned(),
        url,
        status,
        code,
        message,
        headers,
        body: cut,
    };
    tracing::debug!("{}", error.dump());
    Error::Http(Box::new(error))
}

/// The first error's `code` and `message` of a distribution error body
/// (`{"errors":[{"code":…,"message":…}]}`), the message scrubbed and cut to one line.
fn registry_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let Some(first) = json.get("errors").and_then(|e| e.get(0)) else {
        return (None, None);
    };
    let text = |key: &str| {
        first
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let message = text("message").map(|m| {
        let one_line = scrub_credentials(&m.split_whitespace().collect::<Vec<_>>().join(" "));
        let mut cut: String = one_line.chars().take(MAX_ERROR_MESSAGE).collect();
        if one_line.chars().count() > MAX_ERROR_MESSAGE {
            cut.push('…');
        }
        cut
    });
    (text("code").map(str::to_owned), message)
}

/// Where a redirect from `url` to `location` goes, refused past [`MAX_REDIRECTS`] (`redirects`
/// counts this one) or when [`check_redirect`] refuses the target.
fn redirect_target(
    endpoint: &Endpoint,
    url: &Url,
    location: &str,
    redirects: usize,
) -> Result<Url> {
    let shown = RedactedUrl::from(url);
    if redirects > MAX_REDIRECTS {
        return Err(Error::Protocol {
            url: shown,
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        });
    }
    let target = url.join(location).map_err(|_| Error::Protocol {
        url: shown,
        reason: "invalid `Location` header".into(),
    })?;
    check_redirect(endpoint, &target)?;
    Ok(target)
}

/// The wait a `Retry-After` header asks for (seconds or an HTTP date), if any.
fn retry_after_of(resp: &Response) -> Option<std::time::Duration> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The SSRF guard: a registry on a public host may not send the client to a private address.
pub(crate) fn check_redirect(endpoint: &Endpoint, target: &Url) -> Result<()> {
    let refuse = |reason: &str| {
        Err(Error::RedirectRefused {
            url: target.into(),
            reason: reason.to_owned(),
        })
    };
    if !matches!(target.scheme(), "http" | "https") {
        return refuse("only http and https locations are followed");
    }
    let Some(host) = target.host_str() else {
        return refuse("the location has no host");
    };
    if is_private_host(host) && !endpoint.base.host_str().is_some_and(is_private_host) {
        return refuse(
            "the registry is public but the location points at a private or loopback address",
        );
    }
    Ok(())
}

/// Whether a host is `localhost` or a literal loopback, private, link-local or unspecified address.
pub(crate) fn is_private_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.octets()[0] == 0
        }
        Ok(IpAddr::V6(ip)) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return v4.is_loopback()
                    || v4.is_private()
                    || v4.is_link_local()
                    || v4.is_unspecified();
            }
            let seg = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (seg & 0xfe00) == 0xfc00
                || (seg & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_hosts() {
        for p in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "localhost",
            "[::1]",
            "[fd00::1]",
            "[fe80::1]",
            "0.0.0.0",
            "[::ffff:10.0.0.1]",
        ] {
            assert!(is_private_host(p), "{p}");
        }
        for p in [
            "8.8.8.8",
            "registry-1.docker.io",
            "[2001:db8::1]",
            "172.32.0.1",
        ] {
            assert!(!is_private_host(p), "{p}");
        }
    }

    #[test]
    fn ssrf_guard_on_locations() {
        let public = Endpoint::new("ghcr.io", "ghcr.io", false).unwrap();
        let private = Endpoint::new("127.0.0.1:5000", "127.0.0.1:5000", true).unwrap();
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(
            check_redirect(
                &public,
                &u("https://pkg-containers.githubusercontent.com/blob?sig=x")
            )
            .is_ok()
        );
        for bad in [
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/x",
            "http://localhost:8080/",
            "file:///etc/passwd",
        ] {
            let e = check_redirect(&public, &u(bad)).unwrap_err().to_string();
            assert!(e.contains("refusing"), "{bad}: {e}");
        }
        let e = check_redirect(&public, &u("http://10.0.0.1/x?X-Amz-Signature=secret"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
        // A private registry may send the client to other private hosts (a local mirror, a proxy).
        assert!(check_redirect(&private, &u("http://10.0.0.1/x")).is_ok());
    }
}
