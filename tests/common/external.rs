//! S3 servers started outside the tests (CI does it in `.ci/run`), found through the environment:
//!
//! - OpenStack Swift + s3api (`.ci/swift-s3api.sh`): `S3DRIVER_SWIFT_ENDPOINT` (e.g. `http://127.0.0.1:8090`),
//!   `S3DRIVER_REQUIRE_SWIFT=1`;
//! - Ceph RADOS Gateway (`.ci/ceph-rgw-start.sh`): `S3DRIVER_CEPH_ENDPOINT` (e.g. `http://127.0.0.1:7480`),
//!   `S3DRIVER_REQUIRE_CEPH=1`.
//!
//! With the endpoint set, a server's tests run against it. With `..._REQUIRE_...=1` a test FAILS when the endpoint is
//! not set (CI sets both, so nothing is silently skipped there); otherwise the tests print "skipped: ... not
//! running" and pass. Both servers keep their data between runs: use [`super::unique_bucket_name`] for buckets.

use std::io::Write;

use super::S3Target;

/// What differs between the external servers.
#[derive(Debug)]
pub struct ServerSpec {
    /// Short name ("swift", "ceph").
    pub name: &'static str,
    /// Environment variable holding the S3 endpoint.
    pub endpoint_env: &'static str,
    /// Environment variable that turns a missing server into a test failure.
    pub require_env: &'static str,
    /// Access key.
    pub access_key: &'static str,
    /// Secret key.
    pub secret_key: &'static str,
    /// Region the server answers GetBucketLocation with.
    pub region: &'static str,
    /// How to start it, for the skip and failure messages.
    pub start_hint: &'static str,
}

/// OpenStack Swift with s3api: tempauth user `test:tester`.
pub const SWIFT: ServerSpec = ServerSpec {
    name: "swift",
    endpoint_env: "S3DRIVER_SWIFT_ENDPOINT",
    require_env: "S3DRIVER_REQUIRE_SWIFT",
    access_key: "test:tester",
    secret_key: "testing",
    region: "us-east-1",
    start_hint: "bash .ci/swift-s3api.sh; export S3DRIVER_SWIFT_ENDPOINT=http://127.0.0.1:8090",
};

/// Ceph RGW as `.ci/ceph-rgw-start.sh` configures it (its default keys).
pub const CEPH: ServerSpec = ServerSpec {
    name: "ceph",
    endpoint_env: "S3DRIVER_CEPH_ENDPOINT",
    require_env: "S3DRIVER_REQUIRE_CEPH",
    access_key: "CEPHTESTKEY",
    secret_key: "cephtestsecret",
    region: "us-east-1",
    start_hint: "bash .ci/ceph-rgw-start.sh /tmp/s3driver-ceph; export S3DRIVER_CEPH_ENDPOINT=http://127.0.0.1:7480",
};

/// The second user `.ci/ceph-rgw-start.sh` creates on Ceph RGW: no rights of its own, for
/// pull-only bucket policies ([`ExternalServer::pull_only_reader`]).
pub const CEPH_READER: (&str, &str, &str) = ("ceph-reader", "CEPHREADERKEY", "cephreadersecret");

/// An external S3 endpoint configured through the environment.
#[derive(Debug, Clone)]
pub struct ExternalServer {
    spec: &'static ServerSpec,
    endpoint: String,
}

/// The Swift server (kept as a name of its own: most tests were written for it).
pub type SwiftServer = ExternalServer;

impl ExternalServer {
    /// `Some` when the server's endpoint variable is set and not empty; `None` otherwise. Does not contact the
    /// server.
    pub fn from_env_of(spec: &'static ServerSpec) -> Option<ExternalServer> {
        let endpoint = std::env::var(spec.endpoint_env).ok()?;
        let endpoint = endpoint.trim().trim_end_matches('/');
        if endpoint.is_empty() {
            return None;
        }
        Some(ExternalServer {
            spec,
            endpoint: endpoint.to_owned(),
        })
    }

    /// Swift, when configured.
    pub fn from_env() -> Option<ExternalServer> {
        Self::from_env_of(&SWIFT)
    }

    /// Which server this is.
    pub fn spec(&self) -> &'static ServerSpec {
        self.spec
    }

    /// Endpoint URL without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Access key.
    pub fn access_key(&self) -> &'static str {
        self.spec.access_key
    }

    /// Secret key.
    pub fn secret_key(&self) -> &'static str {
        self.spec.secret_key
    }

    /// Region.
    pub fn region(&self) -> &'static str {
        self.spec.region
    }

    /// Virtual-host domain with port: `localhost:PORT` (Swift's `storage_domain` and RGW's `rgw dns name` are
    /// `localhost`).
    pub fn virtual_host_domain(&self) -> String {
        let authority = self.endpoint.split("://").nth(1).unwrap_or(&self.endpoint);
        let port = authority.rsplit_once(':').map(|(_, p)| p).unwrap_or("80");
        format!("localhost:{port}")
    }

    /// Everything a client needs, in one value.
    pub fn target(&self) -> S3Target {
        S3Target {
            name: self.spec.name,
            endpoint: self.endpoint.clone(),
            access_key: self.spec.access_key.to_owned(),
            secret_key: self.spec.secret_key.to_owned(),
            region: self.spec.region.to_owned(),
            virtual_host_domain: self.virtual_host_domain(),
        }
    }

    /// Creates `bucket` with a reference-signed request (see [`S3Target::create_bucket`]).
    pub async fn create_bucket(&self, bucket: &str) {
        self.target().create_bucket(bucket).await;
    }

    /// Ceph only: gives [`CEPH_READER`] exactly what a pull-only registry's IAM policy gives
    /// (s3:ListBucket and s3:GetBucketLocation on `bucket`, s3:GetObject on its objects) with a
    /// bucket policy, and returns the target with the reader's keys.
    pub async fn pull_only_reader(&self, bucket: &str) -> S3Target {
        assert_eq!(
            self.spec.name, "ceph",
            "bucket policies are set up on Ceph RGW only"
        );
        let (uid, key, secret) = CEPH_READER;
        let principal = format!("arn:aws:iam:::user/{uid}");
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": [principal]},
                 "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                 "Resource": [format!("arn:aws:s3:::{bucket}")]},
                {"Effect": "Allow", "Principal": {"AWS": [principal]},
                 "Action": ["s3:GetObject"],
                 "Resource": [format!("arn:aws:s3:::{bucket}/*")]},
            ],
        });
        let owner = self.target();
        let resp = super::refsign::send_v4(
            &super::http_client(),
            "PUT",
            &format!("{}/{bucket}?policy=", owner.endpoint),
            &[("content-type", "application/json")],
            policy.to_string().into_bytes(),
            &owner.credentials(),
        )
        .await;
        let status = resp.status().as_u16();
        assert!(
            matches!(status, 200 | 204),
            "PutBucketPolicy: {status} {}",
            resp.text().await.unwrap_or_default()
        );
        S3Target {
            access_key: key.to_owned(),
            secret_key: secret.to_owned(),
            ..owner
        }
    }
}

/// Whether the environment asks for the server ("1", "true" or "yes").
pub fn required(spec: &ServerSpec) -> bool {
    std::env::var(spec.require_env)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// Whether `S3DRIVER_REQUIRE_SWIFT` asks for Swift.
pub fn swift_required() -> bool {
    required(&SWIFT)
}

/// The server for a test that needs one: `let Some(s) = common::server_or_skip(&CEPH) else { return };`
///
/// Returns `None` after printing "skipped: NAME not running" when the server is not configured, and PANICS (fails
/// the test) instead when its `..._REQUIRE_...` variable is set.
pub fn server_or_skip(spec: &'static ServerSpec) -> Option<ExternalServer> {
    if let Some(server) = ExternalServer::from_env_of(spec) {
        return Some(server);
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    assert!(
        !required(spec),
        "{test}: {} is required ({} is set) but {} is not: {}",
        spec.name,
        spec.require_env,
        spec.endpoint_env,
        spec.start_hint
    );
    // Written to the stderr handle directly: libtest captures `eprintln!` of passing tests, and this line must show.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped: {} not running ({})",
        spec.name,
        spec.start_hint
    );
    None
}

/// The Swift server for a test that needs one (see [`server_or_skip`]).
pub fn swift_or_skip() -> Option<SwiftServer> {
    server_or_skip(&SWIFT)
}

/// The Ceph RGW server for a test that needs one (see [`server_or_skip`]).
pub fn ceph_or_skip() -> Option<ExternalServer> {
    server_or_skip(&CEPH)
}
