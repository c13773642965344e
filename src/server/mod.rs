//! An OCI Distribution (Docker Registry HTTP API v2) server on a
//! [`StorageDriver`] (feature `server`).
//!
//! The storage layout is byte-for-byte Distribution's (see `paths.rs`), so a
//! bucket or directory written by `registry:2` is served as is, and the other
//! way round.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use s3driver::config::Config;
//! use s3driver::server::App;
//!
//! let config = Config::from_yaml("version: 0.1\nstorage: inmemory\n", &[])?;
//! let app = App::from_config(&config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! app.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! # Endpoints
//!
//! | endpoint | methods |
//! |---|---|
//! | `/v2/` | GET, HEAD |
//! | `/v2/_catalog?n=&last=` | GET |
//! | `/v2/<name>/tags/list?n=&last=` | GET |
//! | `/v2/<name>/manifests/<tag or digest>` | GET, HEAD, PUT, DELETE |
//! | `/v2/<name>/blobs/<digest>` | GET, HEAD, DELETE |
//! | `/v2/<name>/blobs/uploads/` | POST (`?digest=` monolithic, `?mount=&from=`) |
//! | `/v2/<name>/blobs/uploads/<id>` | GET, PATCH, PUT `?digest=`, DELETE |
//! | `/v2/<name>/referrers/<digest>?artifactType=` | GET |
//! | `/debug/health` | GET |
//!
//! # Upload digests
//!
//! Distribution stores the hash state of each upload in storage
//! (`_uploads/<id>/hashstates/...`, Go's binary-marshalled sha256 state). This
//! server instead keeps the sha256 state of an upload in memory between its
//! requests, keyed by upload and offset. When the state is there (the upload
//! was written through this process, the usual case) completing the upload
//! costs nothing extra; otherwise (another instance, a restart, an upload
//! started by `registry:2`, or a sha384/sha512 digest) the data is read back
//! once from storage and hashed, as Distribution does when it has no usable
//! hash state. The result is always verified; only the cost differs.
//!
//! # Layout
//!
//! | file | what |
//! |---|---|
//! | `router.rs` | paths to routes, query strings |
//! | `error.rs` | error codes and the JSON envelope |
//! | `digest.rs`, `names.rs` | digests, repository names, tags, upload ids |
//! | `paths.rs`, `store.rs` | storage layout, link files |
//! | `blobs.rs`, `uploads.rs`, `manifests.rs`, `listing.rs` | the endpoints |
//! | `auth.rs`, `token.rs` | access controllers: htpasswd, bearer tokens (`auth.token`) |
//! | `notifications.rs` | webhook events (`notifications.endpoints`) |
//! | `health.rs`, `purge.rs`, `tls.rs` | health checks, upload purging, HTTPS |
//! | `body.rs`, `reply.rs`, `time.rs` | response plumbing, RFC 3339 |

mod auth;
mod blobs;
pub(crate) mod body;
pub(crate) mod digest;
pub(crate) mod error;
pub mod gc;
mod health;
mod listing;
mod logging;
mod manifests;
mod metrics;
pub(crate) mod names;
mod notifications;
pub(crate) mod paths;
mod proxy;
mod purge;
mod reply;
pub(crate) mod router;
mod store;
pub(crate) mod time;
mod tls;
mod token;
mod uploads;

pub use logging::RegistryJson;
pub use purge::{purge_uploads, PurgeReport};

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ALLOW, CONNECTION, WWW_AUTHENTICATE};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::config::{
    build_driver, AuthConfig, Config, ConfigError, DebugConfig, HealthCheckConfig, UploadPurging,
};
use crate::driver::StorageDriver;
use body::Body;
use error::{ApiErrors, ErrorCode};
use reply::Reply;
use router::Route;

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured registry, ready to [`serve`](App::serve). Cheap to clone.
#[derive(Clone)]
pub struct App {
    state: Arc<State>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("driver", &self.state.driver.name())
            .field("settings", &self.state.settings)
            .field("auth", &self.state.auth.is_some())
            .field("tls", &self.state.tls.is_some())
            .finish()
    }
}

/// Everything a request handler needs.
struct State {
    driver: Arc<dyn StorageDriver>,
    settings: Settings,
    auth: Option<auth::Auth>,
    /// Webhook events, when `notifications.endpoints` has an enabled endpoint.
    notifier: Option<Arc<notifications::Notifier>>,
    health: health::Health,
    hashes: uploads::HashCache,
    upload_locks: uploads::UploadLocks,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Prometheus metrics, when `http.debug.prometheus.enabled`.
    metrics: Option<Arc<metrics::Metrics>>,
    /// Whether the access log goes to standard output (the binary; not in-process tests).
    access_log_stdout: std::sync::atomic::AtomicBool,
    /// The pull-through cache, when `proxy.remoteurl` is set.
    proxy: Option<Arc<proxy::Proxy>>,
}

/// The behaviour switches taken from the configuration.
#[derive(Debug, Clone)]
struct Settings {
    delete_enabled: bool,
    redirect_disabled: bool,
    read_only: bool,
    prefix: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    catalog_max_entries: usize,
    access_log: bool,
    drain_timeout: Duration,
    body_idle_timeout: Duration,
    max_connections: usize,
    health_check: Option<HealthCheckConfig>,
    upload_purging: UploadPurging,
    /// `http.debug`: the debug listener's settings (`/debug/health` moves there).
    debug: Option<DebugConfig>,
    /// `http.secret`: signs the upload state of `Location` URLs.
    secret: Option<Secret>,
}

/// `http.secret`, never shown by `Debug`.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl App {
    /// Builds the storage driver from `config` ([`build_driver`]) and the
    /// registry around it.
    ///
    /// # Errors
    /// See [`build_driver`] and [`App::with_driver`].
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let driver = build_driver(&config.storage)?;
        Self::with_driver(config, driver)
    }

    /// A registry over `driver` with every other setting from `config` (tests
    /// use this to share or instrument a driver).
    ///
    /// # Errors
    /// The htpasswd file or the TLS certificate/key cannot be read, or an
    /// `http.headers` entry is not a valid header.
    pub fn with_driver(
        config: &Config,
        driver: Arc<dyn StorageDriver>,
    ) -> Result<Self, ConfigError> {
        let notifier =
            notifications::Notifier::new(&config.notifications, &config.http.addr)?.map(Arc::new);
        let metrics = config
            .http
            .debug
            .as_ref()
            .and_then(|d| d.prometheus_path.as_ref())
            .map(|_| {
                let mut extra: Vec<Box<dyn prometheus_client::collector::Collector>> = Vec::new();
                if let Some(n) = &notifier {
                    extra.push(Box::new(notifications::NotifierCollector(Arc::clone(n))));
                }
                metrics::Metrics::with_collectors(Arc::clone(&driver), extra)
            });
        let driver: Arc<dyn StorageDriver> = match &metrics {
            Some(m) => Arc::new(metrics::TimedDriver::new(driver, Arc::clone(m))),
            None => driver,
        };
        let auth = match &config.auth {
            None => None,
            Some(AuthConfig::Htpasswd { realm, path }) => {
                Some(auth::Auth::Htpasswd(auth::Htpasswd::load(realm, path)?))
            }
            Some(AuthConfig::Token(t)) => Some(auth::Auth::Token(token::TokenAuth::load(t)?)),
        };
        let tls = match &config.http.tls {
            None => None,
            Some(t) => Some(tls::acceptor(t, !config.http.http2_disabled)?),
        };
        let mut headers = Vec::new();
        for (name, values) in &config.http.headers {
            let key = format!("http.headers.{name}");
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConfigError::new(&key, format!("{key}: not a valid header name")))?;
            for v in values {
                let v = HeaderValue::from_str(v).map_err(|_| {
                    ConfigError::new(&key, format!("{key}: not a valid header value"))
                })?;
                headers.push((n.clone(), v));
            }
        }
        let check_name = format!("storagedriver_{}", config.storage.driver);
        let proxy = match &config.proxy {
            Some(p) => Some(Arc::new(proxy::Proxy::new(p)?)),
            None => None,
        };
        Ok(Self {
            state: Arc::new(State {
                driver,
                settings: Settings {
                    delete_enabled: config.storage.delete_enabled,
                    redirect_disabled: config.storage.redirect_disabled,
                    read_only: config.storage.read_only,
                    prefix: config.http.prefix.clone(),
                    headers,
                    catalog_max_entries: config.catalog_max_entries,
                    access_log: !config.log.access_log_disabled,
                    drain_timeout: config.http.drain_timeout,
                    body_idle_timeout: config.http.body_idle_timeout,
                    max_connections: config.http.max_connections,
                    health_check: config.health,
                    upload_purging: config.storage.upload_purging,
                    debug: config.http.debug.clone(),
                    secret: config.http.secret.clone().map(Secret),
                },
                auth,
                notifier,
                health: health::Health::new(check_name),
                hashes: uploads::HashCache::default(),
                upload_locks: uploads::UploadLocks::default(),
                tls,
                metrics,
                access_log_stdout: std::sync::atomic::AtomicBool::new(false),
                proxy,
            }),
        })
    }

    /// Writes the access log (one Apache combined-format line per request, unless
    /// `log.accesslog.disabled`) to standard output, as registry:2 does. Off until called:
    /// a library should not write to its host's standard output unasked.
    pub fn log_access_to_stdout(&self) {
        self.state
            .access_log_stdout
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The storage driver the registry serves from.
    pub fn driver(&self) -> &Arc<dyn StorageDriver> {
        &self.state.driver
    }

    /// The failing health checks, by name (empty when healthy); what
    /// `/debug/health` reports.
    pub fn health_status(&self) -> BTreeMap<String, String> {
        self.state.health.status()
    }

    /// True when the registry serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.state.tls.is_some()
    }

    /// Serves the registry on `listener` until `shutdown` completes, then stops accepting
    /// connections, waits up to `http.draintimeout` for in-flight requests and
    /// returns. Also runs the storage health check and the upload purger when they
    /// are configured.
    ///
    /// # Errors
    /// None at present (accept errors are logged and retried); the `Result` leaves
    /// room for listener failures that cannot be recovered from.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        serve(listener, self, shutdown).await
    }

    /// Serves one plain HTTP/1.1 connection over `io` as [`App::serve`] serves each accepted
    /// one (from 127.0.0.1, without TLS, background tasks or the connection limit): for the
    /// `registry` fuzz target, which drives the whole request path in memory.
    ///
    /// Not API: compiled only with the hidden `__internals` feature, which `fuzz/` turns on.
    ///
    /// # Errors
    /// What hyper reports for the connection (a malformed request, a broken body).
    #[cfg(feature = "__internals")]
    #[doc(hidden)]
    pub async fn serve_io<IO>(&self, io: IO) -> Result<(), hyper::Error>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let svc = service(&self.state, SocketAddr::from(([127, 0, 0, 1], 0)));
        http1_builder()
            .serve_connection(TokioIo::new(io), svc)
            .await
    }

    /// Serves the registry's debug endpoints (`http.debug.addr`, plain HTTP, no authentication,
    /// as registry:2's debug server) on `listener` until `shutdown` completes:
    /// `/debug/health`, `/debug/vars` (process facts as JSON) and, with
    /// `http.debug.prometheus.enabled`, the metrics at `http.debug.prometheus.path`.
    ///
    /// # Errors
    /// None at present (accept errors are logged and retried).
    pub async fn serve_debug(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        serve_debug(listener, self, shutdown).await
    }
}

/// See [`App::serve_debug`].
async fn serve_debug(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let state = app.state;
    let started = Instant::now();
    let builder = http1_builder();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let st = Arc::clone(&state);
                let svc = service_fn(move |req: Request<Incoming>| {
                    let st = Arc::clone(&st);
                    async move { Ok::<_, Infallible>(debug_response(&st, &req, started)) }
                });
                let builder = builder.clone();
                tokio::spawn(async move {
                    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                });
            }
            () = &mut shutdown => return Ok(()),
        }
    }
}

fn debug_response(state: &State, req: &Request<Incoming>, started: Instant) -> Response<Body> {
    let path = req.uri().path();
    if path == "/debug/health" {
        return health::response(&state.health, req.method());
    }
    let metrics_path = state
        .settings
        .debug
        .as_ref()
        .and_then(|d| d.prometheus_path.as_deref());
    if let (Some(m), Some(p)) = (&state.metrics, metrics_path) {
        if path == p {
            let text = m.encode();
            return Reply::new(StatusCode::OK)
                .header(hyper::header::CONTENT_TYPE, metrics::CONTENT_TYPE)
                .header(hyper::header::CONTENT_LENGTH, text.len().to_string())
                .with_body(body::full(text));
        }
    }
    if path == "/debug/vars" {
        let vars = serde_json::json!({
            "cmdline": std::env::args().collect::<Vec<_>>(),
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": started.elapsed().as_secs(),
            "memory": process_memory(),
            "storage": state.driver.name(),
            "uploads_in_progress": state.upload_locks.held(),
            "notifications": state.notifier.as_ref().map_or_else(
                || serde_json::json!({ "endpoints": [] }),
                |n| n.vars(),
            ),
        });
        return Reply::new(StatusCode::OK).json(&vars);
    }
    not_found()
}

/// The process's resident memory now and at its peak (Linux `/proc/self/status`).
fn process_memory() -> serde_json::Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|k| k * 1024)
    };
    serde_json::json!({ "rss_bytes": kib("VmRSS:"), "peak_rss_bytes": kib("VmHWM:") })
}

/// See [`App::serve`].
async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let state = app.state;
    let mut background = Vec::new();
    if let Some(hc) = state.settings.health_check {
        background.push(tokio::spawn(health::run(
            Arc::clone(&state.driver),
            state.health.clone(),
            hc,
        )));
    }
    if state.settings.upload_purging.enabled && !state.settings.read_only {
        background.push(tokio::spawn(purge::run(
            Arc::clone(&state.driver),
            state.settings.upload_purging,
        )));
    }
    if let Some(n) = &state.notifier {
        n.start();
    }
    if let Some(p) = &state.proxy {
        background.extend(p.start(Arc::clone(&state.driver)));
    }
    let graceful = GracefulShutdown::new();
    let builder = http1_builder();
    let mut h2_builder = http2::Builder::new(TokioExecutor::new());
    h2_builder.timer(TokioTimer::new());
    let connections = Arc::new(tokio::sync::Semaphore::new(state.settings.max_connections));
    tokio::pin!(shutdown);
    loop {
        // At most `http.maxconnections` connections at once: further clients wait in the
        // listen backlog until one ends.
        let permit = tokio::select! {
            p = Arc::clone(&connections).acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Typically EMFILE: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Without it, small streamed responses (a 64 KiB blob, a manifest) wait about
                // 40 ms for the client's delayed ACK (Nagle), as registry:2's Go net does not.
                let _ = stream.set_nodelay(true);
                let svc = service(&state, remote);
                let watcher = graceful.watcher();
                let builder = builder.clone();
                let h2_builder = h2_builder.clone();
                let acceptor = state.tls.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let result = match acceptor {
                        None => watcher.watch(builder.serve_connection(TokioIo::new(stream), svc)).await,
                        Some(acceptor) => {
                            if plain_http_on_tls(&stream).await {
                                refuse_plain_http(stream).await;
                                return;
                            }
                            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(tls)) if tls.get_ref().1.alpn_protocol() == Some(b"h2") => {
                                    watcher.watch(h2_builder.serve_connection(TokioIo::new(tls), svc)).await
                                }
                                Ok(Ok(tls)) => watcher.watch(builder.serve_connection(TokioIo::new(tls), svc)).await,
                                Ok(Err(e)) => {
                                    tracing::debug!(%remote, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%remote, "TLS handshake timed out");
                                    return;
                                }
                            }
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(%remote, error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    for task in &background {
        task.abort();
    }
    let drain = state.settings.drain_timeout;
    let drain_start = Instant::now();
    tracing::info!(timeout = ?drain, "shutting down: waiting for in-flight requests");
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?drain, "drain timeout reached; closing the remaining connections");
    }
    if let Some(n) = &state.notifier {
        // The events of the last requests get what is left of the drain timeout.
        n.stop(drain.saturating_sub(drain_start.elapsed())).await;
    }
    if let Some(p) = &state.proxy {
        p.flush(state.driver.as_ref()).await;
    }
    Ok(())
}

/// The HTTP/1.1 server settings of every registry connection.
fn http1_builder() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
}

/// The service that answers a connection's requests from `remote`.
fn service(
    state: &Arc<State>,
    remote: SocketAddr,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
> + Clone
       + Send {
    let st = Arc::clone(state);
    service_fn(move |req| {
        let st = Arc::clone(&st);
        async move { Ok::<_, Infallible>(handle(&st, req, remote).await) }
    })
}

/// What a request addressed, for logs and metrics: registry:2's handler name and route
/// variables.
#[derive(Debug, Default)]
struct RouteInfo {
    handler: &'static str,
    name: String,
    reference: String,
    digest: String,
    uuid: String,
}

impl RouteInfo {
    fn of(state: &State, path: &str) -> Self {
        let Some(rest) = strip_prefix(path, &state.settings.prefix) else {
            return Self::handler("unknown");
        };
        if rest == "/debug/health" {
            return Self::handler("health");
        }
        let Ok(route) = router::parse(rest) else {
            return Self::handler("unknown");
        };
        let s = String::from;
        match route {
            Route::Base => Self::handler("base"),
            Route::Catalog => Self::handler("catalog"),
            Route::Tags { name } => Self {
                name,
                ..Self::handler("tags")
            },
            Route::Manifest { name, reference } => Self {
                name,
                reference,
                ..Self::handler("manifest")
            },
            Route::Blob { name, digest } => Self {
                name,
                digest,
                ..Self::handler("blob")
            },
            Route::UploadStart { name } => Self {
                name,
                ..Self::handler("blob_upload")
            },
            Route::Upload { name, id } => Self {
                name,
                uuid: s(id.as_str()),
                ..Self::handler("blob_upload_chunk")
            },
            Route::Referrers { name, digest } => Self {
                name,
                digest,
                ..Self::handler("referrers")
            },
        }
    }

    fn handler(handler: &'static str) -> Self {
        Self {
            handler,
            ..Self::default()
        }
    }
}

/// Whether a client on the TLS port started with something other than a TLS handshake
/// record (a plain-HTTP request line).
async fn plain_http_on_tls(stream: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; 1];
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) => first[0] != 0x16 && first[0].is_ascii_alphabetic(),
        _ => false,
    }
}

/// Answers a plain-HTTP request on the TLS port as Go's `net/http` (and so registry:2) does,
/// then closes the connection.
async fn refuse_plain_http(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream
        .write_all(
            b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
        )
        .await;
    let _ = stream.shutdown().await;
}

async fn handle(state: &State, req: Request<Incoming>, remote: SocketAddr) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().to_string();
    let version = format!("{:?}", req.version());
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (host, user_agent, referer) = (
        header(hyper::header::HOST),
        header(hyper::header::USER_AGENT),
        header(hyper::header::REFERER),
    );
    let host = if host.is_empty() {
        req.uri()
            .authority()
            .map_or_else(String::new, |a| a.to_string())
    } else {
        host
    };
    let route = RouteInfo::of(state, req.uri().path());
    let in_flight = state.metrics.as_ref().map(|m| m.start(route.handler));
    let request_id = names::new_uuid().unwrap_or_else(|_| "-".to_owned());
    let has_body = !hyper::body::Body::is_end_stream(req.body());
    let (mut resp, body_read) = error::REQUEST_ID
        .scope(
            request_id.clone(),
            body::track_body_read(dispatch(state, req, remote)),
        )
        .await;
    if has_body && !body_read {
        // Answered before the body was read (401, 404, 416, ...): the rest of the body is
        // still on the connection, so it cannot carry another request. Say so.
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    for (n, v) in &state.settings.headers {
        resp.headers_mut().append(n.clone(), v.clone());
    }
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    if let Some(m) = &state.metrics {
        m.finished(route.handler, method.as_str(), status, elapsed);
    }
    drop(in_flight);
    let summary = resp.extensions().get::<error::ErrorSummary>().cloned();
    let written = resp
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let content_type = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let log = logging::RequestLog {
        id: &request_id,
        host: &host,
        method: method.as_str(),
        uri: &uri,
        version: &version,
        remote: remote.to_string(),
        user_agent: &user_agent,
        referer: &referer,
        status,
        content_type,
        written,
        duration: elapsed,
        name: &route.name,
        reference: &route.reference,
        digest: &route.digest,
        uuid: &route.uuid,
        error: summary
            .as_ref()
            .map(|s| (s.code.as_str(), s.message.as_str(), s.detail.clone())),
    };
    logging::request_completed(&log);
    if state.settings.access_log
        && state
            .access_log_stdout
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        let line = logging::access_line(&log);
        // registry:2 writes its access log to standard output; a closed pipe loses it.
        let mut out = std::io::stdout().lock();
        let _ = std::io::Write::write_all(&mut out, format!("{line}\n").as_bytes());
    }
    resp
}

fn not_found() -> Response<Body> {
    let text = "404 page not found\n";
    Reply::new(StatusCode::NOT_FOUND)
        .header(hyper::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(hyper::header::CONTENT_LENGTH, text.len().to_string())
        .with_body(body::full(text))
}

async fn dispatch(state: &State, req: Request<Incoming>, remote: SocketAddr) -> Response<Body> {
    let path = req.uri().path();
    let Some(rest) = strip_prefix(path, &state.settings.prefix) else {
        return not_found();
    };
    // With a debug listener (`http.debug.addr`), health is served there, as registry:2 does.
    if rest == "/debug/health" && state.settings.debug.is_none() {
        return health::response(&state.health, req.method());
    }
    if rest != "/v2" && !rest.starts_with("/v2/") {
        return not_found();
    }
    let rest = rest.to_owned();
    let mut resp = v2(state, req, &rest, remote).await;
    resp.headers_mut().insert(
        HeaderName::from_static("docker-distribution-api-version"),
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

fn strip_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

async fn v2(
    state: &State,
    req: Request<Incoming>,
    path: &str,
    remote: SocketAddr,
) -> Response<Body> {
    if !state.health.is_healthy() {
        return ApiErrors::from(
            ErrorCode::Unavailable.with_detail("health check failed: please see /debug/health"),
        )
        .into_response();
    }
    let parsed = router::parse(path);
    let host = request_host(&req);
    let mut actor = String::new();
    if let Some(auth) = &state.auth {
        let access = auth::access_records(parsed.as_ref().ok(), req.method(), req.uri().query());
        match auth
            .authorize(req.headers(), remote.ip(), &host, &access)
            .await
        {
            Ok(user) => actor = user,
            Err(auth::Denied::Challenge(challenge)) => {
                // As registry:2: the access the request needs is the detail.
                let mut r = ApiErrors::from(
                    ErrorCode::Unauthorized.with_detail(auth::access_detail(&access)),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    r.headers_mut().insert(WWW_AUTHENTICATE, v);
                }
                return r;
            }
            Err(auth::Denied::Throttled(secs)) => {
                return ApiErrors::from(
                    ErrorCode::TooManyRequests
                        .with_detail("too many failed logins from this address; try again later")
                        .with_retry_after(secs),
                )
                .into_response();
            }
        }
    }
    let route = match parsed {
        Ok(r) => r,
        Err(router::RouteError::NotFound) => return not_found(),
        Err(router::RouteError::Api(e)) => return e.into_response(),
    };
    let method = req.method().clone();
    let allowed = allowed_methods(&route);
    if !allowed.contains(&method) {
        let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        let mut r = ApiErrors::from(ErrorCode::Unsupported).into_response();
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            r.headers_mut().insert(ALLOW, v);
        }
        return r;
    }
    let writes = matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if writes && state.settings.read_only {
        return ApiErrors::from(
            ErrorCode::Unsupported.with_detail("the registry is in read-only mode"),
        )
        .into_response();
    }
    if writes && state.proxy.is_some() {
        // registry:2's cache refuses pushes and deletes the same way.
        return ApiErrors::from(ErrorCode::Unsupported.with_detail(
            "this registry is a pull-through cache (proxy.remoteurl): push to, or delete from, the upstream registry",
        ))
        .into_response();
    }
    let request = state
        .notifier
        .as_ref()
        .map(|_| event_request(state, &req, remote, host, actor));
    let ctx = Ctx {
        state,
        prefix: &state.settings.prefix,
        remote,
        request,
    };
    let result = match route {
        // Byte for byte registry:2's answer.
        Route::Base => Ok(Reply::new(StatusCode::OK)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .header(hyper::header::CONTENT_LENGTH, "2")
            .with_body(body::full("{}"))),
        Route::Catalog => listing::catalog(&ctx, &req).await,
        Route::Tags { name } if state.proxy.is_some() => proxy::tags(&ctx, &req, &name).await,
        Route::Tags { name } => listing::tags(&ctx, &req, &name).await,
        Route::Referrers { name, digest } => listing::referrers(&ctx, &req, &name, &digest).await,
        Route::Manifest { name, reference } => match method {
            Method::PUT => manifests::put(&ctx, req, &name, &reference).await,
            Method::DELETE => manifests::delete(&ctx, &name, &reference).await,
            _ => manifests::get(&ctx, &req, &name, &reference).await,
        },
        Route::Blob { name, digest } => match method {
            Method::DELETE => blobs::delete(&ctx, &name, &digest).await,
            _ => blobs::get(&ctx, &req, &name, &digest).await,
        },
        Route::UploadStart { name } => uploads::start(&ctx, req, &name).await,
        Route::Upload { name, id } => match method {
            Method::PATCH => uploads::patch(&ctx, req, &name, &id).await,
            Method::PUT => uploads::put(&ctx, req, &name, &id).await,
            Method::DELETE => uploads::cancel(&ctx, &req, &name, &id).await,
            _ => uploads::status(&ctx, &req, &name, &id).await,
        },
    };
    result.unwrap_or_else(ApiErrors::into_response)
}

fn allowed_methods(route: &Route) -> &'static [Method] {
    match route {
        Route::Base => &[Method::GET, Method::HEAD],
        Route::Catalog | Route::Referrers { .. } => &[Method::GET],
        Route::Tags { .. } => &[Method::GET, Method::HEAD],
        Route::Manifest { .. } => &[Method::GET, Method::HEAD, Method::PUT, Method::DELETE],
        Route::Blob { .. } => &[Method::GET, Method::HEAD, Method::DELETE],
        Route::UploadStart { .. } => &[Method::POST],
        Route::Upload { .. } => &[
            Method::GET,
            Method::HEAD,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ],
    }
}

/// The `Host` a request was sent to (its header, or the URI's authority under HTTP/2).
fn request_host(req: &Request<Incoming>) -> String {
    req.headers()
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(ToString::to_string))
        .unwrap_or_default()
}

/// The facts notification events record about a request, as registry:2 takes them: the
/// client from `X-Forwarded-For` or `X-Real-Ip` when they hold an address, else the peer;
/// target URLs on `X-Forwarded-Proto`/`X-Forwarded-Host` when sent, else the request's own.
fn event_request(
    state: &State,
    req: &Request<Incoming>,
    remote: SocketAddr,
    host: String,
    actor: String,
) -> notifications::RequestInfo {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let first = |name: &str| {
        header(name)
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    let is_ip = |v: &&str| v.parse::<std::net::IpAddr>().is_ok();
    let addr = first("x-forwarded-for")
        .filter(is_ip)
        .or_else(|| header("x-real-ip").filter(is_ip))
        .map_or_else(|| remote.to_string(), str::to_owned);
    let scheme =
        first("x-forwarded-proto").unwrap_or(if state.tls.is_some() { "https" } else { "http" });
    let url_host = first("x-forwarded-host").unwrap_or(&host);
    notifications::RequestInfo {
        id: error::request_id(),
        addr,
        base_url: format!("{scheme}://{url_host}{}", state.settings.prefix),
        host,
        method: req.method().to_string(),
        user_agent: header("user-agent").unwrap_or_default().to_owned(),
        actor,
    }
}

/// Per-request context for the handlers.
struct Ctx<'a> {
    state: &'a State,
    prefix: &'a str,
    remote: SocketAddr,
    /// The request's facts for notification events (with notifications only).
    request: Option<notifications::RequestInfo>,
}

impl Ctx<'_> {
    fn driver(&self) -> &dyn StorageDriver {
        self.state.driver.as_ref()
    }

    /// Sends `event` to the notification endpoints (queued; never waits for them).
    fn notify(&self, event: notifications::Event) {
        if let (Some(n), Some(r)) = (&self.state.notifier, &self.request) {
            n.emit(event, r);
        }
    }

    /// An absolute path below the prefix, e.g. `url("/v2/a/blobs/x")`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

type HandlerResult = Result<Response<Body>, ApiErrors>;
