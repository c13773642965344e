//! Feeds arbitrary method / path / query / headers / body / credentials to the SigV4 header
//! signer, the SigV4 presigner, aws-chunked framing and both SigV2 signers. None of them
//! may panic, and signing the same input twice must give the same result.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

use s3driver::sign::chunked::{self, ChunkSigner};
use s3driver::sign::sha256_hex;
use s3driver::client::v2_allowed;
use s3driver::sign::v2::{self, BucketAddressing};
use s3driver::sign::v4::{self, ContentSha256Header, SessionTokenMode, SignOptions, SigningParams};
use s3driver::sign::{PayloadHash, SignableRequest, SigningCredentials, UriMode};

#[derive(Debug, Arbitrary)]
struct Input {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    add_host: bool,
    body: Vec<u8>,
    access_key_id: String,
    secret: String,
    token: Option<String>,
    region: String,
    service: String,
    unix: u64,
    expires: u64,
    normalized: bool,
    token_after: bool,
    content_sha256: u8,
    payload_kind: u8,
    bucket: Option<String>,
    chunk_size: u16,
    trailers: Vec<(String, String)>,
    date: String,
    endpoint: Option<String>,
}

fn refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

fuzz_target!(|input: Input| {
    let mut headers = refs(&input.headers);
    if input.add_host {
        headers.push(("host", "bucket.s3.example.com"));
    }
    let query = refs(&input.query);
    let req = SignableRequest {
        method: &input.method,
        path: &input.path,
        query: &query,
        headers: &headers,
    };
    let credentials = SigningCredentials {
        access_key_id: &input.access_key_id,
        secret_access_key: &input.secret,
        session_token: input.token.as_deref(),
    };
    let body_hash = sha256_hex(&input.body);
    let payload = match input.payload_kind % 5 {
        0 => PayloadHash::Precomputed(&body_hash),
        1 => PayloadHash::Unsigned,
        2 => PayloadHash::StreamingSigned,
        3 => PayloadHash::StreamingSignedTrailer,
        _ => PayloadHash::Precomputed(&input.date), // usually not a valid hash
    };
    let params = SigningParams {
        credentials,
        region: &input.region,
        service: &input.service,
        time: UNIX_EPOCH + Duration::from_secs(input.unix % 400_000_000_000),
        uri_mode: if input.normalized {
            UriMode::Normalized
        } else {
            UriMode::S3
        },
        payload,
    };
    let opts = SignOptions::default()
        .with_content_sha256(match input.content_sha256 % 3 {
            0 => ContentSha256Header::Auto,
            1 => ContentSha256Header::Always,
            _ => ContentSha256Header::Never,
        })
        .with_session_token(if input.token_after {
            SessionTokenMode::AfterSigning
        } else {
            SessionTokenMode::Signed
        });

    let first = v4::sign_headers_with(&req, &params, &opts);
    let second = v4::sign_headers_with(&req, &params, &opts);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a.authorization, b.authorization),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("sign_headers is not deterministic"),
    }
    if let Ok(seed) = &first {
        let mut signer = ChunkSigner::new(seed);
        let size = usize::from(input.chunk_size.max(1));
        let mut framed = 0u64;
        for piece in input.body.chunks(size) {
            framed += signer.encode_chunk(piece).len() as u64;
        }
        let trailers = refs(&input.trailers);
        match signer.clone().final_chunk_with_trailer(&trailers) {
            Ok(tail) => assert_eq!(
                framed + tail.len() as u64,
                chunked::encoded_length(
                    input.body.len() as u64,
                    size as u64,
                    Some(&trailers)
                )
            ),
            Err(_) => {
                let tail = signer.final_chunk();
                assert_eq!(
                    framed + tail.len() as u64,
                    chunked::encoded_length(input.body.len() as u64, size as u64, None)
                );
            }
        }
    }

    let a = v4::presign_with(&req, &params, input.expires, &opts).map(|p| p.query);
    let b = v4::presign_with(&req, &params, input.expires, &opts).map(|p| p.query);
    assert_eq!(a, b);

    let bucket = match &input.bucket {
        Some(b) if b.is_empty() => BucketAddressing::PathStyle,
        Some(b) => BucketAddressing::VirtualHosted(b),
        None => BucketAddressing::None,
    };
    let _ = v2::sign_header(&req, &credentials, bucket, "", "", &input.date);
    let _ = v2::sign_header_encoded(
        &req,
        &credentials,
        bucket,
        &input.date,
        &input.region,
        &input.date,
    );
    let _ = v2::presign(&req, &credentials, bucket, input.expires);
    let _ = v2_allowed(&input.region, input.endpoint.as_deref());
});
