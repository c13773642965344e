//! An in-process s3s + s3s-fs server on 127.0.0.1 (random port) with signature verification,
//! for benchmarks and examples (the same setup as `tests/common/s3s_server.rs`, without the
//! test-only extras). Include it with `#[path = ".../benches/support/s3s_fs.rs"] mod s3s_fs;`.

#![allow(dead_code)] // each includer uses a different part

use std::net::SocketAddr;
use std::path::Path;

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Access key id the server accepts.
pub const ACCESS_KEY: &str = "AKIDS3DRIVERBENCH";
/// Secret key the server accepts.
pub const SECRET_KEY: &str = "s3driver/Bench+Secret/Key+0123456789abcdefXYZ";
/// Region clients sign for.
pub const REGION: &str = "us-east-1";

/// A running s3s-fs server; stops and deletes its data directory when dropped.
#[derive(Debug)]
pub struct S3sFs {
    addr: SocketAddr,
    data: TempDir,
    task: JoinHandle<()>,
}

impl S3sFs {
    /// Starts a server on `127.0.0.1:port` (0: any free port) over a fresh temporary data
    /// directory created under `$S3DRIVER_BENCH_DATA` (default: the system temp dir). Must
    /// be called inside a Tokio runtime, which then runs the server's tasks.
    ///
    /// # Panics
    /// When the directory cannot be created or the port cannot be bound.
    pub async fn start(port: u16) -> S3sFs {
        let mut builder = tempfile::Builder::new();
        builder.prefix("s3driver-bench-");
        let data = match std::env::var_os("S3DRIVER_BENCH_DATA") {
            Some(dir) => builder.tempdir_in(dir),
            None => builder.tempdir(),
        }
        .expect("s3s-fs: cannot create a temporary data directory");
        let fs = s3s_fs::FileSystem::new(data.path())
            .expect("s3s-fs: cannot use its temporary data directory");
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("s3s-fs: cannot bind 127.0.0.1:{port}: {e}"));
        let addr = listener.local_addr().expect("s3s-fs: no local address");
        let task = crate::s3s_serve::spawn_http1(listener, service);
        S3sFs { addr, data, task }
    }

    /// `http://127.0.0.1:PORT` (path-style addressing).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's data root (bucket `b` is the directory `<root>/b`).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Creates `bucket` (a directory in the data root, as s3s-fs's CreateBucket does).
    ///
    /// # Panics
    /// When the directory cannot be created.
    pub fn create_bucket(&self, bucket: &str) {
        std::fs::create_dir(self.data.path().join(bucket))
            .unwrap_or_else(|e| panic!("s3s-fs: cannot create bucket {bucket:?}: {e}"));
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        self.task.abort();
    }
}
