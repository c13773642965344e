//! The write-buffer budget: one bound on the memory all writers of an S3 driver hold in part
//! buffers (`maxbuffermemory`).
//!
//! A writer reserves one whole `chunksize` when it starts filling a part buffer and hands the
//! reservation to the part upload, which releases it when the part is stored. A writer
//! therefore never waits while holding a half-filled buffer (it waits only before starting
//! one, holding at most the part in flight, which finishes on its own), so writers cannot
//! starve each other into a deadlock. A writer that cannot get room within the wait fails with
//! a [`Busy`](crate::driver::Busy) error and changes nothing in storage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::driver::DriverError;

/// Permits are KiB, so that a 5 GiB chunk fits the semaphore's `u32` batch size.
const UNIT: u64 = 1024;

#[derive(Debug)]
pub(super) struct Budget {
    permits: Arc<Semaphore>,
    total_units: u64,
    wait: Duration,
    peak_units: AtomicU64,
}

impl Budget {
    pub(super) fn new(bytes: u64, wait: Duration) -> Self {
        let total_units = bytes
            .div_ceil(UNIT)
            .min(Semaphore::MAX_PERMITS as u64)
            .max(1);
        Self {
            permits: Arc::new(Semaphore::new(
                usize::try_from(total_units).unwrap_or(usize::MAX),
            )),
            total_units,
            wait,
            peak_units: AtomicU64::new(0),
        }
    }

    /// Reserves room for `bytes` (at most the whole budget), waiting up to the configured
    /// time for other writers to release theirs.
    pub(super) async fn reserve(&self, bytes: u64) -> Result<OwnedSemaphorePermit, DriverError> {
        let acquire = Arc::clone(&self.permits).acquire_many_owned(self.units(bytes));
        let permit = match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(p)) => p,
            Ok(Err(_closed)) => return Err(DriverError::msg("the write-buffer budget is closed")),
            Err(_) => {
                return Err(DriverError::busy(
                    format!(
                        "all {} MiB of write-buffer memory (maxbuffermemory) are held by other uploads; \
                         waited {:?} for room",
                        (self.total_units * UNIT) >> 20,
                        self.wait
                    ),
                    Duration::from_secs(5),
                ))
            }
        };
        self.note_peak();
        Ok(permit)
    }

    /// Reserves `bytes` if they are free now, without waiting.
    pub(super) fn try_reserve(&self, bytes: u64) -> Option<OwnedSemaphorePermit> {
        let permit = Arc::clone(&self.permits)
            .try_acquire_many_owned(self.units(bytes))
            .ok()?;
        self.note_peak();
        Some(permit)
    }

    /// The permits `bytes` take: whole units, at least one, at most the whole budget.
    fn units(&self, bytes: u64) -> u32 {
        let units = bytes.div_ceil(UNIT).clamp(1, self.total_units);
        u32::try_from(units).unwrap_or(u32::MAX)
    }

    /// Records the reservations held now if they are the most so far.
    fn note_peak(&self) {
        self.peak_units
            .fetch_max(self.in_use_units(), Ordering::Relaxed);
    }

    fn in_use_units(&self) -> u64 {
        self.total_units
            .saturating_sub(self.permits.available_permits() as u64)
    }

    /// Bytes reserved right now.
    pub(super) fn in_use(&self) -> u64 {
        self.in_use_units() * UNIT
    }

    /// The most bytes ever reserved at once.
    pub(super) fn peak(&self) -> u64 {
        self.peak_units.load(Ordering::Relaxed) * UNIT
    }

    /// The budget in bytes.
    pub(super) fn total(&self) -> u64 {
        self.total_units * UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_then_fail_busy() {
        let b = Budget::new(10 * UNIT, Duration::from_millis(50));
        let a = b.reserve(6 * UNIT).await.unwrap();
        assert_eq!(b.in_use(), 6 * UNIT);
        let e = b.reserve(5 * UNIT).await.unwrap_err();
        assert!(e.as_busy().is_some(), "{e}");
        drop(a);
        let c = b.reserve(100 * UNIT).await.unwrap();
        assert_eq!(b.in_use(), 10 * UNIT, "clamped to the whole budget");
        drop(c);
        assert_eq!(b.in_use(), 0);
        assert_eq!(b.peak(), 10 * UNIT);
        assert_eq!(b.total(), 10 * UNIT);
    }

    #[tokio::test]
    async fn a_waiter_gets_room_when_it_is_released() {
        let b = Arc::new(Budget::new(4 * UNIT, Duration::from_secs(30)));
        let held = b.reserve(4 * UNIT).await.unwrap();
        let b2 = Arc::clone(&b);
        let waiter = tokio::spawn(async move { b2.reserve(2 * UNIT).await.map(|_| ()) });
        tokio::task::yield_now().await;
        drop(held);
        waiter.await.unwrap().unwrap();
    }
}
