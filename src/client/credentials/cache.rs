//! Caching with refresh before expiry.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{Credentials, ProvideCredentials};
use crate::client::error::Error;

/// A source of the current time, injectable for tests.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// How long before expiry cached credentials are refreshed.
pub(crate) const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(5 * 60);

/// After a failed refresh while the cached credentials are still valid, wait this long before
/// trying again (so requests do not each pay for a failing IMDS call).
pub(crate) const REFRESH_RETRY_DELAY: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    credentials: Option<Credentials>,
    retry_refresh_at: Option<SystemTime>,
}

/// Caches another provider's credentials.
///
/// * Credentials without an expiry are cached until [`CachingProvider::invalidate`].
/// * Credentials with an expiry are refreshed once `now + refresh_window >= expires_at`
///   (5 minutes by default, as the AWS SDKs do).
/// * One refresh at a time: callers wait on a `tokio::sync::Mutex` while a refresh is in flight
///   and then get its result, so a burst of requests causes one call to the inner provider.
/// * If a refresh fails while the cached credentials are still valid, those are returned and
///   the refresh is retried after 10 s; once they have expired the error is
///   returned.
pub struct CachingProvider<P> {
    inner: P,
    clock: Arc<dyn Clock>,
    refresh_window: Duration,
    state: Mutex<State>,
}

impl<P: ProvideCredentials> CachingProvider<P> {
    /// Caches `inner` with the system clock and a 5 minute refresh window.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            clock: Arc::new(SystemClock),
            refresh_window: DEFAULT_REFRESH_WINDOW,
            state: Mutex::new(State::default()),
        }
    }

    /// Uses `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Refreshes this long before expiry instead of 5 minutes.
    #[must_use]
    pub fn with_refresh_window(mut self, window: Duration) -> Self {
        self.refresh_window = window;
        self
    }

    /// Drops the cached credentials so the next call loads fresh ones (e.g. after S3 answered
    /// `ExpiredToken`).
    pub async fn invalidate(&self) {
        *self.state.lock().await = State::default();
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: fmt::Debug> fmt::Debug for CachingProvider<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingProvider")
            .field("inner", &self.inner)
            .field("refresh_window", &self.refresh_window)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<P: ProvideCredentials> ProvideCredentials for CachingProvider<P> {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        let now = self.clock.now();
        if let Some(c) = &state.credentials {
            let fresh = match c.expires_at() {
                None => true,
                Some(exp) => now + self.refresh_window < exp,
            };
            let backing_off = state.retry_refresh_at.is_some_and(|t| now < t);
            if fresh || (backing_off && !c.is_expired_at(now)) {
                return Ok(c.clone());
            }
        }
        match self.inner.provide_credentials().await {
            Ok(c) => {
                state.credentials = Some(c.clone());
                state.retry_refresh_at = None;
                Ok(c)
            }
            Err(e) => match &state.credentials {
                Some(c) if !c.is_expired_at(now) => {
                    state.retry_refresh_at = Some(now + REFRESH_RETRY_DELAY);
                    Ok(c.clone())
                }
                _ => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use std::time::UNIX_EPOCH;

    #[derive(Debug, Default)]
    struct FakeClock(AtomicU64);
    impl FakeClock {
        fn set(&self, secs: u64) {
            self.0.store(secs, Ordering::SeqCst);
        }
    }
    impl Clock for FakeClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
        }
    }

    /// Hands out credentials "K<n>" valid for `ttl` seconds from the clock; fails when `fail`.
    #[derive(Debug)]
    struct Counting {
        calls: AtomicU32,
        clock: Arc<FakeClock>,
        ttl: Option<u64>,
        fail: std::sync::atomic::AtomicBool,
        delay: Duration,
    }
    #[async_trait]
    impl ProvideCredentials for Counting {
        async fn provide_credentials(&self) -> Result<Credentials, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(Error::credentials("test", "boom"));
            }
            let exp = self.ttl.map(|t| self.clock.now() + Duration::from_secs(t));
            Ok(Credentials::new(format!("K{n}"), "s", None, exp))
        }
    }

    fn setup(
        ttl: Option<u64>,
        delay: Duration,
    ) -> (
        Arc<FakeClock>,
        Arc<Counting>,
        CachingProvider<Arc<Counting>>,
    ) {
        let clock = Arc::new(FakeClock::default());
        clock.set(1_000_000);
        let inner = Arc::new(Counting {
            calls: AtomicU32::new(0),
            clock: clock.clone(),
            ttl,
            fail: false.into(),
            delay,
        });
        let p = CachingProvider::new(inner.clone()).with_clock(clock.clone());
        (clock, inner, p)
    }

    #[tokio::test]
    async fn caches_until_refresh_window() {
        let (clock, inner, p) = setup(Some(3600), Duration::ZERO);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K1");
        clock.set(1_000_000 + 3600 - 301);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        clock.set(1_000_000 + 3600 - 300);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K2");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_expiry_is_cached_until_invalidated() {
        let (clock, inner, p) = setup(None, Duration::ZERO);
        p.provide_credentials().await.unwrap();
        clock.set(9_000_000_000);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K1");
        p.invalidate().await;
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K2");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        assert!(format!("{p:?}").contains("CachingProvider"));
    }

    #[tokio::test]
    async fn failed_refresh_keeps_valid_credentials_then_fails_after_expiry() {
        let (clock, inner, p) = setup(Some(600), Duration::ZERO);
        p.provide_credentials().await.unwrap();
        inner.fail.store(true, Ordering::SeqCst);
        clock.set(1_000_000 + 400); // inside the refresh window, still valid
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        // Backing off: no new call within REFRESH_RETRY_DELAY.
        clock.set(1_000_000 + 405);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        clock.set(1_000_000 + 411);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        // Expired: the error surfaces.
        clock.set(1_000_000 + 600);
        assert!(p.provide_credentials().await.is_err());
        // Recovery.
        inner.fail.store(false, Ordering::SeqCst);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K5");
    }

    #[tokio::test]
    async fn first_load_error_is_not_cached() {
        let (_clock, inner, p) = setup(Some(600), Duration::ZERO);
        inner.fail.store(true, Ordering::SeqCst);
        assert!(p.provide_credentials().await.is_err());
        inner.fail.store(false, Ordering::SeqCst);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K2");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_flight() {
        let (_clock, inner, p) = setup(Some(3600), Duration::from_millis(50));
        let p = Arc::new(p);
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.provide_credentials().await.unwrap() })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().access_key_id(), "K1");
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }
}
