//! Blobs through the cache: fetched once per digest however many clients ask at the same
//! time, streamed to the first client while they are written to storage, verified against
//! their digest before the client gets the last byte and before anything is committed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, RANGE};
use hyper::{Method, Request, StatusCode};
use tokio::sync::{mpsc, oneshot, watch};

use super::scheduler::Kind;
use super::upstream::UpstreamError;
use super::{status_error, upstream_error, Proxy};
use crate::driver::StorageDriver;
use crate::server::blobs::{serve_local, DOCKER_CONTENT_DIGEST};
use crate::server::body::Body;
use crate::server::digest::{Algorithm, Digest};
use crate::server::error::{ApiErrors, ErrorCode};
use crate::server::names::new_uuid;
use crate::server::reply::Reply;
use crate::server::time::format_rfc3339;
use crate::server::{paths, store, Ctx, HandlerResult};

/// The upstream's body is passed on in pieces of at most this size.
const PIECE: usize = 64 * 1024;

/// Pieces queued for the leader's client (4 MiB; the rest waits upstream: backpressure).
const TAP_QUEUE: usize = 64;

/// Pieces queued for storage (16 MiB): the client may run this far ahead of a slower
/// storage.
const STORE_QUEUE: usize = 256;

/// How a fetch ended, for the requests that waited for it.
#[derive(Debug, Clone)]
enum Outcome {
    /// Stored: serve it from storage.
    Stored,
    /// The upstream failed (unreachable, refused, wrong bytes): the waiting requests fail
    /// the same way, without asking again.
    Failed(ApiErrors),
    /// Storing failed, or the fetch ended without an outcome: try again.
    Retry,
}

type Map = Arc<Mutex<HashMap<Digest, watch::Receiver<Option<Outcome>>>>>;

/// The fetches in progress, by digest.
#[derive(Debug, Default)]
pub(super) struct Inflight {
    map: Map,
}

/// The right and duty to fetch one digest: its outcome reaches the waiting requests when
/// [`finish`](Slot::finish)ed; dropped unfinished, they try again.
struct Slot {
    map: Map,
    digest: Digest,
    tx: watch::Sender<Option<Outcome>>,
}

impl Slot {
    fn finish(self, outcome: Outcome) {
        let _ = self.tx.send(Some(outcome));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.digest);
    }
}

enum Join {
    Leader(Slot),
    Follower(watch::Receiver<Option<Outcome>>),
}

impl Inflight {
    fn join(&self, digest: &Digest) -> Join {
        let mut m = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rx) = m.get(digest) {
            return Join::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        m.insert(digest.clone(), rx);
        Join::Leader(Slot {
            map: Arc::clone(&self.map),
            digest: digest.clone(),
            tx,
        })
    }

    /// Fetches in progress (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// What flows to the leader's client.
enum Tap {
    Data(Bytes),
    /// Everything was sent and verified.
    Done,
    /// The transfer failed: the response must break off.
    Fail(String),
}

/// The client's body fed by a fetch: it ends cleanly only after [`Tap::Done`]; a failure,
/// or a fetch that stops feeding it, breaks the response off.
fn tap_body(rx: mpsc::Receiver<Tap>) -> Body {
    let stream = futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Tap::Data(b)) => Some((Ok(Frame::data(b)), Some(rx))),
            Some(Tap::Done) => None,
            Some(Tap::Fail(m)) => Some((Err(std::io::Error::other(m)), None)),
            None => Some((
                Err(std::io::Error::other(
                    "the transfer from the upstream registry stopped",
                )),
                None,
            )),
        }
    });
    StreamBody::new(stream).boxed_unsync()
}

/// GET or HEAD of blob `digest` of repository `name`, which storage did not link into
/// the repository when the caller looked: from storage when it is there (and the
/// upstream confirms the repository has it), else from the upstream.
///
/// The lookup of the blob store and the request to the upstream go out together, so a
/// cold blob costs one upstream round trip and no storage round trip before its first
/// byte; a blob already cached through another repository takes the upstream's answer
/// (its status line) as the confirmation and is served from storage.
pub(in crate::server) async fn serve(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    name: &str,
    digest: &Digest,
) -> HandlerResult {
    let Some(proxy) = ctx.state.proxy.as_ref() else {
        return Err(ErrorCode::BlobUnknown
            .with_detail(digest.to_string())
            .into());
    };
    let driver = ctx.driver();
    for attempt in 0..3 {
        // The caller has just looked; a retry looks again (another fetch may have linked it).
        if attempt > 0 {
            if let Some(desc) = store::repo_blob(driver, name, digest).await? {
                return serve_local(ctx, req, name, digest, &desc).await;
            }
        }
        if req.method() == Method::HEAD {
            let (stored, resp) = tokio::join!(
                cached_elsewhere(driver, digest),
                upstream(proxy, name, digest, reqwest::Method::HEAD)
            );
            let resp = resp?;
            if let Some(size) = stored? {
                drop(resp);
                return link_and_serve(ctx, req, proxy, name, digest, size).await;
            }
            let mut reply = base_reply(digest);
            if let Some(len) = resp.content_length() {
                reply = reply.header(CONTENT_LENGTH, len.to_string());
            }
            return Ok(reply.with_body(crate::server::body::empty()));
        }
        match proxy.inflight.join(digest) {
            Join::Leader(slot) => {
                let (stored, resp) = tokio::join!(
                    cached_elsewhere(driver, digest),
                    upstream(proxy, name, digest, reqwest::Method::GET)
                );
                let resp = match resp {
                    Ok(r) => r,
                    Err(e) => {
                        slot.finish(Outcome::Failed(e.clone()));
                        return Err(e);
                    }
                };
                // A storage failure drops the slot unfinished: the waiting requests retry.
                if let Some(size) = stored? {
                    // Its status line was the confirmation; the body is not wanted.
                    drop(resp);
                    let served = link_and_serve(ctx, req, proxy, name, digest, size).await;
                    slot.finish(Outcome::Stored);
                    return served;
                }
                let ranged = req.headers().contains_key(RANGE);
                match lead(ctx, proxy, name, digest, slot, resp, !ranged).await {
                    Led::Streaming(resp) => return Ok(resp),
                    Led::Done(Outcome::Failed(e)) => return Err(e),
                    Led::Done(_) => {}
                }
            }
            Join::Follower(mut rx) => {
                tracing::debug!(repository = name, %digest, "waiting for the fetch in progress");
                let outcome = match rx.wait_for(Option::is_some).await {
                    Ok(o) => o.clone().unwrap_or(Outcome::Retry),
                    Err(_) => Outcome::Retry,
                };
                if let Outcome::Failed(e) = outcome {
                    return Err(e);
                }
            }
        }
    }
    Err(ErrorCode::Unavailable
        .with_detail("the blob could not be stored in the cache; try again")
        .into())
}

/// The size of blob `digest` in the blob store, when a pull through another repository
/// cached it there (only sha256 blobs are stored under their own digest).
async fn cached_elsewhere(
    driver: &dyn StorageDriver,
    digest: &Digest,
) -> Result<Option<u64>, ApiErrors> {
    if digest.algorithm() != Algorithm::Sha256 {
        return Ok(None);
    }
    Ok(store::stat_blob(driver, digest).await?)
}

/// Links blob `digest`, cached through another repository, into repository `name` (the
/// upstream has confirmed `name` has it) and serves it from storage.
async fn link_and_serve(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    proxy: &Proxy,
    name: &str,
    digest: &Digest,
    size: u64,
) -> HandlerResult {
    tracing::debug!(repository = name, %digest, "linking a blob cached through another repository");
    store::link_layer(ctx.driver(), name, digest, None).await?;
    proxy.schedule(Kind::Blob, name, digest);
    let desc = store::BlobDesc {
        digest: digest.clone(),
        size,
    };
    serve_local(ctx, req, name, digest, &desc).await
}

/// The headers of a blob answer.
fn base_reply(digest: &Digest) -> Reply {
    Reply::new(StatusCode::OK)
        .header(ETAG, format!("\"{digest}\""))
        .header(CACHE_CONTROL, "max-age=31536000")
        .header(DOCKER_CONTENT_DIGEST, digest.to_string())
        .header(CONTENT_TYPE, "application/octet-stream")
}

/// `method` (GET or HEAD) of the blob upstream, which must answer 200.
async fn upstream(
    proxy: &Proxy,
    name: &str,
    digest: &Digest,
    method: reqwest::Method,
) -> Result<reqwest::Response, ApiErrors> {
    // A HEAD is answered whole; a GET's body streams for as long as it takes.
    let whole = method == reqwest::Method::HEAD;
    let resp = proxy
        .upstream
        .send(
            method,
            name,
            &format!("/v2/{name}/blobs/{digest}"),
            None,
            whole,
        )
        .await
        .map_err(|e| upstream_error(e, ErrorCode::BlobUnknown))?;
    if resp.status() != StatusCode::OK {
        return Err(status_error(
            &resp,
            ErrorCode::BlobUnknown,
            &format!("blob {digest}"),
        ));
    }
    Ok(resp)
}

enum Led {
    /// The client's response, fed while the blob is fetched and stored.
    Streaming(hyper::Response<Body>),
    /// Fetched (or not) without a client to feed.
    Done(Outcome),
}

/// Fetches the blob as the leader from `resp`, the upstream's 200 answer to its GET.
/// With `stream` the client's response is returned at once and fed as the bytes come;
/// without (a `Range` request, an empty blob) the fetch is awaited.
async fn lead(
    ctx: &Ctx<'_>,
    proxy: &Proxy,
    name: &str,
    digest: &Digest,
    slot: Slot,
    resp: reqwest::Response,
    stream: bool,
) -> Led {
    let expected = resp.content_length();
    tracing::info!(repository = name, %digest, bytes = ?expected, "fetching a blob from the upstream registry");
    let job = Job {
        driver: Arc::clone(&ctx.state.driver),
        name: name.to_owned(),
        digest: digest.clone(),
        expected,
        idle: proxy
            .upstream
            .timeout()
            .max(ctx.state.settings.body_idle_timeout),
        scheduler: proxy.scheduler.clone(),
    };
    if !stream || expected == Some(0) {
        let outcome = tokio::spawn(job.run(resp, None, slot))
            .await
            .unwrap_or(Outcome::Retry);
        return Led::Done(outcome);
    }
    let (tx, rx) = mpsc::channel(TAP_QUEUE);
    tokio::spawn(job.run(resp, Some(tx), slot));
    let mut reply = base_reply(digest).header(ACCEPT_RANGES, "bytes");
    if let Some(len) = expected {
        reply = reply.header(CONTENT_LENGTH, len.to_string());
    }
    Led::Streaming(reply.with_body(tap_body(rx)))
}

/// One fetch, run as its own task so that it finishes (and stores the blob) even when
/// the client that started it goes away.
struct Job {
    driver: Arc<dyn StorageDriver>,
    name: String,
    digest: Digest,
    expected: Option<u64>,
    /// How long the client may leave a piece unread before it is dropped from the fetch.
    idle: Duration,
    scheduler: Option<Arc<super::scheduler::Scheduler>>,
}

impl Job {
    async fn run(
        self,
        resp: reqwest::Response,
        tap: Option<mpsc::Sender<Tap>>,
        slot: Slot,
    ) -> Outcome {
        let (store_tx, store_rx) = mpsc::channel::<Bytes>(STORE_QUEUE);
        let (verdict_tx, verdict_rx) = oneshot::channel::<Digest>();
        let storing = store(
            Arc::clone(&self.driver),
            self.name.clone(),
            store_rx,
            verdict_rx,
        );
        let streaming = async {
            let verdict = self.stream(resp, tap, store_tx).await;
            if let Ok(canonical) = &verdict {
                let _ = verdict_tx.send(canonical.clone());
            }
            // Else the sender is dropped: the upload is removed, nothing is committed.
            verdict
        };
        let (verdict, stored) = tokio::join!(streaming, storing);
        let outcome = match (verdict, stored) {
            (Err(e), _) => {
                tracing::error!(repository = %self.name, digest = %self.digest, error = %e, "the blob from the upstream registry was not stored");
                Outcome::Failed(upstream_error(e, ErrorCode::BlobUnknown))
            }
            (Ok(canonical), Ok(())) => {
                let alias = (canonical != self.digest).then_some(&self.digest);
                // Scheduled before it is linked: whatever is linked is scheduled.
                if let Some(s) = &self.scheduler {
                    s.add(Kind::Blob, &self.name, &canonical);
                }
                match store::link_layer(self.driver.as_ref(), &self.name, &canonical, alias).await {
                    Ok(()) => {
                        tracing::info!(repository = %self.name, digest = %self.digest, "blob cached from the upstream registry");
                        Outcome::Stored
                    }
                    Err(e) => {
                        tracing::error!(repository = %self.name, digest = %self.digest, error = ?e, "linking the fetched blob failed");
                        Outcome::Retry
                    }
                }
            }
            (Ok(_), Err(e)) => {
                tracing::error!(repository = %self.name, digest = %self.digest, error = %e, "storing the blob fetched from the upstream registry failed; it was served but not cached");
                Outcome::Retry
            }
        };
        slot.finish(outcome.clone());
        outcome
    }

    /// Reads the upstream's body, feeding the client (all but the last piece until the
    /// digest is verified) and storage. Returns the sha256 digest of what was verified.
    async fn stream(
        &self,
        mut resp: reqwest::Response,
        mut tap: Option<mpsc::Sender<Tap>>,
        store_tx: mpsc::Sender<Bytes>,
    ) -> Result<Digest, UpstreamError> {
        let alg = self.digest.algorithm();
        let mut hasher = alg.hasher();
        let mut sha256 = (alg != Algorithm::Sha256).then(|| Algorithm::Sha256.hasher());
        let mut total = 0u64;
        let mut held: Option<Bytes> = None;
        let mut store_tx = Some(store_tx);
        let fail = |tap: &mut Option<mpsc::Sender<Tap>>, e: UpstreamError| {
            if let Some(t) = tap.take() {
                let _ = t.try_send(Tap::Fail(e.to_string()));
            }
            e
        };
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    let e = UpstreamError::transport(&e);
                    return Err(fail(
                        &mut tap,
                        UpstreamError::Unreachable(format!("after {total} bytes of the blob: {e}")),
                    ));
                }
            };
            if chunk.is_empty() {
                continue;
            }
            total += chunk.len() as u64;
            if self.expected.is_some_and(|e| total > e) {
                return Err(fail(
                    &mut tap,
                    UpstreamError::Bad(format!(
                        "the upstream registry sent more bytes for blob {} than its Content-Length",
                        self.digest
                    )),
                ));
            }
            hasher.update(&chunk);
            if let Some(h) = sha256.as_mut() {
                h.update(&chunk);
            }
            let mut rest = chunk;
            while !rest.is_empty() {
                let piece = rest.split_to(rest.len().min(PIECE));
                if let Some(prev) = held.replace(piece.clone()) {
                    feed(&mut tap, Tap::Data(prev), self.idle).await;
                }
                if let Some(tx) = &store_tx {
                    if tx.send(piece).await.is_err() {
                        // Storage gave up (its error is reported at the end); the client
                        // goes on.
                        store_tx = None;
                    }
                }
            }
        }
        drop(store_tx);
        if let Some(e) = self.expected.filter(|e| *e != total) {
            return Err(fail(
                &mut tap,
                UpstreamError::Bad(format!(
                    "the upstream registry sent {total} of the {e} bytes of blob {}",
                    self.digest
                )),
            ));
        }
        let computed = hasher.finish();
        if computed != self.digest {
            return Err(fail(
                &mut tap,
                UpstreamError::Bad(format!(
                    "the upstream registry sent content for blob {} whose digest is {computed}; it was neither stored nor served",
                    self.digest
                )),
            ));
        }
        if let Some(last) = held {
            feed(&mut tap, Tap::Data(last), self.idle).await;
        }
        feed(&mut tap, Tap::Done, self.idle).await;
        Ok(sha256.map_or(computed, |h| h.finish()))
    }
}

/// Sends `msg` to the client; a client that takes no piece for `idle` (or is gone) is
/// dropped from the fetch, which goes on for storage.
async fn feed(tap: &mut Option<mpsc::Sender<Tap>>, msg: Tap, idle: Duration) {
    let Some(t) = tap else { return };
    match tokio::time::timeout(idle, t.send(msg)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => *tap = None,
        Err(_) => {
            tracing::info!(
                "a client stopped reading a blob being fetched; the fetch goes on for the cache"
            );
            *tap = None;
        }
    }
}

/// Writes what arrives on `rx` to a new upload of repository `name` and, once `verdict`
/// names the verified digest, commits it and moves it to the blob store. Without a
/// verdict the upload is removed: nothing unverified is ever committed.
async fn store(
    driver: Arc<dyn StorageDriver>,
    name: String,
    mut rx: mpsc::Receiver<Bytes>,
    verdict: oneshot::Receiver<Digest>,
) -> Result<(), String> {
    let id = new_uuid().map_err(|e| format!("no randomness for an upload id: {e}"))?;
    let upload = paths::upload(&name, &id);
    let data = paths::upload_data(&name, &id);
    let cleanup = |driver: Arc<dyn StorageDriver>, upload: String| async move {
        if let Err(e) = store::delete_if_exists(driver.as_ref(), &upload).await {
            tracing::warn!(%upload, error = %e, "removing the cache's upload failed; the upload purger removes it later");
        }
    };
    driver
        .put_content(
            &paths::upload_started_at(&name, &id),
            Bytes::from(format_rfc3339(SystemTime::now())),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut w = match driver.writer(&data, false).await {
        Ok(w) => w,
        Err(e) => {
            cleanup(Arc::clone(&driver), upload).await;
            return Err(e.to_string());
        }
    };
    let mut written = 0u64;
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = w.write(&chunk).await {
            drop(rx);
            let _ = w.cancel().await;
            cleanup(Arc::clone(&driver), upload).await;
            return Err(e.to_string());
        }
        written += chunk.len() as u64;
    }
    let Ok(canonical) = verdict.await else {
        let _ = w.cancel().await;
        cleanup(Arc::clone(&driver), upload).await;
        return Err("the content was not verified".to_owned());
    };
    let result: Result<(), String> = async {
        w.commit().await.map_err(|e| e.to_string())?;
        w.close().await.map_err(|e| e.to_string())?;
        drop(w);
        let stored = store::stat_blob(driver.as_ref(), &canonical)
            .await
            .map_err(|e| format!("{e:?}"))?;
        if stored.is_some() {
            return Ok(());
        }
        let blob = paths::blob_data(&canonical);
        if written == 0 {
            driver.put_content(&blob, Bytes::new()).await
        } else {
            driver.move_to(&data, &blob).await
        }
        .map_err(|e| e.to_string())
    }
    .await;
    cleanup(Arc::clone(&driver), upload).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn single_flight_slots() {
        let f = Inflight::default();
        let d = Digest::sha256_of(b"x");
        let Join::Leader(slot) = f.join(&d) else {
            panic!("first is the leader")
        };
        let Join::Follower(mut rx) = f.join(&d) else {
            panic!("second follows")
        };
        assert!(matches!(f.join(&Digest::sha256_of(b"y")), Join::Leader(_)));
        slot.finish(Outcome::Stored);
        assert!(matches!(
            rx.wait_for(Option::is_some).await.unwrap().clone(),
            Some(Outcome::Stored)
        ));
        assert_eq!(f.len(), 0, "a finished fetch leaves the map");
        // A leader that goes away without an outcome lets the followers try again.
        let Join::Leader(slot) = f.join(&d) else {
            panic!()
        };
        let Join::Follower(mut rx) = f.join(&d) else {
            panic!()
        };
        drop(slot);
        assert!(rx.wait_for(Option::is_some).await.is_err());
        assert_eq!(f.len(), 0);
    }

    #[tokio::test]
    async fn tap_body_ends_cleanly_only_after_done() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(Tap::Data(Bytes::from_static(b"ab"))).await.unwrap();
        tx.send(Tap::Done).await.unwrap();
        let got = tap_body(rx).collect().await.unwrap().to_bytes();
        assert_eq!(got, "ab");
        let (tx, rx) = mpsc::channel(4);
        tx.send(Tap::Data(Bytes::from_static(b"ab"))).await.unwrap();
        drop(tx);
        assert!(
            tap_body(rx).collect().await.is_err(),
            "stopped feeding: broken off"
        );
        let (tx, rx) = mpsc::channel(4);
        tx.send(Tap::Data(Bytes::from_static(b"ab"))).await.unwrap();
        tx.send(Tap::Fail("digest mismatch".into())).await.unwrap();
        assert!(tap_body(rx).collect().await.is_err());
    }
}
