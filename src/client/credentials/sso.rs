use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sha1::{Digest, Sha1};

use super::http::{HttpClients, Kind};
use super::json::parse_rfc3339;
use super::sts::{check_region, endpoint_override, scrub, CredentialsServiceError};
use super::{Credentials, Env, EnvRef, ProvideCredentials, SecretString};
use crate::client::endpoint::dns_suffix;
use crate::client::error::Error;
use crate::client::json::{self, Value};
use crate::sign::{crypto, uri_encode};

const PROVIDER: &str = "sso";

/// What an SSO profile says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SsoSettings {
    /// `sso_start_url` (the AWS access portal URL).
    pub start_url: String,
    /// `sso_region`: the region of the Identity Center instance.
    pub region: String,
    /// `sso_account_id`.
    pub account_id: String,
    /// `sso_role_name`: the permission set's role.
    pub role_name: String,
    /// `sso_session`: the `[sso-session NAME]` section the profile uses; `None` for the legacy
    /// form (token cache keyed by the start URL).
    pub session_name: Option<String>,
    /// The profile, for messages.
    pub profile: String,
}

setters!(SsoSettings {
    /// Sets `sso_session` (the `[sso-session NAME]` section whose token cache is used).
    with_session_name => session_name: impl Into<String> as Some,
    /// Sets the profile named in messages.
    with_profile => profile: impl Into<String>,
});

impl SsoSettings {
    /// Settings for `role_name` in `account_id` through the access portal at `start_url`,
    /// whose Identity Center instance is in `region` (legacy form: the token cache is keyed by
    /// the start URL).
    pub fn new(
        start_url: impl Into<String>,
        region: impl Into<String>,
        account_id: impl Into<String>,
        role_name: impl Into<String>,
    ) -> Self {
        Self {
            start_url: start_url.into(),
            region: region.into(),
            account_id: account_id.into(),
            role_name: role_name.into(),
            session_name: None,
            profile: "default".to_owned(),
        }
    }

    /// The `aws sso login` command that refreshes the cached token.
    fn login_command(&self) -> String {
        match &self.session_name {
            Some(s) => format!("aws sso login --sso-session {s}"),
            None => format!("aws sso login --profile {}", self.profile),
        }
    }

    /// The cache file name: hex SHA-1 of the session name (or of the start URL) + `.json`.
    fn cache_file_name(&self) -> String {
        let key = self.session_name.as_deref().unwrap_or(&self.start_url);
        format!("{}.json", crypto::hex_encode(&Sha1::digest(key.as_bytes())))
    }
}

/// Credentials from AWS IAM Identity Center (SSO), with the token the AWS CLI caches after
/// `aws sso login`.
///
/// A profile with `sso_session` (naming an `[sso-session NAME]` section that has
/// `sso_start_url` and `sso_region`) or, in the legacy form, `sso_start_url` and `sso_region`
/// itself, plus `sso_account_id` and `sso_role_name`:
///
/// 1. reads the access token from the CLI's cache, `~/.aws/sso/cache/<sha1>.json`, where
///    `<sha1>` is the hex SHA-1 of the session name (or, legacy, of the start URL);
/// 2. calls the SSO portal's `GetRoleCredentials`
///    (`GET https://portal.sso.<sso_region>.amazonaws.com/federation/credentials`; overridden
///    by `AWS_ENDPOINT_URL_SSO`, `AWS_ENDPOINT_URL` or the profile's `endpoint_url`).
///
/// A missing cache file or an expired token is an error that says to run `aws sso login`:
/// refreshing the token with the cached refresh token (SSO OIDC `CreateToken`) is not
/// implemented, so a registry using SSO credentials needs a login at least as often as the
/// session length the Identity Center administrator set.
#[derive(Debug, Clone)]
pub struct SsoProvider {
    env: EnvRef,
    settings: SsoSettings,
    cache_dir: Option<PathBuf>,
    profile_endpoint_url: Option<String>,
    http: HttpClients,
}

impl SsoProvider {
    shared_setters!(http);

    /// Uses `settings`; the token cache is `$HOME/.aws/sso/cache` (from `env`).
    pub fn new(env: Arc<dyn Env>, settings: SsoSettings) -> Self {
        let env = EnvRef::new(env);
        let cache_dir = env
            .get("HOME")
            .or_else(|| env.get("USERPROFILE"))
            .map(|h| PathBuf::from(h).join(".aws").join("sso").join("cache"));
        Self {
            env,
            settings,
            cache_dir,
            profile_endpoint_url: None,
            http: HttpClients::new(),
        }
    }

    /// Reads cached tokens from `dir` instead of `~/.aws/sso/cache`.
    #[must_use]
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    #[must_use]
    pub(crate) fn with_profile_endpoint_url(mut self, url: Option<String>) -> Self {
        self.profile_endpoint_url = url;
        self
    }

    /// Reads and checks the cached access token.
    async fn cached_token(&self) -> Result<SecretString, Error> {
        let s = &self.settings;
        let login = s.login_command();
        let Some(dir) = &self.cache_dir else {
            return Err(Error::credentials(
                PROVIDER,
                format!(
                    "profile {:?} uses SSO, but there is no home directory (HOME) to find the \
                     AWS CLI's token cache in",
                    s.profile
                ),
            ));
        };
        let path = dir.join(s.cache_file_name());
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::credentials(
                    PROVIDER,
                    format!(
                        "profile {:?} uses SSO ({}), but there is no cached SSO token ({} does \
                         not exist): run `{login}`",
                        s.profile,
                        s.start_url,
                        path.display()
                    ),
                ))
            }
            Err(e) => {
                return Err(Error::credentials_with_source(
                    PROVIDER,
                    format!("cannot read the SSO token cache {}", path.display()),
                    e,
                ))
            }
        };
        let doc =
            json::parse(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).map_err(|e| {
                Error::credentials(
                    PROVIDER,
                    format!(
                        "the SSO token cache {} is not valid JSON ({e}): run `{login}`",
                        path.display()
                    ),
                )
            })?;
        let token = match doc.get("accessToken") {
            Some(Value::String(t)) if !t.trim().is_empty() => SecretString::from(t.trim()),
            _ => {
                return Err(Error::credentials(
                    PROVIDER,
                    format!(
                        "the SSO token cache {} has no accessToken: run `{login}`",
                        path.display()
                    ),
                ))
            }
        };
        let expires = match doc.get("expiresAt") {
            Some(Value::String(t)) => parse_expires_at(t),
            _ => None,
        };
        let Some(expires) = expires else {
            return Err(Error::credentials(
                PROVIDER,
                format!(
                    "the SSO token cache {} has no valid expiresAt: run `{login}`",
                    path.display()
                ),
            ));
        };
        if expires <= SystemTime::now() {
            return Err(Error::credentials(
                PROVIDER,
                format!(
                    "the cached SSO token for {} ({}) expired at {}: run `{login}`",
                    s.start_url,
                    path.display(),
                    crate::xml::Timestamp::from_unix(
                        expires
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                        0
                    )
                    .raw
                ),
            ));
        }
        Ok(token)
    }

    fn endpoint(&self) -> Result<String, Error> {
        if let Some(url) = endpoint_override(
            &self.env,
            "AWS_ENDPOINT_URL_SSO",
            self.profile_endpoint_url.as_deref(),
            PROVIDER,
        )? {
            return Ok(url);
        }
        let region = &self.settings.region;
        check_region(region, PROVIDER)?;
        Ok(format!(
            "https://portal.sso.{region}.{}",
            dns_suffix(region)
        ))
    }
}

/// `expiresAt` as the AWS CLI writes it: RFC 3339, or the CLI v1 form `...T04:05:45UTC`.
fn parse_expires_at(text: &str) -> Option<SystemTime> {
    let t = text.trim();
    match t.strip_suffix("UTC") {
        Some(rest) => parse_rfc3339(&format!("{rest}Z")),
        None => parse_rfc3339(t),
    }
}

/// Delays before the second and third attempts.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(800)];

#[async_trait]
impl ProvideCredentials for SsoProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let s = &self.settings;
        let token = self.cached_token().await?;
        let base = self.endpoint()?;
        let url = format!(
            "{base}/federation/credentials?account_id={}&role_name={}",
            uri_encode(&s.account_id, true),
            uri_encode(&s.role_name, true)
        );
        let what = format!(
            "GetRoleCredentials for account {} role {} at {base} (profile {:?})",
            s.account_id, s.role_name, s.profile
        );
        let http = self.http.get(Kind::Aws, Duration::from_secs(5), PROVIDER)?;
        let mut attempt = 0;
        let (status, headers, body) = loop {
            let delay = RETRY_DELAYS.get(attempt).copied();
            attempt += 1;
            let sent = http
                .get(&url)
                .timeout(Duration::from_secs(30))
                .header("x-amz-sso_bearer_token", token.expose_secret())
                .header("accept", "application/json")
                .send()
                .await;
            match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let body = resp.text().await.unwrap_or_default();
                    match delay {
                        Some(d) if status >= 500 || status == 429 => tokio::time::sleep(d).await,
                        _ => break (status, headers, body),
                    }
                }
                Err(e) => match delay {
                    Some(d) if e.is_connect() || e.is_timeout() || e.is_request() => {
                        tokio::time::sleep(d).await;
                    }
                    _ => {
                        return Err(Error::credentials(
                            PROVIDER,
                            format!(
                                "{what}: the request failed after {attempt} attempts ({}); \
                                 check network access to the SSO portal",
                                scrub(&e.to_string(), &[token.expose_secret()])
                            ),
                        ))
                    }
                },
            }
        };
        let secrets = [token.expose_secret()];
        if !(200..300).contains(&status) {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let doc = json::parse(body.as_bytes()).ok();
            let code = header("x-amzn-errortype")
                .map(|t| t.split(':').next().unwrap_or_default().trim().to_owned())
                .or_else(|| match doc.as_ref().and_then(|d| d.get("__type")) {
                    Some(Value::String(t)) => Some(t.rsplit('#').next().unwrap_or(t).to_owned()),
                    _ => None,
                })
                .filter(|c| !c.is_empty());
            let message = match doc
                .as_ref()
                .and_then(|d| d.get("message").or_else(|| d.get("Message")))
            {
                Some(Value::String(m)) => Some(scrub(m, &secrets)),
                _ => None,
            };
            let hint = match (status, code.as_deref()) {
                (401, _) | (_, Some("UnauthorizedException")) => format!(
                    "the SSO portal refused the cached token (expired or signed out): run `{}`",
                    s.login_command()
                ),
                (403, _) | (_, Some("ForbiddenException")) => format!(
                    "the SSO user may not use role {} in account {}: check sso_account_id and \
                     sso_role_name of profile {:?} (`aws sso list-account-roles` lists them)",
                    s.role_name, s.account_id, s.profile
                ),
                (404, _) | (_, Some("ResourceNotFoundException")) => format!(
                    "no role {} in account {}: check sso_account_id and sso_role_name",
                    s.role_name, s.account_id
                ),
                (429, _) => "the SSO portal is throttling requests; try again later".to_owned(),
                _ => "try again later; if it persists check sso_region and the SSO endpoint"
                    .to_owned(),
            };
            return Err(Error::credentials_with_source(
                PROVIDER,
                format!("{what} failed; {hint}"),
                CredentialsServiceError {
                    service: "SSO",
                    operation: "GetRoleCredentials",
                    status,
                    code,
                    message,
                    request_id: header("x-amzn-requestid"),
                },
            ));
        }
        let bad = |why: &str| {
            Error::credentials(
                PROVIDER,
                format!("{what}: the SSO portal answered HTTP {status} with {why}"),
            )
        };
        let doc = json::parse(body.as_bytes()).map_err(|e| bad(&format!("no valid JSON ({e})")))?;
        let Some(rc) = doc.get("roleCredentials") else {
            return Err(bad("no roleCredentials"));
        };
        let field = |k: &str| match rc.get(k) {
            Some(Value::String(v)) if !v.trim().is_empty() => Some(v.trim().to_owned()),
            _ => None,
        };
        let (Some(id), Some(secret)) = (field("accessKeyId"), field("secretAccessKey")) else {
            return Err(bad(
                "roleCredentials lacking accessKeyId or secretAccessKey",
            ));
        };
        let expires_at = match rc.get("expiration") {
            Some(Value::Number(ms)) => ms
                .parse::<u64>()
                .ok()
                .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms))),
            _ => None,
        };
        let Some(expires_at) = expires_at else {
            return Err(bad("roleCredentials lacking a valid expiration"));
        };
        let token = field("sessionToken").map(SecretString::from);
        Ok(Credentials::new(id, secret, token, Some(expires_at))
            .with_provider(PROVIDER)
            .with_description(format!(
                "account {} role {} (profile {:?}, {})",
                s.account_id, s.role_name, s.profile, s.start_url
            )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(session: Option<&str>) -> SsoSettings {
        SsoSettings {
            start_url: "https://my-sso-portal.awsapps.com/start".into(),
            region: "us-east-1".into(),
            account_id: "123456789011".into(),
            role_name: "readOnly".into(),
            session_name: session.map(str::to_owned),
            profile: "dev".into(),
        }
    }

    #[test]
    fn cache_file_names_match_the_aws_cli() {
        // Hex SHA-1 of the session name, or of the start URL (values from Python's hashlib).
        assert_eq!(
            settings(Some("my-sso")).cache_file_name(),
            "0ad374308c5a4e22f723adf10145eafad7c4031c.json"
        );
        let mut s = settings(None);
        s.start_url = "https://d-abc123.awsapps.com/start".into();
        assert_eq!(
            s.cache_file_name(),
            "40a89917e3175433e361b710a9d43528d7f1890a.json"
        );
        assert_eq!(
            settings(Some("corp")).login_command(),
            "aws sso login --sso-session corp"
        );
        assert_eq!(
            settings(None).login_command(),
            "aws sso login --profile dev"
        );
    }

    #[test]
    fn expires_at_forms() {
        let t = |s| parse_expires_at(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(t("2024-05-01T16:00:00Z"), Some(1_714_579_200));
        assert_eq!(t("2024-05-01T16:00:00UTC"), Some(1_714_579_200));
        assert_eq!(t(" 2024-05-01T16:00:00.000Z "), Some(1_714_579_200));
        assert_eq!(t("tomorrow"), None);
    }
}
