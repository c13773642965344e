//! [`S3ClientBuilder`]: the typed way to make an [`S3Client`].
//!
//! ```no_run
//! use s3driver::client::S3Client;
//!
//! # fn demo() -> Result<(), s3driver::client::Error> {
//! let client = S3Client::builder()
//!     .endpoint("http://127.0.0.1:9000") // omit for AWS itself
//!     .region("us-east-1")
//!     .bucket("my-bucket")
//!     .static_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
//!     .build()?;
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::credentials::{
    default_provider_for_region, Credentials, ProcessEnv, ProvideCredentials, StaticProvider,
};
use super::endpoint::{AddressingStyle, EndpointConfig};
use super::error::Error;
use super::retry::RetryConfig;
use super::s3::{ClientConfig, PayloadSigning, S3Client, SignatureVersion};

/// Collects an [`S3Client`]'s settings; [`S3ClientBuilder::build`] checks them.
///
/// Defaults: SigV4 with signed in-memory payloads, HTTPS when the endpoint has no scheme,
/// virtual-hosted addressing on AWS and path style for IP addresses and `localhost`, 5
/// attempts with jittered backoff, a 10 s connect and 120 s read timeout, and credentials
/// from the chain the AWS SDKs read (environment, shared files, web identity, SSO, process,
/// container, instance metadata), cached until shortly before they expire.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct S3ClientBuilder {
    endpoint: EndpointConfig,
    bucket: String,
    signature: SignatureVersion,
    payload_signing: PayloadSigning,
    retry: Option<RetryConfig>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    addressing_style: Option<AddressingStyle>,
    resolve_overrides: Vec<(String, SocketAddr)>,
    credentials: Option<Arc<dyn ProvideCredentials>>,
}

impl S3Client {
    /// A builder for a client; see [`S3ClientBuilder`].
    pub fn builder() -> S3ClientBuilder {
        S3ClientBuilder::default()
    }
}

impl S3ClientBuilder {
    /// The endpoint URL of an S3-compatible service (`http://127.0.0.1:9000`,
    /// `https://minio.internal`, a host without scheme takes [`secure`](Self::secure)'s).
    /// Without it the client talks to AWS S3 in [`region`](Self::region).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint.region_endpoint = Some(url.into());
        self
    }

    /// The region requests are signed for (and, on AWS, the regional endpoint). Required
    /// for AWS; with [`endpoint`](Self::endpoint) any name the service accepts.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.endpoint.region = region.into();
        self
    }

    /// The bucket every request addresses (it must exist; the client never creates it).
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = bucket.into();
        self
    }

    /// Forces path-style (`endpoint/bucket/key`) or virtual-hosted (`bucket.endpoint/key`)
    /// addressing instead of the automatic choice.
    pub fn addressing_style(mut self, style: AddressingStyle) -> Self {
        self.addressing_style = Some(style);
        self
    }

    /// HTTPS (`true`, the default) or HTTP for an endpoint given without a scheme.
    pub fn secure(mut self, secure: bool) -> Self {
        self.endpoint.secure = secure;
        self
    }

    /// Skips TLS certificate verification (test servers with self-signed certificates only).
    pub fn danger_skip_tls_verify(mut self, skip: bool) -> Self {
        self.endpoint.skip_verify = skip;
        self
    }

    /// Uses AWS's dual-stack (IPv4 and IPv6) endpoint.
    pub fn dual_stack(mut self, on: bool) -> Self {
        self.endpoint.use_dual_stack = on;
        self
    }

    /// Uses S3 Transfer Acceleration (AWS only).
    pub fn accelerate(mut self, on: bool) -> Self {
        self.endpoint.accelerate = on;
        self
    }

    /// Text appended to the `User-Agent` header.
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.endpoint.user_agent_suffix = Some(suffix.into());
        self
    }

    /// A credentials provider (any [`ProvideCredentials`]: a role, a process, your own).
    pub fn credentials(mut self, provider: Arc<dyn ProvideCredentials>) -> Self {
        self.credentials = Some(provider);
        self
    }

    /// Fixed access keys.
    pub fn static_credentials(
        self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credentials(Arc::new(StaticProvider::new(Credentials::new(
            access_key_id.into(),
            secret_access_key.into(),
            None,
            None,
        ))))
    }

    /// The signature algorithm (SigV4 by default; SigV2 is refused by [`build`](Self::build)
    /// for AWS regions that accept only SigV4).
    pub fn signature_version(mut self, version: SignatureVersion) -> Self {
        self.signature = version;
        self
    }

    /// How SigV4 covers request bodies.
    pub fn payload_signing(mut self, signing: PayloadSigning) -> Self {
        self.payload_signing = signing;
        self
    }

    /// The retry policy of replayable requests ([`RetryConfig::disabled`] for none).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The TCP (and TLS) connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The longest pause between two reads of a response.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Resolves `host` to `addr` instead of asking DNS (split DNS, or `bucket.localhost`
    /// for virtual-hosted requests to a local server). The request URL's port is used.
    pub fn resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        self.resolve_overrides.push((host.into(), addr));
        self
    }

    /// Checks the settings and makes the client. Nothing is sent.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`](super::ErrorKind::InvalidConfig), with what to change:
    /// no bucket, neither a region nor an endpoint, an unknown AWS region, an endpoint that
    /// is not a URL, a zero timeout, SigV2 where AWS requires SigV4, HTTPS in a build
    /// without TLS.
    pub fn build(self) -> Result<S3Client, Error> {
        if self.bucket.trim().is_empty() {
            return Err(Error::invalid_config(
                "no bucket: call .bucket(\"name\") on the builder",
            ));
        }
        let no_endpoint = self
            .endpoint
            .region_endpoint
            .as_deref()
            .is_none_or(|e| e.trim().is_empty());
        if no_endpoint && self.endpoint.region.trim().is_empty() {
            return Err(Error::invalid_config(
                "neither a region nor an endpoint: call .region(\"us-east-1\") for AWS, or \
                 .endpoint(\"http://host:port\") for an S3-compatible service",
            ));
        }
        for (what, t) in [
            ("connect_timeout", self.connect_timeout),
            ("read_timeout", self.read_timeout),
        ] {
            if t.is_some_and(|t| t.is_zero()) {
                return Err(Error::invalid_config(format!(
                    "{what} must be longer than 0 s"
                )));
            }
        }
        let credentials = match self.credentials {
            Some(c) => c,
            None => {
                let region = Some(self.endpoint.region.clone()).filter(|r| !r.is_empty());
                Arc::new(default_provider_for_region(Arc::new(ProcessEnv), region))
            }
        };
        let mut config = ClientConfig::new(self.endpoint, self.bucket);
        config.signature = self.signature;
        config.payload_signing = self.payload_signing;
        if let Some(r) = self.retry {
            config.retry = r;
        }
        if let Some(t) = self.connect_timeout {
            config.connect_timeout = t;
        }
        if let Some(t) = self.read_timeout {
            config.read_timeout = t;
        }
        config.addressing_style = self.addressing_style;
        config.resolve_overrides = self.resolve_overrides;
        S3Client::new(config, credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ErrorKind;

    fn invalid(b: S3ClientBuilder) -> String {
        let e = b.build().expect_err("must be refused");
        assert!(matches!(e.kind(), ErrorKind::InvalidConfig { .. }), "{e:?}");
        e.to_string()
    }

    #[test]
    fn builds_for_a_local_service_with_path_style() {
        let c = S3Client::builder()
            .endpoint("http://127.0.0.1:9000")
            .region("us-east-1")
            .bucket("b")
            .static_credentials("AKID", "secret")
            .build()
            .unwrap();
        assert_eq!(c.bucket(), "b");
        assert_eq!(c.endpoint().style(), AddressingStyle::Path);
        assert_eq!(c.endpoint().host(), "127.0.0.1:9000");
    }

    #[test]
    fn builds_for_aws_with_virtual_hosts_and_forced_path_style() {
        let c = S3Client::builder()
            .region("eu-west-1")
            .bucket("my-bucket")
            .static_credentials("AKID", "secret")
            .build()
            .unwrap();
        assert_eq!(c.endpoint().style(), AddressingStyle::VirtualHosted);
        assert_eq!(c.endpoint().host(), "my-bucket.s3.eu-west-1.amazonaws.com");
        let c = S3Client::builder()
            .region("eu-west-1")
            .bucket("my-bucket")
            .addressing_style(AddressingStyle::Path)
            .static_credentials("AKID", "secret")
            .build()
            .unwrap();
        assert_eq!(c.endpoint().style(), AddressingStyle::Path);
    }

    #[test]
    fn refusals_say_what_to_change() {
        assert!(invalid(S3Client::builder().region("us-east-1")).contains(".bucket("));
        assert!(invalid(S3Client::builder().bucket("b")).contains(".region("));
        assert!(invalid(
            S3Client::builder()
                .region("us-east-1")
                .bucket("b")
                .read_timeout(Duration::ZERO)
        )
        .contains("read_timeout"));
        let v2 = invalid(
            S3Client::builder()
                .region("eu-central-1")
                .bucket("b")
                .signature_version(SignatureVersion::V2)
                .static_credentials("AKID", "secret"),
        );
        assert!(v2.contains("eu-central-1"), "{v2}");
        let bad_region = invalid(S3Client::builder().region("mars-north-1").bucket("b"));
        assert!(bad_region.contains("mars-north-1"), "{bad_region}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let b = S3Client::builder()
            .region("us-east-1")
            .bucket("b")
            .static_credentials("AKID", "very-secret-key");
        assert!(!format!("{b:?}").contains("very-secret-key"));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains("very-secret-key"));
    }
}
