//! Shared integration-test harness for s3driver (test-only; every integration test includes it with `mod common;`).
//!
//! - [`S3sServer`]: in-process s3s + s3s-fs 0.14.1 on 127.0.0.1 with SigV4/SigV2 verification on.
//! - [`ExternalServer`]: OpenStack Swift + s3api (`.ci/swift-s3api.sh`, `S3DRIVER_SWIFT_ENDPOINT`) and Ceph RGW
//!   (`.ci/ceph-rgw-start.sh`, `S3DRIVER_CEPH_ENDPOINT`); [`swift_or_skip`] and [`ceph_or_skip`] decide between
//!   running, skipping and failing.
//! - [`fake_http`]: a recording HTTP server for fake credential endpoints (STS, SSO portal, IMDS).
//! - [`moto`]: moto's server (S3 + STS with IAM authentication) started per test binary.
//! - [`FaultProxy`]: a TCP proxy that injects S3 error responses, resets, closes, delays and truncations.
//! - [`refsign`]: independent reference signers (aws-sigv4 for SigV4, a small SigV2 one), never our own `sign`.
//!
//! Each test binary uses only part of this module, hence the `dead_code` and `unused_imports` allowances.
#![allow(dead_code, unused_imports)]

pub mod external;
pub mod fake_http;
pub mod fault_proxy;
pub mod moto;
pub mod refsign;
pub mod s3s_server;

pub use external::{
    ceph_or_skip, server_or_skip, swift_or_skip, ExternalServer, SwiftServer, CEPH, SWIFT,
};
pub use fake_http::{serve_fake, FakeRequest, FakeResponse, RequestLog};
pub use fault_proxy::{Fault, FaultPlan, FaultProxy, FaultRule, RequestRecord};
pub use refsign::RefCredentials;
pub use s3s_server::S3sServer;

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A plain-HTTP reqwest client for reaching the test servers: no system proxy (tests talk to 127.0.0.1 only,
/// whatever `http_proxy` says) and a 30 s overall timeout so a broken server fails a test instead of hanging it.
pub fn http_client() -> reqwest::Client {
    http_client_builder()
        .build()
        .expect("test harness: cannot build a reqwest client")
}

/// The builder behind [`http_client`], to add `resolve`, a shorter timeout, etc.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
}

/// Where and how to reach one S3-compatible test server: what a client under test needs to be configured with.
#[derive(Clone)]
pub struct S3Target {
    /// Short name of the server kind, for messages: "s3s-fs" or "swift".
    pub name: &'static str,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub endpoint: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key (never printed by `Debug`).
    pub secret_key: String,
    /// Signing region.
    pub region: String,
    /// Domain for virtual-hosted-style requests (`BUCKET.<domain>`), port included when not 80, e.g.
    /// `localhost:41234`. `*.localhost` does not resolve through the system resolver here, so clients must map it
    /// to 127.0.0.1 themselves (reqwest: `ClientBuilder::resolve`).
    pub virtual_host_domain: String,
}

impl fmt::Debug for S3Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Target")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("region", &self.region)
            .field("virtual_host_domain", &self.virtual_host_domain)
            .finish()
    }
}

impl S3Target {
    /// The credentials for the reference signers in [`refsign`].
    pub fn credentials(&self) -> RefCredentials {
        RefCredentials::new(&self.access_key, &self.secret_key, &self.region)
    }

    /// The same server reached through another endpoint (e.g. a [`FaultProxy`] in front of it).
    pub fn via(&self, endpoint: &str) -> S3Target {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let host = endpoint
            .rsplit_once(':')
            .map(|(_, port)| port)
            .unwrap_or_default();
        S3Target {
            endpoint: endpoint.clone(),
            virtual_host_domain: format!("localhost:{host}"),
            ..self.clone()
        }
    }

    /// Creates `bucket` with a SigV4 request signed by the reference signer. A busy server's 503 ("reduce your
    /// request rate": Swift answers it when its container database is locked by another test) is retried with
    /// backoff, as every S3 client must; any other answer but 200 panics (test failure) with the server's response.
    pub async fn create_bucket(&self, bucket: &str) {
        let client = http_client();
        let url = format!("{}/{bucket}", self.endpoint);
        let mut attempt = 0u32;
        loop {
            let resp =
                refsign::send_v4(&client, "PUT", &url, &[], Vec::new(), &self.credentials()).await;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if status == 503 && attempt < SLOW_DOWN_RETRIES {
                attempt += 1;
                tokio::time::sleep(slow_down_backoff(attempt)).await;
                continue;
            }
            assert_eq!(
                status, 200,
                "{}: creating bucket {bucket:?} failed after {attempt} retries: {body}",
                self.name
            );
            return;
        }
    }
}

/// How many times test set-up retries a server's 503 "slow down" answer before failing.
pub const SLOW_DOWN_RETRIES: u32 = 8;

/// Backoff before retry `attempt` (1-based) of a 503: 100 ms doubling up to 1.6 s (about 8 s over all retries).
pub fn slow_down_backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.clamp(1, 5).saturating_sub(1))
}

/// A bucket name unlikely to exist on a shared server (Swift keeps its data between test runs and between test
/// binaries): `s3d-<prefix>-<pid>-<time>-<counter>`, lowercase, at most 63 characters.
pub fn unique_bucket_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000_000)
        .unwrap_or_default();
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(20)
        .collect();
    format!("s3d-{prefix}-{}-{nanos}-{n}", std::process::id())
}
