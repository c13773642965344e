//! In-process s3s + s3s-fs 0.14.1 server on 127.0.0.1 (random port), signature verification on.
//!
//! What it verifies and its quirks: see /work/shared/reference/s3-test-servers.md (SigV4 header and presigned,
//! aws-chunked chunk signatures, x-amz-content-sha256 against the body, SigV2 header and presigned; a bad chunk
//! signature or payload hash comes back as 500, ListMultipartUploads is 501).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use s3s::auth::SimpleAuth;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Result};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::S3Target;

/// A running s3s-fs server. Stops (and deletes its data directory) when dropped.
///
/// Works in `#[tokio::test]` of either flavour: the server runs as tasks on the test's runtime, so the test must
/// not block its thread while waiting on the server.
#[derive(Debug)]
pub struct S3sServer {
    addr: SocketAddr,
    data: TempDir,
    task: JoinHandle<()>,
}

impl S3sServer {
    /// Access key id the server accepts.
    pub const ACCESS_KEY: &'static str = "AKIDS3DRIVERTEST";
    /// Secret key the server accepts; contains '/' and '+' on purpose.
    pub const SECRET_KEY: &'static str = "s3driver/Test+Secret/Key+0123456789abcdefXYZ";
    /// Region to sign for (s3s accepts any region in the credential scope; clients should still use this one).
    pub const REGION: &'static str = "us-east-1";

    /// Starts a server on 127.0.0.1:0 with a fresh temporary data directory.
    ///
    /// Path-style requests go to `http://127.0.0.1:PORT/BUCKET/KEY` (or `http://localhost:PORT/...`);
    /// virtual-hosted-style ones to `http://BUCKET.localhost:PORT/KEY` (any port, so this also works through a
    /// [`super::FaultProxy`]).
    pub async fn start() -> S3sServer {
        let data = tempfile::Builder::new()
            .prefix("s3driver-s3s-")
            .tempdir()
            .expect("test harness: cannot create a temporary directory for s3s-fs");
        let fs = s3s_fs::FileSystem::new(data.path())
            .expect("test harness: s3s-fs cannot use its temporary data directory");
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(Self::ACCESS_KEY, Self::SECRET_KEY));
            b.set_host(LoopbackHost);
            b.build()
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("test harness: cannot bind 127.0.0.1:0 for s3s-fs");
        let addr = listener
            .local_addr()
            .expect("test harness: listener has no local address");

        let task = tokio::spawn(async move {
            // Connection tasks live in this JoinSet: aborting the accept task drops the set, which aborts them all.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else {
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                            continue;
                        };
                        // Without it, small responses wait ~40 ms for delayed ACKs.
                        let _ = socket.set_nodelay(true);
                        let service = service.clone();
                        conns.spawn(async move {
                            let io = hyper_util::rt::TokioIo::new(socket);
                            // Errors here are client disconnects; the client side of a test reports them.
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });

        S3sServer { addr, data, task }
    }

    /// Socket address the server listens on (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Path-style endpoint URL without a trailing slash: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Virtual-host domain with port: `localhost:PORT` (buckets are `BUCKET.localhost:PORT`).
    pub fn virtual_host_domain(&self) -> String {
        format!("localhost:{}", self.port())
    }

    /// Access key id.
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

    /// Everything a client needs, in one value.
    pub fn target(&self) -> S3Target {
        S3Target {
            name: "s3s-fs",
            endpoint: self.endpoint(),
            access_key: Self::ACCESS_KEY.to_owned(),
            secret_key: Self::SECRET_KEY.to_owned(),
            region: Self::REGION.to_owned(),
            virtual_host_domain: self.virtual_host_domain(),
        }
    }

    /// The server's data root: bucket `b` is the directory `<root>/b`, object `k` the file `<root>/b/k`.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Where s3s-fs stores object `key` of `bucket` (for "was it stored?" assertions).
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.data.path().join(bucket).join(key)
    }

    /// Creates `bucket` directly in the data root, exactly what s3s-fs's CreateBucket does (a directory).
    /// Panics if it already exists or is not a valid S3 bucket name (s3s rejects requests to those with 400
    /// InvalidBucketName): 3-63 characters of `a-z 0-9 . -`, starting and ending with a letter or digit.
    pub fn create_bucket(&self, bucket: &str) {
        let edge_ok =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        assert!(
            (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
                && edge_ok(bucket.chars().next())
                && edge_ok(bucket.chars().last()),
            "test harness: {bucket:?} is not a valid S3 bucket name"
        );
        std::fs::create_dir(self.data.path().join(bucket)).unwrap_or_else(|e| {
            panic!("test harness: cannot create bucket {bucket:?} in s3s-fs: {e}")
        });
    }
}

impl Drop for S3sServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Host parsing for loopback test servers: `localhost[:port]` is path-style, `BUCKET.localhost[:port]` is
/// virtual-hosted-style for BUCKET, whatever the port (so proxies in front of the server keep working).
/// IP-address hosts never reach an [`S3Host`]: s3s treats them as path-style itself.
#[derive(Debug)]
struct LoopbackHost;

impl S3Host for LoopbackHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                name
            }
            _ => host,
        };
        let lower = name.to_ascii_lowercase();
        if lower == "localhost" {
            return Ok(VirtualHost::new(host));
        }
        match lower.strip_suffix(".localhost") {
            Some(bucket) if !bucket.is_empty() => {
                // ASCII lowercasing keeps byte offsets, and the suffix is ASCII: this is a char boundary of `host`.
                let domain = &host[bucket.len() + 1..];
                Ok(VirtualHost::new(domain).with_bucket(bucket.to_owned()))
            }
            _ => Err(s3_error!(
                InvalidRequest,
                "test server only serves localhost, BUCKET.localhost and 127.0.0.1"
            )),
        }
    }
}
