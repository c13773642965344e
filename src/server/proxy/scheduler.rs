//! The TTL scheduler of cached content (Distribution's `registry/proxy/scheduler`): what
//! the cache fetched is removed `proxy.ttl` after it was fetched. A blob's expiry removes
//! the repository's `_layers` link and the blob's data (registry:2's `blobs.Delete` and
//! `Vacuum.RemoveBlob`), a manifest's expiry its revision link (`manifests.Delete`).
//!
//! The schedule is kept where registry:2 keeps it, `/scheduler-state.json` at the root of
//! the storage driver (beside `docker/`), in its format:
//!
//! ```json
//! {"library/alpine@sha256:…":{"Key":"library/alpine@sha256:…","ExpiryData":"2026-12-03T07:22:58.123Z","EntryType":0}}
//! ```
//!
//! (`EntryType` 0 is a blob, 1 a manifest), so a registry:2 cache and this one can take
//! over each other's bucket. The file is written within [`SAVE_INTERVAL`] of a change and
//! when the server shuts down. Several registries on one bucket each merge the file with
//! what they scheduled when they write it (the later expiry of a key wins, a key one of
//! them expired goes), and adopt each other's entries; this is best effort, as in
//! registry:2: two writes at the same moment can lose one's new entries until it writes
//! again, and such content then stays cached until a later fetch schedules it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::driver::StorageDriver;
use crate::server::digest::Digest;
use crate::server::names::is_valid_name;
use crate::server::time::{format_rfc3339_nanos, parse_rfc3339};
use crate::server::{paths, store};

/// registry:2's state file, relative to the storage driver's root.
pub(crate) const STATE_FILE: &str = "/scheduler-state.json";

/// How soon after a change the state is written (registry:2's `indexSaveFrequency`).
pub(crate) const SAVE_INTERVAL: Duration = Duration::from_secs(5);

/// What an entry removes when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `EntryType` 0.
    Blob,
    /// `EntryType` 1.
    Manifest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    expiry: SystemTime,
    kind: Kind,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Entries removed here since the last write, with the expiry that was acted on.
    expired: HashMap<String, SystemTime>,
    /// Changed since the last write.
    dirty: bool,
    /// The state file has been read at least once.
    loaded: bool,
}

/// The scheduler of one registry.
#[derive(Debug)]
pub(crate) struct Scheduler {
    ttl: Duration,
    inner: Mutex<Inner>,
    wake: tokio::sync::Notify,
}

/// `repo@digest` of a key, if it is one.
fn parse_key(key: &str) -> Option<(&str, Digest)> {
    let (name, digest) = key.rsplit_once('@')?;
    if !is_valid_name(name) {
        return None;
    }
    Some((name, digest.parse().ok()?))
}

/// The state file's content as entries. Unusable entries are skipped with a warning.
fn decode(content: &[u8]) -> Result<HashMap<String, Entry>, String> {
    let v: serde_json::Value = serde_json::from_slice(content).map_err(|e| e.to_string())?;
    let map = match v {
        serde_json::Value::Object(m) => m,
        serde_json::Value::Null => return Ok(HashMap::new()),
        _ => return Err("not a JSON object".to_owned()),
    };
    let mut out = HashMap::new();
    for (key, e) in map {
        let expiry = e
            .get("ExpiryData")
            .and_then(|t| t.as_str())
            .and_then(parse_rfc3339);
        let kind = match e.get("EntryType").and_then(serde_json::Value::as_i64) {
            Some(0) => Some(Kind::Blob),
            Some(1) => Some(Kind::Manifest),
            _ => None,
        };
        match (expiry, kind) {
            (Some(expiry), Some(kind)) if parse_key(&key).is_some() => {
                out.insert(key, Entry { expiry, kind });
            }
            _ => tracing::warn!(%key, "skipping an unusable entry of the proxy scheduler's state"),
        }
    }
    Ok(out)
}

/// Entries as registry:2 writes them (keys sorted, as Go's `json.Marshal` of a map).
fn encode(entries: &HashMap<String, Entry>) -> Bytes {
    let mut sorted: Vec<(&String, &Entry)> = entries.iter().collect();
    crate::sort::sort_by(&mut sorted, |a, b| a.0.cmp(b.0));
    let mut m = serde_json::Map::new();
    for (k, e) in sorted {
        m.insert(
            k.clone(),
            serde_json::json!({
                "Key": k,
                "ExpiryData": format_rfc3339_nanos(e.expiry),
                "EntryType": match e.kind { Kind::Blob => 0, Kind::Manifest => 1 },
            }),
        );
    }
    Bytes::from(serde_json::Value::Object(m).to_string())
}

impl Scheduler {
    /// A scheduler removing content `ttl` after it was scheduled. Nothing happens until
    /// [`run`](Self::run) runs.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner::default()),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Schedules the removal of `digest` of repository `name` (`kind`) `ttl` from now,
    /// replacing an earlier schedule of it.
    pub(crate) fn add(&self, kind: Kind, name: &str, digest: &Digest) {
        let key = format!("{name}@{digest}");
        let expiry = SystemTime::now() + self.ttl;
        tracing::debug!(%key, ttl = ?self.ttl, "scheduling the removal of cached content");
        let mut inner = self.lock();
        inner.entries.insert(key, Entry { expiry, kind });
        inner.dirty = true;
        drop(inner);
        self.wake.notify_one();
    }

    /// The scheduled keys and their expiry (for tests and logs).
    #[cfg(test)]
    fn scheduled(&self) -> Vec<(String, SystemTime)> {
        let mut v: Vec<_> = self
            .lock()
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), e.expiry))
            .collect();
        crate::sort::sort(&mut v);
        v
    }

    /// Reads the state file and merges it with what is scheduled here; with `write`, writes
    /// the merge back when anything changed here since the last write.
    ///
    /// # Errors
    /// The state file cannot be read or written (nothing changes then; the next call
    /// tries again).
    pub(crate) async fn sync(&self, driver: &dyn StorageDriver, write: bool) -> Result<(), String> {
        let file = match driver.get_content(STATE_FILE).await {
            Ok(c) => match decode(&c) {
                Ok(e) => e,
                Err(why) => {
                    // Kept aside, so that what it scheduled can be recovered by hand.
                    let aside = format!(
                        "{STATE_FILE}.unreadable-{}",
                        SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs())
                    );
                    tracing::error!(file = STATE_FILE, %aside, error = %why, "the proxy scheduler's state file is not valid; moving it aside and starting a new one (content it scheduled stays cached until fetched again)");
                    driver
                        .move_to(STATE_FILE, &aside)
                        .await
                        .map_err(|e| format!("moving the unreadable state file aside: {e}"))?;
                    HashMap::new()
                }
            },
            Err(e) if e.is_path_not_found() => HashMap::new(),
            Err(e) => return Err(format!("reading {STATE_FILE}: {e}")),
        };
        let content = {
            let mut inner = self.lock();
            let first = !inner.loaded;
            inner.loaded = true;
            let mut merged = file;
            let expired = std::mem::take(&mut inner.expired);
            for (k, acted_on) in &expired {
                if merged.get(k).is_some_and(|e| e.expiry <= *acted_on) {
                    merged.remove(k);
                }
            }
            let mut changed = !expired.is_empty();
            for (k, e) in &inner.entries {
                match merged.get(k) {
                    Some(f) if f.expiry >= e.expiry => {}
                    _ => {
                        merged.insert(k.clone(), e.clone());
                        changed = true;
                    }
                }
            }
            if first && !merged.is_empty() {
                tracing::info!(entries = merged.len(), "proxy scheduler state loaded");
            }
            inner.entries.clone_from(&merged);
            if !(write && (inner.dirty || changed)) {
                // Keep what was expired here for the next write.
                inner.expired.extend(expired);
                None
            } else {
                inner.dirty = false;
                Some((encode(&merged), expired))
            }
        };
        self.wake.notify_one();
        if let Some((content, expired)) = content {
            if let Err(e) = driver.put_content(STATE_FILE, content).await {
                let mut inner = self.lock();
                inner.dirty = true;
                inner.expired.extend(expired);
                return Err(format!("writing {STATE_FILE}: {e}"));
            }
        }
        Ok(())
    }

    /// Removes the content of every entry whose time has come. Returns how many.
    pub(crate) async fn expire_due(&self, driver: &dyn StorageDriver) -> usize {
        let now = SystemTime::now();
        let due: Vec<(String, Entry)> = {
            let mut inner = self.lock();
            let keys: Vec<String> = inner
                .entries
                .iter()
                .filter(|(_, e)| e.expiry <= now)
                .map(|(k, _)| k.clone())
                .collect();
            let mut due = Vec::new();
            for k in keys {
                if let Some(e) = inner.entries.remove(&k) {
                    inner.expired.insert(k.clone(), e.expiry);
                    inner.dirty = true;
                    due.push((k, e));
                }
            }
            due
        };
        for (key, entry) in &due {
            if let Err(e) = remove(driver, key, entry.kind).await {
                // registry:2 logs and drops the entry too: the content stays until fetched again.
                tracing::error!(%key, error = %e, "removing expired cached content failed");
            } else {
                tracing::info!(%key, kind = ?entry.kind, "removed expired cached content");
            }
        }
        due.len()
    }

    /// When the next entry is due, if any.
    fn next_due(&self) -> Option<SystemTime> {
        self.lock().entries.values().map(|e| e.expiry).min()
    }

    fn is_dirty(&self) -> bool {
        let inner = self.lock();
        inner.dirty || !inner.loaded
    }

    /// Runs until aborted: loads the state, removes content as it expires, writes the
    /// state within [`SAVE_INTERVAL`] of a change.
    pub(crate) async fn run(self: Arc<Self>, driver: Arc<dyn StorageDriver>) {
        tracing::info!(ttl = ?self.ttl, "starting the cached content TTL scheduler");
        loop {
            if self.is_dirty() {
                if let Err(e) = self.sync(driver.as_ref(), true).await {
                    tracing::warn!(error = %e, "proxy scheduler state not saved; trying again shortly");
                }
            }
            let loaded = self.lock().loaded;
            if loaded && self.expire_due(driver.as_ref()).await > 0 {
                continue;
            }
            let now = SystemTime::now();
            let mut wait = Duration::from_secs(3600);
            if let Some(due) = self.next_due() {
                wait = wait.min(due.duration_since(now).unwrap_or(Duration::ZERO));
            }
            if self.is_dirty() {
                wait = wait.min(SAVE_INTERVAL);
            }
            if wait.is_zero() {
                continue;
            }
            // A new entry wakes the loop early only to recompute; saves wait for the interval.
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified(), if !self.is_dirty() => {}
            }
        }
    }
}

/// Removes what `key` cached.
async fn remove(driver: &dyn StorageDriver, key: &str, kind: Kind) -> Result<(), String> {
    let (name, digest) = parse_key(key).ok_or_else(|| format!("not a repo@digest key: {key}"))?;
    match kind {
        Kind::Blob => {
            store::delete_if_exists(driver, &paths::layer_link(name, &digest))
                .await
                .map_err(|e| e.to_string())?;
            let data = paths::blob_data(&digest);
            let dir = data.trim_end_matches("/data");
            store::delete_if_exists(driver, dir)
                .await
                .map_err(|e| e.to_string())?;
        }
        Kind::Manifest => {
            store::delete_if_exists(driver, &paths::manifest_revision_link(name, &digest))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::InMemoryDriver;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn reads_registry2_state() {
        // As registry:2 2.8 writes it (Go's time.Time in JSON, local offsets allowed).
        let text = format!(
            r#"{{"library/alpine@{D}":{{"Key":"library/alpine@{D}","ExpiryData":"2030-01-02T03:04:05.123456789+01:00","EntryType":0}},"a/b@{D}":{{"Key":"a/b@{D}","ExpiryData":"2030-01-02T03:04:05Z","EntryType":1}},"junk":{{"Key":"junk","ExpiryData":"x","EntryType":0}}}}"#
        );
        let e = decode(text.as_bytes()).unwrap();
        assert_eq!(e.len(), 2);
        let blob = &e[&format!("library/alpine@{D}")];
        assert_eq!(blob.kind, Kind::Blob);
        let secs = blob.expiry.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(secs.as_secs(), 1_893_553_445 - 3600);
        assert_eq!(secs.subsec_nanos(), 123_456_789);
        assert_eq!(e[&format!("a/b@{D}")].kind, Kind::Manifest);
        assert!(decode(b"null").unwrap().is_empty());
        assert!(decode(b"[1]").is_err());
        assert!(decode(b"{").is_err());
        // Written back in the same form, keys sorted.
        let out = encode(&e);
        let again = decode(&out).unwrap();
        assert_eq!(again, e);
        let s = String::from_utf8(out.to_vec()).unwrap();
        assert!(s.starts_with(&format!(r#"{{"a/b@{D}":{{"EntryType":1,"ExpiryData":"2030-01-02T03:04:05Z","Key":"a/b@{D}"}}"#)), "{s}");
        assert!(
            s.contains(r#""ExpiryData":"2030-01-02T02:04:05.123456789Z""#),
            "{s}"
        );
    }

    #[tokio::test]
    async fn expiry_removes_links_and_data_and_persists() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        let digest: Digest = D.parse().unwrap();
        let blob = paths::blob_data(&digest);
        d.put_content(&blob, Bytes::new()).await.unwrap();
        store::write_link(&d, &paths::layer_link("r", &digest), &digest)
            .await
            .unwrap();
        store::write_link(&d, &paths::manifest_revision_link("m", &digest), &digest)
            .await
            .unwrap();
        let s = Scheduler::new(Duration::ZERO);
        s.add(Kind::Blob, "r", &digest);
        s.add(Kind::Manifest, "m", &digest);
        s.sync(&d, true).await.unwrap();
        let saved = decode(&d.get_content(STATE_FILE).await.unwrap()).unwrap();
        assert_eq!(saved.len(), 2);
        // A second registry on the bucket picks the schedule up.
        let other = Scheduler::new(Duration::from_secs(3600));
        other.sync(&d, false).await.unwrap();
        assert_eq!(other.scheduled().len(), 2);
        assert_eq!(s.expire_due(&d).await, 2);
        assert!(d.stat(&blob).await.is_err(), "blob data removed");
        assert!(d.stat(&paths::layer_link("r", &digest)).await.is_err());
        assert!(d
            .stat(&paths::manifest_revision_link("m", &digest))
            .await
            .is_err());
        s.sync(&d, true).await.unwrap();
        assert!(decode(&d.get_content(STATE_FILE).await.unwrap())
            .unwrap()
            .is_empty());
        // The other one adopted them before they expired: it expires them too (removing
        // what is gone already is harmless), and then the file is empty for both.
        assert_eq!(other.expire_due(&d).await, 2);
        other.sync(&d, true).await.unwrap();
        assert!(decode(&d.get_content(STATE_FILE).await.unwrap())
            .unwrap()
            .is_empty());
        assert!(other.scheduled().is_empty());
    }

    #[tokio::test]
    async fn merge_keeps_later_expiry_and_survives_an_unreadable_file() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        let digest: Digest = D.parse().unwrap();
        let a = Scheduler::new(Duration::from_secs(100));
        let b = Scheduler::new(Duration::from_secs(1000));
        a.add(Kind::Blob, "r", &digest);
        a.sync(&d, true).await.unwrap();
        b.add(Kind::Blob, "r", &digest);
        b.add(Kind::Manifest, "q", &digest);
        b.sync(&d, true).await.unwrap();
        a.sync(&d, true).await.unwrap();
        let sa = a.scheduled();
        assert_eq!(sa, b.scheduled(), "both hold the merge");
        let r = sa.iter().find(|(k, _)| k.starts_with("r@")).unwrap().1;
        assert!(
            r > SystemTime::now() + Duration::from_secs(500),
            "the later expiry won"
        );
        d.put_content(STATE_FILE, Bytes::from_static(b"{not json"))
            .await
            .unwrap();
        a.add(Kind::Blob, "z", &digest);
        a.sync(&d, true).await.unwrap();
        let saved = decode(&d.get_content(STATE_FILE).await.unwrap()).unwrap();
        assert!(saved.contains_key(&format!("z@{D}")));
        let kept = d.list("/").await.unwrap();
        assert!(
            kept.iter()
                .any(|p| p.starts_with("/scheduler-state.json.unreadable-")),
            "{kept:?}"
        );
    }

    #[test]
    fn keys_and_fractions() {
        assert!(parse_key(&format!("a/b@{D}")).is_some());
        assert!(parse_key("a/b@sha256:00").is_none());
        assert!(parse_key(&format!("A@{D}")).is_none());
        let whole = parse_rfc3339("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(
            parse_rfc3339("2030-01-02T03:04:05.5Z"),
            Some(whole + Duration::from_millis(500))
        );
    }
}
