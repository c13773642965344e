//! The default provider chain.

use std::sync::Arc;

use async_trait::async_trait;

use super::http::HttpClients;
use super::{
    ContainerProvider, Credentials, Env, EnvironmentProvider, InstanceMetadataProvider, ProcessEnv,
    ProfileProvider, ProvideCredentials, WebIdentityProvider,
};
use crate::client::error::{Error, ErrorKind};

/// Tries providers in order and returns the first credentials found.
///
/// A provider that finds nothing ("not loaded") passes to the next; a provider that finds broken
/// configuration stops the chain with its error, so a typo in one source is not masked by
/// another. When every provider finds nothing the error lists what each one looked at.
///
/// The default order is aws-sdk-go v1's: environment keys → web identity from the environment
/// (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, IRSA) → shared credentials/config files
/// (static keys, assumed roles, web identity, SSO, `credential_process`) → container endpoint →
/// EC2 instance metadata. Wrap it in a [`CachingProvider`](super::CachingProvider) so temporary
/// credentials are reused and refreshed.
#[derive(Debug)]
pub struct DefaultChain {
    providers: Vec<Box<dyn ProvideCredentials>>,
}

impl DefaultChain {
    /// The default chain reading `env`.
    pub fn new(env: Arc<dyn Env>) -> Self {
        Self::with_region_hint(env, None)
    }

    /// The default chain reading `env`; STS is called in `region` when neither
    /// `AWS_REGION`, `AWS_DEFAULT_REGION` nor the profile names a region (the S3 driver passes
    /// its `region`).
    ///
    /// Its providers share their HTTP clients: one per connect timeout and proxy setting
    /// (STS and SSO; the container endpoint; IMDS), built on first use and reused by every
    /// refresh.
    pub fn with_region_hint(env: Arc<dyn Env>, region: Option<String>) -> Self {
        let http = HttpClients::new();
        Self::with_providers(vec![
            Box::new(EnvironmentProvider::new(env.clone())),
            Box::new(
                WebIdentityProvider::new(env.clone())
                    .with_region_hint(region.clone())
                    .with_http(http.clone()),
            ),
            Box::new(
                ProfileProvider::new(env.clone())
                    .with_region_hint(region)
                    .with_http(http.clone()),
            ),
            Box::new(ContainerProvider::new(env.clone()).with_http(http.clone())),
            Box::new(InstanceMetadataProvider::new(env).with_http(http)),
        ])
    }

    /// The default chain reading the process environment.
    pub fn from_process_env() -> Self {
        Self::new(Arc::new(ProcessEnv))
    }

    /// A chain of the given providers, tried in order.
    pub fn with_providers(providers: Vec<Box<dyn ProvideCredentials>>) -> Self {
        Self { providers }
    }
}

#[async_trait]
impl ProvideCredentials for DefaultChain {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let mut tried = Vec::with_capacity(self.providers.len());
        for p in &self.providers {
            match p.provide_credentials().await {
                Ok(c) => return Ok(c),
                Err(e) if e.is_credentials_not_loaded() => {
                    if let ErrorKind::Credentials {
                        provider, message, ..
                    } = e.kind()
                    {
                        tried.push(format!("{provider}: {message}"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::credentials_not_loaded(
            "chain",
            format!(
                "no credentials found ({}); set `accesskey`/`secretkey`, or AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, or a \
                 profile in ~/.aws/config or ~/.aws/credentials, or run with a container or \
                 instance role",
                tried.join("; ")
            ),
        ))
    }
}
