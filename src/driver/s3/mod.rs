//! The S3 storage driver (name `s3aws`, also registered as `s3`), on this crate's own
//! [`S3Client`].
//!
//! | operation | S3 requests |
//! |---|---|
//! | `get_content`, `reader` | GetObject (with `Range: bytes=<offset>-`); `InvalidRange` gives an empty reader |
//! | `put_content` | PutObject |
//! | `stat` | HeadObject; if not found (or forbidden), ListObjectsV2 of `key/` to detect a directory |
//! | `list` | ListObjectsV2 with delimiter `/`, all pages |
//! | `move_to` | CopyObject up to `multipartcopythresholdsize`, else parallel UploadPartCopy; then DeleteObject |
//! | `delete` | ListObjectsV2 of the prefix + DeleteObjects in batches of 1000 |
//! | `delete_files` | DeleteObjects in batches of 1000 |
//! | `redirect_url` | presigned GET/HEAD URL valid 20 minutes, host optionally swapped (`redirectendpoint`) |
//! | `walk` | one ListObjectsV2 pass without delimiter, directories inferred |
//! | `writer` | multipart upload of `chunksize` parts, resumable (see `writer.rs`) |
//!
//! Better than Distribution where its users hit problems: `stat` never reports `/a` as a
//! directory because `/ab` exists; a failed multipart copy aborts its upload; SigV2 signs
//! virtual-hosted requests correctly; `sessiontoken` is honoured; small files committed by a
//! writer that was never closed are stored with one PutObject (no multipart, issue 4122);
//! resuming a writer in the same process skips ListMultipartUploads.

mod budget;
mod check;
mod params;
mod terms;
mod writer;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

pub use check::{Action, Outcome, PermissionReport, Scope};
pub use params::{Encryption, S3Parameters, StorageClass};
// The parameter ranges and names the fuzz target checks parsed values against: not API.
#[cfg(not(feature = "__internals"))]
use params::MIN_CHUNK_SIZE;
#[cfg(feature = "__internals")]
#[doc(hidden)]
pub use params::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, OBJECT_ACLS, STORAGE_CLASSES};

use crate::client::credentials::{
    default_provider_for_region, Credentials, ProcessEnv, ProvideCredentials, StaticProvider,
};
use crate::client::{
    ByteRange, ClientConfig, Error as ClientError, ListObjectsV2Request, S3Client,
    ServerSideEncryption, WriteOptions,
};
use crate::driver::{
    BoxedReader, DriverError, FailedDelete, FileInfo, FileWriter, IncompleteWrites,
    RedirectRequest, StorageDriver, WalkControl, WalkFn, WalkOptions,
};
use crate::xml::CompletedPart;

/// The driver's name, as it prefixes every error.
pub(crate) const DRIVER_NAME: &str = "s3aws";
/// Most committed sizes kept for moves (see `Inner::committed`).
const MAX_COMMITTED: usize = 4096;

/// How long a redirect URL stays valid (Distribution: 20 minutes).
pub(crate) const REDIRECT_EXPIRY: Duration = Duration::from_secs(20 * 60);

/// Page size of listings.
const LIST_MAX: u32 = 1000;

/// Write-buffer memory of an S3 driver; see [`S3Driver::buffer_memory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BufferMemory {
    /// Bytes reserved by writers now.
    pub in_use: u64,
    /// The most bytes reserved at once since the driver was built.
    pub peak: u64,
    /// `maxbuffermemory`.
    pub budget: u64,
}

/// The S3 storage driver. Build it with [`S3Driver::new`] (or
/// [`S3Driver::from_parameters`]) and hand it out inside [`Base`](crate::driver::Base), which checks paths and
/// names the driver in errors: `Base::new(S3Driver::new(params)?)`.
#[derive(Clone)]
pub struct S3Driver {
    inner: Arc<Inner>,
}

struct Inner {
    client: S3Client,
    params: S3Parameters,
    write_opts: WriteOptions,
    /// `rootdirectory` as a key prefix: empty, or `root/`.
    root_prefix: String,
    /// Multipart uploads this process closed without committing, by key: resuming them skips
    /// ListMultipartUploads (the part list is still read from S3; the recorded ETags fill in
    /// for servers whose ListParts omits them).
    open_uploads: Mutex<HashMap<String, writer::OpenUpload>>,
    /// Sizes of objects this process's writers committed, until a move consumes them: a move
    /// whose source is known to be under `multipartcopythresholdsize` is one CopyObject
    /// without a HEAD first. CopyObject copies the whole object whatever its size, so a stale
    /// entry never costs bytes: at worst a slower copy, or (an object replaced since by one
    /// over S3's 5 GiB copy limit) a failed move that leaves the source in place.
    committed: Mutex<HashMap<String, u64>>,
    /// `maxbuffermemory`: what all writers together may hold in part buffers.
    budget: budget::Budget,
}

impl fmt::Debug for S3Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Driver")
            .field("client", &self.inner.client)
            .field("params", &self.inner.params)
            .finish_non_exhaustive()
    }
}

impl S3Driver {
    /// A driver from its parameter map (Distribution's `FromParameters`).
    ///
    /// # Errors
    /// A bad parameter, or a client that cannot be built (e.g. SigV2 on AWS).
    pub fn from_parameters(p: &crate::driver::Parameters) -> Result<Self, DriverError> {
        let params = S3Parameters::from_parameters(p)
            .map_err(|e| DriverError::other(e).with_driver(DRIVER_NAME))?;
        Self::new(params)
    }

    /// A driver for `params`, with static credentials when `accesskey` and `secretkey` are
    /// both set and the default provider chain (environment, shared files, container, IMDSv2)
    /// otherwise.
    ///
    /// # Errors
    /// The client cannot be built (bad endpoint, SigV2 where AWS requires SigV4).
    pub fn new(params: S3Parameters) -> Result<Self, DriverError> {
        let provider: Arc<dyn ProvideCredentials> =
            if !params.access_key.is_empty() && !params.secret_key.is_empty() {
                Arc::new(StaticProvider::new(Credentials::new(
                    params.access_key.clone(),
                    params.secret_key.clone(),
                    params.session_token.clone(),
                    None,
                )))
            } else {
                // The S3 region is the last resort for the STS region of role credentials.
                let region = Some(params.endpoint.region.clone()).filter(|r| !r.is_empty());
                Arc::new(default_provider_for_region(Arc::new(ProcessEnv), region))
            };
        Self::with_credentials(params, provider)
    }

    /// A driver for `params` using `credentials` (tests, custom providers).
    ///
    /// # Errors
    /// As [`S3Driver::new`].
    pub fn with_credentials(
        params: S3Parameters,
        credentials: Arc<dyn ProvideCredentials>,
    ) -> Result<Self, DriverError> {
        let mut config = ClientConfig::new(params.endpoint.clone(), params.bucket.clone());
        config.signature = params.signature_version();
        Self::with_client_config(params, config, credentials)
    }

    /// A driver whose client is configured by `config` (retry policy, payload signing,
    /// resolve overrides, …); `params` gives everything else.
    ///
    /// # Errors
    /// As [`S3Driver::new`].
    pub fn with_client_config(
        params: S3Parameters,
        config: ClientConfig,
        credentials: Arc<dyn ProvideCredentials>,
    ) -> Result<Self, DriverError> {
        let client = S3Client::new(config, credentials)
            .map_err(|e| client_err(e).with_driver(DRIVER_NAME))?;
        let write_opts = WriteOptions {
            content_type: Some("application/octet-stream".to_owned()),
            storage_class: params.storage_class.map(|c| c.as_str().to_owned()),
            acl: Some(params.object_acl.clone()),
            sse: params.encryption.to_server_side_encryption(),
        };
        let root = params.root_directory.trim_matches('/');
        let root_prefix = if root.is_empty() {
            String::new()
        } else {
            format!("{root}/")
        };
        Ok(S3Driver {
            inner: Arc::new(Inner {
                client,
                write_opts,
                root_prefix,
                open_uploads: Mutex::new(HashMap::new()),
                committed: Mutex::new(HashMap::new()),
                budget: budget::Budget::new(params.max_buffer_memory, params.buffer_wait),
                params,
            }),
        })
    }

    /// The client the driver uses.
    pub fn client(&self) -> &S3Client {
        &self.inner.client
    }

    /// Write-buffer memory (`maxbuffermemory`): bytes reserved by writers now, the most ever
    /// reserved at once, and the budget.
    pub fn buffer_memory(&self) -> BufferMemory {
        let b = &self.inner.budget;
        BufferMemory {
            in_use: b.in_use(),
            peak: b.peak(),
            budget: b.total(),
        }
    }

    /// The S3 key of a driver path: root directory + path, no leading `/`.
    pub fn key(&self, path: &str) -> String {
        let rel = path.trim_start_matches('/');
        format!("{}{rel}", self.inner.root_prefix)
    }

    /// The driver path of an S3 key below the root directory.
    fn path_of(&self, key: &str) -> String {
        let rel = key.strip_prefix(&self.inner.root_prefix).unwrap_or(key);
        format!("/{rel}")
    }

    /// The key prefix of everything below `path` (`key/`, or the root prefix for `/`).
    fn dir_prefix(&self, path: &str) -> String {
        if path == "/" {
            self.inner.root_prefix.clone()
        } else {
            format!("{}/", self.key(path))
        }
    }

    fn remember_upload(&self, key: &str, upload: writer::OpenUpload) {
        self.uploads().insert(key.to_owned(), upload);
    }

    /// Notes that a writer committed `size` bytes at `key` (at most [`MAX_COMMITTED`] kept).
    fn committed(&self, key: &str, size: u64) {
        let mut m = self
            .inner
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if m.len() >= MAX_COMMITTED {
            m.clear();
        }
        m.insert(key.to_owned(), size);
    }

    /// The committed size noted for `key`, forgotten as it is read.
    fn take_committed(&self, key: &str) -> Option<u64> {
        self.inner
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
    }

    fn forget_upload(&self, key: &str) {
        self.uploads().remove(key);
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, HashMap<String, writer::OpenUpload>> {
        self.inner
            .open_uploads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every multipart upload whose key starts with `prefix` (ListMultipartUploads, all
    /// pages); `None` when the server does not implement ListMultipartUploads.
    async fn list_uploads(
        &self,
        prefix: &str,
    ) -> Result<Option<Vec<crate::xml::MultipartUpload>>, DriverError> {
        let client = &self.inner.client;
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        let mut out = Vec::new();
        loop {
            let page = match client
                .list_multipart_uploads(prefix, key_marker.as_deref(), id_marker.as_deref())
                .await
            {
                Ok(page) => page,
                Err(e) if e.status() == Some(501) => return Ok(None),
                Err(e) => return Err(client_err(e)),
            };
            out.extend(page.uploads);
            if !page.is_truncated {
                return Ok(Some(out));
            }
            let next = (page.next_key_marker, page.next_upload_id_marker);
            if next.0.is_none() && next.1.is_none() || (next.0 == key_marker && next.1 == id_marker)
            {
                return Err(DriverError::msg(
                    "ListMultipartUploads is truncated but its next markers do not advance",
                ));
            }
            (key_marker, id_marker) = next;
        }
    }

    /// Whether anything is stored below `path` (a "directory").
    async fn is_dir(&self, path: &str) -> Result<bool, DriverError> {
        let page = self
            .inner
            .client
            .list_objects_v2(&ListObjectsV2Request {
                prefix: Some(self.dir_prefix(path)),
                max_keys: Some(1),
                ..ListObjectsV2Request::default()
            })
            .await
            .map_err(client_err)?;
        Ok(!page.contents.is_empty() || !page.common_prefixes.is_empty())
    }

    /// Copies `src_key` (of `size` bytes) to `dst_key` with parallel UploadPartCopy requests;
    /// the upload is aborted if any part fails.
    async fn multipart_copy(
        &self,
        src_key: &str,
        dst_key: &str,
        size: u64,
    ) -> Result<(), DriverError> {
        let client = &self.inner.client;
        let chunk = self.inner.params.multipart_copy_chunk_size.max(1);
        let upload_id = client
            .create_multipart_upload(dst_key, &self.inner.write_opts)
            .await
            .map_err(|e| self.write_err(e))?;
        let count = size.div_ceil(chunk);
        let concurrency =
            usize::try_from(self.inner.params.multipart_copy_max_concurrency).unwrap_or(usize::MAX);
        let upload = upload_id.as_str();
        let result: Result<Vec<CompletedPart>, ClientError> = futures_util::stream::iter(0..count)
            .map(|i| async move {
                let first = i * chunk;
                let last = (first + chunk).min(size) - 1;
                let part_number = u32::try_from(i + 1).unwrap_or(u32::MAX);
                let r = client
                    .upload_part_copy(dst_key, upload, part_number, src_key, Some((first, last)))
                    .await?;
                Ok(CompletedPart {
                    part_number,
                    etag: r.etag,
                })
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await;
        let completed = match result {
            Ok(mut parts) => {
                crate::sort::sort_by_key(&mut parts, |p| p.part_number);
                client
                    .complete_multipart_upload(dst_key, upload, &parts)
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = completed {
            let abort = client.abort_multipart_upload(dst_key, upload).await;
            return Err(match abort {
                Ok(()) => client_err(e),
                Err(a) => DriverError::msg(format!(
                    "multipart copy of {src_key} failed: {e}; aborting upload {upload_id} also failed: {a} \
                     (it will be removed by the bucket's lifecycle rule for incomplete uploads, if any)"
                )),
            });
        }
        Ok(())
    }
}

/// Maps a client error to the driver's vocabulary (not found becomes `PathNotFound`).
fn client_err(e: ClientError) -> DriverError {
    DriverError::other(terms::RegistryTerms(e))
}

impl S3Driver {
    /// The error of a request that wrote with the driver's write options (PutObject,
    /// CreateMultipartUpload, CopyObject): when it asked for server-side encryption and the
    /// server refused something (400 InvalidRequest/InvalidArgument, 501 NotImplemented), the
    /// message says which settings to look at.
    fn write_err(&self, e: ClientError) -> DriverError {
        let Some(sse) = &self.inner.write_opts.sse else {
            return client_err(e);
        };
        let refused = matches!(
            (e.status(), e.code()),
            (
                Some(400),
                Some("InvalidRequest" | "InvalidArgument" | "InvalidEncryptionAlgorithmError")
            ) | (Some(501), _)
        );
        if !refused {
            return client_err(e);
        }
        let setting = match sse {
            ServerSideEncryption::Aes256 => {
                "storage.s3 `encrypt: true` asks for SSE-S3 (AES256): enable it on the server \
                 (Ceph RGW: `rgw crypt require ssl = false` over plain HTTP, or serve it over HTTPS; \
                 MinIO: a KMS), or set `encrypt: false`"
            }
            ServerSideEncryption::Kms(_) => {
                "storage.s3 `encrypt: true` with `keyid` asks for SSE-KMS with that key: check the \
                 key exists and the server has a KMS, or remove `keyid` for SSE-S3 (AES256)"
            }
        };
        DriverError::msg(format!(
            "{e}; the server may have refused server-side encryption: {setting}"
        ))
    }
}

fn not_found_or(path: &str, e: ClientError) -> DriverError {
    if e.is_not_found() {
        DriverError::path_not_found(path)
    } else {
        client_err(e)
    }
}

#[async_trait]
impl StorageDriver for S3Driver {
    fn name(&self) -> &str {
        DRIVER_NAME
    }

    /// The writer resumes a multipart upload or an empty object; with neither there is
    /// nothing to resume.
    fn append_needs_existing(&self) -> bool {
        true
    }

    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError> {
        let out = self
            .inner
            .client
            .get_object(&self.key(path), None)
            .await
            .map_err(|e| not_found_or(path, e))?;
        out.bytes().await.map_err(client_err)
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError> {
        self.inner
            .client
            .put_object(&self.key(path), content, &self.inner.write_opts)
            .await
            .map_err(|e| self.write_err(e))?;
        Ok(())
    }

    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError> {
        // No object is that large; servers may take a number past `i64::MAX` for a
        // malformed range and answer with the whole object.
        let start = offset.min(i64::MAX as u64);
        let range = (start > 0).then_some(ByteRange { start, end: None });
        match self.inner.client.get_object(&self.key(path), range).await {
            Ok(out) => Ok(Box::new(tokio_util::io::StreamReader::new(
                out.into_stream(),
            ))),
            Err(e) if e.code() == Some("InvalidRange") || e.status() == Some(416) => {
                Ok(Box::new(tokio::io::empty()))
            }
            Err(e) => Err(not_found_or(path, e)),
        }
    }

    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        let key = self.key(path);
        if !append {
            return Ok(Box::new(writer::S3Writer::new(
                self.clone(),
                key,
                None,
                Vec::new(),
            )));
        }
        writer::resume(self, path, key).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        if path == "/" {
            // The root always exists, but ask S3 anyway (one bounded listing): the registry's
            // storage health check is a stat of "/", and it must notice an unreachable bucket.
            self.is_dir("/").await?;
            return Ok(FileInfo::dir("/", None));
        }
        let head_err = match self.inner.client.head_object(&self.key(path)).await {
            Ok(meta) => return Ok(FileInfo::file(path, meta.size, meta.last_modified)),
            // Transport failures are not answers about the key.
            Err(e) if e.status().is_none() => return Err(client_err(e)),
            Err(e) => e,
        };
        // Not a file: a directory if anything is stored below it. (HEAD of a missing key is
        // 403 without s3:ListBucket, and some servers fail HEAD on a directory-like key.)
        if self.is_dir(path).await? {
            Ok(FileInfo::dir(path, None))
        } else if head_err.is_not_found() || head_err.status() == Some(403) {
            Err(DriverError::path_not_found(path))
        } else {
            Err(client_err(head_err))
        }
    }

    async fn stat_file(&self, path: &str) -> Result<Option<FileInfo>, DriverError> {
        match self.inner.client.head_object(&self.key(path)).await {
            Ok(meta) => Ok(Some(FileInfo::file(path, meta.size, meta.last_modified))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) if e.status().is_none() => Err(client_err(e)),
            // A body-less 403 is a missing key without s3:ListBucket, or a refusal: `stat`
            // tells them apart (its listing answers with an error code).
            Err(_) => crate::driver::file_of(self.stat(path).await),
        }
    }

    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        let prefix = self.dir_prefix(path);
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        let mut pages = self
            .inner
            .client
            .list_objects_v2_pages(ListObjectsV2Request {
                prefix: Some(prefix),
                delimiter: Some("/".to_owned()),
                max_keys: Some(LIST_MAX),
                ..ListObjectsV2Request::default()
            });
        while let Some(page) = pages.next_page().await.map_err(client_err)? {
            for obj in page.contents {
                // A "directory marker" object (`dir/`) is not a file.
                if !obj.key.ends_with('/') {
                    files.push(self.path_of(&obj.key));
                }
            }
            for p in page.common_prefixes {
                dirs.push(self.path_of(p.trim_end_matches('/')));
            }
        }
        if path != "/" && files.is_empty() && dirs.is_empty() {
            return Err(DriverError::path_not_found(path));
        }
        files.extend(dirs);
        Ok(files)
    }

    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError> {
        let (src_key, dst_key) = (self.key(src), self.key(dst));
        let threshold = self.inner.params.multipart_copy_threshold_size;
        let size = match self.take_committed(&src_key) {
            // Just committed by this process and small: no HEAD needed to choose the copy.
            Some(size) if size <= threshold => size,
            _ => {
                self.inner
                    .client
                    .head_object(&src_key)
                    .await
                    .map_err(|e| not_found_or(src, e))?
                    .size
            }
        };
        if size <= threshold {
            self.inner
                .client
                .copy_object(&src_key, &dst_key, &self.inner.write_opts)
                .await
                .map_err(|e| {
                    if e.is_not_found() {
                        DriverError::path_not_found(src)
                    } else {
                        self.write_err(e)
                    }
                })?;
        } else {
            self.multipart_copy(&src_key, &dst_key, size).await?;
        }
        self.inner
            .client
            .delete_object(&src_key)
            .await
            .map_err(client_err)
    }

    async fn delete(&self, path: &str) -> Result<(), DriverError> {
        let key = self.key(path);
        let client = &self.inner.client;
        let mut start_after: Option<String> = None;
        let mut found = false;
        let mut errors: Vec<crate::client::BoxError> = Vec::new();
        loop {
            let page = client
                .list_objects_v2(&ListObjectsV2Request {
                    prefix: Some(key.clone()),
                    max_keys: Some(LIST_MAX),
                    start_after: start_after.clone(),
                    ..ListObjectsV2Request::default()
                })
                .await
                .map_err(client_err)?;
            let last = page.contents.last().map(|o| o.key.clone());
            // `key` itself and keys below `key/`, never siblings such as `keyfoo`.
            let batch: Vec<String> = page
                .contents
                .into_iter()
                .map(|o| o.key)
                .filter(|k| k.len() == key.len() || k.as_bytes().get(key.len()) == Some(&b'/'))
                .collect();
            if !batch.is_empty() {
                found = true;
                let result = client.delete_objects(&batch).await.map_err(client_err)?;
                for e in result.errors {
                    errors.push(
                        format!(
                            "delete {}: {} {}",
                            e.key,
                            e.code,
                            e.message.unwrap_or_default()
                        )
                        .into(),
                    );
                }
            }
            match last {
                Some(last) if page.is_truncated => start_after = Some(last),
                _ => break,
            }
        }
        if !errors.is_empty() {
            return Err(DriverError::multiple(errors));
        }
        if !found {
            return Err(DriverError::path_not_found(path));
        }
        Ok(())
    }

    /// One DeleteObjects request per 1000 paths, in order, stopping at the first that fails
    /// as a whole. `NoSuchKey` per-key answers count as deleted.
    async fn delete_files(&self, paths: &[String]) -> Result<Vec<FailedDelete>, DriverError> {
        let mut failed = Vec::new();
        for chunk in paths.chunks(crate::xml::MAX_DELETE_OBJECTS) {
            let keys: Vec<String> = chunk.iter().map(|p| self.key(p)).collect();
            let result = self
                .inner
                .client
                .delete_objects(&keys)
                .await
                .map_err(client_err)?;
            for e in result.errors {
                if e.code == "NoSuchKey" {
                    continue;
                }
                let path = chunk
                    .iter()
                    .zip(&keys)
                    .find(|(_, k)| **k == e.key)
                    .map_or_else(|| self.path_of(&e.key), |(p, _)| p.clone());
                let reason = match e.message {
                    Some(m) if !m.is_empty() => format!("{}: {m}", e.code),
                    _ => e.code,
                };
                failed.push(FailedDelete::new(path, reason));
            }
        }
        Ok(failed)
    }

    async fn redirect_url(
        &self,
        req: &RedirectRequest,
        path: &str,
    ) -> Result<Option<String>, DriverError> {
        let method = req.method.to_ascii_uppercase();
        if method != "GET" && method != "HEAD" {
            return Ok(None);
        }
        let url = self
            .inner
            .client
            .presign(&method, &self.key(path), REDIRECT_EXPIRY, SystemTime::now())
            .await
            .map_err(client_err)?;
        Ok(Some(match &self.inner.params.redirect_endpoint {
            Some(endpoint) => {
                let base = self.inner.client.endpoint().url_for("").base_url;
                swap_origin(&url, &base, endpoint)
            }
            None => url,
        }))
    }

    async fn walk(
        &self,
        path: &str,
        f: &mut WalkFn<'_>,
        opts: WalkOptions,
    ) -> Result<(), DriverError> {
        let prefix = self.dir_prefix(path);
        let start_after = opts
            .start_after_hint
            .as_deref()
            .filter(|h| h.starts_with('/'))
            .map(|h| self.key(h))
            .filter(|k| k.as_str() > prefix.as_str());
        let has_hint = start_after.is_some();
        let base = if path == "/" {
            String::new()
        } else {
            path.to_owned()
        };
        let mut prev_dir = base.clone();
        let mut skip_dir: Option<String> = None;
        let mut seen = 0usize;
        let mut pages = self
            .inner
            .client
            .list_objects_v2_pages(ListObjectsV2Request {
                prefix: Some(prefix),
                max_keys: Some(LIST_MAX),
                start_after,
                ..ListObjectsV2Request::default()
            });
        while let Some(page) = pages.next_page().await.map_err(client_err)? {
            for obj in &page.contents {
                seen += 1;
                // Zero-byte "directory" objects (`_uploads/`) are not files.
                if obj.key.ends_with('/') {
                    continue;
                }
                let file_path = self.path_of(&obj.key);
                let mut entries: Vec<FileInfo> = directory_diff(&prev_dir, &file_path)
                    .into_iter()
                    .map(|d| FileInfo::dir(d, None))
                    .collect();
                prev_dir = crate::driver::parent_path(&file_path).to_owned();
                if prev_dir == "/" {
                    prev_dir.clear();
                }
                let mod_time = obj.last_modified.to_system_time();
                entries.push(FileInfo::file(file_path, obj.size, mod_time));
                for entry in entries {
                    if let Some(skip) = &skip_dir {
                        if crate::driver::is_subpath(&entry.path, skip) {
                            continue;
                        }
                    }
                    match f(&entry)? {
                        WalkControl::Continue => {}
                        WalkControl::SkipDir => {
                            if entry.is_dir {
                                skip_dir = Some(entry.path.clone());
                            }
                        }
                        WalkControl::Stop => return Ok(()),
                    }
                }
            }
        }
        if seen == 0 && !has_hint && path != "/" {
            return Err(DriverError::path_not_found(path));
        }
        Ok(())
    }

    fn s3_bucket_key(&self, path: &str) -> Option<String> {
        Some(self.key(path))
    }

    fn client_stats(&self) -> Option<crate::client::ClientStats> {
        Some(self.client().stats())
    }

    /// Aborts the multipart uploads below `path` initiated before `older_than` (uploads
    /// without an `Initiated` time are left alone). Servers without ListMultipartUploads
    /// (s3s-fs) have nothing to report.
    async fn purge_incomplete_writes(
        &self,
        path: &str,
        older_than: SystemTime,
        dry_run: bool,
    ) -> Result<IncompleteWrites, DriverError> {
        let mut report = IncompleteWrites::default();
        let cutoff = older_than
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(i64::MIN, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let Some(uploads) = self.list_uploads(&self.dir_prefix(path)).await? else {
            return Ok(report);
        };
        for u in uploads {
            if u.initiated
                .as_ref()
                .is_none_or(|t| t.unix_seconds >= cutoff)
            {
                continue;
            }
            let p = self.path_of(&u.key);
            if !dry_run {
                match self
                    .inner
                    .client
                    .abort_multipart_upload(&u.key, &u.upload_id)
                    .await
                {
                    Ok(()) => self.forget_upload(&u.key),
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => {
                        report.errors.push(format!("{p}: {e}"));
                        continue;
                    }
                }
            }
            report.removed.push(p);
        }
        Ok(report)
    }
}

/// The directories between `prev` (the previous file's directory, `""` for the walk root)
/// and `file`, outermost first: those that are ancestors of `file` but not of `prev`.
fn directory_diff(prev: &str, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut dir = crate::driver::parent_path(file);
    while dir != "/" && !dir.is_empty() {
        let is_prev_ancestor = prev == dir || prev.starts_with(&format!("{dir}/"));
        if is_prev_ancestor {
            break;
        }
        out.push(dir.to_owned());
        dir = crate::driver::parent_path(dir);
    }
    out.reverse();
    out
}

/// Replaces `base` (`scheme://host[:port]`, what the client's URLs start with) at the start of
/// `url` with `origin`; the path and query stay byte for byte (a URL parser would rewrite
/// `.`/`..` segments, which storage paths may have, and break the signature).
fn swap_origin(url: &str, base: &str, origin: &str) -> String {
    match url.strip_prefix(base) {
        Some(rest) => format!("{origin}{rest}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_diff_infers_new_ancestors() {
        assert_eq!(directory_diff("", "/a/b/c"), vec!["/a", "/a/b"]);
        assert_eq!(directory_diff("/a", "/a/b/c"), vec!["/a/b"]);
        assert_eq!(directory_diff("/a/b", "/a/b/c"), Vec::<String>::new());
        assert_eq!(directory_diff("/a/b", "/a/x/c"), vec!["/a/x"]);
        assert_eq!(
            directory_diff("/folder1", "/folder1-suffix/f"),
            vec!["/folder1-suffix"]
        );
        assert_eq!(directory_diff("", "/file"), Vec::<String>::new());
    }

    #[test]
    fn swap_origin_keeps_path_and_query() {
        assert_eq!(
            swap_origin(
                "http://127.0.0.1:9000/b/k?X-Amz-Signature=1",
                "http://127.0.0.1:9000",
                "https://cdn.example.com"
            ),
            "https://cdn.example.com/b/k?X-Amz-Signature=1"
        );
        assert_eq!(
            swap_origin(
                "http://127.0.0.1:9000/b/a/../k?X-Amz-Signature=1",
                "http://127.0.0.1:9000",
                "https://cdn.example.com"
            ),
            "https://cdn.example.com/b/a/../k?X-Amz-Signature=1"
        );
    }
}
