//! The error type of `plinth-registry`. Nothing in here ever formats a credential: URLs are
//! [`RedactedUrl`]s, bodies are cut and scrubbed, and only allow-listed headers are kept.

use std::path::PathBuf;

use plinth_oci::Digest;

pub use crate::http_error::{HttpError, MAX_ERROR_BODY};
use crate::secret::RedactedUrl;

/// Response headers worth showing in an error (nothing that can carry a credential).
pub(crate) const SHOWN_HEADERS: &[&str] = &[
    "content-type",
    "docker-distribution-api-version",
    "docker-content-digest",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "www-authenticate",
    "x-request-id",
];

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry answered with an unexpected HTTP status. Shown as one sentence; the full
    /// answer is logged at debug level (`-v`) when it arrives.
    #[error("{0}")]
    Http(Box<HttpError>),

    /// One side of a copy ([`copy_image`](crate::transfer::copy_image)) failed: reading the
    /// source or writing the destination.
    #[error("failed to {action} {location}")]
    Copy {
        /// `read` or `write`.
        action: &'static str,
        /// The location, as skopeo writes it.
        location: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },

    /// The request could not be sent or the response not read (connection, TLS, timeout).
    #[error("{method} `{url}` failed")]
    Transport {
        /// The request method.
        method: String,
        /// The request URL, redacted.
        url: RedactedUrl,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },

    /// Nothing answered at the registry's address (connection refused, no route, no DNS name, or
    /// the connect timeout passed). Not retried: a registry that is not there stays away for
    /// longer than any backoff, and the way out is a different address.
    #[error("cannot reach the registry at `{url}`; {hint}")]
    Unreachable {
        /// The request URL, redacted.
        url: RedactedUrl,
        /// What to do about it.
        hint: String,
        /// The cause (refused, DNS, timeout).
        #[source]
        source: reqwest::Error,
    },

    /// The registry refused the credentials, or the token service failed.
    #[error("authentication to `{registry}` failed: {reason}")]
    Auth {
        /// The registry.
        registry: String,
        /// What went wrong and how to fix it.
        reason: String,
    },

    /// A credential helper or the docker config file could not give credentials.
    #[error("failed to read credentials for `{registry}`: {reason}")]
    Credentials {
        /// The registry.
        registry: String,
        /// What went wrong and how to fix it.
        reason: String,
    },

    /// The registry answered with something that breaks the distribution protocol.
    #[error("unexpected response from `{url}`: {reason}")]
    Protocol {
        /// The request URL, redacted.
        url: RedactedUrl,
        /// What was wrong.
        reason: String,
    },

    /// A redirect or upload location pointed somewhere plinth refuses to go.
    #[error("refusing to follow `{url}`: {reason}")]
    RedirectRefused {
        /// The target, redacted.
        url: RedactedUrl,
        /// Why.
        reason: String,
    },

    /// Content did not match its digest.
    #[error(
        "content from `{url}` does not match its digest: expected `{expected}`, got `{actual}`"
    )]
    DigestMismatch {
        /// Where it came from, redacted.
        url: RedactedUrl,
        /// The digest asked for.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },

    /// A blob of an OCI layout did not hold what its name says. It was found while the blob was
    /// sent; the end of its body was withheld and the upload session aborted, so the registry
    /// committed nothing under that digest.
    #[error(
        "the OCI layout's blob `{}` is damaged: its name says `{expected}` ({expected_size} bytes) but its content is `{actual}` ({actual_size} bytes); nothing was committed under that digest. Write the layout again from a good copy",
        path.display()
    )]
    LayoutBlobMismatch {
        /// The blob's file.
        path: PathBuf,
        /// The digest its name (and the image's descriptor) says.
        expected: Digest,
        /// The size the image's descriptor says.
        expected_size: u64,
        /// The digest of the bytes read.
        actual: Digest,
        /// How many bytes were read.
        actual_size: u64,
    },

    /// A blob's body was longer than its descriptor's size: the download stopped there.
    #[error(
        "`{url}` sent more than the {size} bytes its descriptor declares for `{digest}`; stopped reading"
    )]
    BlobTooLarge {
        /// Where, redacted.
        url: RedactedUrl,
        /// The blob.
        digest: Digest,
        /// The declared size.
        size: u64,
    },

    /// A blob download was slower than the minimum rate.
    #[error(
        "`{url}` sent {received} bytes in {window_secs} s, under the minimum of {min_bytes} bytes per window; the transfer was aborted"
    )]
    TooSlow {
        /// Where, redacted.
        url: RedactedUrl,
        /// Bytes received in the last window.
        received: u64,
        /// The minimum per window.
        min_bytes: u64,
        /// The window, in seconds.
        window_secs: u64,
    },

    /// The registry has no such tag, manifest or repository (`404`). The raw response is logged
    /// at debug level (`-v`), not shown here.
    #[error("{what} not found in `{repository}`")]
    NotFound {
        /// `tag `X``, `manifest `sha256:…``, or `repository`.
        what: String,
        /// `registry/repository`.
        repository: String,
        /// The registry's error code (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, …), when it sent one.
        code: Option<String>,
    },

    /// A manifest was larger than registries allow.
    #[error("manifest at `{url}` is larger than {limit} bytes; refusing to read it")]
    ManifestTooLarge {
        /// Where, redacted.
        url: RedactedUrl,
        /// The limit.
        limit: usize,
    },

    /// An index has no manifest for a wanted platform.
    #[error("`{reference}` has no image for platform `{platform}`; it offers: {offered}")]
    PlatformNotFound {
        /// The image.
        reference: String,
        /// The wanted platform.
        platform: String,
        /// What the index has.
        offered: String,
    },

    /// After a push, the tag does not point at the pushed digest.
    #[error(
        "after pushing, `{reference}` resolves to `{actual}` instead of the pushed `{expected}`; another push may have raced this one"
    )]
    VerifyFailed {
        /// The tag.
        reference: String,
        /// The pushed digest.
        expected: Digest,
        /// What the registry reports.
        actual: String,
    },

    /// A blob push failed.
    #[error("failed to push blob `{digest}` to `{repository}`")]
    PushBlob {
        /// The blob.
        digest: Digest,
        /// The target repository.
        repository: String,
        /// The cause.
        #[source]
        source: Box<Error>,
    },

    /// A manifest or index push failed.
    #[error("failed to push manifest `{digest}` to `{reference}`")]
    PushManifest {
        /// The manifest.
        digest: Digest,
        /// Where it was going (`host/repo:tag` or `host/repo@digest`).
        reference: String,
        /// The cause.
        #[source]
        source: Box<Error>,
    },

    /// The tag already points at another image and the push was told not to move it.
    #[error(
        "`{tag}` already points at `{existing}`, not at the pushed `{new}`; refusing to move a published tag (push a new version instead)"
    )]
    TagExists {
        /// The tag (`host/repo:tag`).
        tag: String,
        /// The digest it points at in the registry.
        existing: Digest,
        /// The digest that was to be pushed.
        new: Digest,
    },

    /// A push target pinned with a digest names another image than the one pushed.
    #[error(
        "refusing to push `{image}` to `{target}`: the target's digest names another image; drop the `@sha256:…` part or push the image it names"
    )]
    PinnedTargetDiffers {
        /// The target as given.
        target: String,
        /// The digest of the image that was to be pushed.
        image: Digest,
    },

    /// Pushing content that is not in the local store.
    #[error("`{digest}` is not in the local store; build or pull the image first")]
    MissingContent {
        /// The missing content.
        digest: Digest,
    },

    /// Content plinth does not handle.
    #[error("{0}")]
    Unsupported(String),

    /// A client setting is invalid.
    #[error("invalid registry client setting: {0}")]
    Config(String),

    /// A local file operation failed.
    #[error("failed to {action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An error from the OCI core (store, manifest parsing).
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),
}

impl Error {
    /// The HTTP status, when the error is an HTTP one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http(h) => Some(h.status),
            Self::NotFound { .. } => Some(404),
            Self::PushBlob { source, .. } | Self::PushManifest { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The registry error code (`NAME_UNKNOWN`, …), when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Http(h) => h.code.as_deref(),
            Self::NotFound { code, .. } => code.as_deref(),
            Self::PushBlob { source, .. } | Self::PushManifest { source, .. } => source.code(),
            _ => None,
        }
    }

    /// How long the registry asked to wait before trying again (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Http(h) => {
                h.headers
                    .iter()
                    .find(|(k, _)| k == "retry-after")
                    .and_then(|(_, v)| {
                        crate::retry::parse_retry_after(v, std::time::SystemTime::now())
                    })
            }
            Self::PushBlob { source, .. } | Self::PushManifest { source, .. } => {
                source.retry_after()
            }
            _ => None,
        }
    }

    /// A request that failed below HTTP. The cause keeps no URL (reqwest's own `Display` would
    /// print it with its query, which may be signed), and a connection that could not even be
    /// opened becomes [`Error::Unreachable`].
    pub(crate) fn transport(method: &str, url: &url::Url, source: reqwest::Error) -> Self {
        let source = source.without_url();
        if source.is_connect() {
            return Self::Unreachable {
                url: url.into(),
                hint: unreachable_hint(url),
                source,
            };
        }
        Self::Transport {
            method: method.to_owned(),
            url: url.into(),
            source,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether retrying the same request may succeed (ggcr's retry set plus timeouts).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Self::Http(h) => crate::auth::is_retryable_status(h.status),
            Self::TooSlow { .. } => true,
            Self::Transport { source, .. } => {
                source.is_timeout() || source.is_request() || source.is_body() || source.is_decode()
            }
            _ => false,
        }
    }
}

/// An error and its causes on one line, for retry warnings (the one rule of `plinth-oci`).
pub use plinth_oci::error_chain;

/// How to get past a registry that cannot be reached.
fn unreachable_hint(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    if host == plinth_oci::reference::DOCKER_HUB_API_HOST || host.ends_with(".docker.io") {
        "Docker Hub cannot be reached from here: read its images from a mirror with \
         `--registry-mirror HOST`, replace them with `--substitute-image NAME=REF`, or see \
         \"Offline\" in the README"
            .to_owned()
    } else {
        "check that the registry is running and that its address is right".to_owned()
    }
}

/// The result type of `plinth-registry`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
