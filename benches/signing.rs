//! Signer benchmarks: SigV4 header signing (GET; PUT of 1 MiB including its SHA-256),
//! presigning, SigV2 and signing-key derivation.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use s3driver::sign::crypto::{sha256_hex, EMPTY_SHA256};
use s3driver::sign::v2::{self, BucketAddressing};
use s3driver::sign::v4::{self, SignOptions, SigningKey, SigningKeyCache, SigningParams};
use s3driver::sign::{Credentials, PayloadHash, SignableRequest, UriMode};

const CREDS: Credentials<'static> = Credentials {
    access_key_id: "AKIAIOSFODNN7EXAMPLE",
    secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    session_token: None,
};

fn params(payload: PayloadHash<'_>) -> SigningParams<'_> {
    SigningParams {
        credentials: CREDS,
        region: "us-east-1",
        service: "s3",
        time: UNIX_EPOCH + Duration::from_secs(1_369_353_600),
        uri_mode: UriMode::S3,
        payload,
    }
}

const BLOB: &str = "/docker/registry/v2/blobs/sha256/4f/4f2a1b8c9d0e/data";

fn bench(c: &mut Criterion) {
    let get_headers = [
        ("host", "examplebucket.s3.us-east-1.amazonaws.com"),
        ("range", "bytes=0-1048575"),
        ("user-agent", "s3driver/0.1"),
    ];
    let get = SignableRequest {
        method: "GET",
        path: BLOB,
        query: &[],
        headers: &get_headers,
    };
    let cache = SigningKeyCache::new();
    let cached = SignOptions {
        key_cache: Some(&cache),
        ..SignOptions::default()
    };

    c.bench_function("sigv4 header GET (key cached)", |b| {
        let p = params(PayloadHash::Precomputed(EMPTY_SHA256));
        b.iter(|| v4::sign_headers_with(black_box(&get), black_box(&p), &cached).unwrap());
    });
    c.bench_function("sigv4 header GET (key derived)", |b| {
        let p = params(PayloadHash::Precomputed(EMPTY_SHA256));
        b.iter(|| v4::sign_headers(black_box(&get), black_box(&p)).unwrap());
    });

    let body = vec![0x5au8; 1 << 20];
    let put_headers = [
        ("host", "examplebucket.s3.us-east-1.amazonaws.com"),
        ("content-length", "1048576"),
        ("content-type", "application/octet-stream"),
    ];
    let query = [
        ("partNumber", "3"),
        (
            "uploadId",
            "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA",
        ),
    ];
    let put = SignableRequest {
        method: "PUT",
        path: BLOB,
        query: &query,
        headers: &put_headers,
    };
    let mut group = c.benchmark_group("sigv4 header PUT 1 MiB");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("sha256 + sign (key cached)", |b| {
        b.iter(|| {
            let hash = sha256_hex(black_box(&body));
            let p = params(PayloadHash::Precomputed(&hash));
            v4::sign_headers_with(black_box(&put), &p, &cached).unwrap()
        });
    });
    group.finish();

    let presign_headers = [("host", "examplebucket.s3.us-east-1.amazonaws.com")];
    let presign_req = SignableRequest {
        method: "GET",
        path: BLOB,
        query: &[],
        headers: &presign_headers,
    };
    c.bench_function("sigv4 presign GET (key cached)", |b| {
        let p = params(PayloadHash::Unsigned);
        b.iter(|| v4::presign_with(black_box(&presign_req), &p, 1200, &cached).unwrap());
    });

    let v2_headers = [
        ("host", "minio.local:9000"),
        ("content-type", "application/octet-stream"),
        ("x-amz-acl", "private"),
    ];
    let v2_req = SignableRequest {
        method: "PUT",
        path: BLOB,
        query: &[("uploadId", "abc"), ("partNumber", "1")],
        headers: &v2_headers,
    };
    c.bench_function("sigv2 header PUT", |b| {
        b.iter(|| {
            v2::sign_header(
                black_box(&v2_req),
                &CREDS,
                BucketAddressing::PathStyle,
                "",
                "application/octet-stream",
                "Fri, 24 May 2013 00:00:00 GMT",
            )
            .unwrap()
        });
    });

    c.bench_function("sigv4 signing-key derivation", |b| {
        b.iter(|| {
            SigningKey::derive(
                black_box(CREDS.secret_access_key),
                black_box("20130524"),
                "us-east-1",
                "s3",
            )
        });
    });
    c.bench_function("sigv4 signing-key cache hit", |b| {
        cache.get_or_derive(&CREDS, "20130524", "us-east-1", "s3");
        b.iter(|| cache.get_or_derive(black_box(&CREDS), "20130524", "us-east-1", "s3"));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
