//! OpenStack Swift + s3api, started outside the tests by `.ci/swift-s3api.sh` (CI does it in `.ci/run`).
//!
//! Environment:
//! - `S3DRIVER_SWIFT_ENDPOINT` (e.g. `http://127.0.0.1:8090`): Swift tests run against it.
//! - `S3DRIVER_REQUIRE_SWIFT=1`: a Swift test FAILS when the endpoint is not set (CI sets both, so nothing is
//!   silently skipped there). Without it, Swift tests print "skipped: swift not running" and pass.
//!
//! Swift keeps its data between runs: use [`super::unique_bucket_name`] for buckets.

use std::io::Write;

use super::S3Target;

/// Environment variable holding Swift's S3 endpoint.
pub const ENDPOINT_ENV: &str = "S3DRIVER_SWIFT_ENDPOINT";
/// Environment variable that turns a missing Swift into a test failure.
pub const REQUIRE_ENV: &str = "S3DRIVER_REQUIRE_SWIFT";

/// A Swift s3api endpoint configured through the environment.
#[derive(Debug, Clone)]
pub struct SwiftServer {
    endpoint: String,
}

impl SwiftServer {
    /// Access key (tempauth account:user).
    pub const ACCESS_KEY: &'static str = "test:tester";
    /// Secret key.
    pub const SECRET_KEY: &'static str = "testing";
    /// Region (s3api `location`).
    pub const REGION: &'static str = "us-east-1";

    /// `Some` when `S3DRIVER_SWIFT_ENDPOINT` is set and not empty; `None` otherwise. Does not contact the server.
    pub fn from_env() -> Option<SwiftServer> {
        let endpoint = std::env::var(ENDPOINT_ENV).ok()?;
        let endpoint = endpoint.trim().trim_end_matches('/');
        if endpoint.is_empty() {
            return None;
        }
        Some(SwiftServer {
            endpoint: endpoint.to_owned(),
        })
    }

    /// Endpoint URL without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Access key.
    pub fn access_key(&self) -> &'static str {
        Self::ACCESS_KEY
    }

    /// Secret key.
    pub fn secret_key(&self) -> &'static str {
        Self::SECRET_KEY
    }

    /// Region.
    pub fn region(&self) -> &'static str {
        Self::REGION
    }

    /// Virtual-host domain with port: `localhost:PORT` (s3api's `storage_domain` is `localhost`).
    pub fn virtual_host_domain(&self) -> String {
        let authority = self.endpoint.split("://").nth(1).unwrap_or(&self.endpoint);
        let port = authority.rsplit_once(':').map(|(_, p)| p).unwrap_or("80");
        format!("localhost:{port}")
    }

    /// Everything a client needs, in one value.
    pub fn target(&self) -> S3Target {
        S3Target {
            name: "swift",
            endpoint: self.endpoint.clone(),
            access_key: Self::ACCESS_KEY.to_owned(),
            secret_key: Self::SECRET_KEY.to_owned(),
            region: Self::REGION.to_owned(),
            virtual_host_domain: self.virtual_host_domain(),
        }
    }

    /// Creates `bucket` through s3api with a reference-signed request (see [`S3Target::create_bucket`]).
    pub async fn create_bucket(&self, bucket: &str) {
        self.target().create_bucket(bucket).await;
    }
}

/// Whether `S3DRIVER_REQUIRE_SWIFT` asks for Swift ("1", "true" or "yes").
pub fn swift_required() -> bool {
    std::env::var(REQUIRE_ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// The Swift server for a test that needs one:
/// `let Some(swift) = common::swift_or_skip() else { return };`
///
/// Returns `None` after printing "skipped: swift not running" when Swift is not configured, and PANICS (fails the
/// test) instead when `S3DRIVER_REQUIRE_SWIFT=1`.
pub fn swift_or_skip() -> Option<SwiftServer> {
    if let Some(swift) = SwiftServer::from_env() {
        return Some(swift);
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    assert!(
        !swift_required(),
        "{test}: Swift is required ({REQUIRE_ENV} is set) but {ENDPOINT_ENV} is not: start it with \
         `bash .ci/swift-s3api.sh` and export {ENDPOINT_ENV}=http://127.0.0.1:8090"
    );
    // Written to the stderr handle directly: libtest captures `eprintln!` of passing tests, and this line must show.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped: swift not running (set {ENDPOINT_ENV}=http://127.0.0.1:8090 after .ci/swift-s3api.sh)"
    );
    None
}
