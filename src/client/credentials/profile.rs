//! Static keys from the AWS shared credentials file and config file.
//!
//! * Credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`; sections are
//!   `[name]`.
//! * Config file: `AWS_CONFIG_FILE`, else `~/.aws/config`; sections are `[profile name]`, and
//!   `[default]` (other section kinds such as `[sso-session x]` are ignored).
//! * Profile: `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`.
//!
//! Keys `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token` (or the legacy
//! `aws_security_token`); the credentials file wins over the config file key by key.
//!
//! The INI dialect is the AWS one, parsed by hand: `#` and `;` start full-line comments, and also
//! inline comments when preceded by whitespace (keys and secrets never contain whitespace);
//! `=` (or `:`) separates key and value, with surrounding whitespace trimmed; key names are
//! case-insensitive, profile names are case-sensitive; indented lines after a property are its
//! continuation (sub-properties like `s3 =\n  max_concurrent_requests = 10`) and are ignored;
//! repeated sections merge, later values win.
//!
//! Profiles that get credentials another way (`role_arn`, `credential_process`, `sso_*`,
//! `web_identity_token_file`) are reported as unsupported instead of silently skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use super::{Credentials, Env, EnvRef, ProvideCredentials, SecretString};
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

/// Parses an AWS-style INI file into profiles (see the module docs for the dialect).
pub(crate) fn parse_ini(text: &str, kind: FileKind) -> Sections {
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
            current = line.strip_suffix(']').and_then(|h| profile_name(h, kind));
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

/// Credentials from the shared credentials/config files.
#[derive(Debug, Clone)]
pub struct ProfileProvider {
    env: EnvRef,
    profile_override: Option<String>,
}

impl ProfileProvider {
    /// Reads file locations and the profile name from `env`.
    pub fn new(env: Arc<dyn Env>) -> Self {
        Self {
            env: EnvRef::new(env),
            profile_override: None,
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

    fn path(&self, var: &str, default_name: &str) -> Option<PathBuf> {
        match self.env.get(var) {
            Some(p) => {
                if let Some(rest) = p.strip_prefix("~/").or_else(|| p.strip_prefix("~\\")) {
                    self.home().map(|h| h.join(rest))
                } else if p == "~" {
                    self.home()
                } else {
                    Some(PathBuf::from(p))
                }
            }
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

const UNSUPPORTED_KEYS: &[&str] = &[
    "role_arn",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "web_identity_token_file",
];

#[async_trait]
impl ProvideCredentials for ProfileProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let explicit = self.profile_override.clone().or_else(|| {
            self.env
                .first(&["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])
                .map(|(_, v)| v)
        });
        let profile = explicit.clone().unwrap_or_else(|| "default".to_owned());

        let cred_path = self.path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let config_path = self.path("AWS_CONFIG_FILE", "config");
        if cred_path.is_none() && config_path.is_none() {
            return Err(Error::credentials_not_loaded(
                PROVIDER,
                "no home directory (HOME) to find ~/.aws/credentials in",
            ));
        }
        let mut merged: HashMap<String, String> = HashMap::new();
        let mut found_profile = false;
        let mut looked_in = Vec::new();
        // Config first, then credentials, so the credentials file wins key by key.
        for (path, kind) in [
            (config_path, FileKind::Config),
            (cred_path, FileKind::Credentials),
        ] {
            let Some(path) = path else { continue };
            looked_in.push(path.display().to_string());
            let Some(text) = read_optional(&path).await? else {
                continue;
            };
            if let Some(props) = parse_ini(&text, kind).remove(&profile) {
                found_profile = true;
                merged.extend(props);
            }
        }
        let files = looked_in.join(" and ");
        if !found_profile {
            let msg = format!("profile {profile:?} not found in {files}");
            return Err(if explicit.is_some() {
                Error::credentials(PROVIDER, format!("{msg}; check AWS_PROFILE"))
            } else {
                Error::credentials_not_loaded(PROVIDER, msg)
            });
        }
        let get = |k: &str| merged.get(k).filter(|v| !v.is_empty());
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(id), Some(secret)) => {
                let token = get("aws_session_token")
                    .or_else(|| get("aws_security_token"))
                    .map(|t| SecretString::from(t.as_str()));
                Ok(Credentials::new(id.as_str(), secret.as_str(), token, None)
                    .with_provider(PROVIDER))
            }
            (None, None) => {
                if let Some(k) = UNSUPPORTED_KEYS.iter().find(|k| merged.contains_key(**k)) {
                    Err(Error::credentials(
                        PROVIDER,
                        format!(
                            "profile {profile:?} uses `{k}`, which s3driver does not support; give \
                             it aws_access_key_id/aws_secret_access_key, or use environment \
                             variables, `accesskey`/`secretkey`, or an instance/container role"
                        ),
                    ))
                } else {
                    Err(Error::credentials_not_loaded(
                        PROVIDER,
                        format!("profile {profile:?} in {files} has no aws_access_key_id"),
                    ))
                }
            }
            (Some(_), None) => Err(Error::credentials(
                PROVIDER,
                format!("profile {profile:?} has aws_access_key_id but no aws_secret_access_key"),
            )),
            (None, Some(_)) => Err(Error::credentials(
                PROVIDER,
                format!("profile {profile:?} has aws_secret_access_key but no aws_access_key_id"),
            )),
        }
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
