//! `ErrorResponse`: the `<Error>` body of a failed S3 request.

use std::fmt;

#[cfg(any(test, feature = "__internals"))]
use super::de::required;
use super::de::{set_once, Deserializer};
use super::error::XmlError;

const ROOT: &str = "Error";

/// An S3 error body ([api]):
/// `<Error><Code/><Message/><RequestId/><HostId/><Key/><BucketName/><Resource/>...</Error>`.
///
/// Elements other than the named fields (`Region`, `Endpoint`, `Bucket`, `ArgumentName`,
/// `StringToSign`, ...) are kept, as text, in [`ErrorResponse::other`] when they are leaves.
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorResponse {
    /// `Code`, e.g. `NoSuchKey` (empty only from [`parse_error_body`] on a body without one).
    pub code: String,
    /// `Message` (empty when absent).
    pub message: String,
    /// `RequestId`.
    pub request_id: Option<String>,
    /// `HostId`.
    pub host_id: Option<String>,
    /// `Key`.
    pub key: Option<String>,
    /// `BucketName`.
    pub bucket_name: Option<String>,
    /// `Resource`.
    pub resource: Option<String>,
    /// Every other leaf element, as (local name, text), in document order.
    pub other: Vec<(String, String)>,
}

impl ErrorResponse {
    /// Parses an `<Error>` body strictly.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not `<Error>`, `Code` is missing,
    /// or a named field repeats.
    #[cfg(any(test, feature = "__internals"))]
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let mut out = ErrorResponse::default();
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let code = read_fields(&mut de, empty, &mut out)?;
        de.finish()?;
        out.code = required(code, ROOT, "Code")?;
        Ok(out)
    }

    /// The text of an element kept in [`ErrorResponse::other`], e.g. `get("Region")`.
    /// Only the tests look elements up by name (the client reads the named fields), so this
    /// is compiled for them only.
    #[cfg(test)]
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.other
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = if self.code.is_empty() {
            "(no code)"
        } else {
            &self.code
        };
        f.write_str(code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// Reads the children of `<Error>` into `out` as they come, so that a caller that gives up
/// on a later error still holds what was read. Returns `Code`.
fn read_fields(
    de: &mut Deserializer<'_>,
    empty: bool,
    out: &mut ErrorResponse,
) -> Result<Option<String>, XmlError> {
    let mut code = None;
    let mut message = None;
    let result = de.children(ROOT, empty, |de, name, empty| {
        match name {
            "Code" => {
                let value = de.text("Code", empty)?;
                out.code.clone_from(&value);
                set_once(&mut code, value, ROOT, "Code")?;
            }
            "Message" => {
                let value = de.text("Message", empty)?;
                out.message.clone_from(&value);
                set_once(&mut message, value, ROOT, "Message")?;
            }
            "RequestId" => de.string_into(&mut out.request_id, ROOT, "RequestId", empty)?,
            "HostId" => de.string_into(&mut out.host_id, ROOT, "HostId", empty)?,
            "Key" => de.string_into(&mut out.key, ROOT, "Key", empty)?,
            "BucketName" => de.string_into(&mut out.bucket_name, ROOT, "BucketName", empty)?,
            "Resource" => de.string_into(&mut out.resource, ROOT, "Resource", empty)?,
            other => {
                if let Some(text) = de.text_or_skip(other, empty)? {
                    out.other.push((other.to_owned(), text));
                }
            }
        }
        Ok(true)
    });
    result.map(|()| code)
}

/// Returns the error carried by `body` when its root element is `<Error>`, else `None`.
///
/// Use it on every S3 answer that can fail after the status line: `CopyObject`,
/// `UploadPartCopy` and `CompleteMultipartUpload` may answer `200 OK` and then an `<Error>`
/// body (the failure happened while the server was already streaming), and `DeleteObjects`
/// answers `200 OK` with `<Error>` for a malformed request. Check this first, and parse the
/// expected result only when it returns `None`. It is also the way to read the body of a
/// `4xx`/`5xx` answer.
///
/// Detection looks only at the root element, so a truncated or otherwise damaged `<Error>`
/// body still gives `Some`, holding whatever fields were read before the damage (its `code`
/// may then be empty). A body that is empty, not XML, or rooted elsewhere gives `None`.
#[must_use]
pub fn parse_error_body(body: &[u8]) -> Option<ErrorResponse> {
    let mut de = Deserializer::new(body);
    let (root, empty) = de.root().ok()?;
    if root != ROOT {
        return None;
    }
    let mut out = ErrorResponse::default();
    // Best effort: a damaged body keeps the fields read so far.
    let _ = read_fields(&mut de, empty, &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parse_needs_a_code() {
        assert_eq!(
            ErrorResponse::parse(b"<Error><Message>m</Message></Error>").unwrap_err(),
            XmlError::MissingField {
                parent: "Error",
                field: "Code"
            }
        );
        assert!(matches!(
            ErrorResponse::parse(b"<Error><Code>a</Code><Code>b</Code></Error>").unwrap_err(),
            XmlError::DuplicateField { field: "Code", .. }
        ));
    }

    #[test]
    fn lenient_detection_keeps_partial_fields() {
        let got = parse_error_body(b"<Error><Code>SlowDown</Code><Message>Please reduce").unwrap();
        assert_eq!(got.code, "SlowDown");
        let got = parse_error_body(
            b"<Error><Code>InternalError</Code><Message>m</Message><RequestId>r</Req",
        )
        .unwrap();
        assert_eq!(
            (got.code.as_str(), got.message.as_str()),
            ("InternalError", "m")
        );
        let got = parse_error_body(b"<Error>").unwrap();
        assert_eq!(got, ErrorResponse::default());
        assert!(parse_error_body(b"").is_none());
        assert!(parse_error_body(b"not xml").is_none());
        assert!(parse_error_body(b"<CopyObjectResult/>").is_none());
    }

    #[test]
    fn other_fields_and_display() {
        let got = ErrorResponse::parse(
            b"<Error><Code>PermanentRedirect</Code><Message>Use the endpoint.</Message>\
              <Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint><Nested><X>1</X></Nested>\
              <Region>eu-west-1</Region><RequestId>R1</RequestId></Error>",
        )
        .unwrap();
        assert_eq!(got.get("Region"), Some("eu-west-1"));
        assert_eq!(got.get("Endpoint"), Some("b.s3.eu-west-1.amazonaws.com"));
        assert_eq!(got.get("Nested"), None);
        assert_eq!(
            got.to_string(),
            "PermanentRedirect: Use the endpoint. (request id R1)"
        );
        assert_eq!(ErrorResponse::default().to_string(), "(no code)");
    }
}
