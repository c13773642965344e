//! Blob uploads (Distribution's `blobupload.go`, `linkedblobstore.go`,
//! `blobwriter.go`):
//!
//! * `POST .../blobs/uploads/` starts an upload: `startedat` is written, a writer
//!   for `data` is opened and closed (so `writer(data, append = true)` can
//!   resume it), 202 with `Location`, `Range: 0-0`, `Docker-Upload-UUID`;
//!   `?digest=` makes it monolithic (201), `?mount=&from=` links an existing blob
//!   of another repository (201) and falls back to a new upload;
//! * `PATCH` appends a chunk (`Content-Range` must start where the upload
//!   stands: 416 `RANGE_INVALID` otherwise);
//! * `PUT ?digest=` appends the last bytes, commits, verifies the digest, moves
//!   `data` to `blobs/<alg>/<xx>/<hex>/data` (unless that blob exists already),
//!   links it into the repository and removes `_uploads/<id>`;
//! * `GET` reports the offset (204), `DELETE` cancels (204).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, CONTENT_LENGTH, LOCATION, RANGE};
use hyper::{Request, StatusCode};
use tokio::io::AsyncReadExt;

use super::blobs::{parse_digest, DOCKER_CONTENT_DIGEST};
use super::digest::{Algorithm, Digest, Hasher};
use super::error::{ApiError, ApiErrors, ErrorCode};
use super::names::{is_valid_name, new_uuid};
use super::reply::Reply;
use super::router::{first, query_pairs};
use super::time::format_rfc3339;
use super::{paths, store, Ctx, HandlerResult};
use crate::driver::{DriverError, FileWriter, StorageDriver};

const DOCKER_UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");

/// The empty blob's digest (Distribution's `digestSha256Empty`).
const SHA256_EMPTY: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Most upload hash states kept in memory; the oldest is dropped beyond it (the
/// upload then completes by re-reading its data).
const MAX_HASH_STATES: usize = 10_000;

/// sha256 states of uploads in progress, keyed by upload directory, valid at
/// the recorded offset.
#[derive(Debug, Default)]
pub(super) struct HashCache {
    states: Mutex<HashMap<String, (i64, Hasher, Instant)>>,
}

impl HashCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Hasher, Instant)>> {
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the state of `key` if it was saved at `offset`.
    fn take(&self, key: &str, offset: i64) -> Option<Hasher> {
        match self.lock().remove(key) {
            Some((o, h, _)) if o == offset => Some(h),
            _ => None,
        }
    }

    fn put(&self, key: String, offset: i64, hasher: Hasher) {
        let mut m = self.lock();
        if m.len() >= MAX_HASH_STATES && !m.contains_key(&key) {
            if let Some(oldest) = m.iter().min_by_key(|(_, v)| v.2).map(|(k, _)| k.clone()) {
                m.remove(&oldest);
            }
        }
        m.insert(key, (offset, hasher, Instant::now()));
    }

    fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

fn location(ctx: &Ctx<'_>, name: &str, id: &str) -> String {
    ctx.url(&format!("/v2/{name}/blobs/uploads/{id}"))
}

/// The 202/204 headers of an upload in progress (Distribution's
/// `blobUploadResponse`): `Range: 0-<size-1>` (`0-0` when empty).
fn progress(ctx: &Ctx<'_>, status: StatusCode, name: &str, id: &str, size: i64) -> Reply {
    let end = if size > 0 { size - 1 } else { 0 };
    Reply::new(status)
        .header(LOCATION, location(ctx, name, id))
        .header(RANGE, format!("0-{end}"))
        .header(DOCKER_UPLOAD_UUID, id)
}

fn created(ctx: &Ctx<'_>, name: &str, digest: &Digest) -> hyper::Response<super::body::Body> {
    Reply::new(StatusCode::CREATED)
        .header(LOCATION, ctx.url(&format!("/v2/{name}/blobs/{digest}")))
        .header(DOCKER_CONTENT_DIGEST, digest.to_string())
        .empty()
}

fn upload_unknown(id: &str) -> ApiErrors {
    ErrorCode::BlobUploadUnknown
        .with_detail(serde_json::json!({ "uuid": id }))
        .into()
}

/// Checks the upload exists (its `startedat`) and opens its data for appending.
async fn resume(
    driver: &dyn StorageDriver,
    name: &str,
    id: &str,
) -> Result<Box<dyn FileWriter>, ApiErrors> {
    match driver
        .get_content(&paths::upload_started_at(name, id))
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_path_not_found() => return Err(upload_unknown(id)),
        Err(e) => return Err(e.into()),
    }
    match driver.writer(&paths::upload_data(name, id), true).await {
        Ok(w) => Ok(w),
        Err(e) if e.is_path_not_found() => Err(upload_unknown(id)),
        Err(e) => Err(e.into()),
    }
}

/// Creates a new upload: `startedat`, then an empty, closed-but-resumable `data`.
async fn create(
    driver: &dyn StorageDriver,
    name: &str,
) -> Result<(String, Box<dyn FileWriter>), ApiErrors> {
    let id = new_uuid().map_err(|e| {
        ErrorCode::Unknown.with_detail(format!("no randomness for an upload id: {e}"))
    })?;
    let started = format_rfc3339(SystemTime::now());
    driver
        .put_content(&paths::upload_started_at(name, &id), Bytes::from(started))
        .await
        .map_err(ApiError::from)?;
    let w = driver
        .writer(&paths::upload_data(name, &id), false)
        .await
        .map_err(ApiError::from)?;
    Ok((id, w))
}

/// What went wrong while copying a request body into storage.
enum CopyError {
    Client(hyper::Error),
    Storage(DriverError),
}

impl From<CopyError> for ApiErrors {
    fn from(e: CopyError) -> Self {
        match e {
            CopyError::Client(e) => ErrorCode::Unknown
                .with_detail(format!("reading the request body failed: {e}"))
                .into(),
            CopyError::Storage(e) => e.into(),
        }
    }
}

/// Streams `body` into `writer`, feeding `hasher`. Returns the bytes written.
async fn copy_body(
    body: Incoming,
    writer: &mut dyn FileWriter,
    hasher: &mut Option<Hasher>,
) -> Result<u64, CopyError> {
    let mut body = body;
    let mut written = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(CopyError::Client)?;
        if let Ok(data) = frame.into_data() {
            if data.is_empty() {
                continue;
            }
            writer.write(&data).await.map_err(CopyError::Storage)?;
            if let Some(h) = hasher.as_mut() {
                h.update(&data);
            }
            written += data.len() as u64;
        }
    }
    Ok(written)
}

/// `POST /v2/<name>/blobs/uploads/`.
pub(super) async fn start(ctx: &Ctx<'_>, req: Request<Incoming>, name: &str) -> HandlerResult {
    let q = query_pairs(req.uri().query());
    let driver = ctx.driver();
    if let (Some(mount), Some(from)) = (first(&q, "mount"), first(&q, "from")) {
        if let Some(resp) = try_mount(ctx, name, mount, from).await? {
            return Ok(resp);
        }
    }
    if let Some(digest) = first(&q, "digest") {
        let digest = parse_digest(digest)?;
        let (id, mut writer) = create(driver, name).await?;
        let key = paths::upload(name, &id);
        let mut hasher = Some(Algorithm::Sha256.hasher());
        if let Err(e) = copy_body(req.into_body(), writer.as_mut(), &mut hasher).await {
            let _ = writer.cancel().await;
            let _ = store::delete_if_exists(driver, &key).await;
            return Err(e.into());
        }
        return finish(ctx, name, &id, writer, hasher.map(|h| (0, h)), &digest).await;
    }
    let (id, mut writer) = create(driver, name).await?;
    writer.close().await.map_err(ApiError::from)?;
    ctx.state
        .hashes
        .put(paths::upload(name, &id), 0, Algorithm::Sha256.hasher());
    Ok(progress(ctx, StatusCode::ACCEPTED, name, &id, 0).empty())
}

/// Cross-repository mount: links `mount` from repository `from` into `name`.
/// `Ok(None)` when it cannot (the client then gets a normal upload).
async fn try_mount(
    ctx: &Ctx<'_>,
    name: &str,
    mount: &str,
    from: &str,
) -> Result<Option<hyper::Response<super::body::Body>>, ApiErrors> {
    let (Ok(digest), true) = (mount.parse::<Digest>(), is_valid_name(from)) else {
        return Ok(None);
    };
    let driver = ctx.driver();
    let Some(desc) = store::repo_blob(driver, from, &digest).await? else {
        return Ok(None);
    };
    store::link_layer(driver, name, &desc.digest, Some(&digest)).await?;
    tracing::debug!(%digest, from, to = name, "mounted blob");
    Ok(Some(created(ctx, name, &digest)))
}

/// `GET` (and `HEAD`) of an upload: where it stands.
pub(super) async fn status(ctx: &Ctx<'_>, name: &str, id: &str) -> HandlerResult {
    let mut w = resume(ctx.driver(), name, id).await?;
    let size = w.size();
    w.close().await.map_err(ApiError::from)?;
    Ok(progress(ctx, StatusCode::NO_CONTENT, name, id, size).empty())
}

/// Parses `Content-Range` as Distribution does (`<start>-<end>`, also with a
/// `bytes ` prefix and `/<total>` suffix).
fn parse_content_range(v: &str) -> Option<(i64, i64)> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes ")
        .or_else(|| v.strip_prefix("bytes="))
        .unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    Some((num(a.trim())?, num(b.trim())?))
}

/// `PATCH`: append a chunk.
pub(super) async fn patch(
    ctx: &Ctx<'_>,
    req: Request<Incoming>,
    name: &str,
    id: &str,
) -> HandlerResult {
    let driver = ctx.driver();
    let mut w = resume(driver, name, id).await?;
    let size = w.size();
    let header = |h| {
        req.headers()
            .get(h)
            .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
    };
    if let (Some(cr), Some(cl)) = (header(hyper::header::CONTENT_RANGE), header(CONTENT_LENGTH)) {
        let check = match parse_content_range(cr) {
            None => Err(ApiErrors::from(
                ErrorCode::RangeInvalid.with_detail(format!("malformed Content-Range {cr:?}")),
            )),
            Some((start, end)) if start > end || start != size => {
                Err(ApiErrors::from(ErrorCode::RangeInvalid.with_detail(
                    format!("the chunk starts at {start} but the upload is at {size}"),
                )))
            }
            Some((start, end)) => match cl.trim().parse::<i64>() {
                Ok(len) if len == end - start + 1 => Ok(()),
                _ => Err(ApiErrors::from(ErrorCode::SizeInvalid.with_detail(
                    format!("Content-Length {cl} does not match Content-Range {cr}"),
                ))),
            },
        };
        if let Err(e) = check {
            w.close().await.map_err(ApiError::from)?;
            let mut resp = e.into_response();
            // Tell the client where the upload stands so it can continue.
            let p = progress(ctx, StatusCode::OK, name, id, size).empty();
            for h in [LOCATION, RANGE, DOCKER_UPLOAD_UUID] {
                if let Some(v) = p.headers().get(&h) {
                    resp.headers_mut().insert(h, v.clone());
                }
            }
            return Ok(resp);
        }
    }
    let key = paths::upload(name, id);
    let mut hasher = ctx.state.hashes.take(&key, size);
    let copied = copy_body(req.into_body(), w.as_mut(), &mut hasher).await;
    let closed = w.close().await;
    let new_size = w.size();
    match (copied, closed) {
        (Ok(_), Ok(())) => {
            if let Some(h) = hasher {
                ctx.state.hashes.put(key, new_size, h);
            }
            Ok(progress(ctx, StatusCode::ACCEPTED, name, id, new_size).empty())
        }
        (Err(e), _) => Err(e.into()),
        (_, Err(e)) => Err(ApiError::from(e).into()),
    }
}

/// `PUT ?digest=`: the last bytes, then commit and verification.
pub(super) async fn put(
    ctx: &Ctx<'_>,
    req: Request<Incoming>,
    name: &str,
    id: &str,
) -> HandlerResult {
    let driver = ctx.driver();
    let mut w = resume(driver, name, id).await?;
    let q = query_pairs(req.uri().query());
    let digest = match first(&q, "digest") {
        None | Some("") => {
            w.close().await.map_err(ApiError::from)?;
            return Err(ErrorCode::DigestInvalid
                .with_detail("digest missing")
                .into());
        }
        Some(d) => match d.parse::<Digest>() {
            Ok(d) => d,
            Err(_) => {
                w.close().await.map_err(ApiError::from)?;
                return Err(ErrorCode::DigestInvalid
                    .with_detail("digest parsing failed")
                    .into());
            }
        },
    };
    let key = paths::upload(name, id);
    let start = w.size();
    let mut hasher = ctx.state.hashes.take(&key, start);
    if let Err(e) = copy_body(req.into_body(), w.as_mut(), &mut hasher).await {
        let _ = w.close().await;
        return Err(e.into());
    }
    finish(ctx, name, id, w, hasher.map(|h| (start, h)), &digest).await
}

/// Commits the upload, verifies `provided`, moves the data into the blob store,
/// links it and removes the upload. On a digest mismatch the upload is
/// cancelled, as Distribution does.
async fn finish(
    ctx: &Ctx<'_>,
    name: &str,
    id: &str,
    mut writer: Box<dyn FileWriter>,
    hasher: Option<(i64, Hasher)>,
    provided: &Digest,
) -> HandlerResult {
    let driver = ctx.driver();
    let key = paths::upload(name, id);
    ctx.state.hashes.forget(&key);
    writer.commit().await.map_err(ApiError::from)?;
    writer.close().await.map_err(ApiError::from)?;
    let written = writer.size();
    drop(writer);
    let data = paths::upload_data(name, id);
    let size = match driver.stat(&data).await {
        Ok(fi) if fi.is_dir => {
            return Err(ErrorCode::Unknown
                .with_detail(format!("unexpected directory at upload location {data}"))
                .into())
        }
        Ok(fi) => Some(fi.size),
        Err(e) if e.is_path_not_found() => None,
        Err(e) => return Err(ApiError::from(e).into()),
    };
    // The in-memory state is usable when it covers exactly what was stored.
    let fast = hasher
        .filter(|(_, _)| provided.algorithm() == Algorithm::Sha256 && size.unwrap_or(0) == written);
    let (canonical, check) = match fast {
        Some((_, h)) => {
            let d = h.finish();
            (d.clone(), d)
        }
        None => rehash(driver, &data, size.unwrap_or(0), provided.algorithm()).await?,
    };
    if check != *provided {
        tracing::warn!(upload = id, provided = %provided, computed = %check, "digest mismatch; cancelling the upload");
        store::delete_if_exists(driver, &key)
            .await
            .map_err(ApiError::from)?;
        return Err(ErrorCode::DigestInvalid
            .with_detail(format!("content does not match digest {provided}"))
            .into());
    }
    let blob = paths::blob_data(&canonical);
    if store::stat_blob(driver, &canonical).await?.is_none() {
        if size.is_none() && canonical.to_string() == SHA256_EMPTY {
            driver
                .put_content(&blob, Bytes::new())
                .await
                .map_err(ApiError::from)?;
        } else {
            driver.move_to(&data, &blob).await.map_err(ApiError::from)?;
        }
    }
    store::link_layer(driver, name, &canonical, Some(provided)).await?;
    store::delete_if_exists(driver, &key)
        .await
        .map_err(ApiError::from)?;
    tracing::debug!(upload = id, digest = %canonical, bytes = size.unwrap_or(0), "blob upload committed");
    Ok(created(ctx, name, &canonical))
}

/// Reads the committed upload data back and hashes it: sha256 (where it will be
/// stored) and the client's algorithm (what it is checked against).
async fn rehash(
    driver: &dyn StorageDriver,
    path: &str,
    size: i64,
    alg: Algorithm,
) -> Result<(Digest, Digest), ApiErrors> {
    let mut canonical = Algorithm::Sha256.hasher();
    let mut other = (alg != Algorithm::Sha256).then(|| alg.hasher());
    if size > 0 {
        let mut r = driver.reader(path, 0).await.map_err(ApiError::from)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = r
                .read(&mut buf)
                .await
                .map_err(|e| ApiError::from(DriverError::from(e)))?;
            if n == 0 {
                break;
            }
            canonical.update(&buf[..n]);
            if let Some(o) = other.as_mut() {
                o.update(&buf[..n]);
            }
        }
    }
    let c = canonical.finish();
    let check = other.map_or_else(|| c.clone(), Hasher::finish);
    Ok((c, check))
}

/// `DELETE`: cancel the upload and remove everything it stored.
pub(super) async fn cancel(ctx: &Ctx<'_>, name: &str, id: &str) -> HandlerResult {
    let driver = ctx.driver();
    let mut w = resume(driver, name, id).await?;
    let key = paths::upload(name, id);
    ctx.state.hashes.forget(&key);
    if let Err(e) = w.cancel().await {
        tracing::warn!(upload = id, error = %e, "cancelling the upload's writer failed");
    }
    store::delete_if_exists(driver, &key)
        .await
        .map_err(ApiError::from)?;
    Ok(Reply::new(StatusCode::NO_CONTENT)
        .header(DOCKER_UPLOAD_UUID, id)
        .empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("bytes=5-6"), Some((5, 6)));
        assert_eq!(parse_content_range("5"), None);
        assert_eq!(parse_content_range("-5-6"), None);
    }

    #[test]
    fn hash_cache_is_offset_keyed_and_bounded() {
        let c = HashCache::default();
        c.put("a".into(), 5, Algorithm::Sha256.hasher());
        assert!(c.take("a", 4).is_none());
        assert!(
            c.take("a", 5).is_none(),
            "a mismatched take drops the state"
        );
        c.put("a".into(), 5, Algorithm::Sha256.hasher());
        assert!(c.take("a", 5).is_some());
        for i in 0..=MAX_HASH_STATES {
            c.put(format!("k{i}"), 0, Algorithm::Sha256.hasher());
        }
        assert_eq!(c.lock().len(), MAX_HASH_STATES);
        assert!(c.take("k0", 0).is_none(), "the oldest state was evicted");
    }
}
