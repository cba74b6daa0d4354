//! Registry authentication: the auth mode learnt from the first `401`'s challenge, Basic, and
//! the Bearer token flow with a token cache per (registry, scope set).
//!
//! There is no `/v2/` probe: the first request goes without credentials, and a registry that
//! wants some answers it with a `401` whose challenge says which (the request is then sent
//! again with them). An anonymous registry thus costs no extra request, and one that wants
//! credentials costs the same as a probe would (one refused request).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use url::Url;

use crate::challenge::{Challenge, Scheme, parse_challenges};
use crate::client::{Client, Endpoint};
use crate::credentials::Credential;
use crate::error::{Error, Result};
use crate::secret::{RedactedUrl, Secret, remember_sent, scrub, scrub_credentials};

/// Tokens are dropped this long before they expire, so a request never carries a stale one.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// The lifetime assumed when the token service does not say (the spec's default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// The `pull` scope of a repository.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// The `pull,push` scope of a repository.
pub(crate) fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

#[derive(Clone, Debug, Default)]
pub(crate) enum AuthMode {
    /// Not learnt yet: requests go without credentials until a `401` says what is wanted.
    #[default]
    Unknown,
    /// HTTP Basic on every request.
    Basic,
    /// Tokens from a token service.
    Bearer { realm: Url, service: Option<String> },
}

struct Token {
    value: Secret,
    expires: Instant,
    scopes: Vec<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &self.value)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// What one registry needs for authentication.
#[derive(Debug, Default)]
pub(crate) struct RegistryAuth {
    mode: AuthMode,
    credential: Option<Credential>,
    tokens: BTreeMap<String, Token>,
}

fn scope_key(scopes: &[String]) -> String {
    let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s.join(" ")
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Client {
    fn auth_state(&self, endpoint: &Endpoint) -> Arc<tokio::sync::Mutex<RegistryAuth>> {
        let mut map = self
            .inner
            .auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(endpoint.base.to_string()).or_default().clone()
    }

    /// The `Authorization` header for a request needing `scopes`: none while the registry's
    /// auth mode is not known (its `401`, handled by [`Client::on_unauthorized`], tells).
    pub(crate) async fn authorization(
        &self,
        endpoint: &Endpoint,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>> {
        let state = self.auth_state(endpoint);
        let mut state = state.lock().await;
        match state.mode.clone() {
            AuthMode::Unknown => Ok(None),
            AuthMode::Basic => match self.credential(endpoint, &mut state).await? {
                Credential::Basic { username, password } => Ok(Some(basic_header(&username, &password))),
                Credential::Anonymous => Ok(None),
                Credential::IdentityToken(_) => Err(Error::Auth {
                    registry: endpoint.registry.clone(),
                    reason: "the registry wants a username and password, but only an identity token is configured; log in again with a password".into(),
                }),
            },
            AuthMode::Bearer { realm, service } => {
                let key = scope_key(scopes);
                let now = Instant::now();
                state.tokens.retain(|_, t| t.expires > now);
                // An exact match, else any token whose scopes cover these (a push token serves
                // the pull-scoped HEADs of the same push).
                let found = state.tokens.get(&key).or_else(|| state.tokens.values().find(|t| scopes_cover(&t.scopes, scopes)));
                if let Some(t) = found {
                    return Ok(Some(bearer_header(&t.value)));
                }
                let credential = self.credential(endpoint, &mut state).await?;
                let token = self.fetch_token(endpoint, &realm, service.as_deref(), scopes, &credential).await?;
                let header = bearer_header(&token.value);
                state.tokens.insert(key, token);
                Ok(Some(header))
            }
        }
    }

    /// Handles a `401`: learns the auth mode from the challenge, drops the stale token and
    /// widens `scopes` when the registry says they were insufficient. Returns whether a retry
    /// can help.
    pub(crate) async fn on_unauthorized(
        &self,
        endpoint: &Endpoint,
        scopes: &mut Vec<String>,
        header: Option<&str>,
    ) -> Result<bool> {
        let challenges = header.map(parse_challenges).unwrap_or_default();
        let state = self.auth_state(endpoint);
        let mut state = state.lock().await;
        let Some(mode) = mode_from_challenges(&challenges, endpoint)? else {
            return Ok(false);
        };
        let was_known = !matches!(state.mode, AuthMode::Unknown);
        state.mode = mode;
        // The refused token is the exact one for these scopes or a broader one that covers
        // them (a push token serving a pull); drop every candidate, or the retry would pick the
        // same refused token again.
        let key = scope_key(scopes);
        state
            .tokens
            .retain(|k, t| *k != key && !scopes_cover(&t.scopes, scopes));
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == Scheme::Bearer) {
            for s in bearer.scopes() {
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
            return Ok(true);
        }
        // Basic: retrying only helps if credentials were not sent the first time.
        Ok(!was_known
            && !matches!(
                self.credential(endpoint, &mut state).await?,
                Credential::Anonymous
            ))
    }

    async fn credential(
        &self,
        endpoint: &Endpoint,
        state: &mut RegistryAuth,
    ) -> Result<Credential> {
        if let Some(c) = &state.credential {
            return Ok(c.clone());
        }
        let c = self.inner.credentials.resolve(&endpoint.registry).await?;
        state.credential = Some(c.clone());
        Ok(c)
    }

    async fn fetch_token(
        &self,
        endpoint: &Endpoint,
        realm: &Url,
        service: Option<&str>,
        scopes: &[String],
        credential: &Credential,
    ) -> Result<Token> {
        let mut url = realm.clone();
        let (request, secrets) = self.token_request(&mut url, service, scopes, credential)?;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(realm = %RedactedUrl::from(realm), scopes = %scopes.join(" "), "fetching registry token");
        let resp = request
            .send()
            .await
            .map_err(|e| Error::transport("GET", &url, e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::transport("GET", &url, e))?;
        let reply = TokenAnswer {
            registry: &endpoint.registry,
            shown: url.into(),
            status,
            bytes: &bytes,
        };
        reply.into_token(credential, &secrets, scopes)
    }

    /// The token request for `credential`: a refresh token is POSTed as a form (OAuth2), the
    /// others ask with a GET carrying the service and scopes in `url`'s query, Basic
    /// credentials in the header. Returns the secrets it sends, to scrub from error bodies.
    fn token_request<'c>(
        &self,
        url: &mut Url,
        service: Option<&str>,
        scopes: &[String],
        credential: &'c Credential,
    ) -> Result<(reqwest::RequestBuilder, Vec<&'c Secret>)> {
        if let Credential::IdentityToken(refresh) = credential {
            remember_sent(refresh);
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("client_id", "plinth")
                .append_pair("refresh_token", refresh.expose());
            if let Some(s) = service {
                form.append_pair("service", s);
            }
            if !scopes.is_empty() {
                form.append_pair("scope", &scopes.join(" "));
            }
            let request = self
                .inner
                .http
                .for_url(url)?
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.finish());
            return Ok((request, vec![refresh]));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let request = self.inner.http.for_url(url)?.get(url.clone());
        Ok(match credential {
            Credential::Basic { username, password } => (
                request.header(AUTHORIZATION, basic_header(username, password)),
                vec![password],
            ),
            _ => (request, Vec::new()),
        })
    }
}

/// What a token service answered.
struct TokenAnswer<'a> {
    registry: &'a str,
    shown: RedactedUrl,
    status: u16,
    bytes: &'a [u8],
}

impl TokenAnswer<'_> {
    /// The token, or an error saying what the service refused (with a hint for 401/403) with
    /// the `secrets` sent scrubbed from its body.
    fn into_token(
        self,
        credential: &Credential,
        secrets: &[&Secret],
        scopes: &[String],
    ) -> Result<Token> {
        let Self {
            registry,
            shown,
            status,
            bytes,
        } = self;
        if status == 401 || status == 403 {
            let hint = match credential {
                Credential::Anonymous => {
                    "the registry requires a login: pass credentials or run `docker login`"
                }
                _ => "the credentials were rejected: check the username and password or token",
            };
            return Err(Error::Auth {
                registry: registry.to_owned(),
                reason: format!("token service `{shown}` answered HTTP {status}; {hint}"),
            });
        }
        if !(200..300).contains(&status) {
            let body: String = String::from_utf8_lossy(bytes)
                .chars()
                .take(crate::error::MAX_ERROR_BODY)
                .collect();
            return Err(Error::Auth {
                registry: registry.to_owned(),
                reason: format!(
                    "token service `{shown}` answered HTTP {status}: {}",
                    scrub_credentials(&scrub(&body, secrets))
                ),
            });
        }
        let reply: TokenReply = serde_json::from_slice(bytes).map_err(|_| Error::Protocol {
            url: shown.clone(),
            reason: "the token service did not return JSON with a `token`".into(),
        })?;
        let value = reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Protocol {
                url: shown.clone(),
                reason: "the token service reply has neither `token` nor `access_token`".into(),
            })?;
        let lifetime = reply
            .expires_in
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
        let expires = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        Ok(Token {
            value: Secret::new(value),
            expires,
            scopes: scopes.to_vec(),
        })
    }
}

fn mode_from_challenges(challenges: &[Challenge], endpoint: &Endpoint) -> Result<Option<AuthMode>> {
    if let Some(b) = challenges.iter().find(|c| c.scheme == Scheme::Bearer) {
        let realm = b.realm().ok_or_else(|| Error::Auth {
            registry: endpoint.registry.clone(),
            reason: "the registry's Bearer challenge has no `realm`".into(),
        })?;
        let realm = endpoint.base.join(realm).map_err(|_| Error::Auth {
            registry: endpoint.registry.clone(),
            reason: "the registry's Bearer challenge has an invalid `realm` URL".into(),
        })?;
        if !matches!(realm.scheme(), "http" | "https") {
            return Err(Error::Auth {
                registry: endpoint.registry.clone(),
                reason: "the token realm is not an http(s) URL".into(),
            });
        }
        return Ok(Some(AuthMode::Bearer {
            realm,
            service: b.param("service").map(str::to_owned),
        }));
    }
    if challenges.iter().any(|c| c.scheme == Scheme::Basic) {
        return Ok(Some(AuthMode::Basic));
    }
    Ok(None)
}

/// Whether the scopes `have` grant everything in `want` (`repository:x:pull,push` covers
/// `repository:x:pull`).
fn scopes_cover(have: &[String], want: &[String]) -> bool {
    let split = |s: &str| {
        s.rsplit_once(':').map(|(res, actions)| {
            (
                res.to_owned(),
                actions.split(',').map(str::to_owned).collect::<Vec<_>>(),
            )
        })
    };
    want.iter().all(|w| {
        let Some((res, actions)) = split(w) else {
            return have.contains(w);
        };
        have.iter()
            .filter_map(|h| split(h))
            .any(|(hres, hact)| hres == res && actions.iter().all(|a| hact.contains(a)))
    })
}

pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 499 | 500 | 502 | 503 | 504 | 522)
}

fn basic_header(username: &str, password: &Secret) -> HeaderValue {
    let raw = base64::engine::general_purpose::STANDARD
        .encode(format!("{username}:{}", password.expose()));
    remember_sent(password);
    remember_sent(&Secret::new(raw.clone()));
    let mut v = HeaderValue::from_str(&format!("Basic {raw}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    v.set_sensitive(true);
    v
}

fn bearer_header(token: &Secret) -> HeaderValue {
    remember_sent(token);
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
    v.set_sensitive(true);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_cover() {
        let have = vec![push_scope("a/b"), pull_scope("c")];
        assert!(scopes_cover(&have, &[pull_scope("a/b")]));
        assert!(scopes_cover(&have, &[push_scope("a/b"), pull_scope("c")]));
        assert!(!scopes_cover(&have, &[push_scope("c")]));
        assert!(!scopes_cover(&have, &[pull_scope("a/bc")]));
        assert!(!scopes_cover(&[], &[pull_scope("x")]));
        assert!(scopes_cover(&have, &[]));
    }

    #[test]
    fn scope_keys_ignore_order_and_duplicates() {
        assert_eq!(
            scope_key(&["b".into(), "a".into(), "b".into()]),
            scope_key(&["a".into(), "b".into()])
        );
    }
}
