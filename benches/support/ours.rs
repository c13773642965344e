//! s3driver's throughput contenders: the client ([`S3Client::put_object`] with a signed
//! payload, [`S3Client::put_object_stream`] unsigned or aws-chunked, [`S3Client::get_object`])
//! and the S3 driver (`writer` in 1 MiB writes with 10 MiB parts, `reader`).

#![allow(dead_code)] // each includer uses a different part

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream;
use tokio::io::AsyncReadExt;

use s3driver::client::{AddressingStyle, PayloadSigning, S3Client, WriteOptions};
use s3driver::driver::{Parameters, S3Driver, StorageDriver};

use super::throughput::Contender;

/// A driver (and its client) on `endpoint`, bucket `bucket`, path style, 10 MiB parts.
///
/// # Panics
/// When the driver cannot be built.
pub fn driver(
    endpoint: &str,
    bucket: &str,
    access_key: &str,
    secret_key: &str,
) -> Arc<s3driver::driver::Base<S3Driver>> {
    driver_with(endpoint, bucket, access_key, secret_key, &[])
}

/// [`driver`] with more parameters (e.g. `maxconcurrentparts`).
pub fn driver_with(
    endpoint: &str,
    bucket: &str,
    access_key: &str,
    secret_key: &str,
    extra: &[(&str, &str)],
) -> Arc<s3driver::driver::Base<S3Driver>> {
    let mut params = Parameters::from_iter([
        ("region", "us-east-1"),
        ("regionendpoint", endpoint),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("accesskey", access_key),
        ("secretkey", secret_key),
        ("chunksize", "10485760"),
    ]);
    for (k, v) in extra {
        params = params.with(*k, *v);
    }
    Arc::new(s3driver::driver::Base::new(
        S3Driver::from_parameters(&params).expect("s3driver: driver parameters"),
    ))
}

/// The driver's writer on `driver` built with another `maxconcurrentparts` (1, or 8 as
/// object_store's BufWriter keeps them: the same memory for the same overlap), named `name`.
pub fn deep_writer(
    driver: &Arc<s3driver::driver::Base<S3Driver>>,
    name: &'static str,
) -> Contender {
    let d = Arc::clone(driver);
    Contender {
        name,
        put: Box::new(move |key, body| {
            let d = Arc::clone(&d);
            Box::pin(async move {
                let mut w = d.writer(&format!("/{key}"), false).await.expect("writer");
                for piece in body.chunks(1 << 20) {
                    w.write(piece).await.expect("writer write");
                }
                w.commit().await.expect("writer commit");
                w.close().await.expect("writer close");
                body.len() as u64
            })
        }),
        get: None,
    }
}

/// `body` cut into 1 MiB [`Bytes`] pieces (slices, no copy), as a stream for
/// [`S3Client::put_object_stream`].
fn mib_pieces(body: &Bytes) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let pieces: Vec<std::io::Result<Bytes>> = (0..body.len())
        .step_by(1 << 20)
        .map(|at| Ok(body.slice(at..body.len().min(at + (1 << 20)))))
        .collect();
    stream::iter(pieces)
}

/// `s3driver client aws-chunked stream`: [`S3Client::put_object_stream`] of 1 MiB pieces on
/// a client with [`PayloadSigning::SignedChunked`] (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`,
/// each chunk signed as it is sent), on `endpoint`, bucket `bucket`, path style, the
/// driver's region. Put only. Not for servers without aws-chunked (OpenStack Swift's s3api).
///
/// # Panics
/// When the client cannot be built.
pub fn chunked_stream(
    endpoint: &str,
    bucket: &str,
    access_key: &str,
    secret_key: &str,
) -> Contender {
    let client = S3Client::builder()
        .endpoint(endpoint)
        .region("us-east-1")
        .bucket(bucket)
        .addressing_style(AddressingStyle::Path)
        .static_credentials(access_key, secret_key)
        .payload_signing(PayloadSigning::SignedChunked)
        .build()
        .expect("s3driver: aws-chunked client");
    Contender {
        name: "s3driver client aws-chunked stream",
        put: Box::new(move |key, body| {
            let c = client.clone();
            Box::pin(async move {
                let n = body.len() as u64;
                c.put_object_stream(&key, mib_pieces(&body), n, &WriteOptions::default())
                    .await
                    .expect("put_object_stream (aws-chunked)");
                n
            })
        }),
        get: None,
    }
}

/// The s3driver contenders on `driver` (and its client).
pub fn contenders(driver: &Arc<s3driver::driver::Base<S3Driver>>) -> Vec<Contender> {
    let client: S3Client = driver.inner().client().clone();
    let (c1, c2, c3) = (client.clone(), client.clone(), client);
    let (d1, d2) = (Arc::clone(driver), Arc::clone(driver));
    vec![
        Contender {
            name: "s3driver client",
            put: Box::new(move |key, body| {
                let c = c1.clone();
                Box::pin(async move {
                    let n = body.len() as u64;
                    c.put_object(&key, body, &WriteOptions::default())
                        .await
                        .expect("put_object");
                    n
                })
            }),
            get: Some(Box::new(move |key| {
                let c = c2.clone();
                Box::pin(async move {
                    let mut out = c.get_object(&key, None).await.expect("get_object");
                    let mut n = 0u64;
                    while let Some(chunk) = out.chunk().await.expect("get_object body") {
                        n += chunk.len() as u64;
                    }
                    n
                })
            })),
        },
        Contender {
            name: "s3driver client unsigned stream",
            put: Box::new(move |key, body| {
                let c = c3.clone();
                Box::pin(async move {
                    let n = body.len() as u64;
                    c.put_object_stream(&key, mib_pieces(&body), n, &WriteOptions::default())
                        .await
                        .expect("put_object_stream");
                    n
                })
            }),
            get: None,
        },
        Contender {
            name: "s3driver driver",
            put: Box::new(move |key, body| {
                let d = Arc::clone(&d1);
                Box::pin(async move {
                    let mut w = d.writer(&format!("/{key}"), false).await.expect("writer");
                    for piece in body.chunks(1 << 20) {
                        w.write(piece).await.expect("writer write");
                    }
                    w.commit().await.expect("writer commit");
                    w.close().await.expect("writer close");
                    body.len() as u64
                })
            }),
            get: Some(Box::new(move |key| {
                let d = Arc::clone(&d2);
                Box::pin(async move {
                    let mut r = d.reader(&format!("/{key}"), 0).await.expect("reader");
                    let mut buf = vec![0u8; 256 << 10];
                    let mut n = 0u64;
                    loop {
                        let got = r.read(&mut buf).await.expect("reader read");
                        if got == 0 {
                            return n;
                        }
                        n += got as u64;
                    }
                })
            })),
        },
    ]
}
