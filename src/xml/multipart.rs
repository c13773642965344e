//! Multipart upload bodies: initiate, complete (request and result), list parts, list uploads.

use super::de::{required, Deserializer};
use super::encoding::{is_url_encoded, url_decode_in_place, url_decode_opt};
use super::error::XmlError;
use super::etag::ETag;
use super::list_objects::read_common_prefixes;
use super::ser::Writer;
use super::time::Timestamp;

/// The highest part number S3 accepts.
pub(crate) const MAX_PART_NUMBER: u32 = 10_000;

/// The answer to `CreateMultipartUpload` ([api]).
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitiateMultipartUploadResult {
    /// `Bucket`.
    pub bucket: Option<String>,
    /// `Key`.
    pub key: Option<String>,
    /// `UploadId` (required, never empty): names the upload in every later call.
    pub upload_id: String,
}

impl InitiateMultipartUploadResult {
    /// Parses a `CreateMultipartUpload` response body.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not
    /// `<InitiateMultipartUploadResult>`, or `UploadId` is missing, empty or repeated.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        const ROOT: &str = "InitiateMultipartUploadResult";
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let (mut bucket, mut key, mut upload_id) = (None, None, None);
        de.children(ROOT, empty, |de, name, empty| {
            match name {
                "Bucket" => de.string_into(&mut bucket, ROOT, "Bucket", empty)?,
                "Key" => de.string_into(&mut key, ROOT, "Key", empty)?,
                "UploadId" => de.string_into(&mut upload_id, ROOT, "UploadId", empty)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        de.finish()?;
        let upload_id = required(upload_id, ROOT, "UploadId")?;
        if upload_id.is_empty() {
            return Err(XmlError::invalid("UploadId", "", "the upload id is empty"));
        }
        Ok(InitiateMultipartUploadResult {
            bucket,
            key,
            upload_id,
        })
    }
}

/// One part named in a `CompleteMultipartUpload` request, as
/// [`S3Client::complete_multipart_upload`](crate::client::S3Client::complete_multipart_upload)
/// takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// `PartNumber`, 1 to 10 000.
    pub part_number: u32,
    /// `ETag`, exactly as `UploadPart` or `UploadPartCopy` returned it.
    pub etag: ETag,
}

/// The `CompleteMultipartUpload` request body ([api]).
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompleteMultipartUpload {
    /// The parts to assemble, in any order: [`CompleteMultipartUpload::to_xml`] sorts them.
    pub parts: Vec<CompletedPart>,
}

impl CompleteMultipartUpload {
    /// Writes the request body, parts in ascending part-number order as S3 requires, each
    /// ETag written exactly as held (quotes included, XML-escaped).
    ///
    /// # Errors
    ///
    /// [`XmlError::InvalidRequest`] for no parts, a part number outside
    /// 1..=10 000 or a part number given twice;
    /// [`XmlError::Unrepresentable`] for an ETag holding a character XML 1.0 cannot carry.
    pub fn to_xml(&self) -> Result<String, XmlError> {
        write_complete(&self.parts)
    }

    /// Parses a `CompleteMultipartUpload` request body (as a server or a test would), keeping
    /// the parts in document order. Checksum elements are skipped.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not `<CompleteMultipartUpload>`,
    /// or a `Part` lacks or repeats `PartNumber` or `ETag`.
    #[cfg(any(test, feature = "__internals"))]
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        const ROOT: &str = "CompleteMultipartUpload";
        const P: &str = "Part";
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let mut parts = Vec::new();
        de.children(ROOT, empty, |de, name, empty| {
            if name != P {
                return Ok(false);
            }
            let (mut part_number, mut etag) = (None, None);
            de.children(P, empty, |de, name, empty| {
                match name {
                    "PartNumber" => de.u32_into(&mut part_number, P, "PartNumber", empty)?,
                    "ETag" => de.string_into(&mut etag, P, "ETag", empty)?,
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            parts.push(CompletedPart {
                part_number: required(part_number, P, "PartNumber")?,
                etag: ETag::from(required(etag, P, "ETag")?),
            });
            Ok(true)
        })?;
        de.finish()?;
        Ok(CompleteMultipartUpload { parts })
    }
}

/// [`CompleteMultipartUpload::to_xml`] on a slice of parts (also the bench hook's body).
pub(super) fn write_complete(given: &[CompletedPart]) -> Result<String, XmlError> {
    const ROOT: &str = "CompleteMultipartUpload";
    if given.is_empty() {
        return Err(XmlError::InvalidRequest {
            reason:
                "CompleteMultipartUpload needs at least one part; abort an upload that has none"
                    .into(),
        });
    }
    let mut parts: Vec<&CompletedPart> = given.iter().collect();
    crate::sort::sort_by_key(&mut parts, |p| p.part_number);
    let mut previous = 0;
    for part in &parts {
        if part.part_number == 0 || part.part_number > MAX_PART_NUMBER {
            return Err(XmlError::InvalidRequest {
                reason: format!(
                    "part number {} is outside 1..={MAX_PART_NUMBER}",
                    part.part_number
                ),
            });
        }
        if part.part_number == previous {
            return Err(XmlError::InvalidRequest {
                reason: format!("part number {} is listed twice", part.part_number),
            });
        }
        previous = part.part_number;
    }
    let mut w = Writer::new(ROOT);
    for part in parts {
        w.open("Part");
        w.leaf("PartNumber", &part.part_number.to_string())?;
        w.leaf("ETag", part.etag.as_str())?;
        w.close("Part");
    }
    Ok(w.finish(ROOT))
}

/// The answer to a successful `CompleteMultipartUpload` ([api]).
///
/// A `200 OK` answer may instead carry an `<Error>` body: the client checks for one first
/// (with the crate-private `parse_error_body`), and [`CompleteMultipartUploadResult::parse`]
/// rejects an `<Error>` root with [`XmlError::WrongRoot`].
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CompleteMultipartUploadResult {
    /// `Location`: the URL of the new object.
    pub location: Option<String>,
    /// `Bucket`.
    pub bucket: Option<String>,
    /// `Key`.
    pub key: Option<String>,
    /// `ETag` of the assembled object (`"...-N"` on S3).
    pub etag: Option<ETag>,
}

impl CompleteMultipartUploadResult {
    /// Parses a `CompleteMultipartUpload` response body.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not
    /// `<CompleteMultipartUploadResult>` (an `<Error>` root gives [`XmlError::WrongRoot`]),
    /// or an element repeats.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        const ROOT: &str = "CompleteMultipartUploadResult";
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let mut out = CompleteMultipartUploadResult::default();
        let mut etag = None;
        de.children(ROOT, empty, |de, name, empty| {
            match name {
                "Location" => de.string_into(&mut out.location, ROOT, "Location", empty)?,
                "Bucket" => de.string_into(&mut out.bucket, ROOT, "Bucket", empty)?,
                "Key" => de.string_into(&mut out.key, ROOT, "Key", empty)?,
                "ETag" => de.string_into(&mut etag, ROOT, "ETag", empty)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        de.finish()?;
        // Ceph RGW answers with an empty `<ETag></ETag>`: unknown, not an empty ETag (HEAD the
        // object for it).
        out.etag = etag.filter(|e| !e.trim().is_empty()).map(ETag::from);
        Ok(out)
    }
}

/// One `Part` of a [`ListPartsResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Part {
    /// `PartNumber` (required).
    pub part_number: u32,
    /// `LastModified`.
    pub last_modified: Option<Timestamp>,
    /// `ETag`, as sent. S3 always sends it; some S3-compatible servers (s3s-fs) omit it, so
    /// a resuming writer falls back to the ETags it recorded itself.
    pub etag: Option<ETag>,
    /// `Size` (required), in bytes.
    pub size: u64,
}

/// The answer to `ListParts` ([api]).
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListPartsResult {
    /// `Bucket`.
    pub bucket: Option<String>,
    /// `Key` (url-decoded when `encoding_type` is `url`).
    pub key: Option<String>,
    /// `UploadId`.
    pub upload_id: Option<String>,
    /// `PartNumberMarker`: the marker this page was asked with (an empty element reads as
    /// `None`).
    pub part_number_marker: Option<u32>,
    /// `NextPartNumberMarker`: the marker for the next page, when truncated.
    pub next_part_number_marker: Option<u32>,
    /// `MaxParts`.
    pub max_parts: Option<u32>,
    /// `IsTruncated`; absent means `false` (s3s-fs omits it, as its listing is never paged).
    pub is_truncated: bool,
    /// `StorageClass`.
    pub storage_class: Option<String>,
    /// `EncodingType`.
    pub encoding_type: Option<String>,
    /// The parts of this page.
    pub parts: Vec<Part>,
}

impl Part {
    fn read(de: &mut Deserializer<'_>, empty: bool) -> Result<Self, XmlError> {
        const P: &str = "Part";
        let (mut part_number, mut last_modified, mut etag, mut size) = (None, None, None, None);
        de.children(P, empty, |de, name, empty| {
            match name {
                "PartNumber" => de.u32_into(&mut part_number, P, "PartNumber", empty)?,
                "LastModified" => de.time_into(&mut last_modified, P, "LastModified", empty)?,
                "ETag" => de.string_into(&mut etag, P, "ETag", empty)?,
                "Size" => de.u64_into(&mut size, P, "Size", empty)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Part {
            part_number: required(part_number, P, "PartNumber")?,
            last_modified,
            etag: etag.map(ETag::from),
            size: required(size, P, "Size")?,
        })
    }
}

impl ListPartsResult {
    /// Parses a `ListParts` response body.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not `<ListPartsResult>`,
    /// a `Part` lacks `PartNumber` or `Size`, an element
    /// repeats, or a number or time is malformed.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        const ROOT: &str = "ListPartsResult";
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let mut out = ListPartsResult::default();
        let mut is_truncated = None;
        de.children(ROOT, empty, |de, name, empty| {
            match name {
                "Bucket" => de.string_into(&mut out.bucket, ROOT, "Bucket", empty)?,
                "Key" => de.string_into(&mut out.key, ROOT, "Key", empty)?,
                "UploadId" => de.string_into(&mut out.upload_id, ROOT, "UploadId", empty)?,
                "PartNumberMarker" => {
                    de.u32_into(&mut out.part_number_marker, ROOT, "PartNumberMarker", empty)?
                }
                "NextPartNumberMarker" => {
                    de.u32_into(
                        &mut out.next_part_number_marker,
                        ROOT,
                        "NextPartNumberMarker",
                        empty,
                    )?;
                }
                "MaxParts" => de.u32_into(&mut out.max_parts, ROOT, "MaxParts", empty)?,
                "IsTruncated" => de.bool_into(&mut is_truncated, ROOT, "IsTruncated", empty)?,
                "StorageClass" => {
                    de.string_into(&mut out.storage_class, ROOT, "StorageClass", empty)?
                }
                "EncodingType" => {
                    de.string_into(&mut out.encoding_type, ROOT, "EncodingType", empty)?
                }
                "Part" => out.parts.push(Part::read(de, empty)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        de.finish()?;
        out.is_truncated = is_truncated.unwrap_or(false);
        if is_url_encoded(out.encoding_type.as_deref())? {
            url_decode_opt("Key", &mut out.key)?;
        }
        Ok(out)
    }
}

/// One `Upload` of a [`ListMultipartUploadsResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MultipartUpload {
    /// `Key` (required; url-decoded when the listing is url-encoded).
    pub key: String,
    /// `UploadId` (required).
    pub upload_id: String,
    /// `Initiated`: when the upload was created.
    pub initiated: Option<Timestamp>,
    /// `StorageClass`.
    pub storage_class: Option<String>,
}

/// The answer to `ListMultipartUploads` ([api]).
///
/// With `<EncodingType>url</EncodingType>`, `Key`, `Prefix`, `Delimiter`, `KeyMarker`,
/// `NextKeyMarker` and `CommonPrefixes/Prefix` are decoded here; upload ids never are.
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListMultipartUploadsResult {
    /// `Bucket`.
    pub bucket: Option<String>,
    /// `KeyMarker`: the key marker this page was asked with.
    pub key_marker: Option<String>,
    /// `UploadIdMarker`: the upload-id marker this page was asked with.
    pub upload_id_marker: Option<String>,
    /// `NextKeyMarker`: the key marker for the next page.
    pub next_key_marker: Option<String>,
    /// `NextUploadIdMarker`: the upload-id marker for the next page.
    pub next_upload_id_marker: Option<String>,
    /// `Prefix`.
    pub prefix: Option<String>,
    /// `Delimiter`.
    pub delimiter: Option<String>,
    /// `MaxUploads`.
    pub max_uploads: Option<u32>,
    /// `IsTruncated` (required).
    pub is_truncated: bool,
    /// `EncodingType`.
    pub encoding_type: Option<String>,
    /// The uploads of this page.
    pub uploads: Vec<MultipartUpload>,
    /// `CommonPrefixes/Prefix`.
    pub common_prefixes: Vec<String>,
}

impl MultipartUpload {
    fn read(de: &mut Deserializer<'_>, empty: bool) -> Result<Self, XmlError> {
        const P: &str = "Upload";
        let (mut key, mut upload_id, mut initiated, mut storage_class) = (None, None, None, None);
        de.children(P, empty, |de, name, empty| {
            match name {
                "Key" => de.string_into(&mut key, P, "Key", empty)?,
                "UploadId" => de.string_into(&mut upload_id, P, "UploadId", empty)?,
                "Initiated" => de.time_into(&mut initiated, P, "Initiated", empty)?,
                "StorageClass" => de.string_into(&mut storage_class, P, "StorageClass", empty)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(MultipartUpload {
            key: required(key, P, "Key")?,
            upload_id: required(upload_id, P, "UploadId")?,
            initiated,
            storage_class,
        })
    }
}

impl ListMultipartUploadsResult {
    /// Parses a `ListMultipartUploads` response body.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not
    /// `<ListMultipartUploadsResult>`, `IsTruncated` is missing, an `Upload` lacks `Key` or
    /// `UploadId`, an element repeats, a number or time is malformed, or a url-encoded field
    /// cannot be decoded.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        const ROOT: &str = "ListMultipartUploadsResult";
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let mut out = ListMultipartUploadsResult::default();
        let mut is_truncated = None;
        de.children(ROOT, empty, |de, name, empty| {
            match name {
                "Bucket" => de.string_into(&mut out.bucket, ROOT, "Bucket", empty)?,
                "KeyMarker" => de.string_into(&mut out.key_marker, ROOT, "KeyMarker", empty)?,
                "UploadIdMarker" => {
                    de.string_into(&mut out.upload_id_marker, ROOT, "UploadIdMarker", empty)?
                }
                "NextKeyMarker" => {
                    de.string_into(&mut out.next_key_marker, ROOT, "NextKeyMarker", empty)?
                }
                "NextUploadIdMarker" => {
                    de.string_into(
                        &mut out.next_upload_id_marker,
                        ROOT,
                        "NextUploadIdMarker",
                        empty,
                    )?;
                }
                "Prefix" => de.string_into(&mut out.prefix, ROOT, "Prefix", empty)?,
                "Delimiter" => de.string_into(&mut out.delimiter, ROOT, "Delimiter", empty)?,
                "MaxUploads" => de.u32_into(&mut out.max_uploads, ROOT, "MaxUploads", empty)?,
                "IsTruncated" => de.bool_into(&mut is_truncated, ROOT, "IsTruncated", empty)?,
                "EncodingType" => {
                    de.string_into(&mut out.encoding_type, ROOT, "EncodingType", empty)?
                }
                "Upload" => out.uploads.push(MultipartUpload::read(de, empty)?),
                "CommonPrefixes" => read_common_prefixes(de, empty, &mut out.common_prefixes)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        de.finish()?;
        out.is_truncated = required(is_truncated, ROOT, "IsTruncated")?;
        if is_url_encoded(out.encoding_type.as_deref())? {
            url_decode_opt("KeyMarker", &mut out.key_marker)?;
            url_decode_opt("NextKeyMarker", &mut out.next_key_marker)?;
            url_decode_opt("Prefix", &mut out.prefix)?;
            url_decode_opt("Delimiter", &mut out.delimiter)?;
            for upload in &mut out.uploads {
                url_decode_in_place("Key", &mut upload.key)?;
            }
            for prefix in &mut out.common_prefixes {
                url_decode_in_place("Prefix", prefix)?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_completion_etag_is_unknown() {
        // Ceph RGW 16's answer.
        let body = b"<CompleteMultipartUploadResult><Location>http://h/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>";
        let r = CompleteMultipartUploadResult::parse(body).unwrap();
        assert_eq!(r.etag, None);
        assert_eq!(r.key.as_deref(), Some("k"));
        let body = b"<CompleteMultipartUploadResult><ETag>\"abc-2\"</ETag></CompleteMultipartUploadResult>";
        assert_eq!(
            CompleteMultipartUploadResult::parse(body).unwrap().etag,
            Some(ETag::new("\"abc-2\""))
        );
    }

    fn part(part_number: u32, etag: &str) -> CompletedPart {
        CompletedPart {
            part_number,
            etag: ETag::new(etag),
        }
    }

    #[test]
    fn complete_sorts_parts_and_keeps_etags() {
        let body = CompleteMultipartUpload {
            parts: vec![part(3, "\"c\""), part(1, "\"a&b\""), part(2, "bare")],
        }
        .to_xml()
        .unwrap();
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Part><PartNumber>1</PartNumber><ETag>\"a&amp;b\"</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>bare</ETag></Part>\
             <Part><PartNumber>3</PartNumber><ETag>\"c\"</ETag></Part>\
             </CompleteMultipartUpload>"
        );
    }

    #[test]
    fn complete_rejects_bad_part_lists() {
        let bad = [
            vec![],
            vec![part(0, "x")],
            vec![part(MAX_PART_NUMBER + 1, "x")],
            vec![part(2, "x"), part(1, "y"), part(2, "z")],
        ];
        for parts in bad {
            let err = CompleteMultipartUpload {
                parts: parts.clone(),
            }
            .to_xml()
            .unwrap_err();
            assert!(
                matches!(err, XmlError::InvalidRequest { .. }),
                "{parts:?}: {err}"
            );
        }
        let err = CompleteMultipartUpload {
            parts: vec![part(1, "\u{1}")],
        }
        .to_xml()
        .unwrap_err();
        assert!(matches!(
            err,
            XmlError::Unrepresentable { field: "ETag", .. }
        ));
        assert!(CompleteMultipartUpload {
            parts: vec![part(MAX_PART_NUMBER, "x"), part(1, "y")]
        }
        .to_xml()
        .is_ok());
    }

    #[test]
    fn initiate_requires_a_non_empty_upload_id() {
        let missing =
            InitiateMultipartUploadResult::parse(b"<InitiateMultipartUploadResult/>").unwrap_err();
        assert!(matches!(
            missing,
            XmlError::MissingField {
                field: "UploadId",
                ..
            }
        ));
        let empty = InitiateMultipartUploadResult::parse(
            b"<InitiateMultipartUploadResult><UploadId/></InitiateMultipartUploadResult>",
        )
        .unwrap_err();
        assert!(matches!(
            empty,
            XmlError::InvalidValue {
                field: "UploadId",
                ..
            }
        ));
    }

    #[test]
    fn list_parts_empty_markers_read_as_none() {
        let page = ListPartsResult::parse(
            b"<ListPartsResult><PartNumberMarker/><NextPartNumberMarker></NextPartNumberMarker>\
              <IsTruncated>false</IsTruncated></ListPartsResult>",
        )
        .unwrap();
        assert_eq!(page.part_number_marker, None);
        assert_eq!(page.next_part_number_marker, None);
        assert!(page.parts.is_empty());
    }
}
