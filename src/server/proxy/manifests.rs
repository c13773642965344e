//! Manifests and tags through the cache.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, LINK};
use hyper::{Request, StatusCode};
use reqwest::Method;

use super::scheduler::Kind;
use super::upstream::{read_limited, UpstreamError};
use super::{status_error, upstream_error, Proxy};
use crate::server::digest::{Algorithm, Digest};
use crate::server::error::{ApiError, ApiErrors, ErrorCode};
use crate::server::manifests::{parse_put, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::server::names::is_valid_tag;
use crate::server::reply::Reply;
use crate::server::{body, listing, paths, store, Ctx, HandlerResult};

/// Largest manifest accepted from the upstream (as for a push).
const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// Largest tag list passed through.
const MAX_TAG_LIST: usize = 16 * 1024 * 1024;

/// `Docker-Content-Digest`.
const DIGEST_HEADER: &str = "docker-content-digest";

/// Every manifest type this registry stores, asked for from the upstream.
fn accept_all() -> String {
    [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ")
}

/// A manifest as the upstream sent it.
struct Fetched {
    /// sha256 of the payload (where it is stored).
    canonical: Digest,
    /// The digest it was asked for (equal to `canonical` unless a sha512 one).
    requested: Digest,
    payload: Bytes,
}

fn proxy_of<'a>(ctx: &'a Ctx<'_>) -> Option<&'a Proxy> {
    ctx.state.proxy.as_deref()
}

/// Makes the manifest `reference` of repository `name` present and, for a tag, fresh in
/// storage, so the local handler can serve it: fetched when missing, a tag checked with
/// the upstream when older than `proxy.ttl` (and served as cached when the upstream
/// cannot answer).
///
/// # Errors
/// A missing manifest the upstream does not have, or cannot send (unreachable, refused,
/// wrong content), or storage failures.
pub(in crate::server) async fn ensure(
    ctx: &Ctx<'_>,
    name: &str,
    reference: &str,
) -> Result<(), ApiErrors> {
    let Some(proxy) = proxy_of(ctx) else {
        return Ok(());
    };
    if reference.contains(':') {
        let Ok(digest) = reference.parse::<Digest>() else {
            return Ok(()); // the local handler answers DIGEST_INVALID
        };
        if store::repo_manifest(ctx.driver(), name, &digest)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let f = fetch(proxy, name, &digest.to_string(), Some(&digest)).await?;
        return save(ctx, proxy, name, &f, None).await;
    }
    if !is_valid_tag(reference) {
        return Ok(());
    }
    let tag = reference;
    let driver = ctx.driver();
    let link = paths::tag_current_link(name, tag);
    // A tag never pulled costs one storage lookup before the upstream is asked.
    let (local, checked) = match driver.stat(&link).await {
        Ok(fi) => match store::read_link(driver, &link).await? {
            Some(d) if store::repo_manifest(driver, name, &d).await?.is_some() => {
                (Some(d), fi.mod_time)
            }
            _ => (None, None),
        },
        Err(e) if e.is_path_not_found() => (None, None),
        Err(e) => return Err(ApiError::from(e).into()),
    };
    let Some(local) = local else {
        let f = fetch(proxy, name, tag, None).await?;
        return save(ctx, proxy, name, &f, Some(tag)).await;
    };
    let fresh = match (proxy.ttl, checked) {
        (Some(ttl), Some(at)) => is_fresh(SystemTime::now(), at, ttl),
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    // Stale: ask whether the tag moved.
    match revalidate(ctx, proxy, name, tag, &local).await {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(repository = name, tag, error = ?e.0.first().map(|e| &e.detail), "the upstream registry could not confirm the tag; serving the cached manifest");
            Ok(())
        }
    }
}

/// How far ahead of this host's clock a storage time may be and still count as "just now".
/// Storage servers round times up (Swift's `Last-Modified` is the next whole second) and
/// their clocks drift; a time further ahead than this is not trusted and the tag is checked.
const CLOCK_AHEAD: Duration = Duration::from_secs(300);

/// Whether a tag last checked `at` (storage's clock) is younger than `ttl` at `now`.
fn is_fresh(now: SystemTime, at: SystemTime, ttl: Duration) -> bool {
    match now.duration_since(at) {
        Ok(age) => age < ttl,
        // `at` is ahead of `now`: age 0 when within the tolerated skew.
        Err(ahead) => ahead.duration() <= CLOCK_AHEAD && !ttl.is_zero(),
    }
}

/// Asks the upstream where `tag` points now: the same manifest renews the local tag's
/// check time, another is fetched and the tag moved to it.
async fn revalidate(
    ctx: &Ctx<'_>,
    proxy: &Proxy,
    name: &str,
    tag: &str,
    local: &Digest,
) -> Result<(), ApiErrors> {
    let resp = proxy
        .upstream
        .send(
            Method::HEAD,
            name,
            &format!("/v2/{name}/manifests/{tag}"),
            Some(&accept_all()),
            true,
        )
        .await
        .map_err(|e| upstream_error(e, ErrorCode::ManifestUnknown))?;
    if resp.status() != StatusCode::OK {
        return Err(status_error(&resp, ErrorCode::ManifestUnknown, "the tag"));
    }
    let upstream_digest = resp
        .headers()
        .get(DIGEST_HEADER)
        .and_then(|v| v.to_str().ok()?.trim().parse::<Digest>().ok());
    let driver = ctx.driver();
    match upstream_digest {
        Some(d) if d == *local => {
            // Unchanged: rewriting the link renews its time, the tag's last check.
            store::write_link(driver, &paths::tag_current_link(name, tag), local).await?;
            tracing::debug!(repository = name, tag, digest = %d, "tag revalidated");
            Ok(())
        }
        Some(d) => {
            tracing::info!(repository = name, tag, from = %local, to = %d, "the tag moved upstream");
            if let Some(cached) = store::repo_manifest(driver, name, &d).await? {
                // Cached already by digest: only the tag moves.
                return tag_to(ctx, name, tag, &cached.digest).await;
            }
            let f = fetch(proxy, name, &d.to_string(), Some(&d)).await?;
            save(ctx, proxy, name, &f, Some(tag)).await
        }
        None => {
            let f = fetch(proxy, name, tag, None).await?;
            save(ctx, proxy, name, &f, Some(tag)).await
        }
    }
}

/// `GET <name>/manifests/<reference>` from the upstream, checked: within the size limit,
/// matching `digest` (when fetched by digest) and the upstream's `Docker-Content-Digest`,
/// and a manifest this registry can store.
async fn fetch(
    proxy: &Proxy,
    name: &str,
    reference: &str,
    digest: Option<&Digest>,
) -> Result<Fetched, ApiErrors> {
    let what = format!("manifest {reference}");
    let resp = proxy
        .upstream
        .send(
            Method::GET,
            name,
            &format!("/v2/{name}/manifests/{reference}"),
            Some(&accept_all()),
            true,
        )
        .await
        .map_err(|e| upstream_error(e, ErrorCode::ManifestUnknown))?;
    if resp.status() != StatusCode::OK {
        return Err(status_error(&resp, ErrorCode::ManifestUnknown, &what));
    }
    let bad = |m: String| {
        tracing::error!(repository = name, reference, "{m}");
        upstream_error(UpstreamError::Bad(m), ErrorCode::ManifestUnknown)
    };
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let claimed = resp
        .headers()
        .get(DIGEST_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned());
    let payload = read_limited(resp, MAX_MANIFEST_SIZE)
        .await
        .map_err(|e| upstream_error(e, ErrorCode::ManifestUnknown))?
        .ok_or_else(|| {
            bad(format!(
                "the upstream registry sent a {what} larger than {MAX_MANIFEST_SIZE} bytes"
            ))
        })?;
    let canonical = Digest::sha256_of(&payload);
    let requested = match digest {
        Some(d) => {
            let computed = if d.algorithm() == Algorithm::Sha256 {
                canonical.clone()
            } else {
                d.algorithm().digest(&payload)
            };
            if computed != *d {
                return Err(bad(format!(
                    "the upstream registry sent content for {what} whose digest is {computed}; it was not stored"
                )));
            }
            d.clone()
        }
        None => canonical.clone(),
    };
    if let Some(c) = claimed.and_then(|c| c.parse::<Digest>().ok()) {
        let computed = if c.algorithm() == Algorithm::Sha256 {
            canonical.clone()
        } else {
            c.algorithm().digest(&payload)
        };
        if computed != c {
            return Err(bad(format!(
                "the upstream registry sent {what} as {c} but its content is {computed}; it was not stored"
            )));
        }
    }
    if let Err(e) = parse_put(&content_type, &payload) {
        let why =
            e.0.first()
                .and_then(|e| e.detail.as_ref())
                .map_or_else(String::new, ToString::to_string);
        return Err(bad(format!(
            "the upstream registry sent a {what} this registry cannot store: {why}"
        )));
    }
    Ok(Fetched {
        canonical,
        requested,
        payload,
    })
}

/// Stores a fetched manifest in repository `name` (blob, revision links, and the tag) and
/// schedules its expiry.
async fn save(
    ctx: &Ctx<'_>,
    proxy: &Proxy,
    name: &str,
    f: &Fetched,
    tag: Option<&str>,
) -> Result<(), ApiErrors> {
    let driver = ctx.driver();
    if store::stat_blob(driver, &f.canonical).await?.is_none() {
        driver
            .put_content(&paths::blob_data(&f.canonical), f.payload.clone())
            .await
            .map_err(ApiError::from)?;
    }
    store::write_link(
        driver,
        &paths::manifest_revision_link(name, &f.canonical),
        &f.canonical,
    )
    .await?;
    if f.requested != f.canonical {
        store::write_link(
            driver,
            &paths::manifest_revision_link(name, &f.requested),
            &f.canonical,
        )
        .await?;
    }
    proxy.schedule(Kind::Manifest, name, &f.canonical);
    tracing::info!(repository = name, digest = %f.canonical, tag, "manifest cached from the upstream registry");
    match tag {
        Some(t) => tag_to(ctx, name, t, &f.canonical).await,
        None => Ok(()),
    }
}

/// Points `tag` at `digest` (index link, then the current link).
async fn tag_to(ctx: &Ctx<'_>, name: &str, tag: &str, digest: &Digest) -> Result<(), ApiErrors> {
    let driver = ctx.driver();
    store::write_link(driver, &paths::tag_index_link(name, tag, digest), digest).await?;
    store::write_link(driver, &paths::tag_current_link(name, tag), digest).await?;
    Ok(())
}

/// `GET /v2/<name>/tags/list`: the upstream's list (registry:2's cache asks the upstream
/// first), or the cached tags when the upstream cannot answer.
pub(in crate::server) async fn tags(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    name: &str,
) -> HandlerResult {
    let Some(proxy) = proxy_of(ctx) else {
        return listing::tags(ctx, req, name).await;
    };
    let query = req
        .uri()
        .query()
        .map_or_else(String::new, |q| format!("?{q}"));
    let resp = proxy
        .upstream
        .send(
            Method::GET,
            name,
            &format!("/v2/{name}/tags/list{query}"),
            None,
            true,
        )
        .await;
    let resp = match resp {
        Ok(r) if r.status() == StatusCode::OK => r,
        Ok(r) => {
            tracing::debug!(repository = name, status = %r.status(), "the upstream did not list the tags; listing the cached ones");
            return listing::tags(ctx, req, name).await;
        }
        Err(e) => {
            tracing::debug!(repository = name, error = %e, "the upstream could not list the tags; listing the cached ones");
            return listing::tags(ctx, req, name).await;
        }
    };
    // Only a relative `Link` (the next page) is passed on: an absolute one would name the
    // upstream.
    let link = resp
        .headers()
        .get(LINK)
        .and_then(|v| v.to_str().ok())
        .filter(|l| l.trim_start().starts_with("</"))
        .map(str::to_owned);
    let Ok(Some(payload)) = read_limited(resp, MAX_TAG_LIST).await else {
        return listing::tags(ctx, req, name).await;
    };
    if serde_json::from_slice::<serde_json::Value>(&payload).is_err() {
        return listing::tags(ctx, req, name).await;
    }
    let mut reply = Reply::new(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .header(hyper::header::CONTENT_LENGTH, payload.len().to_string());
    if let Some(l) = link {
        reply = reply.header(LINK, l);
    }
    Ok(reply.with_body(body::full(payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_fresh_for_its_ttl_and_through_a_storage_clock_slightly_ahead() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let hour = Duration::from_secs(3600);
        let s = Duration::from_secs;
        assert!(is_fresh(now, now, hour));
        assert!(is_fresh(now, now - s(3599), hour));
        assert!(!is_fresh(now, now - hour, hour));
        // Swift rounds Last-Modified up to the next second: a link written just now.
        assert!(is_fresh(now, now + Duration::from_millis(400), hour));
        assert!(is_fresh(now, now + CLOCK_AHEAD, hour));
        // A clock far ahead is not trusted.
        assert!(!is_fresh(now, now + CLOCK_AHEAD + s(1), hour));
        assert!(!is_fresh(now, now + s(1), Duration::ZERO));
    }
}
