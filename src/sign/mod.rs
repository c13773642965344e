//! Request signing: AWS Signature Version 4 (header, presigned URL, aws-chunked streaming
//! with and without a signed trailer) and Signature Version 2.
//!
//! Pure code: no I/O, no clock (the signing instant is always an argument), no HTTP
//! client. Callers describe a request with a borrowed [`SignableRequest`], sign it, and
//! apply what the signer returns (headers to add, or a query string).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use s3driver::sign::{v4, SigningCredentials, PayloadHash, SignableRequest, UriMode};
//!
//! let credentials = SigningCredentials {
//!     access_key_id: "AKIAIOSFODNN7EXAMPLE",
//!     secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
//!     session_token: None,
//! };
//! let request = SignableRequest {
//!     method: "GET",
//!     path: "/test.txt",
//!     query: &[],
//!     headers: &[("host", "examplebucket.s3.amazonaws.com"), ("range", "bytes=0-9")],
//! };
//! let params = v4::SigningParams {
//!     credentials,
//!     region: "us-east-1",
//!     service: "s3",
//!     time: UNIX_EPOCH + Duration::from_secs(1_369_353_600), // 2013-05-24T00:00:00Z
//!     uri_mode: UriMode::S3,
//!     payload: PayloadHash::Precomputed(s3driver::sign::EMPTY_SHA256),
//! };
//! let signed = v4::sign_headers(&request, &params)?;
//! assert_eq!(
//!     signed.signature,
//!     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
//! );
//! // Add signed.headers (x-amz-date, x-amz-content-sha256, authorization) to the request
//! // and send it to "/test.txt" (s3driver::sign::encode_path).
//! # Ok::<(), s3driver::sign::SignError>(())
//! ```
//!
//! # Path rules
//! [`SignableRequest::path`] is the path as the application sees it, before any
//! percent-encoding (`/bucket/my key+1`). The wire path is
//! [`encode::encode_path`]`(path)`; for S3 that is also the canonical URI ([`UriMode::S3`]:
//! encode once, never normalise — `//` and `..` are legal in keys). [`UriMode::Normalized`]
//! is the generic SigV4 rule used by the AWS test suites: remove dot segments, collapse
//! slashes, then encode. (Generic AWS services expect the canonical URI to be the
//! *wire* path encoded again; pass the already-encoded wire path as `path` to get that,
//! as the suites' `double-url-encode` case does.)
//!
//! # Why SigV2 is still here
//! Some S3-compatible servers only speak Signature Version 2. AWS itself refuses it in
//! every region opened since 2014 and is turning it off everywhere. When V2 may be used is
//! the client's policy (`client::endpoint::v2_allowed` and `v2_decision`): it refuses V2 for
//! AWS endpoints and turns a request for V2 on AWS's own endpoint (in a region that accepted
//! V2) into V4 with a warning.

use std::fmt;

pub mod chunked;
pub(crate) mod crypto;
pub(crate) mod encode;
pub(crate) mod time;
pub mod v2;
pub mod v4;

pub use crypto::{sha256_hex, EMPTY_SHA256};
pub(crate) use encode::percent_decode;
pub use encode::{encode_path, encode_query, uri_encode};
pub(crate) use time::AmzTime;

/// Access key, secret and optional session token, borrowed for the duration of a signing
/// call: the signer's view of [`crate::client::credentials::Credentials`] (which owns them
/// and knows their expiry). `Debug` prints the access key id only.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigningCredentials<'a> {
    /// The access key id (`AKIA…`, `ASIA…` or a server-specific id).
    pub access_key_id: &'a str,
    /// The secret access key. Never printed.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials. Never printed.
    pub session_token: Option<&'a str>,
}

impl fmt::Debug for SigningCredentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// A request as the signer sees it. Nothing in it is percent-encoded yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignableRequest<'a> {
    /// HTTP method, e.g. `GET` (used as given; must be an HTTP token).
    pub method: &'a str,
    /// The path as the application sees it, not percent-encoded, starting with `/`
    /// (e.g. `/bucket/my key+1`).
    pub path: &'a str,
    /// Decoded `(name, value)` query pairs in any order; repeats allowed.
    pub query: &'a [(&'a str, &'a str)],
    /// The headers to sign, names in any case. SigV4 requires `host`. Headers the signer
    /// adds itself (`authorization`, `x-amz-date`, …) must not be listed.
    pub headers: &'a [(&'a str, &'a str)],
}

/// What goes into the last line of a SigV4 canonical request (and `x-amz-content-sha256`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadHash<'a> {
    /// Lower-case hex SHA-256 of the body ([`crypto::sha256_hex`], [`crypto::EMPTY_SHA256`]).
    Precomputed(&'a str),
    /// `UNSIGNED-PAYLOAD` (presigned URLs, or bodies not hashed up front).
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked body, see [`chunked`].
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: aws-chunked body with a signed trailer.
    StreamingSignedTrailer,
}

impl PayloadHash<'_> {
    /// The literal string that is signed.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Precomputed(hash) => hash,
            Self::Unsigned => "UNSIGNED-PAYLOAD",
            Self::StreamingSigned => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Self::StreamingSignedTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        }
    }
}

/// How the canonical URI is derived from [`SignableRequest::path`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriMode {
    /// S3: percent-encode once, no normalisation.
    S3,
    /// Generic SigV4: remove dot segments, collapse repeated slashes, then encode once.
    Normalized,
}

/// The one error type of the signing layer. Every message says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The method is empty or not an HTTP token.
    InvalidMethod,
    /// The path is empty or does not start with `/`.
    InvalidPath,
    /// A header name is empty or not an HTTP token.
    InvalidHeaderName {
        /// The offending name.
        name: String,
    },
    /// SigV4 needs a `host` header among the signed headers.
    MissingHost,
    /// A header that the signer adds itself was passed in.
    ReservedHeader {
        /// The header name, lower-cased.
        name: String,
    },
    /// A query parameter that the signer adds itself was passed in.
    ReservedQueryParam {
        /// The parameter name.
        name: String,
    },
    /// Region or service is empty or contains characters that break the credential scope.
    InvalidScope {
        /// `"region"` or `"service"`.
        field: &'static str,
    },
    /// The access key id or session token cannot be put into a header or scope.
    InvalidCredentials {
        /// What is wrong (never the secret itself).
        reason: &'static str,
    },
    /// `PayloadHash::Precomputed` is not 64 lower-case hex digits.
    InvalidPayloadHash,
    /// The signing time is before 1970 or after year 9999.
    TimeOutOfRange,
    /// A timestamp string is not ISO-8601 UTC.
    InvalidTimestamp,
    /// Presigned-URL lifetime outside 1..=604800 seconds.
    ExpiresOutOfRange {
        /// The requested lifetime in seconds.
        seconds: u64,
    },
    /// SigV2 header auth needs a `Date` (or an `x-amz-date` header).
    MissingDate,
    /// A trailer header name or value cannot be framed.
    InvalidTrailer,
    /// Malformed `%XX` escape or non-UTF-8 result.
    InvalidPercentEncoding,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidMethod => f.write_str(
                "invalid HTTP method: use a non-empty token such as GET, PUT, HEAD or DELETE",
            ),
            Self::InvalidPath => f.write_str(
                "invalid request path: it must start with '/' (pass the decoded path, e.g. /bucket/key)",
            ),
            Self::InvalidHeaderName { name } => write!(
                f,
                "invalid header name {name:?}: header names must be non-empty HTTP tokens"
            ),
            Self::MissingHost => {
                f.write_str("SigV4 needs the host header: add (\"host\", <endpoint host[:port]>) to the signed headers")
            }
            Self::ReservedHeader { name } => write!(
                f,
                "header {name:?} is added by the signer: remove it from the headers to sign"
            ),
            Self::ReservedQueryParam { name } => write!(
                f,
                "query parameter {name:?} is added by the signer: remove it from the request query"
            ),
            Self::InvalidScope { field } => write!(
                f,
                "invalid {field}: it must be non-empty and contain no '/', whitespace or control characters"
            ),
            Self::InvalidCredentials { reason } => write!(f, "unusable credentials: {reason}"),
            Self::InvalidPayloadHash => f.write_str(
                "invalid payload hash: pass the lower-case hex SHA-256 of the body (64 characters)",
            ),
            Self::TimeOutOfRange => {
                f.write_str("signing time out of range: use a time between 1970 and 9999 (check the system clock)")
            }
            Self::InvalidTimestamp => f.write_str(
                "invalid timestamp: use ISO-8601 UTC, e.g. 20150830T123600Z or 2015-08-30T12:36:00Z",
            ),
            Self::ExpiresOutOfRange { seconds } => write!(
                f,
                "presigned URL lifetime {seconds}s out of range: use 1 to 604800 seconds (7 days)"
            ),
            Self::MissingDate => f.write_str(
                "SigV2 needs a date: pass the Date header value (RFC 1123, e.g. httpdate::fmt_http_date) or send x-amz-date",
            ),
            Self::InvalidTrailer => f.write_str(
                "invalid trailer: names must be HTTP tokens and values must not contain CR or LF",
            ),
            Self::InvalidPercentEncoding => f.write_str(
                "invalid percent-encoding: every '%' must start a %XX escape and the result must be UTF-8",
            ),
        }
    }
}

impl std::error::Error for SignError {}

/// RFC 9110 `tchar`.
pub(crate) const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

pub(crate) fn validate_method(method: &str) -> Result<(), SignError> {
    if is_token(method) {
        Ok(())
    } else {
        Err(SignError::InvalidMethod)
    }
}

pub(crate) fn validate_path(path: &str) -> Result<(), SignError> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(SignError::InvalidPath)
    }
}

pub(crate) fn validate_header_names(headers: &[(&str, &str)]) -> Result<(), SignError> {
    for (name, _) in headers {
        if !is_token(name) {
            return Err(SignError::InvalidHeaderName {
                name: (*name).to_owned(),
            });
        }
    }
    Ok(())
}

pub(crate) fn validate_access_key_id(akid: &str) -> Result<(), SignError> {
    if akid.is_empty() {
        return Err(SignError::InvalidCredentials {
            reason: "the access key id is empty",
        });
    }
    // ':' is allowed: OpenStack Swift's s3api (tempauth/keystone) uses `account:user` access
    // keys; SigV2 servers split `AWS <akid>:<signature>` at the last ':'.
    if akid
        .bytes()
        .any(|b| b.is_ascii_control() || b.is_ascii_whitespace() || matches!(b, b'/' | b',' | b'='))
    {
        return Err(SignError::InvalidCredentials {
            reason: "the access key id contains '/', ',', '=', whitespace or control characters",
        });
    }
    Ok(())
}

pub(crate) fn validate_session_token(token: Option<&str>) -> Result<(), SignError> {
    match token {
        Some("") => Err(SignError::InvalidCredentials {
            reason: "the session token is empty: pass None instead",
        }),
        Some(t) if t.bytes().any(|b| b.is_ascii_control()) => Err(SignError::InvalidCredentials {
            reason: "the session token contains control characters",
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_id_validation() {
        assert!(validate_access_key_id("AKIDEXAMPLE").is_ok());
        assert!(
            validate_access_key_id("test:tester").is_ok(),
            "Swift tempauth keys"
        );
        for bad in ["", "a/b", "a,b", "a=b", "a b", "a\nb"] {
            assert!(validate_access_key_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let creds = SigningCredentials {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: Some("SESSIONTOKENVALUE"),
        };
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("wJalrXUtnFEMI"));
        assert!(!shown.contains("SESSIONTOKENVALUE"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn errors_say_what_to_do() {
        assert!(SignError::ExpiresOutOfRange { seconds: 0 }
            .to_string()
            .contains("604800"));
    }

    #[test]
    fn token_rules() {
        assert!(is_token("GET"));
        assert!(is_token("x-amz-meta-a_b"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a:b"));
        assert!(!is_token("a;b"));
        assert!(validate_access_key_id("AKID/1").is_err());
        assert!(validate_access_key_id("minio-user_1.x").is_ok());
        assert!(validate_session_token(Some("a\nb")).is_err());
        assert!(validate_session_token(Some("AQo+/=")).is_ok());
    }
}
