//! `health.storagedriver`: a periodic `stat("/")` of the driver (Distribution's
//! `RegisterHealthChecks` with a threshold updater) and `/debug/health`.
//!
//! After `threshold` consecutive failures the check reports its last error;
//! one success clears it. `PathNotFound` counts as success (the backend
//! answered). While a check fails, every `/v2/` request is answered with 503
//! `UNAVAILABLE`, as `registry:2`'s `health.Handler` does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};

use super::body::{self, Body};
use crate::config::HealthCheckConfig;
use crate::driver::StorageDriver;

/// The health state shared by the checker and the request handlers.
#[derive(Debug, Clone)]
pub(super) struct Health {
    name: Arc<str>,
    state: Arc<Mutex<CheckState>>,
}

#[derive(Debug, Default)]
struct CheckState {
    failures: u32,
    error: Option<String>,
}

impl Health {
    /// A healthy state for the check called `name` (`storagedriver_<driver>`).
    pub(super) fn new(name: String) -> Self {
        Self {
            name: name.into(),
            state: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CheckState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records one check result.
    pub(super) fn record(&self, result: Result<(), String>, threshold: u32) {
        let mut s = self.lock();
        match result {
            Ok(()) => {
                if s.error.take().is_some() {
                    tracing::info!(check = %self.name, "health check passes again");
                }
                s.failures = 0;
            }
            Err(e) => {
                s.failures = s.failures.saturating_add(1);
                if s.failures >= threshold.max(1) {
                    if s.error.is_none() {
                        tracing::error!(check = %self.name, failures = s.failures, error = %e, "health check failing; the registry reports itself unavailable");
                    }
                    s.error = Some(e);
                }
            }
        }
    }

    /// True when no check is failing.
    pub(super) fn is_healthy(&self) -> bool {
        self.lock().error.is_none()
    }

    /// The failing checks and their errors.
    pub(super) fn status(&self) -> BTreeMap<String, String> {
        let mut status = BTreeMap::new();
        if let Some(e) = &self.lock().error {
            status.insert(self.name.to_string(), e.clone());
        }
        status
    }
}

/// Runs the storage driver check every `cfg.interval` until aborted. A check
/// that takes longer than the interval counts as failed.
pub(super) async fn run(driver: Arc<dyn StorageDriver>, health: Health, cfg: HealthCheckConfig) {
    tracing::info!(interval = ?cfg.interval, threshold = cfg.threshold, "configuring storage health check");
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + cfg.interval, cfg.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = match tokio::time::timeout(cfg.interval, driver.stat("/")).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_path_not_found() => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "storage driver check timed out after {:?}",
                cfg.interval
            )),
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "storage driver health check");
        }
        health.record(result, cfg.threshold);
    }
}

/// `/debug/health`: 200 `{}` when healthy, 503 with `{"<check>":"<error>"}`
/// otherwise; methods other than GET get 404 (Distribution's `StatusHandler`).
pub(super) fn response(health: &Health, method: &Method) -> Response<Body> {
    if method != Method::GET {
        let mut r = Response::new(body::empty());
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    }
    let status = health.status();
    let mut text = serde_json::to_string(&status).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    let mut r = Response::new(body::empty());
    if !status.is_empty() {
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(CONTENT_LENGTH, text.len().into());
    *r.body_mut() = body::full(text);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_counts_consecutive_failures() {
        let h = Health::new("storagedriver_inmemory".into());
        h.record(Err("boom".into()), 3);
        h.record(Err("boom".into()), 3);
        assert!(h.is_healthy());
        h.record(Ok(()), 3);
        h.record(Err("a".into()), 3);
        h.record(Err("b".into()), 3);
        assert!(h.is_healthy());
        h.record(Err("c".into()), 3);
        assert!(!h.is_healthy());
        assert_eq!(h.status()["storagedriver_inmemory"], "c");
        h.record(Ok(()), 3);
        assert!(h.is_healthy());
        h.record(Err("x".into()), 0);
        assert!(!h.is_healthy(), "threshold 0 behaves like 1");
    }
}
