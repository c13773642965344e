//! A recording front for an upstream registry on 127.0.0.1, for the pull-through cache
//! tests: every request is forwarded to the registry behind it (its answer streamed back,
//! redirects passed through) and recorded, so a test can count what the cache asked the
//! upstream for. It can also
//!
//! * stand in for a token-authenticating registry ([`FrontAuth::Token`]): `/token` issues
//!   bearer tokens for basic credentials (or anonymously), `/v2/...` wants one
//!   (`401` with a `Bearer` challenge otherwise) and the request goes on to the registry
//!   behind with that registry's own basic credentials;
//! * corrupt content: a blob or manifest asked for by a digest given to
//!   [`Front::corrupt`] is sent with one byte changed (the length stays);
//! * revoke every token issued so far ([`Front::revoke_tokens`]);
//! * stop ([`Front::stop`]): the port then refuses connections.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// How the front authenticates.
#[derive(Debug, Clone)]
pub enum FrontAuth {
    /// None of its own: `Authorization` goes to the registry behind as it came.
    Passthrough,
    /// Docker's token flow. `user` is `Some((name, password))` to require credentials at
    /// `/token` (else tokens are anonymous); `behind` are the basic credentials of the
    /// registry behind, if it wants some.
    Token {
        user: Option<(String, String)>,
        behind: Option<(String, String)>,
    },
}

/// One request the front saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The `Authorization` scheme it came with (`basic`, `bearer`, or empty).
    pub auth: String,
    /// The status the front answered with.
    pub status: u16,
}

struct Shared {
    target: String,
    auth: FrontAuth,
    base: String,
    log: Mutex<Vec<Seen>>,
    corrupt: Mutex<HashSet<String>>,
    tokens: Mutex<HashMap<String, ()>>,
    counter: std::sync::atomic::AtomicU64,
    client: reqwest::Client,
}

/// A running front; stopped when dropped.
pub struct Front {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Front {
    /// A front on a free port of 127.0.0.1 for the registry at `target` (`http://...`).
    pub async fn start(target: &str, auth: FrontAuth) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let shared = Arc::new(Shared {
            target: target.trim_end_matches('/').to_owned(),
            auth,
            base: base.clone(),
            log: Mutex::new(Vec::new()),
            corrupt: Mutex::new(HashSet::new()),
            tokens: Mutex::new(HashMap::new()),
            counter: std::sync::atomic::AtomicU64::new(0),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        });
        let s = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let s = Arc::clone(&s);
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let s = Arc::clone(&s);
                        async move { Ok::<_, Infallible>(handle(&s, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Front {
            base,
            shared,
            task: Some(task),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// Everything seen so far.
    pub fn log(&self) -> Vec<Seen> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets what was seen.
    pub fn clear_log(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The requests for blobs (`/v2/<name>/blobs/<digest>`, not uploads).
    pub fn blob_requests(&self) -> Vec<Seen> {
        self.log()
            .into_iter()
            .filter(|s| s.path.contains("/blobs/") && !s.path.contains("/blobs/uploads"))
            .collect()
    }

    /// The requests for manifests.
    pub fn manifest_requests(&self) -> Vec<Seen> {
        self.log()
            .into_iter()
            .filter(|s| s.path.contains("/manifests/"))
            .collect()
    }

    /// The token requests.
    pub fn token_requests(&self) -> Vec<Seen> {
        self.log()
            .into_iter()
            .filter(|s| s.path.starts_with("/token"))
            .collect()
    }

    /// From now on, blob `digest` is sent with one byte changed.
    pub fn corrupt(&self, digest: &str) {
        self.shared
            .corrupt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest.to_owned());
    }

    /// Blob `digest` is sent as it is again.
    pub fn heal(&self, digest: &str) {
        self.shared
            .corrupt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(digest);
    }

    /// Every token issued so far stops being accepted (the client must ask for a new one).
    pub fn revoke_tokens(&self) {
        self.shared
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Stops listening and drops every connection.
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop();
    }
}

fn full(status: u16, headers: &[(&str, String)], body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
    for (k, v) in headers {
        r.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            hyper::header::HeaderValue::from_str(v).expect("value"),
        );
    }
    r
}

fn basic_of(req: &Request<Incoming>) -> Option<(String, String)> {
    let v = req
        .headers()
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = decode_b64(b64.trim())?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = T.iter().position(|&t| t == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn encode_b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn handle(s: &Shared, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), ToString::to_string);
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("")
        .to_ascii_lowercase();
    let resp = answer(s, req, &path).await;
    s.log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Seen {
            method,
            path,
            auth,
            status: resp.status().as_u16(),
        });
    resp
}

async fn answer(s: &Shared, req: Request<Incoming>, path: &str) -> Response<Body> {
    let mut behind_auth = None;
    if let FrontAuth::Token { user, behind } = &s.auth {
        if path.starts_with("/token") {
            if let Some(want) = user {
                if basic_of(&req).as_ref() != Some(want) {
                    return full(401, &[], "bad credentials");
                }
            }
            let n = s.counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let token = format!("tok-{n}-{}", std::process::id());
            s.tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(token.clone(), ());
            let body = serde_json::json!({"token": token, "expires_in": 300, "issued_at": "2020-01-01T00:00:00Z"});
            return full(
                200,
                &[("content-type", "application/json".to_owned())],
                body.to_string(),
            );
        }
        let bearer = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let valid = bearer.is_some_and(|b| {
            s.tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(&b)
        });
        if !valid {
            let challenge = format!(
                "Bearer realm=\"{}/token\",service=\"front\",scope=\"registry:catalog:*\"",
                s.base
            );
            return full(
                401,
                &[
                    ("www-authenticate", challenge),
                    ("content-type", "application/json".to_owned()),
                    ("docker-distribution-api-version", "registry/2.0".to_owned()),
                ],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            );
        }
        behind_auth = behind
            .as_ref()
            .map(|(u, p)| format!("Basic {}", encode_b64(format!("{u}:{p}").as_bytes())));
    }
    let corrupt_this = {
        let c = s.corrupt.lock().unwrap_or_else(PoisonError::into_inner);
        req.method() == hyper::Method::GET
            && (path.contains("/blobs/") || path.contains("/manifests/"))
            && c.iter().any(|d| path.ends_with(d.as_str()))
    };
    let mut rb = s
        .client
        .request(req.method().clone(), format!("{}{path}", s.target));
    for (k, v) in req.headers() {
        if k == hyper::header::HOST || k == hyper::header::AUTHORIZATION {
            continue;
        }
        rb = rb.header(k, v);
    }
    match (
        &behind_auth,
        req.headers().get(hyper::header::AUTHORIZATION),
    ) {
        (Some(a), _) => rb = rb.header(hyper::header::AUTHORIZATION, a),
        (None, Some(a)) if matches!(s.auth, FrontAuth::Passthrough) => {
            rb = rb.header(hyper::header::AUTHORIZATION, a);
        }
        _ => {}
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return full(400, &[], "bad request body"),
    };
    let upstream = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) => return full(502, &[], format!("front: {e}")),
    };
    let mut resp = Response::new(empty_body());
    *resp.status_mut() = upstream.status();
    for (k, v) in upstream.headers() {
        resp.headers_mut().append(k, v.clone());
    }
    let mut first = corrupt_this;
    let stream = futures_util::stream::unfold(upstream, move |mut up| {
        let flip = std::mem::take(&mut first);
        async move {
            match up.chunk().await {
                Ok(Some(c)) => {
                    let c = if flip && !c.is_empty() {
                        let mut v = c.to_vec();
                        v[0] ^= 0xff;
                        Bytes::from(v)
                    } else {
                        c
                    };
                    Some((Ok(Frame::data(c)), up))
                }
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e)), up)),
            }
        }
    });
    *resp.body_mut() = StreamBody::new(stream).boxed_unsync();
    resp
}

fn empty_body() -> Body {
    http_body_util::Empty::new()
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}
