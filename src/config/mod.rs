//! The registry configuration: `registry:2`'s YAML file plus `REGISTRY_*`
//! environment overrides (feature `server`).
//!
//! [`Config::load`] reads a file (or, without one, starts from the defaults:
//! `http.addr: ":5000"`, filesystem storage under `./data`), applies the
//! environment overrides, and checks every supported key. [`build_driver`]
//! turns the `storage` section (with `middleware.storage`) into a driver.
//!
//! # Supported keys
//!
//! | key | notes |
//! |---|---|
//! | `version` | must be `0.1` |
//! | `log.level` | `error`, `warn`, `info` (default), `debug` (also `trace`, `warning`, `panic`, `fatal`) |
//! | `log.formatter` | `text` (default), `json`, `logstash` (= json) |
//! | `log.accesslog.disabled` | no per-request log lines |
//! | `storage.<driver>` | `filesystem`, `inmemory`, `s3`; the parameters are handed to the driver as strings (Go's `fmt.Sprint`) |
//! | `storage.delete.enabled` | allow DELETE of blobs and manifests (default false) |
//! | `storage.redirect.disable` | serve blobs directly instead of redirecting to the driver's URL |
//! | `storage.maintenance.uploadpurging` | `enabled` (true), `age` (168h), `interval` (24h), `dryrun` (false) |
//! | `storage.maintenance.readonly.enabled` | refuse every write with `UNSUPPORTED` |
//! | `storage.cache.blobdescriptor` | accepted; `redis` is warned about and not used |
//! | `middleware.storage` | list of `{name, options, disabled}`; see [`build_driver`] |
//! | `http.addr` | listen address (default `:5000`) |
//! | `http.prefix` | path prefix in front of `/v2/` |
//! | `http.headers` | headers added to every response |
//! | `http.draintimeout` | how long shutdown waits for in-flight requests (default 10s) |
//! | `http.bodyidletimeout` | a request body that sends nothing for this long is abandoned (default 60s; not in registry:2) |
//! | `http.maxconnections` | most client connections served at once; more wait to be accepted (default 1024; not in registry:2) |
//! | `http.tls.certificate`, `http.tls.key`, `http.tls.minimumtls` | HTTPS with rustls |
//! | `auth.htpasswd.realm`, `auth.htpasswd.path` | HTTP basic auth against bcrypt entries |
//! | `auth.token` | `realm`, `service`, `issuer`, `rootcertbundle` and/or `jwks`, `autoredirect`, `autoredirectpath`, `signingalgorithms`: bearer tokens (JWT) from a Docker token server |
//! | `notifications.endpoints` | `name`, `url`, `headers`, `timeout` (1s), `threshold` (10), `backoff` (1s), `ignoredmediatypes`, `ignore.mediatypes`, `ignore.actions`, `disabled` |
//! | `notifications.events.includereferences` | manifest events list the manifest's references |
//! | `health.storagedriver` | `enabled` (false), `interval` (10s), `threshold` (3) |
//! | `catalog.maxentries` | largest `n` of `/v2/_catalog` (default 1000) |
//! | `proxy.remoteurl`, `proxy.username`, `proxy.password` | a pull-through cache of the registry at `remoteurl` (see [`ProxyConfig`]) |
//! | `proxy.ttl` | how long fetched content is kept, and a tag trusted without asking the upstream (default 168h; 0: kept forever, tags asked every time) |
//! | `proxy.timeout` | the longest the upstream may take to answer or stall in a body (default 30s; not in registry:2) |
//!
//! `redis`, `validation`, `policy`, `http.host` and `http.relativeurls` are
//! accepted and ignored, with a warning where they would change behaviour.
//! `auth.silly`, `http.net: unix`, `http.tls.clientcas` and
//! `http.tls.letsencrypt` are refused with an error.
//!
//! Values of keys that hold secrets (`secretkey`, `sessiontoken`, passwords,
//! ...) never appear in errors, warnings or `Debug` output.

pub(crate) mod duration;
mod env;
mod factory;
mod parse;
pub(crate) mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::driver::Parameters;

pub use factory::build_driver;
pub(crate) use factory::STORAGE_DRIVERS;

/// A configuration problem. The message names the key and says what is
/// allowed; it never contains the value of a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    key: String,
    message: String,
}

impl ConfigError {
    /// An error about `key` (a dotted path such as `storage.s3.chunksize`, or an
    /// environment variable name).
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The key the error is about.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The parsed configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// `log.*`.
    pub log: LogConfig,
    /// `storage.*` and `middleware.storage`.
    pub storage: StorageConfig,
    /// `http.*`.
    pub http: HttpConfig,
    /// `auth.*`.
    pub auth: Option<AuthConfig>,
    /// `health.storagedriver`, if enabled.
    pub health: Option<HealthCheckConfig>,
    /// `catalog.maxentries`.
    pub catalog_max_entries: usize,
    /// `notifications`.
    pub notifications: NotificationsConfig,
    /// `proxy`, when `proxy.remoteurl` is set: the registry is a pull-through cache.
    pub proxy: Option<ProxyConfig>,
    /// Things that were accepted but ignored or changed; the binary logs them
    /// once logging is set up.
    pub warnings: Vec<String>,
}

/// `proxy`: the registry is a pull-through cache of the registry at
/// [`remote_url`](Self::remote_url), its cache kept in the configured storage in
/// registry:2's layout. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// `proxy.remoteurl`: the upstream registry's base URL (`https://registry-1.docker.io`),
    /// without a trailing slash; its API is below `<remoteurl>/v2/`.
    pub remote_url: String,
    /// `proxy.username`: for the upstream's basic authentication or its token server.
    pub username: Option<String>,
    /// `proxy.password`.
    pub password: Option<String>,
    /// `proxy.ttl` (default 168h): fetched content is removed this long after it was
    /// fetched (registry:2's scheduler), and a tag is served without asking the upstream
    /// for this long after it was last checked. `None` (`ttl: 0`): content is kept forever
    /// and every tag request asks the upstream, as registry:2 2.8 does.
    pub ttl: Option<Duration>,
    /// `proxy.timeout` (default 30s; not in registry:2): the longest the upstream (or its
    /// token server) may take to connect, to answer a request, or to send the next part of
    /// a body.
    pub timeout: Duration,
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("remote_url", &self.remote_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ttl", &self.ttl)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// The default.
    Info,
    /// Everything the registry logs.
    Debug,
    /// Everything, including dependencies' traces.
    Trace,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (`json` and `logstash`).
    Json,
}

/// `log.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogConfig {
    /// `log.level`.
    pub level: LogLevel,
    /// `log.formatter`.
    pub format: LogFormat,
    /// `log.accesslog.disabled`: no Apache-style access-log line per request.
    pub access_log_disabled: bool,
    /// `log.fields`: added to every log line (values rendered as strings).
    pub fields: Vec<(String, String)>,
}

/// The storage driver and its settings.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct StorageConfig {
    /// The driver name as written (`filesystem`, `inmemory`, `s3`, ...).
    pub driver: String,
    /// The driver's parameters, values rendered as Go's `fmt.Sprint` would
    /// (null values are left out). Use [`StorageConfig::parameters`].
    pub params: Vec<(String, String)>,
    /// `storage.delete.enabled`.
    pub delete_enabled: bool,
    /// `storage.redirect.disable`.
    pub redirect_disabled: bool,
    /// `storage.maintenance.readonly.enabled`.
    pub read_only: bool,
    /// `storage.maintenance.uploadpurging`.
    pub upload_purging: UploadPurging,
    /// `middleware.storage`, in order.
    pub middleware: Vec<MiddlewareConfig>,
}

impl StorageConfig {
    /// The driver parameters as a [`Parameters`] map.
    pub fn parameters(&self) -> Parameters {
        self.params.iter().cloned().collect()
    }

    /// `driver (key=value ...)` for log lines, secret values redacted.
    pub fn describe(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| {
                if is_secret_key(k) {
                    format!("{k}=<redacted>")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        format!("{} ({})", self.driver, params.join(" "))
    }
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConfig")
            .field("driver", &self.driver)
            .field("params", &Redacted(&self.params))
            .field("delete_enabled", &self.delete_enabled)
            .field("redirect_disabled", &self.redirect_disabled)
            .field("read_only", &self.read_only)
            .field("upload_purging", &self.upload_purging)
            .field("middleware", &self.middleware)
            .finish()
    }
}

/// `storage.maintenance.uploadpurging`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadPurging {
    /// Whether the purger runs.
    pub enabled: bool,
    /// Uploads started longer ago than this are removed.
    pub age: Duration,
    /// Time between runs.
    pub interval: Duration,
    /// Only log what would be removed.
    pub dry_run: bool,
}

impl Default for UploadPurging {
    fn default() -> Self {
        Self {
            enabled: true,
            age: Duration::from_secs(168 * 3600),
            interval: Duration::from_secs(24 * 3600),
            dry_run: false,
        }
    }
}

/// One `middleware.storage` entry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MiddlewareConfig {
    /// `name` (e.g. `cloudfront`).
    pub name: String,
    /// `options`, rendered like driver parameters.
    pub options: Vec<(String, String)>,
}

impl MiddlewareConfig {
    /// The options as a [`Parameters`] map.
    pub fn parameters(&self) -> Parameters {
        self.options.iter().cloned().collect()
    }
}

impl fmt::Debug for MiddlewareConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiddlewareConfig")
            .field("name", &self.name)
            .field("options", &Redacted(&self.options))
            .finish()
    }
}

/// `http.*`. `Debug` never shows `http.secret`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// `http.addr` as written (`:5000`, `127.0.0.1:5000`, `[::]:5000`, `host:port`).
    pub addr: String,
    /// `http.prefix`, normalised to `""` or `/segment[/segment]` without a trailing slash.
    pub prefix: String,
    /// `http.headers`: name and values, added to every response.
    pub headers: Vec<(String, Vec<String>)>,
    /// `http.draintimeout` (default 10s).
    pub drain_timeout: Duration,
    /// `http.bodyidletimeout` (default 60s): a request body that sends nothing
    /// for this long is abandoned.
    pub body_idle_timeout: Duration,
    /// `http.maxconnections` (default 1024): most client connections served at
    /// once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// `http.tls`, if a certificate is configured.
    pub tls: Option<TlsConfig>,
    /// `http.secret`: signs the upload state in `Location` URLs (`_state`), as registry:2
    /// does, so that registries behind one load balancer accept each other's uploads.
    pub secret: Option<String>,
    /// `http.debug`: the debug listener, if `http.debug.addr` is set.
    pub debug: Option<DebugConfig>,
    /// `http.http2.disabled`: no HTTP/2 on the TLS port.
    pub http2_disabled: bool,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("addr", &self.addr)
            .field("prefix", &self.prefix)
            .field("headers", &self.headers)
            .field("drain_timeout", &self.drain_timeout)
            .field("body_idle_timeout", &self.body_idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("debug", &self.debug)
            .field("http2_disabled", &self.http2_disabled)
            .finish()
    }
}

/// `http.debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DebugConfig {
    /// `http.debug.addr`: where `/debug/health`, `/debug/vars` and the metrics are served.
    pub addr: String,
    /// `http.debug.prometheus.path` (default `/metrics`) when
    /// `http.debug.prometheus.enabled`.
    pub prometheus_path: Option<String>,
}

/// `http.tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// PEM certificate chain file.
    pub certificate: PathBuf,
    /// PEM private key file.
    pub key: PathBuf,
    /// `minimumtls`: `tls1.2` (default) or `tls1.3`.
    pub minimum_tls13: bool,
}

/// `auth.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthConfig {
    /// `auth.htpasswd`.
    Htpasswd {
        /// The realm announced in `WWW-Authenticate`.
        realm: String,
        /// The htpasswd file (bcrypt entries).
        path: PathBuf,
    },
    /// `auth.token`.
    Token(TokenConfig),
}

/// `auth.token`: bearer tokens issued by a token server (Docker's token authentication).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenConfig {
    /// `realm`: the token server's URL announced in `WWW-Authenticate`.
    pub realm: String,
    /// `service`: announced in the challenge; tokens must name it in `aud`.
    pub service: String,
    /// `issuer`: tokens must name it in `iss`.
    pub issuer: String,
    /// `rootcertbundle`: PEM certificates whose keys sign tokens (or sign the `x5c` chains
    /// tokens carry).
    pub root_cert_bundle: Option<PathBuf>,
    /// `jwks`: a JSON Web Key Set file of signing keys, selected by `kid` (registry:2 3.x).
    pub jwks: Option<PathBuf>,
    /// `autoredirect` with `autoredirectpath` (default `/auth/token`): the realm is
    /// `https://<request host><path>` instead of `realm`.
    pub auto_redirect: Option<String>,
    /// `signingalgorithms` (registry:2 3.x): the JWS algorithms accepted; empty for all the
    /// asymmetric ones.
    pub signing_algorithms: Vec<String>,
}

/// `notifications`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotificationsConfig {
    /// `notifications.events.includereferences`: manifest events carry the manifest's
    /// references.
    pub include_references: bool,
    /// `notifications.endpoints`, in order (disabled ones included, marked).
    pub endpoints: Vec<NotificationEndpoint>,
}

/// One `notifications.endpoints` entry. `Debug` never shows header values.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotificationEndpoint {
    /// `name`: identifies the endpoint in logs and metrics.
    pub name: String,
    /// `url`: where the event envelopes are POSTed (http or https).
    pub url: String,
    /// `headers`: added to every POST (values may hold credentials).
    pub headers: Vec<(String, Vec<String>)>,
    /// `timeout` of one POST (default 1s).
    pub timeout: Duration,
    /// `threshold`: failures in a row after which each retry waits `backoff` (default 10).
    pub threshold: u32,
    /// `backoff` (default 1s).
    pub backoff: Duration,
    /// `ignoredmediatypes` and `ignore.mediatypes`: events whose target has one of these
    /// media types are not sent.
    pub ignored_media_types: Vec<String>,
    /// `ignore.actions`: events with one of these actions (`pull`, `push`, `mount`,
    /// `delete`) are not sent.
    pub ignored_actions: Vec<String>,
    /// `disabled`.
    pub disabled: bool,
}

impl fmt::Debug for NotificationEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("NotificationEndpoint")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("threshold", &self.threshold)
            .field("backoff", &self.backoff)
            .field("ignored_media_types", &self.ignored_media_types)
            .field("ignored_actions", &self.ignored_actions)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// `url` without a password (`https://user:***@host/...`), for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match url.parse::<reqwest::Url>() {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<not a URL>".to_owned(),
    }
}

/// `health.storagedriver` when enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthCheckConfig {
    /// Time between checks (default 10s).
    pub interval: Duration,
    /// Consecutive failures before the registry reports itself unhealthy
    /// (default 3; 0 behaves like 1).
    pub threshold: u32,
}

/// The configuration used when no file is given: `version: 0.1`, filesystem
/// storage under `./data`, `http.addr: :5000`.
pub const DEFAULT_CONFIG: &str =
    "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ./data\nhttp:\n  addr: :5000\n";

impl Config {
    /// Parses `text` (a registry:2 YAML file) with the overrides in `env`
    /// (`REGISTRY_*` pairs; others are ignored).
    ///
    /// # Errors
    /// Invalid YAML, an unsupported version, or a key with an unusable value.
    pub fn from_yaml(text: &str, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut root = yaml::parse(text).map_err(|e| {
            ConfigError::new("", format!("the configuration is not valid YAML: {}", e.0))
        })?;
        parse::normalize(&mut root);
        let warnings = env::apply(&mut root, env)?;
        let mut config = parse::config(&root)?;
        config.warnings.splice(0..0, warnings);
        let storage_warnings = factory::storage_warnings(&config.storage);
        config.warnings.extend(storage_warnings);
        Ok(config)
    }

    /// Loads the file at `path`, or [`DEFAULT_CONFIG`] when `path` is `None`, and
    /// applies the process's `REGISTRY_*` environment variables.
    ///
    /// # Errors
    /// The file cannot be read, or [`Config::from_yaml`] fails.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        match path {
            None => Self::from_yaml(DEFAULT_CONFIG, &env),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ConfigError::new(
                        "",
                        format!("cannot read configuration file {}: {e}", p.display()),
                    )
                })?;
                Self::from_yaml(&text, &env)
            }
        }
    }
}

/// True for parameter names whose values must never be shown.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "token", "accesskey", "credential"]
        .iter()
        .any(|s| k.contains(s))
}

/// `Debug` of a parameter list with secret values replaced.
struct Redacted<'a>(&'a [(String, String)]);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.0 {
            if is_secret_key(k) {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}
