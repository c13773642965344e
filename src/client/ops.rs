use std::time::SystemTime;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use reqwest::Method;

use super::error::Error;
use super::s3::{body_error, read_limited, service_error, Request, S3Client, StreamPayload};
use crate::sign::{crypto, encode};
use crate::xml::{self, ETag};

/// Largest XML answer read into memory (a 1000-key listing is about 300 KiB).
const MAX_XML_BODY: usize = 16 * 1024 * 1024;

/// Server-side encryption for new objects (`encrypt`, `keyid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSideEncryption {
    /// `x-amz-server-side-encryption: AES256` (SSE-S3).
    Aes256,
    /// `aws:kms`, with an optional key id (`x-amz-server-side-encryption-aws-kms-key-id`).
    Kms(Option<String>),
}

/// Options for requests that create objects (PutObject, CopyObject, CreateMultipartUpload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// `Content-Type` (the driver always sends `application/octet-stream`).
    pub content_type: Option<String>,
    /// `x-amz-storage-class`; `None` omits the header.
    pub storage_class: Option<String>,
    /// `x-amz-acl` (canned ACL, e.g. `private`).
    pub acl: Option<String>,
    /// Server-side encryption.
    pub sse: Option<ServerSideEncryption>,
}

setters!(WriteOptions {
    /// Sets `Content-Type`.
    with_content_type => content_type: impl Into<String> as Some,
    /// Sets `x-amz-storage-class`.
    with_storage_class => storage_class: impl Into<String> as Some,
    /// Sets the canned ACL (`x-amz-acl`).
    with_acl => acl: impl Into<String> as Some,
    /// Sets server-side encryption.
    with_sse => sse: ServerSideEncryption as Some,
});

impl WriteOptions {
    fn apply(&self, mut req: Request) -> Request {
        if let Some(ct) = &self.content_type {
            req = req.header("content-type", ct.clone());
        }
        if let Some(class) = &self.storage_class {
            req = req.header("x-amz-storage-class", class.clone());
        }
        if let Some(acl) = &self.acl {
            req = req.header("x-amz-acl", acl.clone());
        }
        match &self.sse {
            None => {}
            Some(ServerSideEncryption::Aes256) => {
                req = req.header("x-amz-server-side-encryption", "AES256");
            }
            Some(ServerSideEncryption::Kms(key)) => {
                req = req.header("x-amz-server-side-encryption", "aws:kms");
                if let Some(key) = key {
                    req = req.header("x-amz-server-side-encryption-aws-kms-key-id", key.clone());
                }
            }
        }
        req
    }
}

/// What HeadObject (and GetObject) tell about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// `Content-Length` of the whole object (for a ranged GET: of the returned range).
    pub size: u64,
    /// `Last-Modified`.
    pub last_modified: Option<SystemTime>,
    /// `ETag`, as sent.
    pub etag: Option<ETag>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `x-amz-storage-class` (absent for STANDARD on AWS).
    pub storage_class: Option<String>,
}

impl ObjectMeta {
    fn from_headers(headers: &reqwest::header::HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Self {
            size: get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            last_modified: get("last-modified").and_then(|v| httpdate::parse_http_date(v).ok()),
            etag: get("etag").map(ETag::new),
            content_type: get("content-type").map(str::to_owned),
            storage_class: get("x-amz-storage-class").map(str::to_owned),
        }
    }
}

/// A byte range for GetObject: `start..` or `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive); `None` reads to the end.
    pub end: Option<u64>,
}

impl ByteRange {
    fn header(self) -> String {
        match self.end {
            Some(end) => format!("bytes={}-{end}", self.start),
            None => format!("bytes={}-", self.start),
        }
    }
}

/// The body of a GetObject answer, read as a stream of chunks.
#[derive(Debug)]
#[non_exhaustive]
pub struct GetObjectOutput {
    /// Headers of the answer (size is that of the returned range).
    pub meta: ObjectMeta,
    response: reqwest::Response,
}

impl GetObjectOutput {
    /// The next chunk of the body, `None` at the end.
    ///
    /// # Errors
    /// The connection failed while reading.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.response.chunk().await.map_err(body_error)
    }

    /// Reads the rest of the body into memory.
    ///
    /// # Errors
    /// The connection failed while reading.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        self.response.bytes().await.map_err(body_error)
    }

    /// The body as a stream of chunks (I/O errors as `std::io::Error`).
    pub fn into_stream(self) -> impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin {
        self.response
            .bytes_stream()
            .map_err(|e| std::io::Error::other(body_error(e)))
    }
}

/// One page of ListObjectsV2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListObjectsV2Request {
    /// Only keys that start with this.
    pub prefix: Option<String>,
    /// Group keys that share a prefix up to this string into common prefixes.
    pub delimiter: Option<String>,
    /// Page size (S3 caps it at 1000).
    pub max_keys: Option<u32>,
    /// `NextContinuationToken` of the previous page.
    pub continuation_token: Option<String>,
    /// Start after this key.
    pub start_after: Option<String>,
}

setters!(ListObjectsV2Request {
    /// Only keys that start with `value`.
    with_prefix => prefix: impl Into<String> as Some,
    /// Group keys into common prefixes up to `value`.
    with_delimiter => delimiter: impl Into<String> as Some,
    /// Page size (S3 caps it at 1000).
    with_max_keys => max_keys: u32 as Some,
    /// Continue after the page that gave this `NextContinuationToken`.
    with_continuation_token => continuation_token: impl Into<String> as Some,
    /// Start after this key.
    with_start_after => start_after: impl Into<String> as Some,
});

/// The pages of a ListObjectsV2 listing ([`S3Client::list_objects_v2_pages`]): each
/// [`next_page`](Self::next_page) sends one request with the previous page's
/// `NextContinuationToken`, until a page is not truncated. A server that answers a
/// truncated page without a new token (the same one again, or none) ends the listing with
/// an error instead of looping or silently stopping short.
#[derive(Debug)]
pub struct ListObjectsV2Pages {
    client: S3Client,
    request: ListObjectsV2Request,
    done: bool,
}

impl ListObjectsV2Pages {
    /// The next page, or `None` after the last one.
    ///
    /// # Errors
    /// Service and transport errors (the same page can be asked for again by calling this
    /// again), and a truncated page without a usable continuation token.
    pub async fn next_page(&mut self) -> Result<Option<xml::ListBucketResult>, Error> {
        if self.done {
            return Ok(None);
        }
        let page = self.client.list_objects_v2(&self.request).await?;
        if !page.is_truncated {
            self.done = true;
            return Ok(Some(page));
        }
        match page.next_continuation_token.as_deref() {
            Some(t) if !t.is_empty() && Some(t) != self.request.continuation_token.as_deref() => {
                self.request.continuation_token = Some(t.to_owned());
                self.request.start_after = None;
                Ok(Some(page))
            }
            _ => {
                self.done = true;
                Err(Error::decode(
                    "the server answered a truncated ListObjectsV2 page without a new \
                     NextContinuationToken; the listing cannot go on (is this server's ListObjectsV2 \
                     complete? the client retries nothing here)",
                    None,
                )
                .with_operation("ListObjectsV2"))
            }
        }
    }

    /// The pages as a [`Stream`]; it ends after the last page or the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<xml::ListBucketResult, Error>> + Send {
        futures_util::stream::try_unfold(self, |mut pages| async move {
            Ok(pages.next_page().await?.map(|page| (page, pages)))
        })
    }
}

impl S3Client {
    /// [HeadObject](https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
    ///
    /// # Errors
    /// [`Error::is_not_found`] when the key does not exist.
    pub async fn head_object(&self, key: &str) -> Result<ObjectMeta, Error> {
        let resp = self
            .send(Request::new("HeadObject", Method::HEAD, Some(key)))
            .await?;
        Ok(ObjectMeta::from_headers(resp.headers()))
    }

    /// [GetObject](https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html), whole or
    /// a range; the body is streamed.
    ///
    /// # Errors
    /// [`Error::is_not_found`] for a missing key; code `InvalidRange` for a range past the end.
    pub async fn get_object(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<GetObjectOutput, Error> {
        let mut req = Request::new("GetObject", Method::GET, Some(key));
        if let Some(r) = range {
            req = req.header("range", r.header());
        }
        let response = self.send(req).await?;
        Ok(GetObjectOutput {
            meta: ObjectMeta::from_headers(response.headers()),
            response,
        })
    }

    /// [PutObject](https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html) of an
    /// in-memory body. Returns the ETag. The body's integrity is checked by S3 through the
    /// signed SHA-256 (SigV4), or through `Content-MD5` when the payload is not hashed into the
    /// signature (SigV2, unsigned payloads).
    ///
    /// # Errors
    /// Service and transport errors (retried where safe).
    pub async fn put_object(
        &self,
        key: &str,
        body: Bytes,
        opts: &WriteOptions,
    ) -> Result<ETag, Error> {
        let req = self.integrity(Request::new("PutObject", Method::PUT, Some(key)), &body);
        let resp = self.send(opts.apply(req.body(body))).await?;
        Ok(etag_of(&resp))
    }

    /// PutObject of a streamed body of exactly `length` bytes. SigV4 sends it as
    /// `UNSIGNED-PAYLOAD`, or aws-chunked with signed chunks when the client's
    /// [`PayloadSigning`](super::PayloadSigning) is `SignedChunked`. Sent once (not retried).
    ///
    /// # Errors
    /// Service and transport errors; a stream error aborts the request.
    pub async fn put_object_stream<S>(
        &self,
        key: &str,
        body: S,
        length: u64,
        opts: &WriteOptions,
    ) -> Result<ETag, Error>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        if length == 0 {
            // Nothing to stream: a plain signed PUT of an empty body (Ceph RGW refuses an
            // aws-chunked request without chunk data: 400 XAmzContentSHA256Mismatch).
            super::body::ensure_empty(body).await.map_err(|e| {
                Error::transport(super::TransportErrorKind::Other, e).with_operation("PutObject")
            })?;
            return self.put_object(key, Bytes::new(), opts).await;
        }
        let req = opts.apply(Request::new("PutObject", Method::PUT, Some(key)));
        let chunked = self.inner.signature == super::SignatureVersion::V4
            && self.inner.payload_signing == super::PayloadSigning::SignedChunked;
        let resp = if chunked {
            let (body, payload) = super::body::aws_chunked(body, length);
            let req = req.header("content-encoding", "aws-chunked");
            self.send_stream(req, body, payload).await?
        } else {
            let req = req.header("content-length", length.to_string());
            self.send_stream(
                req,
                super::body::exact_length(body, length),
                StreamPayload::Unsigned,
            )
            .await?
        };
        Ok(etag_of(&resp))
    }

    /// [DeleteObject](https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html).
    /// Deleting a missing key succeeds (S3 semantics).
    ///
    /// # Errors
    /// Service and transport errors.
    pub async fn delete_object(&self, key: &str) -> Result<(), Error> {
        self.send(Request::new("DeleteObject", Method::DELETE, Some(key)))
            .await?;
        Ok(())
    }

    /// [DeleteObjects](https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html) of
    /// at most 1000 keys (non-quiet, so every key is reported), with the `Content-MD5` that
    /// S3 and MinIO require.
    ///
    /// # Errors
    /// More than 1000 keys; service and transport errors. Per-key failures are in
    /// [`xml::DeleteResult::errors`].
    pub async fn delete_objects(&self, keys: &[String]) -> Result<xml::DeleteResult, Error> {
        if keys.len() > xml::MAX_DELETE_OBJECTS {
            return Err(Error::invalid_config(format!(
                "DeleteObjects takes at most {} keys, got {}: split the batch",
                xml::MAX_DELETE_OBJECTS,
                keys.len()
            )));
        }
        let doc = xml::Delete {
            quiet: false,
            objects: keys
                .iter()
                .map(|k| xml::ObjectIdentifier {
                    key: k.clone(),
                    version_id: None,
                })
                .collect(),
        };
        let body = Bytes::from(doc.to_xml().map_err(decode_err)?);
        let req = Request::new("DeleteObjects", Method::POST, None)
            .query("delete", "")
            .header("content-md5", content_md5(&body))
            .header("content-type", "application/xml")
            .body(body);
        let body = self.send_read(req).await?;
        xml::DeleteResult::parse(&body).map_err(decode_err)
    }

    /// [CopyObject](https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html) within
    /// the bucket (objects up to 5 GiB).
    ///
    /// # Errors
    /// Service errors, including a `200 OK` carrying an `<Error>` document.
    pub async fn copy_object(
        &self,
        src_key: &str,
        dst_key: &str,
        opts: &WriteOptions,
    ) -> Result<xml::CopyObjectResult, Error> {
        let req = Request::new("CopyObject", Method::PUT, Some(dst_key))
            .header("x-amz-copy-source", self.copy_source(src_key))
            .header("x-amz-metadata-directive", "REPLACE");
        let body = self.send_read_checked(opts.apply(req)).await?;
        xml::CopyObjectResult::parse(&body).map_err(decode_err)
    }

    /// [CreateMultipartUpload](https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html);
    /// returns the upload id.
    ///
    /// # Errors
    /// Service and transport errors.
    pub async fn create_multipart_upload(
        &self,
        key: &str,
        opts: &WriteOptions,
    ) -> Result<String, Error> {
        let req =
            Request::new("CreateMultipartUpload", Method::POST, Some(key)).query("uploads", "");
        let body = self.send_read(opts.apply(req)).await?;
        Ok(xml::InitiateMultipartUploadResult::parse(&body)
            .map_err(decode_err)?
            .upload_id)
    }

    /// [UploadPart](https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html) of an
    /// in-memory part, with `Content-MD5`; returns the part's ETag.
    ///
    /// # Errors
    /// Service and transport errors (retried: the part is in memory).
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> Result<ETag, Error> {
        let req = Request::new("UploadPart", Method::PUT, Some(key))
            .query("partNumber", part_number.to_string())
            .query("uploadId", upload_id);
        let req = self.integrity(req, &body).body(body);
        let resp = self.send(req).await?;
        Ok(etag_of(&resp))
    }

    /// [UploadPartCopy](https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html):
    /// part `part_number` is copied from `src_key` (the whole object, or the inclusive byte
    /// range `range`).
    ///
    /// # Errors
    /// Service errors, including a `200 OK` carrying an `<Error>` document.
    pub async fn upload_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        src_key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<xml::CopyPartResult, Error> {
        let mut req = Request::new("UploadPartCopy", Method::PUT, Some(key))
            .query("partNumber", part_number.to_string())
            .query("uploadId", upload_id)
            .header("x-amz-copy-source", self.copy_source(src_key));
        if let Some((first, last)) = range {
            req = req.header("x-amz-copy-source-range", format!("bytes={first}-{last}"));
        }
        let body = self.send_read_checked(req).await?;
        xml::CopyPartResult::parse(&body).map_err(decode_err)
    }

    /// [CompleteMultipartUpload](https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).
    ///
    /// # Errors
    /// No parts; service errors, including a `200 OK` carrying an `<Error>` document.
    pub async fn complete_multipart_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[xml::CompletedPart],
    ) -> Result<xml::CompleteMultipartUploadResult, Error> {
        let doc = xml::CompleteMultipartUpload {
            parts: parts.to_vec(),
        };
        let body = Bytes::from(doc.to_xml().map_err(decode_err)?);
        let req = Request::new("CompleteMultipartUpload", Method::POST, Some(key))
            .query("uploadId", upload_id)
            .header("content-type", "application/xml")
            .body(body);
        let body = self.send_read_checked(req).await?;
        xml::CompleteMultipartUploadResult::parse(&body).map_err(decode_err)
    }

    /// [AbortMultipartUpload](https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html).
    ///
    /// # Errors
    /// Service and transport errors ([`Error::is_not_found`] for an unknown upload).
    pub async fn abort_multipart_upload(&self, key: &str, upload_id: &str) -> Result<(), Error> {
        let req = Request::new("AbortMultipartUpload", Method::DELETE, Some(key))
            .query("uploadId", upload_id);
        self.send(req).await?;
        Ok(())
    }

    /// One page of [ListParts](https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html).
    ///
    /// # Errors
    /// Service and transport errors.
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
        part_number_marker: Option<u32>,
        max_parts: Option<u32>,
    ) -> Result<xml::ListPartsResult, Error> {
        let mut req =
            Request::new("ListParts", Method::GET, Some(key)).query("uploadId", upload_id);
        if let Some(m) = part_number_marker {
            req = req.query("part-number-marker", m.to_string());
        }
        if let Some(m) = max_parts {
            req = req.query("max-parts", m.to_string());
        }
        let body = self.send_read(req).await?;
        xml::ListPartsResult::parse(&body).map_err(decode_err)
    }

    /// Every part of an upload, following `NextPartNumberMarker`, sorted by part number.
    ///
    /// # Errors
    /// As [`S3Client::list_parts`]; a server whose marker does not advance is an error, not
    /// an endless loop.
    pub async fn list_all_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<xml::Part>, Error> {
        self.list_all_parts_paged(key, upload_id, None).await
    }

    /// [`S3Client::list_all_parts`] asking for at most `max_parts` parts a page (`None`: the
    /// server's default, 1000 on S3).
    ///
    /// # Errors
    /// As [`S3Client::list_all_parts`].
    pub async fn list_all_parts_paged(
        &self,
        key: &str,
        upload_id: &str,
        max_parts: Option<u32>,
    ) -> Result<Vec<xml::Part>, Error> {
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let page = self.list_parts(key, upload_id, marker, max_parts).await?;
            parts.extend(page.parts);
            if !page.is_truncated {
                break;
            }
            let next = page.next_part_number_marker;
            if next.is_none() || next == marker {
                return Err(Error::decode(
                    "ListParts is truncated but its NextPartNumberMarker does not advance",
                    None,
                ));
            }
            marker = next;
        }
        crate::sort::sort_by_key(&mut parts, |p| p.part_number);
        parts.dedup_by_key(|p| p.part_number);
        Ok(parts)
    }

    /// One page of [ListMultipartUploads](https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html).
    ///
    /// # Errors
    /// Service and transport errors.
    pub async fn list_multipart_uploads(
        &self,
        prefix: &str,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
    ) -> Result<xml::ListMultipartUploadsResult, Error> {
        let mut req = Request::new("ListMultipartUploads", Method::GET, None)
            .query("uploads", "")
            .query("prefix", prefix)
            .query("encoding-type", "url");
        if let Some(m) = key_marker {
            req = req.query("key-marker", m);
        }
        if let Some(m) = upload_id_marker {
            req = req.query("upload-id-marker", m);
        }
        let body = self.send_read(req).await?;
        let mut page = xml::ListMultipartUploadsResult::parse(&body).map_err(decode_err)?;
        // Only uploads after the markers: a key-marker alone skips that key's uploads, with an
        // upload-id-marker that key's uploads up to the marker (Ceph RGW 16 lists the marker
        // key's uploads again when only key-marker is given).
        if let Some(km) = key_marker {
            page.uploads.retain(|u| match upload_id_marker {
                None => u.key.as_str() > km,
                Some(im) => u.key.as_str() > km || (u.key == km && u.upload_id.as_str() > im),
            });
        }
        Ok(page)
    }

    /// One page of [ListObjectsV2](https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html)
    /// (keys requested url-encoded and decoded by the codec).
    ///
    /// # Errors
    /// Service and transport errors.
    pub async fn list_objects_v2(
        &self,
        params: &ListObjectsV2Request,
    ) -> Result<xml::ListBucketResult, Error> {
        let mut req = Request::new("ListObjectsV2", Method::GET, None)
            .query("list-type", "2")
            .query("encoding-type", "url");
        let opt = [
            ("prefix", params.prefix.as_deref()),
            ("delimiter", params.delimiter.as_deref()),
            ("continuation-token", params.continuation_token.as_deref()),
            ("start-after", params.start_after.as_deref()),
        ];
        for (name, value) in opt {
            if let Some(v) = value {
                req = req.query(name, v);
            }
        }
        if let Some(m) = params.max_keys {
            req = req.query("max-keys", m.to_string());
        }
        let body = self.send_read(req).await?;
        xml::ListBucketResult::parse(&body).map_err(decode_err)
    }

    /// Every page of a ListObjectsV2 listing, one request per page, starting at
    /// `request` (its `continuation_token` resumes a listing). See [`ListObjectsV2Pages`].
    ///
    /// ```no_run
    /// # async fn demo(client: s3driver::client::S3Client) -> Result<(), s3driver::client::Error> {
    /// use s3driver::client::ListObjectsV2Request;
    ///
    /// let mut pages =
    ///     client.list_objects_v2_pages(ListObjectsV2Request::default().with_prefix("photos/"));
    /// while let Some(page) = pages.next_page().await? {
    ///     for object in page.contents {
    ///         println!("{} {} bytes", object.key, object.size);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_objects_v2_pages(&self, request: ListObjectsV2Request) -> ListObjectsV2Pages {
        ListObjectsV2Pages {
            client: self.clone(),
            request,
            done: false,
        }
    }

    /// One page of [ListObjects](https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html)
    /// (V1), for servers without V2.
    ///
    /// # Errors
    /// Service and transport errors.
    pub async fn list_objects_v1(
        &self,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        marker: Option<&str>,
        max_keys: Option<u32>,
    ) -> Result<xml::ListBucketResult, Error> {
        let mut req = Request::new("ListObjects", Method::GET, None).query("encoding-type", "url");
        for (name, value) in [
            ("prefix", prefix),
            ("delimiter", delimiter),
            ("marker", marker),
        ] {
            if let Some(v) = value {
                req = req.query(name, v);
            }
        }
        if let Some(m) = max_keys {
            req = req.query("max-keys", m.to_string());
        }
        let body = self.send_read(req).await?;
        xml::ListBucketResult::parse(&body).map_err(decode_err)
    }

    /// [GetBucketLocation](https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html):
    /// the bucket's region (`us-east-1` for an empty constraint).
    ///
    /// # Errors
    /// Service and transport errors.
    pub async fn get_bucket_location(&self) -> Result<String, Error> {
        let req = Request::new("GetBucketLocation", Method::GET, None).query("location", "");
        let body = self.send_read(req).await?;
        Ok(xml::LocationConstraint::parse(&body)
            .map_err(decode_err)?
            .region)
    }

    /// Adds `Content-MD5` when the signature does not already cover the body's SHA-256:
    /// hashing a part twice costs about a third of an upload's CPU.
    fn integrity(&self, req: Request, body: &[u8]) -> Request {
        let sha256_signed = self.inner.signature == super::SignatureVersion::V4
            && self.inner.payload_signing != super::PayloadSigning::Unsigned;
        if sha256_signed {
            req
        } else {
            req.header("content-md5", content_md5(body))
        }
    }

    /// `x-amz-copy-source` for a key of this bucket: `/bucket/key`, percent-encoded.
    fn copy_source(&self, src_key: &str) -> String {
        encode::encode_path(&format!("/{}/{}", self.bucket(), src_key))
    }

    /// Sends `req` and reads the XML answer; an answer cut off while its body is read is
    /// retried like a failed request.
    async fn send_read(&self, req: Request) -> Result<Vec<u8>, Error> {
        self.send_read_inner(req, false).await
    }

    /// Like [`S3Client::send_read`], but a `200 OK` whose body is an `<Error>` document is an
    /// error (retried like any other service error when its code says so).
    async fn send_read_checked(&self, req: Request) -> Result<Vec<u8>, Error> {
        self.send_read_inner(req, true).await
    }

    async fn send_read_inner(
        &self,
        req: Request,
        check_error_body: bool,
    ) -> Result<Vec<u8>, Error> {
        let op = req.operation;
        let req = &req;
        self.retried(op, |_attempt| async move {
            let resp = self.send_no_retry_ref(req).await?;
            let status = resp.status().as_u16();
            let request_id = resp
                .headers()
                .get("x-amz-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let read = match read_limited(resp, MAX_XML_BODY).await {
                Ok(body) if check_error_body && xml::parse_error_body(&body).is_some() => {
                    Err(service_error(status, &body, request_id, None))
                }
                read => read,
            };
            if let Err(e) = &read {
                self.inner.stats.error(e);
            }
            read
        })
        .await
    }
}

/// Base64 MD5 of `body`, for `Content-MD5`.
pub(super) fn content_md5(body: &[u8]) -> String {
    use md5::{Digest, Md5};
    crypto::base64_encode(&Md5::digest(body))
}

fn etag_of(resp: &reqwest::Response) -> ETag {
    ETag::new(
        resp.headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    )
}

fn decode_err(e: xml::XmlError) -> Error {
    Error::decode("the S3 response could not be decoded", Some(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_md5_of_empty_body() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e.
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
        assert_eq!(content_md5(b"hello"), "XUFAKrxLKna5cZ2REBfFkg==");
    }

    fn client(
        signature: crate::client::SignatureVersion,
        payload: crate::client::PayloadSigning,
    ) -> S3Client {
        let endpoint = crate::client::EndpointConfig {
            region: "us-east-1".into(),
            region_endpoint: Some("http://127.0.0.1:9".into()),
            force_path_style: true,
            ..crate::client::EndpointConfig::default()
        };
        let mut config = crate::client::ClientConfig::new(endpoint, "bucket");
        config.signature = signature;
        config.payload_signing = payload;
        let creds = crate::client::credentials::StaticProvider::from_keys("AK", "SK", None);
        S3Client::new(config, std::sync::Arc::new(creds)).unwrap()
    }

    #[test]
    fn content_md5_only_where_the_signature_does_not_cover_the_body() {
        use crate::client::{PayloadSigning as P, SignatureVersion as V};
        let has_md5 = |c: &S3Client| {
            c.integrity(Request::new("PutObject", Method::PUT, Some("k")), b"body")
                .headers
                .iter()
                .any(|(k, v)| k == "content-md5" && v == &content_md5(b"body"))
        };
        assert!(!has_md5(&client(V::V4, P::Signed)));
        assert!(!has_md5(&client(V::V4, P::SignedChunked)));
        assert!(has_md5(&client(V::V4, P::Unsigned)));
        assert!(has_md5(&client(V::V2, P::Signed)));
    }

    #[test]
    fn byte_range_header() {
        assert_eq!(
            ByteRange {
                start: 5,
                end: None
            }
            .header(),
            "bytes=5-"
        );
        assert_eq!(
            ByteRange {
                start: 0,
                end: Some(9)
            }
            .header(),
            "bytes=0-9"
        );
    }
}
