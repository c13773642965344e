//! Credentials and where they come from.
//!
//! * [`SecretString`]: a secret that is redacted in `Debug`, has no `Display`, and is overwritten
//!   with zeros when dropped.
//! * [`Credentials`]: access key id, secret key, optional session token and expiry.
//! * [`ProvideCredentials`]: the async provider trait, with providers modelled on the AWS SDKs':
//!   [`StaticProvider`], [`EnvironmentProvider`], [`WebIdentityProvider`] (IRSA, STS
//!   `AssumeRoleWithWebIdentity`), [`ProfileProvider`] (shared credentials and config files,
//!   including [`AssumeRoleProvider`] chains, web identity, [`SsoProvider`] and
//!   [`ProcessProvider`] profiles), [`ContainerProvider`] (ECS / EKS Pod Identity) and
//!   [`InstanceMetadataProvider`] (EC2 IMDSv2). The STS calls go through the small client in
//!   the crate (endpoint resolution, SigV4 signing with [`crate::sign`], error mapping; see
//!   [STS](#sts-for-the-role-providers) below).
//! * [`DefaultChain`]: environment → web identity → profile files → container → instance
//!   metadata, as aws-sdk-go v1 (used by Distribution) tries them when `accesskey`/`secretkey`
//!   are not set.
//! * [`CachingProvider`]: caches credentials and refreshes them 5 minutes before they expire,
//!   one refresh at a time.
//!
//! Providers read the environment through the [`Env`] trait, so tests pass a `HashMap` instead of
//! mutating the process environment.
//!
//! # STS (for the role providers)
//!
//! A minimal AWS STS client (Query API over HTTPS, XML answers) for the role providers:
//! `AssumeRole` (SigV4-signed by [`crate::sign::v4`], service `sts`) and
//! `AssumeRoleWithWebIdentity` (unsigned: the web identity token is the proof, as AWS
//! specifies).
//!
//! ## Endpoint
//!
//! The first of:
//! 1. `AWS_ENDPOINT_URL_STS`, then `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`
//!    (all ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), signed for the resolved
//!    region (or `us-east-1`);
//! 2. the regional endpoint `https://sts.<region>.amazonaws.com` (`.amazonaws.com.cn` in
//!    China, `sts-fips.` with `AWS_USE_FIPS_ENDPOINT=true`), where the region is
//!    `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, or the region the caller
//!    passes as a hint (the S3 driver's `region`);
//! 3. with `AWS_STS_REGIONAL_ENDPOINTS=legacy` (or the profile's `sts_regional_endpoints`) and
//!    one of the regions that used the global endpoint before 2022, or without any region:
//!    the global endpoint `https://sts.amazonaws.com`, signed for `us-east-1`.
//!
//! ## Errors
//!
//! An STS error answer becomes a credentials error whose message says what to check, with a
//! [`CredentialsServiceError`] as its source carrying the HTTP status, the STS error code,
//! message and request id (find it with [`Error::credentials_service_error`](crate::client::Error::credentials_service_error)). Throttling, 5xx answers and
//! connection failures are retried twice. Messages never contain the secret key, the session
//! token or the web identity token.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

use super::error::Error;

/// The builder setters several providers share, written once. `http`: `with_http` (the
/// chain's shared clients; field `http`). `region_hint`: `with_region_hint` (field
/// `region_hint`, blank is none). `profile_sts`: `with_profile_sts` (field `profile_sts`).
/// `timeouts`: `with_timeouts` (fields `connect_timeout`, `timeout`).
macro_rules! shared_setters {
    ($($what:ident),+) => { $(shared_setters!(@ $what);)+ };
    (@ http) => {
        /// Takes its HTTP client from `http` (shared with the other providers of a chain,
        /// and handed to any provider it builds).
        #[must_use]
        pub(crate) fn with_http(mut self, http: super::http::HttpClients) -> Self {
            self.http = http;
            self
        }
    };
    (@ region_hint) => {
        /// The region to call STS in when neither `AWS_REGION`, `AWS_DEFAULT_REGION` nor the
        /// profile names one (the S3 driver passes its `region`).
        #[must_use]
        pub fn with_region_hint(mut self, region: Option<String>) -> Self {
            self.region_hint = region.filter(|r| !r.trim().is_empty());
            self
        }
    };
    (@ profile_sts) => {
        /// The STS settings of the profile this provider was made from.
        #[must_use]
        pub(crate) fn with_profile_sts(mut self, settings: super::sts::ProfileStsSettings) -> Self {
            self.profile_sts = settings;
            self
        }
    };
    (@ sts) => {
        /// The STS client for this provider's region, endpoint and HTTP client (the module's
        /// `PROVIDER` names it in errors).
        fn sts(&self) -> Result<super::sts::StsClient, crate::client::Error> {
            super::sts::StsClient::for_provider(
                &self.env,
                &self.profile_sts,
                self.region_hint.as_deref(),
                &self.http,
                PROVIDER,
            )
        }
    };
    (@ timeouts) => {
        /// Sets the per-request connect and total timeouts.
        #[must_use]
        pub fn with_timeouts(mut self, connect: Duration, total: Duration) -> Self {
            self.connect_timeout = connect;
            self.timeout = total;
            self
        }
    };
}

mod assume_role;
mod cache;
mod chain;
mod container;
mod http;
mod imds;
mod json;
mod process;
mod profile;
mod sso;
mod sts;
mod web_identity;

pub use assume_role::AssumeRoleProvider;
pub use cache::{CachingProvider, Clock};
pub use chain::DefaultChain;
pub use container::ContainerProvider;
pub use imds::InstanceMetadataProvider;
pub use process::ProcessProvider;
pub use profile::ProfileProvider;
pub use sso::{SsoProvider, SsoSettings};
pub use sts::CredentialsServiceError;
pub use web_identity::{WebIdentityProvider, WebIdentitySettings};

/// The credentials an S3 client uses when no static keys are configured: the
/// [`DefaultChain`] over `env`, cached and refreshed by a [`CachingProvider`].
pub fn default_provider(env: Arc<dyn Env>) -> CachingProvider<DefaultChain> {
    CachingProvider::new(DefaultChain::new(env))
}

/// [`default_provider`] with the S3 `region` as the last resort for the STS region (see
/// [`DefaultChain::with_region_hint`]).
pub(crate) fn default_provider_for_region(
    env: Arc<dyn Env>,
    region: Option<String>,
) -> CachingProvider<DefaultChain> {
    CachingProvider::new(DefaultChain::with_region_hint(env, region))
}

/// A secret string: redacted `Debug`, no `Display`, zeroed on drop.
///
/// Zeroing is best effort without `unsafe`: the buffer this value owns (its full capacity) is
/// overwritten when it is dropped, but copies made before it was wrapped (e.g. by a reallocating
/// `String` or an HTTP body buffer) are outside its control.
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Use it only to sign or send a request, never to print.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// `true` if the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(\"***\")")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        let cap = bytes.capacity();
        // Zero the spare capacity too (no reallocation: len <= cap).
        bytes.resize(cap, 0);
        std::hint::black_box(&bytes);
    }
}

/// AWS credentials, owned, with their expiry: what providers return. The signer borrows them
/// as [`crate::sign::SigningCredentials`].
///
/// `Debug` shows the access key id (not a secret), redacts the secret key and session token.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret: SecretString,
    session_token: Option<SecretString>,
    expires_at: Option<SystemTime>,
    provider: &'static str,
    description: Option<Arc<str>>,
}

impl Credentials {
    /// Credentials from their parts; an empty session token counts as none.
    pub fn new(
        access_key_id: impl Into<String>,
        secret: impl Into<SecretString>,
        session_token: Option<SecretString>,
        expires_at: Option<SystemTime>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret: secret.into(),
            session_token: session_token.filter(|t| !t.is_empty()),
            expires_at,
            provider: "static",
            description: None,
        }
    }

    /// Records which provider produced these credentials (shown in `Debug`).
    #[must_use]
    pub fn with_provider(mut self, provider: &'static str) -> Self {
        self.provider = provider;
        self
    }

    /// Records where the credentials came from, in words (`role arn:... (profile "dev")`);
    /// shown by [`Credentials::source`] and `s3driver check`. Never put a secret in it.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(Arc::from(description.into()));
        self
    }

    /// The description set with [`Credentials::with_description`].
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Which source supplied these credentials, for people: the provider, and its
    /// description when there is one (`assume-role: role arn:... (profile "dev") from ...`).
    pub fn source(&self) -> String {
        match &self.description {
            Some(d) => format!("{}: {d}", self.provider),
            None => self.provider.to_owned(),
        }
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key. Only the signer should call this.
    pub fn secret(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The session token of temporary credentials (sent as `x-amz-security-token`).
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_ref().map(SecretString::expose_secret)
    }

    /// When temporary credentials expire; `None` for long-term keys.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The provider that produced these credentials (`"static"`, `"environment"`, `"profile"`,
    /// `"container"`, `"imds"`, `"web-identity"`, `"assume-role"`, `"process"`, `"sso"`).
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// `true` if the credentials have an expiry at or before `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &self.secret)
            .field("session_token", &self.session_token)
            .field("expires_at", &self.expires_at)
            .field("provider", &self.provider)
            .field("description", &self.description)
            .finish()
    }
}

/// Something that can produce credentials.
#[async_trait]
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    /// Loads (or returns cached) credentials.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Credentials`](super::ErrorKind::Credentials): with `not_loaded = true` when the
    /// provider found nothing to load (a chain then tries the next provider), `false` when it
    /// found broken configuration or its source failed.
    async fn provide_credentials(&self) -> Result<Credentials, Error>;
}

#[async_trait]
impl<T: ProvideCredentials + ?Sized> ProvideCredentials for Arc<T> {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        (**self).provide_credentials().await
    }
}

#[async_trait]
impl<T: ProvideCredentials + ?Sized> ProvideCredentials for Box<T> {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        (**self).provide_credentials().await
    }
}

/// Read access to environment variables, injectable for tests.
pub trait Env: Send + Sync {
    /// The value of `key`, if set.
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment (`std::env::var`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}

impl Env for HashMap<&'static str, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}

/// An environment holding just `pairs`, for the providers' tests.
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&'static str, &str)]) -> Arc<dyn Env> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect::<HashMap<&'static str, String>>(),
    )
}

/// A shared [`Env`] whose `Debug` never prints variable values (they may hold secrets).
#[derive(Clone)]
pub(crate) struct EnvRef(Arc<dyn Env>);

impl EnvRef {
    pub(crate) fn new(env: Arc<dyn Env>) -> Self {
        Self(env)
    }

    /// The value of `key`, treating an empty (or all-whitespace) value as unset, trimmed.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.0
            .var(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The shared environment itself (to build other providers on it).
    pub(crate) fn arc(&self) -> Arc<dyn Env> {
        Arc::clone(&self.0)
    }

    /// The first of `keys` that is set, with its name.
    pub(crate) fn first(&self, keys: &[&'static str]) -> Option<(&'static str, String)> {
        keys.iter().find_map(|k| self.get(k).map(|v| (*k, v)))
    }
}

impl fmt::Debug for EnvRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env(..)")
    }
}

/// Fixed credentials (the driver's `accesskey`/`secretkey`, optionally a session token).
#[derive(Debug, Clone)]
pub struct StaticProvider {
    credentials: Credentials,
}

impl StaticProvider {
    /// Always provides these credentials.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials: credentials.with_provider("static"),
        }
    }

    /// From an access key id, a secret key and an optional session token.
    pub fn from_keys(
        access_key_id: impl Into<String>,
        secret: impl Into<SecretString>,
        session_token: Option<SecretString>,
    ) -> Self {
        Self::new(Credentials::new(access_key_id, secret, session_token, None))
    }
}

#[async_trait]
impl ProvideCredentials for StaticProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let c = &self.credentials;
        match (c.access_key_id.is_empty(), c.secret.is_empty()) {
            (false, false) => Ok(c.clone()),
            (true, true) => Err(Error::credentials_not_loaded(
                "static",
                "no access key id or secret key configured",
            )),
            (true, false) => Err(Error::credentials(
                "static",
                "the secret key is set but the access key id is empty; set `accesskey` too",
            )),
            (false, true) => Err(Error::credentials(
                "static",
                "the access key id is set but the secret key is empty; set `secretkey` too",
            )),
        }
    }
}

const ENV_ACCESS_KEY: &[&str] = &["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"];
const ENV_SECRET_KEY: &[&str] = &["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"];

/// Credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
/// (also the older `AWS_ACCESS_KEY` / `AWS_SECRET_KEY` names, as aws-sdk-go v1 reads them).
#[derive(Debug, Clone)]
pub struct EnvironmentProvider {
    env: EnvRef,
}

impl EnvironmentProvider {
    /// Reads from `env`.
    pub fn new(env: Arc<dyn Env>) -> Self {
        Self {
            env: EnvRef::new(env),
        }
    }
}

#[async_trait]
impl ProvideCredentials for EnvironmentProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let id = self.env.first(ENV_ACCESS_KEY);
        let secret = self.env.first(ENV_SECRET_KEY);
        match (id, secret) {
            (Some((_, id)), Some((_, secret))) => {
                let token = self.env.get("AWS_SESSION_TOKEN").map(SecretString::from);
                Ok(Credentials::new(id, secret, token, None).with_provider("environment"))
            }
            (None, None) => Err(Error::credentials_not_loaded(
                "environment",
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set",
            )),
            (Some((name, _)), None) => Err(Error::credentials(
                "environment",
                format!("{name} is set but AWS_SECRET_ACCESS_KEY is not; set both or neither"),
            )),
            (None, Some((name, _))) => Err(Error::credentials(
                "environment",
                format!("{name} is set but AWS_ACCESS_KEY_ID is not; set both or neither"),
            )),
        }
    }
}

/// Turns the JSON credential document served by IMDS and container endpoints into credentials.
pub(crate) fn credentials_from_json(
    body: &str,
    provider: &'static str,
) -> Result<Credentials, Error> {
    let fields = json::parse_flat_object(body).map_err(|e| {
        Error::credentials(
            provider,
            format!("the credentials response is not valid JSON: {e}"),
        )
    })?;
    if let Some(code) = fields.get("Code") {
        if code != "Success" {
            let msg = fields.get("Message").map_or("", String::as_str);
            return Err(Error::credentials(
                provider,
                format!("the credentials endpoint reported {code:?}: {msg}"),
            ));
        }
    }
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty());
    let (Some(id), Some(secret)) = (get("AccessKeyId"), get("SecretAccessKey")) else {
        return Err(Error::credentials(
            provider,
            "the credentials response lacks AccessKeyId or SecretAccessKey",
        ));
    };
    let token = get("Token").map(|t| SecretString::from(t.as_str()));
    let expires_at = match get("Expiration") {
        Some(e) => Some(json::parse_rfc3339(e).ok_or_else(|| {
            Error::credentials(provider, format!("bad Expiration timestamp {e:?}"))
        })?),
        None => None,
    };
    Ok(Credentials::new(id.as_str(), secret.as_str(), token, expires_at).with_provider(provider))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN";

    #[test]
    fn secret_string_debug_is_redacted() {
        let s = SecretString::new(SECRET);
        assert_eq!(format!("{s:?}"), "SecretString(\"***\")");
        assert_eq!(format!("{s:#?}"), "SecretString(\"***\")");
        assert_eq!(s.expose_secret(), SECRET);
        assert!(!s.is_empty());
        assert!(SecretString::default().is_empty());
    }

    #[test]
    fn credentials_debug_never_shows_secret_or_token() {
        let c = Credentials::new(
            AKID,
            SECRET,
            Some(TOKEN.into()),
            Some(UNIX_EPOCH + Duration::from_secs(10)),
        );
        for out in [format!("{c:?}"), format!("{c:#?}")] {
            assert!(!out.contains(SECRET), "{out}");
            assert!(!out.contains(TOKEN), "{out}");
            assert!(out.contains(AKID), "{out}");
            assert!(out.contains("***"), "{out}");
        }
        assert_eq!(c.secret(), SECRET);
        assert_eq!(c.session_token(), Some(TOKEN));
        assert!(c.is_expired_at(UNIX_EPOCH + Duration::from_secs(10)));
        assert!(!c.is_expired_at(UNIX_EPOCH + Duration::from_secs(9)));
        let p = StaticProvider::new(c);
        assert!(!format!("{p:?}").contains(SECRET));
    }

    #[test]
    fn empty_session_token_is_none() {
        let c = Credentials::new(AKID, SECRET, Some(SecretString::new("")), None);
        assert_eq!(c.session_token(), None);
        assert!(!c.is_expired_at(SystemTime::now()));
    }

    #[tokio::test]
    async fn static_provider() {
        let c = StaticProvider::from_keys(AKID, SECRET, Some(TOKEN.into()))
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(
            (
                c.access_key_id(),
                c.secret(),
                c.session_token(),
                c.provider()
            ),
            (AKID, SECRET, Some(TOKEN), "static")
        );
        let e = StaticProvider::from_keys("", "", None)
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(e.is_credentials_not_loaded());
        let e = StaticProvider::from_keys(AKID, "", None)
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(!e.is_credentials_not_loaded());
        assert!(e.to_string().contains("secretkey"));
        let e = StaticProvider::from_keys("", SECRET, None)
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(e.to_string().contains("accesskey"));
        assert!(!e.to_string().contains(SECRET));
    }

    #[tokio::test]
    async fn environment_provider() {
        let p = EnvironmentProvider::new(test_env(&[
            ("AWS_ACCESS_KEY_ID", AKID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_SESSION_TOKEN", TOKEN),
        ]));
        let c = p.provide_credentials().await.unwrap();
        assert_eq!(c.access_key_id(), AKID);
        assert_eq!(c.secret(), SECRET);
        assert_eq!(c.session_token(), Some(TOKEN));
        assert_eq!(c.provider(), "environment");
        assert!(!format!("{p:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn environment_provider_aliases_and_precedence() {
        let c = EnvironmentProvider::new(test_env(&[
            ("AWS_ACCESS_KEY", "OLDID"),
            ("AWS_SECRET_KEY", "oldsecret"),
        ]))
        .provide_credentials()
        .await
        .unwrap();
        assert_eq!((c.access_key_id(), c.secret()), ("OLDID", "oldsecret"));
        assert_eq!(c.session_token(), None);
        let c = EnvironmentProvider::new(test_env(&[
            ("AWS_ACCESS_KEY", "OLDID"),
            ("AWS_ACCESS_KEY_ID", "NEWID"),
            ("AWS_SECRET_ACCESS_KEY", "new"),
            ("AWS_SECRET_KEY", "old"),
            ("AWS_SESSION_TOKEN", ""),
        ]))
        .provide_credentials()
        .await
        .unwrap();
        assert_eq!((c.access_key_id(), c.secret()), ("NEWID", "new"));
        assert_eq!(c.session_token(), None, "empty token is unset");
    }

    #[tokio::test]
    async fn environment_provider_missing_and_partial() {
        let e = EnvironmentProvider::new(test_env(&[]))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(e.is_credentials_not_loaded());
        let e = EnvironmentProvider::new(test_env(&[
            ("AWS_ACCESS_KEY_ID", AKID),
            ("AWS_SECRET_ACCESS_KEY", " "),
        ]))
        .provide_credentials()
        .await
        .unwrap_err();
        assert!(!e.is_credentials_not_loaded());
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY is not"));
        let e = EnvironmentProvider::new(test_env(&[("AWS_SECRET_KEY", SECRET)]))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET_KEY is set"));
        assert!(!e.to_string().contains(SECRET));
    }

    #[test]
    fn json_credentials_document() {
        let body = r#"{
          "Code" : "Success",
          "LastUpdated" : "2024-05-01T10:00:00Z",
          "Type" : "AWS-HMAC",
          "AccessKeyId" : "ASIAEXAMPLE",
          "SecretAccessKey" : "se\/cret",
          "Token" : "tok",
          "Expiration" : "2024-05-01T16:00:00Z"
        }"#;
        let c = credentials_from_json(body, "imds").unwrap();
        assert_eq!(c.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(c.secret(), "se/cret");
        assert_eq!(c.session_token(), Some("tok"));
        assert_eq!(c.provider(), "imds");
        assert_eq!(
            c.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1_714_579_200))
        );
        let e = credentials_from_json(
            r#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"no"}"#,
            "imds",
        )
        .unwrap_err();
        assert!(e.to_string().contains("AssumeRoleUnauthorizedAccess"));
        let e = credentials_from_json(r#"{"AccessKeyId":"A"}"#, "container").unwrap_err();
        assert!(e.to_string().contains("SecretAccessKey"));
        let e = credentials_from_json("not json", "container").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"));
        let e = credentials_from_json(
            r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"tomorrow"}"#,
            "container",
        )
        .unwrap_err();
        assert!(e.to_string().contains("Expiration"));
        assert!(!e.to_string().contains("\"S\""));
    }
}
