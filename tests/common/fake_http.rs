//! A tiny HTTP/1.1 server on 127.0.0.1 for fake credential endpoints (STS, the SSO portal,
//! IMDS, container credentials): every request is recorded with its headers and body, and
//! answered by a handler. One request per connection (`Connection: close`), or every request
//! a connection carries ([`serve_fake_keep_alive`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpListener;

/// A request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl FakeRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body read as `application/x-www-form-urlencoded` pairs (`+` is a space).
    pub fn form(&self) -> HashMap<String, String> {
        decode_pairs(&self.body)
    }

    /// The query string's pairs.
    pub fn query(&self) -> HashMap<String, String> {
        decode_pairs(self.path.split_once('?').map_or("", |(_, q)| q))
    }
}

fn decode_pairs(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An answer of the fake server.
#[derive(Debug, Clone)]
pub struct FakeResponse {
    /// HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
    /// Wait this long before answering.
    pub delay: std::time::Duration,
}

impl FakeResponse {
    /// `status` with `body`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: std::time::Duration::ZERO,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers after `delay`.
    #[must_use]
    pub fn delayed(mut self, delay: std::time::Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Every request the fake server received, in order.
pub type RequestLog = Arc<Mutex<Vec<FakeRequest>>>;

/// Reads one request (line, headers, `Content-Length` body) from `r`; `None` at the end of
/// the connection or on a short body.
async fn read_request<R: AsyncBufRead + Unpin>(r: &mut R) -> Option<FakeRequest> {
    let mut line = String::new();
    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).await.unwrap_or(0) == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).await.ok()?;
    Some(FakeRequest {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Writes `out` as a response; `close` adds `Connection: close`.
async fn write_response<W: AsyncWrite + Unpin>(
    w: &mut W,
    out: &FakeResponse,
    close: bool,
) -> std::io::Result<()> {
    if !out.delay.is_zero() {
        tokio::time::sleep(out.delay).await;
    }
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
        out.status,
        out.body.len()
    );
    if close {
        head.push_str("Connection: close\r\n");
    }
    for (k, v) in &out.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes()).await?;
    w.write_all(out.body.as_bytes()).await
}

/// Starts a fake server answering with `handler`, one request per connection; returns its
/// address and request log.
pub async fn serve_fake<F>(handler: F) -> (SocketAddr, RequestLog)
where
    F: Fn(&FakeRequest) -> FakeResponse + Send + Sync + 'static,
{
    let (addr, _, log) = serve(handler, false).await;
    (addr, log)
}

/// Like [`serve_fake`], but HTTP/1.1 keep-alive: answers every request a connection
/// carries, and counts the connections it accepted.
pub async fn serve_fake_keep_alive<F>(handler: F) -> (SocketAddr, Arc<AtomicU32>, RequestLog)
where
    F: Fn(&FakeRequest) -> FakeResponse + Send + Sync + 'static,
{
    serve(handler, true).await
}

async fn serve<F>(handler: F, keep_alive: bool) -> (SocketAddr, Arc<AtomicU32>, RequestLog)
where
    F: Fn(&FakeRequest) -> FakeResponse + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU32::new(0));
    let log: RequestLog = Arc::default();
    let handler = Arc::new(handler);
    let (accepted2, log2) = (accepted.clone(), log.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted2.fetch_add(1, Ordering::SeqCst);
            let (handler, log) = (handler.clone(), log2.clone());
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                while let Some(req) = read_request(&mut r).await {
                    let out = handler(&req);
                    log.lock().unwrap().push(req);
                    if write_response(&mut w, &out, !keep_alive).await.is_err() || !keep_alive {
                        break;
                    }
                }
                let _ = w.shutdown().await;
            });
        }
    });
    (addr, accepted, log)
}
