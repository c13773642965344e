use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use super::http::HttpClients;
use super::sts::{
    check_duration_seconds, check_role_arn, check_session_name, default_session_name,
    ProfileStsSettings,
};
use super::{Credentials, Env, EnvRef, ProvideCredentials, SecretString};
use crate::client::error::Error;

const PROVIDER: &str = "web-identity";

/// Longest token file read (real tokens are a few KiB).
const MAX_TOKEN_BYTES: u64 = 64 * 1024;

/// What [`WebIdentityProvider`] assumes, when not read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebIdentitySettings {
    /// The role to assume (`role_arn`).
    pub role_arn: String,
    /// The file holding the OIDC token (`web_identity_token_file`), read on every call.
    pub token_file: PathBuf,
    /// `role_session_name`; `s3driver-<unix ms>` when `None`.
    pub session_name: Option<String>,
    /// `duration_seconds` (STS's default, one hour, when `None`).
    pub duration_seconds: Option<u32>,
    /// Where the settings came from, for messages (`profile "dev"`).
    pub origin: String,
}

impl WebIdentitySettings {
    /// Settings to assume `role_arn` with the token in `token_file`; no session name, STS's
    /// default duration.
    pub fn new(role_arn: impl Into<String>, token_file: impl Into<PathBuf>) -> Self {
        Self {
            role_arn: role_arn.into(),
            token_file: token_file.into(),
            session_name: None,
            duration_seconds: None,
            origin: "the WebIdentitySettings".to_owned(),
        }
    }
}

setters!(WebIdentitySettings {
    /// Sets `role_session_name`.
    with_session_name => session_name: impl Into<String> as Some,
    /// Sets `duration_seconds`.
    with_duration_seconds => duration_seconds: u32 as Some,
    /// Sets where the settings came from, for messages.
    with_origin => origin: impl Into<String>,
});

/// Credentials for a role assumed with a web identity (OIDC) token: IAM Roles for Service
/// Accounts on EKS (IRSA), and any other OIDC federation.
///
/// Settings come from the environment (`AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE`,
/// optional `AWS_ROLE_SESSION_NAME`, as the EKS pod identity webhook sets them) or from a profile
/// (`role_arn` + `web_identity_token_file`, optional `role_session_name` and
/// `duration_seconds`; see [`ProfileProvider`](super::ProfileProvider)). Every call reads the
/// token file again (Kubernetes rotates the projected token, typically every hour) and calls
/// STS `AssumeRoleWithWebIdentity`, unsigned; wrap the provider in a
/// [`CachingProvider`](super::CachingProvider), as the default chain does, so that happens
/// only when the temporary credentials near their expiry. The STS endpoint is resolved as
/// [the STS section of the module docs](super#sts-for-the-role-providers) describes
/// (`AWS_ENDPOINT_URL_STS`, `AWS_REGION`, ...).
#[derive(Debug, Clone)]
pub struct WebIdentityProvider {
    env: EnvRef,
    settings: Option<WebIdentitySettings>,
    profile_sts: ProfileStsSettings,
    region_hint: Option<String>,
    http: HttpClients,
}

impl WebIdentityProvider {
    shared_setters!(region_hint, http, profile_sts, sts);

    /// Reads `AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_SESSION_NAME` from
    /// `env` on every call; finds nothing to load ("not loaded") when they are not set.
    pub fn new(env: Arc<dyn Env>) -> Self {
        Self {
            env: EnvRef::new(env),
            settings: None,
            profile_sts: ProfileStsSettings::default(),
            region_hint: None,
            http: HttpClients::new(),
        }
    }

    /// Assumes the role of `settings` (`env` still gives the STS endpoint settings).
    pub fn with_settings(env: Arc<dyn Env>, settings: WebIdentitySettings) -> Self {
        Self {
            settings: Some(settings),
            ..Self::new(env)
        }
    }

    fn settings(&self) -> Result<WebIdentitySettings, Error> {
        if let Some(s) = &self.settings {
            return Ok(s.clone());
        }
        let role = self.env.get("AWS_ROLE_ARN");
        let file = self.env.get("AWS_WEB_IDENTITY_TOKEN_FILE");
        match (role, file) {
            (Some(role_arn), Some(file)) => Ok(WebIdentitySettings {
                role_arn,
                token_file: PathBuf::from(file),
                session_name: self.env.get("AWS_ROLE_SESSION_NAME"),
                duration_seconds: None,
                origin: "environment".to_owned(),
            }),
            (None, None) => Err(Error::credentials_not_loaded(
                PROVIDER,
                "AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN are not set",
            )),
            (Some(_), None) => Err(Error::credentials_not_loaded(
                PROVIDER,
                "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not",
            )),
            (None, Some(_)) => Err(Error::credentials(
                PROVIDER,
                "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not; set AWS_ROLE_ARN to \
                 the role to assume (on EKS the pod identity webhook sets both from the service \
                 account's eks.amazonaws.com/role-arn annotation)",
            )),
        }
    }
}

/// Names the setting that holds the token file path, for messages.
fn file_setting(s: &WebIdentitySettings) -> String {
    if s.origin == "environment" {
        "AWS_WEB_IDENTITY_TOKEN_FILE".to_owned()
    } else {
        format!("web_identity_token_file of {}", s.origin)
    }
}

/// Reads the token file: trimmed, not empty, no control characters, at most 64 KiB.
async fn read_token(s: &WebIdentitySettings) -> Result<SecretString, Error> {
    let path = &s.token_file;
    let setting = file_setting(s);
    let meta = tokio::fs::metadata(path).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            "; on Kubernetes check that the projected service account token volume is mounted \
             there"
        } else {
            ""
        };
        Error::credentials_with_source(
            PROVIDER,
            format!(
                "cannot read the web identity token file {} ({setting}){hint}",
                path.display()
            ),
            e,
        )
    })?;
    if meta.len() > MAX_TOKEN_BYTES {
        return Err(Error::credentials(
            PROVIDER,
            format!(
                "the web identity token file {} ({setting}) is {} bytes, more than a token can be \
                 ({MAX_TOKEN_BYTES}); check the path",
                path.display(),
                meta.len()
            ),
        ));
    }
    let bytes = tokio::fs::read(path).await.map_err(|e| {
        Error::credentials_with_source(
            PROVIDER,
            format!(
                "cannot read the web identity token file {} ({setting})",
                path.display()
            ),
            e,
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::credentials(
            PROVIDER,
            format!(
                "the web identity token file {} ({setting}) is not UTF-8 text",
                path.display()
            ),
        )
    })?;
    let token = SecretString::from(text.trim().to_owned());
    drop(text);
    if token.is_empty() {
        return Err(Error::credentials(
            PROVIDER,
            format!(
                "the web identity token file {} ({setting}) is empty",
                path.display()
            ),
        ));
    }
    if token.expose_secret().chars().any(char::is_control) {
        return Err(Error::credentials(
            PROVIDER,
            format!(
                "the web identity token file {} ({setting}) holds more than one line; it must \
                 hold the token alone",
                path.display()
            ),
        ));
    }
    Ok(token)
}

#[async_trait]
impl ProvideCredentials for WebIdentityProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let s = self.settings()?;
        let role_setting = if s.origin == "environment" {
            "AWS_ROLE_ARN".to_owned()
        } else {
            format!("role_arn of {}", s.origin)
        };
        check_role_arn(&s.role_arn, &role_setting, PROVIDER)?;
        let session_name = match &s.session_name {
            Some(n) => {
                let setting = if s.origin == "environment" {
                    "AWS_ROLE_SESSION_NAME".to_owned()
                } else {
                    format!("role_session_name of {}", s.origin)
                };
                check_session_name(n, &setting, PROVIDER)?;
                n.clone()
            }
            None => default_session_name(),
        };
        check_duration_seconds(s.duration_seconds, &s.origin, PROVIDER)?;
        let token = read_token(&s).await?;
        let sts = self.sts()?;
        let token_source = format!("{} ({})", s.token_file.display(), file_setting(&s));
        let creds = sts
            .assume_role_with_web_identity(
                &s.role_arn,
                &session_name,
                &token,
                s.duration_seconds,
                &token_source,
            )
            .await?;
        Ok(creds.with_description(format!(
            "role {} with the token in {} ({}), STS {}",
            s.role_arn,
            s.token_file.display(),
            s.origin,
            sts.endpoint().url
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::credentials::test_env;

    #[tokio::test]
    async fn environment_settings() {
        let e = WebIdentityProvider::new(test_env(&[]))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(e.is_credentials_not_loaded());
        let e = WebIdentityProvider::new(test_env(&[("AWS_ROLE_ARN", "arn:aws:iam::1:role/r")]))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(e.is_credentials_not_loaded());
        assert!(
            e.to_string().contains("AWS_WEB_IDENTITY_TOKEN_FILE is not"),
            "{e}"
        );
        let e = WebIdentityProvider::new(test_env(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")]))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(!e.is_credentials_not_loaded());
        assert!(e.to_string().contains("set AWS_ROLE_ARN"), "{e}");
    }

    #[tokio::test]
    async fn bad_settings_are_refused_before_any_request() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.payload.sig\n").unwrap();
        let path = token.to_str().unwrap();
        // An STS endpoint nobody listens on: reaching it would fail differently.
        let sts = ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9");
        let cases: Vec<(Vec<(&'static str, &str)>, &str)> = vec![
            (
                vec![
                    ("AWS_ROLE_ARN", "my-role"),
                    ("AWS_WEB_IDENTITY_TOKEN_FILE", path),
                    sts,
                ],
                "AWS_ROLE_ARN \"my-role\" is not a role ARN",
            ),
            (
                vec![
                    ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                    ("AWS_WEB_IDENTITY_TOKEN_FILE", path),
                    ("AWS_ROLE_SESSION_NAME", "has spaces"),
                    sts,
                ],
                "AWS_ROLE_SESSION_NAME",
            ),
            (
                vec![
                    ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                    ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"),
                    sts,
                ],
                "projected service account token volume",
            ),
        ];
        for (pairs, want) in cases {
            let e = WebIdentityProvider::new(test_env(&pairs))
                .provide_credentials()
                .await
                .unwrap_err();
            assert!(e.to_string().contains(want), "{want}: {e}");
            assert!(!e.to_string().contains("payload.sig"), "{e}");
        }
        for (content, want) in [
            ("", "is empty"),
            ("  \n", "is empty"),
            ("tok\nen", "more than one line"),
        ] {
            std::fs::write(&token, content).unwrap();
            let e = WebIdentityProvider::new(test_env(&[
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", path),
                sts,
            ]))
            .provide_credentials()
            .await
            .unwrap_err();
            assert!(e.to_string().contains(want), "{content:?}: {e}");
        }
        // Settings from a profile: the messages name the profile's settings.
        let from_profile = |duration_seconds| {
            WebIdentityProvider::with_settings(
                test_env(&[sts]),
                WebIdentitySettings {
                    role_arn: "arn:aws:iam::1:role/r".into(),
                    token_file: token.clone(),
                    session_name: None,
                    duration_seconds,
                    origin: "profile \"k8s\"".into(),
                },
            )
        };
        std::fs::write(&token, vec![b'a'; 70 * 1024]).unwrap();
        let e = from_profile(None).provide_credentials().await.unwrap_err();
        assert!(e.to_string().contains("more than a token can be"), "{e}");
        assert!(
            e.to_string()
                .contains("web_identity_token_file of profile \"k8s\""),
            "{e}"
        );
        let e = from_profile(Some(100_000))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("duration_seconds of profile \"k8s\" is 100000"),
            "{e}"
        );
    }
}
