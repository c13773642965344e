//! Prometheus metrics (`http.debug.prometheus`), named as `registry:2` names them where it has
//! a metric, so its dashboards and alerts keep working:
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `registry_http_requests_total` | `code`, `handler`, `method` | requests answered |
//! | `registry_http_request_duration_seconds` | `handler`, `method` | latency histogram |
//! | `registry_http_in_flight_requests` | `handler` | requests being handled |
//! | `registry_storage_action_seconds` | `driver`, `action` | storage driver call latency |
//! | `registry_upload_bytes_total` | | blob bytes received in uploads |
//! | `registry_s3_requests_total` | | S3 requests sent (every attempt) |
//! | `registry_s3_retries_total` | | S3 requests that retried a failed one |
//! | `registry_s3_errors_total` | `code` | failed S3 requests by error code |
//!
//! The handler names are registry:2's (`base`, `blob`, `blob_upload`, `blob_upload_chunk`,
//! `catalog`, `manifest`, `tags`, plus `referrers`), the methods lower case, the storage actions
//! those of its `base` driver wrapper (`GetContent`, `PutContent`, `Reader`, `Writer`, `Stat`,
//! `List`, `Move`, `Delete`, `URLFor`, `Walk`). The exposition is the Prometheus text format
//! (0.0.4), as registry:2 serves it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::driver::{
    BoxedReader, DriverError, FileInfo, FileWriter, IncompleteWrites, RedirectRequest,
    StorageDriver, WalkFn, WalkOptions,
};

/// The `Content-Type` of the exposition.
pub(super) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// registry:2's request-duration buckets (seconds).
const HTTP_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0,
];

/// Storage-call buckets: 1 ms to ~1 min.
const STORAGE_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    code: String,
    handler: &'static str,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerMethod {
    handler: &'static str,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerLabel {
    handler: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StorageLabels {
    driver: String,
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

/// The registry's metrics; cheap to share.
#[derive(Debug)]
pub(super) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<HandlerMethod, Histogram>,
    in_flight: Family<HandlerLabel, Gauge>,
    storage: Family<StorageLabels, Histogram>,
    upload_bytes: Counter,
}

/// The S3 client's counters, read at each scrape.
#[derive(Debug)]
struct ClientCollector {
    driver: Arc<dyn StorageDriver>,
}

impl Collector for ClientCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(stats) = self.driver.client_stats() else {
            return Ok(());
        };
        for (name, help, value) in [
            (
                "registry_s3_requests",
                "S3 requests sent, every attempt counted.",
                stats.attempts,
            ),
            (
                "registry_s3_retries",
                "S3 requests that retried a failed one.",
                stats.retries,
            ),
        ] {
            let c = ConstCounter::new(value);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let mut family = encoder.encode_descriptor(
            "registry_s3_errors",
            "Failed S3 requests by error code.",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (code, n) in stats.errors {
            ConstCounter::new(n).encode(family.encode_family(&CodeLabel { code })?)?;
        }
        Ok(())
    }
}

impl Metrics {
    /// Metrics for a registry whose storage is `driver` (its S3 client's counters included).
    #[cfg(test)]
    pub(super) fn new(driver: Arc<dyn StorageDriver>) -> Arc<Self> {
        Self::with_collectors(driver, Vec::new())
    }

    /// Metrics for a registry whose storage is `driver`, plus those `extra` collects at each
    /// scrape (notifications).
    pub(super) fn with_collectors(
        driver: Arc<dyn StorageDriver>,
        extra: Vec<Box<dyn Collector>>,
    ) -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "registry_http_requests",
            "Total number of HTTP requests made.",
            requests.clone(),
        );
        let duration = Family::<HandlerMethod, Histogram>::new_with_constructor(
            (|| Histogram::new(HTTP_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "registry_http_request_duration_seconds",
            "The HTTP request latencies in seconds.",
            duration.clone(),
        );
        let in_flight = Family::<HandlerLabel, Gauge>::default();
        registry.register(
            "registry_http_in_flight_requests",
            "The in-flight HTTP requests",
            in_flight.clone(),
        );
        let storage = Family::<StorageLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(STORAGE_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "registry_storage_action_seconds",
            "The number of seconds that the storage action takes",
            storage.clone(),
        );
        let upload_bytes = Counter::default();
        registry.register(
            "registry_upload_bytes",
            "Blob bytes received in uploads.",
            upload_bytes.clone(),
        );
        registry.register_collector(Box::new(ClientCollector { driver }));
        for c in extra {
            registry.register_collector(c);
        }
        Arc::new(Self {
            registry,
            requests,
            duration,
            in_flight,
            storage,
            upload_bytes,
        })
    }

    /// The exposition (Prometheus text format).
    pub(super) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// Marks a request to `handler` as started; the guard ends it.
    pub(super) fn start(self: &Arc<Self>, handler: &'static str) -> InFlight {
        self.in_flight
            .get_or_create(&HandlerLabel { handler })
            .inc();
        InFlight {
            metrics: Arc::clone(self),
            handler,
        }
    }

    /// Counts a finished request.
    pub(super) fn finished(
        &self,
        handler: &'static str,
        method: &str,
        status: u16,
        elapsed: Duration,
    ) {
        let method = method.to_ascii_lowercase();
        self.requests
            .get_or_create(&RequestLabels {
                code: status.to_string(),
                handler,
                method: method.clone(),
            })
            .inc();
        self.duration
            .get_or_create(&HandlerMethod { handler, method })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts blob bytes received.
    pub(super) fn uploaded(&self, bytes: u64) {
        self.upload_bytes.inc_by(bytes);
    }

    fn storage_call(&self, driver: &str, action: &'static str, elapsed: Duration) {
        self.storage
            .get_or_create(&StorageLabels {
                driver: driver.to_owned(),
                action,
            })
            .observe(elapsed.as_secs_f64());
    }
}

/// Ends an in-flight request when dropped (also when the client goes away).
#[derive(Debug)]
pub(super) struct InFlight {
    metrics: Arc<Metrics>,
    handler: &'static str,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics
            .in_flight
            .get_or_create(&HandlerLabel {
                handler: self.handler,
            })
            .dec();
    }
}

/// A driver wrapper that times every call into `registry_storage_action_seconds`.
#[derive(Debug)]
pub(super) struct TimedDriver {
    inner: Arc<dyn StorageDriver>,
    metrics: Arc<Metrics>,
}

impl TimedDriver {
    pub(super) fn new(inner: Arc<dyn StorageDriver>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn timed<T>(&self, action: &'static str, start: Instant, r: T) -> T {
        self.metrics
            .storage_call(self.inner.name(), action, start.elapsed());
        r
    }
}

#[async_trait]
impl StorageDriver for TimedDriver {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError> {
        let t = Instant::now();
        let r = self.inner.get_content(path).await;
        self.timed("GetContent", t, r)
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError> {
        let t = Instant::now();
        let r = self.inner.put_content(path, content).await;
        self.timed("PutContent", t, r)
    }

    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError> {
        let t = Instant::now();
        let r = self.inner.reader(path, offset).await;
        self.timed("Reader", t, r)
    }

    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        let t = Instant::now();
        let r = self.inner.writer(path, append).await;
        self.timed("Writer", t, r)
    }

    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        let t = Instant::now();
        let r = self.inner.stat(path).await;
        self.timed("Stat", t, r)
    }

    async fn stat_file(&self, path: &str) -> Result<Option<FileInfo>, DriverError> {
        let t = Instant::now();
        let r = self.inner.stat_file(path).await;
        self.timed("Stat", t, r)
    }

    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        let t = Instant::now();
        let r = self.inner.list(path).await;
        self.timed("List", t, r)
    }

    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError> {
        let t = Instant::now();
        let r = self.inner.move_to(src, dst).await;
        self.timed("Move", t, r)
    }

    async fn delete(&self, path: &str) -> Result<(), DriverError> {
        let t = Instant::now();
        let r = self.inner.delete(path).await;
        self.timed("Delete", t, r)
    }

    async fn redirect_url(
        &self,
        req: &RedirectRequest,
        path: &str,
    ) -> Result<Option<String>, DriverError> {
        let t = Instant::now();
        let r = self.inner.redirect_url(req, path).await;
        self.timed("URLFor", t, r)
    }

    async fn walk(
        &self,
        path: &str,
        f: &mut WalkFn<'_>,
        opts: WalkOptions,
    ) -> Result<(), DriverError> {
        let t = Instant::now();
        let r = self.inner.walk(path, f, opts).await;
        self.timed("Walk", t, r)
    }

    fn s3_bucket_key(&self, path: &str) -> Option<String> {
        self.inner.s3_bucket_key(path)
    }

    fn append_needs_existing(&self) -> bool {
        self.inner.append_needs_existing()
    }

    fn client_stats(&self) -> Option<crate::client::ClientStats> {
        self.inner.client_stats()
    }

    async fn purge_incomplete_writes(
        &self,
        path: &str,
        older_than: std::time::SystemTime,
        dry_run: bool,
    ) -> Result<IncompleteWrites, DriverError> {
        self.inner
            .purge_incomplete_writes(path, older_than, dry_run)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::InMemoryDriver;

    #[tokio::test]
    async fn counts_requests_and_storage_calls_in_registry2_names() {
        let inner: Arc<dyn StorageDriver> =
            Arc::new(crate::driver::Base::new(InMemoryDriver::new()));
        let m = Metrics::new(Arc::clone(&inner));
        let d = TimedDriver::new(inner, Arc::clone(&m));
        d.put_content("/a", Bytes::from_static(b"x")).await.unwrap();
        assert!(d.get_content("/missing").await.is_err());
        {
            let _guard = m.start("blob");
            assert!(m
                .encode()
                .contains(r#"registry_http_in_flight_requests{handler="blob"} 1"#));
        }
        m.finished("blob", "GET", 200, Duration::from_millis(3));
        m.uploaded(10);
        let text = m.encode();
        for want in [
            r#"registry_http_requests_total{code="200",handler="blob",method="get"} 1"#,
            r#"registry_http_request_duration_seconds_bucket{handler="blob",method="get",le="0.005"} 1"#,
            r#"registry_http_in_flight_requests{handler="blob"} 0"#,
            r#"registry_storage_action_seconds_count{driver="inmemory",action="PutContent"} 1"#,
            r#"registry_storage_action_seconds_count{driver="inmemory",action="GetContent"} 1"#,
            "registry_upload_bytes_total 10",
            "# TYPE registry_http_requests_total counter",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
        assert!(
            !text.contains("registry_s3_"),
            "no S3 client behind inmemory"
        );
    }
}
