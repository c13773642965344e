//! AWS Signature Version 2 for S3 (HMAC-SHA1): `Authorization: AWS <key>:<sig>` and
//! query-string authentication, for S3-compatible servers that need it.
//! Check the client's policy (`client::endpoint::v2_allowed`) before using it.
//!
//! ```text
//! StringToSign = VERB \n Content-MD5 \n Content-Type \n (Date | Expires | "" if x-amz-date) \n
//!                CanonicalizedAmzHeaders CanonicalizedResource
//! Signature    = Base64(HMAC-SHA1(secret, StringToSign))
//! ```
//!
//! Spec: [RESTAuthentication][spec].
//!
//! [spec]: https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html

use std::fmt;

use crate::sign::crypto::{base64_encode, hmac_sha1};
use crate::sign::encode::{join_sorted_pairs, uri_encode};
use crate::sign::{
    validate_access_key_id, validate_header_names, validate_method, validate_path,
    validate_session_token, SignError, SignableRequest, SigningCredentials,
};

/// Query parameters that are part of the CanonicalizedResource (sorted by name, `k` or
/// `k=v` with the decoded value): the S3 Developer Guide list, the `response-*`
/// overrides, and the later sub-resources botocore's SigV2 signer adds (`accelerate`,
/// `cors`, `replication`, `restore`, `select`, `select-type`, `tagging`). Every other
/// parameter (`prefix`, `max-keys`, `list-type`, …) is not signed. A repeated sub-resource
/// is signed once, see [`canonicalized_resource`].
pub(crate) const SUB_RESOURCES: [&str; 29] = [
    "accelerate",
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// Where the bucket name is carried; decides whether `/bucket` is prepended to the
/// CanonicalizedResource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketAddressing<'a> {
    /// Bucket in the Host (`bucket.s3.example.com`, or a CNAME whose whole host name is the
    /// bucket): the resource is `/bucket` + path. (The Go driver forgot this, which is why
    /// its SigV2 only worked path-style.)
    VirtualHosted(&'a str),
    /// Bucket is the first path segment: the resource is the path.
    PathStyle,
    /// No bucket (service-level request such as ListBuckets): the resource is the path.
    None,
}

/// The result of SigV2 header signing.
#[derive(Clone)]
#[non_exhaustive]
pub struct V2Signature {
    /// `AWS <AccessKeyId>:<Signature>`.
    pub authorization: String,
    /// Headers the caller must add: `x-amz-security-token` (with a session token, signed),
    /// then `authorization`.
    pub headers: Vec<(&'static str, String)>,
    /// The exact bytes that were signed.
    pub string_to_sign: String,
    /// The base64 signature.
    pub signature: String,
    /// The CanonicalizedAmzHeaders part (each line ends with `\n`).
    pub canonicalized_amz_headers: String,
    /// The CanonicalizedResource part.
    pub canonicalized_resource: String,
}

impl fmt::Debug for V2Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V2Signature")
            .field("signature", &self.signature)
            .field("canonicalized_resource", &self.canonicalized_resource)
            .finish_non_exhaustive()
    }
}

/// The result of SigV2 query-string signing.
#[derive(Clone)]
#[non_exhaustive]
pub struct V2Presigned {
    /// The full encoded query (without `?`): the caller's parameters (sorted), then
    /// `AWSAccessKeyId`, `Expires`, `Signature` and, with a session token,
    /// `x-amz-security-token`. May contain the session token: do not log it.
    pub query: String,
    /// The exact bytes that were signed.
    pub string_to_sign: String,
    /// The base64 signature (URL-encoded in `query`).
    pub signature: String,
}

impl fmt::Debug for V2Presigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V2Presigned")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

/// Signs for the `Authorization` header. `req.path` is the decoded path; it is signed in
/// its wire form [`crate::sign::encode_path`]. Send the query as
/// [`crate::sign::encode_query`]`(req.query)` (sorted by encoded name and value):
/// a repeated sub-resource is signed with its last value there (see
/// `canonicalized_resource`). `content_md5`, `content_type` and
/// `date` are the values of the headers that will be sent (empty when absent); `x-amz-*`
/// headers are taken from `req.headers`. With an `x-amz-date` header the Date line is
/// empty.
///
/// # Errors
/// Invalid method, path, header names or credentials; no `date` and no `x-amz-date`; an
/// `authorization` header, or `x-amz-security-token` while the credentials carry a token.
pub fn sign_header(
    req: &SignableRequest<'_>,
    creds: &SigningCredentials<'_>,
    bucket: BucketAddressing<'_>,
    content_md5: &str,
    content_type: &str,
    date: &str,
) -> Result<V2Signature, SignError> {
    validate_path(req.path)?;
    sign_header_encoded(
        &SignableRequest {
            path: &uri_encode(req.path, false),
            ..*req
        },
        creds,
        bucket,
        content_md5,
        content_type,
        date,
    )
}

/// Like [`sign_header`] but `req.path` is taken as already percent-encoded, exactly as it
/// will appear on the request line (SigV2 signs the wire path byte for byte, hex case
/// included).
///
/// # Errors
/// As [`sign_header`].
pub fn sign_header_encoded(
    req: &SignableRequest<'_>,
    creds: &SigningCredentials<'_>,
    bucket: BucketAddressing<'_>,
    content_md5: &str,
    content_type: &str,
    date: &str,
) -> Result<V2Signature, SignError> {
    validate(req, creds)?;
    for (name, _) in req.headers {
        if name.eq_ignore_ascii_case("authorization")
            || (creds.session_token.is_some() && name.eq_ignore_ascii_case("x-amz-security-token"))
        {
            return Err(SignError::ReservedHeader {
                name: name.to_ascii_lowercase(),
            });
        }
    }
    let has_amz_date = req
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-date"));
    if date.trim().is_empty() && !has_amz_date {
        return Err(SignError::MissingDate);
    }
    let date_line = if has_amz_date { "" } else { date.trim() };
    let amz = canonicalized_amz_headers(req.headers, creds.session_token);
    let resource = canonicalized_resource(req.path, req.query, bucket);
    let sts = string_to_sign(
        req.method,
        content_md5.trim(),
        content_type.trim(),
        date_line,
        &amz,
        &resource,
    );
    let signature = base64_encode(&hmac_sha1(
        creds.secret_access_key.as_bytes(),
        sts.as_bytes(),
    ));
    let authorization = format!("AWS {}:{}", creds.access_key_id, signature);
    let mut headers = Vec::with_capacity(2);
    if let Some(token) = creds.session_token {
        headers.push(("x-amz-security-token", token.to_owned()));
    }
    headers.push(("authorization", authorization.clone()));
    Ok(V2Signature {
        authorization,
        headers,
        string_to_sign: sts,
        signature,
        canonicalized_amz_headers: amz,
        canonicalized_resource: resource,
    })
}

/// Query-string authentication valid until `expires_unix` (seconds since the epoch).
/// `req.path` is the decoded path; `Content-MD5`, `Content-Type` and `x-amz-*` values
/// are taken from `req.headers` (they must then be sent with the request).
///
/// # Errors
/// Invalid method, path, header names or credentials; caller query parameters named
/// `AWSAccessKeyId`, `Expires`, `Signature` or `x-amz-security-token`.
pub fn presign(
    req: &SignableRequest<'_>,
    creds: &SigningCredentials<'_>,
    bucket: BucketAddressing<'_>,
    expires_unix: u64,
) -> Result<V2Presigned, SignError> {
    validate_path(req.path)?;
    validate(req, creds)?;
    for (name, _) in req.query {
        if [
            "AWSAccessKeyId",
            "Expires",
            "Signature",
            "x-amz-security-token",
        ]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
        {
            return Err(SignError::ReservedQueryParam {
                name: (*name).to_owned(),
            });
        }
    }
    if creds.session_token.is_some()
        && req
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-security-token"))
    {
        return Err(SignError::ReservedHeader {
            name: "x-amz-security-token".to_owned(),
        });
    }
    let header = |wanted: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
            .map_or("", |(_, v)| v.trim())
    };
    let path = uri_encode(req.path, false);
    let expires = expires_unix.to_string();
    let amz = canonicalized_amz_headers(req.headers, creds.session_token);
    let resource = canonicalized_resource(&path, req.query, bucket);
    let sts = string_to_sign(
        req.method,
        header("content-md5"),
        header("content-type"),
        &expires,
        &amz,
        &resource,
    );
    let signature = base64_encode(&hmac_sha1(
        creds.secret_access_key.as_bytes(),
        sts.as_bytes(),
    ));

    let mut pairs: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    let mut query = join_sorted_pairs(&mut pairs);
    for (name, value) in [
        ("AWSAccessKeyId", creds.access_key_id),
        ("Expires", &expires),
        ("Signature", &signature),
    ]
    .into_iter()
    .chain(creds.session_token.map(|t| ("x-amz-security-token", t)))
    {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&uri_encode(value, true));
    }
    Ok(V2Presigned {
        query,
        string_to_sign: sts,
        signature,
    })
}

fn validate(req: &SignableRequest<'_>, creds: &SigningCredentials<'_>) -> Result<(), SignError> {
    validate_method(req.method)?;
    validate_path(req.path)?;
    validate_header_names(req.headers)?;
    validate_access_key_id(creds.access_key_id)?;
    validate_session_token(creds.session_token)
}

fn string_to_sign(
    method: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
    amz_headers: &str,
    resource: &str,
) -> String {
    let mut s = String::with_capacity(
        method.len()
            + content_md5.len()
            + content_type.len()
            + date.len()
            + amz_headers.len()
            + resource.len()
            + 4,
    );
    for part in [method, content_md5, content_type, date] {
        s.push_str(part);
        s.push('\n');
    }
    s.push_str(amz_headers);
    s.push_str(resource);
    s
}

/// CanonicalizedAmzHeaders: every `x-amz-*` header (plus the session token), name
/// lower-cased, sorted by name, repeated headers' values joined with `,`, values trimmed
/// and unfolded; each line `name:value\n`.
pub(crate) fn canonicalized_amz_headers(
    headers: &[(&str, &str)],
    session_token: Option<&str>,
) -> String {
    let mut amz: Vec<(String, &str)> = headers
        .iter()
        .filter(|(n, _)| n.len() >= 6 && n.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), *v))
        .chain(session_token.map(|t| ("x-amz-security-token".to_owned(), t)))
        .collect();
    crate::sort::sort_by(&mut amz, |a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    let mut previous: Option<&str> = None;
    for (name, value) in &amz {
        if previous == Some(name.as_str()) {
            out.pop(); // the '\n' of the previous value
            out.push(',');
        } else {
            out.push_str(name);
            out.push(':');
        }
        push_unfolded(&mut out, value);
        out.push('\n');
        previous = Some(name.as_str());
    }
    out
}

/// Trims `value` and replaces each line break with its surrounding white space by one space.
fn push_unfolded(out: &mut String, value: &str) {
    let mut rest = value.trim();
    while let Some(pos) = rest.find(['\r', '\n']) {
        out.push_str(rest[..pos].trim_end_matches([' ', '\t']));
        out.push(' ');
        rest = rest[pos..].trim_start_matches([' ', '\t', '\r', '\n']);
    }
    out.push_str(rest);
}

/// CanonicalizedResource: `/bucket` for virtual-hosted requests, the encoded path, and the S3
/// sub-resources (`acl`, `uploadId`, `partNumber`, …) present in the query, sorted by name, as
/// `?k` / `?k=v&k2` (values decoded).
///
/// A sub-resource given more than once (`versionId=a&versionId=b`) is signed once, with the
/// value that comes last in the wire query: the query is sent sorted by encoded (name, value)
/// ([`crate::sign::encode_query`], [`presign`]), so that is the greatest encoded value,
/// whatever order the caller listed them in. It is what OpenStack Swift s3api (a `dict` of the
/// parsed query), Ceph RGW (a `std::map`) and MinIO (a Go `map`) put into their string to sign;
/// signing every occurrence (as botocore's client-side HmacV1 does) is rejected by all three
/// with `SignatureDoesNotMatch` (measured on Swift and Ceph RGW, `tests/sign_v2_server.rs`).
pub(crate) fn canonicalized_resource(
    encoded_path: &str,
    query: &[(&str, &str)],
    bucket: BucketAddressing<'_>,
) -> String {
    let mut out = String::with_capacity(encoded_path.len() + 32);
    if let BucketAddressing::VirtualHosted(bucket) = bucket {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(encoded_path);
    // (name, wire-encoded value, decoded value), in wire order.
    let mut subs: Vec<(&str, String, &str)> = query
        .iter()
        .filter(|(k, _)| SUB_RESOURCES.contains(k))
        .map(|&(k, v)| (k, uri_encode(v, true), v))
        .collect();
    crate::sort::sort(&mut subs);
    let mut first = true;
    for (i, (k, _, v)) in subs.iter().enumerate() {
        if subs.get(i + 1).is_some_and(|next| next.0 == *k) {
            continue; // a later occurrence on the wire wins
        }
        out.push(if first { '?' } else { '&' });
        first = false;
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: SigningCredentials<'static> = SigningCredentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };

    #[test]
    fn sub_resources_are_sorted_and_others_dropped() {
        let q = [
            ("uploadId", "abc"),
            ("prefix", "x"),
            ("partNumber", "2"),
            ("response-content-type", "text/plain; a=b"),
        ];
        assert_eq!(
            canonicalized_resource("/k", &q, BucketAddressing::VirtualHosted("b")),
            "/b/k?partNumber=2&response-content-type=text/plain; a=b&uploadId=abc"
        );
        assert_eq!(
            canonicalized_resource("/", &[("uploads", "")], BucketAddressing::PathStyle),
            "/?uploads"
        );
    }

    #[test]
    fn repeated_sub_resources_sign_the_last_value_on_the_wire() {
        let path = BucketAddressing::PathStyle;
        // Whatever order the caller lists them in, the wire query is sorted by encoded
        // (name, value): versionId=a&versionId=b, so `b` is signed.
        for q in [
            [("versionId", "b"), ("acl", ""), ("versionId", "a")],
            [("versionId", "a"), ("versionId", "b"), ("acl", "")],
            [("acl", ""), ("versionId", "b"), ("versionId", "a")],
        ] {
            assert_eq!(
                canonicalized_resource("/b/k", &q, path),
                "/b/k?acl&versionId=b",
                "{q:?}"
            );
        }
        // Identical repeats collapse to one.
        assert_eq!(
            canonicalized_resource("/k", &[("uploads", ""), ("uploads", "")], path),
            "/k?uploads"
        );
        assert_eq!(
            canonicalized_resource("/k", &[("versionId", "null"), ("versionId", "null")], path),
            "/k?versionId=null"
        );
        // The order is the encoded one: "a/" is sent as "a%2F", before "a.", so "a." is
        // last on the wire although '/' > '.' decoded; the signed value stays decoded.
        let q = [("uploadId", "a."), ("uploadId", "a/")];
        assert_eq!(crate::sign::encode_query(&q), "uploadId=a%2F&uploadId=a.");
        assert_eq!(canonicalized_resource("/k", &q, path), "/k?uploadId=a.");
        let q = [("uploadId", "x y"), ("uploadId", "x~")];
        assert_eq!(crate::sign::encode_query(&q), "uploadId=x%20y&uploadId=x~");
        assert_eq!(canonicalized_resource("/k", &q, path), "/k?uploadId=x~");
        // Signatures do not depend on the caller's order either.
        let sign = |q: &[(&str, &str)]| {
            let req = SignableRequest {
                method: "GET",
                path: "/b/k",
                query: q,
                headers: &[],
            };
            let h = sign_header(&req, &CREDS, path, "", "", "d")
                .unwrap()
                .signature;
            let p = presign(&req, &CREDS, path, 10).unwrap();
            (h, p.signature, p.query)
        };
        let a = sign(&[("partNumber", "2"), ("uploadId", "z"), ("uploadId", "y")]);
        let b = sign(&[("uploadId", "y"), ("uploadId", "z"), ("partNumber", "2")]);
        assert_eq!(a, b);
        assert!(a
            .2
            .starts_with("partNumber=2&uploadId=y&uploadId=z&AWSAccessKeyId="));
    }

    #[test]
    fn amz_headers_unfolded_and_joined() {
        let h = [
            ("X-Amz-Meta-B", " two\r\n   lines "),
            ("x-amz-meta-a", "1"),
            ("X-AMZ-META-A", "2"),
            ("Content-Type", "x"),
        ];
        assert_eq!(
            canonicalized_amz_headers(&h, Some("tok")),
            "x-amz-meta-a:1,2\nx-amz-meta-b:two lines\nx-amz-security-token:tok\n"
        );
    }

    #[test]
    fn token_is_signed_and_returned() {
        let creds = SigningCredentials {
            session_token: Some("TOKEN"),
            ..CREDS
        };
        let req = SignableRequest {
            method: "GET",
            path: "/b/k",
            query: &[],
            headers: &[],
        };
        let s = sign_header(&req, &creds, BucketAddressing::PathStyle, "", "", "d").unwrap();
        assert!(s.string_to_sign.contains("x-amz-security-token:TOKEN\n"));
        assert_eq!(s.headers[0], ("x-amz-security-token", "TOKEN".to_owned()));
        assert!(!format!("{s:?}").contains("TOKEN"));
        assert_eq!(
            sign_header(&req, &CREDS, BucketAddressing::PathStyle, "", "", " ").unwrap_err(),
            SignError::MissingDate
        );
        let p = presign(&req, &creds, BucketAddressing::PathStyle, 10).unwrap();
        assert!(p.query.ends_with("&x-amz-security-token=TOKEN"));
    }
}
