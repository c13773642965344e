//! `notifications`: registry:2's webhook events (Distribution's `notifications` package).
//!
//! Pushes, pulls, mounts and deletes of manifests and blobs become events in registry:2's
//! format, each POSTed in an envelope of its own (`{"events": [...]}`, indented as Go's
//! `json.MarshalIndent` with three spaces, `Content-Type:
//! application/vnd.docker.distribution.events.v1+json`) to every configured endpoint:
//!
//! ```text
//! id, timestamp, action (pull, push, mount, delete),
//! target { mediaType, size, digest, length, repository, fromRepository, url, tag, references },
//! request { id, addr, host, method, useragent }, actor { name }, source { addr, instanceID }
//! ```
//!
//! with the fields and the cases registry:2 2.8.2 fills them in (compared in
//! tests/server_notifications.rs): blob pushes and pulls have `application/octet-stream`,
//! manifest events the manifest's media type, pulls by tag and pushes to a tag the `tag`,
//! deletes only `repository` and `digest` (or `tag` for each tag a manifest delete removes).
//!
//! Delivery never holds a request up: an event is put in each endpoint's queue (after the
//! endpoint's `ignore` rules) and a task per endpoint POSTs them one at a time, in order. A
//! POST answered 2xx or 3xx is delivered; any other answer, a connection error or `timeout`
//! is retried, as registry:2's retrying sink does: at once while fewer than `threshold` POSTs
//! in a row failed, after `backoff` between attempts from then on, until it is delivered. An
//! endpoint's queue holds at most [`QUEUE_LIMIT`] events; when it is full the oldest waiting
//! event is dropped, with a warning and the `registry_notifications_dropped_total` metric.
//! At shutdown the queues get until `http.draintimeout` to empty.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::time::format_rfc3339_nanos;
use crate::config::{redact_url, ConfigError, NotificationEndpoint, NotificationsConfig};

/// The envelope's media type.
pub const EVENTS_MEDIA_TYPE: &str = "application/vnd.docker.distribution.events.v1+json";

/// The media type of blob targets (registry:2 does not know what a blob is).
const BLOB_MEDIA_TYPE: &str = "application/octet-stream";

/// Events an endpoint's queue holds at most; when full, the oldest is dropped.
pub const QUEUE_LIMIT: usize = 10_000;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Pull,
    Push,
    Mount,
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Mount => "mount",
            Self::Delete => "delete",
        }
    }
}

/// A descriptor in a manifest event's `references`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reference {
    media_type: String,
    size: i64,
    digest: String,
}

/// What an event is about: registry:2's `Event.Target`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Target {
    media_type: String,
    size: u64,
    digest: String,
    repository: String,
    from_repository: String,
    /// `/v2/...` below the registry's base URL (empty for deletes).
    path: String,
    tag: String,
    references: Vec<Reference>,
}

/// An event, before the request's facts are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Event {
    action: Action,
    target: Target,
}

impl Event {
    /// A blob pushed (upload committed) or pulled (GET or HEAD served).
    pub(super) fn blob(action: Action, repository: &str, digest: &str, size: u64) -> Self {
        Self {
            action,
            target: Target {
                media_type: BLOB_MEDIA_TYPE.to_owned(),
                size,
                digest: digest.to_owned(),
                repository: repository.to_owned(),
                path: format!("/v2/{repository}/blobs/{digest}"),
                ..Target::default()
            },
        }
    }

    /// A blob mounted into `repository` from `from`.
    pub(super) fn mount(repository: &str, from: &str, digest: &str, size: u64) -> Self {
        let mut e = Self::blob(Action::Mount, repository, digest, size);
        e.target.from_repository = from.to_owned();
        e
    }

    /// A manifest pushed or pulled (`tag` when addressed by tag); `payload` gives the
    /// references when the notifier includes them.
    pub(super) fn manifest(
        action: Action,
        repository: &str,
        media_type: &str,
        digest: &str,
        payload: &[u8],
        tag: Option<&str>,
    ) -> Self {
        Self {
            action,
            target: Target {
                media_type: media_type.to_owned(),
                size: payload.len() as u64,
                digest: digest.to_owned(),
                repository: repository.to_owned(),
                path: format!("/v2/{repository}/manifests/{digest}"),
                tag: tag.unwrap_or_default().to_owned(),
                references: references_of(payload),
                ..Target::default()
            },
        }
    }

    /// A blob link or a manifest revision deleted.
    pub(super) fn deleted(repository: &str, digest: &str) -> Self {
        Self {
            action: Action::Delete,
            target: Target {
                digest: digest.to_owned(),
                repository: repository.to_owned(),
                ..Target::default()
            },
        }
    }

    /// A tag deleted.
    pub(super) fn tag_deleted(repository: &str, tag: &str) -> Self {
        Self {
            action: Action::Delete,
            target: Target {
                repository: repository.to_owned(),
                tag: tag.to_owned(),
                ..Target::default()
            },
        }
    }
}

/// The descriptors a manifest references (config and layers, or an index's manifests).
fn references_of(payload: &[u8]) -> Vec<Reference> {
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        return Vec::new();
    };
    let descriptor = |d: &Value| Reference {
        media_type: d["mediaType"].as_str().unwrap_or_default().to_owned(),
        size: d["size"].as_i64().unwrap_or(0),
        digest: d["digest"].as_str().unwrap_or_default().to_owned(),
    };
    let mut out = Vec::new();
    if let Some(c) = v.get("config").filter(|c| c.is_object()) {
        out.push(descriptor(c));
    }
    for key in ["layers", "manifests"] {
        if let Some(items) = v.get(key).and_then(Value::as_array) {
            out.extend(items.iter().map(descriptor));
        }
    }
    out
}

/// The facts of the request an event comes from: registry:2's `RequestRecord`, the actor,
/// and the base of the target URLs.
#[derive(Debug, Clone, Default)]
pub(super) struct RequestInfo {
    /// The request id (as in the logs).
    pub id: String,
    /// The client (`X-Forwarded-For`, `X-Real-Ip`, else the peer address).
    pub addr: String,
    /// The `Host` the request was sent to.
    pub host: String,
    pub method: String,
    pub user_agent: String,
    /// The authenticated user (htpasswd user, token subject), or empty.
    pub actor: String,
    /// `scheme://host` plus `http.prefix`, in front of the targets' `/v2/...` URLs.
    pub base_url: String,
}

/// An event waiting for delivery.
#[derive(Debug, Clone)]
struct Queued {
    id: String,
    action: Action,
    body: Bytes,
}

/// One endpoint: its settings, queue and counters.
struct Endpoint {
    name: String,
    url: String,
    headers: reqwest::header::HeaderMap,
    timeout: Duration,
    threshold: u32,
    backoff: Duration,
    ignored_media_types: HashSet<String>,
    ignored_actions: HashSet<String>,
    queue: Mutex<VecDeque<Queued>>,
    limit: usize,
    wake: Notify,
    /// Whether an event is being delivered (taken from the queue, not yet accepted).
    delivering: AtomicBool,
    events: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    fn new(cfg: &NotificationEndpoint, limit: usize) -> Result<Self, ConfigError> {
        let key = |k: &str| format!("notifications.endpoints.{}.{k}", cfg.name);
        if cfg.url.starts_with("https:") && !cfg!(feature = "tls") {
            return Err(ConfigError::new(
                key("url"),
                format!(
                    "{}: https needs a build with the `tls` feature (the default)",
                    key("url")
                ),
            ));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, values) in &cfg.headers {
            let n = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::new(
                    key("headers"),
                    format!("{}: not a valid header name", key("headers")),
                )
            })?;
            for v in values {
                let mut v = reqwest::header::HeaderValue::from_str(v).map_err(|_| {
                    ConfigError::new(
                        key("headers"),
                        format!("{}: not a valid value for header {name}", key("headers")),
                    )
                })?;
                v.set_sensitive(true);
                headers.append(n.clone(), v);
            }
        }
        Ok(Self {
            name: cfg.name.clone(),
            url: cfg.url.clone(),
            headers,
            timeout: cfg.timeout,
            threshold: cfg.threshold.max(1),
            backoff: cfg.backoff,
            ignored_media_types: cfg.ignored_media_types.iter().cloned().collect(),
            ignored_actions: cfg.ignored_actions.iter().cloned().collect(),
            queue: Mutex::new(VecDeque::new()),
            limit: limit.max(1),
            wake: Notify::new(),
            delivering: AtomicBool::new(false),
            events: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            statuses: Mutex::new(BTreeMap::new()),
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the endpoint's rules let `event` through.
    fn wants(&self, event: &Event) -> bool {
        !self.ignored_media_types.contains(&event.target.media_type)
            && !self.ignored_actions.contains(event.action.as_str())
    }

    /// Queues `q`, dropping the oldest waiting event when the queue is full.
    fn enqueue(&self, q: Queued) {
        self.events.fetch_add(1, Ordering::Relaxed);
        let dropped = {
            let mut queue = self.queue();
            let dropped = if queue.len() >= self.limit {
                queue.pop_front()
            } else {
                None
            };
            queue.push_back(q);
            dropped
        };
        if let Some(d) = dropped {
            let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                endpoint = %self.name,
                event.id = %d.id,
                event.action = d.action.as_str(),
                limit = self.limit,
                dropped_total = total,
                "notification queue full: dropped the oldest event (the endpoint is down or slower than the registry)"
            );
        }
        self.wake.notify_one();
    }

    /// Events queued or being delivered.
    fn pending(&self) -> usize {
        self.queue().len() + usize::from(self.delivering.load(Ordering::Acquire))
    }

    /// Takes the next event, waiting for one.
    async fn next(&self) -> Queued {
        loop {
            let notified = self.wake.notified();
            {
                let mut queue = self.queue();
                if let Some(q) = queue.pop_front() {
                    self.delivering.store(true, Ordering::Release);
                    return q;
                }
            }
            notified.await;
        }
    }

    /// POSTs `q` until the endpoint accepts it (registry:2's retrying sink).
    async fn deliver(&self, client: &reqwest::Client, q: &Queued, streak: &mut Streak) {
        loop {
            if streak.failures >= self.threshold {
                if let Some(last) = streak.last {
                    let wait = (last + self.backoff).saturating_duration_since(Instant::now());
                    tokio::time::sleep(wait).await;
                }
            }
            let sent = client
                .post(&self.url)
                .headers(self.headers.clone())
                .header(reqwest::header::CONTENT_TYPE, EVENTS_MEDIA_TYPE)
                .timeout(self.timeout)
                .body(q.body.clone())
                .send()
                .await;
            let failure = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    *self
                        .statuses
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(status.as_u16())
                        .or_insert(0) += 1;
                    if status.is_success() || status.is_redirection() {
                        self.successes.fetch_add(1, Ordering::Relaxed);
                        if streak.failures > 0 {
                            tracing::info!(endpoint = %self.name, failures = streak.failures, "notification endpoint accepts events again");
                        }
                        *streak = Streak::default();
                        return;
                    }
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    format!("answered {status}")
                }
                Err(e) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    let what = if e.is_timeout() {
                        format!("no answer within {:?} (timeout)", self.timeout)
                    } else if e.is_connect() {
                        "cannot connect".to_owned()
                    } else {
                        "request failed".to_owned()
                    };
                    what
                }
            };
            streak.failures = streak.failures.saturating_add(1);
            streak.last = Some(Instant::now());
            if streak.failures == 1 || streak.failures == self.threshold {
                tracing::warn!(
                    endpoint = %self.name,
                    url = %redact_url(&self.url),
                    event.id = %q.id,
                    failures = streak.failures,
                    backoff = ?self.backoff,
                    "notification not delivered ({failure}); retrying{}",
                    if streak.failures >= self.threshold { " after each backoff" } else { "" }
                );
            } else {
                tracing::debug!(endpoint = %self.name, event.id = %q.id, failures = streak.failures, "notification not delivered ({failure}); retrying");
            }
        }
    }
}

/// Consecutive failed POSTs of an endpoint.
#[derive(Debug, Default)]
struct Streak {
    failures: u32,
    last: Option<Instant>,
}

async fn run(endpoint: Arc<Endpoint>, client: reqwest::Client) {
    let mut streak = Streak::default();
    loop {
        let q = endpoint.next().await;
        endpoint.deliver(&client, &q, &mut streak).await;
        endpoint.delivering.store(false, Ordering::Release);
    }
}

/// registry:2's `SourceRecord`.
#[derive(Debug, Clone)]
struct Source {
    addr: String,
    instance_id: String,
}

/// The configured endpoints and their delivery tasks.
pub(super) struct Notifier {
    endpoints: Vec<Arc<Endpoint>>,
    source: Source,
    include_references: bool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// The notifier of `cfg` for a registry listening on `http_addr`, or `None` without
    /// enabled endpoints.
    ///
    /// # Errors
    /// An endpoint's headers are invalid, or its URL is https in a build without TLS.
    pub(super) fn new(
        cfg: &NotificationsConfig,
        http_addr: &str,
    ) -> Result<Option<Self>, ConfigError> {
        Self::with_limit(cfg, http_addr, QUEUE_LIMIT)
    }

    fn with_limit(
        cfg: &NotificationsConfig,
        http_addr: &str,
        limit: usize,
    ) -> Result<Option<Self>, ConfigError> {
        let mut endpoints = Vec::new();
        for e in &cfg.endpoints {
            if e.disabled {
                tracing::info!(endpoint = %e.name, "notification endpoint disabled, skipping");
                continue;
            }
            endpoints.push(Arc::new(Endpoint::new(e, limit)?));
        }
        if endpoints.is_empty() {
            return Ok(None);
        }
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty());
        let port = http_addr.rsplit_once(':').map(|(_, p)| p);
        let addr = match (hostname, port) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h,
            (None, _) => http_addr.to_owned(),
        };
        Ok(Some(Self {
            endpoints,
            source: Source {
                addr,
                instance_id: super::names::new_uuid().unwrap_or_default(),
            },
            include_references: cfg.include_references,
            tasks: Mutex::new(Vec::new()),
        }))
    }

    /// Starts the delivery tasks (once; they run until [`Notifier::stop`]).
    pub(super) fn start(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if !tasks.is_empty() {
            return;
        }
        for e in &self.endpoints {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("s3driver/", env!("CARGO_PKG_VERSION")))
                .build();
            let client = match client {
                Ok(c) => c,
                Err(err) => {
                    tracing::error!(endpoint = %e.name, error = %err, "cannot create the HTTP client of a notification endpoint; its events are kept queued");
                    continue;
                }
            };
            tracing::info!(endpoint = %e.name, url = %redact_url(&e.url), timeout = ?e.timeout, threshold = e.threshold, backoff = ?e.backoff, "notification endpoint configured");
            tasks.push(tokio::spawn(run(Arc::clone(e), client)));
        }
    }

    /// Waits up to `limit` for the queues to empty, then stops the delivery tasks; what is
    /// still queued is lost (and logged).
    pub(super) async fn stop(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.endpoints.iter().any(|e| e.pending() > 0) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for t in &tasks {
            t.abort();
        }
        for e in &self.endpoints {
            let left = e.pending();
            if left > 0 {
                tracing::warn!(endpoint = %e.name, events = left, "shutting down with notifications not delivered");
            }
        }
    }

    /// Records `event` of the request `req` and queues it for every endpoint that wants it.
    pub(super) fn emit(&self, mut event: Event, req: &RequestInfo) {
        if !self.include_references {
            event.target.references.clear();
        }
        let id = super::names::new_uuid().unwrap_or_default();
        let body = Bytes::from(self.envelope(&id, &event, req, SystemTime::now()));
        for e in &self.endpoints {
            if e.wants(&event) {
                e.enqueue(Queued {
                    id: id.clone(),
                    action: event.action,
                    body: body.clone(),
                });
            }
        }
    }

    /// The envelope of one event, as registry:2 marshals it.
    fn envelope(&self, id: &str, event: &Event, req: &RequestInfo, now: SystemTime) -> String {
        let t = &event.target;
        let s = |v: &str| Json::Str(v.to_owned());
        // Go's `omitempty`: empty strings and zero sizes are left out.
        fn text(fields: &mut Vec<(&'static str, Json)>, key: &'static str, v: &str) {
            if !v.is_empty() {
                fields.push((key, Json::Str(v.to_owned())));
            }
        }
        fn int(fields: &mut Vec<(&'static str, Json)>, key: &'static str, v: impl Into<i128>) {
            let v = v.into();
            if v != 0 {
                fields.push((key, Json::Int(v)));
            }
        }
        let url = if t.path.is_empty() {
            String::new()
        } else {
            format!("{}{}", req.base_url, t.path)
        };
        let mut target = Vec::new();
        text(&mut target, "mediaType", &t.media_type);
        int(&mut target, "size", t.size);
        text(&mut target, "digest", &t.digest);
        int(&mut target, "length", t.size);
        text(&mut target, "repository", &t.repository);
        text(&mut target, "fromRepository", &t.from_repository);
        text(&mut target, "url", &url);
        text(&mut target, "tag", &t.tag);
        if !t.references.is_empty() {
            let refs = t
                .references
                .iter()
                .map(|r| {
                    let mut o = Vec::new();
                    text(&mut o, "mediaType", &r.media_type);
                    int(&mut o, "size", r.size);
                    text(&mut o, "digest", &r.digest);
                    Json::Obj(o)
                })
                .collect();
            target.push(("references", Json::Arr(refs)));
        }
        let mut request = vec![("id", s(&req.id))];
        text(&mut request, "addr", &req.addr);
        text(&mut request, "host", &req.host);
        request.push(("method", s(&req.method)));
        request.push(("useragent", s(&req.user_agent)));
        let mut actor = Vec::new();
        text(&mut actor, "name", &req.actor);
        let mut source = Vec::new();
        text(&mut source, "addr", &self.source.addr);
        text(&mut source, "instanceID", &self.source.instance_id);
        let event = Json::Obj(vec![
            ("id", s(id)),
            ("timestamp", s(&format_rfc3339_nanos(now))),
            ("action", s(event.action.as_str())),
            ("target", Json::Obj(target)),
            ("request", Json::Obj(request)),
            ("actor", Json::Obj(actor)),
            ("source", Json::Obj(source)),
        ]);
        let mut out = String::new();
        Json::Obj(vec![("events", Json::Arr(vec![event]))]).write(&mut out, 0);
        out
    }

    /// Per endpoint: name, URL and counters, as registry:2's `/debug/vars` shows them
    /// (`registry.notifications.endpoints`), plus `Dropped`.
    pub(super) fn vars(&self) -> Value {
        let endpoints: Vec<Value> = self
            .endpoints
            .iter()
            .map(|e| {
                // Inserted one by one: collect() would instantiate a sort of its own.
                let mut statuses = serde_json::Map::new();
                for (code, n) in e
                    .statuses
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                {
                    statuses.insert(status_text(*code), Value::from(*n));
                }
                serde_json::json!({
                    "name": e.name,
                    "url": redact_url(&e.url),
                    "Timeout": e.timeout.as_nanos() as u64,
                    "Threshold": e.threshold,
                    "Backoff": e.backoff.as_nanos() as u64,
                    "Metrics": {
                        "Pending": e.pending(),
                        "Events": e.events.load(Ordering::Relaxed),
                        "Successes": e.successes.load(Ordering::Relaxed),
                        "Failures": e.failures.load(Ordering::Relaxed),
                        "Errors": e.errors.load(Ordering::Relaxed),
                        "Dropped": e.dropped.load(Ordering::Relaxed),
                        "Statuses": statuses,
                    },
                })
            })
            .collect();
        serde_json::json!({ "endpoints": endpoints })
    }
}

/// `200 OK`, as Go's `fmt.Sprintf("%d %s", code, http.StatusText(code))`.
fn status_text(code: u16) -> String {
    match hyper::StatusCode::from_u16(code) {
        Ok(s) => format!("{code} {}", s.canonical_reason().unwrap_or("")),
        Err(_) => code.to_string(),
    }
    .trim_end()
    .to_owned()
}

/// The notifications' Prometheus metrics, registry:2 3.x's names:
/// `registry_notifications_events_total{type,endpoint}` (`Events`, `Successes`, `Failures`,
/// `Errors`), `registry_notifications_pending{endpoint}`,
/// `registry_notifications_status_total{code,endpoint}`, plus
/// `registry_notifications_dropped_total{endpoint}`.
#[derive(Debug)]
pub(super) struct NotifierCollector(pub Arc<Notifier>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeEndpoint {
    r#type: &'static str,
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeEndpoint {
    code: String,
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

impl Collector for NotifierCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let eps = &self.0.endpoints;
        {
            let mut family = encoder.encode_descriptor(
                "registry_notifications_events",
                "The number of total events",
                None,
                MetricType::Counter,
            )?;
            for e in eps {
                for (kind, n) in [
                    ("Events", &e.events),
                    ("Successes", &e.successes),
                    ("Failures", &e.failures),
                    ("Errors", &e.errors),
                ] {
                    let labels = TypeEndpoint {
                        r#type: kind,
                        endpoint: e.name.clone(),
                    };
                    ConstCounter::new(n.load(Ordering::Relaxed))
                        .encode(family.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "registry_notifications_pending",
                "The gauge of pending events in queue",
                None,
                MetricType::Gauge,
            )?;
            for e in eps {
                let labels = EndpointLabel {
                    endpoint: e.name.clone(),
                };
                ConstGauge::new(i64::try_from(e.pending()).unwrap_or(i64::MAX))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "registry_notifications_status",
                "The number of status code",
                None,
                MetricType::Counter,
            )?;
            for e in eps {
                let statuses = e
                    .statuses
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                for (code, n) in statuses {
                    let labels = CodeEndpoint {
                        code: status_text(code),
                        endpoint: e.name.clone(),
                    };
                    ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "registry_notifications_dropped",
            "Events dropped because an endpoint's queue was full.",
            None,
            MetricType::Counter,
        )?;
        for e in eps {
            let labels = EndpointLabel {
                endpoint: e.name.clone(),
            };
            ConstCounter::new(e.dropped.load(Ordering::Relaxed))
                .encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// A JSON value with its keys in the order given, written as Go's `json.MarshalIndent(v, "",
/// "   ")` writes (HTML characters escaped as Go's encoder escapes them).
enum Json {
    Str(String),
    Int(i128),
    Obj(Vec<(&'static str, Json)>),
    Arr(Vec<Json>),
}

impl Json {
    fn write(&self, out: &mut String, depth: usize) {
        let pad = |out: &mut String, d: usize| {
            out.push('\n');
            for _ in 0..d {
                out.push_str("   ");
            }
        };
        match self {
            Self::Str(s) => out.push_str(&go_string(s)),
            Self::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Self::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Self::Arr(items) if items.is_empty() => out.push_str("[]"),
            Self::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, depth + 1);
                    out.push_str(&go_string(k));
                    out.push_str(": ");
                    v.write(out, depth + 1);
                }
                pad(out, depth);
                out.push('}');
            }
            Self::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, depth + 1);
                    v.write(out, depth + 1);
                }
                pad(out, depth);
                out.push(']');
            }
        }
    }
}

/// A JSON string as Go's `encoding/json` writes it (`<`, `>`, `&`, U+2028 and U+2029
/// escaped).
fn go_string(s: &str) -> String {
    let json = Value::from(s).to_string();
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(name: &str, url: &str) -> NotificationEndpoint {
        NotificationEndpoint {
            name: name.into(),
            url: url.into(),
            headers: vec![("Authorization".into(), vec!["Bearer s3cr3t".into()])],
            timeout: Duration::from_secs(1),
            threshold: 3,
            backoff: Duration::from_millis(10),
            ignored_media_types: Vec::new(),
            ignored_actions: Vec::new(),
            disabled: false,
        }
    }

    fn notifier(eps: Vec<NotificationEndpoint>, limit: usize) -> Notifier {
        let cfg = NotificationsConfig {
            include_references: false,
            endpoints: eps,
        };
        Notifier::with_limit(&cfg, "127.0.0.1:5000", limit)
            .unwrap()
            .unwrap()
    }

    fn req() -> RequestInfo {
        RequestInfo {
            id: "req-1".into(),
            addr: "127.0.0.1:40000".into(),
            host: "reg.example:5000".into(),
            method: "PUT".into(),
            user_agent: "skopeo/1".into(),
            actor: "alice".into(),
            base_url: "http://reg.example:5000".into(),
        }
    }

    const D: &str = "sha256:0139c1c77468f75e6763a4612262743bd47a36b26cb2863d662756b3377bb029";

    #[test]
    fn envelopes_are_registry2_events() {
        let n = notifier(vec![endpoint("a", "http://127.0.0.1:1/")], 10);
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_764_750_800, 38_804_998);
        let body = n.envelope("ev-1", &Event::blob(Action::Push, "foo", D, 9), &req(), t);
        let source = format!(
            "\"addr\": {},\n            \"instanceID\": \"{}\"",
            go_string(&n.source.addr),
            n.source.instance_id
        );
        // The shape registry:2 2.8.2 posts for a blob upload (captured from it).
        let want = format!(
            r#"{{
   "events": [
      {{
         "id": "ev-1",
         "timestamp": "2025-12-03T08:33:20.038804998Z",
         "action": "push",
         "target": {{
            "mediaType": "application/octet-stream",
            "size": 9,
            "digest": "{D}",
            "length": 9,
            "repository": "foo",
            "url": "http://reg.example:5000/v2/foo/blobs/{D}"
         }},
         "request": {{
            "id": "req-1",
            "addr": "127.0.0.1:40000",
            "host": "reg.example:5000",
            "method": "PUT",
            "useragent": "skopeo/1"
         }},
         "actor": {{
            "name": "alice"
         }},
         "source": {{
            {source}
         }}
      }}
   ]
}}"#
        );
        assert_eq!(body, want);
        assert!(n.source.addr.ends_with(":5000"), "{}", n.source.addr);
        // Deletes carry only the repository and the digest or tag; no actor is `{}`.
        let mut anonymous = req();
        anonymous.actor.clear();
        let v: Value = serde_json::from_str(&n.envelope(
            "ev-2",
            &Event::tag_deleted("foo", "v1"),
            &anonymous,
            t,
        ))
        .unwrap();
        assert_eq!(
            v["events"][0]["target"],
            serde_json::json!({"repository": "foo", "tag": "v1"})
        );
        assert_eq!(v["events"][0]["actor"], serde_json::json!({}));
        let v: Value =
            serde_json::from_str(&n.envelope("ev-3", &Event::mount("a", "b", D, 3), &req(), t))
                .unwrap();
        assert_eq!(v["events"][0]["target"]["fromRepository"], "b");
        assert_eq!(v["events"][0]["action"], "mount");
        assert_eq!(go_string("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
    }

    #[test]
    fn manifest_events_carry_tag_and_references() {
        let payload = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D}","size":36}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{D}","size":9}}]}}"#
        );
        let e = Event::manifest(
            Action::Pull,
            "foo",
            "application/vnd.oci.image.manifest.v1+json",
            D,
            payload.as_bytes(),
            Some("v1"),
        );
        assert_eq!(e.target.references.len(), 2);
        assert_eq!(e.target.size, payload.len() as u64);
        let mut cfg = NotificationsConfig {
            include_references: true,
            endpoints: vec![endpoint("a", "http://127.0.0.1:1/")],
        };
        let with = Notifier::with_limit(&cfg, ":5000", 10).unwrap().unwrap();
        let t = SystemTime::now();
        let v: Value = serde_json::from_str(&with.envelope("x", &e, &req(), t)).unwrap();
        let target = &v["events"][0]["target"];
        assert_eq!(target["tag"], "v1");
        assert_eq!(target["references"][1]["size"], 9);
        assert_eq!(
            target["url"],
            format!("http://reg.example:5000/v2/foo/manifests/{D}")
        );
        cfg.include_references = false;
        let without = Notifier::with_limit(&cfg, ":5000", 10).unwrap().unwrap();
        without.emit(e, &req());
        let q = without.endpoints[0].queue().pop_front().unwrap();
        let v: Value = serde_json::from_slice(&q.body).unwrap();
        assert!(v["events"][0]["target"].get("references").is_none());
    }

    #[test]
    fn ignore_rules_and_disabled_endpoints() {
        let mut quiet = endpoint("quiet", "http://127.0.0.1:1/");
        quiet.ignored_actions = vec!["pull".into()];
        quiet.ignored_media_types = vec!["application/octet-stream".into()];
        let mut off = endpoint("off", "not a url");
        off.disabled = true;
        let n = notifier(vec![endpoint("all", "http://127.0.0.1:1/"), quiet, off], 10);
        assert_eq!(n.endpoints.len(), 2, "the disabled endpoint is skipped");
        n.emit(Event::blob(Action::Push, "r", D, 1), &req());
        n.emit(
            Event::manifest(Action::Pull, "r", "application/x", D, b"{}", None),
            &req(),
        );
        n.emit(
            Event::manifest(Action::Push, "r", "application/x", D, b"{}", None),
            &req(),
        );
        assert_eq!(n.endpoints[0].queue().len(), 3);
        let kept: Vec<Action> = n.endpoints[1].queue().iter().map(|q| q.action).collect();
        assert_eq!(
            kept,
            [Action::Push],
            "blob push and manifest pull are ignored"
        );
        let none = NotificationsConfig {
            include_references: false,
            endpoints: vec![],
        };
        assert!(Notifier::new(&none, ":5000").unwrap().is_none());
    }

    #[test]
    fn a_full_queue_drops_the_oldest_event() {
        let n = notifier(vec![endpoint("slow", "http://127.0.0.1:1/")], 3);
        for i in 0..5 {
            n.emit(Event::tag_deleted("r", &format!("t{i}")), &req());
        }
        let e = &n.endpoints[0];
        let tags: Vec<String> = e
            .queue()
            .iter()
            .map(|q| {
                let v: Value = serde_json::from_slice(&q.body).unwrap();
                v["events"][0]["target"]["tag"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(tags, ["t2", "t3", "t4"]);
        assert_eq!(e.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(e.events.load(Ordering::Relaxed), 5);
        assert_eq!(e.pending(), 3);
        let vars = n.vars();
        assert_eq!(vars["endpoints"][0]["Metrics"]["Dropped"], 2);
        assert_eq!(vars["endpoints"][0]["Metrics"]["Pending"], 3);
        assert!(
            !vars.to_string().contains("s3cr3t"),
            "header values never shown"
        );
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(NotifierCollector(Arc::new(n))));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"registry_notifications_dropped_total{endpoint="slow"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"registry_notifications_events_total{type="Events",endpoint="slow"} 5"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"registry_notifications_pending{endpoint="slow"} 3"#),
            "{text}"
        );
    }

    #[test]
    fn status_text_is_gos() {
        assert_eq!(status_text(200), "200 OK");
        assert_eq!(status_text(503), "503 Service Unavailable");
        assert_eq!(status_text(599), "599");
    }
}
