//! Credentials of the EC2 instance role, from the instance metadata service (IMDSv2).
//!
//! 1. `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds: 21600` → session token.
//! 2. `GET /latest/meta-data/iam/security-credentials/` with `X-aws-ec2-metadata-token` → role name.
//! 3. `GET /latest/meta-data/iam/security-credentials/<role>` → JSON
//!    `{Code, AccessKeyId, SecretAccessKey, Token, Expiration}`.
//!
//! Endpoint: `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://[fd00:ec2::254]` when
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`, else `http://169.254.169.254`.
//! `AWS_EC2_METADATA_DISABLED=true` turns the provider off.
//!
//! Off EC2 the provider must fail fast: connect and total timeouts are 1 s per request, and a
//! token request that fails at the transport level ends the attempt (no further requests), so
//! an unreachable or silent endpoint costs at most about one second. It reports "not loaded" in
//! that case, so a chain ends with a summary instead of an IMDS error.
//!
//! There is no IMDSv1 fallback unless [`InstanceMetadataProvider::with_imdsv1_fallback`] is set;
//! then a token endpoint answering 403/404/405 (IMDSv2 unsupported by a proxy or an old
//! emulator) is followed by token-less requests, as aws-sdk-go v1 does.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;

use super::http::{failure_word, HttpClients, Kind};
use super::{credentials_from_json, Credentials, Env, EnvRef, ProvideCredentials, SecretString};
use crate::client::error::Error;

const PROVIDER: &str = "imds";
const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const DEFAULT_ENDPOINT_V6: &str = "http://[fd00:ec2::254]";
const TOKEN_PATH: &str = "/latest/api/token";
const CREDS_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
const TOKEN_TTL_SECS: u32 = 21_600;

/// Credentials of the EC2 instance profile role, via IMDSv2.
#[derive(Debug, Clone)]
pub struct InstanceMetadataProvider {
    env: EnvRef,
    endpoint: Option<String>,
    connect_timeout: Duration,
    timeout: Duration,
    imdsv1_fallback: bool,
    http: HttpClients,
}

impl InstanceMetadataProvider {
    shared_setters!(http, timeouts);

    /// Reads its settings from `env`; 1 s connect and 1 s total timeout per request.
    pub fn new(env: Arc<dyn Env>) -> Self {
        Self {
            env: EnvRef::new(env),
            endpoint: None,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            imdsv1_fallback: false,
            http: HttpClients::new(),
        }
    }

    /// Uses `endpoint` (e.g. `http://127.0.0.1:1234`) regardless of the environment.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Allows token-less (IMDSv1) requests when the token endpoint answers 403, 404 or 405.
    #[must_use]
    pub fn with_imdsv1_fallback(mut self, allow: bool) -> Self {
        self.imdsv1_fallback = allow;
        self
    }

    fn endpoint(&self) -> String {
        let ep = self
            .endpoint
            .clone()
            .or_else(|| self.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
            .unwrap_or_else(
                || match self.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") {
                    Some(m) if m.eq_ignore_ascii_case("ipv6") => DEFAULT_ENDPOINT_V6.to_owned(),
                    _ => DEFAULT_ENDPOINT.to_owned(),
                },
            );
        ep.trim_end_matches('/').to_owned()
    }

    fn disabled(&self) -> bool {
        self.env
            .get("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    async fn token(
        &self,
        client: &reqwest::Client,
        ep: &str,
    ) -> Result<Option<SecretString>, Error> {
        let resp = client
            .put(format!("{ep}{TOKEN_PATH}"))
            .timeout(self.timeout)
            .header(TOKEN_TTL_HEADER, TOKEN_TTL_SECS.to_string())
            .send()
            .await
            .map_err(|e| unreachable_error(ep, &e))?;
        let status = resp.status();
        if status.is_success() {
            let token = resp.text().await.map_err(|e| unreachable_error(ep, &e))?;
            let token = token.trim();
            if token.is_empty() || token.chars().any(|c| c.is_control()) {
                return Err(Error::credentials(
                    PROVIDER,
                    format!("the IMDS token endpoint at {ep} returned an empty or invalid token"),
                ));
            }
            return Ok(Some(SecretString::from(token)));
        }
        let v1_ok = matches!(
            status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        );
        if self.imdsv1_fallback && v1_ok {
            return Ok(None);
        }
        let hint = if status == StatusCode::FORBIDDEN {
            "; IMDS may be disabled for this instance, or a proxy is intercepting it"
        } else {
            ""
        };
        Err(Error::credentials(
            PROVIDER,
            format!("the IMDS token request to {ep} returned HTTP {status}{hint}"),
        ))
    }

    async fn get(
        &self,
        client: &reqwest::Client,
        url: &str,
        token: Option<&SecretString>,
    ) -> Result<(StatusCode, String), Error> {
        let mut req = client.get(url).timeout(self.timeout);
        if let Some(t) = token {
            req = req.header(TOKEN_HEADER, t.expose_secret());
        }
        let resp = req.send().await.map_err(|e| {
            Error::credentials_with_source(PROVIDER, format!("request to {url} failed"), e)
        })?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| {
            Error::credentials_with_source(PROVIDER, format!("reading {url} failed"), e)
        })?;
        Ok((status, body))
    }
}

fn unreachable_error(ep: &str, e: &reqwest::Error) -> Error {
    let why = failure_word(e);
    Error::credentials_not_loaded(
        PROVIDER,
        format!("instance metadata service at {ep} {why} (not running on EC2?)"),
    )
}

#[async_trait]
impl ProvideCredentials for InstanceMetadataProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        if self.disabled() {
            return Err(Error::credentials_not_loaded(
                PROVIDER,
                "disabled by AWS_EC2_METADATA_DISABLED",
            ));
        }
        let ep = self.endpoint();
        let client = self.http.get(Kind::Local, self.connect_timeout, PROVIDER)?;
        let token = self.token(&client, &ep).await?;

        let list_url = format!("{ep}{CREDS_PATH}");
        let (status, body) = self.get(&client, &list_url, token.as_ref()).await?;
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(Error::credentials_not_loaded(
                    PROVIDER,
                    "no IAM role is attached to this instance (no instance profile)",
                ))
            }
            StatusCode::UNAUTHORIZED => {
                return Err(Error::credentials(
                    PROVIDER,
                    "the instance metadata service rejected the session token (HTTP 401)",
                ))
            }
            s => {
                return Err(Error::credentials(
                    PROVIDER,
                    format!("listing instance roles at {list_url} returned HTTP {s}"),
                ))
            }
        }
        let Some(role) = body.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Err(Error::credentials_not_loaded(
                PROVIDER,
                "no IAM role is attached to this instance (empty role list)",
            ));
        };
        if role.contains(['/', '?', '#', ' ', '%']) {
            return Err(Error::credentials(
                PROVIDER,
                format!("the instance metadata service returned an invalid role name {role:?}"),
            ));
        }
        let role_url = format!("{list_url}{role}");
        let (status, body) = self.get(&client, &role_url, token.as_ref()).await?;
        if status != StatusCode::OK {
            return Err(Error::credentials(
                PROVIDER,
                format!("fetching credentials of role {role:?} returned HTTP {status}"),
            ));
        }
        credentials_from_json(&body, PROVIDER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[tokio::test]
    async fn fetches_reuse_one_client() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ep = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let http = HttpClients::new();
        let env: Arc<dyn Env> = Arc::new(HashMap::<&str, String>::new());
        let p = InstanceMetadataProvider::new(env)
            .with_endpoint(ep)
            .with_http(http.clone());
        for _ in 0..3 {
            let e = p.provide_credentials().await.unwrap_err();
            assert!(e.to_string().contains("could not connect"), "{e}");
        }
        assert_eq!(http.len(), 1);
    }
}
