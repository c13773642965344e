//! The S3 driver's resumable writer: a multipart upload of fixed `chunksize` parts.
//!
//! * `write` buffers up to `chunksize` bytes and uploads each full buffer as the next part in
//!   the background while the next one fills, so a writer holds at most one part in memory plus
//!   the one being sent.
//! * `close` uploads whatever is buffered (possibly a part shorter than 5 MiB) so that
//!   `writer(path, append = true)` can resume the upload later, from this process or another.
//! * Resuming finds the upload (this process's record of it, else ListMultipartUploads by
//!   exact key) and its parts (ListParts, all pages). S3 only accepts a short part as the
//!   last one, so the first `write` after resuming behind a short part completes the upload,
//!   starts a new one and re-uses the object as its first part (UploadPartCopy, or a GET into
//!   the buffer when it is under 5 MiB), as Distribution does.
//! * `commit` uploads the rest and completes the upload; if it fails the upload is aborted.
//!   A writer that never needed a part (small content, never closed) commits with a single
//!   PutObject instead of a multipart upload.

use std::fmt;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::{client_err, S3Driver, MIN_CHUNK_SIZE};
use crate::driver::{DriverError, FileWriter};
use crate::xml::{CompletedPart, ETag};

/// The largest buffer allocated up front; larger `chunksize`s grow the buffer as data comes.
const MAX_PREALLOC: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    Committed,
    Cancelled,
}

#[derive(Debug, Clone)]
pub(super) struct UploadedPart {
    number: u32,
    etag: ETag,
    size: u64,
}

/// What this process remembers of an upload it closed without committing.
#[derive(Debug, Clone)]
pub(super) struct OpenUpload {
    upload_id: String,
    etags: Vec<(u32, ETag)>,
}

/// The parts S3 lists for an upload, with ETags from `known` where the server omits them.
fn merge_parts(
    listed: Vec<crate::xml::Part>,
    known: &[(u32, ETag)],
) -> Result<Vec<UploadedPart>, DriverError> {
    listed
        .into_iter()
        .map(|p| {
            let etag = p
                .etag
                .or_else(|| known.iter().find(|(n, _)| *n == p.part_number).map(|(_, e)| e.clone()))
                .ok_or_else(|| {
                    DriverError::msg(format!(
                        "the server's ListParts gave no ETag for part {}; this upload cannot be resumed here",
                        p.part_number
                    ))
                })?;
            Ok(UploadedPart {
                number: p.part_number,
                etag,
                size: p.size,
            })
        })
        .collect()
}

/// A writer for one key (see the [module docs](self)).
pub(super) struct S3Writer {
    driver: S3Driver,
    key: String,
    upload_id: Option<String>,
    parts: Vec<UploadedPart>,
    /// Bytes written, including resumed parts and the buffer.
    size: u64,
    buf: BytesMut,
    /// The part being uploaded while the next one fills `buf` (at most one: memory stays
    /// within two parts).
    inflight: Option<tokio::task::JoinHandle<Result<UploadedPart, DriverError>>>,
    state: State,
}

impl fmt::Debug for S3Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Writer")
            .field("key", &self.key)
            .field("upload_id", &self.upload_id)
            .field("parts", &self.parts.len())
            .field("size", &self.size)
            .field("buffered", &self.buf.len())
            .field("part_in_flight", &self.inflight.is_some())
            .field("state", &self.state)
            .finish()
    }
}

/// Finds what `writer(path, append = true)` resumes; see the [module docs](self).
pub(super) async fn resume(
    driver: &S3Driver,
    path: &str,
    key: String,
) -> Result<Box<dyn FileWriter>, DriverError> {
    let client = driver.client();
    let cached = driver.uploads().get(&key).cloned();
    if let Some(open) = cached {
        match client.list_all_parts(&key, &open.upload_id).await {
            Ok(listed) => {
                let parts = merge_parts(listed, &open.etags)?;
                return Ok(Box::new(S3Writer::new(
                    driver.clone(),
                    key,
                    Some(open.upload_id),
                    parts,
                )));
            }
            // Completed or aborted elsewhere: look it up again.
            Err(e) if e.is_not_found() => driver.forget_upload(&key),
            Err(e) => return Err(client_err(e)),
        }
    }
    if let Some(upload_id) = find_upload(driver, &key).await? {
        let listed = client
            .list_all_parts(&key, &upload_id)
            .await
            .map_err(client_err)?;
        let parts = merge_parts(listed, &[])?;
        return Ok(Box::new(S3Writer::new(
            driver.clone(),
            key,
            Some(upload_id),
            parts,
        )));
    }
    match client.head_object(&key).await {
        Ok(meta) if meta.size == 0 => Ok(Box::new(S3Writer::new(driver.clone(), key, None, Vec::new()))),
        Ok(meta) => Err(DriverError::msg(format!(
            "cannot append to {path}: it is committed with {} bytes, and S3 can only resume uncommitted \
             uploads or append to empty content",
            meta.size
        ))),
        Err(e) if e.is_not_found() => Err(DriverError::path_not_found(path)),
        Err(e) => Err(client_err(e)),
    }
}

/// The most recently started multipart upload of exactly `key` (ListMultipartUploads, all
/// pages).
async fn find_upload(driver: &S3Driver, key: &str) -> Result<Option<String>, DriverError> {
    let client = driver.client();
    let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
    let mut best: Option<(Option<i64>, String)> = None;
    loop {
        let page = match client
            .list_multipart_uploads(key, key_marker.as_deref(), id_marker.as_deref())
            .await
        {
            Ok(page) => page,
            // Servers without ListMultipartUploads (s3s-fs) can only resume uploads this
            // process recorded.
            Err(e) if e.status() == Some(501) => return Ok(None),
            Err(e) => return Err(client_err(e)),
        };
        for upload in page.uploads.into_iter().filter(|u| u.key == key) {
            let started = upload.initiated.as_ref().map(|t| t.unix_seconds);
            if best.as_ref().is_none_or(|(b, _)| started >= *b) {
                best = Some((started, upload.upload_id));
            }
        }
        if !page.is_truncated {
            break;
        }
        let next = (page.next_key_marker, page.next_upload_id_marker);
        if next.0.is_none() && next.1.is_none() || (next.0 == key_marker && next.1 == id_marker) {
            return Err(DriverError::msg(
                "ListMultipartUploads is truncated but its next markers do not advance",
            ));
        }
        (key_marker, id_marker) = next;
    }
    Ok(best.map(|(_, id)| id))
}

impl S3Writer {
    pub(super) fn new(
        driver: S3Driver,
        key: String,
        upload_id: Option<String>,
        mut parts: Vec<UploadedPart>,
    ) -> Self {
        parts.sort_by_key(|p| p.number);
        let size = parts.iter().map(|p| p.size).sum();
        let chunk = usize::try_from(driver.inner.params.chunk_size).unwrap_or(usize::MAX);
        Self {
            driver,
            key,
            upload_id,
            parts,
            size,
            buf: BytesMut::with_capacity(chunk.min(MAX_PREALLOC)),
            inflight: None,
            state: State::Open,
        }
    }

    /// Records the upload in the driver so that this process can resume it cheaply.
    fn record(&self) {
        if let Some(upload_id) = &self.upload_id {
            let etags = self
                .parts
                .iter()
                .map(|p| (p.number, p.etag.clone()))
                .collect();
            self.driver.remember_upload(
                &self.key,
                OpenUpload {
                    upload_id: upload_id.clone(),
                    etags,
                },
            );
        }
    }

    fn chunk_size(&self) -> usize {
        usize::try_from(self.driver.inner.params.chunk_size).unwrap_or(usize::MAX)
    }

    fn check_open(&self) -> Result<(), DriverError> {
        match self.state {
            State::Open => Ok(()),
            State::Closed => Err(DriverError::msg("already closed")),
            State::Committed => Err(DriverError::msg("already committed")),
            State::Cancelled => Err(DriverError::msg("already cancelled")),
        }
    }

    async fn ensure_upload(&mut self) -> Result<String, DriverError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let id = self
            .driver
            .client()
            .create_multipart_upload(&self.key, &self.driver.inner.write_opts)
            .await
            .map_err(client_err)?;
        self.upload_id = Some(id.clone());
        self.record();
        Ok(id)
    }

    /// Starts uploading up to `chunksize` buffered bytes as the next part, in the background
    /// (after the previous part has finished), so that the caller can fill the next part
    /// meanwhile.
    async fn flush_part(&mut self) -> Result<(), DriverError> {
        self.wait_inflight().await?;
        let upload_id = self.ensure_upload().await?;
        let chunk = self.chunk_size();
        let n = self.buf.len().min(chunk);
        // Hand the whole buffer to the upload and start a fresh one of exactly one part:
        // growing a buffer by doubling while the old one is still being sent would hold
        // several parts at once.
        let data: Bytes = if n == self.buf.len() {
            std::mem::replace(
                &mut self.buf,
                BytesMut::with_capacity(chunk.min(MAX_PREALLOC)),
            )
            .freeze()
        } else {
            self.buf.split_to(n).freeze()
        };
        let number = u32::try_from(self.parts.len() + 1).unwrap_or(u32::MAX);
        let client = self.driver.client().clone();
        let key = self.key.clone();
        self.inflight = Some(tokio::spawn(async move {
            let etag = client
                .upload_part(&key, &upload_id, number, data)
                .await
                .map_err(client_err)?;
            Ok(UploadedPart {
                number,
                etag,
                size: n as u64,
            })
        }));
        Ok(())
    }

    /// Waits for the part in flight, if any, and records it.
    async fn wait_inflight(&mut self) -> Result<(), DriverError> {
        if let Some(task) = self.inflight.take() {
            let part = task
                .await
                .map_err(|e| DriverError::msg(format!("the part upload task failed: {e}")))??;
            self.parts.push(part);
            self.record();
        }
        Ok(())
    }

    fn completed_parts(&self) -> Vec<CompletedPart> {
        let mut parts: Vec<CompletedPart> = self
            .parts
            .iter()
            .map(|p| CompletedPart {
                part_number: p.number,
                etag: p.etag.clone(),
            })
            .collect();
        parts.sort_by_key(|p| p.part_number);
        parts
    }

    /// Completes the upload, aborting it if completion fails.
    async fn complete(&mut self, upload_id: &str) -> Result<(), DriverError> {
        let client = self.driver.client();
        let parts = self.completed_parts();
        if let Err(e) = client
            .complete_multipart_upload(&self.key, upload_id, &parts)
            .await
        {
            self.driver.forget_upload(&self.key);
            return Err(
                match client.abort_multipart_upload(&self.key, upload_id).await {
                    Ok(()) => client_err(e),
                    Err(a) => DriverError::msg(format!(
                        "completing the upload failed: {e}; aborting it failed too: {a}"
                    )),
                },
            );
        }
        self.driver.forget_upload(&self.key);
        Ok(())
    }

    /// The last part is shorter than S3's minimum, so no part can follow it: complete the
    /// upload and start a new one that begins with the completed object.
    async fn restart_after_short_part(&mut self) -> Result<(), DriverError> {
        self.wait_inflight().await?;
        let Some(old_id) = self.upload_id.take() else {
            return Ok(());
        };
        self.complete(&old_id).await?;
        let total = self.parts.iter().map(|p| p.size).sum::<u64>();
        self.parts.clear();
        let new_id = self.ensure_upload().await?;
        let client = self.driver.client();
        if total < MIN_CHUNK_SIZE.unsigned_abs() {
            let content = client
                .get_object(&self.key, None)
                .await
                .map_err(client_err)?
                .bytes()
                .await
                .map_err(client_err)?;
            let mut buf = BytesMut::with_capacity(content.len() + self.buf.len());
            buf.extend_from_slice(&content);
            buf.extend_from_slice(&self.buf);
            self.buf = buf;
        } else {
            let copied = client
                .upload_part_copy(&self.key, &new_id, 1, &self.key, None)
                .await
                .map_err(client_err)?;
            self.parts.push(UploadedPart {
                number: 1,
                etag: copied.etag,
                size: total,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl FileWriter for S3Writer {
    async fn write(&mut self, p: &[u8]) -> Result<usize, DriverError> {
        self.check_open()?;
        if self
            .parts
            .last()
            .is_some_and(|last| last.size < MIN_CHUNK_SIZE.unsigned_abs())
        {
            self.restart_after_short_part().await?;
        }
        let chunk = self.chunk_size();
        let mut rest = p;
        while !rest.is_empty() {
            let n = (chunk - self.buf.len().min(chunk)).min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            self.size += n as u64;
            if self.buf.len() >= chunk {
                self.flush_part().await?;
            }
        }
        Ok(p.len())
    }

    fn size(&self) -> i64 {
        i64::try_from(self.size).unwrap_or(i64::MAX)
    }

    async fn close(&mut self) -> Result<(), DriverError> {
        match self.state {
            State::Committed => return Ok(()),
            State::Open => {}
            _ => self.check_open()?,
        }
        self.state = State::Closed;
        self.ensure_upload().await?;
        if !self.buf.is_empty() {
            self.flush_part().await?;
        }
        self.wait_inflight().await?;
        self.record();
        self.buf = BytesMut::new();
        Ok(())
    }

    async fn cancel(&mut self) -> Result<(), DriverError> {
        self.check_open()?;
        self.state = State::Cancelled;
        self.buf = BytesMut::new();
        if let Some(task) = self.inflight.take() {
            task.abort();
        }
        if let Some(id) = self.upload_id.take() {
            self.driver.forget_upload(&self.key);
            self.driver
                .client()
                .abort_multipart_upload(&self.key, &id)
                .await
                .map_err(client_err)?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        self.check_open()?;
        self.state = State::Committed;
        let Some(upload_id) = self.upload_id.clone() else {
            // Nothing was ever uploaded: one PutObject, no multipart upload.
            let body = std::mem::take(&mut self.buf).freeze();
            self.driver
                .client()
                .put_object(&self.key, body, &self.driver.inner.write_opts)
                .await
                .map_err(client_err)?;
            return Ok(());
        };
        while !self.buf.is_empty() {
            self.flush_part().await?;
        }
        self.wait_inflight().await?;
        if self.parts.is_empty() {
            // An upload cannot be completed without parts: send an empty one.
            let etag = self
                .driver
                .client()
                .upload_part(&self.key, &upload_id, 1, Bytes::new())
                .await
                .map_err(client_err)?;
            self.parts.push(UploadedPart {
                number: 1,
                etag,
                size: 0,
            });
        }
        self.complete(&upload_id).await?;
        self.buf = BytesMut::new();
        Ok(())
    }
}
