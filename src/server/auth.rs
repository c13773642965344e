//! The access controllers (`auth.htpasswd`, `auth.token` in [`super::token`]) and the access
//! a request needs, as registry:2 computes it.
//!
//! `auth.htpasswd`: HTTP basic authentication against an htpasswd file of
//! bcrypt entries (Distribution's `registry/auth/htpasswd`).
//!
//! The file is re-read when its modification time or size changes. bcrypt is
//! slow by design and clients authenticate every request, so a successful check
//! is remembered as a sha256 of the password for as long as the user's entry
//! is unchanged.
//!
//! The cost of checking is bounded and the same for every failure:
//! * entries with a bcrypt cost above [`MAX_COST`] are disabled when the file is
//!   read (with a warning saying how to re-create them): one check of such an
//!   entry would burn a core for seconds to hours;
//! * an unknown user is checked against a dummy hash of the file's highest cost,
//!   so a wrong user name takes as long as a wrong password;
//! * bcrypt runs on its own threads, at most one per core at a time, never on the
//!   async workers and never holding up shutdown;
//! * a client address with [`MAX_FAILURES`] failed logins within
//!   [`FAILURE_WINDOW`] gets 429 `TOOMANYREQUESTS` without any check until the
//!   window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hyper::header::AUTHORIZATION;
use hyper::{HeaderMap, Method};
use sha2::{Digest as _, Sha256};

use super::router::{first, query_pairs, Route};
use super::token::TokenAuth;
use crate::config::ConfigError;

/// The highest bcrypt cost accepted (registry:2's tooling writes 5 to 14; one
/// check at 14 takes about a second of one core).
pub(super) const MAX_COST: u32 = 14;

/// Failed logins from one address that are checked within [`FAILURE_WINDOW`].
pub(super) const MAX_FAILURES: u32 = 20;

/// The window in which [`MAX_FAILURES`] are counted.
pub(super) const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Addresses remembered for throttling; beyond it the oldest are forgotten.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Denied {
    /// No or wrong credentials: answer 401 with this `WWW-Authenticate` challenge.
    Challenge(String),
    /// Too many failures from the client's address: answer 429, retry after
    /// this many seconds.
    Throttled(u64),
}

/// One action on one resource a request needs (registry:2's `auth.Access`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Access {
    /// `repository` or `registry`.
    pub kind: &'static str,
    /// The repository name, or `catalog`.
    pub name: String,
    /// `pull`, `push`, `delete` or `*`.
    pub action: &'static str,
}

/// What a request needs, as registry:2's `appendAccessRecords` and
/// `appendCatalogAccessRecord` compute it: `pull` to read a repository, `pull` and `push` to
/// write, `delete` to delete, `pull` on the `from` repository of a mount, `*` on
/// `registry:catalog` for the catalog; nothing for `/v2/` (or a path that is no route).
pub(super) fn access_records(
    route: Option<&Route>,
    method: &Method,
    query: Option<&str>,
) -> Vec<Access> {
    let name = match route {
        None | Some(Route::Base) => return Vec::new(),
        Some(Route::Catalog) => {
            return vec![Access {
                kind: "registry",
                name: "catalog".to_owned(),
                action: "*",
            }]
        }
        Some(
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. },
        ) => name,
    };
    let mut out = Vec::new();
    let mut append = |method: &Method, name: &str| {
        let actions: &[&'static str] = match *method {
            Method::GET | Method::HEAD => &["pull"],
            Method::POST | Method::PUT | Method::PATCH => &["pull", "push"],
            Method::DELETE => &["delete"],
            _ => &[],
        };
        for action in actions {
            out.push(Access {
                kind: "repository",
                name: name.to_owned(),
                action,
            });
        }
    };
    append(method, name);
    let q = query_pairs(query);
    if let Some(from) = first(&q, "from").filter(|f| !f.is_empty()) {
        append(&Method::GET, from);
    }
    out
}

/// The `detail` of registry:2's 401 answer: the access records (`null` when none).
pub(super) fn access_detail(access: &[Access]) -> serde_json::Value {
    if access.is_empty() {
        return serde_json::Value::Null;
    }
    access
        .iter()
        .map(|a| {
            serde_json::json!({
                "Type": a.kind,
                "Class": "",
                "Name": a.name,
                "Action": a.action,
            })
        })
        .collect()
}

/// The configured access controller.
pub(super) enum Auth {
    /// `auth.htpasswd`.
    Htpasswd(Htpasswd),
    /// `auth.token`.
    Token(TokenAuth),
}

impl Auth {
    /// Checks a request from `remote` to `host` that needs `access`; the user (htpasswd) or the
    /// token's subject when it may proceed.
    pub(super) async fn authorize(
        &self,
        headers: &HeaderMap,
        remote: IpAddr,
        host: &str,
        access: &[Access],
    ) -> Result<String, Denied> {
        match self {
            Self::Htpasswd(h) => h.authenticate(headers, remote).await,
            Self::Token(t) => t.authorize(headers, host, access),
        }
    }
}

/// An htpasswd access controller.
pub(super) struct Htpasswd {
    realm: String,
    path: PathBuf,
    state: Mutex<State>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// At most one bcrypt check per core at a time.
    checks: Arc<tokio::sync::Semaphore>,
    #[cfg(test)]
    bcrypt_runs: std::sync::atomic::AtomicUsize,
    #[cfg(test)]
    bcrypt_done: Arc<std::sync::atomic::AtomicUsize>,
}

#[derive(Default)]
struct State {
    /// Modification time and size of the file last read.
    stamp: Option<(SystemTime, u64)>,
    /// user -> bcrypt hash.
    entries: Arc<HashMap<String, String>>,
    /// A hash of the entries' highest cost that no password matches, checked
    /// for unknown users.
    dummy: Arc<str>,
    /// user -> (hash it was checked against, sha256 of the accepted password).
    verified: HashMap<String, (String, [u8; 32])>,
}

impl Htpasswd {
    /// Reads the file at `path`.
    ///
    /// # Errors
    /// The file cannot be read.
    pub(super) fn load(realm: &str, path: &Path) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let h = Self {
            realm: realm.to_owned(),
            path: path.to_owned(),
            state: Mutex::new(State::default()),
            failures: Mutex::new(HashMap::new()),
            checks: Arc::new(tokio::sync::Semaphore::new(cores)),
            #[cfg(test)]
            bcrypt_runs: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(test)]
            bcrypt_done: Arc::default(),
        };
        let (stamp, entries) = read(path).map_err(|e| {
            ConfigError::new(
                "auth.htpasswd.path",
                format!(
                    "auth.htpasswd.path: cannot read the htpasswd file {}: {e}",
                    path.display()
                ),
            )
        })?;
        {
            let mut s = h.lock();
            s.stamp = stamp;
            s.dummy = dummy_hash(&entries);
            s.entries = Arc::new(entries);
        }
        Ok(h)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Re-reads the file if it changed; on failure keeps the previous entries.
    fn refresh(&self) {
        let current = stamp_of(&self.path);
        if current.is_some() && current == self.lock().stamp {
            return;
        }
        match read(&self.path) {
            Ok((stamp, entries)) => {
                let dummy = dummy_hash(&entries);
                let mut s = self.lock();
                s.stamp = stamp;
                s.dummy = dummy;
                s.entries = Arc::new(entries);
                s.verified.clear();
                tracing::info!(path = %self.path.display(), users = s.entries.len(), "htpasswd file reloaded");
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot re-read the htpasswd file; keeping the previous entries");
            }
        }
    }

    /// Checks the request's `Authorization: Basic` credentials, from client
    /// address `remote`.
    pub(super) async fn authenticate(
        &self,
        headers: &HeaderMap,
        remote: IpAddr,
    ) -> Result<String, Denied> {
        let challenge = || Denied::Challenge(format!("Basic realm=\"{}\"", self.realm));
        let Some((user, password)) = basic_credentials(headers) else {
            return Err(challenge());
        };
        if let Some(wait) = self.throttled(remote) {
            return Err(Denied::Throttled(wait));
        }
        self.refresh();
        let (hash, dummy) = {
            let s = self.lock();
            (s.entries.get(&user).cloned(), Arc::clone(&s.dummy))
        };
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        if let Some(hash) = &hash {
            if let Some((h, d)) = self.lock().verified.get(&user) {
                if h == hash && ct_eq(d, &digest) {
                    return Ok(user);
                }
            }
        }
        // Unknown users cost what a wrong password costs.
        let checked = hash.clone().unwrap_or_else(|| dummy.to_string());
        let ok = self.bcrypt(password, checked).await && hash.is_some();
        match hash {
            Some(hash) if ok => {
                self.lock().verified.insert(user.clone(), (hash, digest));
                self.failures().remove(&remote);
                Ok(user)
            }
            _ => {
                tracing::debug!(user, %remote, "htpasswd authentication failed");
                self.record_failure(remote);
                Err(challenge())
            }
        }
    }

    /// Runs one bcrypt check on a thread of its own (at most one per core at a
    /// time); the thread is never joined, so shutdown does not wait for it.
    async fn bcrypt(&self, password: String, hash: String) -> bool {
        let Ok(_slot) = Arc::clone(&self.checks).acquire_owned().await else {
            return false;
        };
        #[cfg(test)]
        self.bcrypt_runs
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (tx, rx) = tokio::sync::oneshot::channel();
        #[cfg(test)]
        let done = Arc::clone(&self.bcrypt_done);
        let spawned = std::thread::Builder::new()
            .name("bcrypt".into())
            .spawn(move || {
                let ok = bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false);
                #[cfg(test)]
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = tx.send(ok);
            });
        spawned.is_ok() && rx.await.unwrap_or(false)
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Seconds to wait when `remote` has used up its failed logins.
    fn throttled(&self, remote: IpAddr) -> Option<u64> {
        let f = self.failures();
        let (count, since) = f.get(&remote)?;
        let left = FAILURE_WINDOW.checked_sub(since.elapsed())?;
        (*count >= MAX_FAILURES).then(|| left.as_secs().max(1))
    }

    fn record_failure(&self, remote: IpAddr) {
        let mut f = self.failures();
        if f.len() >= MAX_TRACKED_ADDRESSES && !f.contains_key(&remote) {
            f.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            if f.len() >= MAX_TRACKED_ADDRESSES {
                if let Some(oldest) = f.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| *k) {
                    f.remove(&oldest);
                }
            }
        }
        let e = f.entry(remote).or_insert((0, Instant::now()));
        if e.1.elapsed() >= FAILURE_WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
        if e.0 == MAX_FAILURES {
            tracing::warn!(%remote, failures = e.0, window = ?FAILURE_WINDOW, "too many failed logins; refusing this address for the rest of the window");
        }
    }
}

/// The bcrypt cost of a hash (`$2y$NN$...`), if it is one.
fn cost_of(hash: &str) -> Option<u32> {
    let rest = hash
        .strip_prefix("$2a$")
        .or_else(|| hash.strip_prefix("$2b$"))
        .or_else(|| hash.strip_prefix("$2y$"))?;
    rest.get(..2)?.parse().ok()
}

/// A hash at the entries' highest cost (at least 5) that no password matches
/// (its salt and digest are fixed, its password random).
fn dummy_hash(entries: &Entries) -> Arc<str> {
    let cost = entries
        .values()
        .filter_map(|h| cost_of(h))
        .max()
        .unwrap_or(5)
        .clamp(4, MAX_COST);
    let mut secret = [0u8; 16];
    let _ = getrandom::getrandom(&mut secret);
    match bcrypt::hash_with_salt(secret, cost, [0x5a; 16]) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoY).into(),
        Err(_) => "$2y$05$invalidinvalidinvalidinvalidinvalidinvalidinvalidinv".into(),
    }
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn stamp_of(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

type Entries = HashMap<String, String>;

fn read(path: &Path) -> std::io::Result<(Option<(SystemTime, u64)>, Entries)> {
    let stamp = stamp_of(path);
    let text = std::fs::read_to_string(path)?;
    Ok((stamp, parse(&text)))
}

/// `user:hash` lines; blank lines and `#` comments are skipped. Entries that are
/// not bcrypt can never match and are reported.
fn parse(text: &str) -> Entries {
    let mut entries = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, hash)) = line.split_once(':') else {
            tracing::warn!("ignoring an htpasswd line without ':'");
            continue;
        };
        let hash = hash.trim();
        match cost_of(hash) {
            None => tracing::warn!(
                user,
                "htpasswd entry is not bcrypt (create it with `htpasswd -B`); it will never match"
            ),
            Some(cost) if cost > MAX_COST => {
                tracing::warn!(
                    user,
                    cost,
                    max = MAX_COST,
                    "htpasswd entry has a bcrypt cost above the maximum and is disabled: \
                     re-create it with `htpasswd -B -C 12` (checking it would take seconds of CPU \
                     for every login)"
                );
                continue;
            }
            Some(_) => {}
        }
        entries.insert(user.trim().to_owned(), hash.to_owned());
    }
    entries
}

/// The user and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(token.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Standard base64, padded or not (unused trailing bits are ignored, as Go's
/// `base64.StdEncoding` does).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode};
    use base64::{alphabet, engine::GeneralPurposeConfig, Engine as _};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn decodes_basic_credentials() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("a*b=").is_none());
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert_eq!(base64_decode("YR==").unwrap(), b"a");
        assert_eq!(base64_decode("YQ=").unwrap(), b"a");
        // More padding than the length needs is refused.
        assert!(base64_decode("YQ===").is_none());
        assert!(base64_decode("YWI==").is_none());
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwOmFzcw=="),
        );
        assert_eq!(basic_credentials(&h), Some(("user".into(), "p:ass".into())));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(basic_credentials(&h), None);
    }

    #[test]
    fn access_records_follow_registry2() {
        let names = |a: &[Access]| {
            a.iter()
                .map(|a| format!("{}:{}:{}", a.kind, a.name, a.action))
                .collect::<Vec<_>>()
        };
        let blob = Route::Blob {
            name: "a/b".into(),
            digest: "sha256:00".into(),
        };
        assert!(access_records(None, &Method::GET, None).is_empty());
        assert!(access_records(Some(&Route::Base), &Method::GET, None).is_empty());
        assert_eq!(
            names(&access_records(Some(&Route::Catalog), &Method::GET, None)),
            ["registry:catalog:*"]
        );
        assert_eq!(
            names(&access_records(Some(&blob), &Method::HEAD, None)),
            ["repository:a/b:pull"]
        );
        assert_eq!(
            names(&access_records(Some(&blob), &Method::DELETE, None)),
            ["repository:a/b:delete"]
        );
        let start = Route::UploadStart { name: "a/b".into() };
        assert_eq!(
            names(&access_records(
                Some(&start),
                &Method::POST,
                Some("mount=sha256:00&from=c/d")
            )),
            [
                "repository:a/b:pull",
                "repository:a/b:push",
                "repository:c/d:pull"
            ]
        );
        assert!(access_records(Some(&blob), &Method::OPTIONS, None).is_empty());
        assert_eq!(access_detail(&[]), serde_json::Value::Null);
        assert_eq!(
            access_detail(&access_records(Some(&blob), &Method::GET, None)),
            serde_json::json!([{"Type": "repository", "Class": "", "Name": "a/b", "Action": "pull"}])
        );
    }

    #[test]
    fn parses_htpasswd_lines() {
        let e = parse("# comment\n\nalice:$2y$05$abc\nbob:{SHA}xyz\nbroken\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e["alice"], "$2y$05$abc");
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn hash(password: &str, cost: u32) -> String {
        bcrypt::hash_with_salt(password, cost, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY)
    }

    fn header(user: &str, pw: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        let token = encode(&format!("{user}:{pw}"));
        m.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
        );
        m
    }

    fn runs(h: &Htpasswd) -> usize {
        h.bcrypt_runs.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn checks_bcrypt_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, format!("alice:{}\n", hash("s3cret", 4))).unwrap();
        let h = Htpasswd::load("my realm", &path).unwrap();
        let challenge = Err(Denied::Challenge("Basic realm=\"my realm\"".into()));
        assert_eq!(
            h.authenticate(&header("alice", "s3cret"), LOCAL).await,
            Ok("alice".into())
        );
        // Served from the cache the second time.
        assert_eq!(
            h.authenticate(&header("alice", "s3cret"), LOCAL).await,
            Ok("alice".into())
        );
        assert_eq!(runs(&h), 1);
        assert_eq!(
            h.authenticate(&header("alice", "wrong"), LOCAL).await,
            challenge
        );
        assert!(h
            .authenticate(&header("bob", "s3cret"), LOCAL)
            .await
            .is_err());
        assert!(h.authenticate(&HeaderMap::new(), LOCAL).await.is_err());
        // Removing the user takes effect without a restart.
        std::fs::write(
            &path,
            "carol:$2y$04$invalidinvalidinvalidinvalidinvalidinvalidinvalidinv\n",
        )
        .unwrap();
        assert!(h
            .authenticate(&header("alice", "s3cret"), LOCAL)
            .await
            .is_err());
        assert!(Htpasswd::load("r", &dir.path().join("missing")).is_err());
    }

    #[tokio::test]
    async fn costly_entries_are_disabled_and_unknown_users_cost_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        // A cost-31 entry would take days to check; it is dropped at load time.
        std::fs::write(
            &path,
            format!(
                "alice:{}\nslow:$2y$31$abcdefghijklmnopqrstuu5Bz8rBOqWOt5n6f7lQcFZ5Lk6nP0m1a\n",
                hash("pw", 5)
            ),
        )
        .unwrap();
        let h = Htpasswd::load("r", &path).unwrap();
        assert_eq!(
            cost_of(&h.lock().dummy),
            Some(5),
            "the dummy has the entries' cost"
        );
        assert!(!h.lock().entries.contains_key("slow"));
        let before = runs(&h);
        assert!(h.authenticate(&header("slow", "x"), LOCAL).await.is_err());
        assert!(h.authenticate(&header("nobody", "x"), LOCAL).await.is_err());
        assert!(h.authenticate(&header("alice", "x"), LOCAL).await.is_err());
        assert_eq!(
            runs(&h) - before,
            3,
            "an unknown user, a disabled one and a wrong password each cost one bcrypt check"
        );
        assert_eq!(cost_of("$2b$12$abc"), Some(12));
        assert_eq!(cost_of("{SHA}abc"), None);
    }

    #[tokio::test]
    async fn repeated_failures_from_one_address_are_throttled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, format!("alice:{}\n", hash("pw", 4))).unwrap();
        let h = Htpasswd::load("r", &path).unwrap();
        let attacker: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(matches!(
                h.authenticate(&header("alice", "guess"), attacker).await,
                Err(Denied::Challenge(_))
            ));
        }
        let runs_before = runs(&h);
        match h.authenticate(&header("alice", "pw"), attacker).await {
            Err(Denied::Throttled(secs)) => assert!((1..=60).contains(&secs), "{secs}"),
            other => panic!("not throttled: {other:?}"),
        }
        assert_eq!(runs(&h), runs_before, "a throttled attempt runs no bcrypt");
        // Other addresses are not affected; requests without credentials are not counted.
        assert_eq!(
            h.authenticate(&header("alice", "pw"), LOCAL).await,
            Ok("alice".into())
        );
        assert!(matches!(
            h.authenticate(&HeaderMap::new(), attacker).await,
            Err(Denied::Challenge(_))
        ));
    }

    #[test]
    fn shutdown_does_not_wait_for_a_bcrypt_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        // About a second of CPU per check on this kind of machine.
        std::fs::write(&path, format!("alice:{}\n", hash("pw", MAX_COST))).unwrap();
        let h = Arc::new(Htpasswd::load("r", &path).unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let h2 = Arc::clone(&h);
        rt.spawn(async move {
            let _ = h2.authenticate(&header("alice", "wrong"), LOCAL).await;
        });
        while runs(&h) == 0 {
            std::thread::yield_now();
        }
        // Dropping the runtime (what the binary does at shutdown) returns while the check
        // still runs on its own thread (a runtime waits for its blocking-pool tasks).
        drop(rt);
        assert_eq!(h.bcrypt_done.load(std::sync::atomic::Ordering::SeqCst), 0);
        while h.bcrypt_done.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn encode(s: &str) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let b = s.as_bytes();
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= c.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
