//! `DeleteObjects`: the `<Delete>` request body and the `<DeleteResult>` answer.

use super::de::{required, Deserializer};
use super::error::XmlError;
use super::ser::Writer;

/// The most keys one `DeleteObjects` request may name.
pub const MAX_DELETE_OBJECTS: usize = 1000;

/// One object named in a [`Delete`] request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectIdentifier {
    /// `Key`: the object key (never empty).
    pub key: String,
    /// `VersionId`: a specific version to delete.
    pub version_id: Option<String>,
}

/// The `DeleteObjects` request body ([api]):
/// `<Delete><Quiet>..</Quiet><Object><Key>..</Key><VersionId>..</VersionId></Object>..</Delete>`.
///
/// S3 also requires a `Content-MD5` (or checksum) header on this request; that is the
/// client's job.
///
/// # Keys XML cannot carry
///
/// Keys are XML-escaped; tab, line feed and carriage return are written as character
/// references (`&#9;`, `&#10;`, `&#13;`, as the AWS documentation shows for `\r`). XML 1.0
/// cannot carry the other C0 control characters (U+0001..U+0008, U+000B, U+000C,
/// U+000E..U+001F), U+0000, U+FFFE or U+FFFF at all, not even as character references, so
/// [`Delete::to_xml`] refuses such a key with [`XmlError::Unrepresentable`]; the caller must
/// delete that object with a single `DeleteObject` (the key travels in the URL path).
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delete {
    /// `Quiet`: when true, the answer lists only failures.
    pub quiet: bool,
    /// The objects to delete, at most [`MAX_DELETE_OBJECTS`].
    pub objects: Vec<ObjectIdentifier>,
}

impl Delete {
    /// Writes the request body, objects in the given order.
    ///
    /// # Errors
    ///
    /// [`XmlError::InvalidRequest`] for no objects, more than [`MAX_DELETE_OBJECTS`], or an
    /// empty key; [`XmlError::Unrepresentable`] for a key or version id that XML 1.0 cannot
    /// carry (see the type docs).
    pub fn to_xml(&self) -> Result<String, XmlError> {
        const ROOT: &str = "Delete";
        if self.objects.is_empty() {
            return Err(XmlError::InvalidRequest {
                reason: "DeleteObjects needs at least one key".into(),
            });
        }
        if self.objects.len() > MAX_DELETE_OBJECTS {
            return Err(XmlError::InvalidRequest {
                reason: format!(
                    "DeleteObjects takes at most {MAX_DELETE_OBJECTS} keys, got {}; split the batch",
                    self.objects.len()
                ),
            });
        }
        let mut w = Writer::new(ROOT);
        w.leaf("Quiet", if self.quiet { "true" } else { "false" })?;
        for object in &self.objects {
            if object.key.is_empty() {
                return Err(XmlError::InvalidRequest {
                    reason: "an object key is empty".into(),
                });
            }
            w.open("Object");
            w.leaf("Key", &object.key)?;
            if let Some(version_id) = &object.version_id {
                w.leaf("VersionId", version_id)?;
            }
            w.close("Object");
        }
        Ok(w.finish(ROOT))
    }

    /// Parses a `DeleteObjects` request body (as a server or a test would). `Quiet` defaults
    /// to false; conditional-delete elements (`ETag`, `LastModifiedTime`, `Size`) are skipped.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not `<Delete>`, `Quiet` is not a
    /// boolean, or an `Object` lacks or repeats `Key`.
    #[cfg(any(test, feature = "__internals"))]
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        const ROOT: &str = "Delete";
        const P: &str = "Object";
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let mut quiet = None;
        let mut objects = Vec::new();
        de.children(ROOT, empty, |de, name, empty| {
            match name {
                "Quiet" => de.bool_into(&mut quiet, ROOT, "Quiet", empty)?,
                "Object" => {
                    let (mut key, mut version_id) = (None, None);
                    de.children(P, empty, |de, name, empty| {
                        match name {
                            "Key" => de.string_into(&mut key, P, "Key", empty)?,
                            "VersionId" => {
                                de.string_into(&mut version_id, P, "VersionId", empty)?
                            }
                            _ => return Ok(false),
                        }
                        Ok(true)
                    })?;
                    objects.push(ObjectIdentifier {
                        key: required(key, P, "Key")?,
                        version_id,
                    });
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        de.finish()?;
        Ok(Delete {
            quiet: quiet.unwrap_or(false),
            objects,
        })
    }
}

/// A `Deleted` entry of a [`DeleteResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletedObject {
    /// `Key` (required).
    pub key: String,
    /// `VersionId`: the version deleted.
    pub version_id: Option<String>,
    /// `DeleteMarker`: true when a delete marker was created or removed (absent is false).
    pub delete_marker: bool,
    /// `DeleteMarkerVersionId`: the version id of that delete marker.
    pub delete_marker_version_id: Option<String>,
}

/// An `Error` entry of a [`DeleteResult`]: one key that was not deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteError {
    /// `Key` (required).
    pub key: String,
    /// `Code` (required), e.g. `AccessDenied`.
    pub code: String,
    /// `Message`.
    pub message: Option<String>,
    /// `VersionId`.
    pub version_id: Option<String>,
}

/// The answer to `DeleteObjects` ([api]). A `200 OK` may also carry an `<Error>` document
/// for the whole request (for example `MalformedXML`): the client checks for one first
/// (with the crate-private `parse_error_body`), and [`DeleteResult::parse`] rejects an
/// `<Error>` root with [`XmlError::WrongRoot`](crate::xml::XmlError::WrongRoot).
///
/// [api]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DeleteResult {
    /// Keys deleted (omitted by the server in quiet mode).
    pub deleted: Vec<DeletedObject>,
    /// Keys not deleted, with the reason.
    pub errors: Vec<DeleteError>,
}

impl DeletedObject {
    fn read(de: &mut Deserializer<'_>, empty: bool) -> Result<Self, XmlError> {
        const P: &str = "Deleted";
        let (mut key, mut version_id, mut marker, mut marker_version) = (None, None, None, None);
        de.children(P, empty, |de, name, empty| {
            match name {
                "Key" => de.string_into(&mut key, P, "Key", empty)?,
                "VersionId" => de.string_into(&mut version_id, P, "VersionId", empty)?,
                "DeleteMarker" => de.bool_into(&mut marker, P, "DeleteMarker", empty)?,
                "DeleteMarkerVersionId" => {
                    de.string_into(&mut marker_version, P, "DeleteMarkerVersionId", empty)?;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(DeletedObject {
            key: required(key, P, "Key")?,
            version_id,
            delete_marker: marker.unwrap_or(false),
            delete_marker_version_id: marker_version,
        })
    }
}

impl DeleteError {
    fn read(de: &mut Deserializer<'_>, empty: bool) -> Result<Self, XmlError> {
        const P: &str = "Error";
        let (mut key, mut code, mut message, mut version_id) = (None, None, None, None);
        de.children(P, empty, |de, name, empty| {
            match name {
                "Key" => de.string_into(&mut key, P, "Key", empty)?,
                "Code" => de.string_into(&mut code, P, "Code", empty)?,
                "Message" => de.string_into(&mut message, P, "Message", empty)?,
                "VersionId" => de.string_into(&mut version_id, P, "VersionId", empty)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(DeleteError {
            key: required(key, P, "Key")?,
            code: required(code, P, "Code")?,
            message,
            version_id,
        })
    }
}

impl DeleteResult {
    /// Parses a `DeleteObjects` response body.
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, its root is not `<DeleteResult>`, a
    /// `Deleted` lacks `Key`, an `Error` lacks `Key` or `Code`, or an element repeats.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        const ROOT: &str = "DeleteResult";
        let mut de = Deserializer::new(body);
        let empty = de.expect_root(ROOT)?;
        let mut out = DeleteResult::default();
        de.children(ROOT, empty, |de, name, empty| {
            match name {
                "Deleted" => out.deleted.push(DeletedObject::read(de, empty)?),
                "Error" => out.errors.push(DeleteError::read(de, empty)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        de.finish()?;
        Ok(out)
    }
}
