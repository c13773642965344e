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
use super::reply::Reply;
use super::router::{first, query_pairs};
use super::{paths, store, Ctx, HandlerResult};
use crate::driver::{DriverError, FileInfo, StorageDriver, WalkControl, WalkOptions};
use crate::sign::uri_encode;

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
        uri_encode(last, true)
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
    crate::sort::sort(&mut all);
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

/// `GET /v2/_catalog`: the repositories in Distribution's order, found by
/// listing directories (ListObjectsV2 with delimiter `/` on S3, several at
/// once) instead of walking every object under `repositories/`.
pub(super) async fn catalog(ctx: &Ctx<'_>, req: &Request<Incoming>) -> HandlerResult {
    let q = query_pairs(req.uri().query());
    let max = ctx.state.settings.catalog_max_entries;
    let n = page_size(&q, Some(max))?.unwrap_or(DEFAULT_CATALOG_ENTRIES.min(max));
    let last = first(&q, "last").unwrap_or("").to_owned();
    let mut repos: Vec<String> = Vec::new();
    if n > 0 {
        // One more than asked for, to know whether a next page exists.
        let found = repositories(
            ctx.driver(),
            &last,
            Some(n + 1),
            RepoMarker::Layers,
            CATALOG_CONCURRENCY,
        )
        .await
        .map_err(ApiError::from)?;
        repos = found.into_iter().map(|r| r.name).collect();
    }
    let more = repos.len() > n;
    repos.truncate(n);
    let mut reply = Reply::new(StatusCode::OK);
    if let (true, Some(tail)) = (more, repos.last()) {
        reply = reply.header(LINK, link(ctx, "/v2/_catalog", n, tail));
    }
    Ok(reply.json(&json!({ "repositories": repos })))
}

/// Directory listings the catalog keeps in flight at once.
const CATALOG_CONCURRENCY: usize = 16;

/// What makes a directory under `repositories/` a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RepoMarker {
    /// A `_layers` directory: Distribution's catalog rule (`handleRepository`).
    Layers,
    /// `_layers` or `_manifests`: the garbage collector's rule, which also
    /// counts a repository whose `_layers` is gone, so that nothing its
    /// manifests reference is swept.
    LayersOrManifests,
}

/// A repository found by [`repositories`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RepoDir {
    /// The repository name (`a/b`).
    pub name: String,
    /// The names of the entries of its directory (`_layers`, `_manifests`,
    /// `_uploads`, nested repositories or namespaces).
    pub entries: Vec<String>,
}

/// Whether `prefix` is `path` or one of its ancestors, component-wise.
fn is_component_prefix(prefix: &str, path: &str) -> bool {
    path == prefix
        || (path.len() > prefix.len()
            && path.starts_with(prefix)
            && path.as_bytes()[prefix.len()] == b'/')
}

/// The sort key of [`less_path`] ('/' below every other byte).
fn path_key(s: &str) -> Vec<u8> {
    s.bytes().map(|c| if c == b'/' { 0 } else { c }).collect()
}

/// The state of one directory below `repositories/` during [`repositories`].
enum Node {
    /// Not listed yet.
    Pending,
    /// Being listed.
    Listing,
    /// Listed: the names of its entries, or `None` when it is not a directory.
    Listed(Option<Vec<String>>),
}

/// The repositories after `last` in catalog order ([`less_path`], which is a
/// depth-first walk with each directory's entries in byte order), at most
/// `limit` of them.
///
/// Every directory under `repositories/` whose name does not start with `_`
/// is listed once with [`StorageDriver::list`] (one ListObjectsV2 with
/// delimiter `/` on S3), up to `concurrency` at a time, in catalog order and
/// ahead of what is needed, so a page of the catalog costs about one listing
/// per repository on it and never reads the objects inside repositories.
/// Subtrees that sort entirely before `last` are not listed.
///
/// # Errors
/// A listing fails (other than "not found").
pub(super) async fn repositories(
    driver: &dyn StorageDriver,
    last: &str,
    limit: Option<usize>,
    marker: RepoMarker,
    concurrency: usize,
) -> Result<Vec<RepoDir>, DriverError> {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    use std::collections::BTreeMap;

    let root = paths::repositories_root();
    let mut out = Vec::new();
    if limit == Some(0) {
        return Ok(out);
    }
    // Relative paths of the directories to look at, in catalog order.
    let mut nodes: BTreeMap<Vec<u8>, (String, Node)> = BTreeMap::new();
    let mut pending: BTreeSet<Vec<u8>> = BTreeSet::new();
    let add = |nodes: &mut BTreeMap<Vec<u8>, (String, Node)>,
               pending: &mut BTreeSet<Vec<u8>>,
               rel: String| {
        // Everything below `rel` sorts before `last` unless `rel` leads to it.
        if less_path(&rel, last) && !is_component_prefix(&rel, last) {
            return;
        }
        let key = path_key(&rel);
        pending.insert(key.clone());
        nodes.insert(key, (rel, Node::Pending));
    };
    match driver.list(&root).await {
        Ok(entries) => {
            for e in entries {
                let name = e.rsplit('/').next().unwrap_or_default();
                if !name.is_empty() && !name.starts_with('_') {
                    add(&mut nodes, &mut pending, name.to_owned());
                }
            }
        }
        Err(e) if e.is_path_not_found() => return Ok(out),
        Err(e) => return Err(e),
    }
    let concurrency = concurrency.max(1);
    let mut in_flight = FuturesUnordered::new();
    loop {
        // Report every listed directory at the front of the order.
        while let Some(entry) = nodes.first_entry() {
            if !matches!(entry.get().1, Node::Listed(_)) {
                break;
            }
            let (rel, node) = entry.remove();
            let Node::Listed(Some(entries)) = node else {
                continue;
            };
            let has = |n: &str| entries.iter().any(|e| e == n);
            let is_repo = match marker {
                RepoMarker::Layers => has("_layers"),
                RepoMarker::LayersOrManifests => has("_layers") || has("_manifests"),
            };
            for name in &entries {
                if !name.is_empty() && !name.starts_with('_') {
                    add(&mut nodes, &mut pending, format!("{rel}/{name}"));
                }
            }
            if is_repo && less_path(last, &rel) {
                out.push(RepoDir { name: rel, entries });
                if limit.is_some_and(|l| out.len() >= l) {
                    return Ok(out);
                }
            }
        }
        // List the first directories not listed yet, in order.
        while in_flight.len() < concurrency {
            let Some(key) = pending.pop_first() else {
                break;
            };
            let Some((rel, node)) = nodes.get_mut(&key) else {
                continue;
            };
            *node = Node::Listing;
            let path = format!("{root}/{rel}");
            in_flight.push(async move {
                let listed = match driver.list(&path).await {
                    Ok(entries) => Ok(Some(
                        entries
                            .iter()
                            .filter_map(|e| e.rsplit('/').next())
                            .map(str::to_owned)
                            .collect::<Vec<_>>(),
                    )),
                    Err(e) if e.is_path_not_found() => Ok(None),
                    Err(e) => Err(e),
                };
                (key, listed)
            });
        }
        let Some((key, listed)) = in_flight.next().await else {
            return Ok(out);
        };
        let mut listed = listed?;
        if let Some(entries) = &mut listed {
            crate::sort::sort(entries);
        }
        if let Some((_, node)) = nodes.get_mut(&key) {
            *node = Node::Listed(listed);
        }
    }
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
    use crate::driver::{BoxedReader, FileWriter, InMemoryDriver, RedirectRequest, WalkFn};
    use bytes::Bytes;
    use std::sync::Mutex;

    /// An in-memory driver that records the directories it is asked to list.
    #[derive(Debug)]
    struct Recording {
        inner: crate::driver::Base<InMemoryDriver>,
        lists: Mutex<Vec<String>>,
    }

    impl Recording {
        fn new() -> Self {
            Self {
                inner: crate::driver::Base::new(InMemoryDriver::new()),
                lists: Mutex::new(Vec::new()),
            }
        }
    }

    #[async_trait::async_trait]
    impl StorageDriver for Recording {
        fn name(&self) -> &str {
            "recording"
        }
        async fn get_content(&self, p: &str) -> Result<Bytes, DriverError> {
            self.inner.get_content(p).await
        }
        async fn put_content(&self, p: &str, c: Bytes) -> Result<(), DriverError> {
            self.inner.put_content(p, c).await
        }
        async fn reader(&self, p: &str, o: u64) -> Result<BoxedReader, DriverError> {
            self.inner.reader(p, o).await
        }
        async fn writer(&self, p: &str, a: bool) -> Result<Box<dyn FileWriter>, DriverError> {
            self.inner.writer(p, a).await
        }
        async fn stat(&self, p: &str) -> Result<FileInfo, DriverError> {
            self.inner.stat(p).await
        }
        async fn list(&self, p: &str) -> Result<Vec<String>, DriverError> {
            self.lists.lock().unwrap().push(p.to_owned());
            self.inner.list(p).await
        }
        async fn move_to(&self, a: &str, b: &str) -> Result<(), DriverError> {
            self.inner.move_to(a, b).await
        }
        async fn delete(&self, p: &str) -> Result<(), DriverError> {
            self.inner.delete(p).await
        }
        async fn redirect_url(
            &self,
            r: &RedirectRequest,
            p: &str,
        ) -> Result<Option<String>, DriverError> {
            self.inner.redirect_url(r, p).await
        }
        async fn walk(
            &self,
            _: &str,
            _: &mut WalkFn<'_>,
            _: WalkOptions,
        ) -> Result<(), DriverError> {
            panic!("the repository listing must not walk")
        }
    }

    async fn tree() -> Recording {
        let d = Recording::new();
        let root = paths::repositories_root();
        for f in [
            "a/_layers/sha256/x/link",
            "a/_manifests/revisions/sha256/x/link",
            "a/sub/_layers/sha256/x/link",
            "a-b/_layers/sha256/x/link",
            "b/_layers/sha256/x/link",
            "c/d/e/_layers/sha256/x/link",
            "m/_manifests/revisions/sha256/x/link",
            "u/_uploads/id/data",
            "z/_layers/sha256/x/link",
        ] {
            d.inner
                .put_content(&format!("{root}/{f}"), Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        d
    }

    fn names(r: &[RepoDir]) -> Vec<&str> {
        r.iter().map(|r| r.name.as_str()).collect()
    }

    #[tokio::test]
    async fn repositories_in_catalog_order_with_bounded_listing() {
        let d = tree().await;
        let all = repositories(&d, "", None, RepoMarker::Layers, 4)
            .await
            .unwrap();
        assert_eq!(names(&all), ["a", "a/sub", "a-b", "b", "c/d/e", "z"]);
        assert_eq!(all[0].entries, ["_layers", "_manifests", "sub"]);
        let gc = repositories(&d, "", None, RepoMarker::LayersOrManifests, 1)
            .await
            .unwrap();
        assert_eq!(names(&gc), ["a", "a/sub", "a-b", "b", "c/d/e", "m", "z"]);
        // Each directory is listed once; nothing inside a repository's `_` directories.
        let lists = d.lists.lock().unwrap().clone();
        assert!(lists.iter().all(|l| !l.contains("/_")), "{lists:?}");
        assert_eq!(lists.len(), 2 * 11, "{lists:?}");

        // After `last`: subtrees before it are not listed.
        d.lists.lock().unwrap().clear();
        let page = repositories(&d, "a-b", Some(2), RepoMarker::Layers, 1)
            .await
            .unwrap();
        assert_eq!(names(&page), ["b", "c/d/e"]);
        let lists = d.lists.lock().unwrap().clone();
        let root = paths::repositories_root();
        assert!(
            !lists
                .iter()
                .any(|l| l.starts_with(&format!("{root}/a/")) || *l == format!("{root}/a")),
            "{lists:?}"
        );
        // One at a time, it stops at the limit: z, m and u are never listed.
        assert!(
            !lists.iter().any(|l| l.ends_with("/z") || l.ends_with("/u")),
            "{lists:?}"
        );
        let page = repositories(&d, "c/d", Some(10), RepoMarker::Layers, 8)
            .await
            .unwrap();
        assert_eq!(names(&page), ["c/d/e", "z"]);
        assert!(repositories(&d, "zz", None, RepoMarker::Layers, 8)
            .await
            .unwrap()
            .is_empty());
        assert!(repositories(&d, "", Some(0), RepoMarker::Layers, 8)
            .await
            .unwrap()
            .is_empty());
        let empty = Recording::new();
        assert!(repositories(&empty, "", None, RepoMarker::Layers, 8)
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn component_prefixes() {
        assert!(is_component_prefix("a", "a"));
        assert!(is_component_prefix("a", "a/b"));
        assert!(!is_component_prefix("a", "a-b"));
        assert!(!is_component_prefix("a/b", "a"));
    }

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
