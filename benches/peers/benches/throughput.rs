//! PUT/GET throughput, s3driver (client and driver) against object_store (feature `aws`), in
//! one run, side by side, against two in-process servers that verify signatures: s3s-fs
//! (objects on disk, MD5 on every write) and a bench-only in-memory server that is not the
//! bottleneck (`benches/support/s3s_mem.rs`). The contenders alternate order from round to
//! round (`benches/support/interleaved.rs`); each table gives the median, minimum and maximum
//! of the rounds, with the load average and the floors (single-core SHA-256, loopback TCP)
//! measured in the same run.
//!
//! ```text
//! cd benches/peers && cargo bench --bench throughput
//! S3DRIVER_BENCH_ROUNDS=9 S3DRIVER_BENCH_BIG=1 cargo bench --bench throughput
//! ```
//!
//! Contenders (all path-style, HTTP/1.1, same credentials):
//! - `s3driver client`: `put_object` (SHA-256 signed payload; no Content-MD5, as the signed
//!   SHA-256 already covers the body) / `get_object`.
//! - `s3driver client unsigned stream`: `put_object_stream` (`UNSIGNED-PAYLOAD`).
//! - `s3driver driver`: `writer` (1 MiB writes, 10 MiB parts, one part in flight, the default)
//!   / `reader`.
//! - `s3driver driver, 8 parts in flight`: the same with `maxconcurrentparts: 8`.
//! - `object_store`: `put` (one PutObject, SHA-256 signed payload) / `get`.
//! - `object_store unsigned`: `put` with `with_unsigned_payload(true)`.
//! - `object_store BufWriter`: `BufWriter` of 10 MiB capacity (1 MiB `write_all`s, multipart
//!   above that, up to 8 parts in flight).

#[path = "../../support/ours.rs"]
mod ours;
#[path = "../../support/s3s_fs.rs"]
mod s3s_fs;
#[path = "../../support/s3s_serve.rs"]
mod s3s_serve;
#[path = "../../support/throughput.rs"]
mod throughput;
#[path = "../../support/interleaved.rs"]
mod interleaved;
#[path = "../../support/s3s_mem.rs"]
mod s3s_mem;

use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

use throughput::Contender;

fn store(endpoint: &str, bucket: &str, unsigned: bool) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region(s3s_fs::REGION)
            .with_bucket_name(bucket)
            .with_access_key_id(s3s_fs::ACCESS_KEY)
            .with_secret_access_key(s3s_fs::SECRET_KEY)
            .with_unsigned_payload(unsigned)
            .build()
            .expect("object_store: S3 builder"),
    )
}

fn object_store_contenders(endpoint: &str, bucket: &str) -> Vec<Contender> {
    let signed = store(endpoint, bucket, false);
    let unsigned = store(endpoint, bucket, true);
    let (s1, s2, s3) = (Arc::clone(&signed), Arc::clone(&signed), signed);
    vec![
        Contender {
            name: "object_store",
            put: Box::new(move |key, body| {
                let s = Arc::clone(&s1);
                Box::pin(async move {
                    let n = body.len() as u64;
                    s.put(&Path::from(key), PutPayload::from_bytes(body))
                        .await
                        .expect("object_store put");
                    n
                })
            }),
            get: Some(Box::new(move |key| {
                let s = Arc::clone(&s2);
                Box::pin(async move {
                    let mut stream = s
                        .get(&Path::from(key))
                        .await
                        .expect("object_store get")
                        .into_stream();
                    let mut n = 0u64;
                    while let Some(chunk) = stream.next().await {
                        n += chunk.expect("object_store get body").len() as u64;
                    }
                    n
                })
            })),
        },
        Contender {
            name: "object_store unsigned",
            put: Box::new(move |key, body| {
                let s = Arc::clone(&unsigned);
                Box::pin(async move {
                    let n = body.len() as u64;
                    s.put(&Path::from(key), PutPayload::from_bytes(body))
                        .await
                        .expect("object_store put (unsigned)");
                    n
                })
            }),
            get: None,
        },
        Contender {
            name: "object_store BufWriter",
            put: Box::new(move |key, body| {
                let s = Arc::clone(&s3);
                Box::pin(async move {
                    let mut w = BufWriter::with_capacity(s, Path::from(key), 10 << 20);
                    for piece in body.chunks(1 << 20) {
                        w.write_all(piece).await.expect("BufWriter write");
                    }
                    w.shutdown().await.expect("BufWriter shutdown");
                    body.len() as u64
                })
            }),
            get: None,
        },
    ]
}

fn main() {
    let rounds = std::env::var("S3DRIVER_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let rt = throughput::runtime();
    interleaved::floors();
    let sizes = throughput::sizes();
    let contenders = |endpoint: &str| {
        let _guard = rt.enter();
        let driver = ours::driver(&endpoint, "bench", s3s_fs::ACCESS_KEY, s3s_fs::SECRET_KEY);
        let deep = ours::driver_with(
            &endpoint,
            "bench",
            s3s_fs::ACCESS_KEY,
            s3s_fs::SECRET_KEY,
            &[("maxconcurrentparts", "8")],
        );
        let mut c = ours::contenders(&driver);
        c.push(ours::deep_writer(&deep));
        c.extend(object_store_contenders(endpoint, "bench"));
        c
    };
    {
        let server = rt.block_on(s3s_fs::S3sFs::start(0));
        server.create_bucket("bench");
        let endpoint = server.endpoint();
        interleaved::run(&rt, "s3s-fs 0.14.1", &contenders(&endpoint), &sizes, rounds);
    }
    {
        let server = rt.block_on(s3s_mem::S3sMem::start(0));
        let endpoint = server.endpoint();
        interleaved::run(&rt, "in-memory s3s (bench server)", &contenders(&endpoint), &sizes, rounds);
    }
}
