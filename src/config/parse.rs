//! The configuration tree to [`Config`]: typed reads with errors that name the
//! key and the allowed values.

use std::path::PathBuf;
use std::time::Duration;

mod proxy;

pub(crate) use proxy::KEYS as PROXY_KEYS;

use super::duration::format_go_duration;
use super::yaml::{go_sprint, Node, Value};
use super::{
    AuthConfig, Config, ConfigError, DebugConfig, HealthCheckConfig, HttpConfig, LogConfig,
    LogFormat, LogLevel, MiddlewareConfig, NotificationEndpoint, NotificationsConfig,
    StorageConfig, TlsConfig, TokenConfig, UploadPurging,
};
use crate::middleware::duration::parse_go_duration;

/// Keys of `storage` that are settings, not driver names (Distribution's
/// `Storage.Type`).
const STORAGE_SETTINGS: &[&str] = &["maintenance", "cache", "delete", "redirect", "tag"];

/// The top-level keys of registry:2's configuration.
pub(super) const TOP_LEVEL: &[&str] = &[
    "version",
    "log",
    "loglevel",
    "storage",
    "auth",
    "middleware",
    "http",
    "notifications",
    "redis",
    "health",
    "catalog",
    "proxy",
    "validation",
    "policy",
];

/// Rewrites the short forms Distribution accepts (`storage: inmemory`,
/// `auth: htpasswd`) into their mapping form, so environment overrides can
/// address them.
pub(crate) fn normalize(root: &mut Node) {
    let Node::Map(entries) = root else { return };
    for (k, v) in entries.iter_mut() {
        if k == "storage" || k == "auth" {
            if let Node::Scalar {
                raw,
                value: Value::Str,
            } = v
            {
                *v = Node::Map(vec![(raw.clone(), Node::null())]);
            }
        }
    }
}

struct Ctx {
    warnings: Vec<String>,
}

/// A section: the node at `path`, or nothing if absent or null.
fn section<'a>(node: Option<&'a Node>, path: &str) -> Result<Option<&'a Node>, ConfigError> {
    match node {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n @ Node::Map(_)) => Ok(Some(n)),
        Some(n) => Err(ConfigError::new(
            path,
            format!("{path} must be a mapping, not {}", n.kind()),
        )),
    }
}

fn child<'a>(n: Option<&'a Node>, key: &str) -> Option<&'a Node> {
    n.and_then(|n| n.get(key)).filter(|n| !n.is_null())
}

fn string(n: Option<&Node>, path: &str) -> Result<Option<String>, ConfigError> {
    match n {
        None => Ok(None),
        Some(Node::Scalar {
            value: Value::Null, ..
        }) => Ok(None),
        Some(Node::Scalar { raw, .. }) => Ok(Some(raw.clone())),
        Some(other) => Err(ConfigError::new(
            path,
            format!("{path} must be a string, not {}", other.kind()),
        )),
    }
}

fn boolean(n: Option<&Node>, path: &str, default: bool) -> Result<bool, ConfigError> {
    match n {
        None => Ok(default),
        Some(Node::Scalar {
            value: Value::Bool(b),
            ..
        }) => Ok(*b),
        Some(Node::Scalar {
            value: Value::Null, ..
        }) => Ok(default),
        Some(Node::Scalar { raw, .. }) => Err(ConfigError::new(
            path,
            format!("{path} must be a boolean (true or false), not {raw:?}"),
        )),
        Some(other) => Err(ConfigError::new(
            path,
            format!(
                "{path} must be a boolean (true or false), not {}",
                other.kind()
            ),
        )),
    }
}

fn integer(n: Option<&Node>, path: &str, default: i64) -> Result<i64, ConfigError> {
    match n {
        None => Ok(default),
        Some(Node::Scalar {
            value: Value::Int(i),
            ..
        }) => Ok(*i),
        Some(Node::Scalar { raw, .. }) => Err(ConfigError::new(
            path,
            format!("{path} must be an integer, not {raw:?}"),
        )),
        Some(other) => Err(ConfigError::new(
            path,
            format!("{path} must be an integer, not {}", other.kind()),
        )),
    }
}

/// A Go `time.Duration` field: a duration string, or an integer number of
/// nanoseconds (what yaml.v2 does with a bare number).
fn duration(n: Option<&Node>, path: &str, default: Duration) -> Result<Duration, ConfigError> {
    match n {
        None => Ok(default),
        Some(Node::Scalar {
            value: Value::Int(i),
            ..
        }) if *i >= 0 => Ok(Duration::from_nanos(*i as u64)),
        Some(Node::Scalar {
            raw,
            value: Value::Str,
        }) => parse_go_duration(raw).map_err(|_| {
            ConfigError::new(
                path,
                format!(
                    "{path} must be a duration such as \"10s\", \"30m\" or \"168h\", not {raw:?}"
                ),
            )
        }),
        Some(other) => Err(ConfigError::new(
            path,
            format!(
                "{path} must be a duration such as \"10s\", \"30m\" or \"168h\", not {}",
                other.kind()
            ),
        )),
    }
}

/// A parameter map (`storage.<driver>`, middleware `options`): values rendered
/// with Go's `fmt.Sprint`, nulls dropped.
fn parameters(n: Option<&Node>, path: &str) -> Result<Vec<(String, String)>, ConfigError> {
    match n {
        None => Ok(Vec::new()),
        Some(Node::Map(entries)) => Ok(entries
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), go_sprint(v)))
            .collect()),
        Some(other) => Err(ConfigError::new(
            path,
            format!(
                "{path} must be a mapping of parameters, not {}",
                other.kind()
            ),
        )),
    }
}

fn one_of<'a>(
    value: &str,
    path: &str,
    allowed: &[(&'a str, &'a str)],
) -> Result<&'a str, ConfigError> {
    allowed
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let mut names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            names.dedup();
            ConfigError::new(
                path,
                format!("{path} must be one of {}, not {value:?}", names.join(", ")),
            )
        })
}

/// Builds the [`Config`] from a normalised, overridden tree.
pub(crate) fn config(root: &Node) -> Result<Config, ConfigError> {
    let mut ctx = Ctx {
        warnings: Vec::new(),
    };
    let root_map = match root {
        Node::Map(_) => Some(root),
        n if n.is_null() => None,
        other => {
            return Err(ConfigError::new(
                "",
                format!("the configuration must be a mapping, not {}", other.kind()),
            ))
        }
    };
    if let Some(Node::Map(entries)) = root_map {
        for (k, _) in entries {
            if !TOP_LEVEL.contains(&k.as_str()) {
                ctx.warnings
                    .push(format!("unknown configuration key {k:?} is ignored"));
            }
        }
    }
    match string(child(root_map, "version"), "version")?.as_deref() {
        Some("0.1") => {}
        Some(other) => {
            return Err(ConfigError::new(
                "version",
                format!(
                    "version: unsupported version {other:?}; the only supported version is 0.1"
                ),
            ))
        }
        None => {
            return Err(ConfigError::new(
                "version",
                "version is missing; add `version: 0.1` at the top of the file",
            ))
        }
    }
    let log = log(root_map, &mut ctx)?;
    let storage = storage(root_map, &mut ctx)?;
    let http = http(section(child(root_map, "http"), "http")?, &mut ctx)?;
    let auth = auth(section(child(root_map, "auth"), "auth")?)?;
    let health = health(section(child(root_map, "health"), "health")?)?;
    let catalog = section(child(root_map, "catalog"), "catalog")?;
    let max_entries = integer(child(catalog, "maxentries"), "catalog.maxentries", 1000)?;
    if max_entries <= 0 {
        return Err(ConfigError::new(
            "catalog.maxentries",
            "catalog.maxentries must be a positive integer",
        ));
    }
    let notifications = notifications(section(child(root_map, "notifications"), "notifications")?)?;
    ignored_sections(root_map, &mut ctx)?;
    let proxy = proxy::proxy(root_map, &mut ctx)?;
    if proxy.is_some() && storage.read_only {
        return Err(ConfigError::new(
            "storage.maintenance.readonly.enabled",
            "a pull-through cache (proxy.remoteurl) writes what it fetches to storage, so it cannot be read-only: remove storage.maintenance.readonly or the proxy section",
        ));
    }
    Ok(Config {
        log,
        storage,
        http,
        auth,
        health,
        catalog_max_entries: usize::try_from(max_entries).unwrap_or(usize::MAX),
        notifications,
        proxy,
        warnings: ctx.warnings,
    })
}

fn log(root: Option<&Node>, ctx: &mut Ctx) -> Result<LogConfig, ConfigError> {
    let log = section(child(root, "log"), "log")?;
    let level_text = match string(child(log, "level"), "log.level")? {
        Some(l) => Some(l),
        None => string(child(root, "loglevel"), "loglevel")?,
    };
    let level = match level_text {
        None => LogLevel::Info,
        Some(l) => match one_of(
            &l,
            "log.level",
            &[
                ("error", "error"),
                ("warn", "warn"),
                ("info", "info"),
                ("debug", "debug"),
                ("trace", "trace"),
                ("warning", "warn"),
                ("panic", "error"),
                ("fatal", "error"),
            ],
        )? {
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => LogLevel::Info,
        },
    };
    let format = match string(child(log, "formatter"), "log.formatter")? {
        None => LogFormat::Text,
        Some(f) => match one_of(
            &f,
            "log.formatter",
            &[("text", "text"), ("json", "json"), ("logstash", "json")],
        )? {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        },
    };
    let access = section(child(log, "accesslog"), "log.accesslog")?;
    let access_log_disabled = boolean(child(access, "disabled"), "log.accesslog.disabled", false)?;
    if child(log, "hooks").is_some() {
        ctx.warnings
            .push("log.hooks is not supported and is ignored".to_owned());
    }
    let fields = parameters(child(log, "fields"), "log.fields")?;
    Ok(LogConfig {
        level,
        format,
        access_log_disabled,
        fields,
    })
}

fn storage(root: Option<&Node>, ctx: &mut Ctx) -> Result<StorageConfig, ConfigError> {
    let storage = match child(root, "storage") {
        None => {
            return Err(ConfigError::new(
                "storage",
                format!(
                    "storage is missing; configure one storage driver ({})",
                    super::STORAGE_DRIVERS.join(", ")
                ),
            ))
        }
        Some(n) => section(Some(n), "storage")?,
    };
    let Some(Node::Map(entries)) = storage else {
        return Err(ConfigError::new("storage", "storage must be a mapping"));
    };
    let drivers: Vec<&(String, Node)> = entries
        .iter()
        .filter(|(k, _)| !STORAGE_SETTINGS.contains(&k.as_str()))
        .collect();
    let (driver, params_node) = match drivers.as_slice() {
        [one] => (one.0.clone(), &one.1),
        [] => {
            return Err(ConfigError::new(
                "storage",
                format!(
                    "storage must name exactly one storage driver ({}); none is configured",
                    super::STORAGE_DRIVERS.join(", ")
                ),
            ))
        }
        many => {
            let names: Vec<&str> = many.iter().map(|(k, _)| k.as_str()).collect();
            return Err(ConfigError::new(
                "storage",
                format!(
                    "storage must name exactly one storage driver ({}); found {}",
                    super::STORAGE_DRIVERS.join(", "),
                    names.join(", ")
                ),
            ));
        }
    };
    let params = parameters(
        Some(params_node).filter(|n| !n.is_null()),
        &format!("storage.{driver}"),
    )?;
    let delete = section(child(storage, "delete"), "storage.delete")?;
    let redirect = section(child(storage, "redirect"), "storage.redirect")?;
    let maintenance = section(child(storage, "maintenance"), "storage.maintenance")?;
    let purging = section(
        child(maintenance, "uploadpurging"),
        "storage.maintenance.uploadpurging",
    )?;
    let readonly = section(
        child(maintenance, "readonly"),
        "storage.maintenance.readonly",
    )?;
    let d = UploadPurging::default();
    let p = "storage.maintenance.uploadpurging";
    let upload_purging = UploadPurging {
        enabled: boolean(
            child(purging, "enabled"),
            &format!("{p}.enabled"),
            d.enabled,
        )?,
        age: duration(child(purging, "age"), &format!("{p}.age"), d.age)?,
        interval: duration(
            child(purging, "interval"),
            &format!("{p}.interval"),
            d.interval,
        )?,
        dry_run: boolean(child(purging, "dryrun"), &format!("{p}.dryrun"), d.dry_run)?,
    };
    if upload_purging.enabled && upload_purging.interval.is_zero() {
        return Err(ConfigError::new(
            format!("{p}.interval"),
            format!(
                "{p}.interval must be longer than zero (default {})",
                format_go_duration(d.interval)
            ),
        ));
    }
    let cache = section(child(storage, "cache"), "storage.cache")?;
    if let Some(kind) = string(
        child(cache, "blobdescriptor"),
        "storage.cache.blobdescriptor",
    )? {
        match kind.as_str() {
            "inmemory" => {}
            "redis" => ctx.warnings.push(
                "storage.cache.blobdescriptor: redis is not supported by this build; blob descriptors are not cached"
                    .to_owned(),
            ),
            other => {
                return Err(ConfigError::new(
                    "storage.cache.blobdescriptor",
                    format!(
                        "storage.cache.blobdescriptor must be one of inmemory, redis, not {other:?}"
                    ),
                ))
            }
        }
    }
    Ok(StorageConfig {
        driver,
        params,
        delete_enabled: boolean(child(delete, "enabled"), "storage.delete.enabled", false)?,
        redirect_disabled: boolean(
            child(redirect, "disable"),
            "storage.redirect.disable",
            false,
        )?,
        read_only: boolean(
            child(readonly, "enabled"),
            "storage.maintenance.readonly.enabled",
            false,
        )?,
        upload_purging,
        middleware: middleware(root)?,
    })
}

fn middleware(root: Option<&Node>) -> Result<Vec<MiddlewareConfig>, ConfigError> {
    let mw = section(child(root, "middleware"), "middleware")?;
    for key in ["registry", "repository"] {
        if let Some(Node::List(items)) = child(mw, key) {
            if !items.is_empty() {
                return Err(ConfigError::new(
                    format!("middleware.{key}"),
                    format!("middleware.{key} is not supported by this build; only middleware.storage is"),
                ));
            }
        }
    }
    let list = match child(mw, "storage") {
        None => return Ok(Vec::new()),
        Some(Node::List(items)) => items,
        Some(other) => {
            return Err(ConfigError::new(
                "middleware.storage",
                format!("middleware.storage must be a list, not {}", other.kind()),
            ))
        }
    };
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("middleware.storage[{i}]");
        let item = section(Some(item), &path)?;
        let name = string(child(item, "name"), &format!("{path}.name"))?.ok_or_else(|| {
            ConfigError::new(format!("{path}.name"), format!("{path}.name is missing"))
        })?;
        if boolean(child(item, "disabled"), &format!("{path}.disabled"), false)? {
            continue;
        }
        let options = parameters(child(item, "options"), &format!("{path}.options"))?;
        out.push(MiddlewareConfig { name, options });
    }
    Ok(out)
}

fn http(http: Option<&Node>, ctx: &mut Ctx) -> Result<HttpConfig, ConfigError> {
    let addr = string(child(http, "addr"), "http.addr")?.unwrap_or_else(|| ":5000".to_owned());
    if let Some(net) = string(child(http, "net"), "http.net")? {
        if net != "tcp" {
            return Err(ConfigError::new(
                "http.net",
                format!("http.net must be tcp (unix sockets are not supported by this build), not {net:?}"),
            ));
        }
    }
    let prefix = match string(child(http, "prefix"), "http.prefix")? {
        None => String::new(),
        Some(p) => {
            let trimmed = p.trim_matches('/');
            if trimmed.is_empty() {
                String::new()
            } else if trimmed.split('/').all(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
            }) {
                format!("/{trimmed}")
            } else {
                return Err(ConfigError::new(
                    "http.prefix",
                    format!("http.prefix must be a URL path such as /registry/, not {p:?}"),
                ));
            }
        }
    };
    let mut headers = Vec::new();
    if let Some(Node::Map(entries)) = section(child(http, "headers"), "http.headers")? {
        for (name, v) in entries {
            let path = format!("http.headers.{name}");
            let values = match v {
                Node::List(items) => items
                    .iter()
                    .map(|i| string(Some(i), &path).map(Option::unwrap_or_default))
                    .collect::<Result<Vec<_>, _>>()?,
                n => vec![string(Some(n), &path)?.unwrap_or_default()],
            };
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid_name
                || values
                    .iter()
                    .any(|v| v.bytes().any(|b| b < 0x20 && b != b'\t'))
            {
                return Err(ConfigError::new(
                    path.clone(),
                    format!("{path} is not a valid HTTP header name and value"),
                ));
            }
            headers.push((name.clone(), values));
        }
    }
    let drain_timeout = duration(
        child(http, "draintimeout"),
        "http.draintimeout",
        Duration::from_secs(10),
    )?;
    let body_idle_timeout = duration(
        child(http, "bodyidletimeout"),
        "http.bodyidletimeout",
        Duration::from_secs(60),
    )?;
    if body_idle_timeout.is_zero() {
        return Err(ConfigError::new(
            "http.bodyidletimeout",
            "http.bodyidletimeout must be longer than 0s",
        ));
    }
    let max_connections = integer(child(http, "maxconnections"), "http.maxconnections", 1024)?;
    let max_connections = usize::try_from(max_connections)
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                "http.maxconnections",
                format!("http.maxconnections must be between 1 and 1000000, not {max_connections}"),
            )
        })?;
    let tls_node = section(child(http, "tls"), "http.tls")?;
    let tls = tls(tls_node, ctx)?;
    for (key, what) in [
        (
            "host",
            "absolute URLs are not generated; Location headers are relative",
        ),
        ("relativeurls", "Location headers are always relative"),
    ] {
        if child(http, key).is_some() {
            ctx.warnings
                .push(format!("http.{key} is ignored by this build: {what}"));
        }
    }
    let secret = string(child(http, "secret"), "http.secret")?.filter(|s| !s.is_empty());
    let dbg = section(child(http, "debug"), "http.debug")?;
    let debug = match string(child(dbg, "addr"), "http.debug.addr")?.filter(|a| !a.is_empty()) {
        None => None,
        Some(addr) => {
            let prom = section(child(dbg, "prometheus"), "http.debug.prometheus")?;
            let enabled = boolean(
                child(prom, "enabled"),
                "http.debug.prometheus.enabled",
                false,
            )?;
            let path = string(child(prom, "path"), "http.debug.prometheus.path")?
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/metrics".to_owned());
            if !path.starts_with('/') {
                return Err(ConfigError::new(
                    "http.debug.prometheus.path",
                    format!("http.debug.prometheus.path must start with '/', not {path:?}"),
                ));
            }
            Some(DebugConfig {
                addr,
                prometheus_path: enabled.then_some(path),
            })
        }
    };
    let h2 = section(child(http, "http2"), "http.http2")?;
    let http2_disabled = boolean(child(h2, "disabled"), "http.http2.disabled", false)?;
    Ok(HttpConfig {
        addr,
        prefix,
        headers,
        drain_timeout,
        body_idle_timeout,
        max_connections,
        tls,
        secret,
        debug,
        http2_disabled,
    })
}

fn tls(tls: Option<&Node>, ctx: &mut Ctx) -> Result<Option<TlsConfig>, ConfigError> {
    if tls.is_none() {
        return Ok(None);
    }
    for key in ["clientcas", "letsencrypt"] {
        let present = match child(tls, key) {
            None => false,
            Some(Node::List(l)) => !l.is_empty(),
            Some(Node::Map(m)) => !m.is_empty(),
            Some(_) => true,
        };
        if present {
            return Err(ConfigError::new(
                format!("http.tls.{key}"),
                format!("http.tls.{key} is not supported by this build; use a TLS-terminating reverse proxy (nginx, haproxy, caddy) for it"),
            ));
        }
    }
    if child(tls, "ciphersuites").is_some() {
        ctx.warnings.push(
            "http.tls.ciphersuites is ignored: rustls' default (secure) cipher suites are used"
                .to_owned(),
        );
    }
    let certificate = string(child(tls, "certificate"), "http.tls.certificate")?;
    let key = string(child(tls, "key"), "http.tls.key")?;
    let minimum_tls13 = match string(child(tls, "minimumtls"), "http.tls.minimumtls")? {
        None => false,
        Some(v) => {
            one_of(
                &v,
                "http.tls.minimumtls",
                &[("tls1.2", "12"), ("tls1.3", "13")],
            )? == "13"
        }
    };
    match (certificate, key) {
        (None, None) => Ok(None),
        (Some(c), Some(k)) => Ok(Some(TlsConfig {
            certificate: PathBuf::from(c),
            key: PathBuf::from(k),
            minimum_tls13,
        })),
        (Some(_), None) => Err(ConfigError::new(
            "http.tls.key",
            "http.tls.key is missing: TLS needs both http.tls.certificate and http.tls.key",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "http.tls.certificate",
            "http.tls.certificate is missing: TLS needs both http.tls.certificate and http.tls.key",
        )),
    }
}

fn auth(auth: Option<&Node>) -> Result<Option<AuthConfig>, ConfigError> {
    let Some(Node::Map(entries)) = auth else {
        return Ok(None);
    };
    let (kind, options) = match entries.as_slice() {
        [] => return Ok(None),
        [one] => (&one.0, &one.1),
        many => {
            let names: Vec<&str> = many.iter().map(|(k, _)| k.as_str()).collect();
            return Err(ConfigError::new(
                "auth",
                format!(
                    "auth must name exactly one access controller (htpasswd or token); found {}",
                    names.join(", ")
                ),
            ));
        }
    };
    match kind.as_str() {
        "htpasswd" => htpasswd(options).map(Some),
        "token" => token(options).map(|t| Some(AuthConfig::Token(t))),
        _ => Err(ConfigError::new(
            format!("auth.{kind}"),
            format!("auth.{kind} is not supported by this build; the supported access controllers are htpasswd and token"),
        )),
    }
}

fn htpasswd(options: &Node) -> Result<AuthConfig, ConfigError> {
    let options = section(Some(options), "auth.htpasswd")?;
    let realm = string(child(options, "realm"), "auth.htpasswd.realm")?.ok_or_else(|| {
        ConfigError::new(
            "auth.htpasswd.realm",
            "auth.htpasswd.realm must be set for the htpasswd access controller",
        )
    })?;
    let path = string(child(options, "path"), "auth.htpasswd.path")?.ok_or_else(|| {
        ConfigError::new(
            "auth.htpasswd.path",
            "auth.htpasswd.path must be set for the htpasswd access controller",
        )
    })?;
    if realm.contains('"') {
        return Err(ConfigError::new(
            "auth.htpasswd.realm",
            "auth.htpasswd.realm must not contain a double quote",
        ));
    }
    Ok(AuthConfig::Htpasswd {
        realm,
        path: PathBuf::from(path),
    })
}

/// `auth.token`, checked as registry:2 (3.x) checks it: `realm`, `issuer` and `service` are
/// required strings, at least one of `rootcertbundle` and `jwks` must be set.
fn token(options: &Node) -> Result<TokenConfig, ConfigError> {
    let options = section(Some(options), "auth.token")?;
    let required = |key: &str, what: &str| -> Result<String, ConfigError> {
        let path = format!("auth.token.{key}");
        string(child(options, key), &path)?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    path.clone(),
                    format!("{path} must be set for the token access controller ({what})"),
                )
            })
    };
    let realm = required("realm", "the token server's URL clients are sent to")?;
    let service = required("service", "the name tokens are issued for, their `aud`")?;
    let issuer = required("issuer", "the token server's name, the `iss` of its tokens")?;
    for (key, value) in [("realm", &realm), ("service", &service)] {
        if value.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(ConfigError::new(
                format!("auth.token.{key}"),
                format!("auth.token.{key} must not contain control characters"),
            ));
        }
    }
    let path = |key: &str| -> Result<Option<PathBuf>, ConfigError> {
        Ok(string(child(options, key), &format!("auth.token.{key}"))?
            .filter(|v| !v.is_empty())
            .map(PathBuf::from))
    };
    let root_cert_bundle = path("rootcertbundle")?;
    let jwks = path("jwks")?;
    if root_cert_bundle.is_none() && jwks.is_none() {
        return Err(ConfigError::new(
            "auth.token.rootcertbundle",
            "auth.token.rootcertbundle (PEM certificates of the token signing keys) or auth.token.jwks (a JSON Web Key Set file) must be set for the token access controller",
        ));
    }
    let auto_redirect = if boolean(
        child(options, "autoredirect"),
        "auth.token.autoredirect",
        false,
    )? {
        let p = string(
            child(options, "autoredirectpath"),
            "auth.token.autoredirectpath",
        )?
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/auth/token".to_owned());
        if !p.starts_with('/') || p.bytes().any(|b| b <= 0x20 || b == b'"' || b == 0x7f) {
            return Err(ConfigError::new(
                "auth.token.autoredirectpath",
                format!(
                    "auth.token.autoredirectpath must be a URL path such as /auth/token, not {p:?}"
                ),
            ));
        }
        Some(p)
    } else {
        None
    };
    let signing_algorithms = string_list(
        child(options, "signingalgorithms"),
        "auth.token.signingalgorithms",
    )?;
    Ok(TokenConfig {
        realm,
        service,
        issuer,
        root_cert_bundle,
        jwks,
        auto_redirect,
        signing_algorithms,
    })
}

/// A list of strings (a single string is a list of one).
fn string_list(n: Option<&Node>, path: &str) -> Result<Vec<String>, ConfigError> {
    match n {
        None => Ok(Vec::new()),
        Some(Node::List(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                string(Some(item), &format!("{path}[{i}]")).map(Option::unwrap_or_default)
            })
            .collect(),
        Some(n @ Node::Scalar { .. }) => Ok(string(Some(n), path)?.into_iter().collect()),
        Some(other) => Err(ConfigError::new(
            path,
            format!("{path} must be a list of strings, not {}", other.kind()),
        )),
    }
}

/// `notifications`: the endpoints with registry:2's defaults (timeout 1s, threshold 10,
/// backoff 1s, as its `EndpointConfig.defaults` applies them to zero values).
fn notifications(n: Option<&Node>) -> Result<NotificationsConfig, ConfigError> {
    let events = section(child(n, "events"), "notifications.events")?;
    let include_references = boolean(
        child(events, "includereferences"),
        "notifications.events.includereferences",
        false,
    )?;
    let list = match child(n, "endpoints") {
        None => Vec::new(),
        Some(Node::List(items)) => items.clone(),
        Some(other) => {
            return Err(ConfigError::new(
                "notifications.endpoints",
                format!(
                    "notifications.endpoints must be a list, not {}",
                    other.kind()
                ),
            ))
        }
    };
    let mut endpoints: Vec<NotificationEndpoint> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let p = format!("notifications.endpoints[{i}]");
        let item = section(Some(item), &p)?;
        let name = string(child(item, "name"), &format!("{p}.name"))?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    format!("{p}.name"),
                    format!("{p}.name is missing: every endpoint needs a name (it labels its logs and metrics)"),
                )
            })?;
        if endpoints.iter().any(|e| e.name == name) {
            return Err(ConfigError::new(
                format!("{p}.name"),
                format!(
                    "{p}.name: another endpoint is already named {name:?}; names must be unique"
                ),
            ));
        }
        let disabled = boolean(child(item, "disabled"), &format!("{p}.disabled"), false)?;
        let url = string(child(item, "url"), &format!("{p}.url"))?.unwrap_or_default();
        let valid_url = url
            .parse::<reqwest::Url>()
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !valid_url && !disabled {
            return Err(ConfigError::new(
                format!("{p}.url"),
                format!("{p}.url must be an http:// or https:// URL (endpoint {name:?})"),
            ));
        }
        let mut headers = Vec::new();
        if let Some(Node::Map(entries)) = section(child(item, "headers"), &format!("{p}.headers"))?
        {
            for (hname, v) in entries {
                let hp = format!("{p}.headers.{hname}");
                let values = string_list(Some(v), &hp)?;
                let valid_name = !hname.is_empty()
                    && hname
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                // The values are never echoed: they often hold credentials.
                if !valid_name
                    || values
                        .iter()
                        .any(|v| v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f))
                {
                    return Err(ConfigError::new(
                        hp.clone(),
                        format!("{hp} is not a valid HTTP header name and value"),
                    ));
                }
                headers.push((hname.clone(), values));
            }
        }
        let positive = |d: Duration, default: Duration| if d.is_zero() { default } else { d };
        let timeout = positive(
            duration(
                child(item, "timeout"),
                &format!("{p}.timeout"),
                Duration::ZERO,
            )?,
            Duration::from_secs(1),
        );
        let backoff = positive(
            duration(
                child(item, "backoff"),
                &format!("{p}.backoff"),
                Duration::ZERO,
            )?,
            Duration::from_secs(1),
        );
        let threshold = integer(child(item, "threshold"), &format!("{p}.threshold"), 0)?;
        let threshold = if threshold <= 0 {
            10
        } else {
            u32::try_from(threshold).map_err(|_| {
                ConfigError::new(
                    format!("{p}.threshold"),
                    format!("{p}.threshold must be at most {}", u32::MAX),
                )
            })?
        };
        let ignore = section(child(item, "ignore"), &format!("{p}.ignore"))?;
        let mut ignored_media_types = string_list(
            child(ignore, "mediatypes"),
            &format!("{p}.ignore.mediatypes"),
        )?;
        ignored_media_types.extend(string_list(
            child(item, "ignoredmediatypes"),
            &format!("{p}.ignoredmediatypes"),
        )?);
        let ignored_actions =
            string_list(child(ignore, "actions"), &format!("{p}.ignore.actions"))?;
        for a in &ignored_actions {
            if !matches!(a.as_str(), "pull" | "push" | "mount" | "delete") {
                return Err(ConfigError::new(
                    format!("{p}.ignore.actions"),
                    format!("{p}.ignore.actions must list actions among pull, push, mount, delete, not {a:?}"),
                ));
            }
        }
        endpoints.push(NotificationEndpoint {
            name,
            url,
            headers,
            timeout,
            threshold,
            backoff,
            ignored_media_types,
            ignored_actions,
            disabled,
        });
    }
    Ok(NotificationsConfig {
        include_references,
        endpoints,
    })
}

fn health(health: Option<&Node>) -> Result<Option<HealthCheckConfig>, ConfigError> {
    let sd = section(child(health, "storagedriver"), "health.storagedriver")?;
    if !boolean(child(sd, "enabled"), "health.storagedriver.enabled", false)? {
        return Ok(None);
    }
    let mut interval = duration(
        child(sd, "interval"),
        "health.storagedriver.interval",
        Duration::from_secs(10),
    )?;
    if interval.is_zero() {
        interval = Duration::from_secs(10);
    }
    let threshold = integer(child(sd, "threshold"), "health.storagedriver.threshold", 3)?;
    let threshold = u32::try_from(threshold).map_err(|_| {
        ConfigError::new(
            "health.storagedriver.threshold",
            "health.storagedriver.threshold must be a non-negative integer",
        )
    })?;
    Ok(Some(HealthCheckConfig {
        interval,
        threshold,
    }))
}

fn ignored_sections(root: Option<&Node>, ctx: &mut Ctx) -> Result<(), ConfigError> {
    if child(root, "redis").is_some() {
        ctx.warnings
            .push("redis is not used by this build; the section is ignored".to_owned());
    }
    Ok(())
}
