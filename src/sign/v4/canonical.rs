//! SigV4 stage 1 and 2: canonical request and string to sign.
//!
//! ```text
//! CanonicalRequest =
//!   HTTPMethod '\n' CanonicalURI '\n' CanonicalQueryString '\n'
//!   CanonicalHeaders '\n' SignedHeaders '\n' HashedPayload
//! StringToSign =
//!   "AWS4-HMAC-SHA256" '\n' X-Amz-Date '\n' Scope '\n' hex(SHA256(CanonicalRequest))
//! ```

use std::borrow::Cow;

use crate::sign::crypto::{hex_encode_into, sha256};
use crate::sign::encode::{normalize_path, uri_encode, uri_encode_into};
use crate::sign::UriMode;

/// The algorithm id of header and query signing.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// `<CanonicalURI>`: the path encoded once (S3) or normalised then encoded once.
pub(crate) fn canonical_uri(path: &str, mode: UriMode) -> String {
    match mode {
        UriMode::S3 => uri_encode(path, false),
        UriMode::Normalized => uri_encode(&normalize_path(path), false),
    }
}

/// `<CanonicalHeaders>` (each line `name:value\n`) and `<SignedHeaders>` (`a;b;c`).
pub(crate) struct CanonicalHeaders {
    pub(crate) block: String,
    pub(crate) signed_headers: String,
}

/// Lower-cases names, sorts by name (stable, so repeated headers keep their order), joins
/// repeated headers' values with `,`, and trims and folds each value
/// ([`push_canonical_value`]). `extra` holds signer-added headers whose names are already
/// lower-case.
pub(crate) fn canonical_headers(
    headers: &[(&str, &str)],
    extra: &[(&'static str, &str)],
) -> CanonicalHeaders {
    let mut entries: Vec<(Cow<'_, str>, &str)> = Vec::with_capacity(headers.len() + extra.len());
    for (name, value) in headers {
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(*name)
        };
        entries.push((name, value));
    }
    for (name, value) in extra {
        entries.push((Cow::Borrowed(*name), value));
    }
    crate::sort::sort_by(&mut entries, |a, b| a.0.cmp(&b.0));

    let size: usize = entries.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    let mut block = String::with_capacity(size);
    let mut signed_headers = String::with_capacity(size / 2);
    let mut previous: Option<&str> = None;
    for (name, value) in &entries {
        if previous == Some(name.as_ref()) {
            block.push(',');
        } else {
            if previous.is_some() {
                block.push('\n');
                signed_headers.push(';');
            }
            block.push_str(name);
            block.push(':');
            signed_headers.push_str(name);
        }
        push_canonical_value(&mut block, value);
        previous = Some(name.as_ref());
    }
    if previous.is_some() {
        block.push('\n');
    }
    CanonicalHeaders {
        block,
        signed_headers,
    }
}

/// Appends `value` trimmed, with every inner run of whitespace (spaces, tabs and the line
/// breaks of folded multi-line values) replaced by one space.
pub(crate) fn push_canonical_value(out: &mut String, value: &str) {
    let mut pending_space = false;
    let mut started = false;
    let mut run_start = None;
    for (i, b) in value.bytes().enumerate() {
        let ws = matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
        if ws {
            if let Some(start) = run_start.take() {
                out.push_str(&value[start..i]);
            }
            pending_space = started;
        } else {
            if run_start.is_none() {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                run_start = Some(i);
                started = true;
            }
        }
    }
    if let Some(start) = run_start {
        out.push_str(&value[start..]);
    }
}

/// `parts`, each followed by `\n`, in a string with room for `extra` more bytes: the head of
/// the canonical request and of every string to sign (SigV4's and the chunk signer's).
pub(crate) fn lines(parts: &[&str], extra: usize) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + extra);
    for part in parts {
        out.push_str(part);
        out.push('\n');
    }
    out
}

/// The canonical request.
pub(crate) fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &CanonicalHeaders,
    payload_hash: &str,
) -> String {
    // <HTTPMethod>\n<CanonicalURI>\n<CanonicalQueryString>\n<CanonicalHeaders>\n (each
    // header line already ends with '\n') <SignedHeaders>\n, then <HashedPayload>.
    let mut out = lines(
        &[
            method,
            canonical_uri,
            canonical_query,
            &headers.block,
            &headers.signed_headers,
        ],
        payload_hash.len(),
    );
    out.push_str(payload_hash);
    out
}

/// The string to sign of a header or presigned request.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut out = lines(&[ALGORITHM, amz_date, scope], 64);
    hex_encode_into(&mut out, &sha256(canonical_request.as_bytes()));
    out
}

/// One encoded query pair.
pub(crate) fn encoded_pair(name: &str, value: &str) -> (String, String) {
    let mut k = String::with_capacity(name.len() + 8);
    uri_encode_into(&mut k, name, true);
    let mut v = String::with_capacity(value.len() + 8);
    uri_encode_into(&mut v, value, true);
    (k, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(v: &str) -> String {
        let mut out = String::new();
        push_canonical_value(&mut out, v);
        out
    }

    #[test]
    fn values_are_trimmed_and_folded() {
        assert_eq!(folded(" value1"), "value1");
        assert_eq!(folded("\"a   b   c\""), "\"a b c\"");
        assert_eq!(
            folded("value1\n  value2\n     value3"),
            "value1 value2 value3"
        );
        assert_eq!(folded("  \t "), "");
        assert_eq!(folded(""), "");
        assert_eq!(folded("ሴ  x"), "ሴ x");
    }

    #[test]
    fn headers_are_sorted_grouped_and_lowercased() {
        let h = canonical_headers(
            &[
                ("My-Header1", "value4"),
                ("Host", "example.amazonaws.com"),
                ("my-header1", "value1 "),
                ("MY-HEADER1", "value3"),
            ],
            &[("x-amz-date", "20150830T123600Z")],
        );
        assert_eq!(
            h.block,
            "host:example.amazonaws.com\nmy-header1:value4,value1,value3\nx-amz-date:20150830T123600Z\n"
        );
        assert_eq!(h.signed_headers, "host;my-header1;x-amz-date");
    }
}
