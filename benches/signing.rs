//! Signer benchmarks, ours against the `aws-sigv4` crate (a dev-dependency only) in the same
//! run: SigV4 header signing (GET; PUT of 1 MiB including its SHA-256), presigning, SigV2
//! (ours only: aws-sigv4 has no SigV2), signing-key derivation, and SHA-256 throughput as the
//! floor of any signed upload.
//!
//! Both signers get the same request: S3 settings (single URI encoding, no path
//! normalisation, `x-amz-content-sha256` signed), same headers, same time. aws-sigv4 derives
//! the signing key on every call; our "key derived" variants do the same, "key cached" is
//! what [`s3driver::client::S3Client`] does (one derivation per day and region).
//!
//! ```text
//! cargo bench --bench signing -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::{Digest, Sha256};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    sign as aws_sign, PayloadChecksumKind, PercentEncodingMode, SignableBody,
    SignableRequest as AwsSignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4 as aws_v4;

use s3driver::sign::v2::{self, BucketAddressing};
use s3driver::sign::v4::{self, SignOptions, SigningKey, SigningKeyCache, SigningParams};
use s3driver::sign::{sha256_hex, EMPTY_SHA256};
use s3driver::sign::{PayloadHash, SignableRequest, SigningCredentials, UriMode};

const CREDS: SigningCredentials<'static> = SigningCredentials {
    access_key_id: "AKIAIOSFODNN7EXAMPLE",
    secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    session_token: None,
};
const REGION: &str = "us-east-1";
const HOST: &str = "examplebucket.s3.us-east-1.amazonaws.com";
const BLOB: &str = "/docker/registry/v2/blobs/sha256/4f/4f2a1b8c9d0e/data";
const UPLOAD_ID: &str = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA";

fn time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_369_353_600)
}

fn params(payload: PayloadHash<'_>) -> SigningParams<'_> {
    SigningParams {
        credentials: CREDS,
        region: REGION,
        service: "s3",
        time: time(),
        uri_mode: UriMode::S3,
        payload,
    }
}

/// aws-sigv4 settings for S3, as the AWS SDK's S3 client uses them.
fn aws_settings(location: SignatureLocation, expires_in: Option<Duration>) -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.signature_location = location;
    settings.expires_in = expires_in;
    settings.payload_checksum_kind = match location {
        SignatureLocation::QueryParams => PayloadChecksumKind::NoHeader,
        _ => PayloadChecksumKind::XAmzSha256,
    };
    settings
}

fn signing(c: &mut Criterion) {
    let cache = SigningKeyCache::new();
    let cached = SignOptions::default().with_key_cache(&cache);
    let identity = AwsCredentials::new(
        CREDS.access_key_id,
        CREDS.secret_access_key,
        None,
        None,
        "bench",
    )
    .into();
    let aws_header_params: aws_sigv4::http_request::SigningParams<'_> =
        aws_v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("s3")
            .time(time())
            .settings(aws_settings(SignatureLocation::Headers, None))
            .build()
            .expect("aws-sigv4 parameters")
            .into();
    let aws_presign_params: aws_sigv4::http_request::SigningParams<'_> =
        aws_v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("s3")
            .time(time())
            .settings(aws_settings(
                SignatureLocation::QueryParams,
                Some(Duration::from_secs(1200)),
            ))
            .build()
            .expect("aws-sigv4 parameters")
            .into();

    // GET of a blob range: the registry's most frequent request.
    let get_headers = [("host", HOST), ("range", "bytes=0-1048575")];
    let get = SignableRequest {
        method: "GET",
        path: BLOB,
        query: &[],
        headers: &get_headers,
    };
    let get_url = format!("https://{HOST}{BLOB}");
    let mut group = c.benchmark_group("sigv4 header GET");
    group.bench_function("s3driver (key cached)", |b| {
        let p = params(PayloadHash::Precomputed(EMPTY_SHA256));
        b.iter(|| v4::sign_headers_with(black_box(&get), black_box(&p), &cached).unwrap());
    });
    group.bench_function("s3driver (key derived)", |b| {
        let p = params(PayloadHash::Precomputed(EMPTY_SHA256));
        b.iter(|| v4::sign_headers(black_box(&get), black_box(&p)).unwrap());
    });
    group.bench_function("aws-sigv4", |b| {
        b.iter(|| {
            let req = AwsSignableRequest::new(
                "GET",
                black_box(get_url.as_str()),
                [("range", "bytes=0-1048575")].into_iter(),
                SignableBody::Bytes(&[]),
            )
            .unwrap();
            aws_sign(req, &aws_header_params).unwrap()
        });
    });
    group.finish();

    // UploadPart of 1 MiB: the SHA-256 of the body dominates.
    let body = vec![0x5au8; 1 << 20];
    let put_headers = [
        ("host", HOST),
        ("content-length", "1048576"),
        ("content-type", "application/octet-stream"),
    ];
    let query = [("partNumber", "3"), ("uploadId", UPLOAD_ID)];
    let put = SignableRequest {
        method: "PUT",
        path: BLOB,
        query: &query,
        headers: &put_headers,
    };
    let put_url = format!("https://{HOST}{BLOB}?partNumber=3&uploadId={UPLOAD_ID}");
    let mut group = c.benchmark_group("sigv4 header PUT 1 MiB");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("s3driver sha256 + sign (key cached)", |b| {
        b.iter(|| {
            let hash = sha256_hex(black_box(&body));
            let p = params(PayloadHash::Precomputed(&hash));
            v4::sign_headers_with(black_box(&put), &p, &cached).unwrap()
        });
    });
    group.bench_function("aws-sigv4 (SignableBody::Bytes)", |b| {
        b.iter(|| {
            let req = AwsSignableRequest::new(
                "PUT",
                put_url.as_str(),
                [
                    ("content-length", "1048576"),
                    ("content-type", "application/octet-stream"),
                ]
                .into_iter(),
                SignableBody::Bytes(black_box(&body)),
            )
            .unwrap();
            aws_sign(req, &aws_header_params).unwrap()
        });
    });
    group.finish();

    // Presigned GET (registry redirects).
    let presign_headers = [("host", HOST)];
    let presign_req = SignableRequest {
        method: "GET",
        path: BLOB,
        query: &[],
        headers: &presign_headers,
    };
    let mut group = c.benchmark_group("sigv4 presign GET");
    group.bench_function("s3driver (key cached)", |b| {
        let p = params(PayloadHash::Unsigned);
        b.iter(|| v4::presign_with(black_box(&presign_req), &p, 1200, &cached).unwrap());
    });
    group.bench_function("s3driver (key derived)", |b| {
        let p = params(PayloadHash::Unsigned);
        b.iter(|| v4::presign(black_box(&presign_req), &p, 1200).unwrap());
    });
    group.bench_function("aws-sigv4", |b| {
        b.iter(|| {
            let req = AwsSignableRequest::new(
                "GET",
                black_box(get_url.as_str()),
                std::iter::empty(),
                SignableBody::UnsignedPayload,
            )
            .unwrap();
            aws_sign(req, &aws_presign_params).unwrap()
        });
    });
    group.finish();

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
    let mut group = c.benchmark_group("sigv2 header PUT");
    group.bench_function("s3driver", |b| {
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
    group.finish();

    let mut group = c.benchmark_group("sigv4 signing key");
    group.bench_function("derivation", |b| {
        b.iter(|| {
            SigningKey::derive(
                black_box(CREDS.secret_access_key),
                black_box("20130524"),
                REGION,
                "s3",
            )
        });
    });
    group.bench_function("cache hit", |b| {
        cache.get_or_derive(&CREDS, "20130524", REGION, "s3");
        b.iter(|| cache.get_or_derive(black_box(&CREDS), "20130524", REGION, "s3"));
    });
    group.finish();
}

/// The floor of any signed upload: SHA-256 of the body (the `sha2` crate, as the signer uses).
fn sha256_floor(c: &mut Criterion) {
    let body = vec![0x5au8; 1 << 20];
    let mut group = c.benchmark_group("sha256");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("1 MiB", |b| b.iter(|| Sha256::digest(black_box(&body))));
    group.finish();
}

criterion_group!(benches, signing, sha256_floor);
criterion_main!(benches);
