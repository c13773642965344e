//! The derived SigV4 signing key and a small cache of it.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use crate::sign::crypto::{constant_time_eq, hex_encode, hmac_sha256, sha256};
use crate::sign::SigningCredentials;

/// The SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`. Valid for one (date, region, service). `Debug` is redacted; the bytes
/// are overwritten on drop (best effort).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives the key. Pure: the same inputs always give the same key.
    pub fn derive(secret_access_key: &str, date_stamp: &str, region: &str, service: &str) -> Self {
        let mut seed = Vec::with_capacity(4 + secret_access_key.len());
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret_access_key.as_bytes());
        let k_date = hmac_sha256(&seed, date_stamp.as_bytes());
        seed.fill(0);
        std::hint::black_box(&seed);
        let k_region = hmac_sha256(&k_date, region.as_bytes());
        let k_service = hmac_sha256(&k_region, service.as_bytes());
        Self(hmac_sha256(&k_service, b"aws4_request"))
    }

    /// HMAC-SHA256 of `data` under this key.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, data)
    }

    /// Lower-case hex HMAC-SHA256 of `data` under this key (a SigV4 signature).
    pub fn sign_hex(&self, data: &[u8]) -> String {
        hex_encode(&self.sign(data))
    }

    /// The raw key bytes. Secret material: never log them.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

/// How many derived keys a [`SigningKeyCache`] keeps.
const CACHE_CAPACITY: usize = 8;

struct Entry {
    access_key_id: String,
    secret_fingerprint: [u8; 32],
    date_stamp: String,
    region: String,
    service: String,
    key: SigningKey,
}

/// A small thread-safe cache of derived signing keys, keyed by (access key id, secret,
/// date, region, service), so that only the first request of a day pays for the four
/// extra HMACs. The secret is not stored, only its SHA-256 fingerprint (compared in
/// constant time); keys of an older date are dropped when a newer date arrives.
///
/// Pass it to the signer through [`super::SignOptions::key_cache`].
pub struct SigningKeyCache {
    entries: Mutex<Vec<Entry>>,
}

impl SigningKeyCache {
    /// An empty cache.
    pub const fn new() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// The cached key for these inputs, deriving (and caching) it on a miss.
    pub fn get_or_derive(
        &self,
        credentials: &SigningCredentials<'_>,
        date_stamp: &str,
        region: &str,
        service: &str,
    ) -> SigningKey {
        let fingerprint = sha256(credentials.secret_access_key.as_bytes());
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = entries.iter().find(|e| {
            e.date_stamp == date_stamp
                && e.region == region
                && e.service == service
                && e.access_key_id == credentials.access_key_id
                && constant_time_eq(&e.secret_fingerprint, &fingerprint)
        }) {
            return hit.key.clone();
        }
        let key = SigningKey::derive(credentials.secret_access_key, date_stamp, region, service);
        // Date stamps are YYYYMMDD, so string order is date order.
        entries.retain(|e| e.date_stamp.as_str() >= date_stamp);
        if entries.len() >= CACHE_CAPACITY {
            entries.remove(0);
        }
        entries.push(Entry {
            access_key_id: credentials.access_key_id.to_owned(),
            secret_fingerprint: fingerprint,
            date_stamp: date_stamp.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            key: key.clone(),
        });
        key
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every cached key (e.g. after credentials were rotated).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("entries", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn creds(secret: &str) -> SigningCredentials<'_> {
        SigningCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: secret,
            session_token: None,
        }
    }

    #[test]
    fn derives_the_s3_example_key() {
        let key = SigningKey::derive(S3_SECRET, "20130524", "us-east-1", "s3");
        assert_eq!(
            hex_encode(key.expose_bytes()),
            "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378"
        );
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn cache_hits_misses_and_eviction() {
        let cache = SigningKeyCache::new();
        assert!(cache.is_empty());
        let a = cache.get_or_derive(&creds(S3_SECRET), "20130524", "us-east-1", "s3");
        let b = cache.get_or_derive(&creds(S3_SECRET), "20130524", "us-east-1", "s3");
        assert_eq!(a, b);
        assert_eq!(cache.len(), 1);
        // A different secret with the same key id must not hit.
        let c = cache.get_or_derive(&creds("other"), "20130524", "us-east-1", "s3");
        assert_ne!(a, c);
        assert_eq!(
            c,
            SigningKey::derive("other", "20130524", "us-east-1", "s3")
        );
        assert_eq!(cache.len(), 2);
        // A new day drops the old day's keys.
        cache.get_or_derive(&creds(S3_SECRET), "20130525", "us-east-1", "s3");
        assert_eq!(cache.len(), 1);
        for i in 0..20 {
            cache.get_or_derive(&creds(S3_SECRET), "20130525", &format!("r{i}"), "s3");
        }
        assert_eq!(cache.len(), CACHE_CAPACITY);
        cache.clear();
        assert!(cache.is_empty());
        assert!(!format!("{cache:?}").contains(S3_SECRET));
    }
}
