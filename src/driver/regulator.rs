//! [`Regulator`]: caps how many calls run at once (Distribution's
//! `base.NewRegulator`, used by the filesystem driver's `maxthreads`).

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{
    BoxedReader, DriverError, FileInfo, FileWriter, RedirectRequest, StorageDriver, WalkFn,
    WalkOptions,
};

/// Lets at most `limit` calls into the wrapped driver run concurrently; further
/// calls wait. As in Distribution, `reader` and `writer` hold a slot only while
/// opening, and `walk` holds one for the whole walk.
#[derive(Debug)]
pub struct Regulator<D> {
    inner: D,
    slots: Semaphore,
    limit: usize,
}

impl<D: StorageDriver> Regulator<D> {
    /// Wraps `inner` with `limit` concurrent calls (at least 1).
    pub fn new(inner: D, limit: u64) -> Self {
        let limit = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner,
            slots: Semaphore::new(limit),
            limit,
        }
    }

    /// The wrapped driver.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The maximum number of concurrent calls.
    pub fn limit(&self) -> usize {
        self.limit
    }

    async fn enter(&self) -> Result<SemaphorePermit<'_>, DriverError> {
        // The semaphore is never closed, so this only fails on a logic error.
        self.slots
            .acquire()
            .await
            .map_err(|_| DriverError::msg("regulator semaphore closed"))
    }
}

#[async_trait]
impl<D: StorageDriver> StorageDriver for Regulator<D> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError> {
        let _slot = self.enter().await?;
        self.inner.get_content(path).await
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError> {
        let _slot = self.enter().await?;
        self.inner.put_content(path, content).await
    }

    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError> {
        let _slot = self.enter().await?;
        self.inner.reader(path, offset).await
    }

    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        let _slot = self.enter().await?;
        self.inner.writer(path, append).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        let _slot = self.enter().await?;
        self.inner.stat(path).await
    }

    async fn stat_file(&self, path: &str) -> Result<Option<FileInfo>, DriverError> {
        let _slot = self.enter().await?;
        self.inner.stat_file(path).await
    }

    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        let _slot = self.enter().await?;
        self.inner.list(path).await
    }

    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError> {
        let _slot = self.enter().await?;
        self.inner.move_to(src, dst).await
    }

    async fn delete(&self, path: &str) -> Result<(), DriverError> {
        let _slot = self.enter().await?;
        self.inner.delete(path).await
    }

    async fn delete_files(
        &self,
        paths: &[String],
    ) -> Result<Vec<crate::driver::FailedDelete>, DriverError> {
        let _slot = self.enter().await?;
        self.inner.delete_files(paths).await
    }

    async fn redirect_url(
        &self,
        req: &RedirectRequest,
        path: &str,
    ) -> Result<Option<String>, DriverError> {
        let _slot = self.enter().await?;
        self.inner.redirect_url(req, path).await
    }

    async fn walk(
        &self,
        path: &str,
        f: &mut WalkFn<'_>,
        opts: WalkOptions,
    ) -> Result<(), DriverError> {
        let _slot = self.enter().await?;
        self.inner.walk(path, f, opts).await
    }

    fn s3_bucket_key(&self, path: &str) -> Option<String> {
        self.inner.s3_bucket_key(path)
    }

    fn append_needs_existing(&self) -> bool {
        self.inner.append_needs_existing()
    }

    fn client_stats(&self) -> Option<crate::client::ClientStats> {
        self.inner.client_stats()
    }

    async fn purge_incomplete_writes(
        &self,
        path: &str,
        older_than: std::time::SystemTime,
        dry_run: bool,
    ) -> Result<crate::driver::IncompleteWrites, DriverError> {
        self.inner
            .purge_incomplete_writes(path, older_than, dry_run)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::driver::fake::{StatList, StatListDriver};

    /// A driver whose `stat` records how many calls overlap.
    #[derive(Debug, Default)]
    struct Probe {
        running: AtomicUsize,
        peak: AtomicUsize,
    }

    #[async_trait]
    impl StatList for Probe {
        async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(FileInfo::file(path, 0, None))
        }
        async fn list(&self, _: &str) -> Result<Vec<String>, DriverError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn caps_concurrency() {
        let r = Arc::new(Regulator::new(StatListDriver(Probe::default()), 3));
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let r = Arc::clone(&r);
                tokio::spawn(async move { r.stat(&format!("/{i}")).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(r.inner().0.peak.load(Ordering::SeqCst), 3);
        assert_eq!(r.limit(), 3);
        assert_eq!(
            Regulator::new(StatListDriver(Probe::default()), 0).limit(),
            1
        );
    }
}
