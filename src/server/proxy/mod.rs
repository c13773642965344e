//! The pull-through cache (`proxy.remoteurl`, Distribution's `registry/proxy`): manifests
//! and blobs of any repository are served from storage when they are there (and, for a
//! tag, fresh), and otherwise fetched from the upstream registry, stored in registry:2's
//! layout and served.
//!
//! * **Blobs** ([`blobs`]): a missing blob is fetched once however many clients ask for it
//!   at the same time (the first one's request leads, the others wait and are then served
//!   from storage). The leader's client gets the bytes as they arrive while they are
//!   written to storage; they are hashed on the way, and the last piece reaches the client
//!   only once the whole blob matches its digest. On a mismatch (or a short transfer) the
//!   client's response breaks off (it never looks complete), and nothing is stored.
//!   A blob the storage holds already (fetched through another repository) is linked into
//!   the repository once the upstream confirms this repository has it (a `HEAD`).
//! * **Manifests** ([`manifests`]): by digest they are immutable: fetched once, checked
//!   against the digest. By tag the local copy is served while the tag was checked less
//!   than `proxy.ttl` ago; after that the upstream is asked (`HEAD`) whether the tag still
//!   points there, and a moved tag is fetched. When the upstream cannot be asked, the
//!   cached copy is served.
//! * **Expiry** ([`scheduler`]): registry:2's TTL scheduler, with its state file.
//! * **Writes** (push, delete) are refused with `UNSUPPORTED`, as registry:2's cache does.
//! * **The upstream** ([`upstream`]): anonymous, basic or Docker token authentication,
//!   tokens cached until they expire, every wait bounded by `proxy.timeout`. When it is
//!   down, cached content is still served and the rest fails at once with `503
//!   UNAVAILABLE`; content it answers wrongly fails with `502`.

mod blobs;
mod challenge;
mod manifests;
pub(crate) mod scheduler;
mod upstream;

use std::sync::Arc;
use std::time::Duration;

use hyper::header::RETRY_AFTER;
use hyper::StatusCode;

pub(super) use blobs::serve as blob;
pub(super) use manifests::{ensure as ensure_manifest, tags};

use super::digest::Digest;
use super::error::{ApiErrors, ErrorCode};
use crate::config::{ConfigError, ProxyConfig};
use crate::driver::StorageDriver;
use upstream::UpstreamError;

/// A configured pull-through cache.
#[derive(Debug)]
pub(crate) struct Proxy {
    upstream: upstream::Upstream,
    ttl: Option<Duration>,
    scheduler: Option<Arc<scheduler::Scheduler>>,
    inflight: blobs::Inflight,
}

impl Proxy {
    /// The cache `config` describes.
    ///
    /// # Errors
    /// The upstream's HTTP client cannot be built.
    pub(crate) fn new(config: &ProxyConfig) -> Result<Self, ConfigError> {
        let upstream =
            upstream::Upstream::new(config).map_err(|e| ConfigError::new("proxy.remoteurl", e))?;
        Ok(Self {
            upstream,
            ttl: config.ttl,
            scheduler: config
                .ttl
                .map(|ttl| Arc::new(scheduler::Scheduler::new(ttl))),
            inflight: blobs::Inflight::default(),
        })
    }

    /// Schedules the removal of cached content, when it expires at all.
    fn schedule(&self, kind: scheduler::Kind, name: &str, digest: &Digest) {
        if let Some(s) = &self.scheduler {
            s.add(kind, name, digest);
        }
    }

    /// Starts the TTL scheduler (when `proxy.ttl` is not 0).
    pub(crate) fn start(
        &self,
        driver: Arc<dyn StorageDriver>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        tracing::info!(upstream = %self.upstream.base(), ttl = ?self.ttl, "registry configured as a pull-through cache");
        let s = Arc::clone(self.scheduler.as_ref()?);
        Some(tokio::spawn(s.run(driver)))
    }

    /// Writes the scheduler's state (at shutdown).
    pub(crate) async fn flush(&self, driver: &dyn StorageDriver) {
        if let Some(s) = &self.scheduler {
            if let Err(e) = s.sync(driver, true).await {
                tracing::error!(error = %e, "the proxy scheduler's state could not be saved at shutdown");
            }
        }
    }
}

/// The client's error for an upstream failure about a blob or manifest (`unknown` is its
/// "not found" code).
fn upstream_error(e: UpstreamError, unknown: ErrorCode) -> ApiErrors {
    match e {
        UpstreamError::Unreachable(m) => ErrorCode::Unavailable
            .with_detail(format!(
                "{m}; content this cache holds is still served, the rest only once the upstream registry answers again"
            ))
            .into(),
        UpstreamError::Denied(m) => unknown
            .with_detail(format!(
                "{m} (the repository may not exist upstream)"
            ))
            .into(),
        UpstreamError::Bad(m) => ErrorCode::Unavailable
            .with_detail(m)
            .with_status(StatusCode::BAD_GATEWAY)
            .into(),
    }
}

/// The client's error for an upstream answer with an unexpected `status`.
fn status_error(resp: &reqwest::Response, unknown: ErrorCode, what: &str) -> ApiErrors {
    let status = resp.status();
    match status.as_u16() {
        404 => unknown
            .with_detail(format!("{what} is not in the upstream registry"))
            .into(),
        429 => {
            let retry = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                .unwrap_or(60);
            ErrorCode::TooManyRequests
                .with_detail("the upstream registry is rate-limiting this cache; try again later")
                .with_retry_after(retry)
                .into()
        }
        _ => {
            tracing::warn!(%status, what, "unexpected answer from the upstream registry");
            upstream_error(
                UpstreamError::Bad(format!(
                    "the upstream registry answered {} for {what}",
                    status.as_u16()
                )),
                unknown,
            )
        }
    }
}
