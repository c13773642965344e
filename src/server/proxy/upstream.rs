//! The upstream registry's HTTP client: reqwest (rustls) with timeouts, and the
//! authentication registry:2's proxy does (Distribution's `registry/client/auth`):
//! anonymous, HTTP basic with `proxy.username`/`proxy.password`, and Docker's token flow
//! (a `401` with a `Bearer` challenge, a token from its `realm` for
//! `repository:<name>:pull`, the request again with the token). Tokens are cached per
//! scope until they expire.
//!
//! Nothing here puts the password, a token or the upstream's URLs in an error a client
//! sees: [`UpstreamError`] messages name what happened; the URLs go to the log only.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use super::challenge;
use crate::config::ProxyConfig;
use crate::sign::crypto::base64_encode;

/// Tokens kept at most (one per repository pulled through); expired ones go first.
const MAX_TOKENS: usize = 10_000;

/// A token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(10);

/// Shortest token lifetime assumed (Distribution's `minimumTokenLifetimeSeconds`).
const MIN_TOKEN_LIFETIME: u64 = 60;

/// Largest token-server answer read.
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// Why a request to the upstream failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpstreamError {
    /// Nothing usable came back: connection refused or reset, DNS, TLS, a timeout.
    Unreachable(String),
    /// The upstream (or its token server) refused the proxy's credentials, or wants
    /// some the proxy does not have.
    Denied(String),
    /// The upstream answered something unusable (a 5xx, a bad token response, content
    /// that does not match its digest).
    Bad(String),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(m) | Self::Denied(m) | Self::Bad(m) => f.write_str(m),
        }
    }
}

impl UpstreamError {
    /// A transport failure, described without its URL.
    pub(crate) fn transport(e: &reqwest::Error) -> Self {
        let what = if e.is_timeout() {
            "timed out (proxy.timeout)"
        } else if e.is_connect() {
            "could not connect"
        } else if e.is_body() || e.is_decode() {
            "broke off while sending"
        } else if e.is_redirect() {
            "redirected too often"
        } else {
            "failed"
        };
        // The source chain (e.g. "connection refused") without the URL reqwest adds.
        let mut cause = String::new();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            cause = s.to_string();
            src = s.source();
        }
        if cause.is_empty() {
            Self::Unreachable(format!("the request to the upstream registry {what}"))
        } else {
            Self::Unreachable(format!(
                "the request to the upstream registry {what}: {cause}"
            ))
        }
    }
}

/// The authentication the upstream asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scheme {
    /// Not known yet: the first request goes without credentials.
    Unknown,
    /// HTTP basic.
    Basic,
    /// Docker's token flow.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

struct Token {
    value: String,
    renew_at: Instant,
}

/// `proxy.username` and `proxy.password`; `Debug` shows neither.
struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    fn basic(&self) -> Option<HeaderValue> {
        let mut v = HeaderValue::from_str(&format!(
            "Basic {}",
            base64_encode(format!("{}:{}", self.username, self.password).as_bytes())
        ))
        .ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

/// The client of one upstream registry.
pub(crate) struct Upstream {
    base: String,
    http: reqwest::Client,
    credentials: Option<Credentials>,
    timeout: Duration,
    scheme: Mutex<Scheme>,
    tokens: Mutex<HashMap<String, Token>>,
    /// One token request at a time, so a burst of requests asks once.
    token_fetch: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base", &self.base)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The status of a response, for messages.
fn status_text(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

impl Upstream {
    /// A client for `config`.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots, ...).
    pub(crate) fn new(config: &ProxyConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "s3driver/",
                env!("CARGO_PKG_VERSION"),
                " (pull-through cache)"
            ))
            .connect_timeout(config.timeout)
            .read_timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| format!("cannot build the upstream HTTP client: {e}"))?;
        let credentials = match (&config.username, &config.password) {
            (Some(u), Some(p)) => Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => None,
        };
        Ok(Self {
            base: config.remote_url.clone(),
            http,
            credentials,
            timeout: config.timeout,
            scheme: Mutex::new(Scheme::Unknown),
            tokens: Mutex::new(HashMap::new()),
            token_fetch: tokio::sync::Mutex::new(()),
        })
    }

    /// `proxy.remoteurl`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `proxy.timeout`.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `method` to `<remoteurl><path>` (`/v2/...`) for repository `repo`, with
    /// the credentials the upstream wants, learning them from a `401` and trying once
    /// more. With `whole` the request and its body must finish within `proxy.timeout`
    /// (manifests, tag lists); otherwise only each wait is bounded by it (blobs).
    ///
    /// # Errors
    /// [`UpstreamError::Unreachable`] for transport failures; [`UpstreamError::Denied`]
    /// when the credentials are refused or missing. Any other status is returned as a
    /// response for the caller to judge.
    pub(crate) async fn send(
        &self,
        method: Method,
        repo: &str,
        path: &str,
        accept: Option<&str>,
        whole: bool,
    ) -> Result<Response, UpstreamError> {
        let url = format!("{}{path}", self.base);
        let scope = format!("repository:{repo}:pull");
        let mut retried = false;
        loop {
            let auth = self.authorization(&scope).await?;
            let sent_auth = auth.is_some();
            let mut rb = self.http.request(method.clone(), &url);
            if let Some(a) = accept {
                rb = rb.header(ACCEPT, a);
            }
            if let Some(a) = auth {
                rb = rb.header(AUTHORIZATION, a);
            }
            if whole {
                rb = rb.timeout(self.timeout);
            }
            let resp = rb.send().await.map_err(|e| {
                tracing::warn!(%url, error = %e, "upstream request failed");
                UpstreamError::transport(&e)
            })?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            let challenges: Vec<challenge::Challenge> = resp
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(challenge::parse)
                .collect();
            let learned = challenges
                .iter()
                .find(|c| c.scheme == "bearer" && c.params.contains_key("realm"))
                .map(|c| Scheme::Bearer {
                    realm: c.params["realm"].clone(),
                    service: c.params.get("service").cloned(),
                })
                .or_else(|| {
                    challenges
                        .iter()
                        .any(|c| c.scheme == "basic")
                        .then_some(Scheme::Basic)
                });
            tracing::debug!(%url, ?learned, "upstream asked for authentication");
            let Some(learned) = learned else {
                return Err(UpstreamError::Denied(
                    "the upstream registry answered 401 without a challenge the proxy can answer (Basic or Bearer)".to_owned(),
                ));
            };
            if learned == Scheme::Basic && self.credentials.is_none() {
                return Err(UpstreamError::Denied(
                    "the upstream registry wants credentials: set proxy.username and proxy.password"
                        .to_owned(),
                ));
            }
            let changed = {
                let mut s = self.scheme.lock().unwrap_or_else(PoisonError::into_inner);
                let changed = *s != learned;
                *s = learned.clone();
                changed
            };
            self.forget_token(&scope);
            if retried || (sent_auth && !changed && learned == Scheme::Basic) {
                let who = if self.credentials.is_some() {
                    "refused the proxy's credentials (proxy.username, proxy.password) for this repository"
                } else {
                    "refused anonymous access to this repository; set proxy.username and proxy.password if it needs them"
                };
                tracing::warn!(%url, "the upstream registry {who}");
                return Err(UpstreamError::Denied(format!(
                    "the upstream registry {who}"
                )));
            }
            retried = true;
        }
    }

    /// The `Authorization` for `scope` as far as the upstream's scheme is known.
    async fn authorization(&self, scope: &str) -> Result<Option<HeaderValue>, UpstreamError> {
        let scheme = self
            .scheme
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match scheme {
            // Credentials go only where the upstream asked for them.
            Scheme::Unknown => Ok(None),
            Scheme::Basic => Ok(self.credentials.as_ref().and_then(Credentials::basic)),
            Scheme::Bearer { realm, service } => {
                let token = self.token(&realm, service.as_deref(), scope).await?;
                let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    UpstreamError::Bad(
                        "the upstream's token server sent a token that is not a valid header value"
                            .to_owned(),
                    )
                })?;
                v.set_sensitive(true);
                Ok(Some(v))
            }
        }
    }

    fn cached_token(&self, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens
            .get(scope)
            .filter(|t| t.renew_at > Instant::now())
            .map(|t| t.value.clone())
    }

    fn forget_token(&self, scope: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(scope);
    }

    /// A token for `scope`: the cached one until it is about to expire, else a new one
    /// from `realm`.
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, UpstreamError> {
        if let Some(t) = self.cached_token(scope) {
            return Ok(t);
        }
        let _one = self.token_fetch.lock().await;
        if let Some(t) = self.cached_token(scope) {
            return Ok(t);
        }
        let (value, lifetime) = self.fetch_token(realm, service, scope).await?;
        let renew_at = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN.min(lifetime / 2));
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MAX_TOKENS {
            let now = Instant::now();
            tokens.retain(|_, t| t.renew_at > now);
            if tokens.len() >= MAX_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(
            scope.to_owned(),
            Token {
                value: value.clone(),
                renew_at,
            },
        );
        Ok(value)
    }

    /// Asks the token server at `realm` for a `scope` token (Docker's token
    /// authentication: `GET realm?service=..&scope=..`, with basic credentials when
    /// configured). Returns the token and its lifetime.
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<(String, Duration), UpstreamError> {
        let bad_realm = || {
            UpstreamError::Bad(
                "the upstream registry's Bearer challenge names a realm that is not an http(s) URL"
                    .to_owned(),
            )
        };
        let mut url = reqwest::Url::parse(realm).map_err(|_| bad_realm())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad_realm());
        }
        if url.scheme() == "http" && self.base.starts_with("https:") && self.credentials.is_some() {
            return Err(UpstreamError::Denied(
                "the upstream registry (https) sends the proxy to a plain-http token server; the proxy's credentials are not sent there".to_owned(),
            ));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", scope);
            if let Some(c) = &self.credentials {
                q.append_pair("account", &c.username);
            }
        }
        let mut rb = self.http.get(url.clone()).timeout(self.timeout);
        if let Some(h) = self.credentials.as_ref().and_then(Credentials::basic) {
            rb = rb.header(AUTHORIZATION, h);
        }
        let resp = rb.send().await.map_err(|e| {
            tracing::warn!(realm = %url.as_str().split('?').next().unwrap_or_default(), error = %e, "token request failed");
            UpstreamError::transport(&e)
        })?;
        let status = resp.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            let who = if self.credentials.is_some() {
                "refused the proxy's credentials (proxy.username, proxy.password)"
            } else {
                "refused an anonymous token; set proxy.username and proxy.password"
            };
            tracing::warn!(realm, "the upstream's token server {who}");
            return Err(UpstreamError::Denied(format!(
                "the upstream's token server {who}"
            )));
        }
        if !status.is_success() {
            return Err(UpstreamError::Bad(format!(
                "the upstream's token server answered {}",
                status_text(status)
            )));
        }
        let body = read_limited(resp, MAX_TOKEN_RESPONSE)
            .await?
            .ok_or_else(|| {
                UpstreamError::Bad("the upstream's token server sent an oversized answer".into())
            })?;
        parse_token_response(&body)
    }
}

/// Reads a whole body of at most `limit` bytes: `Ok(None)` when it is larger.
///
/// # Errors
/// The body broke off or stalled.
pub(crate) async fn read_limited(
    mut resp: Response,
    limit: usize,
) -> Result<Option<bytes::Bytes>, UpstreamError> {
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Ok(None);
    }
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| UpstreamError::transport(&e))?
    {
        if out.len() + chunk.len() > limit {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out.freeze()))
}

/// `{"token": ..., "access_token": ..., "expires_in": ...}` to the token and its lifetime
/// (at least 60 s, Distribution's minimum).
fn parse_token_response(body: &[u8]) -> Result<(String, Duration), UpstreamError> {
    let bad = |why: &str| UpstreamError::Bad(format!("the upstream's token server {why}"));
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| bad("answered something that is not JSON"))?;
    let token = ["token", "access_token"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|t| t.as_str()).filter(|t| !t.is_empty()))
        .ok_or_else(|| bad("answered without a token"))?;
    let expires = v
        .get("expires_in")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(MIN_TOKEN_LIFETIME)
        .max(MIN_TOKEN_LIFETIME);
    Ok((token.to_owned(), Duration::from_secs(expires)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses() {
        let (t, l) = parse_token_response(br#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!((t.as_str(), l), ("abc", Duration::from_secs(300)));
        let (t, l) = parse_token_response(br#"{"access_token":"x","expires_in":5}"#).unwrap();
        assert_eq!((t.as_str(), l), ("x", Duration::from_secs(60)));
        let (_, l) =
            parse_token_response(br#"{"token":"x","issued_at":"2020-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(l, Duration::from_secs(60));
        assert!(parse_token_response(br#"{"token":""}"#).is_err());
        assert!(parse_token_response(b"<html>").is_err());
    }

    #[test]
    fn debug_hides_credentials() {
        let cfg = ProxyConfig {
            remote_url: "http://127.0.0.1:1".into(),
            username: Some("u".into()),
            password: Some("hunter2".into()),
            ttl: None,
            timeout: Duration::from_secs(1),
        };
        let u = Upstream::new(&cfg).unwrap();
        let shown = format!("{u:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let b = u.credentials.as_ref().unwrap().basic().unwrap();
        assert!(b.is_sensitive());
    }
}
