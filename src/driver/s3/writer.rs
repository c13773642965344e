//! The S3 driver's resumable writer: a multipart upload of fixed `chunksize` parts.
//!
//! * `write` buffers up to `chunksize` bytes and uploads each full buffer as the next part in
//!   the background while the next one fills, so a writer holds the part filling plus at most
//!   `maxconcurrentparts` (default 2) being sent. Buffers are reserved from the driver's budget
//!   (`budget.rs`).
//! * `close` uploads whatever is buffered (possibly a part shorter than 5 MiB) so that
//!   `writer(path, append = true)` can resume the upload later, from this process or another.
//! * Resuming finds the upload (this process's record of it, else ListMultipartUploads by
//!   exact key) and its parts (ListParts, all pages). S3 only accepts a short part as the
//!   last one, so the first `write` after resuming behind a short part completes the upload
//!   and continues with the completed object as the *base* of the content: the next
//!   multipart upload starts with it (UploadPartCopy, or a GET into the buffer when it is
//!   under 5 MiB), as Distribution does.
//! * A committed object with no multipart upload is resumed the same way (its bytes are the
//!   base), so every state this writer can leave behind, whatever failed in between, resumes
//!   at exactly the bytes that are stored.
//! * `commit` uploads the rest and completes the upload. A writer that never needed a part
//!   (small content, never closed) commits with a single PutObject instead.
//!
//! Failures never destroy what is stored: a failed request marks the writer failed (later
//! calls other than `cancel` are refused, and `close` uploads nothing more), a failed
//! CompleteMultipartUpload leaves the upload in place, and a resume finds the stored state
//! again. Only `cancel` aborts.

use std::fmt;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use sha2::{Digest as _, Sha256};
use tokio::sync::OwnedSemaphorePermit;

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
    /// A request failed: what is stored is intact but this writer no longer knows exactly
    /// what; only `cancel` is allowed.
    Failed,
}

#[derive(Debug, Clone)]
pub(super) struct UploadedPart {
    number: u32,
    /// `None` when the server's ListParts omitted it and this process did not upload the
    /// part: the writer still knows its size (enough to report where the upload stands),
    /// but can neither complete the upload nor name its version.
    etag: Option<ETag>,
    size: u64,
}

/// What this process remembers of an upload it closed without committing.
#[derive(Debug, Clone)]
pub(super) struct OpenUpload {
    upload_id: String,
    etags: Vec<(u32, ETag)>,
    /// The content did not begin with a committed object at the key: while the upload has
    /// no parts, there is no base object to look for (one HEAD saved per resume).
    without_base: bool,
}

/// A part upload in the background: the part, and its buffer with its budget reservation
/// when they can be reused.
type PartTask = tokio::task::JoinHandle<
    Result<(UploadedPart, Option<(BytesMut, OwnedSemaphorePermit)>), DriverError>,
>;

/// A committed object at the writer's key whose bytes begin the content but are not part of
/// the multipart upload yet.
#[derive(Debug, Clone)]
struct BaseObject {
    size: u64,
    etag: Option<ETag>,
}

/// The parts S3 lists for an upload, with ETags from `known` where the server omits them.
fn merge_parts(listed: Vec<crate::xml::Part>, known: &[(u32, ETag)]) -> Vec<UploadedPart> {
    listed
        .into_iter()
        .map(|p| UploadedPart {
            etag: p.etag.or_else(|| {
                known
                    .iter()
                    .find(|(n, _)| *n == p.part_number)
                    .map(|(_, e)| e.clone())
            }),
            number: p.part_number,
            size: p.size,
        })
        .collect()
}

/// A writer for one key (see the [module docs](self)).
pub(super) struct S3Writer {
    driver: S3Driver,
    key: String,
    upload_id: Option<String>,
    parts: Vec<UploadedPart>,
    base: Option<BaseObject>,
    /// Bytes written, including resumed parts, the base and the buffer.
    size: u64,
    buf: BytesMut,
    /// The budget reservation backing `buf` (taken when a buffer starts to fill).
    buf_permit: Option<OwnedSemaphorePermit>,
    /// The parts being uploaded while the next one fills `buf`, oldest first: at most
    /// `maxconcurrentparts` (default 2, so memory stays within three parts).
    inflight: std::collections::VecDeque<PartTask>,
    /// A buffer (with its budget reservation) a finished part upload gave back, reused for the
    /// next part instead of freeing and allocating `chunksize` bytes again.
    spare: Option<(BytesMut, OwnedSemaphorePermit)>,
    /// The content begins with a committed object at the key that no uploaded part holds
    /// yet (it is `base`, or in the buffer): until the first part is stored, that object alone
    /// is the resumable state, so a multipart upload without parts is aborted on failure.
    continues_base: bool,
    /// The content began with a committed object at the key (dropped too by `cancel`).
    began_with_object: bool,
    state: State,
}

impl fmt::Debug for S3Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Writer")
            .field("key", &self.key)
            .field("upload_id", &self.upload_id)
            .field("parts", &self.parts.len())
            .field("base", &self.base.as_ref().map(|b| b.size))
            .field("size", &self.size)
            .field("buffered", &self.buf.len())
            .field("parts_in_flight", &self.inflight.len())
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
    let mut found = None;
    let mut without_base = false;
    if let Some(open) = cached {
        match client.list_all_parts(&key, &open.upload_id).await {
            Ok(listed) => {
                without_base = open.without_base;
                found = Some((open.upload_id, merge_parts(listed, &open.etags)));
            }
            // Completed or aborted elsewhere: look it up again.
            Err(e) if e.is_not_found() => driver.forget_upload(&key),
            Err(e) => return Err(client_err(e)),
        }
    }
    if found.is_none() {
        if let Some(upload_id) = find_upload(driver, &key).await? {
            let listed = client
                .list_all_parts(&key, &upload_id)
                .await
                .map_err(client_err)?;
            found = Some((upload_id, merge_parts(listed, &[])));
        }
    }
    if let Some((upload_id, parts)) = found {
        let mut w = S3Writer::new(driver.clone(), key, Some(upload_id), parts);
        if w.parts.is_empty() && !without_base {
            // An upload without parts continues a committed object when there is one (the
            // writer failed between starting the upload and sending its first part). An
            // upload this process started without one has none: another writer can only add
            // parts to it (then it has parts) or complete it (then the record is gone).
            w.base = base_object(driver, &w.key).await?;
            w.size = w.base.as_ref().map_or(0, |b| b.size);
            w.continues_base = w.base.is_some();
            w.began_with_object = w.continues_base;
        }
        return Ok(Box::new(w));
    }
    match client.head_object(&key).await {
        Ok(meta) => {
            let mut w = S3Writer::new(driver.clone(), key, None, Vec::new());
            if meta.size > 0 {
                w.size = meta.size;
                w.base = Some(BaseObject {
                    size: meta.size,
                    etag: meta.etag,
                });
                w.continues_base = true;
                w.began_with_object = true;
            }
            Ok(Box::new(w))
        }
        Err(e) if e.is_not_found() => Err(DriverError::path_not_found(path)),
        Err(e) => Err(client_err(e)),
    }
}

/// The committed, non-empty object at `key`, if any.
async fn base_object(driver: &S3Driver, key: &str) -> Result<Option<BaseObject>, DriverError> {
    match driver.client().head_object(key).await {
        Ok(meta) if meta.size > 0 => Ok(Some(BaseObject {
            size: meta.size,
            etag: meta.etag,
        })),
        Ok(_) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(client_err(e)),
    }
}

/// The most recently started multipart upload of exactly `key`.
async fn find_upload(driver: &S3Driver, key: &str) -> Result<Option<String>, DriverError> {
    // Servers without ListMultipartUploads (s3s-fs) can only resume uploads this process
    // recorded.
    let uploads = driver.list_uploads(key).await?.unwrap_or_default();
    let mut best: Option<(Option<i64>, String)> = None;
    for upload in uploads.into_iter().filter(|u| u.key == key) {
        let started = upload.initiated.as_ref().map(|t| t.unix_seconds);
        if best.as_ref().is_none_or(|(b, _)| started >= *b) {
            best = Some((started, upload.upload_id));
        }
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
        crate::sort::sort_by_key(&mut parts, |p| p.number);
        // The content is the parts numbered 1, 2, ... without a gap: with several parts in
        // flight, a failed one can leave later ones stored; they are uploaded again (and so
        // replaced) when the upload continues, and never completed as they are.
        let contiguous = parts
            .iter()
            .enumerate()
            .take_while(|(i, p)| p.number as usize == i + 1)
            .count();
        parts.truncate(contiguous);
        let size = parts.iter().map(|p| p.size).sum();
        Self {
            driver,
            key,
            upload_id,
            parts,
            base: None,
            size,
            buf: BytesMut::new(),
            buf_permit: None,
            inflight: std::collections::VecDeque::new(),
            spare: None,
            continues_base: false,
            began_with_object: false,
            state: State::Open,
        }
    }

    /// Records the upload in the driver so that this process can resume it cheaply.
    fn record(&self) {
        if let Some(upload_id) = &self.upload_id {
            let etags = self
                .parts
                .iter()
                .filter_map(|p| Some((p.number, p.etag.clone()?)))
                .collect();
            self.driver.remember_upload(
                &self.key,
                OpenUpload {
                    upload_id: upload_id.clone(),
                    etags,
                    without_base: !self.began_with_object
                        && !self.continues_base
                        && self.base.is_none(),
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
            State::Failed => Err(DriverError::msg(
                "an earlier request of this writer failed; what is stored is intact: open a new \
                 writer to resume it",
            )),
        }
    }

    /// Marks the writer failed when `r` is an error (see the [module docs](self)).
    fn failing<T>(&mut self, r: Result<T, DriverError>) -> Result<T, DriverError> {
        if r.is_err() {
            self.state = State::Failed;
            self.buf = BytesMut::new();
            self.buf_permit = None;
            self.spare = None;
        }
        r
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
            .map_err(|e| self.driver.write_err(e))?;
        self.upload_id = Some(id.clone());
        self.record();
        Ok(id)
    }

    /// Makes sure `buf` is backed by a budget reservation before it fills (reusing the buffer
    /// of a finished part when there is one).
    ///
    /// With the budget short, this writer's own parts in flight hold what it waits for (a part
    /// gives its buffer back only when collected): they are collected, oldest first, before it
    /// waits for room, so a writer never waits on itself.
    async fn reserve_buffer(&mut self) -> Result<(), DriverError> {
        let chunk = self.driver.inner.params.chunk_size;
        if self.buf_permit.is_some() {
            return Ok(());
        }
        let permit = loop {
            if self.buf.is_empty() {
                if let Some((buf, permit)) = self.spare.take() {
                    self.buf = buf;
                    self.buf_permit = Some(permit);
                    return Ok(());
                }
            }
            if self.inflight.is_empty() {
                break self.driver.inner.budget.reserve(chunk).await?;
            }
            match self.driver.inner.budget.try_reserve(chunk) {
                Some(permit) => break permit,
                None => self.wait_oldest().await?,
            }
        };
        self.buf_permit = Some(permit);
        if self.buf.capacity() == 0 {
            self.buf = BytesMut::with_capacity(self.chunk_size().min(MAX_PREALLOC));
        }
        Ok(())
    }

    /// Moves the base object into the content being uploaded: as part 1 by UploadPartCopy,
    /// or, when it is too small to be a part, into the front of the buffer.
    async fn take_base(&mut self) -> Result<(), DriverError> {
        let Some(base) = self.base.clone() else {
            return Ok(());
        };
        let client = self.driver.client().clone();
        if base.size < MIN_CHUNK_SIZE.unsigned_abs() {
            self.reserve_buffer().await?;
            let content = client
                .get_object(&self.key, None)
                .await
                .map_err(client_err)?
                .bytes()
                .await
                .map_err(client_err)?;
            if content.len() as u64 != base.size {
                return Err(DriverError::msg(format!(
                    "the stored object changed while resuming it ({} bytes, expected {})",
                    content.len(),
                    base.size
                )));
            }
            let mut buf = BytesMut::with_capacity(
                (content.len() + self.buf.len()).max(self.chunk_size().min(MAX_PREALLOC)),
            );
            buf.extend_from_slice(&content);
            buf.extend_from_slice(&self.buf);
            self.buf = buf;
            self.base = None;
            return Ok(());
        }
        let upload_id = self.ensure_upload().await?;
        match client
            .upload_part_copy(&self.key, &upload_id, 1, &self.key, None)
            .await
        {
            Ok(copied) => {
                self.parts.push(UploadedPart {
                    number: 1,
                    etag: Some(copied.etag),
                    size: base.size,
                });
                self.base = None;
                self.continues_base = false;
                self.record();
                Ok(())
            }
            Err(e) => {
                self.abort_base_upload().await;
                Err(client_err(e))
            }
        }
    }

    /// Aborts an upload that only continues the base object and has no part yet, so that the
    /// object alone stays the resumable state.
    async fn abort_base_upload(&mut self) {
        if !(self.continues_base && self.parts.is_empty()) {
            return;
        }
        if let Some(id) = self.upload_id.take() {
            self.driver.forget_upload(&self.key);
            // Best effort: the caller reports the failure that led here, and an upload left
            // behind is removed by the registry's upload purger (it holds no data).
            let _ = self
                .driver
                .client()
                .abort_multipart_upload(&self.key, &id)
                .await;
        }
    }

    /// Starts uploading up to `chunksize` buffered bytes as the next part, in the background
    /// (once fewer than `maxconcurrentparts` are in flight), so that the caller can fill the
    /// next part meanwhile.
    async fn flush_part(&mut self) -> Result<(), DriverError> {
        let depth = self.driver.inner.params.max_concurrent_parts.max(1);
        while self.inflight.len() >= depth {
            self.wait_oldest().await?;
        }
        let upload_id = self.ensure_upload().await?;
        // The buffer never holds more than one part (`write` flushes at `chunksize`; a small
        // base taken into it is under 5 MiB): hand it over whole, with its reservation. The next
        // buffer is reused or reserved when data comes.
        let data = std::mem::take(&mut self.buf).freeze();
        let n = data.len();
        let permit = self.buf_permit.take();
        let number = u32::try_from(self.parts.len() + self.inflight.len() + 1).unwrap_or(u32::MAX);
        let client = self.driver.client().clone();
        let key = self.key.clone();
        self.inflight.push_back(tokio::spawn(async move {
            let kept = data.clone();
            let etag = client
                .upload_part(&key, &upload_id, number, data)
                .await
                .map_err(client_err)?;
            // The request is done with the bytes: give the buffer back for the next part.
            let reusable = kept.try_into_mut().ok().zip(permit).map(|(mut b, p)| {
                b.clear();
                (b, p)
            });
            Ok((
                UploadedPart {
                    number,
                    etag: Some(etag),
                    size: n as u64,
                },
                reusable,
            ))
        }));
        Ok(())
    }

    /// Waits for the oldest part in flight and records it.
    async fn wait_oldest(&mut self) -> Result<(), DriverError> {
        let Some(task) = self.inflight.pop_front() else {
            return Ok(());
        };
        let (part, reusable) = match task.await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                self.abort_base_upload().await;
                return Err(e);
            }
            Err(e) => {
                self.abort_base_upload().await;
                return Err(DriverError::msg(format!(
                    "the part upload task failed: {e}"
                )));
            }
        };
        self.parts.push(part);
        self.continues_base = false;
        if self.spare.is_none() {
            self.spare = reusable;
        }
        self.record();
        Ok(())
    }

    /// Waits for every part in flight and records them.
    async fn wait_inflight(&mut self) -> Result<(), DriverError> {
        while !self.inflight.is_empty() {
            self.wait_oldest().await?;
        }
        self.spare = None;
        Ok(())
    }

    fn completed_parts(&self) -> Result<Vec<CompletedPart>, DriverError> {
        let mut parts = self
            .parts
            .iter()
            .map(|p| {
                Ok(CompletedPart {
                    part_number: p.number,
                    etag: p.etag.clone().ok_or_else(|| {
                        DriverError::msg(format!(
                            "the server's ListParts gave no ETag for part {}, so this process \
                             cannot complete the upload (the process that uploaded the part can)",
                            p.number
                        ))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, DriverError>>()?;
        crate::sort::sort_by_key(&mut parts, |p| p.part_number);
        Ok(parts)
    }

    /// Completes the upload. A failure leaves it in place (and recorded), so that it can be
    /// resumed and completed again.
    async fn complete(&mut self, upload_id: &str) -> Result<(), DriverError> {
        let parts = self.completed_parts()?;
        self.driver
            .client()
            .complete_multipart_upload(&self.key, upload_id, &parts)
            .await
            .map_err(|e| {
                DriverError::msg(format!(
                    "completing the multipart upload failed; it is kept and can be resumed: {e}"
                ))
            })?;
        self.driver.forget_upload(&self.key);
        Ok(())
    }

    /// The last part is shorter than S3's minimum, so no part can follow it: complete the
    /// upload; the completed object becomes the base of what follows.
    async fn restart_after_short_part(&mut self) -> Result<(), DriverError> {
        self.wait_inflight().await?;
        let Some(old_id) = self.upload_id.clone() else {
            return Ok(());
        };
        self.complete(&old_id).await?;
        let total = self.parts.iter().map(|p| p.size).sum::<u64>();
        self.upload_id = None;
        self.parts.clear();
        self.base = Some(BaseObject {
            size: total,
            etag: None,
        });
        self.continues_base = true;
        self.began_with_object = true;
        Ok(())
    }

    async fn write_inner(&mut self, p: &[u8]) -> Result<(), DriverError> {
        if self
            .parts
            .last()
            .is_some_and(|last| last.size < MIN_CHUNK_SIZE.unsigned_abs())
        {
            self.restart_after_short_part().await?;
        }
        if self.base.is_some() {
            self.take_base().await?;
        }
        let chunk = self.chunk_size();
        let mut rest = p;
        while !rest.is_empty() {
            self.reserve_buffer().await?;
            let n = (chunk - self.buf.len().min(chunk)).min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            self.size += n as u64;
            if self.buf.len() >= chunk {
                self.flush_part().await?;
            }
        }
        Ok(())
    }

    async fn close_inner(&mut self) -> Result<(), DriverError> {
        if self.base.is_some() {
            // Nothing was written since resuming: the object is still the whole content.
            return Ok(());
        }
        self.ensure_upload().await?;
        if !self.buf.is_empty() {
            self.flush_part().await?;
        }
        self.wait_inflight().await?;
        self.record();
        self.buf = BytesMut::new();
        self.buf_permit = None;
        Ok(())
    }

    async fn commit_inner(&mut self) -> Result<(), DriverError> {
        if self.base.is_some() {
            // Nothing was written since resuming a committed object: it is the content. An
            // upload without parts next to it is dropped.
            self.abort_base_upload().await;
            return Ok(());
        }
        let Some(upload_id) = self.upload_id.clone() else {
            // Nothing was ever uploaded: one PutObject, no multipart upload.
            let body = std::mem::take(&mut self.buf).freeze();
            self.driver
                .client()
                .put_object(&self.key, body, &self.driver.inner.write_opts)
                .await
                .map_err(|e| self.driver.write_err(e))?;
            self.buf_permit = None;
            self.driver.committed(&self.key, self.size);
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
                etag: Some(etag),
                size: 0,
            });
        }
        self.complete(&upload_id).await?;
        self.buf = BytesMut::new();
        self.buf_permit = None;
        self.driver.committed(&self.key, self.size);
        Ok(())
    }
}

#[async_trait]
impl FileWriter for S3Writer {
    async fn write(&mut self, p: &[u8]) -> Result<usize, DriverError> {
        self.check_open()?;
        let r = self.write_inner(p).await;
        self.failing(r)?;
        Ok(p.len())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn close(&mut self) -> Result<(), DriverError> {
        match self.state {
            State::Committed => return Ok(()),
            State::Open => {}
            _ => self.check_open()?,
        }
        self.state = State::Closed;
        let r = self.close_inner().await;
        self.failing(r)
    }

    async fn cancel(&mut self) -> Result<(), DriverError> {
        if self.state != State::Failed {
            self.check_open()?;
        }
        self.state = State::Cancelled;
        self.buf = BytesMut::new();
        self.buf_permit = None;
        for task in self.inflight.drain(..) {
            task.abort();
        }
        self.spare = None;
        if let Some(id) = self.upload_id.take() {
            self.driver.forget_upload(&self.key);
            self.driver
                .client()
                .abort_multipart_upload(&self.key, &id)
                .await
                .map_err(client_err)?;
        }
        if self.began_with_object {
            // The committed object the content began with is part of what is dropped.
            match self.driver.client().delete_object(&self.key).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(client_err(e)),
            }
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        self.check_open()?;
        self.state = State::Committed;
        let r = self.commit_inner().await;
        self.failing(r)
    }

    fn version(&self) -> Option<String> {
        if !matches!(self.state, State::Open | State::Closed)
            || !self.buf.is_empty()
            || !self.inflight.is_empty()
        {
            return None;
        }
        let mut h = Sha256::new();
        if let Some(id) = &self.upload_id {
            h.update(b"upload\0");
            h.update(id.as_bytes());
            for p in &self.parts {
                let etag = p.etag.as_ref()?;
                h.update(format!("\0{}:{}:{}", p.number, etag.unquoted(), p.size).as_bytes());
            }
        }
        if let Some(b) = &self.base {
            h.update(b"\0object\0");
            // A base found by this writer's own completion has no ETag yet: it cannot be
            // compared with anything, so there is no version.
            h.update(b.etag.as_ref()?.unquoted().as_bytes());
            h.update(format!(":{}", b.size).as_bytes());
        }
        if self.upload_id.is_none() && self.base.is_none() {
            h.update(b"empty");
        }
        let d = h.finalize();
        Some(d[..16].iter().map(|b| format!("{b:02x}")).collect())
    }
}
