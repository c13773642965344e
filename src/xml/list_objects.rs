//! `ListBucketResult`: the answer to `ListObjectsV2` and `ListObjects` (V1).
//!
//! [api-v2]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
//! [api-v1]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html

use super::de::{required, set_once, Deserializer};
use super::encoding::{is_url_encoded, url_decode_in_place, url_decode_opt};
use super::error::XmlError;
use super::etag::ETag;
use super::time::Timestamp;

const ROOT: &str = "ListBucketResult";

/// One page of a bucket listing, from `ListObjectsV2` ([api-v2]) or `ListObjects` ([api-v1]).
///
/// V2 answers fill `key_count`, `continuation_token`, `next_continuation_token` and
/// `start_after`; V1 answers fill `marker` and `next_marker`. When the server says
/// `<EncodingType>url</EncodingType>`, every key-like field (`Key`, `Prefix`, `Delimiter`,
/// `StartAfter`, `Marker`, `NextMarker`, `CommonPrefixes/Prefix`) is already decoded here;
/// see [`crate::xml`] for the rules. An empty element such as `<Prefix/>` reads as
/// `Some("")`.
///
/// [api-v2]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
/// [api-v1]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListBucketResult {
    /// `Name`: the bucket.
    pub name: Option<String>,
    /// `Prefix`: the prefix the listing was limited to.
    pub prefix: Option<String>,
    /// `Delimiter`: the delimiter that grouped keys into `common_prefixes`.
    pub delimiter: Option<String>,
    /// `MaxKeys`: the page size the server applied.
    pub max_keys: Option<u32>,
    /// `KeyCount` (V2): keys plus common prefixes in this page.
    pub key_count: Option<u32>,
    /// `IsTruncated` (required): whether more pages follow.
    pub is_truncated: bool,
    /// `ContinuationToken` (V2): the token this page was asked with.
    pub continuation_token: Option<String>,
    /// `NextContinuationToken` (V2): the token for the next page, when truncated.
    pub next_continuation_token: Option<String>,
    /// `StartAfter` (V2): the key the listing started after.
    pub start_after: Option<String>,
    /// `Marker` (V1): the key the listing started after.
    pub marker: Option<String>,
    /// `NextMarker` (V1): the marker for the next page; S3 sends it only with a delimiter,
    /// see [`ListBucketResult::next_marker_v1`].
    pub next_marker: Option<String>,
    /// `EncodingType`: `url` when key-like fields were url-encoded (already decoded here).
    pub encoding_type: Option<String>,
    /// `Contents`: the objects of this page, in the server's order.
    pub contents: Vec<Object>,
    /// `CommonPrefixes/Prefix`: the grouped prefixes of this page.
    pub common_prefixes: Vec<String>,
}

/// One `Contents` entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Object {
    /// `Key` (required): the object key.
    pub key: String,
    /// `LastModified` (required).
    pub last_modified: Timestamp,
    /// `ETag`, as sent (quoted by S3).
    pub etag: Option<ETag>,
    /// `Size` (required): the object size in bytes.
    pub size: u64,
    /// `StorageClass`, e.g. `STANDARD`.
    pub storage_class: Option<String>,
    /// `Owner`, sent by V1 and by V2 with `fetch-owner=true`.
    pub owner: Option<Owner>,
}

/// An `Owner` (or `Initiator`) element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Owner {
    /// `ID`: the canonical user id.
    pub id: Option<String>,
    /// `DisplayName` (AWS stopped sending it in 2025).
    pub display_name: Option<String>,
}

impl Owner {
    pub(crate) fn read(
        de: &mut Deserializer<'_>,
        parent: &'static str,
        empty: bool,
    ) -> Result<Self, XmlError> {
        let mut owner = Owner::default();
        de.children(parent, empty, |de, name, empty| {
            match name {
                "ID" => de.string_into(&mut owner.id, parent, "ID", empty)?,
                "DisplayName" => {
                    de.string_into(&mut owner.display_name, parent, "DisplayName", empty)?
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(owner)
    }
}

impl Object {
    fn read(de: &mut Deserializer<'_>, empty: bool) -> Result<Self, XmlError> {
        const P: &str = "Contents";
        let mut key = None;
        let mut last_modified = None;
        let mut etag = None;
        let mut size = None;
        let mut storage_class = None;
        let mut owner = None;
        de.children(P, empty, |de, name, empty| {
            match name {
                "Key" => de.string_into(&mut key, P, "Key", empty)?,
                "LastModified" => de.time_into(&mut last_modified, P, "LastModified", empty)?,
                "ETag" => de.string_into(&mut etag, P, "ETag", empty)?,
                "Size" => de.u64_into(&mut size, P, "Size", empty)?,
                "StorageClass" => de.string_into(&mut storage_class, P, "StorageClass", empty)?,
                "Owner" => {
                    let value = Owner::read(de, "Owner", empty)?;
                    set_once(&mut owner, value, P, "Owner")?;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Object {
            key: required(key, P, "Key")?,
            last_modified: required(last_modified, P, "LastModified")?,
            etag: etag.map(ETag::from),
            size: required(size, P, "Size")?,
            storage_class,
            owner,
        })
    }
}

/// Reads one `CommonPrefixes` element, pushing each `Prefix` it holds (S3 sends one).
pub(crate) fn read_common_prefixes(
    de: &mut Deserializer<'_>,
    empty: bool,
    out: &mut Vec<String>,
) -> Result<(), XmlError> {
    de.children("CommonPrefixes", empty, |de, name, empty| {
        if name != "Prefix" {
            return Ok(false);
        }
        out.push(de.text("Prefix", empty)?);
        Ok(true)
    })
}

impl ListBucketResult {
    /// Parses a `ListObjectsV2` or `ListObjects` response body.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is not well-formed, its root is not `<ListBucketResult>`,
    /// `IsTruncated` is missing, a `Contents` lacks `Key`, `LastModified` or `Size`, a
    /// single-valued element repeats, a number or time is malformed, or a url-encoded field
    /// cannot be decoded.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let mut out = ListBucketResult::default();
        let mut is_truncated = None;
        de.children(ROOT, empty, |de, name, empty| {
            match name {
                "Name" => de.string_into(&mut out.name, ROOT, "Name", empty)?,
                "Prefix" => de.string_into(&mut out.prefix, ROOT, "Prefix", empty)?,
                "Delimiter" => de.string_into(&mut out.delimiter, ROOT, "Delimiter", empty)?,
                "MaxKeys" => de.u32_into(&mut out.max_keys, ROOT, "MaxKeys", empty)?,
                "KeyCount" => de.u32_into(&mut out.key_count, ROOT, "KeyCount", empty)?,
                "IsTruncated" => de.bool_into(&mut is_truncated, ROOT, "IsTruncated", empty)?,
                "ContinuationToken" => {
                    de.string_into(
                        &mut out.continuation_token,
                        ROOT,
                        "ContinuationToken",
                        empty,
                    )?;
                }
                "NextContinuationToken" => {
                    de.string_into(
                        &mut out.next_continuation_token,
                        ROOT,
                        "NextContinuationToken",
                        empty,
                    )?;
                }
                "StartAfter" => de.string_into(&mut out.start_after, ROOT, "StartAfter", empty)?,
                "Marker" => de.string_into(&mut out.marker, ROOT, "Marker", empty)?,
                "NextMarker" => de.string_into(&mut out.next_marker, ROOT, "NextMarker", empty)?,
                "EncodingType" => {
                    de.string_into(&mut out.encoding_type, ROOT, "EncodingType", empty)?
                }
                "Contents" => out.contents.push(Object::read(de, empty)?),
                "CommonPrefixes" => read_common_prefixes(de, empty, &mut out.common_prefixes)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        de.finish()?;
        out.is_truncated = required(is_truncated, ROOT, "IsTruncated")?;
        if is_url_encoded(out.encoding_type.as_deref())? {
            out.url_decode()?;
        }
        Ok(out)
    }

    fn url_decode(&mut self) -> Result<(), XmlError> {
        url_decode_opt("Prefix", &mut self.prefix)?;
        url_decode_opt("Delimiter", &mut self.delimiter)?;
        url_decode_opt("StartAfter", &mut self.start_after)?;
        url_decode_opt("Marker", &mut self.marker)?;
        url_decode_opt("NextMarker", &mut self.next_marker)?;
        for object in &mut self.contents {
            url_decode_in_place("Key", &mut object.key)?;
        }
        for prefix in &mut self.common_prefixes {
            url_decode_in_place("Prefix", prefix)?;
        }
        Ok(())
    }

    /// The `marker` to send for the next `ListObjects` (V1) page, or `None` when this page
    /// is the last.
    ///
    /// S3 sends `NextMarker` only when the request had a delimiter; otherwise the next
    /// marker is the last key of this page. This returns `NextMarker` when present, else the
    /// greatest of the last key and the last common prefix.
    #[must_use]
    pub fn next_marker_v1(&self) -> Option<&str> {
        if !self.is_truncated {
            return None;
        }
        if let Some(marker) = self.next_marker.as_deref().filter(|m| !m.is_empty()) {
            return Some(marker);
        }
        let last_key = self.contents.last().map(|o| o.key.as_str());
        let last_prefix = self.common_prefixes.last().map(String::as_str);
        last_key.max(last_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_page() {
        let page = ListBucketResult::parse(
            b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
        )
        .unwrap();
        assert_eq!(page, ListBucketResult::default());
    }

    #[test]
    fn is_truncated_is_required() {
        assert_eq!(
            ListBucketResult::parse(b"<ListBucketResult><Name>b</Name></ListBucketResult>")
                .unwrap_err(),
            XmlError::MissingField {
                parent: ROOT,
                field: "IsTruncated"
            }
        );
    }

    #[test]
    fn next_marker_v1_rules() {
        let object = |key: &str| Object {
            key: key.into(),
            last_modified: Timestamp::from_unix(0, 0),
            etag: None,
            size: 0,
            storage_class: None,
            owner: None,
        };
        let mut page = ListBucketResult {
            is_truncated: true,
            contents: vec![object("a"), object("c")],
            common_prefixes: vec!["b/".into()],
            ..ListBucketResult::default()
        };
        assert_eq!(page.next_marker_v1(), Some("c"));
        page.common_prefixes.push("d/".into());
        assert_eq!(page.next_marker_v1(), Some("d/"));
        page.next_marker = Some("z".into());
        assert_eq!(page.next_marker_v1(), Some("z"));
        page.is_truncated = false;
        assert_eq!(page.next_marker_v1(), None);
    }
}
