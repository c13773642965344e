//! `EncodingType=url`: decoding the fields S3 percent-encodes in listings.
//!
//! With `encoding-type=url` in the request, S3 answers with `<EncodingType>url</EncodingType>`
//! and encodes object keys (and the prefix, delimiter and markers that echo keys) the way a
//! form encoder does: a space becomes `+`, a literal `+` becomes `%2B`, and other bytes outside
//! the unreserved set become `%XX` of their UTF-8 bytes. That is what AWS answers (a key
//! `a b.txt` lists as `a+b.txt`, `a+b.txt` as `a%2Bb.txt`) and what MinIO writes (its
//! `s3URLEncode` is Go's `url.QueryEscape` with `/` and `*` kept), and it is what the AWS SDKs
//! undo (botocore `unquote_plus`, minio-go `url.QueryUnescape`). Decoding therefore maps `+` to
//! a space and `%XX` to a byte, and accepts servers that write `%20` for a space.
//!
//! Which fields are encoded, per the AWS API reference: `Key`, `Prefix`, `Delimiter`,
//! `StartAfter`, `Marker`, `NextMarker` and `CommonPrefixes/Prefix` in `ListObjects(V2)`;
//! `Key`, `Prefix`, `Delimiter`, `KeyMarker`, `NextKeyMarker` and `CommonPrefixes/Prefix` in
//! `ListMultipartUploads`; `Key` in `ListParts`. Continuation tokens and upload ids are
//! never encoded and are kept as sent.

use super::error::XmlError;

/// Reads the `EncodingType` element: `None` or `url` (any case) are understood.
///
/// # Errors
///
/// [`XmlError::InvalidValue`] for any other value: the keys would be in an encoding this
/// reader cannot undo, so using them would address the wrong objects.
pub(crate) fn is_url_encoded(encoding_type: Option<&str>) -> Result<bool, XmlError> {
    match encoding_type {
        None => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("url") => Ok(true),
        Some(value) => Err(XmlError::invalid(
            "EncodingType",
            value,
            "unknown encoding; S3 defines only 'url', so request encoding-type=url or none",
        )),
    }
}

/// Decodes one form-encoded field in place (`+` is a space, `%XX` a byte).
///
/// # Errors
///
/// [`XmlError::InvalidValue`] naming `field` for a `%` not followed by two hex digits or for
/// bytes that are not UTF-8 once decoded.
pub(crate) fn url_decode_in_place(field: &'static str, value: &mut String) -> Result<(), XmlError> {
    if !value.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(());
    }
    let decoded = url_decode(field, value)?;
    *value = decoded;
    Ok(())
}

/// Decodes an optional field in place; see [`url_decode_in_place`].
pub(crate) fn url_decode_opt(
    field: &'static str,
    value: &mut Option<String>,
) -> Result<(), XmlError> {
    match value {
        Some(text) => url_decode_in_place(field, text),
        None => Ok(()),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a form-encoded string (`+` is a space, `%XX` a byte).
fn url_decode(field: &'static str, text: &str) -> Result<String, XmlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let pair = bytes
                    .get(i + 1)
                    .copied()
                    .and_then(hex)
                    .zip(bytes.get(i + 2).copied().and_then(hex));
                let Some((high, low)) = pair else {
                    return Err(XmlError::invalid(
                        field,
                        text,
                        "'%' is not followed by two hex digits, so the url-encoded value cannot be decoded",
                    ));
                };
                out.push(high << 4 | low);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| XmlError::invalid(field, text, "url-decoded bytes are not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str) -> Result<String, XmlError> {
        let mut value = text.to_owned();
        url_decode_in_place("Key", &mut value).map(|()| value)
    }

    #[test]
    fn decodes_what_aws_and_minio_write() {
        assert_eq!(decoded("a+b.txt").unwrap(), "a b.txt");
        assert_eq!(decoded("a%2Bb.txt").unwrap(), "a+b.txt");
        assert_eq!(decoded("100%25.csv").unwrap(), "100%.csv");
        assert_eq!(decoded("%ED%95%9C%EA%B8%80/x.txt").unwrap(), "한글/x.txt");
        assert_eq!(decoded("run+books/").unwrap(), "run books/");
        assert_eq!(decoded("a%20b").unwrap(), "a b");
        assert_eq!(decoded("%0D%0a%01").unwrap(), "\r\n\u{1}");
        assert_eq!(decoded("plain/key-._~*").unwrap(), "plain/key-._~*");
        assert_eq!(decoded("").unwrap(), "");
    }

    #[test]
    fn rejects_broken_escapes() {
        for text in ["%", "%2", "%zz", "a%g0", "%ff", "%C3"] {
            assert!(
                matches!(
                    decoded(text),
                    Err(XmlError::InvalidValue { field: "Key", .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn encoding_type_values() {
        assert!(!is_url_encoded(None).unwrap());
        assert!(is_url_encoded(Some("url")).unwrap());
        assert!(is_url_encoded(Some("URL")).unwrap());
        assert!(is_url_encoded(Some("base64")).is_err());
        assert!(is_url_encoded(Some("")).is_err());
    }
}
