use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use super::assume_role::{require_source, AssumeRoleProvider};
use super::http::HttpClients;
use super::process::ProcessProvider;
use super::sso::{SsoProvider, SsoSettings};
use super::sts::ProfileStsSettings;
use super::web_identity::{WebIdentityProvider, WebIdentitySettings};
use super::{
    ContainerProvider, Credentials, Env, EnvRef, EnvironmentProvider, InstanceMetadataProvider,
    ProvideCredentials, SecretString,
};
use crate::client::error::Error;

const PROVIDER: &str = "profile";

/// A parsed INI file: section name → (lower-cased key → value).
pub(crate) type Sections = HashMap<String, HashMap<String, String>>;

/// Which file a section header comes from (they name profiles differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `[name]`.
    Credentials,
    /// `[profile name]` or `[default]`.
    Config,
}

/// Strips an inline comment: `#` or `;` preceded by whitespace.
fn strip_inline_comment(s: &str) -> &str {
    let b = s.as_bytes();
    for i in 1..b.len() {
        if (b[i] == b'#' || b[i] == b';') && b[i - 1].is_ascii_whitespace() {
            return &s[..i];
        }
    }
    s
}

/// The profile name a section header denotes, or `None` if the section is not a profile.
fn profile_name(header: &str, kind: FileKind) -> Option<String> {
    let header = header.trim();
    match kind {
        FileKind::Credentials => Some(header.to_owned()),
        FileKind::Config => {
            if header == "default" {
                return Some("default".to_owned());
            }
            let rest = header.strip_prefix("profile")?;
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            let name = rest.trim();
            (!name.is_empty()).then(|| name.to_owned())
        }
    }
}

/// The name of an `[sso-session NAME]` section header, or `None`.
fn sso_session_name(header: &str) -> Option<String> {
    let rest = header.trim().strip_prefix("sso-session")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let name = rest.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Parses an AWS-style INI file into profiles (see the module docs for the dialect).
pub(crate) fn parse_ini(text: &str, kind: FileKind) -> Sections {
    parse_ini_with(text, |h| profile_name(h, kind))
}

/// Parses the `[sso-session NAME]` sections of a config file.
pub(crate) fn parse_sso_sessions(text: &str) -> Sections {
    parse_ini_with(text, sso_session_name)
}

/// Parses the sections whose header `name_of` maps to a name.
fn parse_ini_with(text: &str, name_of: impl Fn(&str) -> Option<String>) -> Sections {
    let mut sections: Sections = HashMap::new();
    let mut current: Option<String> = None;
    let mut in_property = false;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if raw.starts_with([' ', '\t']) && in_property {
            // Continuation / sub-property of the previous key: not a top-level key.
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            in_property = false;
            let line = strip_inline_comment(rest).trim_end();
            current = line.strip_suffix(']').and_then(&name_of);
            if let Some(name) = &current {
                sections.entry(name.clone()).or_default();
            }
            continue;
        }
        let Some(section) = &current else {
            continue;
        };
        let split = trimmed.find(['=', ':']);
        let Some(i) = split else {
            in_property = false;
            continue;
        };
        let key = trimmed[..i].trim().to_ascii_lowercase();
        let value = strip_inline_comment(&trimmed[i + 1..]).trim().to_owned();
        if key.is_empty() {
            in_property = false;
            continue;
        }
        in_property = true;
        if let Some(props) = sections.get_mut(section) {
            props.insert(key, value);
        }
    }
    sections
}

/// Credentials from the AWS shared credentials file and config file: static keys, and
/// profiles that get credentials another way (assumed roles, web identity, a credential
/// process, SSO).
///
/// * Credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`; sections are
///   `[name]`.
/// * Config file: `AWS_CONFIG_FILE`, else `~/.aws/config`; sections are `[profile name]`, and
///   `[default]` (other section kinds such as `[sso-session x]` are ignored).
/// * Profile: `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`.
///
/// A profile's keys are those of its config-file section and its credentials-file section,
/// the credentials file winning key by key. What the selected profile supplies, first match:
///
/// 1. `role_arn`: an assumed role ([`AssumeRoleProvider`], STS `AssumeRole`), with its
///    source credentials from exactly one of `source_profile` (another profile, resolved the
///    same way: chains of any length, a loop is an error; in a source profile static keys
///    win over its own `role_arn`, and a profile may name itself to use its own static keys)
///    or `credential_source` (`Environment`, `Ec2InstanceMetadata`, `EcsContainer`); or, with
///    `web_identity_token_file`, a web identity role ([`WebIdentityProvider`]). Optional:
///    `role_session_name`, `external_id`, `duration_seconds`. `mfa_serial` is refused: a
///    registry cannot type an MFA code.
/// 2. Static keys `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token` (or the
///    legacy `aws_security_token`).
/// 3. SSO: `sso_session` (with an `[sso-session NAME]` section) or the legacy `sso_start_url` +
///    `sso_region`, with `sso_account_id` and `sso_role_name` ([`SsoProvider`]).
/// 4. `credential_process` ([`ProcessProvider`]).
///
/// The STS endpoint of every role in a chain is resolved from the selected profile's
/// `region`, `sts_regional_endpoints` and `endpoint_url` (see
/// [the STS section of the module docs](super#sts-for-the-role-providers)).
///
/// The INI dialect is the AWS one, parsed by hand: `#` and `;` start full-line comments, and also
/// inline comments when preceded by whitespace (keys and secrets never contain whitespace);
/// `=` (or `:`) separates key and value, with surrounding whitespace trimmed; key names are
/// case-insensitive, profile names are case-sensitive; indented lines after a property are its
/// continuation (sub-properties like `s3 =\n  max_concurrent_requests = 10`) and are ignored;
/// repeated sections merge, later values win.
#[derive(Debug, Clone)]
pub struct ProfileProvider {
    env: EnvRef,
    profile_override: Option<String>,
    region_hint: Option<String>,
    http: HttpClients,
}

impl ProfileProvider {
    shared_setters!(http, region_hint);

    /// Reads file locations and the profile name from `env`.
    pub fn new(env: Arc<dyn Env>) -> Self {
        Self {
            env: EnvRef::new(env),
            profile_override: None,
            region_hint: None,
            http: HttpClients::new(),
        }
    }

    /// Uses `profile` instead of `AWS_PROFILE`.
    #[must_use]
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile_override = Some(profile.into());
        self
    }

    fn home(&self) -> Option<PathBuf> {
        if let Some(h) = self.env.get("HOME").or_else(|| self.env.get("USERPROFILE")) {
            return Some(PathBuf::from(h));
        }
        match (self.env.get("HOMEDRIVE"), self.env.get("HOMEPATH")) {
            (Some(d), Some(p)) => Some(PathBuf::from(format!("{d}{p}"))),
            _ => None,
        }
    }

    /// `p` with a leading `~` replaced by the home directory.
    fn expand_home(&self, p: &str) -> Option<PathBuf> {
        if let Some(rest) = p.strip_prefix("~/").or_else(|| p.strip_prefix("~\\")) {
            self.home().map(|h| h.join(rest))
        } else if p == "~" {
            self.home()
        } else {
            Some(PathBuf::from(p))
        }
    }

    fn path(&self, var: &str, default_name: &str) -> Option<PathBuf> {
        match self.env.get(var) {
            Some(p) => self.expand_home(&p),
            None => self.home().map(|h| h.join(".aws").join(default_name)),
        }
    }
}

/// Reads `path`; `Ok(None)` if it does not exist.
async fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::credentials_with_source(
            PROVIDER,
            format!("cannot read {}", path.display()),
            e,
        )),
    }
}

/// Both files, read: every profile's keys merged (credentials file winning), and the config
/// file's `[sso-session]` sections.
struct Files {
    profiles: Sections,
    sso_sessions: Sections,
    /// "PATH and PATH", for messages.
    looked_in: String,
    /// The config file, for messages about `[sso-session]` sections.
    config_path: String,
}

/// Credentials handed out as they are (static keys of a profile).
#[derive(Debug)]
struct Fixed(Credentials);

#[async_trait]
impl ProvideCredentials for Fixed {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        Ok(self.0.clone())
    }
}

/// One `role_arn` profile in a chain: the role to assume with the credentials below it.
struct RoleStep {
    profile: String,
    role_arn: String,
    session_name: Option<String>,
    external_id: Option<String>,
    duration_seconds: Option<u32>,
}

/// Keys of a profile, with empty values treated as absent.
struct Props<'a> {
    name: &'a str,
    map: &'a HashMap<String, String>,
}

impl Props<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn has(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    fn origin(&self) -> String {
        format!("profile {:?}", self.name)
    }

    /// The static keys, `None` without either; an error with only one of them.
    fn static_keys(&self, files: &str) -> Result<Option<Credentials>, Error> {
        let name = self.name;
        match (
            self.get("aws_access_key_id"),
            self.get("aws_secret_access_key"),
        ) {
            (Some(id), Some(secret)) => {
                let token = self
                    .get("aws_session_token")
                    .or_else(|| self.get("aws_security_token"))
                    .map(SecretString::from);
                Ok(Some(
                    Credentials::new(id, secret, token, None)
                        .with_provider(PROVIDER)
                        .with_description(format!("profile {name:?} (static keys in {files})")),
                ))
            }
            (None, None) => Ok(None),
            (Some(_), None) => Err(Error::credentials(
                PROVIDER,
                format!("profile {name:?} has aws_access_key_id but no aws_secret_access_key"),
            )),
            (None, Some(_)) => Err(Error::credentials(
                PROVIDER,
                format!("profile {name:?} has aws_secret_access_key but no aws_access_key_id"),
            )),
        }
    }

    fn role_step(&self) -> Result<RoleStep, Error> {
        let duration_seconds = match self.get("duration_seconds") {
            Some(d) => Some(d.parse::<u32>().map_err(|_| {
                Error::credentials(
                    PROVIDER,
                    format!(
                        "duration_seconds of profile {:?} is {d:?}, not a number of seconds \
                         (900 to 43200)",
                        self.name
                    ),
                )
            })?),
            None => None,
        };
        Ok(RoleStep {
            profile: self.name.to_owned(),
            role_arn: self.get("role_arn").unwrap_or_default().to_owned(),
            session_name: self.get("role_session_name").map(str::to_owned),
            external_id: self.get("external_id").map(str::to_owned),
            duration_seconds,
        })
    }
}

/// `credential_source` values.
const CREDENTIAL_SOURCES: &str = "Environment, Ec2InstanceMetadata or EcsContainer";

impl ProfileProvider {
    async fn load(&self) -> Result<Files, Error> {
        let cred_path = self.path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let config_path = self.path("AWS_CONFIG_FILE", "config");
        if cred_path.is_none() && config_path.is_none() {
            return Err(Error::credentials_not_loaded(
                PROVIDER,
                "no home directory (HOME) to find ~/.aws/credentials in",
            ));
        }
        let mut profiles: Sections = HashMap::new();
        let mut sso_sessions = Sections::new();
        let mut looked_in = Vec::new();
        // Config first, then credentials, so the credentials file wins key by key.
        for (path, kind) in [
            (config_path.clone(), FileKind::Config),
            (cred_path, FileKind::Credentials),
        ] {
            let Some(path) = path else { continue };
            looked_in.push(path.display().to_string());
            let Some(text) = read_optional(&path).await? else {
                continue;
            };
            for (name, props) in parse_ini(&text, kind) {
                profiles.entry(name).or_default().extend(props);
            }
            if kind == FileKind::Config {
                sso_sessions = parse_sso_sessions(&text);
            }
        }
        Ok(Files {
            profiles,
            sso_sessions,
            looked_in: looked_in.join(" and "),
            config_path: config_path
                .map_or_else(|| "~/.aws/config".to_owned(), |p| p.display().to_string()),
        })
    }

    /// The provider that gets credentials for `start`: a base (static keys, web identity,
    /// SSO, process, or a `credential_source`) under zero or more assumed roles.
    fn plan(
        &self,
        files: &Files,
        start: &str,
        explicit: bool,
    ) -> Result<Box<dyn ProvideCredentials>, Error> {
        let env = self.env.arc();
        let sts_settings = {
            let top = files.profiles.get(start);
            let get = |k: &str| {
                top.and_then(|m| m.get(k))
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            };
            ProfileStsSettings {
                region: get("region"),
                sts_regional_endpoints: get("sts_regional_endpoints"),
                endpoint_url: get("endpoint_url"),
            }
        };
        let mut visited: Vec<String> = Vec::new();
        let mut roles: Vec<RoleStep> = Vec::new();
        let mut name = start.to_owned();
        let base: Box<dyn ProvideCredentials> = loop {
            let Some(map) = files.profiles.get(&name) else {
                if visited.is_empty() {
                    let msg = format!("profile {name:?} not found in {}", files.looked_in);
                    return Err(if explicit {
                        Error::credentials(PROVIDER, format!("{msg}; check AWS_PROFILE"))
                    } else {
                        Error::credentials_not_loaded(PROVIDER, msg)
                    });
                }
                return Err(Error::credentials(
                    PROVIDER,
                    format!(
                        "profile {:?} has source_profile = {name}, but there is no profile \
                         {name:?} in {}",
                        visited.last().map_or("", String::as_str),
                        files.looked_in
                    ),
                ));
            };
            if visited.contains(&name) {
                visited.push(name.clone());
                return Err(Error::credentials(
                    PROVIDER,
                    format!(
                        "the source_profile chain loops: {}; end it with a profile that has \
                         static keys or a credential_source",
                        visited.join(" -> ")
                    ),
                ));
            }
            visited.push(name.clone());
            let p = Props { name: &name, map };
            let in_chain = visited.len() > 1;
            // In a source profile, static keys win over its own role_arn.
            if in_chain {
                if let Some(c) = p.static_keys(&files.looked_in)? {
                    break Box::new(Fixed(c));
                }
            }
            if p.has("role_arn") {
                if p.has("mfa_serial") {
                    return Err(Error::credentials(
                        PROVIDER,
                        format!(
                            "profile {name:?} sets mfa_serial: its role needs a multi-factor code \
                             typed by a person, which a registry cannot do; use a role whose \
                             trust policy does not require MFA, or assume the role yourself \
                             (`aws sts assume-role --serial-number ... --token-code ...`) and \
                             pass the temporary keys in AWS_ACCESS_KEY_ID, \
                             AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
                        ),
                    ));
                }
                let step = p.role_step()?;
                if let Some(file) = p.get("web_identity_token_file") {
                    if p.has("source_profile") || p.has("credential_source") {
                        return Err(Error::credentials(
                            PROVIDER,
                            format!(
                                "profile {name:?} has web_identity_token_file and also \
                                 source_profile or credential_source; keep only one way to get \
                                 the role"
                            ),
                        ));
                    }
                    let token_file = self
                        .expand_home(file)
                        .unwrap_or_else(|| PathBuf::from(file));
                    break Box::new(
                        WebIdentityProvider::with_settings(
                            env.clone(),
                            WebIdentitySettings {
                                role_arn: step.role_arn,
                                token_file,
                                session_name: step.session_name,
                                duration_seconds: step.duration_seconds,
                                origin: p.origin(),
                            },
                        )
                        .with_profile_sts(sts_settings.clone())
                        .with_region_hint(self.region_hint.clone())
                        .with_http(self.http.clone()),
                    );
                }
                roles.push(step);
                match (p.get("source_profile"), p.get("credential_source")) {
                    (Some(_), Some(_)) => {
                        return Err(Error::credentials(
                            PROVIDER,
                            format!(
                                "profile {name:?} has both source_profile and credential_source; \
                                 keep one"
                            ),
                        ))
                    }
                    (Some(src), None) if src == name => {
                        // A profile may assume its role with its own static keys.
                        match p.static_keys(&files.looked_in)? {
                            Some(c) => break Box::new(Fixed(c)),
                            None => {
                                return Err(Error::credentials(
                                    PROVIDER,
                                    format!(
                                        "profile {name:?} names itself as source_profile but has \
                                         no aws_access_key_id/aws_secret_access_key"
                                    ),
                                ))
                            }
                        }
                    }
                    (Some(src), None) => {
                        name = src.to_owned();
                        continue;
                    }
                    (None, Some(cs)) => {
                        let origin = p.origin();
                        let context = format!("{origin} has credential_source = {cs}");
                        break match cs {
                            "Environment" => Box::new(Required {
                                inner: Box::new(EnvironmentProvider::new(env.clone())),
                                context,
                            }),
                            "Ec2InstanceMetadata" => Box::new(Required {
                                inner: Box::new(
                                    InstanceMetadataProvider::new(env.clone())
                                        .with_http(self.http.clone()),
                                ),
                                context,
                            }),
                            "EcsContainer" => Box::new(Required {
                                inner: Box::new(
                                    ContainerProvider::new(env.clone())
                                        .with_http(self.http.clone()),
                                ),
                                context,
                            }),
                            other => {
                                return Err(Error::credentials(
                                    PROVIDER,
                                    format!(
                                        "profile {name:?} has credential_source = {other}; use \
                                         {CREDENTIAL_SOURCES}"
                                    ),
                                ))
                            }
                        };
                    }
                    (None, None) => {
                        return Err(Error::credentials(
                            PROVIDER,
                            format!(
                                "profile {name:?} has role_arn but no source_profile, \
                                 credential_source or web_identity_token_file to get the role \
                                 with; add one"
                            ),
                        ))
                    }
                }
            }
            if let Some(c) = p.static_keys(&files.looked_in)? {
                break Box::new(Fixed(c));
            }
            if p.has("web_identity_token_file") {
                return Err(Error::credentials(
                    PROVIDER,
                    format!(
                        "profile {name:?} has web_identity_token_file but no role_arn; add the \
                         role to assume"
                    ),
                ));
            }
            if [
                "sso_session",
                "sso_start_url",
                "sso_account_id",
                "sso_role_name",
            ]
            .iter()
            .any(|k| p.has(k))
            {
                break Box::new(self.sso(files, &p)?);
            }
            if let Some(cmd) = p.get("credential_process") {
                break Box::new(ProcessProvider::new(cmd).with_origin(p.origin()));
            }
            if in_chain {
                return Err(Error::credentials(
                    PROVIDER,
                    format!(
                        "profile {name:?} (source_profile of {:?}) has no credentials: give it \
                         aws_access_key_id/aws_secret_access_key, a role, SSO settings or a \
                         credential_process",
                        visited[visited.len() - 2]
                    ),
                ));
            }
            return Err(Error::credentials_not_loaded(
                PROVIDER,
                format!(
                    "profile {name:?} in {} has no credentials (no aws_access_key_id, role_arn, \
                     sso settings or credential_process)",
                    files.looked_in
                ),
            ));
        };
        // Roles were collected from the selected profile inwards; assume the innermost first.
        let mut provider = base;
        for step in roles.into_iter().rev() {
            let mut p = AssumeRoleProvider::new(provider, step.role_arn, env.clone())
                .with_origin(format!("profile {:?}", step.profile))
                .with_profile_sts(sts_settings.clone())
                .with_region_hint(self.region_hint.clone())
                .with_http(self.http.clone());
            if let Some(n) = step.session_name {
                p = p.with_session_name(n);
            }
            if let Some(x) = step.external_id {
                p = p.with_external_id(x);
            }
            if let Some(d) = step.duration_seconds {
                p = p.with_duration_seconds(d);
            }
            provider = Box::new(p);
        }
        Ok(provider)
    }

    fn sso(&self, files: &Files, p: &Props<'_>) -> Result<SsoProvider, Error> {
        let name = p.name;
        let (start_url, region, session_name) = if let Some(session) = p.get("sso_session") {
            let Some(section) = files.sso_sessions.get(session) else {
                return Err(Error::credentials(
                    "sso",
                    format!(
                        "profile {name:?} has sso_session = {session}, but {} has no \
                         [sso-session {session}] section",
                        files.config_path
                    ),
                ));
            };
            let s = Props {
                name: session,
                map: section,
            };
            let mut missing: Vec<&str> = ["sso_start_url", "sso_region"]
                .into_iter()
                .filter(|k| !s.has(k))
                .collect();
            if !missing.is_empty() {
                crate::sort::sort(&mut missing);
                return Err(Error::credentials(
                    "sso",
                    format!(
                        "[sso-session {session}] in {} lacks {}",
                        files.config_path,
                        missing.join(" and ")
                    ),
                ));
            }
            for k in ["sso_start_url", "sso_region"] {
                if let (Some(a), Some(b)) = (p.get(k), s.get(k)) {
                    if a != b {
                        return Err(Error::credentials(
                            "sso",
                            format!(
                                "profile {name:?} has {k} = {a}, but its [sso-session {session}] \
                                 has {k} = {b}; remove it from the profile"
                            ),
                        ));
                    }
                }
            }
            (
                s.get("sso_start_url").unwrap_or_default().to_owned(),
                s.get("sso_region").unwrap_or_default().to_owned(),
                Some(session.to_owned()),
            )
        } else {
            (
                p.get("sso_start_url").unwrap_or_default().to_owned(),
                p.get("sso_region").unwrap_or_default().to_owned(),
                None,
            )
        };
        let mut missing = Vec::new();
        if session_name.is_none() {
            for k in ["sso_start_url", "sso_region"] {
                if !p.has(k) {
                    missing.push(k);
                }
            }
        }
        for k in ["sso_account_id", "sso_role_name"] {
            if !p.has(k) {
                missing.push(k);
            }
        }
        if !missing.is_empty() {
            return Err(Error::credentials(
                "sso",
                format!(
                    "profile {name:?} uses SSO but lacks {}; `aws configure sso` writes a \
                     complete profile",
                    missing.join(", ")
                ),
            ));
        }
        let settings = SsoSettings {
            start_url,
            region,
            account_id: p.get("sso_account_id").unwrap_or_default().to_owned(),
            role_name: p.get("sso_role_name").unwrap_or_default().to_owned(),
            session_name,
            profile: name.to_owned(),
        };
        let endpoint_url = p.get("endpoint_url").map(str::to_owned);
        Ok(SsoProvider::new(self.env.arc(), settings)
            .with_profile_endpoint_url(endpoint_url)
            .with_http(self.http.clone()))
    }
}

/// A `credential_source`: "nothing to load" is an error there.
#[derive(Debug)]
struct Required {
    inner: Box<dyn ProvideCredentials>,
    context: String,
}

#[async_trait]
impl ProvideCredentials for Required {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        self.inner
            .provide_credentials()
            .await
            .map_err(|e| require_source(e, &self.context))
    }
}

#[async_trait]
impl ProvideCredentials for ProfileProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let explicit = self.profile_override.clone().or_else(|| {
            self.env
                .first(&["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])
                .map(|(_, v)| v)
        });
        let profile = explicit.clone().unwrap_or_else(|| "default".to_owned());
        let files = self.load().await?;
        let provider = self.plan(&files, &profile, explicit.is_some())?;
        provider.provide_credentials().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_basics() {
        let text = "\
# full-line comment
; another
[default]
aws_access_key_id = AKID1
AWS_Secret_Access_Key=secret1   # trailing comment
  
[ prod ]   ; comment after header
aws_access_key_id: AKID2
aws_secret_access_key = s3cr#t;x
s3 =
  max_concurrent_requests = 10
  aws_access_key_id = NESTED
region = eu-west-1
[Prod]
aws_access_key_id = CASE
";
        let s = parse_ini(text, FileKind::Credentials);
        assert_eq!(s["default"]["aws_access_key_id"], "AKID1");
        assert_eq!(s["default"]["aws_secret_access_key"], "secret1");
        assert_eq!(s["prod"]["aws_access_key_id"], "AKID2");
        assert_eq!(
            s["prod"]["aws_secret_access_key"], "s3cr#t;x",
            "no whitespace before #"
        );
        assert_eq!(s["prod"]["region"], "eu-west-1");
        assert_eq!(
            s["Prod"]["aws_access_key_id"], "CASE",
            "profile names are case-sensitive"
        );
        assert_eq!(s["prod"]["s3"], "");
    }

    #[test]
    fn ini_config_sections() {
        let text = "\
[default]
region = us-east-1
[profile dev]
aws_access_key_id = DEV
[profile   spaced  ]
aws_access_key_id = SP
[sso-session corp]
sso_start_url = https://example
[profileless]
aws_access_key_id = NO
[profile]
aws_access_key_id = NO
";
        let s = parse_ini(text, FileKind::Config);
        assert_eq!(s["dev"]["aws_access_key_id"], "DEV");
        assert_eq!(s["spaced"]["aws_access_key_id"], "SP");
        assert_eq!(s["default"]["region"], "us-east-1");
        assert_eq!(s.len(), 3, "{s:?}");
        // In the credentials file `[profile dev]` is literally named "profile dev".
        let c = parse_ini("[profile dev]\nk=v\n", FileKind::Credentials);
        assert!(c.contains_key("profile dev"));
    }

    #[test]
    fn ini_repeated_sections_merge_and_junk_is_ignored() {
        let text = "\
orphan = before any section
[a]
k1 = one
garbage line without separator
= no key
[a]
k1 = two
k2 = three
[unterminated
k3 = lost
";
        let s = parse_ini(text, FileKind::Credentials);
        assert_eq!(s["a"]["k1"], "two");
        assert_eq!(s["a"]["k2"], "three");
        assert!(!s["a"].contains_key("k3"));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn ini_crlf_and_tabs() {
        let s = parse_ini(
            "[x]\r\n\taws_access_key_id\t=\tT1\r\nk = v\r\n",
            FileKind::Credentials,
        );
        assert_eq!(
            s["x"]["aws_access_key_id"], "T1",
            "indented first property is not a continuation"
        );
        assert_eq!(s["x"]["k"], "v");
    }

    proptest::proptest! {
        #[test]
        fn ini_never_panics(input in "\\PC{0,300}") {
            let _ = parse_ini(&input, FileKind::Config);
            let _ = parse_ini(&input, FileKind::Credentials);
        }
    }
}
