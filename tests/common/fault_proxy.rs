//! Fault-injecting HTTP/1.1 proxy for retry and error-path tests (test-only).
//!
//! `FaultProxy::start(upstream, plan)` listens on 127.0.0.1:0 and forwards each request to `upstream` unchanged
//! (Host header included, so signatures stay valid), unless a [`FaultRule`] of the plan matches it: then it answers
//! with an S3 XML error, resets or closes the connection, delays, or truncates the response. It parses just enough
//! HTTP/1.1 to act per request: request line, headers, `Content-Length` or chunked bodies (both directions),
//! `Expect: 100-continue` (answered by the proxy itself) and `Connection: close`.
//!
//! Every request gets a fresh upstream connection (no stale pooled connections); the client side keeps alive.
//! Everything is bounded: heads (64 KiB), lines (16 KiB), each wait for a head or a connect (60 s), a client
//! connection's lifetime (10 min) and the request log (10 000 entries).

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;

const MAX_HEAD: usize = 64 * 1024;
const MAX_LINE: usize = 16 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(60);
const CONN_LIFETIME: Duration = Duration::from_secs(600);
const MAX_LOG: usize = 10_000;

/// What to do with a request that a rule matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Read and discard the request body, then answer `status` with an S3 `<Error>` XML body (no body for HEAD).
    /// The upstream never sees the request. The connection stays open unless the client asked to close it.
    Respond {
        /// HTTP status, e.g. 503.
        status: u16,
        /// S3 error code, e.g. `SlowDown`.
        code: String,
        /// Error message.
        message: String,
    },
    /// After the request head, reset the TCP connection (RST, SO_LINGER 0) without answering.
    Reset,
    /// Read the whole request, then close the connection without answering.
    Close,
    /// Wait this long, then forward the request normally.
    Delay(Duration),
    /// Forward the request, then send the response head and only the first half of a `Content-Length` body (none
    /// of a chunked one) and close the connection.
    TruncateResponse,
}

impl Fault {
    /// 503 SlowDown, as S3 answers when throttling.
    pub fn slow_down() -> Fault {
        Fault::status(503, "SlowDown", "Please reduce your request rate.")
    }

    /// 500 InternalError.
    pub fn internal_error() -> Fault {
        Fault::status(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// 503 ServiceUnavailable.
    pub fn service_unavailable() -> Fault {
        Fault::status(
            503,
            "ServiceUnavailable",
            "Service is unable to handle request.",
        )
    }

    /// Any status with an S3 error code and message.
    pub fn status(status: u16, code: &str, message: &str) -> Fault {
        Fault::Respond {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    fn label(&self) -> String {
        match self {
            Fault::Respond { status, code, .. } => format!("{status} {code}"),
            Fault::Reset => "reset".to_owned(),
            Fault::Close => "closed".to_owned(),
            Fault::Delay(d) => format!("delayed {}ms, forwarded", d.as_millis()),
            Fault::TruncateResponse => "forwarded, response truncated".to_owned(),
        }
    }
}

/// A fault applied to the next `times` requests that match its filters (method, substring of the request target).
#[derive(Debug, Clone)]
pub struct FaultRule {
    fault: Fault,
    remaining: usize,
    method: Option<String>,
    path_contains: Option<String>,
}

impl FaultRule {
    /// A rule applying `fault` once, to any request.
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            remaining: 1,
            method: None,
            path_contains: None,
        }
    }

    /// Apply to the next `n` matching requests instead of one.
    pub fn times(mut self, n: usize) -> FaultRule {
        self.remaining = n;
        self
    }

    /// Only requests with this method (case-insensitive), e.g. "PUT".
    pub fn method(mut self, method: &str) -> FaultRule {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose target (path and query as sent) contains `s`, e.g. "uploadId=" or "/bucket/key".
    pub fn path_contains(mut self, s: &str) -> FaultRule {
        self.path_contains = Some(s.to_owned());
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        self.remaining > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| target.contains(p))
    }
}

/// Ordered fault rules. For each request the first rule that matches (and has uses left) fires; requests no rule
/// matches are forwarded. `FaultPlan::new().then(Fault::slow_down(), 2).then(Fault::Reset, 1)` answers the first
/// two requests 503, resets the third and forwards the rest.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// A plan with no rules: forward everything.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Appends a rule applying `fault` to the next `times` requests of any kind.
    pub fn then(self, fault: Fault, times: usize) -> FaultPlan {
        self.rule(FaultRule::new(fault).times(times))
    }

    /// Appends a rule.
    pub fn rule(mut self, rule: FaultRule) -> FaultPlan {
        self.rules.push(rule);
        self
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Method, upper case.
    pub method: String,
    /// Request target as sent (path and query).
    pub target: String,
    /// What the proxy did: "forwarded", "503 SlowDown", "reset", "closed", "delayed 200ms, forwarded", ...
    pub action: String,
}

#[derive(Debug, Default)]
struct State {
    rules: Mutex<Vec<FaultRule>>,
    connections: AtomicUsize,
    seen: AtomicUsize,
    forwarded: AtomicUsize,
    injected: AtomicUsize,
    log: Mutex<Vec<RequestRecord>>,
}

impl State {
    fn take_fault(&self, method: &str, target: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().expect("fault proxy: rules lock poisoned");
        let rule = rules.iter_mut().find(|r| r.matches(method, target))?;
        rule.remaining -= 1;
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(rule.fault.clone())
    }

    fn record(&self, req: &RequestHead, action: String) {
        let mut log = self.log.lock().expect("fault proxy: log lock poisoned");
        if log.len() < MAX_LOG {
            log.push(RequestRecord {
                method: req.method.clone(),
                target: req.target.clone(),
                action,
            });
        }
    }
}

/// A running fault proxy; stops when dropped. See the module documentation.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts the proxy on 127.0.0.1:0 in front of `upstream` with `plan`.
    pub async fn start(upstream: SocketAddr, plan: FaultPlan) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fault proxy: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("fault proxy: listener has no local address");
        let state = Arc::new(State {
            rules: Mutex::new(plan.rules),
            ..State::default()
        });
        let task_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            // Connection tasks live in this JoinSet: aborting the accept task aborts them all.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        task_state.connections.fetch_add(1, Ordering::SeqCst);
                        let state = Arc::clone(&task_state);
                        conns.spawn(async move {
                            // Errors end this one client connection, which is what the client under test observes.
                            let _ = timeout(CONN_LIFETIME, serve(socket, upstream, &state)).await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        FaultProxy {
            addr,
            upstream,
            state,
            task,
        }
    }

    /// Address the proxy listens on (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Port the proxy listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The upstream server's address.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Appends a rule to the plan while the proxy runs.
    pub fn add_rule(&self, rule: FaultRule) {
        self.state
            .rules
            .lock()
            .expect("fault proxy: rules lock poisoned")
            .push(rule);
    }

    /// Drops all remaining rules: forward everything from now on.
    pub fn clear_rules(&self) {
        self.state
            .rules
            .lock()
            .expect("fault proxy: rules lock poisoned")
            .clear();
    }

    /// Uses left in all rules together.
    pub fn pending_faults(&self) -> usize {
        let rules = self
            .state
            .rules
            .lock()
            .expect("fault proxy: rules lock poisoned");
        rules.iter().map(|r| r.remaining).sum()
    }

    /// Client connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Requests whose head was read so far.
    pub fn requests_seen(&self) -> usize {
        self.state.seen.load(Ordering::SeqCst)
    }

    /// Requests sent on to the upstream (including delayed and truncated ones).
    pub fn requests_forwarded(&self) -> usize {
        self.state.forwarded.load(Ordering::SeqCst)
    }

    /// Requests a rule matched.
    pub fn faults_injected(&self) -> usize {
        self.state.injected.load(Ordering::SeqCst)
    }

    /// The requests seen, in order (at most 10 000).
    pub fn log(&self) -> Vec<RequestRecord> {
        self.state
            .log
            .lock()
            .expect("fault proxy: log lock poisoned")
            .clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
struct RequestHead {
    method: String,
    target: String,
    body: Framing,
    expect_continue: bool,
    close: bool,
}

#[derive(Debug)]
struct ResponseHead {
    status: u16,
    body: Framing,
    close: bool,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("fault proxy: timed out waiting for {what}"),
    )
}

/// Headers of a head (after the start line) as (lower-case name, trimmed value).
fn headers(lines: &[&str]) -> io::Result<Vec<(String, String)>> {
    lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, value) = l
                .split_once(':')
                .ok_or_else(|| invalid(format!("bad header line {l:?}")))?;
            Ok((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect()
}

fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Body framing from Transfer-Encoding / Content-Length; `None` when neither is present.
fn framing(headers: &[(String, String)]) -> io::Result<Option<Framing>> {
    if let Some((_, te)) = headers.iter().rev().find(|(n, _)| n == "transfer-encoding") {
        let last = te.rsplit(',').next().unwrap_or("").trim();
        if last.eq_ignore_ascii_case("chunked") {
            return Ok(Some(Framing::Chunked));
        }
        return Err(invalid(format!("unsupported transfer-encoding {te:?}")));
    }
    let mut length = None;
    for (_, v) in headers.iter().filter(|(n, _)| n == "content-length") {
        let n: u64 = v
            .parse()
            .map_err(|_| invalid(format!("bad content-length {v:?}")))?;
        if length.is_some_and(|l| l != n) {
            return Err(invalid("conflicting content-length headers"));
        }
        length = Some(n);
    }
    Ok(length.map(Framing::Length))
}

fn head_lines(head: &[u8]) -> io::Result<Vec<&str>> {
    let text = std::str::from_utf8(head).map_err(|_| invalid("head is not UTF-8"))?;
    Ok(text.lines().map(|l| l.trim_end_matches('\r')).collect())
}

impl RequestHead {
    fn parse(head: &[u8]) -> io::Result<RequestHead> {
        let lines = head_lines(head)?;
        let mut parts = lines.first().copied().unwrap_or("").split(' ');
        let (Some(method), Some(target), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(format!("bad request line {:?}", lines.first())));
        };
        let headers = headers(&lines[1..])?;
        Ok(RequestHead {
            method: method.to_ascii_uppercase(),
            target: target.to_owned(),
            body: framing(&headers)?.unwrap_or(Framing::Length(0)),
            expect_continue: has_token(&headers, "expect", "100-continue"),
            close: has_token(&headers, "connection", "close")
                || (version == "HTTP/1.0" && !has_token(&headers, "connection", "keep-alive")),
        })
    }
}

impl ResponseHead {
    fn parse(head: &[u8], request_method: &str) -> io::Result<ResponseHead> {
        let lines = head_lines(head)?;
        let status_line = lines.first().copied().unwrap_or("");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        let headers = headers(&lines[1..])?;
        let body = if request_method == "HEAD"
            || (100..200).contains(&status)
            || status == 204
            || status == 304
        {
            Framing::Length(0)
        } else {
            framing(&headers)?.unwrap_or(Framing::UntilClose)
        };
        Ok(ResponseHead {
            status,
            body,
            close: has_token(&headers, "connection", "close")
                || status_line.starts_with("HTTP/1.0"),
        })
    }
}

/// Reads one line (with its `\n`) into `buf`, at most [`MAX_LINE`] bytes. Returns the bytes read (0 at EOF).
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    let n = (&mut *r)
        .take(MAX_LINE as u64)
        .read_until(b'\n', buf)
        .await?;
    if n == MAX_LINE && buf.last() != Some(&b'\n') {
        return Err(invalid("line too long"));
    }
    Ok(n)
}

/// Reads a message head up to and including the empty line. `None` on a clean EOF before the first byte.
async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = read_line(r, &mut head).await?;
        if n == 0 {
            return if head.iter().all(|b| b.is_ascii_whitespace()) {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF inside a message head",
                ))
            };
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                head.clear(); // tolerated empty line before a start line
                continue;
            }
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            return Err(invalid("message head too large"));
        }
    }
}

/// Copies exactly `n` bytes from `r` to `w` (or discards them when `w` is `None`).
async fn copy_exact<R, W>(r: &mut R, mut w: Option<&mut W>, mut n: u64) -> io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    while n > 0 {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF inside a message body",
            ));
        }
        let take = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        if let Some(w) = w.as_deref_mut() {
            w.write_all(&buf[..take]).await?;
        }
        r.consume(take);
        n -= take as u64;
    }
    Ok(())
}

/// Copies (or discards) one message body delimited by `framing`, chunk framing included verbatim.
async fn copy_body<R, W>(r: &mut R, mut w: Option<&mut W>, framing: Framing) -> io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match framing {
        Framing::Length(n) => copy_exact(r, w, n).await,
        Framing::UntilClose => loop {
            let buf = r.fill_buf().await?;
            if buf.is_empty() {
                return Ok(());
            }
            let len = buf.len();
            if let Some(w) = w.as_deref_mut() {
                w.write_all(buf).await?;
            }
            r.consume(len);
        },
        Framing::Chunked => loop {
            let mut line = Vec::new();
            if read_line(r, &mut line).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF inside a chunked body",
                ));
            }
            if let Some(w) = w.as_deref_mut() {
                w.write_all(&line).await?;
            }
            let text = std::str::from_utf8(&line).map_err(|_| invalid("bad chunk size line"))?;
            let size_hex = text.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_hex, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_hex:?}")))?;
            if size == 0 {
                // Trailer section: header lines up to an empty line.
                loop {
                    let mut trailer = Vec::new();
                    if read_line(r, &mut trailer).await? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "EOF inside chunked trailers",
                        ));
                    }
                    if let Some(w) = w.as_deref_mut() {
                        w.write_all(&trailer).await?;
                    }
                    if trailer == b"\r\n" || trailer == b"\n" {
                        return Ok(());
                    }
                }
            }
            copy_exact(r, w.as_deref_mut(), size).await?;
            let mut crlf = Vec::new();
            read_line(r, &mut crlf).await?;
            if crlf != b"\r\n" && crlf != b"\n" {
                return Err(invalid("chunk not followed by CRLF"));
            }
            if let Some(w) = w.as_deref_mut() {
                w.write_all(&crlf).await?;
            }
        },
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected Fault",
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn error_response(
    req: &RequestHead,
    status: u16,
    code: &str,
    message: &str,
    id: usize,
    close: bool,
) -> Vec<u8> {
    let request_id = format!("FAULTPROXY{id:08}");
    let body = if req.method == "HEAD" {
        String::new()
    } else {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
             <RequestId>{request_id}</RequestId></Error>",
            xml_escape(code),
            xml_escape(message)
        )
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         x-amz-request-id: {request_id}\r\nDate: {}\r\n",
        reason(status),
        body.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now())
    );
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

/// Serves one client connection until it closes, errs, or a fault ends it.
async fn serve(client: TcpStream, upstream: SocketAddr, state: &State) -> io::Result<()> {
    let mut client = BufReader::new(client);
    loop {
        let head = match timeout(IO_TIMEOUT, read_head(&mut client)).await {
            Err(_) => return Ok(()), // idle keep-alive connection
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(head))) => head,
            Ok(Err(e)) => return Err(e),
        };
        let req = RequestHead::parse(&head)?;
        let id = state.seen.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = state.take_fault(&req.method, &req.target);
        state.record(
            &req,
            fault
                .as_ref()
                .map_or_else(|| "forwarded".to_owned(), Fault::label),
        );

        let mut truncate = false;
        match fault {
            Some(Fault::Reset) => {
                let stream = client.into_inner();
                stream.set_zero_linger()?;
                drop(stream);
                return Ok(());
            }
            Some(Fault::Close) => {
                if !req.expect_continue {
                    copy_body(&mut client, None::<&mut TcpStream>, req.body).await?;
                }
                let _ = client.get_mut().shutdown().await;
                return Ok(());
            }
            Some(Fault::Respond {
                status,
                code,
                message,
            }) => {
                // With Expect: 100-continue the body was never sent: answer and close, as servers do.
                let close = req.close || req.expect_continue;
                if !req.expect_continue {
                    copy_body(&mut client, None::<&mut TcpStream>, req.body).await?;
                }
                let response = error_response(&req, status, &code, &message, id, close);
                client.get_mut().write_all(&response).await?;
                client.get_mut().flush().await?;
                if close {
                    let _ = client.get_mut().shutdown().await;
                    return Ok(());
                }
                continue;
            }
            Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
            Some(Fault::TruncateResponse) => truncate = true,
            None => {}
        }

        state.forwarded.fetch_add(1, Ordering::SeqCst);
        let keep_alive = forward(&mut client, upstream, &head, &req, truncate).await?;
        if !keep_alive {
            let _ = client.get_mut().shutdown().await;
            return Ok(());
        }
    }
}

/// Forwards one request on a fresh upstream connection and relays the response. Returns whether the client
/// connection can carry another request.
async fn forward(
    client: &mut BufReader<TcpStream>,
    upstream: SocketAddr,
    head: &[u8],
    req: &RequestHead,
    truncate: bool,
) -> io::Result<bool> {
    let up = timeout(IO_TIMEOUT, TcpStream::connect(upstream))
        .await
        .map_err(|_| timed_out("the upstream connection"))??;
    let mut up = BufReader::new(up);
    up.get_mut().write_all(head).await?;
    if req.expect_continue {
        client
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
        client.get_mut().flush().await?;
    }
    copy_body(client, Some(up.get_mut()), req.body).await?;
    up.get_mut().flush().await?;

    let (resp_head, resp) = loop {
        let head = timeout(IO_TIMEOUT, read_head(&mut up))
            .await
            .map_err(|_| timed_out("the upstream response"))??
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "upstream closed without a response",
                )
            })?;
        let resp = ResponseHead::parse(&head, &req.method)?;
        // Interim responses (100 Continue from the upstream) are not relayed: the proxy sent its own.
        if (100..200).contains(&resp.status) && resp.status != 101 {
            continue;
        }
        break (head, resp);
    };

    let out = client.get_mut();
    out.write_all(&resp_head).await?;
    if truncate {
        if let Framing::Length(n) = resp.body {
            copy_exact(&mut up, Some(&mut *out), n / 2).await?;
        }
        out.flush().await?;
        return Ok(false);
    }
    copy_body(&mut up, Some(&mut *out), resp.body).await?;
    out.flush().await?;
    Ok(!(req.close || resp.close || resp.body == Framing::UntilClose))
}
