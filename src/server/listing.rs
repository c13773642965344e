//! Listings: `/v2/<name>/tags/list`, `/v2/_catalog` (Distribution's `tags.go`,
//! `catalog.go`, `storage/catalog.go`) and `/v2/<name>/referrers/<digest>`
//! (OCI distribution spec 1.1).

use std::collections::BTreeSet;

use hyper::body::Incoming;
use hyper::header::{HeaderName, CONTENT_TYPE, LINK};
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use super::blobs::parse_digest;
use super::digest::Digest;
use super::error::{ApiError, ApiErrors, ErrorCode};
use super::manifests::{stored_media_type, OCI_INDEX, OCI_MANIFEST};
use super::names::is_valid_name;
use super::reply::Reply;
use super::router::{encode_query_value, first, query_pairs};
use super::{paths, store, Ctx, HandlerResult};
use crate::driver::{DriverError, FileInfo, WalkControl, WalkOptions};

/// Default page size of the catalog (Distribution's `defaultReturnedEntries`).
const DEFAULT_CATALOG_ENTRIES: usize = 100;

const OCI_FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");

/// Parses `n`: absent is `None`; not a non-negative integer, or above `max`, is
/// `PAGINATION_NUMBER_INVALID`.
fn page_size(q: &[(String, String)], max: Option<usize>) -> Result<Option<usize>, ApiErrors> {
    let Some(n) = first(q, "n") else {
        return Ok(None);
    };
    match n.parse::<usize>() {
        Ok(v) if max.is_none_or(|m| v <= m) => Ok(Some(v)),
        _ => Err(ErrorCode::PaginationNumberInvalid
            .with_detail(json!({ "n": n }))
            .into()),
    }
}

/// `<path?last=...&n=...>; rel="next"` (keys sorted, as Go's `url.Values.Encode`).
fn link(ctx: &Ctx<'_>, path: &str, n: usize, last: &str) -> String {
    format!(
        "<{}?last={}&n={n}>; rel=\"next\"",
        ctx.url(path),
        encode_query_value(last)
    )
}

/// `GET /v2/<name>/tags/list`.
pub(super) async fn tags(ctx: &Ctx<'_>, req: &Request<Incoming>, name: &str) -> HandlerResult {
    let q = query_pairs(req.uri().query());
    let limit = page_size(&q, None)?;
    let last = first(&q, "last").unwrap_or("");
    let entries = match ctx.driver().list(&paths::tags(name)).await {
        Ok(e) => e,
        Err(e) if e.is_path_not_found() => {
            return Err(ErrorCode::NameUnknown
                .with_detail(json!({ "name": name }))
                .into())
        }
        Err(e) => return Err(ApiError::from(e).into()),
    };
    let mut all: Vec<String> = entries
        .iter()
        .filter_map(|p| p.rsplit('/').next())
        .map(str::to_owned)
        .collect();
    all.sort();
    let rest: Vec<String> = all.into_iter().filter(|t| t.as_str() > last).collect();
    let (page, more) = match limit {
        None => (rest, false),
        Some(n) => {
            let more = rest.len() > n;
            (rest.into_iter().take(n).collect::<Vec<_>>(), more)
        }
    };
    let mut reply = Reply::new(StatusCode::OK);
    if let (true, Some(n), Some(tail)) = (more, limit, page.last()) {
        reply = reply.header(LINK, link(ctx, &format!("/v2/{name}/tags/list"), n, tail));
    }
    Ok(reply.json(&json!({ "name": name, "tags": page })))
}

/// `a < b` comparing path components (Distribution's `lessPath`: `/` sorts
/// before every other byte).
fn less_path(a: &str, b: &str) -> bool {
    let key = |s: &str| {
        s.bytes()
            .map(|c| if c == b'/' { 0 } else { c })
            .collect::<Vec<u8>>()
    };
    key(a) < key(b)
}

/// `GET /v2/_catalog`.
pub(super) async fn catalog(ctx: &Ctx<'_>, req: &Request<Incoming>) -> HandlerResult {
    let q = query_pairs(req.uri().query());
    let max = ctx.state.settings.catalog_max_entries;
    let n = page_size(&q, Some(max))?.unwrap_or(DEFAULT_CATALOG_ENTRIES.min(max));
    let last = first(&q, "last").unwrap_or("").to_owned();
    let root = paths::repositories_root();
    let mut repos: Vec<String> = Vec::new();
    if n > 0 {
        // The hint is only an optimisation; a `last` that is not a repository
        // name would not be a valid storage path, so it only filters.
        let opts = if is_valid_name(&last) {
            WalkOptions::start_after(format!("{root}/{last}"))
        } else {
            WalkOptions::default()
        };
        // Collect one more than asked for, to know whether a next page exists.
        let want = n + 1;
        let prefix_len = root.len() + 1;
        let mut visit = |fi: &FileInfo| -> Result<WalkControl, DriverError> {
            let Some(rel) = fi.path.get(prefix_len..) else {
                return Ok(WalkControl::Continue);
            };
            let file = rel.rsplit('/').next().unwrap_or(rel);
            if file == "_layers" {
                let repo = rel.strip_suffix("/_layers").unwrap_or(rel);
                if less_path(&last, repo) {
                    repos.push(repo.to_owned());
                    if repos.len() >= want {
                        return Ok(WalkControl::Stop);
                    }
                }
                return Ok(WalkControl::SkipDir);
            }
            if file.starts_with('_') {
                return Ok(WalkControl::SkipDir);
            }
            Ok(WalkControl::Continue)
        };
        match ctx.driver().walk(&root, &mut visit, opts).await {
            Ok(()) => {}
            Err(e) if e.is_path_not_found() => {}
            Err(e) => return Err(ApiError::from(e).into()),
        }
    }
    let more = repos.len() > n;
    repos.truncate(n);
    let mut reply = Reply::new(StatusCode::OK);
    if let (true, Some(tail)) = (more, repos.last()) {
        reply = reply.header(LINK, link(ctx, "/v2/_catalog", n, tail));
    }
    Ok(reply.json(&json!({ "repositories": repos })))
}

/// `GET /v2/<name>/referrers/<digest>`: the manifests of the repository whose
/// `subject` is `digest`, as an OCI image index. Found by reading every
/// manifest revision of the repository (there is no referrers index in the
/// storage layout), so the cost grows with the repository's manifest count.
pub(super) async fn referrers(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    name: &str,
    digest: &str,
) -> HandlerResult {
    let subject = parse_digest(digest)?.to_string();
    let q = query_pairs(req.uri().query());
    let artifact_type = first(&q, "artifactType").filter(|a| !a.is_empty());
    let driver = ctx.driver();
    let mut links = Vec::new();
    let mut visit = |fi: &FileInfo| -> Result<WalkControl, DriverError> {
        if !fi.is_dir && fi.path.ends_with("/link") {
            links.push(fi.path.clone());
        }
        Ok(WalkControl::Continue)
    };
    match driver
        .walk(
            &paths::manifest_revisions(name),
            &mut visit,
            WalkOptions::default(),
        )
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_path_not_found() => {}
        Err(e) => return Err(ApiError::from(e).into()),
    }
    let mut seen: BTreeSet<Digest> = BTreeSet::new();
    let mut manifests: Vec<Value> = Vec::new();
    for l in links {
        let Some(target) = store::read_link(driver, &l).await? else {
            continue;
        };
        if !seen.insert(target.clone()) {
            continue;
        }
        let content = match driver.get_content(&paths::blob_data(&target)).await {
            Ok(c) => c,
            Err(e) if e.is_path_not_found() => continue,
            Err(e) => return Err(ApiError::from(e).into()),
        };
        let (media_type, json) = stored_media_type(&content);
        let Some(v) = json else { continue };
        if v.pointer("/subject/digest").and_then(Value::as_str) != Some(subject.as_str()) {
            continue;
        }
        let at = v.get("artifactType").and_then(Value::as_str).or_else(|| {
            (media_type == OCI_MANIFEST)
                .then(|| v.pointer("/config/mediaType").and_then(Value::as_str))
                .flatten()
        });
        if artifact_type.is_some_and(|want| at != Some(want)) {
            continue;
        }
        let mut d = json!({
            "mediaType": media_type,
            "digest": target.to_string(),
            "size": content.len(),
        });
        if let Some(at) = at {
            d["artifactType"] = json!(at);
        }
        if let Some(a) = v.get("annotations").filter(|a| a.is_object()) {
            d["annotations"] = a.clone();
        }
        manifests.push(d);
    }
    let mut reply = Reply::new(StatusCode::OK).header(CONTENT_TYPE, OCI_INDEX);
    if artifact_type.is_some() {
        reply = reply.header(OCI_FILTERS_APPLIED, "artifactType");
    }
    Ok(reply.json(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn less_path_orders_components() {
        assert!(less_path("", "a"));
        assert!(less_path("a", "a/b"));
        assert!(less_path("a/b", "a-b"));
        assert!(!less_path("a", "a"));
        assert!(!less_path("b", "a/z"));
    }

    #[test]
    fn page_size_rules() {
        let q = |s: &str| query_pairs(Some(s));
        assert_eq!(page_size(&q(""), Some(10)).unwrap(), None);
        assert_eq!(page_size(&q("n=0"), Some(10)).unwrap(), Some(0));
        assert_eq!(page_size(&q("n=10"), Some(10)).unwrap(), Some(10));
        for bad in ["n=11", "n=-1", "n=x"] {
            assert_eq!(
                page_size(&q(bad), Some(10)).unwrap_err().0[0].code,
                ErrorCode::PaginationNumberInvalid
            );
        }
        assert_eq!(page_size(&q("n=1000000"), None).unwrap(), Some(1_000_000));
    }
}
