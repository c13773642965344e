//! Percent-encoding: the one URI encoder of the crate.
//!
//! The same function builds the canonical strings that get signed *and* the URLs that get
//! sent, so the two can never disagree. The unreserved set is RFC 3986's
//! (`A-Z a-z 0-9 - _ . ~`); every other byte of the UTF-8 input becomes `%XX` with
//! upper-case hex. A space is always `%20`, never `+` (a `+` in the input becomes `%2B`).
//! `/` is kept only when `encode_slash` is false (paths) and encoded otherwise (query names
//! and values).

use super::SignError;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// True for the bytes RFC 3986 calls unreserved: `A-Z a-z 0-9 - _ . ~`.
#[inline]
pub const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Percent-encodes `input`, keeping only unreserved bytes (and `/` unless `encode_slash`).
///
/// ```
/// use s3driver::sign::uri_encode;
/// assert_eq!(uri_encode("/my key+1/ሴ", false), "/my%20key%2B1/%E1%88%B4");
/// assert_eq!(uri_encode("a/b=c", true), "a%2Fb%3Dc");
/// ```
pub fn uri_encode(input: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 2 + 8);
    uri_encode_into(&mut out, input, encode_slash);
    out
}

/// Like [`uri_encode`], appending to `out` instead of allocating.
pub fn uri_encode_into(out: &mut String, input: &str, encode_slash: bool) {
    let bytes = input.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) || (b == b'/' && !encode_slash) {
            continue;
        }
        if run_start < i {
            // bytes[run_start..i] is a non-empty run of ASCII, so both ends are char
            // boundaries.
            out.push_str(&input[run_start..i]);
        }
        out.push('%');
        out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
        out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        run_start = i + 1;
    }
    out.push_str(&input[run_start..]);
}

/// Encodes an application path (e.g. `/bucket/my key`) for the request line: every segment
/// percent-encoded once, `/` kept. This is exactly the S3 canonical URI.
pub fn encode_path(path: &str) -> String {
    uri_encode(path, false)
}

/// Builds the canonical (and wire) query string from decoded `(name, value)` pairs: each
/// name and value encoded with `encode_slash = true`, pairs sorted by encoded name then
/// encoded value, joined as `name=value` with `&` (a pair with an empty value still gets
/// its `=`).
///
/// ```
/// use s3driver::sign::encode_query;
/// assert_eq!(encode_query(&[("prefix", "a b/"), ("list-type", "2")]), "list-type=2&prefix=a%20b%2F");
/// ```
pub fn encode_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    join_sorted_pairs(&mut pairs)
}

/// Sorts already-encoded pairs (by name, then value) and joins them as a query string.
pub(crate) fn join_sorted_pairs(pairs: &mut [(String, String)]) -> String {
    crate::sort::sort(pairs);
    let mut out = String::new();
    join_pairs_into(&mut out, pairs);
    out
}

/// Appends already-encoded pairs, in their order, to `out` as `k=v&k=v`.
pub(crate) fn join_pairs_into<K: AsRef<str>, V: AsRef<str>>(out: &mut String, pairs: &[(K, V)]) {
    let len: usize = pairs
        .iter()
        .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 2)
        .sum();
    out.reserve(len);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k.as_ref());
        out.push('=');
        out.push_str(v.as_ref());
    }
}

/// Decodes `%XX` escapes (strictly: a `%` must be followed by two hex digits) and checks
/// that the result is UTF-8. `+` is left as `+` (RFC 3986, not form encoding).
///
/// # Errors
/// [`SignError::InvalidPercentEncoding`] for a malformed escape or non-UTF-8 result.
pub(crate) fn percent_decode(input: &str) -> Result<String, SignError> {
    let bytes = input.as_bytes();
    if !bytes.contains(&b'%') {
        return Ok(input.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(SignError::InvalidPercentEncoding),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| SignError::InvalidPercentEncoding)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Generic SigV4 path normalisation (RFC 3986 §5.2.4 plus slash collapsing): `.` segments
/// and empty segments are dropped, `..` removes the previous segment (never above the
/// root), and a trailing `/` is kept when the input ends in `/`, `/.` or `/..`.
/// Never used for S3, where `//` and `..` are part of object keys.
pub fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut last = "";
    for segment in path.split('/') {
        last = segment;
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = matches!(last, "" | "." | "..");
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_set_is_exact() {
        let kept: String = (0u8..=127)
            .filter(|&b| is_unreserved(b))
            .map(char::from)
            .collect();
        assert_eq!(
            kept,
            "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
        );
    }

    #[test]
    fn encodes_space_plus_slash_and_utf8() {
        assert_eq!(uri_encode("a b+c", true), "a%20b%2Bc");
        assert_eq!(uri_encode("/a/b", false), "/a/b");
        assert_eq!(uri_encode("/a/b", true), "%2Fa%2Fb");
        assert_eq!(uri_encode("ሴ", true), "%E1%88%B4");
        assert_eq!(uri_encode("%", true), "%25");
        assert_eq!(uri_encode("", true), "");
    }

    #[test]
    fn query_sorted_by_encoded_name_then_value() {
        assert_eq!(
            encode_query(&[("b", "2"), ("a", "z"), ("a", "y"), ("ሴ", "1"), ("A", "")]),
            "%E1%88%B4=1&A=&a=y&a=z&b=2"
        );
        assert_eq!(encode_query(&[]), "");
    }

    #[test]
    fn decode_is_strict() {
        assert_eq!(percent_decode("a%20b+c").unwrap(), "a b+c");
        assert_eq!(percent_decode("%e1%88%b4").unwrap(), "ሴ");
        assert!(percent_decode("%").is_err());
        assert!(percent_decode("%2").is_err());
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%FF").is_err());
    }

    #[test]
    fn normalisation_matches_the_suite_cases() {
        for (input, want) in [
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("//example//", "/example/"),
            ("/a/b/../c/.", "/a/c/"),
            ("/../../a", "/a"),
            ("/example space/", "/example space/"),
        ] {
            assert_eq!(normalize_path(input), want, "{input}");
        }
    }
}
