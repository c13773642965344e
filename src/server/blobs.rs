//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>` (Distribution's `blob.go` and
//! `blobserver.go`): a 307 to the driver's URL, or the content served directly
//! with a single-range `Range` and `If-None-Match` support.

use hyper::body::Incoming;
use hyper::header::{
    HeaderName, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, LOCATION, RANGE,
};
use hyper::{Method, Request, StatusCode};

use super::digest::Digest;
use super::error::{ApiErrors, ErrorCode};
use super::notifications::{Action, Event};
use super::reply::Reply;
use super::{body, paths, store, Ctx, HandlerResult};
use crate::driver::RedirectRequest;

/// `Docker-Content-Digest`.
pub(super) const DOCKER_CONTENT_DIGEST: HeaderName =
    HeaderName::from_static("docker-content-digest");

/// One year, Distribution's `blobCacheControlMaxAge`.
const CACHE_MAX_AGE: &str = "max-age=31536000";

/// Parses a digest from a path or query, answering `DIGEST_INVALID`.
pub(super) fn parse_digest(s: &str) -> Result<Digest, ApiErrors> {
    s.parse::<Digest>().map_err(|e| {
        ErrorCode::DigestInvalid
            .with_detail(format!("{s}: {e}"))
            .into()
    })
}

/// GET or HEAD of a blob.
pub(super) async fn get(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    name: &str,
    digest: &str,
) -> HandlerResult {
    let digest = parse_digest(digest)?;
    let Some(desc) = store::repo_blob(ctx.driver(), name, &digest).await? else {
        if ctx.state.proxy.is_some() {
            return super::proxy::blob(ctx, req, name, &digest).await;
        }
        return Err(ErrorCode::BlobUnknown
            .with_detail(digest.to_string())
            .into());
    };
    serve_local(ctx, req, name, &digest, &desc).await
}

/// Serves blob `desc` (which repository `name` links as `digest`) from storage.
pub(super) async fn serve_local(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    name: &str,
    digest: &Digest,
    desc: &store::BlobDesc,
) -> HandlerResult {
    let driver = ctx.driver();
    let path = paths::blob_data(&desc.digest);
    let pulled = || {
        ctx.notify(Event::blob(
            Action::Pull,
            name,
            &desc.digest.to_string(),
            desc.size,
        ));
    };
    if !ctx.state.settings.redirect_disabled {
        let rr = RedirectRequest {
            method: req.method().as_str().to_owned(),
            headers: req
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            remote_addr: Some(ctx.remote),
        };
        if let Some(url) = driver.redirect_url(&rr, &path).await? {
            pulled();
            return Ok(Reply::new(StatusCode::TEMPORARY_REDIRECT)
                .header(LOCATION, url)
                .header(DOCKER_CONTENT_DIGEST, digest.to_string())
                .empty());
        }
    }
    // Answered under the digest the client asked for (a sha512 alias of a blob
    // stored under its sha256 keeps its sha512 name).
    let etag = format!("\"{digest}\"");
    let size = desc.size;
    let base = |status| {
        Reply::new(status)
            .header(ETAG, &etag)
            .header(CACHE_CONTROL, CACHE_MAX_AGE)
            .header(DOCKER_CONTENT_DIGEST, digest.to_string())
            .header(ACCEPT_RANGES, "bytes")
    };
    if if_none_match(req, &digest.to_string()) {
        pulled();
        return Ok(base(StatusCode::NOT_MODIFIED).with_body(body::empty()));
    }
    let range = match req.headers().get(RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(h) => match parse_range(h, size) {
            Ok(r) => r,
            Err(RangeError::NoOverlap) => {
                return Ok(base(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(CONTENT_RANGE, format!("bytes */{size}"))
                    .header(CONTENT_TYPE, "text/plain; charset=utf-8")
                    .with_body(body::full("invalid range: failed to overlap\n")));
            }
            Err(RangeError::Invalid) => {
                return Ok(base(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(CONTENT_TYPE, "text/plain; charset=utf-8")
                    .with_body(body::full("invalid range\n")));
            }
        },
    };
    let (status, offset, len, reply) = match range {
        Some((start, len)) => (
            StatusCode::PARTIAL_CONTENT,
            start,
            len,
            base(StatusCode::PARTIAL_CONTENT).header(
                CONTENT_RANGE,
                format!("bytes {start}-{}/{size}", start + len - 1),
            ),
        ),
        None => (StatusCode::OK, 0, size, base(StatusCode::OK)),
    };
    let reply = reply
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_LENGTH, len.to_string());
    if req.method() == Method::HEAD {
        pulled();
        return Ok(reply.with_body(body::empty()));
    }
    let reader = match driver.reader(&path, offset).await {
        Ok(r) => r,
        Err(e) if e.is_path_not_found() => {
            return Err(ErrorCode::BlobUnknown
                .with_detail(desc.digest.to_string())
                .into())
        }
        Err(e) => return Err(e.into()),
    };
    tracing::debug!(%status, offset, len, "serving blob");
    pulled();
    Ok(reply.with_body(body::from_reader(reader, len)))
}

/// True if an `If-None-Match` header names `etag` (quoted or not), as
/// Distribution's `etagMatch` and Go's `ServeContent` accept.
pub(super) fn if_none_match(req: &Request<Incoming>, etag: &str) -> bool {
    req.headers().get_all(IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').map(str::trim).any(|t| {
                let t = t.strip_prefix("W/").unwrap_or(t);
                t == "*" || t == etag || t.trim_matches('"') == etag
            })
        })
    })
}

/// Why a `Range` header cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RangeError {
    /// Malformed.
    Invalid,
    /// Starts at or after the end.
    NoOverlap,
}

/// Go's `parseRange` for one range: `Ok(Some((start, len)))`, or `Ok(None)` to
/// serve the whole content (several ranges are answered with everything, which
/// RFC 9110 allows).
pub(super) fn parse_range(header: &str, size: u64) -> Result<Option<(u64, u64)>, RangeError> {
    let spec = header
        .strip_prefix("bytes=")
        .ok_or(RangeError::Invalid)?
        .trim();
    if spec.contains(',') {
        // Validate syntax of each part but serve the full content.
        for part in spec.split(',') {
            if !part.trim().contains('-') {
                return Err(RangeError::Invalid);
            }
        }
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(RangeError::Invalid)?;
    let (start, end) = (start.trim(), end.trim());
    // Go's `strconv.ParseInt(s, 10, 64)`: a number past `i64::MAX` is malformed, not clamped.
    let num = |s: &str| -> Result<u64, RangeError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RangeError::Invalid);
        }
        s.parse::<i64>()
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(RangeError::Invalid)
    };
    if start.is_empty() {
        let n = num(end)?.min(size);
        if n == 0 {
            return Err(RangeError::NoOverlap);
        }
        return Ok(Some((size - n, n)));
    }
    let s = num(start)?;
    if s >= size {
        return Err(RangeError::NoOverlap);
    }
    if end.is_empty() {
        return Ok(Some((s, size - s)));
    }
    let e = num(end)?;
    if s > e {
        return Err(RangeError::Invalid);
    }
    let e = e.min(size - 1);
    Ok(Some((s, e - s + 1)))
}

/// DELETE of a blob: removes this repository's link only (Distribution's
/// `linkedBlobStore.Delete`); the data stays for the garbage collector.
pub(super) async fn delete(ctx: &Ctx<'_>, name: &str, digest: &str) -> HandlerResult {
    if !ctx.state.settings.delete_enabled {
        return Err(ErrorCode::Unsupported.into());
    }
    let digest = parse_digest(digest)?;
    let driver = ctx.driver();
    if store::repo_blob(driver, name, &digest).await?.is_none() {
        return Err(ErrorCode::BlobUnknown
            .with_detail(digest.to_string())
            .into());
    }
    match driver.delete(&paths::layer_link(name, &digest)).await {
        Err(e) if e.is_path_not_found() => Err(ErrorCode::BlobUnknown
            .with_detail(digest.to_string())
            .into()),
        Err(e) => Err(e.into()),
        Ok(()) => {
            ctx.notify(Event::deleted(name, &digest.to_string()));
            Ok(Reply::new(StatusCode::ACCEPTED).empty())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_go_parse_range() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 10))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 10))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 10))));
        assert_eq!(parse_range("bytes=-500", 100), Ok(Some((0, 100))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 50))));
        assert_eq!(parse_range("bytes=100-", 100), Err(RangeError::NoOverlap));
        assert_eq!(parse_range("bytes=0-", 0), Err(RangeError::NoOverlap));
        assert_eq!(parse_range("bytes=-0", 100), Err(RangeError::NoOverlap));
        assert_eq!(parse_range("bytes=9-1", 100), Err(RangeError::Invalid));
        assert_eq!(parse_range("items=0-1", 100), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=a-b", 100), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        // Numbers are Go int64s: up to i64::MAX, larger ones are malformed (416 "invalid range").
        let max = "9223372036854775807";
        assert_eq!(
            parse_range(&format!("bytes=5-{max}"), 100),
            Ok(Some((5, 95)))
        );
        assert_eq!(
            parse_range(&format!("bytes={max}-"), 100),
            Err(RangeError::NoOverlap)
        );
        assert_eq!(
            parse_range(&format!("bytes=-{max}"), 100),
            Ok(Some((0, 100)))
        );
        for over in [
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            for spec in [format!("5-{over}"), format!("{over}-"), format!("-{over}")] {
                assert_eq!(
                    parse_range(&format!("bytes={spec}"), 100),
                    Err(RangeError::Invalid),
                    "{spec}"
                );
            }
        }
    }
}
