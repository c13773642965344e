//! `CopyObjectResult` and `CopyPartResult`: the answers to `CopyObject` and `UploadPartCopy`.
//!
//! Both operations can fail after answering `200 OK`; the body is then an `<Error>`
//! document. Check with [`crate::xml::parse_error_body`] before parsing these.

use super::de::{required, Deserializer};
use super::error::XmlError;
use super::etag::ETag;
use super::time::Timestamp;

/// Reads `<root><ETag/><LastModified/></root>`, skipping checksum elements.
fn parse_copy(body: &[u8], root: &'static str) -> Result<(ETag, Option<Timestamp>), XmlError> {
    let mut de = Deserializer::new(body);
    let empty = de.expect_root(root)?;
    let (mut etag, mut last_modified) = (None, None);
    de.children(root, empty, |de, name, empty| {
        match name {
            "ETag" => de.string_into(&mut etag, root, "ETag", empty)?,
            "LastModified" => de.time_into(&mut last_modified, root, "LastModified", empty)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    de.finish()?;
    Ok((ETag::from(required(etag, root, "ETag")?), last_modified))
}

/// The answer to `CopyObject` ([api]).
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyObjectResult {
    /// `ETag` (required) of the new object, as sent.
    pub etag: ETag,
    /// `LastModified` of the new object.
    pub last_modified: Option<Timestamp>,
}

impl CopyObjectResult {
    /// Parses a `CopyObject` response body.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not `<CopyObjectResult>` (an
    /// `<Error>` root gives [`XmlError::WrongRoot`]), `ETag` is missing, or an element
    /// repeats or is malformed.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let (etag, last_modified) = parse_copy(body, "CopyObjectResult")?;
        Ok(CopyObjectResult {
            etag,
            last_modified,
        })
    }
}

/// The answer to `UploadPartCopy` ([api]); its ETag goes into the part's
/// [`CompletedPart`](crate::xml::CompletedPart) of the `CompleteMultipartUpload` request.
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyPartResult {
    /// `ETag` (required) of the new part, as sent.
    pub etag: ETag,
    /// `LastModified` of the new part.
    pub last_modified: Option<Timestamp>,
}

impl CopyPartResult {
    /// Parses an `UploadPartCopy` response body.
    ///
    /// # Errors
    ///
    /// As [`CopyObjectResult::parse`], with root `<CopyPartResult>`.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let (etag, last_modified) = parse_copy(body, "CopyPartResult")?;
        Ok(CopyPartResult {
            etag,
            last_modified,
        })
    }
}
