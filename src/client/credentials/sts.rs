use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, SystemTime};

use super::http::{failure_word, HttpClients, Kind};
use super::{Credentials, EnvRef, SecretString};
use crate::client::endpoint::dns_suffix;
use crate::client::error::Error;
use crate::sign::{self, crypto, v4, PayloadHash, SignableRequest, UriMode};
use crate::xml::{parse_sts_error, AssumeRoleResponse};

/// STS API version of the Query API.
const VERSION: &str = "2011-06-15";

/// Regions whose `AWS_STS_REGIONAL_ENDPOINTS=legacy` endpoint is the global one.
const LEGACY_GLOBAL_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "aws-global",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Longest server message quoted in an error.
const MAX_MESSAGE: usize = 512;

/// The answer of an AWS credentials service (STS, the SSO portal) that refused a request: the
/// source of the credentials error the provider returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsServiceError {
    /// `"STS"` or `"SSO"`.
    pub service: &'static str,
    /// The operation (`AssumeRole`, `AssumeRoleWithWebIdentity`, `GetRoleCredentials`).
    pub operation: &'static str,
    /// HTTP status.
    pub status: u16,
    /// The service's error code (`AccessDenied`, `ExpiredTokenException`, ...), when it sent one.
    pub code: Option<String>,
    /// The service's message (cut to 512 characters, secrets the request carried removed).
    pub message: Option<String>,
    /// The request id, when the service sent one.
    pub request_id: Option<String>,
}

impl fmt::Display for CredentialsServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} returned HTTP {}",
            self.service, self.operation, self.status
        )?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(msg) = &self.message {
            write!(f, ": {msg}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl StdError for CredentialsServiceError {}

impl Error {
    /// The [`CredentialsServiceError`] behind a credentials error, if a credentials service
    /// refused the request (STS or the SSO portal).
    pub fn credentials_service_error(&self) -> Option<&CredentialsServiceError> {
        let mut cur: Option<&(dyn StdError + 'static)> = StdError::source(self);
        while let Some(e) = cur {
            if let Some(found) = e.downcast_ref::<CredentialsServiceError>() {
                return Some(found);
            }
            cur = e.source();
        }
        None
    }
}

/// Removes `secrets` from `text`, drops control characters and cuts it to [`MAX_MESSAGE`].
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "***");
    }
    let trimmed = out.trim();
    if trimmed.chars().count() > MAX_MESSAGE {
        let cut: String = trimmed.chars().take(MAX_MESSAGE).collect();
        format!("{cut}...")
    } else {
        trimmed.to_owned()
    }
}

/// Where STS is and how requests to it are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StsEndpoint {
    /// Base URL without a trailing slash (`https://sts.eu-west-1.amazonaws.com`).
    pub(crate) url: String,
    /// The SigV4 signing region.
    pub(crate) signing_region: String,
}

/// The profile settings that influence the STS endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfileStsSettings {
    pub(crate) region: Option<String>,
    pub(crate) sts_regional_endpoints: Option<String>,
    pub(crate) endpoint_url: Option<String>,
}

fn is_true(v: Option<String>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A service endpoint override from the environment or profile (see the module docs);
/// `service_env` is e.g. `AWS_ENDPOINT_URL_STS`.
pub(crate) fn endpoint_override(
    env: &EnvRef,
    service_env: &'static str,
    profile_endpoint_url: Option<&str>,
    provider: &'static str,
) -> Result<Option<String>, Error> {
    if is_true(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
        return Ok(None);
    }
    let found = env.first(&[service_env, "AWS_ENDPOINT_URL"]).or_else(|| {
        profile_endpoint_url
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| ("endpoint_url (profile)", u.to_owned()))
    });
    let Some((name, url)) = found else {
        return Ok(None);
    };
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        Error::credentials(
            provider,
            format!("{name} {url:?} is not a URL ({e}); use e.g. https://sts.example.com"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::credentials(
            provider,
            format!("{name} {url:?} must be an http:// or https:// URL with a host"),
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::credentials(
            provider,
            format!("{name} {url:?} must not have a query or fragment"),
        ));
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

/// The region to use: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, the hint.
pub(crate) fn resolve_region(
    env: &EnvRef,
    profile_region: Option<&str>,
    hint: Option<&str>,
) -> Option<String> {
    env.first(&["AWS_REGION", "AWS_DEFAULT_REGION"])
        .map(|(_, v)| v)
        .or_else(|| profile_region.map(str::trim).map(str::to_owned))
        .or_else(|| hint.map(str::trim).map(str::to_owned))
        .filter(|r| !r.is_empty())
}

/// Checks that `region` can be part of a host name.
pub(crate) fn check_region(region: &str, provider: &'static str) -> Result<(), Error> {
    let ok = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    checked(ok, provider, || {
        format!(
            "region {region:?} (AWS_REGION, AWS_DEFAULT_REGION or the profile's `region`) is not a \
             region name like eu-west-1"
        )
    })
}

/// `Ok` when a setting passed its check (`ok`), else `provider`'s credentials error with
/// `message()`.
fn checked(
    ok: bool,
    provider: &'static str,
    message: impl FnOnce() -> String,
) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::credentials(provider, message()))
    }
}

impl StsEndpoint {
    /// Resolves the endpoint as the module docs describe.
    pub(crate) fn resolve(
        env: &EnvRef,
        profile: &ProfileStsSettings,
        region_hint: Option<&str>,
        provider: &'static str,
    ) -> Result<Self, Error> {
        let region = resolve_region(env, profile.region.as_deref(), region_hint);
        if let Some(r) = &region {
            check_region(r, provider)?;
        }
        if let Some(url) = endpoint_override(
            env,
            "AWS_ENDPOINT_URL_STS",
            profile.endpoint_url.as_deref(),
            provider,
        )? {
            return Ok(Self {
                url,
                signing_region: region.unwrap_or_else(|| "us-east-1".to_owned()),
            });
        }
        let mode = env
            .get("AWS_STS_REGIONAL_ENDPOINTS")
            .map(|v| ("AWS_STS_REGIONAL_ENDPOINTS", v))
            .or_else(|| {
                profile
                    .sts_regional_endpoints
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| ("sts_regional_endpoints (profile)", v.to_owned()))
            });
        let legacy = match &mode {
            None => false,
            Some((_, v)) if v.eq_ignore_ascii_case("regional") => false,
            Some((_, v)) if v.eq_ignore_ascii_case("legacy") => true,
            Some((name, v)) => {
                return Err(Error::credentials(
                    provider,
                    format!("{name} is {v:?}; use `regional` (the default) or `legacy`"),
                ))
            }
        };
        let fips = is_true(env.get("AWS_USE_FIPS_ENDPOINT"));
        let global = Self {
            url: "https://sts.amazonaws.com".to_owned(),
            signing_region: "us-east-1".to_owned(),
        };
        let Some(region) = region else {
            return Ok(global);
        };
        if region == "aws-global" || (legacy && !fips && LEGACY_GLOBAL_REGIONS.contains(&&*region))
        {
            return Ok(global);
        }
        let host = if fips { "sts-fips" } else { "sts" };
        Ok(Self {
            url: format!("https://{host}.{region}.{}", dns_suffix(&region)),
            signing_region: region,
        })
    }
}

/// The parameters of one `AssumeRole` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleParams {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName` (2 to 64 characters of `[\w+=,.@-]`).
    pub session_name: String,
    /// `ExternalId`.
    pub external_id: Option<String>,
    /// `DurationSeconds` (900 to 43200; STS's default is 3600).
    pub duration_seconds: Option<u32>,
}

/// Checks a role session name (STS: 2 to 64 characters of `[\w+=,.@-]`).
pub(crate) fn check_session_name(
    name: &str,
    setting: &str,
    provider: &'static str,
) -> Result<(), Error> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    checked(ok, provider, || {
        format!(
            "{setting} {name:?} is not a valid role session name: use 2 to 64 characters of \
             letters, digits and _+=,.@-"
        )
    })
}

/// Checks a role ARN's shape (`arn:PARTITION:iam::ACCOUNT:role/NAME`).
pub(crate) fn check_role_arn(
    arn: &str,
    setting: &str,
    provider: &'static str,
) -> Result<(), Error> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
        && !arn.chars().any(|c| c.is_whitespace() || c.is_control());
    checked(ok, provider, || {
        format!("{setting} {arn:?} is not a role ARN like arn:aws:iam::123456789012:role/name")
    })
}

/// Shortest and longest `DurationSeconds` STS accepts (AssumeRole and
/// AssumeRoleWithWebIdentity alike).
const DURATION_RANGE: std::ops::RangeInclusive<u32> = 900..=43_200;

/// Checks the `duration_seconds` of the role settings from `origin`, when set.
pub(crate) fn check_duration_seconds(
    seconds: Option<u32>,
    origin: &str,
    provider: &'static str,
) -> Result<(), Error> {
    let Some(d) = seconds else {
        return Ok(());
    };
    checked(DURATION_RANGE.contains(&d), provider, || {
        format!(
            "duration_seconds of {origin} is {d}; STS accepts 900 to 43200 seconds (and at most \
             the role's maximum session duration)"
        )
    })
}

/// A session name when none is configured: `s3driver-<unix milliseconds>`.
pub(crate) fn default_session_name() -> String {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("s3driver-{ms}")
}

/// A small STS client bound to one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct StsClient {
    endpoint: StsEndpoint,
    http: reqwest::Client,
    provider: &'static str,
}

/// One form-encoded STS request body; values are percent-encoded (RFC 3986 unreserved kept).
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", sign::uri_encode(v, true)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether an STS failure is worth another try.
fn retryable(status: u16, code: Option<&str>) -> bool {
    status >= 500
        || status == 429
        || matches!(
            code,
            Some(
                "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "IDPCommunicationError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
            )
        )
}

/// Connect timeout of STS requests.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Total timeout of one STS request.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The `User-Agent` of STS requests.
const USER_AGENT: &str = concat!("s3driver/", env!("CARGO_PKG_VERSION"));

/// Delays before the second and third attempts.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(800)];

impl StsClient {
    /// The client a role provider calls STS with: the endpoint resolved from `env`, the
    /// profile's settings and the region hint, on the chain's HTTP clients.
    pub(crate) fn for_provider(
        env: &EnvRef,
        profile: &ProfileStsSettings,
        region_hint: Option<&str>,
        http: &HttpClients,
        provider: &'static str,
    ) -> Result<Self, Error> {
        let endpoint = StsEndpoint::resolve(env, profile, region_hint, provider)?;
        Self::new(endpoint, provider, http)
    }

    /// A client for `endpoint`; errors carry `provider`'s name.
    pub(crate) fn new(
        endpoint: StsEndpoint,
        provider: &'static str,
        http: &HttpClients,
    ) -> Result<Self, Error> {
        #[cfg(not(feature = "tls"))]
        if endpoint.url.starts_with("https:") {
            return Err(Error::credentials(
                provider,
                format!(
                    "STS is at {} but this build has no TLS support (cargo feature `tls`); set \
                     AWS_ENDPOINT_URL_STS to an http:// endpoint or rebuild with `tls`",
                    endpoint.url
                ),
            ));
        }
        let http = http.get(Kind::Aws, CONNECT_TIMEOUT, provider)?;
        Ok(Self {
            endpoint,
            http,
            provider,
        })
    }

    /// The endpoint this client calls.
    pub(crate) fn endpoint(&self) -> &StsEndpoint {
        &self.endpoint
    }

    /// `AssumeRole` with `source` credentials, SigV4-signed.
    pub(crate) async fn assume_role(
        &self,
        source: &Credentials,
        params: &AssumeRoleParams,
    ) -> Result<Credentials, Error> {
        let duration = params.duration_seconds.map(|d| d.to_string());
        let mut pairs = vec![
            ("Action", "AssumeRole"),
            ("Version", VERSION),
            ("RoleArn", params.role_arn.as_str()),
            ("RoleSessionName", params.session_name.as_str()),
        ];
        if let Some(d) = &duration {
            pairs.push(("DurationSeconds", d));
        }
        if let Some(x) = &params.external_id {
            pairs.push(("ExternalId", x));
        }
        let body = form(&pairs);
        let secrets = [source.secret(), source.session_token().unwrap_or("")];
        let what = format!(
            "AssumeRole of {} at {} (signed by access key {})",
            params.role_arn,
            self.endpoint.url,
            source.access_key_id()
        );
        let (status, text) = self.send(&body, Some(source), &secrets, &what).await?;
        if !(200..300).contains(&status) {
            return Err(self.failure(
                "AssumeRole",
                status,
                &text,
                &secrets,
                &what,
                &params.role_arn,
            ));
        }
        let parsed = AssumeRoleResponse::parse(text.as_bytes()).map_err(|e| {
            Error::credentials_with_source(
                self.provider,
                format!("{what}: STS answered HTTP {status} with a body that is not an AssumeRoleResponse"),
                e,
            )
        })?;
        Ok(into_credentials(parsed, self.provider))
    }

    /// `AssumeRoleWithWebIdentity`, unsigned; `token_source` names where the token came from.
    pub(crate) async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        session_name: &str,
        token: &SecretString,
        duration_seconds: Option<u32>,
        token_source: &str,
    ) -> Result<Credentials, Error> {
        let duration = duration_seconds.map(|d| d.to_string());
        let mut pairs = vec![
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", VERSION),
            ("RoleArn", role_arn),
            ("RoleSessionName", session_name),
            ("WebIdentityToken", token.expose_secret()),
        ];
        if let Some(d) = &duration {
            pairs.push(("DurationSeconds", d));
        }
        let body = form(&pairs);
        let secrets = [token.expose_secret()];
        let what = format!(
            "AssumeRoleWithWebIdentity of {role_arn} at {} with the token from {token_source}",
            self.endpoint.url
        );
        let (status, text) = self.send(&body, None, &secrets, &what).await?;
        if !(200..300).contains(&status) {
            return Err(self.failure(
                "AssumeRoleWithWebIdentity",
                status,
                &text,
                &secrets,
                &what,
                role_arn,
            ));
        }
        let parsed = AssumeRoleResponse::parse_web_identity(text.as_bytes()).map_err(|e| {
            Error::credentials_with_source(
                self.provider,
                format!(
                    "{what}: STS answered HTTP {status} with a body that is not an \
                     AssumeRoleWithWebIdentityResponse"
                ),
                e,
            )
        })?;
        Ok(into_credentials(parsed, self.provider))
    }

    /// Sends one form POST (signed when `signer` is given), retrying throttling, 5xx and
    /// connection failures. Returns the status and body of the last answer.
    async fn send(
        &self,
        body: &str,
        signer: Option<&Credentials>,
        secrets: &[&str],
        what: &str,
    ) -> Result<(u16, String), Error> {
        const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
        let url = format!("{}/", self.endpoint.url);
        let mut attempt = 0;
        loop {
            // Signed again for each attempt: the signature covers the time.
            let headers = match signer {
                Some(creds) => self.sign(&url, body, creds, CONTENT_TYPE).map_err(|e| {
                    Error::credentials_with_source(
                        self.provider,
                        format!(
                            "{what}: the source credentials (access key {}) cannot sign the \
                             request",
                            creds.access_key_id()
                        ),
                        e,
                    )
                })?,
                None => Vec::new(),
            };
            let mut req = self
                .http
                .post(&url)
                .timeout(TIMEOUT)
                .header("user-agent", USER_AGENT)
                .header("content-type", CONTENT_TYPE)
                .body(body.to_owned());
            for (name, value) in headers {
                req = req.header(name, value);
            }
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    resp.text().await.map(|text| (status, text))
                }
                Err(e) => Err(e),
            };
            let delay = RETRY_DELAYS.get(attempt).copied();
            attempt += 1;
            match result {
                Ok((status, text)) => {
                    let code = (!(200..300).contains(&status))
                        .then(|| parse_sts_error(text.as_bytes()).map(|e| e.code))
                        .flatten();
                    match delay {
                        Some(d) if retryable(status, code.as_deref()) => {
                            tokio::time::sleep(d).await;
                        }
                        _ => return Ok((status, text)),
                    }
                }
                Err(e) => match delay {
                    Some(d) if e.is_connect() || e.is_timeout() || e.is_request() => {
                        tokio::time::sleep(d).await;
                    }
                    _ => {
                        let why = failure_word(&e);
                        // reqwest's message names the URL (no secrets: they are in the body).
                        let detail = scrub(&e.to_string(), secrets);
                        return Err(Error::credentials(
                            self.provider,
                            format!(
                                "{what}: the request {why} after {attempt} attempts ({detail}); \
                                 check network access to STS, or point AWS_ENDPOINT_URL_STS at a \
                                 reachable STS endpoint"
                            ),
                        ));
                    }
                },
            }
        }
    }

    fn sign(
        &self,
        url: &str,
        body: &str,
        creds: &Credentials,
        content_type: &str,
    ) -> Result<Vec<(&'static str, String)>, sign::SignError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| sign::SignError::InvalidPath)?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(sign::SignError::MissingHost),
        };
        let path = parsed.path().to_owned();
        let hash = crypto::sha256_hex(body.as_bytes());
        let headers = [("host", host.as_str()), ("content-type", content_type)];
        let request = SignableRequest {
            method: "POST",
            path: &path,
            query: &[],
            headers: &headers,
        };
        let params = v4::SigningParams {
            credentials: sign::SigningCredentials {
                access_key_id: creds.access_key_id(),
                secret_access_key: creds.secret(),
                session_token: creds.session_token(),
            },
            region: &self.endpoint.signing_region,
            service: "sts",
            time: SystemTime::now(),
            uri_mode: UriMode::Normalized,
            payload: PayloadHash::Precomputed(&hash),
        };
        let signed = v4::sign_headers_with(&request, &params, &v4::SignOptions::default())?;
        Ok(signed.headers)
    }

    fn failure(
        &self,
        operation: &'static str,
        status: u16,
        body: &str,
        secrets: &[&str],
        what: &str,
        role_arn: &str,
    ) -> Error {
        let parsed = parse_sts_error(body.as_bytes());
        let code = parsed
            .as_ref()
            .map(|p| p.code.clone())
            .filter(|c| !c.is_empty());
        let message = parsed
            .as_ref()
            .map(|p| scrub(&p.message, secrets))
            .filter(|m| !m.is_empty())
            .or_else(|| {
                // Not an STS error document (a proxy, a load balancer): quote its start.
                let start = scrub(body, secrets);
                (!start.is_empty() && parsed.is_none()).then(|| {
                    let cut: String = start.chars().take(120).collect();
                    format!("non-STS answer: {cut}")
                })
            });
        let source = CredentialsServiceError {
            service: "STS",
            operation,
            status,
            code: code.clone(),
            message,
            request_id: parsed.and_then(|p| p.request_id),
        };
        let hint = sts_hint(operation, status, code.as_deref(), role_arn);
        Error::credentials_with_source(self.provider, format!("{what} failed; {hint}"), source)
    }
}

fn sts_hint(operation: &str, status: u16, code: Option<&str>, role_arn: &str) -> String {
    let web = operation == "AssumeRoleWithWebIdentity";
    match code {
        Some("AccessDenied") if web => format!(
            "check that the trust policy of {role_arn} allows sts:AssumeRoleWithWebIdentity for \
             this identity provider, and the token's subject and audience (for EKS: the service \
             account's namespace and name, audience sts.amazonaws.com)"
        ),
        Some("AccessDenied") => format!(
            "check that the trust policy of {role_arn} allows the source identity to call \
             sts:AssumeRole (and its ExternalId condition, `external_id`), that the source \
             identity's own policy allows sts:AssumeRole on it, and that the source secret key \
             is right (Ceph RGW answers a bad signature with AccessDenied)"
        ),
        Some("ExpiredTokenException" | "ExpiredToken") if web => {
            "the web identity token has expired; the token file is read again on every refresh, \
             so check that whatever writes it (on Kubernetes the projected service account token) \
             keeps it current"
                .to_owned()
        }
        Some("ExpiredTokenException" | "ExpiredToken" | "InvalidToken") => {
            "the session token of the source credentials has expired or is invalid; refresh them \
             (or remove a stale aws_session_token / AWS_SESSION_TOKEN)"
                .to_owned()
        }
        Some("InvalidIdentityToken") => {
            "STS refused the web identity token: check that the token file holds a current OIDC \
             token, that the identity provider (its issuer URL) is registered in IAM for this \
             account, and that the token's audience is one the provider accepts"
                .to_owned()
        }
        Some("IDPRejectedClaim") => {
            "the identity provider rejected the token's claims; check the role's trust policy \
             conditions"
                .to_owned()
        }
        Some("IDPCommunicationError") => {
            "STS could not reach the identity provider to verify the token; try again later"
                .to_owned()
        }
        Some("InvalidClientTokenId" | "SignatureDoesNotMatch" | "IncompleteSignature") => {
            "STS does not accept the source credentials: check the access key and secret of the \
             source profile or environment, and that AWS_ENDPOINT_URL_STS points at the service \
             that issued them"
                .to_owned()
        }
        Some("RegionDisabledException") => {
            "STS is not activated in this region for the account: activate it in IAM, or use \
             another region (AWS_REGION) or AWS_STS_REGIONAL_ENDPOINTS=legacy"
                .to_owned()
        }
        Some("ValidationError" | "InvalidParameterValue" | "MalformedInput") => format!(
            "check `role_arn` ({role_arn}), `role_session_name` and `duration_seconds` (900 to \
             43200 seconds, at most the role's maximum session duration)"
        ),
        Some("Throttling" | "ThrottlingException") => {
            "STS is throttling requests (retried 3 times); try again later".to_owned()
        }
        _ if status >= 500 => "STS failed (retried 3 times); try again later".to_owned(),
        _ if status == 403 => format!(
            "access was denied: check the trust policy of {role_arn} and the source credentials"
        ),
        _ => "check the role settings and the STS endpoint (AWS_ENDPOINT_URL_STS, AWS_REGION)"
            .to_owned(),
    }
}

fn into_credentials(parsed: AssumeRoleResponse, provider: &'static str) -> Credentials {
    let c = parsed.credentials;
    let expires_at = c.expiration.to_system_time();
    Credentials::new(
        c.access_key_id,
        SecretString::from(c.secret_access_key),
        Some(SecretString::from(c.session_token)),
        expires_at,
    )
    .with_provider(provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::credentials::test_env;

    fn resolve(
        pairs: &[(&'static str, &str)],
        profile: &ProfileStsSettings,
        hint: Option<&str>,
    ) -> Result<StsEndpoint, Error> {
        StsEndpoint::resolve(&EnvRef::new(test_env(pairs)), profile, hint, "test")
    }

    fn ep(url: &str, region: &str) -> StsEndpoint {
        StsEndpoint {
            url: url.to_owned(),
            signing_region: region.to_owned(),
        }
    }

    /// One resolution: the environment, the profile's settings and the caller's region hint,
    /// then the endpoint URL and signing region they must give.
    type Case<'a> = (
        &'a [(&'static str, &'a str)],
        &'a ProfileStsSettings,
        Option<&'a str>,
        &'a str,
        &'a str,
    );

    #[test]
    fn endpoints() {
        let none = ProfileStsSettings::default();
        let with_region = ProfileStsSettings {
            region: Some("ca-west-1".into()),
            ..ProfileStsSettings::default()
        };
        let legacy = ProfileStsSettings {
            region: Some("us-west-2".into()),
            sts_regional_endpoints: Some("legacy".into()),
            ..ProfileStsSettings::default()
        };
        let with_url = ProfileStsSettings {
            endpoint_url: Some("http://localhost:4566".into()),
            ..ProfileStsSettings::default()
        };
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            // Regional by default.
            (&[("AWS_REGION", "eu-west-1")], &none, None, "https://sts.eu-west-1.amazonaws.com", "eu-west-1"),
            (&[("AWS_DEFAULT_REGION", "us-east-1")], &none, Some("eu-west-3"), "https://sts.us-east-1.amazonaws.com", "us-east-1"),
            // The caller's hint (the driver's region) is the last resort.
            (&[], &none, Some("ap-south-2"), "https://sts.ap-south-2.amazonaws.com", "ap-south-2"),
            (&[], &with_region, Some("eu-west-3"), "https://sts.ca-west-1.amazonaws.com", "ca-west-1"),
            (&[("AWS_REGION", "cn-north-1")], &none, None, "https://sts.cn-north-1.amazonaws.com.cn", "cn-north-1"),
            // Each partition's suffix, the same table the S3 endpoints use.
            (&[("AWS_REGION", "us-iso-east-1")], &none, None, "https://sts.us-iso-east-1.c2s.ic.gov", "us-iso-east-1"),
            (&[("AWS_REGION", "us-isob-east-1")], &none, None, "https://sts.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1"),
            (&[("AWS_REGION", "eu-isoe-west-1")], &none, None, "https://sts.eu-isoe-west-1.cloud.adc-e.uk", "eu-isoe-west-1"),
            (&[("AWS_REGION", "us-gov-west-1"), ("AWS_USE_FIPS_ENDPOINT", "true")], &none, None,
                "https://sts-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
            // No region at all: the global endpoint.
            (&[], &none, None, "https://sts.amazonaws.com", "us-east-1"),
            // Legacy mode.
            (&[("AWS_REGION", "eu-west-1"), ("AWS_STS_REGIONAL_ENDPOINTS", "legacy")], &none, None,
                "https://sts.amazonaws.com", "us-east-1"),
            // Regions opened later were always regional.
            (&[("AWS_REGION", "eu-south-1"), ("AWS_STS_REGIONAL_ENDPOINTS", "LEGACY")], &none, None,
                "https://sts.eu-south-1.amazonaws.com", "eu-south-1"),
            (&[], &legacy, None, "https://sts.amazonaws.com", "us-east-1"),
            // The environment wins over the profile.
            (&[("AWS_STS_REGIONAL_ENDPOINTS", "regional")], &legacy, None,
                "https://sts.us-west-2.amazonaws.com", "us-west-2"),
            // Endpoint overrides.
            (&[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000/"), ("AWS_ENDPOINT_URL", "http://other")], &none, None,
                "http://127.0.0.1:5000", "us-east-1"),
            (&[("AWS_ENDPOINT_URL", "https://sts.private.example"), ("AWS_REGION", "eu-west-1")], &none, None,
                "https://sts.private.example", "eu-west-1"),
            (&[], &with_url, None, "http://localhost:4566", "us-east-1"),
            (&[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"), ("AWS_ENDPOINT_URL_STS", "http://x")], &with_url, None,
                "https://sts.amazonaws.com", "us-east-1"),
        ];
        for &(pairs, profile, hint, url, region) in cases {
            assert_eq!(
                resolve(pairs, profile, hint).unwrap(),
                ep(url, region),
                "{pairs:?}, {profile:?}, hint {hint:?}"
            );
        }
    }

    #[test]
    fn refused_settings() {
        let none = ProfileStsSettings::default();
        let e = resolve(&[("AWS_STS_REGIONAL_ENDPOINTS", "global")], &none, None).unwrap_err();
        assert!(e.to_string().contains("use `regional`"), "{e}");
        for bad in [
            "not a url",
            "ftp://host",
            "http://host/?x=1",
            "file:///etc/passwd",
        ] {
            let e = resolve(&[("AWS_ENDPOINT_URL_STS", bad)], &none, None).unwrap_err();
            assert!(e.to_string().contains("AWS_ENDPOINT_URL_STS"), "{bad}: {e}");
        }
        for bad in ["EU-WEST-1", "eu west", "eu-west-1.evil.com/", "-x"] {
            let e = resolve(&[("AWS_REGION", bad)], &none, None).unwrap_err();
            assert!(e.to_string().contains("not a region name"), "{bad}: {e}");
        }
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form(&[("A", "x y+z/=&"), ("B", "arn:aws:iam::1:role/r")]),
            "A=x%20y%2Bz%2F%3D%26&B=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr"
        );
    }

    #[test]
    fn validators() {
        assert!(check_session_name("ok-name_1.@=,+", "s", "t").is_ok());
        for bad in ["a", "has space", &"x".repeat(65), "é-name"] {
            assert!(
                check_session_name(bad, "role_session_name", "t").is_err(),
                "{bad}"
            );
        }
        assert!(check_role_arn("arn:aws:iam::123456789012:role/a/b", "role_arn", "t").is_ok());
        assert!(check_role_arn("arn:aws-cn:iam::123456789012:role/x", "role_arn", "t").is_ok());
        for bad in [
            "role/x",
            "arn:aws:iam::123:user/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123:role/",
            "arn:aws:iam::123:role/x y",
        ] {
            let e = check_role_arn(bad, "role_arn", "t").unwrap_err();
            assert!(e.to_string().contains("role_arn"), "{bad}: {e}");
        }
        let name = default_session_name();
        assert!(name.starts_with("s3driver-"));
        assert!(check_session_name(&name, "s", "t").is_ok());
    }

    #[test]
    fn scrub_removes_secrets_and_bounds_length() {
        assert_eq!(
            scrub("bad token eyJhbGci here\n", &["eyJhbGci"]),
            "bad token *** here"
        );
        assert_eq!(
            scrub("short ab", &["ab"]),
            "short ab",
            "tiny secrets are not searched"
        );
        let long = "x".repeat(2000);
        assert_eq!(scrub(&long, &[]).chars().count(), MAX_MESSAGE + 3);
    }

    #[test]
    fn hints_name_the_fix() {
        let arn = "arn:aws:iam::1:role/r";
        assert!(sts_hint("AssumeRole", 403, Some("AccessDenied"), arn)
            .contains("trust policy of arn:aws:iam::1:role/r"));
        assert!(sts_hint(
            "AssumeRoleWithWebIdentity",
            400,
            Some("ExpiredTokenException"),
            arn
        )
        .contains("token file is read again"));
        assert!(
            sts_hint("AssumeRole", 400, Some("ExpiredToken"), arn).contains("source credentials")
        );
        assert!(sts_hint(
            "AssumeRoleWithWebIdentity",
            400,
            Some("InvalidIdentityToken"),
            arn
        )
        .contains("identity provider"));
        assert!(sts_hint("AssumeRole", 503, None, arn).contains("try again"));
        let e = CredentialsServiceError {
            service: "STS",
            operation: "AssumeRole",
            status: 403,
            code: Some("AccessDenied".into()),
            message: Some("not allowed".into()),
            request_id: Some("r-1".into()),
        };
        assert_eq!(
            e.to_string(),
            "STS AssumeRole returned HTTP 403 AccessDenied: not allowed [request id r-1]"
        );
        let outer = Error::credentials_with_source("assume-role", "x failed", e.clone());
        assert_eq!(outer.credentials_service_error(), Some(&e));
        assert_eq!(
            Error::credentials("p", "m").credentials_service_error(),
            None
        );
    }
}
