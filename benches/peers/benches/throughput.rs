//! PUT/GET throughput, s3driver (client and driver) against object_store (feature `aws`), in
//! one run, side by side, against two in-process servers that verify signatures: s3s-fs
//! (objects on disk, MD5 on every write) and a bench-only in-memory server that is not the
//! bottleneck (`benches/support/s3s_mem.rs`). The contenders alternate order from round to
//! round (`benches/support/interleaved.rs`); each table gives the median, minimum and maximum
//! of the rounds, with the load average and the floors (single-core SHA-256, loopback TCP)
//! measured in the same run.
//!
//! With `S3DRIVER_SWIFT_ENDPOINT` set (e.g. `http://127.0.0.1:8090` from
//! `.ci/swift-s3api.sh`; keys `S3DRIVER_SWIFT_ACCESS_KEY`/`_SECRET_KEY`, default
//! `test:tester`/`testing`), the same contenders also run against Swift in a fresh bucket,
//! except `s3driver client aws-chunked stream`: Swift's s3api does not support aws-chunked.
//!
//! ```text
//! cd benches/peers && cargo bench --bench throughput
//! S3DRIVER_BENCH_ROUNDS=9 S3DRIVER_BENCH_BIG=1 S3DRIVER_SWIFT_ENDPOINT=http://127.0.0.1:8090 cargo bench --bench throughput
//! ```
//!
//! Contenders (all path-style, HTTP/1.1, same credentials):
//! - `s3driver client`: `put_object` (SHA-256 signed payload; no Content-MD5, as the signed
//!   SHA-256 already covers the body) / `get_object`.
//! - `s3driver client unsigned stream`: `put_object_stream` (`UNSIGNED-PAYLOAD`).
//! - `s3driver client aws-chunked stream`: `put_object_stream` on a client with
//!   `PayloadSigning::SignedChunked` (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, each chunk
//!   signed as it is sent, so the hashing overlaps the transfer). Not run against Swift.
//! - `s3driver driver`: `writer` (1 MiB writes, 10 MiB parts, two parts in flight, the
//!   default: three buffers) / `reader`.
//! - `s3driver driver, 1 part in flight` and `8 parts in flight`: the same with
//!   `maxconcurrentparts: 1` (two buffers) and `8` (BufWriter's overlap).
//! - `object_store`: `put` (one PutObject, SHA-256 signed payload) / `get`.
//! - `object_store unsigned`: `put` with `with_unsigned_payload(true)`.
//! - `object_store BufWriter`: `BufWriter` of 10 MiB capacity (1 MiB `write_all`s, multipart
//!   above that, up to 8 parts in flight).

#[path = "../../support/interleaved.rs"]
mod interleaved;
#[path = "../../support/ours.rs"]
mod ours;
#[path = "../../support/s3s_fs.rs"]
mod s3s_fs;
#[path = "../../support/s3s_mem.rs"]
mod s3s_mem;
#[path = "../../support/s3s_serve.rs"]
mod s3s_serve;
#[path = "../../support/throughput.rs"]
mod throughput;

use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

use throughput::Contender;

/// Where the contenders put and get: endpoint, bucket and keys.
struct Target {
    endpoint: String,
    bucket: String,
    access_key: String,
    secret_key: String,
}

fn store(t: &Target, unsigned: bool) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&t.endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region(s3s_fs::REGION)
            .with_bucket_name(&t.bucket)
            .with_access_key_id(&t.access_key)
            .with_secret_access_key(&t.secret_key)
            .with_unsigned_payload(unsigned)
            .build()
            .expect("object_store: S3 builder"),
    )
}

fn object_store_contenders(t: &Target) -> Vec<Contender> {
    let signed = store(t, false);
    let unsigned = store(t, true);
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

/// Creates `bucket` on an external server with a SigV2-signed PUT Bucket (our signer, a raw
/// HTTP/1.1 request: the bench has no other client that creates buckets).
fn create_bucket(t: &Target) {
    use s3driver::sign::{v2, SignableRequest, SigningCredentials};
    use std::io::{Read, Write};
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let path = format!("/{}", t.bucket);
    let host = t
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let sig = v2::sign_header(
        &SignableRequest {
            method: "PUT",
            path: &path,
            query: &[],
            headers: &[],
        },
        &SigningCredentials {
            access_key_id: &t.access_key,
            secret_access_key: &t.secret_key,
            session_token: None,
        },
        v2::BucketAddressing::PathStyle,
        "",
        "",
        &date,
    )
    .expect("sign PUT Bucket");
    let mut s = std::net::TcpStream::connect(host).expect("connect to the S3 server");
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nDate: {date}\r\nAuthorization: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        sig.authorization
    )
    .expect("send PUT Bucket");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "PUT Bucket {}: {}",
        t.bucket,
        answer.lines().next().unwrap_or("")
    );
}

fn main() {
    let rounds = std::env::var("S3DRIVER_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let rt = throughput::runtime();
    interleaved::floors();
    let sizes = throughput::sizes();
    // `aws_chunked`: whether the server supports aws-chunked (Swift's s3api does not).
    let contenders = |t: &Target, aws_chunked: bool| {
        let _guard = rt.enter();
        let driver = ours::driver(&t.endpoint, &t.bucket, &t.access_key, &t.secret_key);
        let deep = ours::driver_with(
            &t.endpoint,
            &t.bucket,
            &t.access_key,
            &t.secret_key,
            &[("maxconcurrentparts", "8")],
        );
        let one = ours::driver_with(
            &t.endpoint,
            &t.bucket,
            &t.access_key,
            &t.secret_key,
            &[("maxconcurrentparts", "1")],
        );
        let mut c = ours::contenders(&driver);
        if aws_chunked {
            let after_unsigned = c
                .iter()
                .position(|x| x.name == "s3driver client unsigned stream")
                .map_or(c.len(), |i| i + 1);
            c.insert(
                after_unsigned,
                ours::chunked_stream(&t.endpoint, &t.bucket, &t.access_key, &t.secret_key),
            );
        }
        c.push(ours::deep_writer(&one, "s3driver driver, 1 part in flight"));
        c.push(ours::deep_writer(
            &deep,
            "s3driver driver, 8 parts in flight",
        ));
        c.extend(object_store_contenders(t));
        c
    };
    let local = |endpoint: String| Target {
        endpoint,
        bucket: "bench".to_owned(),
        access_key: s3s_fs::ACCESS_KEY.to_owned(),
        secret_key: s3s_fs::SECRET_KEY.to_owned(),
    };
    {
        let server = rt.block_on(s3s_fs::S3sFs::start(0));
        server.create_bucket("bench");
        let t = local(server.endpoint());
        interleaved::run(&rt, "s3s-fs 0.14.1", &contenders(&t, true), &sizes, rounds);
    }
    {
        let server = rt.block_on(s3s_mem::S3sMem::start(0));
        let t = local(server.endpoint());
        interleaved::run(
            &rt,
            "in-memory s3s (bench server)",
            &contenders(&t, true),
            &sizes,
            rounds,
        );
    }
    // OpenStack Swift's s3api (.ci/swift-s3api.sh), when S3DRIVER_SWIFT_ENDPOINT is set.
    if let Ok(endpoint) = std::env::var("S3DRIVER_SWIFT_ENDPOINT") {
        let t = Target {
            endpoint,
            bucket: format!("s3d-peers-{}", std::process::id()),
            access_key: std::env::var("S3DRIVER_SWIFT_ACCESS_KEY")
                .unwrap_or_else(|_| "test:tester".to_owned()),
            secret_key: std::env::var("S3DRIVER_SWIFT_SECRET_KEY")
                .unwrap_or_else(|_| "testing".to_owned()),
        };
        create_bucket(&t);
        interleaved::run(
            &rt,
            "OpenStack Swift s3api (another process)",
            &contenders(&t, false),
            &sizes,
            rounds,
        );
    }
}
