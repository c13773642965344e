//! [`CloudFrontMiddleware`]: a storage driver wrapper that answers `redirect_url` with a
//! CloudFront signed URL and forwards everything else (Distribution's `cloudfront` storage
//! middleware).

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use super::{remote_ip, CloudFrontRedirector, Options, Redirect, Warning};
use crate::driver::{
    BoxedReader, DriverError, FileInfo, FileWriter, RedirectRequest, StorageDriver, WalkFn,
    WalkOptions,
};

/// Wraps a driver; only [`StorageDriver::redirect_url`] changes.
#[derive(Debug)]
pub struct CloudFrontMiddleware {
    inner: Arc<dyn StorageDriver>,
    redirector: CloudFrontRedirector,
}

impl CloudFrontMiddleware {
    /// Wraps `inner` with a ready redirector.
    pub fn new(inner: Arc<dyn StorageDriver>, redirector: CloudFrontRedirector) -> Self {
        Self { inner, redirector }
    }

    /// Builds the middleware from its options (loads the key, starts the IP-range refresher
    /// when filtering is on). Warnings are for the caller to log.
    ///
    /// # Errors
    /// The private key cannot be read or is not an RSA key; an option is invalid.
    pub async fn from_options(
        inner: Arc<dyn StorageDriver>,
        options: &Options,
    ) -> Result<(Self, Vec<Warning>), super::Error> {
        let (redirector, warnings) = CloudFrontRedirector::from_options(options).await?;
        Ok((Self::new(inner, redirector), warnings))
    }

    /// The redirector (signer and IP filter).
    pub fn redirector(&self) -> &CloudFrontRedirector {
        &self.redirector
    }
}

#[async_trait]
impl StorageDriver for CloudFrontMiddleware {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError> {
        self.inner.get_content(path).await
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError> {
        self.inner.put_content(path, content).await
    }

    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError> {
        self.inner.reader(path, offset).await
    }

    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        self.inner.writer(path, append).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        self.inner.stat(path).await
    }

    async fn stat_file(&self, path: &str) -> Result<Option<FileInfo>, DriverError> {
        self.inner.stat_file(path).await
    }

    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        self.inner.list(path).await
    }

    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError> {
        self.inner.move_to(src, dst).await
    }

    async fn delete(&self, path: &str) -> Result<(), DriverError> {
        self.inner.delete(path).await
    }

    async fn delete_files(
        &self,
        paths: &[String],
    ) -> Result<Vec<crate::driver::FailedDelete>, DriverError> {
        self.inner.delete_files(paths).await
    }

    /// A CloudFront URL for `path`, or the wrapped driver's URL when the client is inside the
    /// filtered AWS ranges or the wrapped driver is not backed by S3 (as Distribution, it then
    /// falls back to the wrapped driver). Like Distribution, every method is redirected.
    async fn redirect_url(
        &self,
        req: &RedirectRequest,
        path: &str,
    ) -> Result<Option<String>, DriverError> {
        let Some(key) = self.inner.s3_bucket_key(path) else {
            return self.inner.redirect_url(req, path).await;
        };
        let peer = req.remote_addr.map(|a| a.to_string());
        let ip = remote_ip(
            req.header("x-forwarded-for"),
            req.header("x-real-ip"),
            peer.as_deref(),
        );
        match self.redirector.redirect(SystemTime::now(), &key, ip) {
            Ok(Redirect::CloudFront(url)) => Ok(Some(url)),
            Ok(Redirect::UseS3) => self.inner.redirect_url(req, path).await,
            Err(e) => Err(DriverError::other(e).with_driver(self.inner.name())),
        }
    }

    async fn walk(
        &self,
        path: &str,
        f: &mut WalkFn<'_>,
        opts: WalkOptions,
    ) -> Result<(), DriverError> {
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
