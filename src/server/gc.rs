//! Garbage collection: `s3driver garbage-collect`, a mark and sweep over the
//! registry's storage with the semantics of Distribution's
//! `registry/storage/garbagecollect.go` (and `vacuum.go`), on any
//! [`StorageDriver`].
//!
//! # What is kept and what goes
//!
//! *Mark*: every manifest revision of every repository (`_manifests/revisions`)
//! whose blob exists is kept, with everything it references: the config and
//! layers of an image manifest, the manifests of an index (and, recursively,
//! what those reference), the `fsLayers` of a schema 1 manifest, the `blobs` of
//! an OCI artifact manifest.
//!
//! With `delete_untagged` (registry:2's `--delete-untagged`/`-m`), only
//! manifests a tag of their repository points at (`tags/<t>/current/link`) are
//! kept, plus, as Distribution v3 does, the manifests a kept index lists (so a
//! multi-platform image keeps its platform manifests), plus the manifests whose
//! OCI `subject` is a kept manifest of the same repository (signatures, SBOMs:
//! this registry answers the referrers API, so OCI 1.1 clients push them
//! without a tag). Every other manifest is deleted: its revision links and its
//! entries in every tag's history (`tags/<t>/index`).
//!
//! *Sweep*: every blob under `blobs/` that nothing marked is deleted, then the
//! `_layers` links of blobs that are not stored any more (as Distribution v3
//! removes the links of the blobs it deletes; registry:2 2.8 leaves them
//! dangling, and so does a run that stopped).
//!
//! # Where this differs from registry:2 2.8.2
//!
//! - 2.8.2 treats the platform manifests of a tagged index as untagged: with
//!   `-m` it deletes them and sweeps their configs and layers, so the image no
//!   longer pulls. This follows v3 instead (see above).
//! - Neither 2.8.2 nor v3 keeps untagged referrers; they have no referrers API,
//!   so their clients tag referrers (`sha256-<hex>` tags) and the tag keeps them.
//! - A digest referenced with another algorithm than sha256 is resolved through
//!   the repository's link to the canonical blob, which is kept too (registry:2
//!   marks only the alias and sweeps the blob).
//! - A directory with `_manifests` but no `_layers` still counts as a
//!   repository here (registry:2 skips it and sweeps what its manifests use).
//! - Problems are collected, not fatal at the first: a link file that does not
//!   hold a digest, a manifest that is not JSON, or a storage error while
//!   marking stop the run before anything is deleted (registry:2 stops at the
//!   first); a revision whose blob is missing, a tag without a current link, a
//!   repository without manifests and stray objects under `blobs/` are reported
//!   and skipped.
//!
//! # Cost on S3
//!
//! Marking lists directories (ListObjectsV2 with delimiter `/`, through
//! [`StorageDriver::list`]) for many repositories at once and reads each link
//! and each distinct manifest once, `concurrency` requests in flight; the blob
//! store is listed in 16 key ranges per algorithm at once; the sweep deletes
//! with [`StorageDriver::delete_files`] in batches of 1000 keys (one
//! DeleteObjects request each). registry:2 does all of this one request at a
//! time, with several requests per manifest and two per deleted blob.
//!
//! # Concurrent writers
//!
//! As with registry:2, a registry that writes while this runs can lose data: a
//! blob uploaded after the mark and referenced by a manifest put before the
//! sweep is deleted. Run it with the registries in read-only mode
//! (`storage.maintenance.readonly.enabled`) or stopped; the command line
//! refuses otherwise.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use bytes::Bytes;
use futures_util::future::join_all;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::digest::{Algorithm, Digest};
use super::listing::{repositories, RepoDir, RepoMarker};
use super::paths;
use crate::driver::{DriverError, FileInfo, StorageDriver, WalkControl, WalkOptions};

/// Storage requests in flight at once unless [`Options::concurrency`] says
/// otherwise.
pub(crate) const DEFAULT_CONCURRENCY: usize = 32;

/// Paths per [`StorageDriver::delete_files`] call (S3's DeleteObjects limit).
pub(crate) const DELETE_BATCH: usize = 1000;

/// Delete batches in flight at once.
const DELETE_BATCHES_IN_FLIGHT: usize = 4;

/// How [`run`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Change nothing; report what would be deleted.
    pub dry_run: bool,
    /// Delete manifests that no tag references (registry:2's `-m`).
    pub delete_untagged: bool,
    /// Storage requests in flight at once (at least 1).
    pub concurrency: usize,
}

setters!(Options {
    /// Change nothing; report what would be deleted.
    with_dry_run => dry_run: bool,
    /// Delete manifests that no tag references (registry:2's `-m`).
    with_delete_untagged => delete_untagged: bool,
    /// Storage requests in flight at once (at least 1).
    with_concurrency => concurrency: usize,
});

impl Default for Options {
    fn default() -> Self {
        Self {
            dry_run: false,
            delete_untagged: false,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// Why an untagged manifest was kept with [`Options::delete_untagged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeptBecause {
    /// A kept index lists it.
    IndexChild,
    /// Its `subject` is a kept manifest.
    Referrer,
}

impl KeptBecause {
    /// `index-child` or `referrer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IndexChild => "index-child",
            Self::Referrer => "referrer",
        }
    }
}

/// What a run marked and deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Repositories looked at.
    pub repositories: usize,
    /// Every digest marked (kept manifests and what they reference), with the
    /// first repository, in catalog order, that marked it.
    pub marked: BTreeMap<Digest, String>,
    /// Untagged manifests kept with [`Options::delete_untagged`], and why.
    pub kept_untagged: Vec<(String, Digest, KeptBecause)>,
    /// Untagged manifests deleted (eligible in a dry run): repository, digest.
    pub manifests: Vec<(String, Digest)>,
    /// Blobs deleted (eligible in a dry run), with the size of their data.
    pub blobs: Vec<(Digest, u64)>,
    /// The sum of the sizes in [`Report::blobs`].
    pub bytes: u64,
    /// `_layers` links removed (eligible) because their blob is not stored any more
    /// (deleted by this run or before): repository, digest.
    pub links: Vec<(String, Digest)>,
    /// Problems that were reported and skipped.
    pub warnings: Vec<String>,
}

impl Report {
    /// The report as lines a script can read, one record per line, fields
    /// separated by one space, the record type first:
    ///
    /// ```text
    /// mark <repository> <digest>
    /// kept <repository> <digest> index-child|referrer
    /// manifest <repository> <digest> eligible|deleted
    /// blob <digest> <bytes> eligible|deleted
    /// link <repository> <digest> eligible|deleted
    /// total repositories=<n> marked=<n> manifests=<n> blobs=<n> bytes=<n> links=<n> warnings=<n> dry-run=<true|false>
    /// ```
    ///
    /// `eligible` in a dry run, `deleted` otherwise; the last line is always
    /// the `total`.
    pub fn lines(&self) -> Vec<String> {
        let verb = if self.dry_run { "eligible" } else { "deleted" };
        let mut out = Vec::new();
        for (d, repo) in &self.marked {
            out.push(format!("mark {repo} {d}"));
        }
        for (repo, d, why) in &self.kept_untagged {
            out.push(format!("kept {repo} {d} {}", why.as_str()));
        }
        for (repo, d) in &self.manifests {
            out.push(format!("manifest {repo} {d} {verb}"));
        }
        for (d, size) in &self.blobs {
            out.push(format!("blob {d} {size} {verb}"));
        }
        for (repo, d) in &self.links {
            out.push(format!("link {repo} {d} {verb}"));
        }
        out.push(self.total());
        out
    }

    /// The `total ...` line.
    pub fn total(&self) -> String {
        format!(
            "total repositories={} marked={} manifests={} blobs={} bytes={} links={} warnings={} dry-run={}",
            self.repositories,
            self.marked.len(),
            self.manifests.len(),
            self.blobs.len(),
            self.bytes,
            self.links.len(),
            self.warnings.len(),
            self.dry_run
        )
    }
}

/// A run that stopped: why, what to do, and what it did before (nothing, if it
/// stopped while marking).
#[derive(Debug, Clone)]
pub struct GcError {
    /// What went wrong and what to do about it.
    pub message: String,
    /// What was marked and deleted before the run stopped.
    pub report: Report,
}

impl fmt::Display for GcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GcError {}

/// The storage calls of a run, at most `concurrency` at once.
struct Io<'a> {
    driver: &'a dyn StorageDriver,
    permits: Semaphore,
}

impl Io<'_> {
    /// `list`, `None` when `path` is not a directory.
    async fn list(&self, path: &str) -> Result<Option<Vec<String>>, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        match self.driver.list(path).await {
            Ok(entries) => Ok(Some(entries)),
            Err(e) if e.is_path_not_found() => Ok(None),
            Err(e) => Err(format!("listing {path}: {e}")),
        }
    }

    /// `get_content`, `None` when nothing is stored at `path`.
    async fn get(&self, path: &str) -> Result<Option<Bytes>, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        match self.driver.get_content(path).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.is_path_not_found() => Ok(None),
            Err(e) => Err(format!("reading {path}: {e}")),
        }
    }

    /// A link file: `None` when missing, `Some(Err(preview))` when it does not
    /// hold a digest.
    async fn link(&self, path: &str) -> Result<Option<Result<Digest, String>>, String> {
        Ok(self.get(path).await?.map(|c| {
            let text = String::from_utf8_lossy(&c);
            text.trim().parse::<Digest>().map_err(|_| preview(&c))
        }))
    }
}

/// At most 64 bytes of `content`, quoted.
fn preview(content: &[u8]) -> String {
    let text = String::from_utf8_lossy(&content[..content.len().min(64)]);
    let more = if content.len() > 64 { "..." } else { "" };
    format!("{text:?}{more}")
}

/// The last component of a path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}

/// A blob under `blobs/`.
#[derive(Debug, Default)]
struct StoredBlob {
    /// Size of its `data`, if there is one.
    size: Option<u64>,
    /// The objects below its directory other than `data` (normally none).
    others: Vec<String>,
}

impl StoredBlob {
    /// Every object of blob `d`.
    fn files(&self, d: &Digest) -> Vec<String> {
        let mut files = vec![paths::blob_data(d)];
        files.extend(self.others.iter().cloned());
        files
    }
}

/// A file found under a blob's directory.
#[derive(Debug)]
enum BlobFile {
    /// Its `data`, of this size.
    Data(u64),
    /// Anything else, at this path.
    Other(String),
}

/// Everything under `blobs/`: the blobs (directories with a `data` file) and
/// warnings about what else is there.
#[derive(Debug, Default)]
struct Inventory {
    blobs: BTreeMap<Digest, StoredBlob>,
    warnings: Vec<String>,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The key range (0..16) that owns a directory under `blobs/<alg>/` whose name
/// starts with `c`: the last hex digit not above `c`.
fn range_of(c: u8) -> usize {
    HEX.iter().rposition(|&h| h <= c).unwrap_or(0)
}

/// Lists `blobs/` in 16 key ranges per algorithm at once.
async fn inventory(io: &Io<'_>) -> Result<Inventory, String> {
    let root = format!("{}/blobs", paths::ROOT);
    let mut inv = Inventory::default();
    let Some(algs) = io.list(&root).await? else {
        return Ok(inv);
    };
    let mut walks = Vec::new();
    for alg_dir in algs {
        let alg = file_name(&alg_dir).to_owned();
        let algorithm = match alg.as_str() {
            "sha256" => Algorithm::Sha256,
            "sha384" => Algorithm::Sha384,
            "sha512" => Algorithm::Sha512,
            _ => {
                inv.warnings.push(format!(
                    "{alg_dir}: not a digest algorithm this registry stores; left alone"
                ));
                continue;
            }
        };
        for range in 0..HEX.len() {
            walks.push(walk_range(io, alg_dir.clone(), algorithm, range));
        }
    }
    for result in join_all(walks).await {
        let (found, warnings) = result?;
        inv.warnings.extend(warnings);
        for (digest, file) in found {
            let blob = inv.blobs.entry(digest).or_default();
            match file {
                BlobFile::Data(size) => blob.size = Some(size),
                BlobFile::Other(path) => blob.others.push(path),
            }
        }
    }
    // A directory without `data` is no blob (registry:2 enumerates `data` files).
    let no_data: Vec<Digest> = inv
        .blobs
        .iter()
        .filter(|(_, b)| b.size.is_none())
        .map(|(d, _)| d.clone())
        .collect();
    for d in no_data {
        if let Some(b) = inv.blobs.remove(&d) {
            inv.warnings.push(format!(
                "blob directory of {d} has no data file ({}); left alone",
                b.others.join(", ")
            ));
        }
    }
    Ok(inv)
}

/// One key range of one algorithm's blobs: every file under a blob's directory,
/// and warnings about files that are no blob's.
#[allow(clippy::type_complexity)]
async fn walk_range(
    io: &Io<'_>,
    alg_dir: String,
    algorithm: Algorithm,
    range: usize,
) -> Result<(Vec<(Digest, BlobFile)>, Vec<String>), String> {
    let _permit = io.permits.acquire().await.map_err(|e| e.to_string())?;
    let opts = if range == 0 {
        WalkOptions::default()
    } else {
        // Just after every name starting with the previous digit.
        WalkOptions::start_after(format!("{alg_dir}/{}g", HEX[range - 1] as char))
    };
    let prefix_len = alg_dir.len() + 1;
    let mut found = Vec::new();
    let mut warnings = Vec::new();
    let mut visit = |fi: &FileInfo| -> Result<WalkControl, DriverError> {
        let Some(rel) = fi.path.get(prefix_len..) else {
            return Ok(WalkControl::Continue);
        };
        let owner = range_of(rel.as_bytes().first().copied().unwrap_or(b'0'));
        if owner > range {
            return Ok(WalkControl::Stop);
        }
        if owner < range || fi.is_dir {
            return Ok(WalkControl::Continue);
        }
        let mut parts = rel.splitn(3, '/');
        let (dir, hex, rest) = (parts.next(), parts.next(), parts.next());
        let digest = match (dir, hex, rest) {
            (Some(dir), Some(hex), Some(_)) if hex.get(..2) == Some(dir) => {
                format!("{}:{hex}", algorithm.name()).parse::<Digest>().ok()
            }
            _ => None,
        };
        match digest {
            Some(d) => {
                let file = if rest == Some("data") {
                    BlobFile::Data(fi.size)
                } else {
                    BlobFile::Other(fi.path.clone())
                };
                found.push((d, file));
            }
            None => warnings.push(format!(
                "{}: not part of a blob (blobs/<alg>/<hex[0:2]>/<hex>/...); left alone",
                fi.path
            )),
        }
        Ok(WalkControl::Continue)
    };
    match io.driver.walk(&alg_dir, &mut visit, opts).await {
        Ok(()) => Ok((found, warnings)),
        Err(e) if e.is_path_not_found() => Ok((found, warnings)),
        Err(e) => Err(format!("listing {alg_dir}: {e}")),
    }
}

/// A revision link of a repository.
#[derive(Debug)]
struct Revision {
    /// The link file.
    link: String,
    /// The digest its path names (`revisions/<alg>/<hex>`), if valid.
    by_path: Option<Digest>,
    /// The manifest it links to.
    target: Digest,
}

/// What marking needs to know about one repository.
#[derive(Debug, Default)]
struct RepoScan {
    name: String,
    revisions: Vec<Revision>,
    /// Every tag (with `delete_untagged`).
    tags: Vec<String>,
    /// What the tags currently point at (with `delete_untagged`).
    tagged: Vec<Digest>,
    /// `_layers` links: the digest the path names, and the link file.
    layer_links: Vec<(Digest, String)>,
    /// Link files that hold no digest: path and content.
    corrupt: Vec<String>,
    warnings: Vec<String>,
}

/// The `<dir>/<alg>/<hex>` directories below `dir`, with the digest they name.
async fn digest_dirs(io: &Io<'_>, dir: &str) -> Result<Vec<(String, Option<Digest>)>, String> {
    let Some(algs) = io.list(dir).await? else {
        return Ok(Vec::new());
    };
    let listed = join_all(algs.iter().map(|a| io.list(a))).await;
    let mut out = Vec::new();
    for (alg_dir, entries) in algs.iter().zip(listed) {
        let alg = file_name(alg_dir);
        for hex_dir in entries?.unwrap_or_default() {
            let digest = format!("{alg}:{}", file_name(&hex_dir)).parse().ok();
            out.push((hex_dir, digest));
        }
    }
    Ok(out)
}

/// Lists and reads what marking needs of repository `repo`.
async fn scan_repo(io: &Io<'_>, repo: &RepoDir, delete_untagged: bool) -> Result<RepoScan, String> {
    let name = repo.name.clone();
    let has = |n: &str| repo.entries.iter().any(|e| e == n);
    let mut scan = RepoScan {
        name: name.clone(),
        ..RepoScan::default()
    };
    let revisions = async {
        if has("_manifests") {
            digest_dirs(io, &paths::manifest_revisions(&name)).await
        } else {
            Ok(Vec::new())
        }
    };
    let layers = async {
        if has("_layers") {
            digest_dirs(io, &format!("{}/_layers", paths::repository(&name))).await
        } else {
            Ok(Vec::new())
        }
    };
    let tags = async {
        if delete_untagged && has("_manifests") {
            io.list(&paths::tags(&name)).await
        } else {
            Ok(None)
        }
    };
    let (revisions, layers, tags) = tokio::join!(revisions, layers, tags);
    let (revisions, layers, tags) = (revisions?, layers?, tags?.unwrap_or_default());

    let links = join_all(revisions.iter().map(|(dir, _)| {
        let link = format!("{dir}/link");
        async move {
            let target = io.link(&link).await;
            (link, target)
        }
    }))
    .await;
    for ((_, by_path), (link, target)) in revisions.into_iter().zip(links) {
        match target? {
            // Nothing there: registry:2 sees no revision either.
            None => {}
            Some(Ok(target)) => scan.revisions.push(Revision {
                link,
                by_path,
                target,
            }),
            Some(Err(content)) => scan.corrupt.push(format!("{link} (holds {content})")),
        }
    }
    if scan.revisions.is_empty() {
        scan.warnings.push(format!(
            "repository {name} has no manifests: nothing in it is marked (its blobs go unless other repositories' manifests use them)"
        ));
    }

    let currents = join_all(tags.iter().map(|dir| {
        let link = format!("{dir}/current/link");
        async move {
            let target = io.link(&link).await;
            (link, target)
        }
    }))
    .await;
    for (dir, (link, target)) in tags.iter().zip(currents) {
        let tag = file_name(dir).to_owned();
        match target? {
            None => scan.warnings.push(format!(
                "tag {tag} of {name} has no current link ({link}); it keeps nothing"
            )),
            Some(Ok(d)) => scan.tagged.push(d),
            Some(Err(content)) => scan.corrupt.push(format!("{link} (holds {content})")),
        }
        scan.tags.push(tag);
    }

    scan.layer_links = layers
        .into_iter()
        .filter_map(|(dir, d)| d.map(|d| (d, format!("{dir}/link"))))
        .collect();
    Ok(scan)
}

/// What a manifest references.
#[derive(Debug, Default)]
struct ManifestRefs {
    /// Digests it references (registry:2's `References()`): config and layers,
    /// the manifests of an index, `fsLayers` of schema 1, `blobs` of an OCI
    /// artifact manifest.
    refs: Vec<String>,
    /// The manifests of an index.
    children: Vec<String>,
    /// The `subject` digest.
    subject: Option<String>,
}

/// Reads what `content` (a stored manifest) references.
fn parse_manifest(content: &[u8]) -> Result<ManifestRefs, String> {
    let v: Value = serde_json::from_slice(content).map_err(|e| format!("not JSON ({e})"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let digest_of = |d: &Value| d.get("digest").and_then(Value::as_str).map(str::to_owned);
    let list = |field: &str| -> Vec<&Value> {
        obj.get(field)
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    let mut m = ManifestRefs::default();
    for d in list("manifests") {
        if let Some(d) = digest_of(d) {
            m.children.push(d.clone());
            m.refs.push(d);
        }
    }
    if let Some(d) = obj.get("config").and_then(digest_of) {
        m.refs.push(d);
    }
    for field in ["layers", "blobs"] {
        m.refs.extend(list(field).into_iter().filter_map(digest_of));
    }
    m.refs.extend(
        list("fsLayers")
            .into_iter()
            .filter_map(|l| l.get("blobSum").and_then(Value::as_str).map(str::to_owned)),
    );
    m.subject = obj.get("subject").and_then(digest_of);
    Ok(m)
}

/// Runs a garbage collection over `driver` (see the module documentation).
///
/// # Errors
/// A storage failure, a corrupt link file or an unreadable manifest while
/// marking (nothing is deleted then), or a failed deletion while sweeping (what
/// was deleted before is in [`GcError::report`]; running again finishes the
/// job).
pub async fn run(driver: &dyn StorageDriver, opts: Options) -> Result<Report, GcError> {
    let io = Io {
        driver,
        permits: Semaphore::new(opts.concurrency.max(1)),
    };
    let mut report = Report {
        dry_run: opts.dry_run,
        ..Report::default()
    };
    let plan = match mark(&io, opts, &mut report).await {
        Ok(plan) => plan,
        Err(message) => {
            return Err(GcError {
                message: format!("{message}\nNothing was deleted."),
                report,
            })
        }
    };
    if opts.dry_run {
        report.manifests = plan.manifests.iter().map(|m| m.0.clone()).collect();
        report.blobs = plan.blobs.iter().map(|b| b.0.clone()).collect();
        report.bytes = report.blobs.iter().map(|b| b.1).sum();
        report.links = plan.links.iter().map(|l| l.0.clone()).collect();
        return Ok(report);
    }
    sweep(&io, plan, &mut report).await?;
    Ok(report)
}

/// What the sweep deletes: each item with the paths that make it up.
#[derive(Debug, Default)]
struct Plan {
    manifests: Vec<((String, Digest), Vec<String>)>,
    blobs: Vec<((Digest, u64), Vec<String>)>,
    links: Vec<((String, Digest), Vec<String>)>,
}

/// The mark phase: everything short of deleting.
async fn mark(io: &Io<'_>, opts: Options, report: &mut Report) -> Result<Plan, String> {
    let (repos, inv) = tokio::join!(
        repositories(
            io.driver,
            "",
            None,
            RepoMarker::LayersOrManifests,
            opts.concurrency.max(1),
        ),
        inventory(io),
    );
    let repos = repos.map_err(|e| {
        format!(
            "listing the repositories under {}: {e}",
            paths::repositories_root()
        )
    })?;
    let inv = inv?;
    report.warnings.extend(inv.warnings.iter().cloned());
    report.repositories = repos.len();

    let scans = futures_util::stream::iter(repos.iter())
        .map(|r| scan_repo(io, r, opts.delete_untagged))
        .buffered(opts.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut repo_scans = Vec::with_capacity(scans.len());
    let mut corrupt = Vec::new();
    for s in scans {
        let s = s?;
        corrupt.extend(s.corrupt.iter().cloned());
        report.warnings.extend(s.warnings.iter().cloned());
        repo_scans.push(s);
    }
    if !corrupt.is_empty() {
        return Err(format!(
            "{} link file(s) do not hold a digest:\n  {}\nA link file holds the digest it links to (e.g. sha256:<hex>, as its path names it). \
             Restore or delete these files, then run again.",
            corrupt.len(),
            corrupt.join("\n  ")
        ));
    }

    // Read every distinct manifest whose blob exists, once.
    let mut wanted: BTreeSet<Digest> = BTreeSet::new();
    for s in &repo_scans {
        for r in &s.revisions {
            if inv.blobs.contains_key(&r.target) {
                wanted.insert(r.target.clone());
            } else {
                report.warnings.push(format!(
                    "manifest revision {} of {} ({}): its blob is missing; skipped (it cannot be pulled, and what it referenced is unknown)",
                    r.target, s.name, r.link
                ));
            }
        }
    }
    let contents = join_all(wanted.iter().map(|d| io.get_manifest(d))).await;
    let mut manifests: HashMap<Digest, ManifestRefs> = HashMap::new();
    let mut unreadable = Vec::new();
    for (d, content) in wanted.iter().zip(contents) {
        match content? {
            None => {
                // Gone since the blob store was listed: treat it as missing.
                report.warnings.push(format!(
                    "manifest {d}: its blob disappeared while marking; skipped"
                ));
            }
            Some(c) => match parse_manifest(&c) {
                Ok(m) => {
                    manifests.insert(d.clone(), m);
                }
                Err(e) => {
                    let repos: Vec<&str> = repo_scans
                        .iter()
                        .filter(|s| s.revisions.iter().any(|r| r.target == *d))
                        .map(|s| s.name.as_str())
                        .collect();
                    unreadable.push(format!(
                        "manifest {d} ({}) of {}: {e}",
                        paths::blob_data(d),
                        repos.join(", ")
                    ));
                }
            },
        }
    }
    if !unreadable.is_empty() {
        return Err(format!(
            "{} manifest(s) cannot be read, so what they reference is unknown:\n  {}\n\
             Delete them (DELETE /v2/<repository>/manifests/<digest>) or restore their content, then run again.",
            unreadable.len(),
            unreadable.join("\n  ")
        ));
    }

    // Decide per repository, in catalog order.
    let mut plan = Plan::default();
    let mut aliases: Vec<(String, Digest)> = Vec::new();
    for s in &repo_scans {
        decide(s, &manifests, opts, report, &mut plan, &mut aliases);
    }
    // References by another algorithm than the one blobs are stored under: keep the
    // canonical blob their `_layers` link points at too.
    let resolved = join_all(aliases.iter().map(|(repo, d)| {
        let link = paths::layer_link(repo, d);
        async move { (link.clone(), io.link(&link).await) }
    }))
    .await;
    for ((repo, _), (link, target)) in aliases.iter().zip(resolved) {
        match target? {
            Some(Ok(t)) => {
                report.marked.entry(t).or_insert_with(|| repo.clone());
            }
            Some(Err(content)) => {
                return Err(format!(
                    "link file {link} holds {content}, not a digest: restore or delete it, then run again."
                ))
            }
            None => {}
        }
    }

    for (d, blob) in &inv.blobs {
        if !report.marked.contains_key(d) {
            plan.blobs
                .push(((d.clone(), blob.size.unwrap_or(0)), blob.files(d)));
        }
    }
    // `_layers` links whose blob is not (or no longer) stored link to nothing: those of the
    // blobs swept now, and those left by an earlier run that stopped or by registry:2 2.8,
    // which never removes them. Links by another algorithm than sha256 are aliases of a
    // sha256 blob and are left alone.
    let swept: BTreeSet<&Digest> = plan.blobs.iter().map(|b| &b.0 .0).collect();
    for s in &repo_scans {
        for (d, link) in &s.layer_links {
            let stored = inv.blobs.contains_key(d) && !swept.contains(d);
            if d.algorithm() == Algorithm::Sha256 && !stored {
                plan.links
                    .push(((s.name.clone(), d.clone()), vec![link.clone()]));
            }
        }
    }
    Ok(plan)
}

impl Io<'_> {
    /// The content of manifest blob `d`.
    async fn get_manifest(&self, d: &Digest) -> Result<Option<Bytes>, String> {
        self.get(&paths::blob_data(d)).await
    }
}

/// Keeps and marks the manifests of one repository, and plans the deletion of
/// the others. References that need their `_layers` link resolved are added
/// to `aliases`.
fn decide(
    s: &RepoScan,
    manifests: &HashMap<Digest, ManifestRefs>,
    opts: Options,
    report: &mut Report,
    plan: &mut Plan,
    aliases: &mut Vec<(String, Digest)>,
) {
    // The manifests of this repository (with a readable blob), with their links, and
    // the digest each link path names.
    let mut targets: BTreeMap<&Digest, Vec<&str>> = BTreeMap::new();
    let mut by_path: HashMap<&Digest, &Digest> = HashMap::new();
    for r in &s.revisions {
        if !manifests.contains_key(&r.target) {
            continue;
        }
        targets.entry(&r.target).or_default().push(&r.link);
        by_path.insert(&r.target, &r.target);
        if let Some(p) = &r.by_path {
            by_path.insert(p, &r.target);
        }
    }
    let resolve = |d: &str| -> Option<&Digest> {
        let d: Digest = d.parse().ok()?;
        by_path.get(&d).copied()
    };
    let mut keep: BTreeMap<&Digest, Option<KeptBecause>> = BTreeMap::new();
    if opts.delete_untagged {
        for t in &s.tagged {
            if let Some(t) = by_path.get(t) {
                keep.insert(t, None);
            }
        }
        let mut work: Vec<&Digest> = keep.keys().copied().collect();
        loop {
            while let Some(m) = work.pop() {
                for c in &manifests[m].children {
                    if let Some(c) = resolve(c) {
                        if !keep.contains_key(c) {
                            keep.insert(c, Some(KeptBecause::IndexChild));
                            work.push(c);
                        }
                    }
                }
            }
            for t in targets.keys() {
                if keep.contains_key(t) {
                    continue;
                }
                let subject = manifests[*t].subject.as_deref().and_then(resolve);
                if subject.is_some_and(|sub| keep.contains_key(sub)) {
                    keep.insert(t, Some(KeptBecause::Referrer));
                    work.push(t);
                }
            }
            if work.is_empty() {
                break;
            }
        }
    } else {
        keep.extend(targets.keys().map(|t| (*t, None)));
    }
    for (t, why) in &keep {
        report
            .marked
            .entry((*t).clone())
            .or_insert_with(|| s.name.clone());
        if let Some(why) = why {
            report
                .kept_untagged
                .push((s.name.clone(), (*t).clone(), *why));
        }
        for r in &manifests[*t].refs {
            match r.parse::<Digest>() {
                Ok(d) => {
                    if d.algorithm() != Algorithm::Sha256 {
                        match resolve(r) {
                            Some(m) => {
                                report
                                    .marked
                                    .entry(m.clone())
                                    .or_insert_with(|| s.name.clone());
                            }
                            None => aliases.push((s.name.clone(), d.clone())),
                        }
                    }
                    report.marked.entry(d).or_insert_with(|| s.name.clone());
                }
                Err(_) => report.warnings.push(format!(
                    "manifest {t} of {} references {r:?}, which is not a digest; ignored",
                    s.name
                )),
            }
        }
    }
    for (t, links) in &targets {
        if keep.contains_key(t) {
            continue;
        }
        let mut paths_of: Vec<String> = links.iter().map(|l| (*l).to_owned()).collect();
        for tag in &s.tags {
            paths_of.push(paths::tag_index_link(&s.name, tag, t));
        }
        plan.manifests
            .push(((s.name.clone(), (*t).clone()), paths_of));
    }
}

/// Deletes what `plan` lists: manifests, then blobs, then links, each in
/// batches of [`DELETE_BATCH`] paths; stops at the first failure.
async fn sweep(io: &Io<'_>, plan: Plan, report: &mut Report) -> Result<(), GcError> {
    let fail = |what: &str, done: usize, total: usize, e: String, report: &Report| {
        GcError {
        message: format!(
            "deleting {what} failed after {done} of {total} were deleted: {e}\n\
             What was deleted is listed above. Fix the cause and run garbage-collect again to finish."
        ),
        report: report.clone(),
    }
    };
    let (done, err) = delete_items(io, plan.manifests.iter().map(|m| &m.1[..]).collect()).await;
    for (m, ok) in plan.manifests.iter().zip(&done) {
        if *ok {
            report.manifests.push(m.0.clone());
        }
    }
    if let Some(e) = err {
        let n = report.manifests.len();
        return Err(fail("manifests", n, plan.manifests.len(), e, report));
    }
    let (done, err) = delete_items(io, plan.blobs.iter().map(|b| &b.1[..]).collect()).await;
    for (b, ok) in plan.blobs.iter().zip(&done) {
        if *ok {
            report.blobs.push(b.0.clone());
            report.bytes += b.0 .1;
        }
    }
    if let Some(e) = err {
        let n = report.blobs.len();
        return Err(fail("blobs", n, plan.blobs.len(), e, report));
    }
    let (done, err) = delete_items(io, plan.links.iter().map(|l| &l.1[..]).collect()).await;
    for (l, ok) in plan.links.iter().zip(&done) {
        if *ok {
            report.links.push(l.0.clone());
        }
    }
    if let Some(e) = err {
        let n = report.links.len();
        return Err(fail("layer links", n, plan.links.len(), e, report));
    }
    Ok(())
}

/// Deletes the paths of `items` in batches of up to [`DELETE_BATCH`], a few
/// batches at once. Returns which items are gone entirely and the first
/// failure; after a failure no further batch is started (those in flight
/// finish).
async fn delete_items(io: &Io<'_>, items: Vec<&[String]>) -> (Vec<bool>, Option<String>) {
    // Batches of (item, path).
    let mut batches: Vec<Vec<(usize, &String)>> = Vec::new();
    let mut current = Vec::new();
    let mut remaining = vec![0usize; items.len()];
    for (i, paths) in items.iter().enumerate() {
        for p in paths.iter() {
            if current.len() == DELETE_BATCH {
                batches.push(std::mem::take(&mut current));
            }
            current.push((i, p));
        }
    }
    if !current.is_empty() {
        batches.push(current);
    }
    for b in &batches {
        for (i, _) in b {
            remaining[*i] += 1;
        }
    }
    let mut failed = vec![false; items.len()];
    let mut error: Option<String> = None;
    let mut in_flight = FuturesUnordered::new();
    let mut next = batches.into_iter();
    loop {
        while error.is_none() && in_flight.len() < DELETE_BATCHES_IN_FLIGHT {
            let Some(batch) = next.next() else { break };
            in_flight.push(async move {
                let paths: Vec<String> = batch.iter().map(|(_, p)| (*p).clone()).collect();
                let result = io.driver.delete_files(&paths).await;
                (batch, result)
            });
        }
        let Some((batch, result)) = in_flight.next().await else {
            break;
        };
        match result {
            Ok(failures) => {
                for (i, _) in &batch {
                    remaining[*i] -= 1;
                }
                if !failures.is_empty() {
                    for f in &failures {
                        if let Some((i, _)) = batch.iter().find(|(_, p)| **p == f.path) {
                            failed[*i] = true;
                        }
                    }
                    let shown: Vec<String> = failures
                        .iter()
                        .take(5)
                        .map(|f| format!("{}: {}", f.path, f.reason))
                        .collect();
                    let more = failures.len().saturating_sub(shown.len());
                    let more = if more > 0 {
                        format!(" (and {more} more)")
                    } else {
                        String::new()
                    };
                    error.get_or_insert(format!(
                        "{} object(s) could not be deleted: {}{more}",
                        failures.len(),
                        shown.join("; ")
                    ));
                }
            }
            Err(e) => {
                for (i, _) in &batch {
                    failed[*i] = true;
                }
                error.get_or_insert(e.to_string());
            }
        }
    }
    let done = remaining
        .iter()
        .zip(&failed)
        .map(|(r, f)| *r == 0 && !f)
        .collect();
    (done, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_first_byte_once() {
        assert_eq!(range_of(b'0'), 0);
        assert_eq!(range_of(b'9'), 9);
        assert_eq!(range_of(b'a'), 10);
        assert_eq!(range_of(b'f'), 15);
        assert_eq!(range_of(b'z'), 15);
        assert_eq!(range_of(b'A'), 9);
        assert_eq!(range_of(b'-'), 0);
        // Walk each range as `walk_range` does (start after "<previous digit>g", stop at the
        // first name a later range owns): every name is taken by exactly one range.
        let mut names: Vec<String> = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        names.extend(["0h", "0g", "9_", "A0", "-x", "zz", "g1", "fz"].map(String::from));
        names.sort();
        let mut taken = vec![0; names.len()];
        for range in 0..HEX.len() {
            let hint = (range > 0).then(|| format!("{}g", HEX[range - 1] as char));
            for (i, n) in names.iter().enumerate() {
                if hint.as_ref().is_some_and(|h| n <= h) {
                    continue;
                }
                let owner = range_of(n.as_bytes()[0]);
                if owner > range {
                    break;
                }
                if owner == range {
                    taken[i] += 1;
                }
            }
        }
        for (n, t) in names.iter().zip(&taken) {
            assert_eq!(*t, 1, "{n}");
        }
    }

    #[test]
    fn parses_what_registry2_references() {
        let d = |n: u8| format!("sha256:{}", format!("{n:02x}").repeat(32));
        let image = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{}"}},"layers":[{{"digest":"{}"}},{{"digest":"{}"}}],"subject":{{"digest":"{}"}}}}"#,
            d(1),
            d(2),
            d(3),
            d(4)
        );
        let m = parse_manifest(image.as_bytes()).unwrap();
        assert_eq!(m.refs, [d(1), d(2), d(3)]);
        assert!(m.children.is_empty());
        assert_eq!(m.subject, Some(d(4)));
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"{}"}},{{"digest":"{}"}}]}}"#,
            d(5),
            d(6)
        );
        let m = parse_manifest(index.as_bytes()).unwrap();
        assert_eq!(m.children, [d(5), d(6)]);
        assert_eq!(m.refs, [d(5), d(6)]);
        let schema1 = format!(
            r#"{{"schemaVersion":1,"fsLayers":[{{"blobSum":"{}"}}],"signatures":[]}}"#,
            d(7)
        );
        assert_eq!(parse_manifest(schema1.as_bytes()).unwrap().refs, [d(7)]);
        assert!(parse_manifest(b"not json").is_err());
        assert!(parse_manifest(b"[1]").is_err());
    }

    #[test]
    fn report_lines_end_with_the_total() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let mut r = Report {
            dry_run: true,
            ..Report::default()
        };
        r.marked.insert(d.clone(), "a/b".into());
        r.blobs.push((d.clone(), 12));
        r.bytes = 12;
        let lines = r.lines();
        assert_eq!(lines[0], format!("mark a/b {d}"));
        assert_eq!(lines[1], format!("blob {d} 12 eligible"));
        assert_eq!(
            lines[2],
            "total repositories=0 marked=1 manifests=0 blobs=1 bytes=12 links=0 warnings=0 dry-run=true"
        );
        assert_eq!(preview(b"abc"), "\"abc\"");
        assert!(preview(&[b'x'; 100]).ends_with("\"..."));
    }
}
