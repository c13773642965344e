//! TEST-ONLY REFERENCE SIGNERS. Not s3driver's signer and never used by the library.
//!
//! They exist so the test servers can be proven to verify signatures independently of our own `sign` module, and so
//! our signer can later be cross-checked against an independent implementation:
//! - SigV4 (header and presigned) comes from the `aws-sigv4` crate (a dev-dependency only), configured for S3:
//!   single URI encoding, no path normalisation, `x-amz-content-sha256` signed.
//! - SigV2 (header and presigned) is a small hand-written HMAC-SHA1 signer covering what these tests need:
//!   the caller passes the canonical resource (`/bucket/key` plus any signed sub-resource) explicitly.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;

/// Characters AWS leaves unencoded in query values: `A-Z a-z 0-9 - _ . ~`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Credentials for the reference signers. `Debug` never shows the secret.
#[derive(Clone)]
pub struct RefCredentials {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// SigV4 region.
    pub region: String,
}

impl fmt::Debug for RefCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("region", &self.region)
            .finish()
    }
}

impl RefCredentials {
    /// Builds credentials from borrowed parts.
    pub fn new(access_key: &str, secret_key: &str, region: &str) -> RefCredentials {
        RefCredentials {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
        }
    }

    /// The same credentials with another secret (for "wrong secret is rejected" tests).
    pub fn with_secret(&self, secret_key: &str) -> RefCredentials {
        RefCredentials {
            secret_key: secret_key.to_owned(),
            ..self.clone()
        }
    }
}

fn s3_settings(location: SignatureLocation, expires_in: Option<Duration>) -> SigningSettings {
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

/// SigV4-signs a request for service "s3" and returns the headers to add (`x-amz-date`, `x-amz-content-sha256`,
/// `authorization`). `url` must already be percent-encoded as it will be sent; `headers` are the other headers
/// that will be sent and must be signed (Host is taken from the URL).
pub fn sign_v4(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    creds: &RefCredentials,
    time: SystemTime,
) -> Vec<(String, String)> {
    let identity = Credentials::new(
        &creds.access_key,
        &creds.secret_key,
        None,
        None,
        "s3driver-tests",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&creds.region)
        .name("s3")
        .time(time)
        .settings(s3_settings(SignatureLocation::Headers, None))
        .build()
        .expect("reference signer: incomplete SigV4 parameters")
        .into();
    let request = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("reference signer: URL not signable");
    let (instructions, _signature) = sign(request, &params)
        .expect("reference signer: SigV4 signing failed")
        .into_parts();
    instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// A SigV4 presigned URL (`X-Amz-*` query parameters, `UNSIGNED-PAYLOAD`) valid for `expires_in` from `time`.
pub fn presign_v4(
    method: &str,
    url: &str,
    creds: &RefCredentials,
    expires_in: Duration,
    time: SystemTime,
) -> String {
    let identity = Credentials::new(
        &creds.access_key,
        &creds.secret_key,
        None,
        None,
        "s3driver-tests",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&creds.region)
        .name("s3")
        .time(time)
        .settings(s3_settings(
            SignatureLocation::QueryParams,
            Some(expires_in),
        ))
        .build()
        .expect("reference signer: incomplete SigV4 parameters")
        .into();
    let request = SignableRequest::new(
        method,
        url,
        std::iter::empty(),
        SignableBody::UnsignedPayload,
    )
    .expect("reference signer: URL not signable");
    let (instructions, _signature) = sign(request, &params)
        .expect("reference signer: SigV4 presigning failed")
        .into_parts();
    let mut out = url.to_owned();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (name, value) in instructions.params() {
        out.push(sep);
        out.push_str(name);
        out.push('=');
        out.extend(utf8_percent_encode(value, QUERY_VALUE));
        sep = '&';
    }
    out
}

/// Sends a request SigV4-signed by [`sign_v4`] at the current time. Panics only on transport errors.
pub async fn send_v4(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    creds: &RefCredentials,
) -> reqwest::Response {
    let signed = sign_v4(method, url, headers, &body, creds, SystemTime::now());
    let mut req = client.request(method_of(method), url).body(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    for (name, value) in &signed {
        req = req.header(name.as_str(), value.as_str());
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("reference client: {method} {url} failed: {e}"))
}

/// The SigV2 string to sign for a header-signed request (`Date` or `x-amz-date` must be among `headers`).
/// `resource` is the canonical resource: `/bucket/key` (path style) plus signed sub-resources such as `?uploads`.
pub fn string_to_sign_v2(method: &str, resource: &str, headers: &[(&str, &str)]) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    };
    let mut amz: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    amz.sort();
    // With x-amz-date present, the Date line is empty and x-amz-date is signed among the amz headers.
    let date = if amz.iter().any(|(n, _)| n == "x-amz-date") {
        ""
    } else {
        get("date")
    };
    let mut s = format!(
        "{method}\n{}\n{}\n{date}\n",
        get("content-md5"),
        get("content-type")
    );
    for (name, value) in amz {
        s.push_str(&name);
        s.push(':');
        s.push_str(&value);
        s.push('\n');
    }
    s.push_str(resource);
    s
}

/// Base64 of HMAC-SHA1(secret, string_to_sign): the SigV2 signature.
pub fn signature_v2(secret_key: &str, string_to_sign: &str) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()).expect("HMAC accepts any key length");
    mac.update(string_to_sign.as_bytes());
    base64(&mac.finalize().into_bytes())
}

/// Sends a SigV2 header-signed request (`Authorization: AWS key:signature`, `Date: now`).
pub async fn send_v2(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    resource: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    creds: &RefCredentials,
) -> reqwest::Response {
    let date = httpdate::fmt_http_date(SystemTime::now());
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("date", &date));
    let sts = string_to_sign_v2(method, resource, &all);
    let auth = format!(
        "AWS {}:{}",
        creds.access_key,
        signature_v2(&creds.secret_key, &sts)
    );
    let mut req = client.request(method_of(method), url).body(body);
    for (name, value) in &all {
        req = req.header(*name, *value);
    }
    req.header("authorization", auth)
        .send()
        .await
        .unwrap_or_else(|e| panic!("reference client: {method} {url} failed: {e}"))
}

/// A SigV2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature`) for `url` whose canonical resource is
/// `resource`, valid until `expires` (Unix seconds).
pub fn presign_v2(
    method: &str,
    url: &str,
    resource: &str,
    creds: &RefCredentials,
    expires: u64,
) -> String {
    let sts = format!("{method}\n\n\n{expires}\n{resource}");
    let signature = signature_v2(&creds.secret_key, &sts);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}AWSAccessKeyId={}&Expires={expires}&Signature={}",
        utf8_percent_encode(&creds.access_key, QUERY_VALUE),
        utf8_percent_encode(&signature, QUERY_VALUE)
    )
}

/// Unix time `secs_from_now` seconds from now (for [`presign_v2`]).
pub fn unix_time_in(secs_from_now: u64) -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs()
        + secs_from_now
}

fn method_of(method: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(method.as_bytes()).expect("reference client: invalid HTTP method")
}

/// Standard base64 with padding (RFC 4648), enough for SigV2 signatures.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
