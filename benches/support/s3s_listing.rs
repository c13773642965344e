//! s3s-fs with ListObjects/ListObjectsV2 answered the way an S3 index answers them: an ordered
//! walk of only the directories that can hold keys after the prefix and the start key,
//! stopping once a page is full. Include it with
//! `#[path = ".../benches/support/s3s_listing.rs"] mod s3s_listing;`.
//!
//! Stock s3s-fs 0.14 answers every listing without a delimiter by walking the whole bucket
//! directory, and with one by walking everything below the prefix. That makes
//! `ListObjects?prefix=<key>&max-keys=1` — how registry:2's S3 driver stats a path — cost a
//! walk of the bucket, so a benchmark of registry:2 against stock s3s-fs measures s3s-fs. With
//! this listing a request costs what it returns, as on S3, Ceph or MinIO. Everything else is
//! s3s-fs's own.

#![allow(dead_code)] // each includer uses a different part

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// s3s-fs with the listing above.
#[derive(Debug)]
pub struct IndexedListing {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
}

/// One listing entry: an object (key, size, modification time) or a common prefix.
enum Entry {
    Object(String, u64, SystemTime),
    Prefix(String),
}

impl Entry {
    fn key(&self) -> &str {
        match self {
            Entry::Object(k, _, _) | Entry::Prefix(k) => k,
        }
    }
}

/// Collects up to `max + 1` entries of `dir` (whose keys start with `key_prefix`) in key
/// order. Returns true when enough were found.
fn visit(
    dir: &Path,
    key_prefix: &str,
    prefix: &str,
    slash: bool,
    start: Option<&str>,
    max: usize,
    out: &mut Vec<Entry>,
) -> std::io::Result<bool> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut children = Vec::new();
    for entry in read {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let is_dir = entry.file_type()?.is_dir();
        // Sorted as keys sort: a directory's keys all start with "name/".
        let key = if is_dir {
            format!("{key_prefix}{name}/")
        } else {
            format!("{key_prefix}{name}")
        };
        children.push((key, is_dir, entry.path()));
    }
    children.sort();
    for (key, is_dir, path) in children {
        if is_dir {
            if !(key.starts_with(prefix) || prefix.starts_with(&key)) {
                continue;
            }
            // Every key below sorts before the start key: skip the subtree.
            if start.is_some_and(|s| s > key.as_str() && !s.starts_with(&key)) {
                continue;
            }
            if slash && key.starts_with(prefix) {
                let rest = &key[prefix.len()..];
                let cut = prefix.len() + rest.find('/').unwrap_or(rest.len()) + 1;
                let common = &key[..cut];
                if start.is_some_and(|s| common <= s) {
                    continue;
                }
                out.push(Entry::Prefix(common.to_owned()));
                if out.len() > max {
                    return Ok(true);
                }
            } else if visit(&path, &key, prefix, slash, start, max, out)? {
                return Ok(true);
            }
        } else {
            if !key.starts_with(prefix) || start.is_some_and(|s| key.as_str() <= s) {
                continue;
            }
            let meta = std::fs::metadata(&path)?;
            out.push(Entry::Object(
                key,
                meta.len(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            ));
            if out.len() > max {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[async_trait::async_trait]
impl S3 for IndexedListing {
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let v2 = self.list_objects_v2(req.map_input(Into::into)).await?;
        Ok(v2.map_output(|v2| ListObjectsOutput {
            contents: v2.contents,
            common_prefixes: v2.common_prefixes,
            delimiter: v2.delimiter,
            encoding_type: v2.encoding_type,
            name: v2.name,
            prefix: v2.prefix,
            max_keys: v2.max_keys,
            is_truncated: v2.is_truncated,
            next_marker: v2.next_continuation_token,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let bucket = self.root.join(&input.bucket);
        if !bucket.is_dir() {
            return Err(s3_error!(NoSuchBucket));
        }
        let prefix = input.prefix.clone().unwrap_or_default();
        let slash = match input.delimiter.as_deref() {
            None => false,
            Some("/") => true,
            Some(_) => {
                return Err(s3_error!(
                    NotImplemented,
                    "only the delimiter / is supported"
                ))
            }
        };
        let max = usize::try_from(input.max_keys.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
        let start = match (input.continuation_token.clone(), input.start_after.clone()) {
            (Some(c), Some(s)) => Some(c.max(s)),
            (c, s) => c.or(s),
        };
        let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..=i]).to_owned();
        let listed = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            visit(
                &bucket.join(&dir_part),
                &dir_part,
                &prefix,
                slash,
                start.as_deref(),
                max,
                &mut out,
            )
            .map(|_| out)
        })
        .await
        .map_err(|e| s3_error!(InternalError, "listing task: {e}"))?
        .map_err(|e| s3_error!(InternalError, "listing: {e}"))?;
        let mut entries = listed;
        let truncated = entries.len() > max;
        entries.truncate(max);
        let next = truncated
            .then(|| entries.last().map(|e| e.key().to_owned()))
            .flatten();
        let mut contents = Vec::new();
        let mut prefixes = Vec::new();
        for e in entries {
            match e {
                Entry::Object(key, size, modified) => contents.push(Object {
                    key: Some(key),
                    size: Some(i64::try_from(size).unwrap_or(i64::MAX)),
                    last_modified: Some(Timestamp::from(modified)),
                    ..Default::default()
                }),
                Entry::Prefix(p) => prefixes.push(CommonPrefix { prefix: Some(p) }),
            }
        }
        let key_count = i32::try_from(contents.len() + prefixes.len()).unwrap_or(i32::MAX);
        Ok(S3Response::new(ListObjectsV2Output {
            key_count: Some(key_count),
            max_keys: input.max_keys.or(Some(1000)),
            is_truncated: Some(truncated),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.fs.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.fs.put_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.fs.delete_objects(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.fs.copy_object(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.fs.create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.fs.upload_part(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.fs.list_parts(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.fs.complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.fs.abort_multipart_upload(req).await
    }
}

/// A running server (s3s-fs with [`IndexedListing`]) over a fresh temporary directory;
/// stops and deletes it when dropped. Same keys as `s3_fs.rs`.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    data: TempDir,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts on 127.0.0.1 (any free port); the data directory is created under
    /// `$S3DRIVER_BENCH_DATA` (default: the system temp dir). Must run inside a Tokio runtime.
    ///
    /// # Panics
    /// When the directory cannot be created or no port can be bound.
    pub async fn start(access_key: &str, secret_key: &str) -> Server {
        let mut builder = tempfile::Builder::new();
        builder.prefix("s3driver-bench-");
        let data = match std::env::var_os("S3DRIVER_BENCH_DATA") {
            Some(dir) => builder.tempdir_in(dir),
            None => builder.tempdir(),
        }
        .expect("s3s-fs: cannot create a temporary data directory");
        let root = data
            .path()
            .canonicalize()
            .expect("canonical data directory");
        let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs: cannot use its data directory");
        let service = {
            let mut b = S3ServiceBuilder::new(IndexedListing { fs, root });
            b.set_auth(SimpleAuth::from_single(access_key, secret_key));
            b.build()
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("s3s-fs: cannot bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("s3s-fs: no local address");
        let task = crate::s3s_serve::spawn_http1(listener, service);
        Server { addr, data, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The data root: bucket `b` is the directory `<root>/b`, object `k` the file `<root>/b/k`.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
