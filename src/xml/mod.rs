//! The S3 XML codec: typed readers for S3 response bodies and writers for request bodies.
//!
//! Hand-written over `quick-xml` (no serde): one struct per S3 shape, each with
//! `parse(&[u8]) -> Result<Self, XmlError>` (responses) or `to_xml(&self)` (requests).
//! From the rest of the crate this module uses only the calendar arithmetic of `crate::sign::time`.
//!
//! Public are the types the client's methods return or take; the request bodies, the
//! results the client reduces to a string, the error bodies and the STS answers are
//! crate-private (named in `code` below, without links).
//!
//! | shape | operation |
//! |---|---|
//! | [`ListBucketResult`] ([`Object`], [`Owner`]) | `ListObjectsV2`, `ListObjects` |
//! | `InitiateMultipartUploadResult` | `CreateMultipartUpload` |
//! | `CompleteMultipartUpload` ([`CompletedPart`]) → request | `CompleteMultipartUpload` |
//! | [`CompleteMultipartUploadResult`] | `CompleteMultipartUpload` |
//! | [`ListPartsResult`] ([`Part`]) | `ListParts` |
//! | [`ListMultipartUploadsResult`] ([`MultipartUpload`]) | `ListMultipartUploads` |
//! | [`CopyObjectResult`], [`CopyPartResult`] | `CopyObject`, `UploadPartCopy` |
//! | `Delete` (`ObjectIdentifier`) → request, [`DeleteResult`] | `DeleteObjects` |
//! | `LocationConstraint` | `GetBucketLocation` |
//! | `ErrorResponse`, `parse_error_body` | any failed request |
//! | `AssumeRoleResponse` (`StsCredentials`), STS `<ErrorResponse>` | STS `AssumeRole`, `AssumeRoleWithWebIdentity` (credentials) |
//!
//! # Reading: what is accepted and what is an error
//!
//! * Accepted and ignored: the XML declaration, comments, processing instructions, a UTF-8
//!   byte-order mark, whitespace before the document (S3 pads slow answers), whitespace
//!   between elements, namespace prefixes and every attribute (`xmlns=...`), and unknown
//!   elements with everything nested in them (new S3 fields such as checksums).
//! * `<X/>` reads like `<X></X>`: an empty string for text fields, and *absent* for number
//!   fields (`<NextPartNumberMarker/>`).
//! * Leaf text is kept exactly as sent (no trimming), with entities and character
//!   references resolved; numbers, booleans and times ignore surrounding whitespace. Control
//!   characters a non-conforming server writes raw are passed through, not rejected (a
//!   listing should still be readable); the writers, in contrast, refuse them.
//! * Errors ([`XmlError`], naming the element): malformed or truncated XML, a DOCTYPE, a
//!   different root element, text mixed between child elements, a required field missing, a
//!   single-valued field given twice (duplicates are rejected rather than guessed between),
//!   a malformed number, boolean or time, an unknown `EncodingType`, bad url-encoding, and
//!   any content after the root element. No input panics.
//! * Which fields are required is stated on each struct: only those a caller needs to act
//!   correctly (for example `IsTruncated`, and a listed object's `Key`, `LastModified` and
//!   `Size`); everything else is an `Option`.
//!
//! # `EncodingType=url`
//!
//! When a listing says `<EncodingType>url</EncodingType>`, its key-like fields are decoded
//! before they are returned: `+` is a space and `%XX` a byte, which is how AWS and MinIO
//! encode them (AWS lists `a b.txt` as `a+b.txt` and `a+b.txt` as `a%2Bb.txt`; MinIO uses Go's
//! `url.QueryEscape`), and how the AWS SDKs decode them (botocore `unquote_plus`).
//! Continuation tokens and upload ids are never encoded and are returned as sent.
//!
//! # ETags
//!
//! [`ETag`] is the one place that handles ETag quoting: ETags are kept exactly as the
//! server sent them (S3 quotes them) because `CompleteMultipartUpload` must echo them;
//! compare with [`ETag::matches`], which ignores the quotes.
//!
//! # Errors inside `200 OK`
//!
//! `CopyObject`, `UploadPartCopy` and `CompleteMultipartUpload` can answer `200 OK` and
//! then an `<Error>` body. The client calls `parse_error_body` on every such body first and
//! parses the expected result only when it returns `None` (`root_element_name` tells which
//! document a body holds); the result parsers reject an `<Error>` root with
//! [`XmlError::WrongRoot`].
//!
//! # Writing
//!
//! Writers escape `&`, `<`, `>` and write tab, line feed and carriage return as character
//! references. Characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE, U+FFFF) make
//! the writer fail with [`XmlError::Unrepresentable`] instead of sending a body S3 would
//! reject or misread (see `Delete`).

mod copy;
mod de;
mod delete;
mod encoding;
mod error;
mod error_response;
mod etag;
mod list_objects;
mod location;
mod multipart;
mod ser;
mod sts;
mod time;

pub use copy::{CopyObjectResult, CopyPartResult};
pub(crate) use delete::{Delete, ObjectIdentifier, MAX_DELETE_OBJECTS};
pub use delete::{DeleteError, DeleteResult, DeletedObject};
pub use error::XmlError;
pub(crate) use error_response::parse_error_body;
#[cfg(any(test, feature = "__internals"))]
pub(crate) use error_response::ErrorResponse;
pub use etag::ETag;
pub use list_objects::{ListBucketResult, Object, Owner};
pub(crate) use location::LocationConstraint;
pub(crate) use multipart::{CompleteMultipartUpload, InitiateMultipartUploadResult};
pub use multipart::{
    CompleteMultipartUploadResult, CompletedPart, ListMultipartUploadsResult, ListPartsResult,
    MultipartUpload, Part,
};
pub(crate) use sts::{parse_sts_error, AssumeRoleResponse};
pub use time::Timestamp;

/// The local name of the root element of `body` (`"Error"`, `"CopyObjectResult"`, ...),
/// skipping the declaration, comments and leading whitespace; `None` when the body holds no
/// element or is malformed before its first element.
///
/// Only the start of the body is read, so this is cheap on large bodies.
#[cfg(any(test, feature = "__internals"))]
#[must_use]
pub(crate) fn root_element_name(body: &[u8]) -> Option<String> {
    de::Deserializer::new(body)
        .root()
        .ok()
        .map(|(name, _)| name)
}

/// Writes a `CompleteMultipartUpload` request body for `parts`, exactly as the client does
/// (sorted, checked, escaped). For `benches/xml.rs` only: the request type is crate-private.
/// Not API: compiled only with the hidden `__internals` feature.
///
/// # Errors
///
/// [`XmlError::InvalidRequest`] or [`XmlError::Unrepresentable`], as the writer gives them.
#[cfg(feature = "__internals")]
#[doc(hidden)]
pub fn __bench_complete_multipart_upload_xml(parts: &[CompletedPart]) -> Result<String, XmlError> {
    multipart::write_complete(parts)
}

/// The fuzz target's entry point (`fuzz/fuzz_targets/xml.rs`): [`parse_all_checked`]. Not
/// API: compiled only with the hidden `__internals` feature, which `fuzz/` turns on.
///
/// # Panics
///
/// Only when a writer's round trip breaks (a bug).
#[cfg(feature = "__internals")]
#[doc(hidden)]
pub fn __fuzz_parse_all(data: &[u8]) {
    parse_all_checked(data);
}

/// Runs every parser in this module on `data`, and checks the writers' round trips on
/// whatever parses. For the fuzz target and the never-panics property tests only.
///
/// # Panics
///
/// Only when a round trip breaks (a bug): a request body that parses and can be written
/// again must parse back to the same value.
#[cfg(any(test, feature = "__internals"))]
pub(crate) fn parse_all_checked(data: &[u8]) {
    let _ = root_element_name(data);
    let _ = parse_error_body(data);
    let _ = ErrorResponse::parse(data);
    let _ = ListBucketResult::parse(data);
    let _ = InitiateMultipartUploadResult::parse(data);
    let _ = CompleteMultipartUploadResult::parse(data);
    let _ = ListPartsResult::parse(data);
    let _ = ListMultipartUploadsResult::parse(data);
    let _ = CopyObjectResult::parse(data);
    let _ = CopyPartResult::parse(data);
    let _ = DeleteResult::parse(data);
    let _ = LocationConstraint::parse(data);
    let _ = AssumeRoleResponse::parse(data);
    let _ = AssumeRoleResponse::parse_web_identity(data);
    let _ = parse_sts_error(data);

    if let Ok(delete) = Delete::parse(data) {
        if let Ok(xml) = delete.to_xml() {
            let back = Delete::parse(xml.as_bytes()).expect("a written Delete body parses");
            assert_eq!(back, delete, "Delete round trip");
        }
    }
    if let Ok(complete) = CompleteMultipartUpload::parse(data) {
        if let Ok(xml) = complete.to_xml() {
            let back = CompleteMultipartUpload::parse(xml.as_bytes())
                .expect("a written CompleteMultipartUpload body parses");
            let mut sorted = complete.parts.clone();
            sorted.sort_by_key(|p| p.part_number);
            assert_eq!(back.parts, sorted, "CompleteMultipartUpload round trip");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(time) = Timestamp::parse(text) {
            if (-62_167_219_200..=253_402_300_799).contains(&time.unix_seconds) {
                let written = Timestamp::from_unix(time.unix_seconds, time.nanos);
                let back = Timestamp::parse(&written.raw).expect("a written timestamp parses");
                assert_eq!(back.unix_seconds, time.unix_seconds, "timestamp round trip");
                assert_eq!(
                    back.nanos,
                    time.nanos / 1_000_000 * 1_000_000,
                    "timestamp round trip"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
