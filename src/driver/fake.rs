//! Test drivers that answer only `stat` and `list` (the rest is unsupported): implement
//! [`StatList`] and wrap the value in [`StatListDriver`].

use async_trait::async_trait;
use bytes::Bytes;

use super::{BoxedReader, DriverError, FileInfo, FileWriter, StorageDriver};

/// The two calls a test fake answers.
#[async_trait]
pub(crate) trait StatList: Send + Sync + std::fmt::Debug {
    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError>;
    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError>;
}

/// A [`StorageDriver`] answering `stat` and `list` with its [`StatList`]; `walk` is the
/// fallback over them; everything else is unsupported.
#[derive(Debug, Default)]
pub(crate) struct StatListDriver<T>(pub(crate) T);

#[async_trait]
impl<T: StatList> StorageDriver for StatListDriver<T> {
    fn name(&self) -> &str {
        "fake"
    }
    async fn get_content(&self, _: &str) -> Result<Bytes, DriverError> {
        Err(DriverError::unsupported())
    }
    async fn put_content(&self, _: &str, _: Bytes) -> Result<(), DriverError> {
        Err(DriverError::unsupported())
    }
    async fn reader(&self, _: &str, _: u64) -> Result<BoxedReader, DriverError> {
        Err(DriverError::unsupported())
    }
    async fn writer(&self, _: &str, _: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        Err(DriverError::unsupported())
    }
    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        self.0.stat(path).await
    }
    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        self.0.list(path).await
    }
    async fn move_to(&self, _: &str, _: &str) -> Result<(), DriverError> {
        Err(DriverError::unsupported())
    }
    async fn delete(&self, _: &str) -> Result<(), DriverError> {
        Err(DriverError::unsupported())
    }
}
