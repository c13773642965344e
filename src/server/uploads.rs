//! Blob uploads (Distribution's `blobupload.go`, `linkedblobstore.go`,
//! `blobwriter.go`):
//!
//! * `POST .../blobs/uploads/` starts an upload: `startedat` is written, a writer
//!   for `data` is opened and closed (so `writer(data, append = true)` can
//!   resume it), 202 with `Location`, `Range: 0-0`, `Docker-Upload-UUID`;
//!   `?digest=` makes it monolithic (201), `?mount=&from=` links an existing blob
//!   of another repository (201) and falls back to a new upload;
//! * `PATCH` appends a chunk (`Content-Range` must start where the upload
//!   stands: 416 `RANGE_INVALID` otherwise, also for chunked bodies);
//! * `PUT ?digest=` appends the last bytes, commits, verifies the digest, moves
//!   `data` to `blobs/<alg>/<xx>/<hex>/data` (unless that blob exists already),
//!   links it into the repository and removes `_uploads/<id>`;
//! * `GET` reports the offset of what is stored (204), `DELETE` cancels (204).
//!
//! # Integrity
//!
//! * One request at a time writes to an upload in this process: a `PATCH` or
//!   `PUT` while another request holds the upload gets 416 `RANGE_INVALID`
//!   (the client asks where the upload stands and continues from there);
//!   `DELETE` waits for it.
//! * The sha256 state kept between requests ([`HashCache`]) is used only when
//!   the writer's [`version`](crate::driver::FileWriter::version) of the stored
//!   bytes is the one recorded with it, which proves the state belongs to exactly
//!   those bytes even when another process wrote to the upload meanwhile;
//!   otherwise the commit hashes the stored bytes. A blob is never stored under a
//!   digest its bytes do not have.
//! * A failed request leaves the upload as stored, resumable at the offset a
//!   `GET` reports; only a digest mismatch or `DELETE` removes it.
//! * A request body that sends nothing for `http.bodyidletimeout` is abandoned
//!   (what arrived is kept, as for a client that disconnects).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderName, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RANGE};
use hyper::{Request, StatusCode};
use tokio::io::AsyncReadExt;
use tokio::sync::OwnedMutexGuard;

use super::blobs::{parse_digest, DOCKER_CONTENT_DIGEST};
use super::body::{next_frame, ReadError};
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

/// A kept hash state: valid for the stored bytes of `version`, `offset` long.
#[derive(Debug)]
struct HashState {
    offset: u64,
    version: String,
    hasher: Hasher,
    saved: Instant,
}

/// sha256 states of uploads in progress, keyed by upload directory.
#[derive(Debug, Default)]
pub(super) struct HashCache {
    states: Mutex<HashMap<String, HashState>>,
}

impl HashCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashState>> {
        self.states.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the state of `key` if it was saved for exactly the stored bytes
    /// the writer found (`offset` long, of `version`). Any other state is
    /// dropped.
    fn take(&self, key: &str, offset: u64, version: Option<&str>) -> Option<Hasher> {
        let state = self.lock().remove(key)?;
        (state.offset == offset && Some(state.version.as_str()) == version).then_some(state.hasher)
    }

    /// Saves the state of `key` for the stored bytes the writer left, if it can
    /// name them.
    fn put(&self, key: String, writer: &dyn FileWriter, hasher: Hasher) {
        let Some(version) = writer.version() else {
            return;
        };
        let mut m = self.lock();
        if m.len() >= MAX_HASH_STATES && !m.contains_key(&key) {
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, v)| v.saved)
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(
            key,
            HashState {
                offset: writer.size(),
                version,
                hasher,
                saved: Instant::now(),
            },
        );
    }

    fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

type LockMap = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

/// One request at a time per upload (in this process).
#[derive(Debug, Default)]
pub(super) struct UploadLocks {
    locks: LockMap,
}

/// Holds an upload until dropped.
pub(super) struct UploadGuard {
    key: String,
    locks: LockMap,
    _held: OwnedMutexGuard<()>,
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        let mut m = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        // Two references: the map's and the one inside `_held`: nobody waits.
        if m.get(&self.key).is_some_and(|l| Arc::strong_count(l) <= 2) {
            m.remove(&self.key);
        }
    }
}

impl UploadLocks {
    fn entry(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(m.entry(key.to_owned()).or_default())
    }

    /// The upload, if no other request holds it.
    fn try_acquire(&self, key: &str) -> Option<UploadGuard> {
        let held = self.entry(key).try_lock_owned().ok()?;
        Some(UploadGuard {
            key: key.to_owned(),
            locks: Arc::clone(&self.locks),
            _held: held,
        })
    }

    /// The upload, once the request holding it is done.
    async fn acquire(&self, key: &str) -> UploadGuard {
        let held = self.entry(key).lock_owned().await;
        UploadGuard {
            key: key.to_owned(),
            locks: Arc::clone(&self.locks),
            _held: held,
        }
    }

    /// Uploads with a request in progress (for `/debug/vars`).
    pub(super) fn held(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.held()
    }
}

/// `PATCH`/`PUT` on an upload another request is writing to.
/// Holds upload `id` of `name` for this request (its storage key and guard), or refuses
/// when another request holds it.
fn hold(ctx: &Ctx<'_>, name: &str, id: &str) -> Result<(String, UploadGuard), ApiErrors> {
    let key = paths::upload(name, id);
    let guard = ctx
        .state
        .upload_locks
        .try_acquire(&key)
        .ok_or_else(upload_busy)?;
    Ok((key, guard))
}

fn upload_busy() -> ApiErrors {
    ErrorCode::RangeInvalid
        .with_detail(
            "another request on this upload is in progress; when it is done, GET the upload for \
             its offset and continue from there",
        )
        .into()
}

/// The upload's URL; with `http.secret`, carrying registry:2's signed upload state
/// (`?_state=`), so that a registry:2 behind the same load balancer accepts it.
fn location(ctx: &Ctx<'_>, name: &str, id: &str, started: &str, size: u64) -> String {
    let path = ctx.url(&format!("/v2/{name}/blobs/uploads/{id}"));
    match &ctx.state.settings.secret {
        None => path,
        Some(secret) => {
            let token = upload_state::pack(&secret.0, name, id, size, started);
            format!("{path}?_state={}", token.replace('=', "%3D"))
        }
    }
}

/// The 202/204 headers of an upload in progress (Distribution's
/// `blobUploadResponse`): `Range: 0-<size-1>` (`0-0` when empty).
fn progress(
    ctx: &Ctx<'_>,
    status: StatusCode,
    name: &str,
    id: &str,
    started: &str,
    size: u64,
) -> Reply {
    let end = size.saturating_sub(1);
    Reply::new(status)
        .header(LOCATION, location(ctx, name, id, started, size))
        .header(RANGE, format!("0-{end}"))
        .header(DOCKER_UPLOAD_UUID, id)
}

/// With `http.secret`, a `_state` the client sends must be registry:2's signed state of
/// this upload (as registry:2 checks it): `Ok(None)` without a secret or without a token,
/// the verified state otherwise, and a refusal for a token that is forged, malformed or
/// for another upload. The token is verified once per request; [`check_offset`] then
/// holds it against what is stored.
fn verified_state(
    ctx: &Ctx<'_>,
    query: Option<&str>,
    name: &str,
    id: &str,
) -> Result<Option<upload_state::State>, ApiErrors> {
    let Some(secret) = &ctx.state.settings.secret else {
        return Ok(None);
    };
    let q = query_pairs(query);
    let Some(token) = first(&q, "_state") else {
        return Ok(None);
    };
    let invalid = |why: String| -> ApiErrors {
        tracing::info!(upload = id, "refusing an upload state: {why}");
        ErrorCode::BlobUploadInvalid.with_detail(why).into()
    };
    let state = upload_state::unpack(&secret.0, token).map_err(invalid)?;
    if state.name != name || state.uuid != id {
        return Err(invalid(format!(
            "the upload state is for {}/{}, not this upload",
            state.name, state.uuid
        )));
    }
    Ok(Some(state))
}

/// A verified `_state` (or none) must be at the offset that is stored. Without one, the
/// stored upload alone is the state.
fn check_offset(state: Option<&upload_state::State>, size: u64) -> Result<(), ApiErrors> {
    match state {
        Some(state) if u64::try_from(state.offset).ok() != Some(size) => {
            Err(ErrorCode::RangeInvalid
                .with_detail(format!(
                    "the upload state says offset {}, but {size} bytes are stored: GET the upload \
                 for where it stands",
                    state.offset
                ))
                .into())
        }
        _ => Ok(()),
    }
}

/// [`verified_state`] and then [`check_offset`], for the requests that read the upload
/// before they look at the token.
fn check_state(
    ctx: &Ctx<'_>,
    query: Option<&str>,
    name: &str,
    id: &str,
    size: u64,
) -> Result<(), ApiErrors> {
    check_offset(verified_state(ctx, query, name, id)?.as_ref(), size)
}

/// registry:2's upload state token (`registry/handlers/hmac.go`): URL-safe base64 (padded)
/// of HMAC-SHA256(`http.secret`, JSON) followed by the JSON
/// `{"Name":..,"UUID":..,"Offset":..,"StartedAt":..}`.
mod upload_state {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use base64::engine::general_purpose::URL_SAFE;
    use base64::Engine as _;

    use crate::sign::crypto::constant_time_eq;

    #[derive(Debug, PartialEq)]
    pub(super) struct State {
        pub name: String,
        pub uuid: String,
        pub offset: i64,
        /// `StartedAt` as the token carries it (empty when missing).
        pub started_at: String,
    }

    fn mac(secret: &str, message: &[u8]) -> [u8; 32] {
        let mut m =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        m.update(message);
        m.finalize().into_bytes().into()
    }

    pub(super) fn pack(secret: &str, name: &str, uuid: &str, offset: u64, started: &str) -> String {
        let json = format!(
            r#"{{"Name":{},"UUID":{},"Offset":{offset},"StartedAt":{}}}"#,
            serde_json::Value::from(name),
            serde_json::Value::from(uuid),
            serde_json::Value::from(started.trim())
        );
        let mut token = mac(secret, json.as_bytes()).to_vec();
        token.extend_from_slice(json.as_bytes());
        URL_SAFE.encode(&token)
    }

    pub(super) fn unpack(secret: &str, token: &str) -> Result<State, String> {
        let raw = URL_SAFE
            .decode(token)
            .map_err(|_| "the upload state is not URL-safe base64".to_owned())?;
        if raw.len() < 32 || !constant_time_eq(&mac(secret, &raw[32..]), &raw[..32]) {
            return Err("invalid secret".to_owned());
        }
        let v: serde_json::Value = serde_json::from_slice(&raw[32..])
            .map_err(|e| format!("the upload state is not JSON: {e}"))?;
        Ok(State {
            name: v["Name"].as_str().unwrap_or_default().to_owned(),
            uuid: v["UUID"].as_str().unwrap_or_default().to_owned(),
            offset: v["Offset"].as_i64().unwrap_or(-1),
            started_at: v["StartedAt"].as_str().unwrap_or_default().to_owned(),
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trip_and_tamper() {
            let t = pack("s3cret", "a/b", "u-1", 42, "2026-12-03T07:22:58Z");
            assert!(!t.contains(['+', '/']));
            let s = unpack("s3cret", &t).unwrap();
            assert_eq!(
                s,
                State {
                    name: "a/b".into(),
                    uuid: "u-1".into(),
                    offset: 42,
                    started_at: "2026-12-03T07:22:58Z".into(),
                }
            );
            assert_eq!(unpack("other", &t).unwrap_err(), "invalid secret");
            let mut bad = t.into_bytes();
            let i = bad.len() / 2;
            bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
            assert!(unpack("s3cret", std::str::from_utf8(&bad).unwrap()).is_err());
            assert!(unpack("s3cret", "%%%").is_err());
        }

        /// A token in registry:2's own form (Go's field order, a nanosecond `StartedAt`) is
        /// read; the exchange with the real registry:2 is tested in tests/server_mixed_fleet.rs.
        #[test]
        fn reads_registry2_tokens() {
            let json = r#"{"Name":"a","UUID":"6e6b4cd8-6c71-4e9c-9a44-7b0c5a4f3f11","Offset":0,"StartedAt":"2026-12-03T07:22:58.123456789Z"}"#;
            let mut raw = mac("s3cret", json.as_bytes()).to_vec();
            raw.extend_from_slice(json.as_bytes());
            let token = URL_SAFE.encode(&raw);
            let s = unpack("s3cret", &token).unwrap();
            assert_eq!(s.uuid, "6e6b4cd8-6c71-4e9c-9a44-7b0c5a4f3f11");
            assert_eq!(s.offset, 0);
            assert_eq!(s.started_at, "2026-12-03T07:22:58.123456789Z");
        }
    }
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

/// Checks the upload exists (its `startedat`, returned) and opens its data for appending.
async fn resume(
    driver: &dyn StorageDriver,
    name: &str,
    id: &str,
) -> Result<(Box<dyn FileWriter>, String), ApiErrors> {
    let started = match driver
        .get_content(&paths::upload_started_at(name, id))
        .await
    {
        Ok(s) => String::from_utf8_lossy(&s).trim().to_owned(),
        Err(e) if e.is_path_not_found() => return Err(upload_unknown(id)),
        Err(e) => return Err(e.into()),
    };
    Ok((open_data(driver, name, id).await?, started))
}

/// Opens the upload's data for appending (an upload without data is unknown).
async fn open_data(
    driver: &dyn StorageDriver,
    name: &str,
    id: &str,
) -> Result<Box<dyn FileWriter>, ApiErrors> {
    match driver.writer(&paths::upload_data(name, id), true).await {
        Ok(w) => Ok(w),
        Err(e) if e.is_path_not_found() => Err(upload_unknown(id)),
        Err(e) => Err(e.into()),
    }
}

/// The `StartedAt` of a verified `_state` (see [`verified_state`]): the start time stored
/// in `startedat`, vouched for by `http.secret`, so a request that carries it need not read
/// the file. `None` without a verified state that has one.
///
/// Only on drivers whose append-writer refuses a path with nothing stored (S3, in-memory:
/// [`StorageDriver::append_needs_existing`]): the writer then still tells a cancelled upload
/// from a live one. The filesystem's creates the file, as Distribution's does, so there
/// `startedat` is what proves the upload exists.
fn signed_started_at(ctx: &Ctx<'_>, state: Option<&upload_state::State>) -> Option<String> {
    if !ctx.driver().append_needs_existing() {
        return None;
    }
    let started = state?.started_at.trim();
    (!started.is_empty()).then(|| started.to_owned())
}

/// Creates a new upload: `startedat`, then an empty, closed-but-resumable `data`.
async fn create(
    driver: &dyn StorageDriver,
    name: &str,
) -> Result<(String, Box<dyn FileWriter>, String), ApiErrors> {
    let id = new_uuid()
        .map_err(|e| ApiError::internal(&format!("no randomness for an upload id: {e}")))?;
    let started = format_rfc3339(SystemTime::now());
    driver
        .put_content(
            &paths::upload_started_at(name, &id),
            Bytes::from(started.clone()),
        )
        .await
        .map_err(ApiError::from)?;
    let w = driver
        .writer(&paths::upload_data(name, &id), false)
        .await
        .map_err(ApiError::from)?;
    Ok((id, w, started))
}

/// What went wrong while copying a request body into storage.
enum CopyError {
    /// Reading the body failed (client gone, truncated, idle).
    Body(ReadError),
    /// The storage driver failed.
    Storage(DriverError),
}

impl From<ReadError> for ApiErrors {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Client(e) => ErrorCode::SizeInvalid
                .with_detail(format!("reading the request body failed: {e}"))
                .into(),
            ReadError::Idle(t) => ErrorCode::BlobUploadInvalid
                .with_detail(format!(
                    "the request body sent nothing for {t:?} (http.bodyidletimeout); what arrived \
                     before is kept: GET the upload for its offset"
                ))
                .with_status(StatusCode::REQUEST_TIMEOUT)
                .into(),
            ReadError::TooLarge(limit) => ErrorCode::SizeInvalid
                .with_detail(format!("the request body is larger than {limit} bytes"))
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
                .into(),
        }
    }
}

impl From<CopyError> for ApiErrors {
    fn from(e: CopyError) -> Self {
        match e {
            CopyError::Body(e) => e.into(),
            CopyError::Storage(e) => e.into(),
        }
    }
}

/// Streams `body` into `writer`, feeding `hasher` with exactly the bytes the
/// writer accepted. Returns the bytes written.
async fn copy_body(
    ctx: &Ctx<'_>,
    mut body: Incoming,
    writer: &mut dyn FileWriter,
    hasher: &mut Option<Hasher>,
) -> Result<u64, CopyError> {
    let idle = ctx.state.settings.body_idle_timeout;
    let mut written = 0u64;
    while let Some(frame) = next_frame(&mut body, idle).await.map_err(CopyError::Body)? {
        if let Ok(data) = frame.into_data() {
            if data.is_empty() {
                continue;
            }
            writer.write(&data).await.map_err(CopyError::Storage)?;
            if let Some(h) = hasher.as_mut() {
                h.update(&data);
            }
            written += data.len() as u64;
            if let Some(m) = &ctx.state.metrics {
                m.uploaded(data.len() as u64);
            }
        }
    }
    Ok(written)
}

/// After a body broke off (client gone, idle): keep what arrived, with its hash
/// state, as Distribution keeps a partial chunk. After a storage failure the
/// writer is left alone: what is stored stays as it is.
async fn keep_partial(
    ctx: &Ctx<'_>,
    key: String,
    writer: &mut dyn FileWriter,
    hasher: Option<Hasher>,
    e: CopyError,
) -> ApiErrors {
    if !matches!(e, CopyError::Storage(_)) {
        match writer.close().await {
            Ok(()) => {
                if let Some(h) = hasher {
                    ctx.state.hashes.put(key, writer, h);
                }
            }
            Err(close) => {
                tracing::warn!(request_id = %super::error::request_id(), error = %close, "keeping the part of a broken-off upload body failed");
            }
        }
    }
    e.into()
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
        let (id, mut writer, _) = create(driver, name).await?;
        let key = paths::upload(name, &id);
        let mut hasher = Some(Algorithm::Sha256.hasher());
        if let Err(e) = copy_body(ctx, req.into_body(), writer.as_mut(), &mut hasher).await {
            let _ = writer.cancel().await;
            let _ = store::delete_if_exists(driver, &key).await;
            return Err(e.into());
        }
        return finish(ctx, name, &id, writer, hasher, &digest).await;
    }
    let (id, mut writer, started) = create(driver, name).await?;
    writer.close().await.map_err(ApiError::from)?;
    ctx.state.hashes.put(
        paths::upload(name, &id),
        writer.as_ref(),
        Algorithm::Sha256.hasher(),
    );
    Ok(progress(ctx, StatusCode::ACCEPTED, name, &id, &started, 0).empty())
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
    ctx.notify(super::notifications::Event::mount(
        name,
        from,
        &desc.digest.to_string(),
        desc.size,
    ));
    Ok(Some(created(ctx, name, &digest)))
}

/// `GET` (and `HEAD`) of an upload: where what is stored stands. Takes no lock
/// and changes nothing (the resumed writer is dropped unclosed).
pub(super) async fn status(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    name: &str,
    id: &str,
) -> HandlerResult {
    let (w, started) = resume(ctx.driver(), name, id).await?;
    let size = w.size();
    drop(w);
    check_state(ctx, req.uri().query(), name, id, size)?;
    Ok(progress(ctx, StatusCode::NO_CONTENT, name, id, &started, size).empty())
}

/// Parses `Content-Range` as Distribution does (`<start>-<end>`, also with a
/// `bytes ` prefix and `/<total>` suffix). Numbers are digits only and at most
/// `i64::MAX`, as Go's `int64` takes them.
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
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
            .and_then(|n| u64::try_from(n).ok())
    };
    Some((num(a.trim())?, num(b.trim())?))
}

/// Checks a PATCH's `Content-Range` (with or without `Content-Length`: a
/// chunked body must start where the upload stands too).
fn check_range(req: &Request<Incoming>, size: u64) -> Result<(), ApiErrors> {
    let header = |h| req.headers().get(h).and_then(|v| v.to_str().ok());
    let Some(cr) = header(hyper::header::CONTENT_RANGE) else {
        return Ok(());
    };
    let (start, end) = parse_content_range(cr).ok_or_else(|| {
        ApiErrors::from(
            ErrorCode::RangeInvalid.with_detail(format!("malformed Content-Range {cr:?}")),
        )
    })?;
    if start > end || start != size {
        return Err(ErrorCode::RangeInvalid
            .with_detail(format!(
                "the chunk starts at {start} but the upload is at {size}"
            ))
            .into());
    }
    match header(CONTENT_LENGTH) {
        Some(cl)
            if cl
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                != Some(end - start + 1) =>
        {
            Err(ErrorCode::SizeInvalid
                .with_detail(format!(
                    "Content-Length {cl} does not match Content-Range {cr}"
                ))
                .into())
        }
        _ => Ok(()),
    }
}

/// The answer to a chunk that does not continue the upload, with the headers
/// that tell the client where the upload stands so it can continue.
fn range_refused(
    ctx: &Ctx<'_>,
    name: &str,
    id: &str,
    started: &str,
    size: u64,
    e: ApiErrors,
) -> hyper::Response<super::body::Body> {
    let mut resp = e.into_response();
    let p = progress(ctx, StatusCode::OK, name, id, started, size).empty();
    for h in [LOCATION, RANGE, DOCKER_UPLOAD_UUID] {
        if let Some(v) = p.headers().get(&h) {
            resp.headers_mut().insert(h, v.clone());
        }
    }
    resp
}

/// A PATCH body must be `application/octet-stream` (or untyped), as in
/// Distribution.
fn check_content_type(req: &Request<Incoming>) -> Result<(), ApiErrors> {
    let Some(ct) = req.headers().get(CONTENT_TYPE) else {
        return Ok(());
    };
    let media = ct
        .to_str()
        .unwrap_or("?")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media.is_empty() || media == "application/octet-stream" {
        return Ok(());
    }
    Err(ErrorCode::BlobUploadInvalid
        .with_detail(format!(
            "bad Content-Type {media:?}: upload chunks must be application/octet-stream"
        ))
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .into())
}

/// An upload with a request's body appended: its writer (not closed yet), its
/// `startedat`, and the sha256 state of all the writer holds, when known.
struct Appended {
    writer: Box<dyn FileWriter>,
    started: String,
    hasher: Option<Hasher>,
}

/// Appends the body of a `PATCH` or `PUT` to upload `id` of `name` (held as `key`),
/// once `_state` and `Content-Range` show that the request continues the upload
/// where it stands. `Err` is what the handler answers instead: the refusal that
/// tells the client where the upload stands, or the error (a body that broke off
/// is kept as far as it came, see [`keep_partial`]).
async fn append(
    ctx: &Ctx<'_>,
    req: Request<Incoming>,
    name: &str,
    id: &str,
    key: &str,
) -> Result<Appended, HandlerResult> {
    // A bad token is refused only after the upload is read, so the refusal can say where
    // the upload stands (and an unknown upload is still 404).
    let state = verified_state(ctx, req.uri().query(), name, id);
    let signed = state
        .as_ref()
        .ok()
        .and_then(|s| signed_started_at(ctx, s.as_ref()));
    let (mut writer, started) = match signed {
        Some(started) => (
            open_data(ctx.driver(), name, id).await.map_err(Err)?,
            started,
        ),
        None => resume(ctx.driver(), name, id).await.map_err(Err)?,
    };
    let size = writer.size();
    if let Err(e) = state
        .and_then(|s| check_offset(s.as_ref(), size))
        .and_then(|()| check_range(&req, size))
    {
        return Err(Ok(range_refused(ctx, name, id, &started, size, e)));
    }
    let mut hasher = ctx
        .state
        .hashes
        .take(key, size, writer.version().as_deref());
    if let Err(e) = copy_body(ctx, req.into_body(), writer.as_mut(), &mut hasher).await {
        return Err(Err(keep_partial(
            ctx,
            key.to_owned(),
            writer.as_mut(),
            hasher,
            e,
        )
        .await));
    }
    Ok(Appended {
        writer,
        started,
        hasher,
    })
}

/// `PATCH`: append a chunk.
pub(super) async fn patch(
    ctx: &Ctx<'_>,
    req: Request<Incoming>,
    name: &str,
    id: &str,
) -> HandlerResult {
    let (key, _guard) = hold(ctx, name, id)?;
    check_content_type(&req)?;
    let Appended {
        mut writer,
        started,
        hasher,
    } = match append(ctx, req, name, id, &key).await {
        Ok(appended) => appended,
        Err(answer) => return answer,
    };
    writer.close().await.map_err(ApiError::from)?;
    if let Some(h) = hasher {
        ctx.state.hashes.put(key, writer.as_ref(), h);
    }
    Ok(progress(ctx, StatusCode::ACCEPTED, name, id, &started, writer.size()).empty())
}

/// `PUT ?digest=`: the last bytes, then commit and verification.
pub(super) async fn put(
    ctx: &Ctx<'_>,
    req: Request<Incoming>,
    name: &str,
    id: &str,
) -> HandlerResult {
    let (key, _guard) = hold(ctx, name, id)?;
    let q = query_pairs(req.uri().query());
    let digest = match first(&q, "digest") {
        None | Some("") => {
            return Err(ErrorCode::DigestInvalid
                .with_detail("digest missing")
                .into());
        }
        Some(d) => d.parse::<Digest>().map_err(|_| {
            ApiErrors::from(ErrorCode::DigestInvalid.with_detail("digest parsing failed"))
        })?,
    };
    // A final chunk must continue the upload, as a PATCH must.
    let Appended { writer, hasher, .. } = match append(ctx, req, name, id, &key).await {
        Ok(appended) => appended,
        Err(answer) => return answer,
    };
    finish(ctx, name, id, writer, hasher, &digest).await
}

/// Commits the upload, verifies `provided`, moves the data into the blob store,
/// links it and removes the upload. On a digest mismatch the upload is
/// removed, as Distribution does; on any other failure it stays, resumable.
///
/// `hasher` is the sha256 state of everything `writer` holds, proven by the
/// writer's version when it was resumed; without it (or for another algorithm)
/// the committed bytes are read back and hashed.
async fn finish(
    ctx: &Ctx<'_>,
    name: &str,
    id: &str,
    mut writer: Box<dyn FileWriter>,
    hasher: Option<Hasher>,
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
    // With a kept sha256 state, the writer's version proved at resume which bytes were
    // stored, and the commit stored those plus this request's: `written` bytes. Otherwise
    // (and for an empty upload, which may have left no object) the stored object is asked.
    let known = hasher.is_some() && provided.algorithm() == Algorithm::Sha256 && written > 0;
    let size = if known {
        Some(written)
    } else {
        match driver.stat(&data).await {
            Ok(fi) if fi.is_dir => {
                return Err(ApiError::internal(&format!(
                    "unexpected directory at upload location {data}"
                ))
                .into())
            }
            Ok(fi) => Some(fi.size),
            Err(e) if e.is_path_not_found() => None,
            Err(e) => return Err(ApiError::from(e).into()),
        }
    };
    // The kept state is usable when it covers exactly what was stored.
    let fast = hasher
        .filter(|_| provided.algorithm() == Algorithm::Sha256 && size.unwrap_or(0) == written);
    let (canonical, check) = match fast {
        Some(h) => {
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
    ctx.notify(super::notifications::Event::blob(
        super::notifications::Action::Push,
        name,
        &canonical.to_string(),
        size.unwrap_or(0),
    ));
    Ok(created(ctx, name, provided))
}

/// Reads the committed upload data back and hashes it: sha256 (where it will be
/// stored) and the client's algorithm (what it is checked against).
async fn rehash(
    driver: &dyn StorageDriver,
    path: &str,
    size: u64,
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

/// `DELETE`: cancel the upload and remove everything it stored (after a
/// request writing to it is done).
pub(super) async fn cancel(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    name: &str,
    id: &str,
) -> HandlerResult {
    let driver = ctx.driver();
    let key = paths::upload(name, id);
    let _guard = ctx.state.upload_locks.acquire(&key).await;
    let (mut w, _) = resume(driver, name, id).await?;
    check_state(ctx, req.uri().query(), name, id, w.size())?;
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
        // Beyond Go's int64: malformed, as in Distribution.
        assert_eq!(
            parse_content_range("9223372036854775807-9223372036854775807"),
            Some((i64::MAX as u64, i64::MAX as u64))
        );
        assert_eq!(parse_content_range("0-9223372036854775808"), None);
    }

    /// A writer at rest: `size` bytes of `version`.
    #[derive(Debug)]
    struct AtRest(u64, Option<&'static str>);

    #[async_trait::async_trait]
    impl FileWriter for AtRest {
        async fn write(&mut self, _: &[u8]) -> Result<usize, DriverError> {
            unreachable!()
        }
        fn size(&self) -> u64 {
            self.0
        }
        async fn close(&mut self) -> Result<(), DriverError> {
            Ok(())
        }
        async fn cancel(&mut self) -> Result<(), DriverError> {
            Ok(())
        }
        async fn commit(&mut self) -> Result<(), DriverError> {
            Ok(())
        }
        fn version(&self) -> Option<String> {
            self.1.map(str::to_owned)
        }
    }

    #[test]
    fn hash_cache_needs_offset_and_version_and_is_bounded() {
        let c = HashCache::default();
        let h = || Algorithm::Sha256.hasher();
        c.put("a".into(), &AtRest(5, Some("v1")), h());
        assert!(c.take("a", 4, Some("v1")).is_none());
        assert!(
            c.take("a", 5, Some("v1")).is_none(),
            "a mismatched take drops the state"
        );
        c.put("a".into(), &AtRest(5, Some("v1")), h());
        assert!(
            c.take("a", 5, Some("v2")).is_none(),
            "other bytes, same length"
        );
        c.put("a".into(), &AtRest(5, Some("v1")), h());
        assert!(c.take("a", 5, None).is_none(), "unknown bytes");
        c.put("a".into(), &AtRest(5, Some("v1")), h());
        assert!(c.take("a", 5, Some("v1")).is_some());
        c.put("b".into(), &AtRest(5, None), h());
        assert!(
            c.lock().is_empty(),
            "nothing kept for bytes that cannot be named"
        );
        for i in 0..=MAX_HASH_STATES {
            c.put(format!("k{i}"), &AtRest(0, Some("v")), h());
        }
        assert_eq!(c.lock().len(), MAX_HASH_STATES);
        assert!(
            c.take("k0", 0, Some("v")).is_none(),
            "the oldest state was evicted"
        );
    }

    #[tokio::test]
    async fn upload_locks_are_exclusive_and_cleaned_up() {
        let l = UploadLocks::default();
        let g = l.try_acquire("u").unwrap();
        assert!(l.try_acquire("u").is_none());
        assert!(l.try_acquire("v").is_some());
        drop(g);
        assert_eq!(l.len(), 0);
        let g = l.try_acquire("u").unwrap();
        let waiter = l.acquire("u");
        tokio::pin!(waiter);
        assert!(futures_util::FutureExt::now_or_never(&mut waiter).is_none());
        drop(g);
        let g2 = waiter.await;
        assert!(l.try_acquire("u").is_none());
        drop(g2);
        assert_eq!(l.len(), 0);
    }
}
