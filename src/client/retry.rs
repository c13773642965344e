//! Retries with jittered exponential backoff.
//!
//! * [`classify`] maps a status code, an S3 error code and a transport failure to a
//!   [`RetryDecision`] — the one place that says what is worth retrying.
//! * [`Backoff`] computes "decorrelated jitter" delays
//!   (`next = min(max_backoff, random(base ..= 3 × previous))`, AWS Architecture Blog,
//!   "Exponential Backoff And Jitter") from an injectable [`RandomSource`].
//! * [`retry`] drives an async operation: it calls it once per attempt (so each attempt builds a
//!   fresh request and body), sleeps through an injected sleep function, and stops on success, on a
//!   non-retryable error, after [`RetryConfig::max_attempts`], or when the next sleep would exceed
//!   [`RetryConfig::max_elapsed`].
//!
//! An operation whose body cannot be rebuilt (a consumed stream) is wrapped in [`OneShot`]: it is
//! attempted once and a retryable failure comes back as
//! [`ErrorKind::NotReplayable`].

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::error::{Error, ErrorKind};

/// How often and how long to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Total attempts including the first (1 disables retries; 0 is treated as 1).
    pub max_attempts: u32,
    /// Lower bound of every backoff delay, and the first delay's scale.
    pub initial_backoff: Duration,
    /// Upper bound of any single backoff delay.
    pub max_backoff: Duration,
    /// Give up instead of sleeping when attempts plus sleeps would exceed this.
    pub max_elapsed: Duration,
}

setters!(RetryConfig {
    /// Total attempts including the first.
    with_max_attempts => max_attempts: u32,
    /// Lower bound of every backoff delay.
    with_initial_backoff => initial_backoff: Duration,
    /// Upper bound of any single backoff delay.
    with_max_backoff => max_backoff: Duration,
    /// Overall budget of attempts plus sleeps.
    with_max_elapsed => max_elapsed: Duration,
});

impl Default for RetryConfig {
    /// 5 attempts, 100 ms initial backoff, 20 s maximum backoff, 60 s overall budget.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// A configuration that makes exactly one attempt.
    pub fn disabled() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// The minimum base delay after a throttling response (`SlowDown`, 503, 429), as in
/// aws-sdk-go v1's default retryer.
pub(crate) const THROTTLE_MIN_BACKOFF: Duration = Duration::from_millis(500);

/// The retry-relevant category of a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// DNS resolution, TCP connect or TLS handshake failed. Retried.
    Connect,
    /// The connection or response timed out. Retried.
    Timeout,
    /// The connection broke while sending or receiving. Retried.
    Io,
    /// Anything else (bad URL, builder errors): retrying cannot help.
    Other,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Transient failure: retry with normal backoff.
    Retry,
    /// The service asked us to slow down: retry with at least [`THROTTLE_MIN_BACKOFF`] base delay.
    RetryThrottled,
    /// Surface the error now.
    DoNotRetry,
}

/// S3/AWS error codes that mean "slow down".
const THROTTLE_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "BandwidthLimitExceeded",
    "ProvisionedThroughputExceededException",
    "PriorRequestNotComplete",
];

/// S3/AWS error codes for transient server-side failures.
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "ServiceUnavailable",
];

/// Decides whether a failed attempt is worth retrying.
///
/// * Transport failures: connect, timeout and mid-request I/O errors are retried.
/// * Error codes: throttling codes (`SlowDown`, …) → [`RetryDecision::RetryThrottled`];
///   `RequestTimeout`, `InternalError`, `ServiceUnavailable` → [`RetryDecision::Retry`] whatever
///   the status (S3 sends `InternalError` inside 200 responses to CompleteMultipartUpload), or
///   `RetryThrottled` with status 429/503.
/// * Status: 429 and 503 are throttling; other 5xx except 501 are retried.
/// * Everything else — other 4xx including `RequestTimeTooSkewed`, `AccessDenied`,
///   `SignatureDoesNotMatch`, `ExpiredToken` — is surfaced at once: resending the same signed
///   request cannot succeed.
pub fn classify(
    status: Option<u16>,
    code: Option<&str>,
    transport: Option<TransportErrorKind>,
) -> RetryDecision {
    if let Some(kind) = transport {
        return match kind {
            TransportErrorKind::Connect | TransportErrorKind::Timeout | TransportErrorKind::Io => {
                RetryDecision::Retry
            }
            TransportErrorKind::Other => RetryDecision::DoNotRetry,
        };
    }
    if let Some(code) = code {
        if THROTTLE_CODES.contains(&code) {
            return RetryDecision::RetryThrottled;
        }
        if TRANSIENT_CODES.contains(&code) {
            return if matches!(status, Some(429 | 503)) {
                RetryDecision::RetryThrottled
            } else {
                RetryDecision::Retry
            };
        }
    }
    match status {
        Some(429 | 503) => RetryDecision::RetryThrottled,
        Some(501) => RetryDecision::DoNotRetry,
        Some(s) if (500..600).contains(&s) => RetryDecision::Retry,
        _ => RetryDecision::DoNotRetry,
    }
}

/// The retry decision for a client error (used by [`retry`] and [`Error::is_retryable`]).
pub fn decision_for(err: &Error) -> RetryDecision {
    match err.kind() {
        ErrorKind::Service(s) => classify(Some(s.status), s.code.as_deref(), None),
        ErrorKind::Transport { kind, .. } => classify(None, None, Some(*kind)),
        ErrorKind::Timeout { .. } => RetryDecision::Retry,
        _ => RetryDecision::DoNotRetry,
    }
}

/// A source of random numbers for jitter.
pub trait RandomSource {
    /// The next pseudo-random 64-bit value.
    fn next_u64(&mut self) -> u64;
}

/// A tiny xorshift64* generator: good enough for jitter, not for anything secret.
#[derive(Debug, Clone)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator with a fixed seed (tests). A zero seed is replaced by a fixed non-zero one.
    pub fn new(seed: u64) -> Self {
        let state = splitmix64(seed);
        Self {
            state: if state == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                state
            },
        }
    }

    /// A generator seeded from the system clock and a process-wide counter, so generators created
    /// in the same instant still differ.
    pub fn from_time() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self::new(nanos ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RandomSource for XorShift64 {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Decorrelated-jitter backoff state for one request.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    prev: Option<Duration>,
}

impl Backoff {
    /// Backoff starting from `config.initial_backoff`, capped at `config.max_backoff`.
    pub fn new(config: &RetryConfig) -> Self {
        Self {
            initial: config.initial_backoff,
            max: config.max_backoff.max(config.initial_backoff),
            prev: None,
        }
    }

    /// The delay before the next attempt: uniformly random in `[base, 3 × previous]`, capped at
    /// the maximum, where `base` is the initial backoff (raised to [`THROTTLE_MIN_BACKOFF`] when
    /// `throttled`) and `previous` starts at `base`.
    pub fn next_delay(
        &mut self,
        throttled: bool,
        rng: &mut (impl RandomSource + ?Sized),
    ) -> Duration {
        let base = if throttled {
            self.initial.max(THROTTLE_MIN_BACKOFF).min(self.max)
        } else {
            self.initial
        };
        let prev = self.prev.unwrap_or(base).max(base);
        let lo = duration_nanos(base);
        let hi = duration_nanos(prev).saturating_mul(3).max(lo);
        let span = hi - lo;
        let pick = if span == u64::MAX {
            rng.next_u64()
        } else {
            rng.next_u64() % (span + 1)
        };
        let delay = Duration::from_nanos(lo.saturating_add(pick)).min(self.max);
        self.prev = Some(delay);
        delay
    }
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// An operation the [`retry`] driver can run repeatedly.
///
/// Any `FnMut(u32) -> impl Future<Output = Result<T, Error>>` is a replayable operation; the
/// argument is the attempt number, starting at 1. Wrap an operation whose request body cannot be
/// rebuilt in [`OneShot`].
pub trait RetryOp {
    /// The success value.
    type Output;
    /// The future of one attempt.
    type Future: Future<Output = Result<Self::Output, Error>>;
    /// Starts attempt number `attempt` (1-based) with a freshly built request.
    fn attempt(&mut self, attempt: u32) -> Self::Future;
    /// Whether a second attempt can be made (the body can be rebuilt).
    fn replayable(&self) -> bool {
        true
    }
}

impl<F, Fut, T> RetryOp for F
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    type Output = T;
    type Future = Fut;
    fn attempt(&mut self, attempt: u32) -> Fut {
        self(attempt)
    }
}

/// Marks an operation as not replayable: it runs once, and a retryable failure is returned as
/// [`ErrorKind::NotReplayable`] so callers can tell why it was not retried.
#[derive(Debug)]
pub struct OneShot<F>(pub F);

/// The wrapped operation's attempts, marked not replayable.
impl<O: RetryOp> RetryOp for OneShot<O> {
    type Output = O::Output;
    type Future = O::Future;
    fn attempt(&mut self, attempt: u32) -> O::Future {
        self.0.attempt(attempt)
    }
    fn replayable(&self) -> bool {
        false
    }
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or the budget is spent.
///
/// `sleep` is called with each backoff delay (pass `tokio::time::sleep` in production, a recorder
/// in tests). The elapsed budget counts the measured time of each attempt plus the requested
/// sleeps, so it behaves the same with a fake sleep.
///
/// # Errors
///
/// The last attempt's error; wrapped in [`ErrorKind::NotReplayable`]
/// when a retryable error hit a [`OneShot`] operation.
pub async fn retry<O, R, S, SF>(
    config: &RetryConfig,
    rng: &mut R,
    mut sleep: S,
    mut op: O,
) -> Result<O::Output, Error>
where
    O: RetryOp,
    R: RandomSource + ?Sized,
    S: FnMut(Duration) -> SF,
    SF: Future<Output = ()>,
{
    let max_attempts = config.max_attempts.max(1);
    let mut backoff = Backoff::new(config);
    let mut elapsed = Duration::ZERO;
    let mut attempt = 1u32;
    loop {
        let started = Instant::now();
        let result = op.attempt(attempt).await;
        elapsed += started.elapsed();
        let err = match result {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let decision = decision_for(&err);
        if decision == RetryDecision::DoNotRetry {
            return Err(err);
        }
        if !op.replayable() {
            return Err(Error::not_replayable(err));
        }
        if attempt >= max_attempts {
            return Err(err);
        }
        let delay = backoff.next_delay(decision == RetryDecision::RetryThrottled, rng);
        if elapsed + delay > config.max_elapsed {
            return Err(err);
        }
        sleep(delay).await;
        elapsed += delay;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::error::tests::svc;
    use std::cell::{Cell, RefCell};
    use std::future::ready;

    #[test]
    fn classify_table() {
        use RetryDecision::*;
        use TransportErrorKind as T;
        type Case = (Option<u16>, Option<&'static str>, Option<T>, RetryDecision);
        let cases: &[Case] = &[
            (Some(500), None, None, Retry),
            (Some(502), None, None, Retry),
            (Some(504), None, None, Retry),
            (Some(501), None, None, DoNotRetry),
            (Some(503), None, None, RetryThrottled),
            (Some(429), None, None, RetryThrottled),
            (Some(503), Some("SlowDown"), None, RetryThrottled),
            (Some(400), Some("RequestTimeout"), None, Retry),
            (Some(200), Some("InternalError"), None, Retry),
            (Some(503), Some("ServiceUnavailable"), None, RetryThrottled),
            (None, Some("ServiceUnavailable"), None, Retry),
            (Some(403), Some("RequestTimeTooSkewed"), None, DoNotRetry),
            (Some(403), Some("AccessDenied"), None, DoNotRetry),
            (Some(400), Some("ExpiredToken"), None, DoNotRetry),
            (Some(404), Some("NoSuchKey"), None, DoNotRetry),
            (Some(409), None, None, DoNotRetry),
            (Some(200), None, None, DoNotRetry),
            (None, None, Some(T::Connect), Retry),
            (None, None, Some(T::Timeout), Retry),
            (None, None, Some(T::Io), Retry),
            (None, None, Some(T::Other), DoNotRetry),
            (None, None, None, DoNotRetry),
        ];
        for (status, code, transport, want) in cases {
            assert_eq!(
                classify(*status, *code, *transport),
                *want,
                "{status:?} {code:?} {transport:?}"
            );
        }
    }

    #[test]
    fn xorshift_is_deterministic_and_seeds_differ() {
        let a: Vec<u64> = {
            let mut r = XorShift64::new(7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = XorShift64::new(7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        let mut zero = XorShift64::new(0);
        assert_ne!(zero.next_u64(), zero.next_u64());
        let mut t1 = XorShift64::from_time();
        let mut t2 = XorShift64::from_time();
        assert_ne!(t1.next_u64(), t2.next_u64());
    }

    #[test]
    fn backoff_bounded_jittered_capped() {
        let cfg = RetryConfig {
            max_attempts: 50,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(600),
        };
        let mut rng = XorShift64::new(42);
        let mut b = Backoff::new(&cfg);
        let mut prev = cfg.initial_backoff;
        let mut seen = std::collections::HashSet::new();
        let mut hit_cap = false;
        for _ in 0..40 {
            let d = b.next_delay(false, &mut rng);
            assert!(d >= cfg.initial_backoff, "{d:?} below base");
            assert!(d <= cfg.max_backoff, "{d:?} above cap");
            assert!(d <= prev * 3, "{d:?} more than 3x previous {prev:?}");
            hit_cap |= d == cfg.max_backoff;
            seen.insert(d);
            prev = d;
        }
        assert!(hit_cap, "40 draws should reach the cap");
        assert!(seen.len() > 10, "delays should be jittered: {seen:?}");
    }

    #[test]
    fn throttled_backoff_has_higher_floor() {
        let cfg = RetryConfig::default();
        let mut rng = XorShift64::new(1);
        for _ in 0..20 {
            let mut b = Backoff::new(&cfg);
            assert!(b.next_delay(true, &mut rng) >= THROTTLE_MIN_BACKOFF);
        }
        // The floor never exceeds the cap.
        let tiny = RetryConfig {
            max_backoff: Duration::from_millis(200),
            ..cfg
        };
        let mut b = Backoff::new(&tiny);
        assert!(b.next_delay(true, &mut rng) <= Duration::from_millis(200));
    }

    /// A fixed RNG that always returns the maximum: delays grow as fast as allowed.
    struct MaxRng;
    impl RandomSource for MaxRng {
        fn next_u64(&mut self) -> u64 {
            u64::MAX - 1
        }
    }

    #[tokio::test]
    async fn retries_until_success_and_records_delays() {
        let cfg = RetryConfig::default();
        let delays = RefCell::new(Vec::new());
        let calls = Cell::new(0u32);
        let mut rng = XorShift64::new(3);
        let out = retry(
            &cfg,
            &mut rng,
            |d| {
                delays.borrow_mut().push(d);
                ready(())
            },
            |attempt| {
                calls.set(calls.get() + 1);
                assert_eq!(attempt, calls.get());
                ready(if attempt < 3 {
                    Err(svc(500, Some("InternalError")))
                } else {
                    Ok("done")
                })
            },
        )
        .await
        .unwrap();
        assert_eq!(out, "done");
        assert_eq!(calls.get(), 3);
        let delays = delays.into_inner();
        assert_eq!(delays.len(), 2);
        for d in &delays {
            assert!(*d >= cfg.initial_backoff && *d <= cfg.max_backoff);
        }
    }

    /// Runs `retry` with an operation that always fails with `err()`: the error it ends with,
    /// the calls made and the sleeps taken.
    async fn always_failing(cfg: &RetryConfig, err: impl Fn() -> Error) -> (Error, u32, u32) {
        let (calls, slept) = (Cell::new(0u32), Cell::new(0u32));
        let e = retry(
            cfg,
            &mut XorShift64::new(9),
            |_| {
                slept.set(slept.get() + 1);
                ready(())
            },
            |_| {
                calls.set(calls.get() + 1);
                ready(Err::<(), _>(err()))
            },
        )
        .await
        .unwrap_err();
        (e, calls.get(), slept.get())
    }

    #[tokio::test]
    async fn stops_after_max_attempts() {
        let cfg = RetryConfig {
            max_attempts: 4,
            ..RetryConfig::default()
        };
        let (err, calls, slept) = always_failing(&cfg, || svc(503, Some("SlowDown"))).await;
        assert_eq!((calls, slept), (4, 3));
        assert_eq!(err.code(), Some("SlowDown"));
    }

    #[tokio::test]
    async fn non_retryable_surfaces_at_once() {
        let (err, calls, slept) =
            always_failing(&RetryConfig::default(), || svc(403, Some("AccessDenied"))).await;
        assert_eq!((calls, slept), (1, 0));
        assert_eq!(err.code(), Some("AccessDenied"));
    }

    #[tokio::test]
    async fn one_shot_is_not_retried() {
        let calls = Cell::new(0u32);
        let err = retry(
            &RetryConfig::default(),
            &mut XorShift64::new(9),
            |_| -> std::future::Ready<()> { panic!("must not sleep") },
            OneShot(|_| {
                calls.set(calls.get() + 1);
                ready(Err::<(), _>(svc(500, None)))
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 1);
        assert!(matches!(err.kind(), ErrorKind::NotReplayable { .. }));
        assert!(!err.is_retryable());
        // A one-shot op that succeeds is fine.
        let ok = retry(
            &RetryConfig::default(),
            &mut XorShift64::new(9),
            |_| ready(()),
            OneShot(|_| ready(Ok::<_, Error>(5))),
        )
        .await
        .unwrap();
        assert_eq!(ok, 5);
        // A one-shot op with a non-retryable error gets that error unwrapped.
        let err = retry(
            &RetryConfig::default(),
            &mut XorShift64::new(9),
            |_| ready(()),
            OneShot(|_| ready(Err::<(), _>(svc(404, Some("NoSuchKey"))))),
        )
        .await
        .unwrap_err();
        assert!(err.is_not_found());
    }

    #[tokio::test]
    async fn elapsed_budget_stops_retrying() {
        let cfg = RetryConfig {
            max_attempts: 100,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(30),
        };
        let delays = RefCell::new(Vec::new());
        let _ = retry(
            &cfg,
            &mut MaxRng,
            |d| {
                delays.borrow_mut().push(d);
                ready(())
            },
            |_| {
                ready(Err::<(), _>(Error::transport(
                    TransportErrorKind::Connect,
                    "refused",
                )))
            },
        )
        .await
        .unwrap_err();
        let delays = delays.into_inner();
        let total: Duration = delays.iter().sum();
        assert!(total <= cfg.max_elapsed, "{total:?}");
        // With the maximum RNG the delays are ~3 s, ~9 s, then capped at 10 s.
        assert!(delays.len() >= 3 && delays.len() < 10, "{delays:?}");
        assert!(delays.iter().all(|d| *d <= cfg.max_backoff));
        assert_eq!(*delays.last().unwrap(), cfg.max_backoff);
    }

    #[tokio::test]
    async fn disabled_config_makes_one_attempt() {
        let calls = Cell::new(0u32);
        let _ = retry(
            &RetryConfig::disabled(),
            &mut XorShift64::new(1),
            |_| ready(()),
            |_| {
                calls.set(calls.get() + 1);
                ready(Err::<(), _>(Error::timeout(None)))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 1);
        let zero = RetryConfig {
            max_attempts: 0,
            ..RetryConfig::default()
        };
        let r = retry(
            &zero,
            &mut XorShift64::new(1),
            |_| ready(()),
            |_| ready(Ok::<_, Error>(1)),
        )
        .await;
        assert_eq!(r.unwrap(), 1);
    }
}
