//! [`HttpError`]: an unexpected HTTP answer, shown to people as one sentence (what plinth was
//! doing, on which repository and reference, what the registry said, what to do about it). The
//! full answer, with its headers and body, is [`HttpError::dump`], which goes to the debug log.

use std::fmt;

use crate::secret::RedactedUrl;

/// The largest part of an error response body kept in an error.
pub const MAX_ERROR_BODY: usize = 300;

/// The largest part of the registry's own error message kept in the sentence.
pub(crate) const MAX_ERROR_MESSAGE: usize = 200;

/// An HTTP request that ended with an unexpected status.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The request method.
    pub method: String,
    /// The request URL, redacted.
    pub url: RedactedUrl,
    /// The response status.
    pub status: u16,
    /// The registry error code (`NAME_UNKNOWN`, `BLOB_UNKNOWN`, …), when the body had one.
    pub code: Option<String>,
    /// The registry's error message for that code, when the body had one (cut and scrubbed).
    pub message: Option<String>,
    /// The allow-listed response headers.
    pub headers: Vec<(String, String)>,
    /// The start of the response body (at most [`MAX_ERROR_BODY`] bytes, scrubbed).
    pub body: String,
}

impl HttpError {
    /// The whole answer on one line: request, status, code, allow-listed headers and the start of
    /// the body. This is what `-v` logs; people read the [`Display`](fmt::Display) sentence.
    pub fn dump(&self) -> String {
        let mut out = format!(
            "{} `{}` returned HTTP {}",
            self.method, self.url, self.status
        );
        if let Some(code) = &self.code {
            out.push_str(&format!(" ({code})"));
        }
        for (k, v) in &self.headers {
            out.push_str(&format!("; {k}: {v}"));
        }
        if !self.body.is_empty() {
            out.push_str(&format!("; body: {}", self.body));
        }
        out
    }

    /// What plinth was doing, from the request's method and path (`pushing manifest `1.0` to
    /// `host/team/app``). A URL outside the distribution API (a blob storage redirect) is named
    /// as it is.
    pub fn operation(&self) -> String {
        let url = self.url.expose();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let method = self.method.as_str();
        match ApiPath::parse(url.path()) {
            Some(ApiPath::Base) => format!("checking the registry API at `{host}`"),
            Some(ApiPath::Catalog) => format!("listing the repositories of `{host}`"),
            Some(ApiPath::Tags(repo)) => format!("listing the tags of `{host}/{repo}`"),
            Some(ApiPath::Referrers(repo, digest)) => {
                format!("listing what refers to `{host}/{repo}@{digest}`")
            }
            Some(ApiPath::Upload(repo)) => format!("uploading a blob to `{host}/{repo}`"),
            Some(ApiPath::Blob(repo, digest)) => match method {
                "DELETE" => format!("deleting blob `{digest}` from `{host}/{repo}`"),
                _ => format!("reading blob `{digest}` of `{host}/{repo}`"),
            },
            Some(ApiPath::Manifest(repo, reference)) => {
                let what = if reference.contains(':') {
                    format!("manifest `{reference}`")
                } else {
                    format!("tag `{reference}`")
                };
                match method {
                    "PUT" => format!("pushing {what} to `{host}/{repo}`"),
                    "DELETE" => format!("deleting {what} from `{host}/{repo}`"),
                    _ => format!("reading {what} of `{host}/{repo}`"),
                }
            }
            None => format!("{method} `{}`", self.url),
        }
    }

    /// What a person can do about this answer.
    pub fn advice(&self) -> &'static str {
        match (self.status, self.code.as_deref()) {
            (401, _) | (_, Some("UNAUTHORIZED")) => {
                "the registry wants credentials: log in with `docker login` (plinth reads \
                 `~/.docker/config.json` and its credential helpers) or set \
                 `DOCKER_HUB_USERNAME`/`DOCKER_HUB_PASSWORD`"
            }
            (403, _) | (_, Some("DENIED")) => {
                "the credentials in use may not do this here: check the repository name and that \
                 your account may read (or push to) it"
            }
            (404, Some("BLOB_UNKNOWN")) => {
                "the registry has lost content this image needs: push the image there again"
            }
            (404, Some("NAME_UNKNOWN")) => {
                "check the repository name (`plinth ls` lists a repository's tags)"
            }
            (404, _) => {
                "check the repository and reference (`plinth ls` lists a repository's tags)"
            }
            (405, _) | (_, Some("UNSUPPORTED")) => {
                "this registry does not allow the operation (deletes, or pushes to a mirror, are \
                 often switched off)"
            }
            (413, _) => "the registry refuses content this large",
            (429, _) | (_, Some("TOOMANYREQUESTS")) => {
                "the registry limits how often it may be asked; wait and run the command again"
            }
            (500..=599, _) => {
                "the registry failed on its side and kept failing while plinth retried; try again \
                 later or read the registry's logs"
            }
            (400..=499, _) => {
                "the registry refused what plinth sent; run with `-v` for its full answer"
            }
            _ => "run with `-v` for the registry's full answer",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: the registry answered HTTP {}",
            self.operation(),
            self.status
        )?;
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => write!(f, " {code} ({message})")?,
            (Some(code), None) => write!(f, " {code}")?,
            (None, Some(message)) => write!(f, " ({message})")?,
            (None, None) => {}
        }
        write!(f, "; {}", self.advice())
    }
}

/// The distribution API paths plinth calls, with the repository (and reference) they name.
enum ApiPath<'a> {
    Base,
    Catalog,
    Tags(&'a str),
    Referrers(&'a str, &'a str),
    Upload(&'a str),
    Blob(&'a str, &'a str),
    Manifest(&'a str, &'a str),
}

impl<'a> ApiPath<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix("/v2/")?;
        if rest.is_empty() {
            return Some(Self::Base);
        }
        if rest == "_catalog" {
            return Some(Self::Catalog);
        }
        if let Some(repo) = rest.strip_suffix("/tags/list") {
            return Some(Self::Tags(repo));
        }
        if let Some((repo, _)) = rest.split_once("/blobs/uploads") {
            return Some(Self::Upload(repo));
        }
        // Repository names hold `/`, references do not: split at the last marker.
        for (marker, make) in [
            ("/blobs/", Self::Blob as fn(&'a str, &'a str) -> Self),
            ("/manifests/", Self::Manifest),
            ("/referrers/", Self::Referrers),
        ] {
            if let Some((repo, reference)) = rest.rsplit_once(marker)
                && !reference.contains('/')
            {
                return Some(make(repo, reference));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(method: &str, url: &str, status: u16, code: Option<&str>) -> HttpError {
        HttpError {
            method: method.to_owned(),
            url: RedactedUrl::from(url::Url::parse(url).unwrap()),
            status,
            code: code.map(str::to_owned),
            message: code.map(|_| "said the registry".to_owned()),
            headers: vec![("content-type".into(), "application/json".into())],
            body: r#"{"errors":[]}"#.into(),
        }
    }

    #[test]
    fn the_sentence_names_operation_repository_status_code_and_way_out() {
        let cases = [
            (
                error(
                    "PUT",
                    "http://r:5000/v2/team/app/manifests/1.0",
                    401,
                    Some("UNAUTHORIZED"),
                ),
                "pushing tag `1.0` to `r:5000/team/app` failed: the registry answered HTTP 401 \
                 UNAUTHORIZED (said the registry); the registry wants credentials: log in",
            ),
            (
                error(
                    "GET",
                    "http://r/v2/a/b/c/blobs/sha256:ab",
                    404,
                    Some("BLOB_UNKNOWN"),
                ),
                "reading blob `sha256:ab` of `r/a/b/c` failed: the registry answered HTTP 404 \
                 BLOB_UNKNOWN (said the registry); the registry has lost content",
            ),
            (
                error(
                    "POST",
                    "http://r/v2/x/blobs/uploads/?mount=sha256:1",
                    403,
                    Some("DENIED"),
                ),
                "uploading a blob to `r/x` failed: the registry answered HTTP 403 DENIED (said the \
                 registry); the credentials in use may not do this here",
            ),
            (
                error("HEAD", "http://r/v2/x/manifests/sha256:12", 503, None),
                "reading manifest `sha256:12` of `r/x` failed: the registry answered HTTP 503; \
                 the registry failed on its side",
            ),
            (
                error("GET", "http://r/v2/x/tags/list?n=100", 500, None),
                "listing the tags of `r/x` failed",
            ),
            (
                error("GET", "https://storage.example/blob?sig=secret1", 403, None),
                "GET `https://storage.example/blob?sig=",
            ),
        ];
        for (err, start) in cases {
            let text = err.to_string();
            assert!(
                text.starts_with(start),
                "{text}\n does not start with\n{start}"
            );
            assert!(
                !text.contains("content-type") && !text.contains("body:"),
                "{text}"
            );
            assert!(!text.contains("secret1"), "{text}");
            assert!(
                err.dump()
                    .contains("; content-type: application/json; body: {")
            );
        }
    }
}
