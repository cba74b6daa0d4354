//! What the fault proxy records about requests and which faults it injects into which requests.

use std::time::Duration;

use regex::Regex;

/// The distribution API call a request is, from its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// `GET`/`HEAD /v2/`.
    Ping,
    /// `HEAD /v2/<name>/blobs/<digest>`.
    HeadBlob,
    /// `GET /v2/<name>/blobs/<digest>`.
    GetBlob,
    /// `DELETE /v2/<name>/blobs/<digest>`.
    DeleteBlob,
    /// `POST /v2/<name>/blobs/uploads/` without `mount=`.
    StartUpload,
    /// `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`.
    MountBlob,
    /// `PATCH /v2/<name>/blobs/uploads/<id>`.
    PatchUpload,
    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=<digest>` (completes an upload).
    PutBlob,
    /// `GET /v2/<name>/blobs/uploads/<id>`.
    UploadStatus,
    /// `DELETE /v2/<name>/blobs/uploads/<id>`.
    CancelUpload,
    /// `HEAD /v2/<name>/manifests/<reference>`.
    HeadManifest,
    /// `GET /v2/<name>/manifests/<reference>`.
    GetManifest,
    /// `PUT /v2/<name>/manifests/<reference>`.
    PutManifest,
    /// `DELETE /v2/<name>/manifests/<reference>`.
    DeleteManifest,
    /// `GET /v2/<name>/tags/list`.
    ListTags,
    /// `GET /v2/_catalog`.
    Catalog,
    /// `GET /v2/<name>/referrers/<digest>`.
    Referrers,
    /// Anything else.
    Other,
}

impl RequestKind {
    /// Classifies a request; `query` is the part after `?`, if any.
    pub fn classify(method: &str, path: &str, query: Option<&str>) -> Self {
        let method = method.to_ascii_uppercase();
        let Some(rest) = path.strip_prefix("/v2/") else {
            return Self::Other;
        };
        if rest.is_empty() {
            return if matches!(method.as_str(), "GET" | "HEAD") {
                Self::Ping
            } else {
                Self::Other
            };
        }
        if rest.trim_end_matches('/') == "_catalog" {
            return Self::Catalog;
        }
        // Repository names may contain `blobs` or `manifests` as components, so look only at the
        // last segments.
        let segments: Vec<&str> = rest.split('/').collect();
        let n = segments.len();
        let tail = |k: usize| {
            if n > k {
                &segments[n - k..]
            } else {
                &segments[..0]
            }
        };
        if tail(2) == ["tags", "list"] {
            return Self::ListTags;
        }
        let has_mount = query.is_some_and(|q| q.split('&').any(|pair| pair.starts_with("mount=")));
        if tail(3) == ["blobs", "uploads", ""] || tail(2) == ["blobs", "uploads"] {
            return match method.as_str() {
                "POST" if has_mount => Self::MountBlob,
                "POST" => Self::StartUpload,
                _ => Self::Other,
            };
        }
        if n > 3 && tail(3)[..2] == ["blobs", "uploads"] {
            return match method.as_str() {
                "PATCH" => Self::PatchUpload,
                "PUT" => Self::PutBlob,
                "GET" => Self::UploadStatus,
                "DELETE" => Self::CancelUpload,
                _ => Self::Other,
            };
        }
        if n < 3 {
            return Self::Other;
        }
        match (segments[n - 2], method.as_str()) {
            ("blobs", "HEAD") => Self::HeadBlob,
            ("blobs", "GET") => Self::GetBlob,
            ("blobs", "DELETE") => Self::DeleteBlob,
            ("manifests", "HEAD") => Self::HeadManifest,
            ("manifests", "GET") => Self::GetManifest,
            ("manifests", "PUT") => Self::PutManifest,
            ("manifests", "DELETE") => Self::DeleteManifest,
            ("referrers", _) => Self::Referrers,
            _ => Self::Other,
        }
    }
}

/// A fault the proxy injects instead of (or into) forwarding a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status without forwarding (the request body is read and discarded first),
    /// with a `Retry-After: <seconds>` header when given.
    Status {
        /// The status code, e.g. 429 or 503.
        status: u16,
        /// Seconds for the `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// Forward the request, but reset the client's TCP connection once this many bytes of the
    /// request body went upstream (a broken blob upload). A shorter body passes unharmed.
    ResetRequestAfter(u64),
    /// Forward the request, but reset the client's TCP connection once this many bytes of the
    /// response body were sent to it (a broken blob download). A shorter body passes unharmed.
    ResetResponseAfter(u64),
    /// Wait this long, then forward normally.
    Delay(Duration),
    /// Forward the request and let the registry act on it, then close the client's connection
    /// without any answer (the client cannot know whether it worked).
    DropResponse,
    /// Forward the request without its `Authorization` header: the registry refuses it with its
    /// own `401` and challenge, as it would a revoked or expired token the client still holds.
    StripAuthorization,
    /// Answer `200` without forwarding, with a body that never ends and no `Content-Length`
    /// (a hostile registry filling the client's disk).
    EndlessBody,
    /// Answer `200` without forwarding, sending one byte after each pause, forever (a registry
    /// too slow to be useful but never quite silent).
    Trickle(Duration),
    /// Answer with this status without forwarding, with an error body that echoes the request's
    /// `Authorization` header, its query and a password, as careless registries do.
    EchoCredentials(u16),
    /// Answer `307` sending the client to the same path under `/signed/` with a query signed
    /// like blob storage's (`X-Amz-Credential`, `X-Amz-Signature`, `token`, `sig`). The proxy
    /// forwards that path to the registry, which answers 404.
    RedirectSigned,
}

/// The query of [`Fault::RedirectSigned`]'s location; each value is a marker tests look for.
pub const SIGNED_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAPLINTHLEAK%2F20261205&X-Amz-Signature=5ec7e75164a7u4e&token=tokenleak123&sig=sigleak456";

/// What [`Fault::EchoCredentials`] puts in its body besides the request's own credentials.
pub const ECHOED_PASSWORD: &str = "echoed-password-p4ss";

impl Fault {
    /// `429 Too Many Requests` with `Retry-After: <seconds>`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::Status {
            status: 429,
            retry_after: Some(retry_after_secs),
        }
    }

    /// A bare error status such as 500, 502 or 503.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            retry_after: None,
        }
    }
}

/// Which requests a [`Rule`] applies to.
#[derive(Debug, Clone)]
pub struct RequestMatcher {
    method: Option<String>,
    path: Option<Regex>,
    kind: Option<RequestKind>,
}

impl RequestMatcher {
    /// Every request.
    pub fn any() -> Self {
        Self {
            method: None,
            path: None,
            kind: None,
        }
    }

    /// Requests of this API call.
    pub fn kind(kind: RequestKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::any()
        }
    }

    /// Requests with this method (`"*"` for any) whose path and query (`/v2/a/b/blobs/uploads/x?digest=…`)
    /// match `path_regex`. Use [`regex::escape`] for a plain substring. Panics on a bad regex.
    pub fn method_path(method: &str, path_regex: &str) -> Self {
        let method = (method != "*").then(|| method.to_ascii_uppercase());
        let path =
            Regex::new(path_regex).unwrap_or_else(|e| panic!("bad path regex `{path_regex}`: {e}"));
        Self {
            method,
            path: Some(path),
            kind: None,
        }
    }

    /// Whether the request matches.
    pub fn matches(&self, method: &str, path_and_query: &str, kind: RequestKind) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.kind.is_none_or(|k| k == kind)
            && self
                .path
                .as_ref()
                .is_none_or(|re| re.is_match(path_and_query))
    }
}

/// A fault applied to the matching requests: by default to the first one only.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) matcher: RequestMatcher,
    pub(crate) fault: Fault,
    pub(crate) times: Option<u32>,
    pub(crate) skip: u32,
}

impl Rule {
    /// Applies `fault` to the first request that `matcher` matches.
    pub fn new(matcher: RequestMatcher, fault: Fault) -> Self {
        Self {
            matcher,
            fault,
            times: Some(1),
            skip: 0,
        }
    }

    /// Applies `fault` to the first request of this API call.
    pub fn on_kind(kind: RequestKind, fault: Fault) -> Self {
        Self::new(RequestMatcher::kind(kind), fault)
    }

    /// Applies `fault` to the first request with this method (`"*"` for any) and a path-and-query
    /// matching `path_regex`.
    pub fn on(method: &str, path_regex: &str, fault: Fault) -> Self {
        Self::new(RequestMatcher::method_path(method, path_regex), fault)
    }

    /// Applies the fault to the first `count` matching requests.
    pub fn times(mut self, count: u32) -> Self {
        self.times = Some(count);
        self
    }

    /// Applies the fault to every matching request.
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }

    /// Lets the first `count` matching requests through before the fault starts applying (they
    /// count even when another rule's fault applied to them).
    pub fn after(mut self, count: u32) -> Self {
        self.skip = count;
        self
    }
}

/// Identifies a rule added to a proxy, to ask how often it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(pub(crate) usize);

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query, without the `?`.
    pub query: Option<String>,
    /// The API call.
    pub kind: RequestKind,
    /// The status the client got, `None` if it got no answer (reset, dropped, still running).
    pub status: Option<u16>,
    /// The fault applied to it, if any.
    pub fault: Option<Fault>,
    /// Whether it carried an `Authorization` header (its value is never recorded).
    pub authorized: bool,
    /// Its `Content-Length` header, if any.
    pub content_length: Option<u64>,
    /// Its `Content-Range` header, if any.
    pub content_range: Option<String>,
    /// Request-body bytes forwarded upstream (or read and discarded for a status fault).
    pub request_body_bytes: u64,
    /// Response-body bytes sent to the client.
    pub response_body_bytes: u64,
    /// The upstream's response body stopped before its end on the way to the client: the client
    /// went away mid-body (a download it gave up or lost), or a fault cut it.
    pub response_cut_short: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_distribution_calls() {
        use RequestKind::*;
        let cases = [
            ("GET", "/v2/", None, Ping),
            ("HEAD", "/v2/a/b/blobs/sha256:00", None, HeadBlob),
            ("GET", "/v2/a/blobs/sha256:00", None, GetBlob),
            ("POST", "/v2/a/b/blobs/uploads/", None, StartUpload),
            (
                "POST",
                "/v2/a/b/blobs/uploads/",
                Some("mount=sha256:00&from=c"),
                MountBlob,
            ),
            (
                "POST",
                "/v2/a/b/blobs/uploads/",
                Some("from=c&mount=sha256:00"),
                MountBlob,
            ),
            (
                "PATCH",
                "/v2/a/b/blobs/uploads/1234-5678",
                None,
                PatchUpload,
            ),
            (
                "PUT",
                "/v2/a/b/blobs/uploads/1234",
                Some("digest=sha256:00"),
                PutBlob,
            ),
            ("GET", "/v2/a/b/blobs/uploads/1234", None, UploadStatus),
            ("DELETE", "/v2/a/b/blobs/uploads/1234", None, CancelUpload),
            ("PUT", "/v2/a/b/manifests/1.0", None, PutManifest),
            ("HEAD", "/v2/a/manifests/sha256:00", None, HeadManifest),
            ("GET", "/v2/a/b/tags/list", Some("n=10"), ListTags),
            ("GET", "/v2/_catalog", None, Catalog),
            ("GET", "/v2/a/referrers/sha256:00", None, Referrers),
            ("GET", "/metrics", None, Other),
            // Repositories named like API path segments.
            ("GET", "/v2/blobs/manifests/latest", None, GetManifest),
            ("GET", "/v2/a/blobs/x/manifests/latest", None, GetManifest),
            ("HEAD", "/v2/manifests/blobs/sha256:00", None, HeadBlob),
            ("GET", "/v2/x/blobs/uploads/tags/list", None, ListTags),
        ];
        for (method, path, query, want) in cases {
            assert_eq!(
                RequestKind::classify(method, path, query),
                want,
                "{method} {path} {query:?}"
            );
        }
    }

    #[test]
    fn matcher_combines_method_path_and_kind() {
        let m = RequestMatcher::method_path("put", "/manifests/");
        assert!(m.matches("PUT", "/v2/a/manifests/1", RequestKind::PutManifest));
        assert!(!m.matches("GET", "/v2/a/manifests/1", RequestKind::GetManifest));
        let any_method = RequestMatcher::method_path("*", r"mount=");
        assert!(any_method.matches(
            "POST",
            "/v2/a/blobs/uploads/?mount=x",
            RequestKind::MountBlob
        ));
        assert!(RequestMatcher::kind(RequestKind::HeadBlob).matches(
            "HEAD",
            "/v2/x/blobs/y",
            RequestKind::HeadBlob
        ));
        assert!(RequestMatcher::any().matches("GET", "/", RequestKind::Other));
    }
}
