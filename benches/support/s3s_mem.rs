//! A bench-only S3 server that is not the bottleneck: s3s verifies every signature (SigV4 and
//! SigV2, the payload's SHA-256 when it is signed) exactly as with s3s-fs, but objects live in
//! memory, no MD5 is computed, completing a multipart upload concatenates the parts without
//! re-reading or re-hashing them, and GET streams the stored bytes in 1 MiB slices without
//! copying. Include it with `#[path = ".../benches/support/s3s_mem.rs"] mod s3s_mem;`.
//!
//! It implements what the throughput benchmarks use: buckets, PutObject, GetObject (whole
//! objects), HeadObject, DeleteObject, and the multipart upload calls.

#![allow(dead_code)] // each includer uses a different part

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use s3s::auth::SimpleAuth;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateBucketInput, CreateBucketOutput,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteObjectInput,
    DeleteObjectOutput, ETag, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput,
    PutObjectInput, PutObjectOutput, StreamingBlob, UploadPartInput, UploadPartOutput,
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

#[derive(Debug, Default)]
struct Store {
    objects: Mutex<HashMap<ObjectKey, Bytes>>,
    uploads: Mutex<HashMap<String, (ObjectKey, BTreeMap<i32, Bytes>)>>,
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
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
        lock(&self.objects).insert((input.bucket, input.key), data);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(self.etag()),
            ..PutObjectOutput::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let data = lock(&self.objects)
            .get(&(input.bucket, input.key))
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        let len = data.len();
        let slices: Vec<Result<Bytes, std::io::Error>> = (0..len)
            .step_by(1 << 20)
            .map(|at| Ok(data.slice(at..len.min(at + (1 << 20)))))
            .collect();
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(futures_util::stream::iter(slices))),
            content_length: Some(len as i64),
            e_tag: Some(self.etag()),
            ..GetObjectOutput::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let len = lock(&self.objects)
            .get(&(input.bucket, input.key))
            .map(Bytes::len)
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(len as i64),
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

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let id = format!("upload-{}", self.next());
        lock(&self.uploads).insert(
            id.clone(),
            ((input.bucket.clone(), input.key.clone()), BTreeMap::new()),
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
        lock(&self.objects).insert(key.clone(), out.freeze());
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(key.0),
            key: Some(key.1),
            e_tag: Some(self.etag()),
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
