//! Credentials from the ECS task / EKS Pod Identity credentials endpoint.
//!
//! * `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS): `GET http://169.254.170.2<uri>`. Takes
//!   precedence over the full URI.
//! * `AWS_CONTAINER_CREDENTIALS_FULL_URI`: any `https` URL, or an `http` URL whose host is a
//!   loopback address, the ECS endpoint `169.254.170.2`, the EKS Pod Identity endpoints
//!   `169.254.170.23` / `fd00:ec2::23`, or a host name that resolves only to loopback addresses
//!   (the AWS SDK rules).
//! * `Authorization` header: the contents of `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (re-read on
//!   every call, EKS rotates it), else `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
//!
//! The response is the JSON document `{AccessKeyId, SecretAccessKey, Token, Expiration}`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use url::Host;

use super::http::{HttpClients, Kind};
use super::{credentials_from_json, Credentials, Env, EnvRef, ProvideCredentials, SecretString};
use crate::client::endpoint::parse_http_url;
use crate::client::error::Error;

const PROVIDER: &str = "container";
const ECS_BASE: &str = "http://169.254.170.2";
const ENV_RELATIVE: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
const ENV_FULL: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
const ENV_TOKEN: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
const ENV_TOKEN_FILE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

/// Credentials from the container credentials endpoint.
#[derive(Debug, Clone)]
pub struct ContainerProvider {
    env: EnvRef,
    relative_base: String,
    connect_timeout: Duration,
    timeout: Duration,
    http: HttpClients,
}

impl ContainerProvider {
    shared_setters!(http, timeouts);

    /// Reads its settings from `env`; 2 s connect and 5 s total timeouts.
    pub fn new(env: Arc<dyn Env>) -> Self {
        Self {
            env: EnvRef::new(env),
            relative_base: ECS_BASE.to_owned(),
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            http: HttpClients::new(),
        }
    }

    /// Replaces `http://169.254.170.2` as the base of the relative URI (tests).
    #[must_use]
    pub fn with_relative_base(mut self, base: impl Into<String>) -> Self {
        self.relative_base = base.into().trim_end_matches('/').to_owned();
        self
    }

    async fn target(&self) -> Result<String, Error> {
        if let Some(rel) = self.env.get(ENV_RELATIVE) {
            let sep = if rel.starts_with('/') { "" } else { "/" };
            return Ok(format!("{}{sep}{rel}", self.relative_base));
        }
        let Some(full) = self.env.get(ENV_FULL) else {
            return Err(Error::credentials_not_loaded(
                PROVIDER,
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI are not set",
            ));
        };
        check_full_uri(&full).await?;
        Ok(full)
    }

    async fn auth_header(&self) -> Result<Option<SecretString>, Error> {
        let raw = if let Some(path) = self.env.get(ENV_TOKEN_FILE) {
            let bytes = tokio::fs::read(&path).await.map_err(|e| {
                Error::credentials_with_source(
                    PROVIDER,
                    format!("cannot read {ENV_TOKEN_FILE} ({path})"),
                    e,
                )
            })?;
            SecretString::from(String::from_utf8_lossy(&bytes).trim().to_owned())
        } else if let Some(tok) = self.env.get(ENV_TOKEN) {
            SecretString::from(tok)
        } else {
            return Ok(None);
        };
        if raw.is_empty() {
            return Err(Error::credentials(
                PROVIDER,
                "the authorization token is empty",
            ));
        }
        if raw.expose_secret().chars().any(|c| c.is_control()) {
            return Err(Error::credentials(
                PROVIDER,
                "the authorization token contains control characters (e.g. a newline); fix the \
                 token or token file",
            ));
        }
        Ok(Some(raw))
    }
}

/// The AWS SDK rule for `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
async fn check_full_uri(uri: &str) -> Result<(), Error> {
    let bad = |why: &str| Error::credentials(PROVIDER, format!("{ENV_FULL} {uri:?} {why}"));
    let url = parse_http_url(uri).map_err(bad)?;
    if url.scheme() == "https" {
        return Ok(());
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(_)) => None,
        None => return Err(bad("has no host")),
    };
    if let Some(ip) = ip {
        return if allowed_ip(ip) {
            Ok(())
        } else {
            Err(bad(
                "uses plain http to a host that is not loopback or a container credentials \
                 endpoint; use https",
            ))
        };
    }
    let host = url.host_str().unwrap_or_default();
    let addrs: Vec<_> = tokio::net::lookup_host((host, 80))
        .await
        .map_err(|e| Error::credentials_with_source(PROVIDER, format!("cannot resolve {host}"), e))?
        .collect();
    if !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()) {
        Ok(())
    } else {
        Err(bad(
            "uses plain http to a host that does not resolve only to loopback addresses; use https",
        ))
    }
}

fn allowed_ip(ip: IpAddr) -> bool {
    const ECS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 170, 2));
    const EKS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 170, 23));
    const EKS6: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23));
    ip.is_loopback() || ip == ECS || ip == EKS || ip == EKS6
}

#[async_trait]
impl ProvideCredentials for ContainerProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let url = self.target().await?;
        let auth = self.auth_header().await?;
        let client = self.http.get(Kind::Local, self.connect_timeout, PROVIDER)?;
        let mut req = client
            .get(&url)
            .timeout(self.timeout)
            .header("Accept", "application/json");
        if let Some(tok) = &auth {
            req = req.header("Authorization", tok.expose_secret());
        }
        let resp = req.send().await.map_err(|e| {
            Error::credentials_with_source(
                PROVIDER,
                format!("the container credentials endpoint {url} did not answer"),
                e,
            )
        })?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| {
            Error::credentials_with_source(PROVIDER, "cannot read the credentials response", e)
        })?;
        if !status.is_success() {
            let hint = if status.as_u16() == 401 || status.as_u16() == 403 {
                "; check AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)"
            } else {
                ""
            };
            return Err(Error::credentials(
                PROVIDER,
                format!("the container credentials endpoint {url} returned HTTP {status}{hint}"),
            ));
        }
        credentials_from_json(&body, PROVIDER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_uri_rules() {
        for ok in [
            "https://example.com/creds",
            "HTTPS://anything:8443",
            "http://127.0.0.1:8080/creds",
            "http://127.0.0.2/creds",
            "http://[::1]:9000/x",
            "http://169.254.170.2/v2/credentials",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "http://localhost:1234/creds",
            "http://user@127.0.0.1/creds",
        ] {
            check_full_uri(ok)
                .await
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://10.0.0.1/creds",
            "http://169.254.169.254/latest",
            "http://[fd00:ec2::254]/x",
            "ftp://127.0.0.1/x",
            "/relative/path",
            "http:///nohost",
            "http:127.0.0.1/x",
            "http://127.0.0.1:0/x",
            "http://127.0.0.1\\x",
        ] {
            assert!(check_full_uri(bad).await.is_err(), "{bad}");
        }
    }

    #[test]
    fn allowed_ips() {
        assert!(allowed_ip("127.9.9.9".parse().unwrap()));
        assert!(allowed_ip("::1".parse().unwrap()));
        assert!(!allowed_ip("169.254.170.3".parse().unwrap()));
        assert!(!allowed_ip("192.168.0.1".parse().unwrap()));
    }
}
