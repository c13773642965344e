//! `storage.maintenance.uploadpurging`: removal of abandoned uploads
//! (Distribution's `PurgeUploads` and its scheduler in `app.go`).
//!
//! Every `_uploads/<id>` directory whose `startedat` is older than the cutoff is
//! deleted. An upload without a readable `startedat` is left alone (its age is
//! unknown), as Distribution does.
//!
//! Then the driver removes what interrupted writes left outside its paths
//! ([`StorageDriver::purge_incomplete_writes`]): on S3, multipart uploads under
//! the registry's root initiated before the cutoff, which a crashed registry
//! (or registry:2, which never aborts them) leaves behind with their data.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::paths;
use super::time::parse_rfc3339;
use crate::config::UploadPurging;
use crate::driver::{DriverError, FileInfo, StorageDriver, WalkControl, WalkOptions};

/// What one purge run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Upload directories deleted (or, in a dry run, that would have been).
    pub deleted: Vec<String>,
    /// Incomplete backend writes removed (or that would have been): the path of
    /// each S3 multipart upload aborted.
    pub incomplete_writes: Vec<String>,
    /// Problems met on the way; the run continues past them.
    pub errors: Vec<String>,
}

/// Deletes the uploads started before `older_than` (only reports them when
/// `dry_run`).
pub async fn purge_uploads(
    driver: &dyn StorageDriver,
    older_than: SystemTime,
    dry_run: bool,
) -> PurgeReport {
    let mut report = PurgeReport::default();
    let mut upload_dirs = Vec::new();
    let mut visit = |fi: &FileInfo| -> Result<WalkControl, DriverError> {
        if !fi.is_dir {
            return Ok(WalkControl::Continue);
        }
        let file = fi.path.rsplit('/').next().unwrap_or_default();
        if file == "_uploads" {
            upload_dirs.push(fi.path.clone());
            return Ok(WalkControl::SkipDir);
        }
        if file.starts_with('_') {
            return Ok(WalkControl::SkipDir);
        }
        Ok(WalkControl::Continue)
    };
    let root = paths::repositories_root();
    match driver.walk(&root, &mut visit, WalkOptions::default()).await {
        Ok(()) => {}
        Err(e) if e.is_path_not_found() => {}
        Err(e) => report.errors.push(format!("walking {root}: {e}")),
    }
    for dir in upload_dirs {
        let uploads = match driver.list(&dir).await {
            Ok(u) => u,
            Err(e) if e.is_path_not_found() => continue,
            Err(e) => {
                report.errors.push(format!("listing {dir}: {e}"));
                continue;
            }
        };
        for upload in uploads {
            let started = match driver.get_content(&format!("{upload}/startedat")).await {
                Ok(c) => parse_rfc3339(String::from_utf8_lossy(&c).trim()),
                Err(e) if e.is_path_not_found() => None,
                Err(e) => {
                    report
                        .errors
                        .push(format!("reading {upload}/startedat: {e}"));
                    continue;
                }
            };
            let Some(started) = started else { continue };
            if started >= older_than {
                continue;
            }
            tracing::info!(upload = %upload, dry_run, "removing an upload older than the purge age");
            if dry_run {
                report.deleted.push(upload);
                continue;
            }
            match driver.delete(&upload).await {
                Ok(()) => report.deleted.push(upload),
                Err(e) if e.is_path_not_found() => {}
                Err(e) => report.errors.push(format!("deleting {upload}: {e}")),
            }
        }
    }
    match driver
        .purge_incomplete_writes(paths::ROOT, older_than, dry_run)
        .await
    {
        Ok(found) => {
            for p in &found.removed {
                tracing::info!(path = %p, dry_run, "removing an incomplete storage write older than the purge age");
            }
            report.incomplete_writes = found.removed;
            report.errors.extend(found.errors);
        }
        Err(e) => report.errors.push(format!(
            "listing incomplete writes under {}: {e}",
            paths::ROOT
        )),
    }
    report
}

/// The purge scheduler: first run after a random delay of up to an hour (at
/// most one interval), as Distribution does to spread load across replicas,
/// then every `interval`.
pub(super) async fn run(driver: Arc<dyn StorageDriver>, cfg: UploadPurging) {
    let jitter = random_jitter(cfg.interval.min(Duration::from_secs(3600)));
    tracing::info!(age = ?cfg.age, interval = ?cfg.interval, dry_run = cfg.dry_run, first_run_in = ?jitter, "upload purging enabled");
    tokio::time::sleep(jitter).await;
    loop {
        let cutoff = SystemTime::now()
            .checked_sub(cfg.age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let report = purge_uploads(driver.as_ref(), cutoff, cfg.dry_run).await;
        tracing::info!(
            deleted = report.deleted.len(),
            incomplete_writes = report.incomplete_writes.len(),
            errors = report.errors.len(),
            "upload purge finished"
        );
        for e in &report.errors {
            tracing::warn!(error = %e, "upload purge");
        }
        tokio::time::sleep(cfg.interval).await;
    }
}

fn random_jitter(max: Duration) -> Duration {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() || max.is_zero() {
        return Duration::ZERO;
    }
    let secs = max.as_secs().max(1);
    Duration::from_secs(u64::from_le_bytes(b) % secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::InMemoryDriver;
    use crate::server::time::format_rfc3339;
    use bytes::Bytes;

    async fn upload(d: &dyn StorageDriver, repo: &str, id: &str, started: Option<SystemTime>) {
        d.put_content(&paths::upload_data(repo, id), Bytes::from_static(b"x"))
            .await
            .unwrap();
        if let Some(t) = started {
            d.put_content(
                &paths::upload_started_at(repo, id),
                Bytes::from(format_rfc3339(t)),
            )
            .await
            .unwrap();
        }
    }

    #[tokio::test]
    async fn removes_only_old_uploads() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        let now = SystemTime::now();
        let old = now - Duration::from_secs(10 * 24 * 3600);
        upload(&d, "a", "old", Some(old)).await;
        upload(&d, "a/b", "old2", Some(old)).await;
        upload(&d, "a", "new", Some(now)).await;
        upload(&d, "a", "nodate", None).await;
        d.put_content(
            &paths::layer_link("a", &crate::server::digest::Digest::sha256_of(b"")),
            Bytes::from_static(b"x"),
        )
        .await
        .unwrap();
        let cutoff = now - Duration::from_secs(7 * 24 * 3600);
        let dry = purge_uploads(&d, cutoff, true).await;
        assert_eq!(dry.deleted.len(), 2, "{dry:?}");
        assert!(d.stat(&paths::upload("a", "old")).await.is_ok());
        let r = purge_uploads(&d, cutoff, false).await;
        assert!(r.errors.is_empty(), "{r:?}");
        let mut deleted = r.deleted.clone();
        deleted.sort();
        assert_eq!(
            deleted,
            vec![paths::upload("a", "old"), paths::upload("a/b", "old2")]
        );
        assert!(d.stat(&paths::upload("a", "old")).await.is_err());
        assert!(d.stat(&paths::upload("a", "new")).await.is_ok());
        assert!(d.stat(&paths::upload("a", "nodate")).await.is_ok());
        let empty = crate::driver::Base::new(InMemoryDriver::new());
        assert_eq!(
            purge_uploads(&empty, now, false).await,
            PurgeReport::default()
        );
    }

    #[test]
    fn jitter_is_bounded() {
        for _ in 0..100 {
            assert!(random_jitter(Duration::from_secs(60)) < Duration::from_secs(60));
        }
        assert_eq!(random_jitter(Duration::ZERO), Duration::ZERO);
    }
}
