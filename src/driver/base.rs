//! [`Base`]: the wrapper every driver is handed out in (Distribution's `base.Base`).

use async_trait::async_trait;
use bytes::Bytes;

use super::path::{is_valid_path, is_valid_path_or_root};
use super::{
    BoxedReader, DriverError, FileInfo, FileWriter, RedirectRequest, StorageDriver, WalkFn,
    WalkOptions,
};

/// Wraps a driver with the checks and error decoration every driver shares:
///
/// * paths are validated before the driver is called (`stat`, `list` and `walk`
///   also accept `"/"`): [`DriverError::InvalidPath`];
/// * every error coming back — from the driver, its writers, or a walk callback —
///   carries the driver's name.
#[derive(Debug)]
pub struct Base<D> {
    inner: D,
}

impl<D: StorageDriver> Base<D> {
    /// Wraps `inner`.
    pub fn new(inner: D) -> Self {
        Self { inner }
    }

    /// The wrapped driver.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// Unwraps the driver.
    pub fn into_inner(self) -> D {
        self.inner
    }

    fn stamp(&self, e: DriverError) -> DriverError {
        e.with_driver(self.inner.name())
    }

    fn check(&self, path: &str) -> Result<(), DriverError> {
        if is_valid_path(path) {
            Ok(())
        } else {
            Err(self.stamp(DriverError::invalid_path(path)))
        }
    }

    fn check_or_root(&self, path: &str) -> Result<(), DriverError> {
        if is_valid_path_or_root(path) {
            Ok(())
        } else {
            Err(self.stamp(DriverError::invalid_path(path)))
        }
    }
}

#[async_trait]
impl<D: StorageDriver> StorageDriver for Base<D> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError> {
        self.check(path)?;
        self.inner
            .get_content(path)
            .await
            .map_err(|e| self.stamp(e))
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError> {
        self.check(path)?;
        self.inner
            .put_content(path, content)
            .await
            .map_err(|e| self.stamp(e))
    }

    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError> {
        // Distribution checks for a negative offset before the path; a `u64` has none.
        self.check(path)?;
        self.inner
            .reader(path, offset)
            .await
            .map_err(|e| self.stamp(e))
    }

    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        self.check(path)?;
        let inner = self
            .inner
            .writer(path, append)
            .await
            .map_err(|e| self.stamp(e))?;
        Ok(Box::new(BaseWriter {
            inner,
            driver: self.inner.name().to_owned(),
        }))
    }

    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        self.check_or_root(path)?;
        self.inner.stat(path).await.map_err(|e| self.stamp(e))
    }

    async fn stat_file(&self, path: &str) -> Result<Option<FileInfo>, DriverError> {
        self.check(path)?;
        self.inner.stat_file(path).await.map_err(|e| self.stamp(e))
    }

    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        self.check_or_root(path)?;
        self.inner.list(path).await.map_err(|e| self.stamp(e))
    }

    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError> {
        self.check(src)?;
        self.check(dst)?;
        self.inner
            .move_to(src, dst)
            .await
            .map_err(|e| self.stamp(e))
    }

    async fn delete(&self, path: &str) -> Result<(), DriverError> {
        self.check(path)?;
        self.inner.delete(path).await.map_err(|e| self.stamp(e))
    }

    async fn delete_files(
        &self,
        paths: &[String],
    ) -> Result<Vec<crate::driver::FailedDelete>, DriverError> {
        for path in paths {
            self.check(path)?;
        }
        self.inner
            .delete_files(paths)
            .await
            .map_err(|e| self.stamp(e))
    }

    async fn redirect_url(
        &self,
        req: &RedirectRequest,
        path: &str,
    ) -> Result<Option<String>, DriverError> {
        self.check(path)?;
        self.inner
            .redirect_url(req, path)
            .await
            .map_err(|e| self.stamp(e))
    }

    async fn walk(
        &self,
        path: &str,
        f: &mut WalkFn<'_>,
        opts: WalkOptions,
    ) -> Result<(), DriverError> {
        self.check_or_root(path)?;
        self.inner
            .walk(path, f, opts)
            .await
            .map_err(|e| self.stamp(e))
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
        self.check_or_root(path)?;
        self.inner
            .purge_incomplete_writes(path, older_than, dry_run)
            .await
            .map_err(|e| self.stamp(e))
    }
}

/// A driver's writer whose errors carry the driver's name.
#[derive(Debug)]
struct BaseWriter {
    inner: Box<dyn FileWriter>,
    driver: String,
}

#[async_trait]
impl FileWriter for BaseWriter {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, DriverError> {
        self.inner
            .write(buf)
            .await
            .map_err(|e| e.with_driver(&self.driver))
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    async fn close(&mut self) -> Result<(), DriverError> {
        self.inner
            .close()
            .await
            .map_err(|e| e.with_driver(&self.driver))
    }

    async fn cancel(&mut self) -> Result<(), DriverError> {
        self.inner
            .cancel()
            .await
            .map_err(|e| e.with_driver(&self.driver))
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        self.inner
            .commit()
            .await
            .map_err(|e| e.with_driver(&self.driver))
    }

    fn version(&self) -> Option<String> {
        self.inner.version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::InMemoryDriver;

    #[tokio::test]
    async fn rejects_invalid_input_before_the_driver() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        let e = d.put_content("abc", Bytes::new()).await.unwrap_err();
        assert!(
            matches!(&e, DriverError::InvalidPath { path, driver } if path == "abc" && driver == "inmemory")
        );
        let e = d.put_content("/", Bytes::new()).await.unwrap_err();
        assert!(matches!(e, DriverError::InvalidPath { .. }));
        // A negative offset (Distribution's first check) cannot be expressed: `u64`.
        let Err(e) = d.reader("bad", 0).await else {
            panic!("invalid path accepted")
        };
        assert_eq!(e.to_string(), "inmemory: invalid path: bad");
        let e = d.move_to("/a", "/b/").await.unwrap_err();
        assert!(matches!(&e, DriverError::InvalidPath { path, .. } if path == "/b/"));
        assert!(d.list("/").await.unwrap().is_empty());
        assert!(d.stat("/").await.is_ok());
        let e = d.list("//").await.unwrap_err();
        assert!(matches!(e, DriverError::InvalidPath { .. }));
    }

    #[tokio::test]
    async fn stamps_driver_name_on_walk_callback_errors() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        d.put_content("/a/b", Bytes::from_static(b"x"))
            .await
            .unwrap();
        let e = d
            .walk(
                "/",
                &mut |_: &FileInfo| Err(DriverError::msg("callback failed")),
                WalkOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "inmemory: callback failed");
    }
}
