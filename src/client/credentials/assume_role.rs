use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::http::HttpClients;
use super::sts::{
    check_duration_seconds, check_role_arn, check_session_name, default_session_name,
    AssumeRoleParams, ProfileStsSettings,
};
use super::{Credentials, Env, EnvRef, ProvideCredentials};
use crate::client::error::{Error, ErrorKind};

const PROVIDER: &str = "assume-role";

/// Credentials for a role assumed with other credentials: STS `AssumeRole`, signed with
/// SigV4 by [`crate::sign::v4`] using the source provider's credentials.
///
/// [`ProfileProvider`](super::ProfileProvider) builds these from profiles with `role_arn` and
/// `source_profile` or `credential_source`; they can also be composed by hand:
///
/// ```no_run
/// # use std::sync::Arc;
/// use s3driver::client::credentials::{
///     AssumeRoleProvider, CachingProvider, EnvironmentProvider, ProcessEnv,
/// };
/// let env = Arc::new(ProcessEnv);
/// let provider = CachingProvider::new(
///     AssumeRoleProvider::new(
///         EnvironmentProvider::new(env.clone()),
///         "arn:aws:iam::123456789012:role/registry",
///         env,
///     )
///     .with_external_id("registry-external-id"),
/// );
/// ```
pub struct AssumeRoleProvider {
    source: Box<dyn ProvideCredentials>,
    role_arn: String,
    session_name: Option<String>,
    external_id: Option<String>,
    duration_seconds: Option<u32>,
    env: EnvRef,
    profile_sts: ProfileStsSettings,
    region_hint: Option<String>,
    origin: String,
    http: HttpClients,
}

impl fmt::Debug for AssumeRoleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleProvider")
            .field("source", &self.source)
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("external_id", &self.external_id.as_ref().map(|_| "***"))
            .field("duration_seconds", &self.duration_seconds)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl AssumeRoleProvider {
    shared_setters!(region_hint, http, profile_sts, sts);

    /// Assumes `role_arn` with the credentials of `source`; `env` gives the STS endpoint
    /// settings (`AWS_ENDPOINT_URL_STS`, `AWS_REGION`, `AWS_STS_REGIONAL_ENDPOINTS`, ...).
    pub fn new(
        source: impl ProvideCredentials + 'static,
        role_arn: impl Into<String>,
        env: Arc<dyn Env>,
    ) -> Self {
        Self {
            source: Box::new(source),
            role_arn: role_arn.into(),
            session_name: None,
            external_id: None,
            duration_seconds: None,
            env: EnvRef::new(env),
            profile_sts: ProfileStsSettings::default(),
            region_hint: None,
            origin: "configuration".to_owned(),
            http: HttpClients::new(),
        }
    }

    /// `RoleSessionName` (default `s3driver-<unix ms>`).
    #[must_use]
    pub fn with_session_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = Some(name.into());
        self
    }

    /// `ExternalId`, when the role's trust policy asks for one.
    #[must_use]
    pub fn with_external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// `DurationSeconds` (900 to 43200; STS's default is one hour).
    #[must_use]
    pub fn with_duration_seconds(mut self, seconds: u32) -> Self {
        self.duration_seconds = Some(seconds);
        self
    }

    /// Where the role settings came from, for messages (`profile "dev"`).
    #[must_use]
    pub(crate) fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    fn params(&self) -> Result<AssumeRoleParams, Error> {
        check_role_arn(
            &self.role_arn,
            &format!("role_arn of {}", self.origin),
            PROVIDER,
        )?;
        let session_name = match &self.session_name {
            Some(n) => {
                check_session_name(
                    n,
                    &format!("role_session_name of {}", self.origin),
                    PROVIDER,
                )?;
                n.clone()
            }
            None => default_session_name(),
        };
        check_duration_seconds(self.duration_seconds, &self.origin, PROVIDER)?;
        if let Some(x) = &self.external_id {
            if x.len() < 2 || x.len() > 1224 || x.chars().any(char::is_control) {
                return Err(Error::credentials(
                    PROVIDER,
                    format!(
                        "external_id of {} must be 2 to 1224 characters without control characters",
                        self.origin
                    ),
                ));
            }
        }
        Ok(AssumeRoleParams {
            role_arn: self.role_arn.clone(),
            session_name,
            external_id: self.external_id.clone(),
            duration_seconds: self.duration_seconds,
        })
    }
}

/// Turns a "nothing to load" error of a source into a hard one: a role that names a source
/// needs it.
pub(crate) fn require_source(e: Error, context: &str) -> Error {
    if !e.is_credentials_not_loaded() {
        return e;
    }
    match e.kind() {
        ErrorKind::Credentials {
            provider, message, ..
        } => Error::credentials(provider, format!("{context}, but: {message}")),
        _ => e,
    }
}

#[async_trait]
impl ProvideCredentials for AssumeRoleProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let params = self.params()?;
        let source = self.source.provide_credentials().await.map_err(|e| {
            require_source(
                e,
                &format!(
                    "assuming {} ({}) needs source credentials",
                    self.role_arn, self.origin
                ),
            )
        })?;
        let sts = self.sts()?;
        let creds = sts.assume_role(&source, &params).await?;
        Ok(creds.with_description(format!(
            "role {} ({}), STS {}, from {}",
            self.role_arn,
            self.origin,
            sts.endpoint().url,
            source.source()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::credentials::{test_env, StaticProvider};

    fn env() -> Arc<dyn Env> {
        test_env(&[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")])
    }

    #[tokio::test]
    async fn settings_are_checked_before_any_request() {
        let src = || StaticProvider::from_keys("AKID", "SECRETKEY", None);
        let cases = [
            (
                AssumeRoleProvider::new(src(), "nope", env()),
                "role_arn of configuration \"nope\"",
            ),
            (
                AssumeRoleProvider::new(src(), "arn:aws:iam::1:role/r", env())
                    .with_duration_seconds(60),
                "900 to 43200",
            ),
            (
                AssumeRoleProvider::new(src(), "arn:aws:iam::1:role/r", env())
                    .with_session_name("x"),
                "role_session_name",
            ),
            (
                AssumeRoleProvider::new(src(), "arn:aws:iam::1:role/r", env())
                    .with_external_id("a\nb"),
                "external_id",
            ),
        ];
        for (p, want) in cases {
            let e = p.provide_credentials().await.unwrap_err();
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }

    #[tokio::test]
    async fn a_missing_source_is_an_error_not_a_skip() {
        let p = AssumeRoleProvider::new(
            StaticProvider::from_keys("", "", None),
            "arn:aws:iam::1:role/r",
            env(),
        )
        .with_origin("profile \"dev\"");
        let e = p.provide_credentials().await.unwrap_err();
        assert!(!e.is_credentials_not_loaded());
        assert!(
            e.to_string().contains(
                "assuming arn:aws:iam::1:role/r (profile \"dev\") needs source credentials, but"
            ),
            "{e}"
        );
        let debug = format!(
            "{:?}",
            AssumeRoleProvider::new(
                StaticProvider::from_keys("AKID", "SECRETKEY", None),
                "arn:aws:iam::1:role/r",
                env()
            )
            .with_external_id("ext-secret")
        );
        assert!(
            !debug.contains("SECRETKEY") && !debug.contains("ext-secret"),
            "{debug}"
        );
    }
}
