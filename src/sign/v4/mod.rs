//! AWS Signature Version 4: `Authorization` header signing and presigned URLs.
//!
//! Stages (each returned for inspection): canonical request → string to sign → signing
//! key → signature. See [`sign_headers`] and [`presign`]; aws-chunked bodies continue
//! from a [`HeaderSignature`] in [`crate::sign::chunked`].
//!
//! Specs: [header auth][hdr], [query auth][qry], [signing key][key].
//!
//! [hdr]: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
//! [qry]: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
//! [key]: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html

use std::fmt;
use std::time::SystemTime;

mod canonical;
mod key;

pub use key::{SigningKey, SigningKeyCache};

pub(crate) use canonical::lines;

use crate::sign::crypto::is_lower_hex_sha256;
use crate::sign::encode::{join_sorted_pairs, uri_encode};
use crate::sign::{
    validate_access_key_id, validate_header_names, validate_method, validate_path,
    validate_session_token, AmzTime, PayloadHash, SignError, SignableRequest, SigningCredentials,
    UriMode,
};
use canonical::{
    canonical_headers, canonical_request, canonical_uri, encoded_pair, string_to_sign, ALGORITHM,
};

/// Longest presigned-URL lifetime SigV4 allows: 7 days.
pub(crate) const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

/// Everything besides the request that a SigV4 signature depends on.
#[derive(Clone, Copy, Debug)]
pub struct SigningParams<'a> {
    /// The credentials to sign with.
    pub credentials: SigningCredentials<'a>,
    /// Region of the credential scope, e.g. `us-east-1`.
    pub region: &'a str,
    /// Service of the credential scope: `s3` for S3.
    pub service: &'a str,
    /// The signing instant (whole seconds are used). The caller reads the clock.
    pub time: SystemTime,
    /// How the canonical URI is derived from the path.
    pub uri_mode: UriMode,
    /// The payload hash to sign.
    pub payload: PayloadHash<'a>,
}

/// Whether [`sign_headers`] adds (and signs) `x-amz-content-sha256`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContentSha256Header {
    /// Add it when the service is `s3` (S3 requires it), not otherwise.
    #[default]
    Auto,
    /// Always add it (the AWS suites' `sign_body` option).
    Always,
    /// Never add it.
    Never,
}

/// Where the session token goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionTokenMode {
    /// `x-amz-security-token` header / `X-Amz-Security-Token` parameter, signed (S3).
    #[default]
    Signed,
    /// Added after signing and not signed (some services; the suites'
    /// `omit_session_token`).
    AfterSigning,
}

/// Optional behaviour of [`sign_headers_with`] and [`presign_with`]. The default suits S3.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct SignOptions<'a> {
    /// Whether to add `x-amz-content-sha256` (header signing only).
    pub content_sha256: ContentSha256Header,
    /// Where the session token goes.
    pub session_token: SessionTokenMode,
    /// Reuse derived signing keys from this cache instead of deriving each time.
    pub key_cache: Option<&'a SigningKeyCache>,
}

impl<'a> SignOptions<'a> {
    /// Sets whether to add `x-amz-content-sha256`.
    #[must_use]
    pub fn with_content_sha256(mut self, mode: ContentSha256Header) -> Self {
        self.content_sha256 = mode;
        self
    }

    /// Sets where the session token goes.
    #[must_use]
    pub fn with_session_token(mut self, mode: SessionTokenMode) -> Self {
        self.session_token = mode;
        self
    }

    /// Reuses derived signing keys from `cache`.
    #[must_use]
    pub fn with_key_cache(mut self, cache: &'a SigningKeyCache) -> Self {
        self.key_cache = Some(cache);
        self
    }
}

/// The result of header signing: add [`HeaderSignature::headers`] to the request.
#[derive(Clone)]
#[non_exhaustive]
pub struct HeaderSignature {
    /// Headers the caller must add, lower-case names: `x-amz-date`, then
    /// `x-amz-content-sha256` (when added), `x-amz-security-token` (with a session token),
    /// and `authorization`.
    pub headers: Vec<(&'static str, String)>,
    /// The hex signature (also the seed signature of an aws-chunked body).
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
    /// Stage 1 output. May contain the session token: do not log it.
    pub canonical_request: String,
    /// Stage 2 output.
    pub string_to_sign: String,
    /// The derived key (redacted `Debug`), needed to sign aws-chunked chunks.
    pub signing_key: SigningKey,
    /// The `x-amz-date` value (`YYYYMMDDTHHMMSSZ`).
    pub amz_date: String,
    /// `date/region/service/aws4_request`.
    pub credential_scope: String,
    /// The `SignedHeaders` list.
    pub signed_headers: String,
}

impl fmt::Debug for HeaderSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("HeaderSignature")
            .field("headers", &names)
            .field("signature", &self.signature)
            .field("amz_date", &self.amz_date)
            .field("credential_scope", &self.credential_scope)
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

/// The result of presigning: append `?` + [`Presigned::query`] to the encoded path.
#[derive(Clone)]
#[non_exhaustive]
pub struct Presigned {
    /// The complete encoded query string (without `?`): the caller's parameters and the
    /// `X-Amz-*` ones in canonical order, then `X-Amz-Signature` last. May contain the
    /// session token: do not log it.
    pub query: String,
    /// The hex signature.
    pub signature: String,
    /// Stage 1 output. May contain the session token: do not log it.
    pub canonical_request: String,
    /// Stage 2 output.
    pub string_to_sign: String,
    /// The `X-Amz-Date` value.
    pub amz_date: String,
    /// `date/region/service/aws4_request`.
    pub credential_scope: String,
}

impl fmt::Debug for Presigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presigned")
            .field("signature", &self.signature)
            .field("amz_date", &self.amz_date)
            .field("credential_scope", &self.credential_scope)
            .finish_non_exhaustive()
    }
}

/// Signs `req` for the `Authorization` header, with [`SignOptions::default`].
///
/// # Errors
/// Invalid method, path, header names, scope, credentials, payload hash or time; a
/// missing `host` header; a header the signer adds itself.
pub fn sign_headers(
    req: &SignableRequest<'_>,
    params: &SigningParams<'_>,
) -> Result<HeaderSignature, SignError> {
    sign_headers_with(req, params, &SignOptions::default())
}

/// [`sign_headers`] with explicit options.
///
/// # Errors
/// As [`sign_headers`].
pub fn sign_headers_with(
    req: &SignableRequest<'_>,
    params: &SigningParams<'_>,
    opts: &SignOptions<'_>,
) -> Result<HeaderSignature, SignError> {
    let ctx = Context::new(req, params)?;
    let payload = params.payload.as_str();
    let add_sha256 = match opts.content_sha256 {
        ContentSha256Header::Auto => params.service == "s3",
        ContentSha256Header::Always => true,
        ContentSha256Header::Never => false,
    };
    check_reserved_headers(req.headers, add_sha256)?;

    let token = params.credentials.session_token;
    let mut extra: Vec<(&'static str, &str)> = Vec::with_capacity(3);
    extra.push(("x-amz-date", &ctx.amz_date));
    if add_sha256 {
        extra.push(("x-amz-content-sha256", payload));
    }
    if let (Some(token), SessionTokenMode::Signed) = (token, opts.session_token) {
        extra.push(("x-amz-security-token", token));
    }
    let headers = canonical_headers(req.headers, &extra);
    let query = canonical_query(req.query, &[]);
    let uri = canonical_uri(req.path, params.uri_mode);
    let creq = canonical_request(req.method, &uri, &query, &headers, payload);
    let sts = string_to_sign(&ctx.amz_date, &ctx.scope, &creq);
    let key = ctx.signing_key(params, opts);
    let signature = key.sign_hex(sts.as_bytes());

    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
        params.credentials.access_key_id, ctx.scope, headers.signed_headers, signature
    );
    let mut out_headers = Vec::with_capacity(4);
    out_headers.push(("x-amz-date", ctx.amz_date.clone()));
    if add_sha256 {
        out_headers.push(("x-amz-content-sha256", payload.to_owned()));
    }
    if let Some(token) = token {
        out_headers.push(("x-amz-security-token", token.to_owned()));
    }
    out_headers.push(("authorization", authorization.clone()));

    Ok(HeaderSignature {
        headers: out_headers,
        signature,
        authorization,
        canonical_request: creq,
        string_to_sign: sts,
        signing_key: key,
        amz_date: ctx.amz_date,
        credential_scope: ctx.scope,
        signed_headers: headers.signed_headers,
    })
}

/// Presigns `req` (query-string auth) for `expires_in_secs` seconds, with
/// [`SignOptions::default`]. `params.payload` is usually [`PayloadHash::Unsigned`] for S3.
///
/// # Errors
/// As [`sign_headers`], plus a lifetime outside `1..=604800` and caller query parameters
/// named like the `X-Amz-*` ones the signer adds.
pub fn presign(
    req: &SignableRequest<'_>,
    params: &SigningParams<'_>,
    expires_in_secs: u64,
) -> Result<Presigned, SignError> {
    presign_with(req, params, expires_in_secs, &SignOptions::default())
}

/// [`presign`] with explicit options (`content_sha256` is ignored: presigned requests
/// carry no `x-amz-content-sha256`).
///
/// # Errors
/// As [`presign`].
pub fn presign_with(
    req: &SignableRequest<'_>,
    params: &SigningParams<'_>,
    expires_in_secs: u64,
    opts: &SignOptions<'_>,
) -> Result<Presigned, SignError> {
    if !(1..=MAX_PRESIGN_EXPIRES_SECS).contains(&expires_in_secs) {
        return Err(SignError::ExpiresOutOfRange {
            seconds: expires_in_secs,
        });
    }
    let ctx = Context::new(req, params)?;
    check_reserved_headers(req.headers, false)?;
    for (name, _) in req.query {
        if PRESIGN_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            return Err(SignError::ReservedQueryParam {
                name: (*name).to_owned(),
            });
        }
    }

    let headers = canonical_headers(req.headers, &[]);
    let credential = format!("{}/{}", params.credentials.access_key_id, ctx.scope);
    let expires = expires_in_secs.to_string();
    let token = params.credentials.session_token;
    let mut amz: Vec<(&str, &str)> = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Date", &ctx.amz_date),
        ("X-Amz-Expires", &expires),
        ("X-Amz-SignedHeaders", &headers.signed_headers),
    ];
    if let (Some(token), SessionTokenMode::Signed) = (token, opts.session_token) {
        amz.push(("X-Amz-Security-Token", token));
    }
    let query = canonical_query(req.query, &amz);
    let uri = canonical_uri(req.path, params.uri_mode);
    let payload = params.payload.as_str();
    let creq = canonical_request(req.method, &uri, &query, &headers, payload);
    let sts = string_to_sign(&ctx.amz_date, &ctx.scope, &creq);
    let key = ctx.signing_key(params, opts);
    let signature = key.sign_hex(sts.as_bytes());

    let mut full = String::with_capacity(query.len() + 100);
    full.push_str(&query);
    if let (Some(token), SessionTokenMode::AfterSigning) = (token, opts.session_token) {
        full.push_str("&X-Amz-Security-Token=");
        full.push_str(&uri_encode(token, true));
    }
    full.push_str("&X-Amz-Signature=");
    full.push_str(&signature);

    Ok(Presigned {
        query: full,
        signature,
        canonical_request: creq,
        string_to_sign: sts,
        amz_date: ctx.amz_date,
        credential_scope: ctx.scope,
    })
}

/// Query parameters that [`presign`] adds itself.
const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// The credential scope `date/region/service/aws4_request`.
fn credential_scope(date_stamp: &str, region: &str, service: &str) -> String {
    format!("{date_stamp}/{region}/{service}/aws4_request")
}

/// The validated, formatted parts shared by header and query signing.
struct Context {
    amz_date: String,
    date_stamp: String,
    scope: String,
}

impl Context {
    fn new(req: &SignableRequest<'_>, params: &SigningParams<'_>) -> Result<Self, SignError> {
        validate_method(req.method)?;
        validate_path(req.path)?;
        validate_header_names(req.headers)?;
        if !req
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            return Err(SignError::MissingHost);
        }
        validate_scope_part(params.region, "region")?;
        validate_scope_part(params.service, "service")?;
        validate_access_key_id(params.credentials.access_key_id)?;
        validate_session_token(params.credentials.session_token)?;
        if let PayloadHash::Precomputed(hash) = params.payload {
            if !is_lower_hex_sha256(hash) {
                return Err(SignError::InvalidPayloadHash);
            }
        }
        let time = AmzTime::from_system_time(params.time)?;
        let date_stamp = time.date_stamp();
        let scope = credential_scope(&date_stamp, params.region, params.service);
        Ok(Self {
            amz_date: time.iso8601_basic(),
            date_stamp,
            scope,
        })
    }

    fn signing_key(&self, params: &SigningParams<'_>, opts: &SignOptions<'_>) -> SigningKey {
        match opts.key_cache {
            Some(cache) => cache.get_or_derive(
                &params.credentials,
                &self.date_stamp,
                params.region,
                params.service,
            ),
            None => SigningKey::derive(
                params.credentials.secret_access_key,
                &self.date_stamp,
                params.region,
                params.service,
            ),
        }
    }
}

fn validate_scope_part(value: &str, field: &'static str) -> Result<(), SignError> {
    if value.is_empty()
        || value
            .bytes()
            .any(|b| b == b'/' || b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(SignError::InvalidScope { field });
    }
    Ok(())
}

fn check_reserved_headers(headers: &[(&str, &str)], sha256_added: bool) -> Result<(), SignError> {
    for (name, _) in headers {
        let reserved = ["authorization", "x-amz-date", "x-amz-security-token"]
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
            || (sha256_added && name.eq_ignore_ascii_case("x-amz-content-sha256"));
        if reserved {
            return Err(SignError::ReservedHeader {
                name: name.to_ascii_lowercase(),
            });
        }
    }
    Ok(())
}

/// `<CanonicalQueryString>` of the caller's pairs plus `extra` pairs.
fn canonical_query(query: &[(&str, &str)], extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .chain(extra)
        .map(|(k, v)| encoded_pair(k, v))
        .collect();
    join_sorted_pairs(&mut pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const HOST: [(&str, &str); 1] = [("host", "examplebucket.s3.amazonaws.com")];

    fn params(payload: PayloadHash<'_>) -> SigningParams<'_> {
        SigningParams {
            credentials: SigningCredentials {
                access_key_id: "AKIAIOSFODNN7EXAMPLE",
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                session_token: None,
            },
            region: "us-east-1",
            service: "s3",
            time: UNIX_EPOCH + Duration::from_secs(1_369_353_600),
            uri_mode: UriMode::S3,
            payload,
        }
    }

    fn req<'a>(headers: &'a [(&'a str, &'a str)]) -> SignableRequest<'a> {
        SignableRequest {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers,
        }
    }

    #[test]
    fn presigned_example_from_the_s3_docs() {
        let p = presign(&req(&HOST), &params(PayloadHash::Unsigned), 86_400).unwrap();
        assert_eq!(
            p.signature,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        assert!(p
            .query
            .ends_with(&format!("&X-Amz-Signature={}", p.signature)));
    }

    #[test]
    fn rejects_bad_inputs() {
        let p = params(PayloadHash::Unsigned);
        assert_eq!(
            presign(&req(&HOST), &p, 0).unwrap_err(),
            SignError::ExpiresOutOfRange { seconds: 0 }
        );
        assert!(presign(&req(&HOST), &p, 604_801).is_err());
        assert!(presign(&req(&HOST), &p, 604_800).is_ok());
        assert_eq!(
            sign_headers(&req(&[]), &p).unwrap_err(),
            SignError::MissingHost
        );
        let with_date = [HOST[0], ("X-Amz-Date", "x")];
        assert!(matches!(
            sign_headers(&req(&with_date), &p),
            Err(SignError::ReservedHeader { .. })
        ));
        let bad_hash = params(PayloadHash::Precomputed("ABC"));
        assert_eq!(
            sign_headers(&req(&HOST), &bad_hash).unwrap_err(),
            SignError::InvalidPayloadHash
        );
        let mut bad_region = p;
        bad_region.region = "us/east";
        assert!(sign_headers(&req(&HOST), &bad_region).is_err());
        let reserved_q = [("x-amz-signature", "1")];
        let r = SignableRequest {
            query: &reserved_q,
            ..req(&HOST)
        };
        assert!(matches!(
            presign(&r, &p, 60),
            Err(SignError::ReservedQueryParam { .. })
        ));
        let mut old = p;
        old.time = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            sign_headers(&req(&HOST), &old).unwrap_err(),
            SignError::TimeOutOfRange
        );
    }

    #[test]
    fn debug_output_hides_token_and_key() {
        let mut p = params(PayloadHash::Unsigned);
        p.credentials.session_token = Some("TOPSECRETTOKEN");
        let h = sign_headers(&req(&HOST), &p).unwrap();
        assert!(h.canonical_request.contains("TOPSECRETTOKEN"));
        let shown = format!("{h:?}");
        assert!(!shown.contains("TOPSECRETTOKEN"));
        assert!(!shown.contains("wJalrXUtnFEMI"));
        let q = presign(&req(&HOST), &p, 60).unwrap();
        assert!(q.query.contains("X-Amz-Security-Token=TOPSECRETTOKEN"));
        assert!(!format!("{q:?}").contains("TOPSECRETTOKEN"));
    }

    #[test]
    fn cache_gives_the_same_signature() {
        let cache = SigningKeyCache::new();
        let opts = SignOptions {
            key_cache: Some(&cache),
            ..SignOptions::default()
        };
        let p = params(PayloadHash::Unsigned);
        let a = sign_headers_with(&req(&HOST), &p, &opts).unwrap();
        let b = sign_headers_with(&req(&HOST), &p, &opts).unwrap();
        let c = sign_headers(&req(&HOST), &p).unwrap();
        assert_eq!(a.signature, b.signature);
        assert_eq!(a.signature, c.signature);
        assert_eq!(cache.len(), 1);
    }
}
