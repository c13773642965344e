//! `auth.htpasswd`: HTTP basic authentication against an htpasswd file of
//! bcrypt entries (Distribution's `registry/auth/htpasswd`).
//!
//! The file is re-read when its modification time or size changes. bcrypt is
//! slow by design and clients authenticate every request, so a successful check
//! is remembered as a sha256 of the password for as long as the user's entry
//! is unchanged; the bcrypt work itself runs off the async threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use hyper::header::AUTHORIZATION;
use hyper::HeaderMap;
use sha2::{Digest as _, Sha256};

use crate::config::ConfigError;

/// An htpasswd access controller.
pub(super) struct Htpasswd {
    realm: String,
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Modification time and size of the file last read.
    stamp: Option<(SystemTime, u64)>,
    /// user -> bcrypt hash.
    entries: Arc<HashMap<String, String>>,
    /// user -> (hash it was checked against, sha256 of the accepted password).
    verified: HashMap<String, (String, [u8; 32])>,
}

impl Htpasswd {
    /// Reads the file at `path`.
    ///
    /// # Errors
    /// The file cannot be read.
    pub(super) fn load(realm: &str, path: &Path) -> Result<Self, ConfigError> {
        let h = Self {
            realm: realm.to_owned(),
            path: path.to_owned(),
            state: Mutex::new(State::default()),
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
                let mut s = self.lock();
                s.stamp = stamp;
                s.entries = Arc::new(entries);
                s.verified.clear();
                tracing::info!(path = %self.path.display(), users = s.entries.len(), "htpasswd file reloaded");
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot re-read the htpasswd file; keeping the previous entries");
            }
        }
    }

    /// Checks the request's `Authorization: Basic` credentials. On failure
    /// returns the `WWW-Authenticate` challenge to answer with.
    pub(super) async fn authenticate(&self, headers: &HeaderMap) -> Result<String, String> {
        let challenge = format!("Basic realm=\"{}\"", self.realm);
        let Some((user, password)) = basic_credentials(headers) else {
            return Err(challenge);
        };
        self.refresh();
        let Some(hash) = self.lock().entries.get(&user).cloned() else {
            tracing::debug!(user, "unknown htpasswd user");
            return Err(challenge);
        };
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        if let Some((h, d)) = self.lock().verified.get(&user) {
            if *h == hash && ct_eq(d, &digest) {
                return Ok(user);
            }
        }
        let check_hash = hash.clone();
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password.as_bytes(), &check_hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok {
            self.lock().verified.insert(user.clone(), (hash, digest));
            Ok(user)
        } else {
            tracing::debug!(user, "htpasswd authentication failed");
            Err(challenge)
        }
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
        if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
            tracing::warn!(
                user,
                "htpasswd entry is not bcrypt (create it with `htpasswd -B`); it will never match"
            );
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

/// Standard base64 with optional padding.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover sextet cannot encode a byte.
    (bits < 6).then_some(out)
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
    fn parses_htpasswd_lines() {
        let e = parse("# comment\n\nalice:$2y$05$abc\nbob:{SHA}xyz\nbroken\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e["alice"], "$2y$05$abc");
    }

    #[tokio::test]
    async fn checks_bcrypt_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let hash = bcrypt::hash_with_salt("s3cret", 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
        let h = Htpasswd::load("my realm", &path).unwrap();
        let header = |user: &str, pw: &str| {
            let mut m = HeaderMap::new();
            let token = encode(&format!("{user}:{pw}"));
            m.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
            );
            m
        };
        assert_eq!(
            h.authenticate(&header("alice", "s3cret")).await,
            Ok("alice".into())
        );
        // Served from the cache the second time.
        assert_eq!(
            h.authenticate(&header("alice", "s3cret")).await,
            Ok("alice".into())
        );
        assert_eq!(
            h.authenticate(&header("alice", "wrong")).await,
            Err("Basic realm=\"my realm\"".into())
        );
        assert!(h.authenticate(&header("bob", "s3cret")).await.is_err());
        assert!(h.authenticate(&HeaderMap::new()).await.is_err());
        // Removing the user takes effect without a restart.
        std::fs::write(
            &path,
            "carol:$2y$04$invalidinvalidinvalidinvalidinvalidinvalidinvalidinv\n",
        )
        .unwrap();
        assert!(h.authenticate(&header("alice", "s3cret")).await.is_err());
        assert!(Htpasswd::load("r", &dir.path().join("missing")).is_err());
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
