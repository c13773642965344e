//! A bench-only S3 server that is not the bottleneck: s3s verifies every signature (SigV4 and
//! SigV2, the payload's SHA-256 when it is signed) exactly as with s3s-fs, but objects live in
//! memory, no MD5 is computed, completing a multipart upload concatenates the parts without
//! re-reading or re-hashing them, copies share the source's bytes, and GET streams the stored
//! bytes in 1 MiB slices without copying. Include it with
//! `#[path = ".../benches/support/s3s_mem.rs"] mod s3s_mem;` and, next to it,
//! `#[path = ".../benches/support/s3s_serve.rs"] mod s3s_serve;`.
//!
//! It implements what the throughput benchmarks and a registry on the S3 driver use (see
//! `benches/proxy.rs`): buckets (every bucket exists; CreateBucket is accepted), PutObject,
//! GetObject (whole objects or a `Range`), HeadObject, DeleteObject, DeleteObjects,
//! CopyObject, ListObjectsV2 (prefix, any delimiter with common prefixes, max-keys,
//! continuation token and start-after, `encoding-type=url`; keys in order), and the multipart
//! upload calls including UploadPartCopy (whole object or `x-amz-copy-source-range`). ETags
//! are unique counters, not content MD5s.

#![allow(dead_code)] // each includer uses a different part

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use s3s::auth::SimpleAuth;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CommonPrefix,
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput,
    CopyObjectResult, CopyPartResult, CopySource, CreateBucketInput, CreateBucketOutput,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, DeletedObject, ETag, EncodingType, GetObjectInput,
    GetObjectOutput, HeadObjectInput, HeadObjectOutput, ListObjectsV2Input, ListObjectsV2Output,
    Object, PutObjectInput, PutObjectOutput, StreamingBlob, Timestamp, UploadPartCopyInput,
    UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Access key id the server accepts (the same as the s3s-fs bench server's).
pub const ACCESS_KEY: &str = "AKIDS3DRIVERBENCH";
/// Secret key the server accepts.
pub const SECRET_KEY: &str = "s3driver/Bench+Secret/Key+0123456789abcdefXYZ";

/// Bucket and key.
type ObjectKey = (String, String);

/// The parts of a multipart upload, by number.
type Parts = BTreeMap<i32, Bytes>;

/// A stored object.
#[derive(Debug, Clone)]
struct Stored {
    data: Bytes,
    etag: ETag,
    modified: SystemTime,
}

#[derive(Debug, Default)]
struct Store {
    /// Ordered by bucket, then key: a listing is a range scan.
    objects: Mutex<BTreeMap<ObjectKey, Stored>>,
    uploads: Mutex<HashMap<String, (ObjectKey, Parts)>>,
    counter: AtomicU64,
}

impl Store {
    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// A unique ETag without hashing the content (the benchmarks never compare ETags with
    /// content MD5s).
    fn etag(&self) -> ETag {
        ETag::Strong(format!("{:032x}", self.next()))
    }

    /// Stores `data` under `key`; returns its ETag.
    fn insert(&self, key: ObjectKey, data: Bytes) -> ETag {
        let etag = self.etag();
        let stored = Stored {
            data,
            etag: etag.clone(),
            modified: SystemTime::now(),
        };
        lock(&self.objects).insert(key, stored);
        etag
    }

    fn get(&self, bucket: String, key: String) -> S3Result<Stored> {
        lock(&self.objects)
            .get(&(bucket, key))
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey))
    }

    /// The bytes `source` names (only `bucket/key` sources).
    fn source(&self, source: CopySource) -> S3Result<Bytes> {
        match source {
            CopySource::Bucket { bucket, key, .. } => Ok(self.get(bucket.into(), key.into())?.data),
            _ => Err(s3_error!(NotImplemented, "only bucket/key copy sources")),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn collect(body: Option<StreamingBlob>) -> S3Result<Bytes> {
    let Some(mut body) = body else {
        return Err(s3_error!(IncompleteBody));
    };
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
        if out.is_empty() && chunk.len() >= (1 << 20) {
            // Keep big single chunks as they came (no copy).
            out.reserve(chunk.len());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// `s` percent-encoded as `encoding-type=url` asks: every byte but unreserved characters and
/// `/`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `bytes=FIRST-LAST` (inclusive) of an object of `len` bytes, as a slice range.
fn copy_range(header: &str, len: usize) -> S3Result<std::ops::Range<usize>> {
    let bad = || s3_error!(InvalidArgument, "bad x-amz-copy-source-range {header}");
    let (first, last) = header
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let first: usize = first.parse().map_err(|_| bad())?;
    let last: usize = last.parse().map_err(|_| bad())?;
    if first > last || last >= len {
        return Err(s3_error!(InvalidRange));
    }
    Ok(first..last + 1)
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn create_bucket(
        &self,
        _req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let data = collect(input.body).await?;
        let etag = self.insert((input.bucket, input.key), data);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag),
            ..PutObjectOutput::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let stored = self.get(input.bucket, input.key)?;
        let full = stored.data.len();
        let (data, content_range) = match input.range {
            None => (stored.data, None),
            Some(range) => {
                let r = range
                    .check(full as u64)
                    .map_err(|_| s3_error!(InvalidRange))?;
                let (start, end) = (r.start as usize, r.end as usize);
                (
                    stored.data.slice(start..end),
                    Some(format!("bytes {start}-{}/{full}", end.saturating_sub(1))),
                )
            }
        };
        let len = data.len();
        let slices: Vec<Result<Bytes, std::io::Error>> = (0..len)
            .step_by(1 << 20)
            .map(|at| Ok(data.slice(at..len.min(at + (1 << 20)))))
            .collect();
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(futures_util::stream::iter(slices))),
            content_length: Some(len_i64(len)),
            content_range,
            e_tag: Some(stored.etag),
            last_modified: Some(Timestamp::from(stored.modified)),
            ..GetObjectOutput::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let stored = self.get(input.bucket, input.key)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(len_i64(stored.data.len())),
            e_tag: Some(stored.etag),
            last_modified: Some(Timestamp::from(stored.modified)),
            ..HeadObjectOutput::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        lock(&self.objects).remove(&(input.bucket, input.key));
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        {
            let mut objects = lock(&self.objects);
            for id in input.delete.objects {
                objects.remove(&(input.bucket.clone(), id.key.clone()));
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(id.key),
                        ..DeletedObject::default()
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            ..DeleteObjectsOutput::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let data = self.source(input.copy_source)?;
        let etag = self.insert((input.bucket, input.key), data);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag),
                last_modified: Some(Timestamp::from(SystemTime::now())),
                ..CopyObjectResult::default()
            }),
            ..CopyObjectOutput::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let max = usize::try_from(input.max_keys.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
        // Entries strictly after `start` (the token is the last key or prefix returned).
        let start = match (&input.continuation_token, &input.start_after) {
            (Some(c), Some(s)) => Some(c.clone().max(s.clone())),
            (c, s) => c.clone().or_else(|| s.clone()),
        };
        let from = match &start {
            Some(s) if *s > prefix => s.clone(),
            _ => prefix.clone(),
        };
        let mut contents = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let mut last = None;
        {
            let objects = lock(&self.objects);
            let lower = Bound::Included((input.bucket.clone(), from));
            for ((bucket, key), stored) in objects.range((lower, Bound::Unbounded)) {
                if *bucket != input.bucket || !key.starts_with(&prefix) {
                    break;
                }
                if start.as_ref().is_some_and(|s| key <= s) {
                    continue;
                }
                let common = delimiter.as_ref().and_then(|d| {
                    let rest = &key[prefix.len()..];
                    rest.find(d.as_str())
                        .map(|i| key[..prefix.len() + i + d.len()].to_owned())
                });
                if let Some(common) = &common {
                    // Returned already (on this page or, as the token says, before).
                    if prefixes.last() == Some(common)
                        || start.as_ref().is_some_and(|s| common <= s)
                    {
                        continue;
                    }
                }
                if contents.len() + prefixes.len() == max {
                    truncated = true;
                    break;
                }
                match common {
                    Some(common) => {
                        last = Some(common.clone());
                        prefixes.push(common);
                    }
                    None => {
                        last = Some(key.clone());
                        contents.push(Object {
                            key: Some(key.clone()),
                            size: Some(len_i64(stored.data.len())),
                            e_tag: Some(stored.etag.clone()),
                            last_modified: Some(Timestamp::from(stored.modified)),
                            ..Object::default()
                        });
                    }
                }
            }
        }
        let key_count = i32::try_from(contents.len() + prefixes.len()).unwrap_or(i32::MAX);
        // With `encoding-type=url` (which s3driver's client asks for) the key-like fields are
        // percent-encoded, as S3 does; the continuation token is opaque and never encoded.
        let url = input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let enc = |v: String| {
            if url {
                url_encode(&v)
            } else {
                v
            }
        };
        for o in &mut contents {
            o.key = o.key.take().map(enc);
        }
        Ok(S3Response::new(ListObjectsV2Output {
            key_count: Some(key_count),
            max_keys: input.max_keys.or(Some(1000)),
            is_truncated: Some(truncated),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!prefixes.is_empty()).then(|| {
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix {
                        prefix: Some(enc(p)),
                    })
                    .collect()
            }),
            continuation_token: input.continuation_token,
            next_continuation_token: truncated.then_some(last).flatten(),
            delimiter: input.delimiter.map(enc),
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix.map(enc),
            start_after: input.start_after.map(enc),
            ..ListObjectsV2Output::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let id = format!("upload-{}", self.next());
        lock(&self.uploads).insert(
            id.clone(),
            ((input.bucket.clone(), input.key.clone()), Parts::new()),
        );
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..CreateMultipartUploadOutput::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        let data = collect(input.body).await?;
        let mut uploads = lock(&self.uploads);
        let (_, parts) = uploads
            .get_mut(&input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        parts.insert(input.part_number, data);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(self.etag()),
            ..UploadPartOutput::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let data = self.source(input.copy_source)?;
        let data = match &input.copy_source_range {
            Some(r) => data.slice(copy_range(r, data.len())?),
            None => data,
        };
        let mut uploads = lock(&self.uploads);
        let (_, parts) = uploads
            .get_mut(&input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        parts.insert(input.part_number, data);
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(self.etag()),
                last_modified: Some(Timestamp::from(SystemTime::now())),
                ..CopyPartResult::default()
            }),
            ..UploadPartCopyOutput::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let (key, parts) = lock(&self.uploads)
            .remove(&input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        let wanted: Vec<i32> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.part_number)
            .collect();
        let mut out = BytesMut::with_capacity(parts.values().map(Bytes::len).sum());
        for n in &wanted {
            let part = parts.get(n).ok_or_else(|| s3_error!(InvalidPart))?;
            out.extend_from_slice(part);
        }
        let etag = self.insert(key.clone(), out.freeze());
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(key.0),
            key: Some(key.1),
            e_tag: Some(etag),
            ..CompleteMultipartUploadOutput::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        lock(&self.uploads).remove(&req.input.upload_id);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}
/// A running in-memory server; stops when dropped.
#[derive(Debug)]
pub struct S3sMem {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl S3sMem {
    /// Starts a server on `127.0.0.1:port` (0: any free port). Must be called inside a Tokio
    /// runtime, which then runs the server's tasks.
    ///
    /// # Panics
    /// When the port cannot be bound.
    pub async fn start(port: u16) -> S3sMem {
        let mut builder = S3ServiceBuilder::new(Store::default());
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("s3s_mem: bind");
        let addr = listener.local_addr().expect("s3s_mem: local address");
        let task = crate::s3s_serve::spawn_http1(listener, service);
        S3sMem { addr, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for S3sMem {
    fn drop(&mut self) {
        self.task.abort();
    }
}
