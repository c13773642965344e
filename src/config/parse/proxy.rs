//! The `proxy` section: registry:2's pull-through cache settings (`remoteurl`, `username`,
//! `password`, and v3's `ttl`), plus `timeout`.

use std::time::Duration;

use super::super::{ConfigError, ProxyConfig};
use super::{child, duration, section, string, Ctx};
use crate::config::yaml::Node;

/// registry:2's default `proxy.ttl` (`repositoryTTL`, 7 days).
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(168 * 3600);

/// Default `proxy.timeout`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Keys of the section (registry:2 2.8's, v3's and ours).
pub(crate) const KEYS: &[&str] = &[
    "remoteurl",
    "username",
    "password",
    "ttl",
    "timeout",
    "exec",
    "cachewritetimeout",
];

/// Parses `proxy`. `Ok(None)` without `proxy.remoteurl` (registry:2 is then no cache).
pub(crate) fn proxy(
    root: Option<&Node>,
    ctx: &mut Ctx,
) -> Result<Option<ProxyConfig>, ConfigError> {
    let Some(p) = section(child(root, "proxy"), "proxy")? else {
        return Ok(None);
    };
    if let Node::Map(entries) = p {
        for (k, _) in entries {
            if !KEYS.contains(&k.as_str()) {
                ctx.warnings
                    .push(format!("unknown configuration key proxy.{k} is ignored"));
            }
        }
    }
    let Some(url) =
        string(child(Some(p), "remoteurl"), "proxy.remoteurl")?.filter(|u| !u.is_empty())
    else {
        if child(Some(p), "username").is_some() || child(Some(p), "password").is_some() {
            ctx.warnings.push(
                "proxy.username and proxy.password are ignored without proxy.remoteurl".to_owned(),
            );
        }
        return Ok(None);
    };
    let remote_url = remote_url(&url)?;
    if child(Some(p), "exec").is_some() {
        return Err(ConfigError::new(
            "proxy.exec",
            "proxy.exec (credential helpers) is not supported by this build; set proxy.username and proxy.password",
        ));
    }
    let username = string(child(Some(p), "username"), "proxy.username")?.filter(|u| !u.is_empty());
    let password = string(child(Some(p), "password"), "proxy.password")?.filter(|u| !u.is_empty());
    match (&username, &password) {
        (Some(_), None) => {
            return Err(ConfigError::new(
                "proxy.password",
                "proxy.password is missing: proxy.username needs it",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "proxy.username",
                "proxy.username is missing: proxy.password needs it",
            ))
        }
        _ => {}
    }
    if username.as_deref().is_some_and(|u| u.contains(':')) {
        return Err(ConfigError::new(
            "proxy.username",
            "proxy.username must not contain ':' (HTTP basic authentication cannot carry it)",
        ));
    }
    let ttl = duration(child(Some(p), "ttl"), "proxy.ttl", DEFAULT_TTL)?;
    let timeout = duration(child(Some(p), "timeout"), "proxy.timeout", DEFAULT_TIMEOUT)?;
    if timeout.is_zero() {
        return Err(ConfigError::new(
            "proxy.timeout",
            "proxy.timeout must be longer than 0s (default 30s)",
        ));
    }
    if child(Some(p), "cachewritetimeout").is_some() {
        ctx.warnings.push(
            "proxy.cachewritetimeout is ignored: writing to the cache is bounded by the storage driver's own timeouts"
                .to_owned(),
        );
    }
    Ok(Some(ProxyConfig {
        remote_url,
        username,
        password,
        ttl: (!ttl.is_zero()).then_some(ttl),
        timeout,
    }))
}

/// Checks `proxy.remoteurl`: an `http` or `https` URL of a host, without credentials, query
/// or fragment. Returned without a trailing slash. Messages never repeat the value (it
/// might hold credentials).
fn remote_url(url: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(
            "proxy.remoteurl",
            format!(
                "proxy.remoteurl must be the upstream registry's URL, such as https://registry-1.docker.io: {why}"
            ),
        )
    };
    let u = reqwest::Url::parse(url.trim()).map_err(|e| bad(&format!("not a URL ({e})")))?;
    match u.scheme() {
        "http" => {}
        "https" if cfg!(feature = "tls") => {}
        "https" => {
            return Err(bad(
                "this build has no TLS support (cargo feature `tls`); use an http:// upstream or rebuild with it",
            ))
        }
        _ => return Err(bad("the scheme must be http or https")),
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("the host is missing"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "credentials do not belong in the URL; set proxy.username and proxy.password",
        ));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("a query or fragment is not allowed"));
    }
    let mut s = u.to_string();
    while s.ends_with('/') {
        s.pop();
    }
    // A base URL ending in /v2 would give /v2/v2/...
    if s.ends_with("/v2") {
        return Err(bad("give the registry's base URL, without /v2"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(proxy: &str) -> Result<Config, String> {
        Config::from_yaml(
            &format!("version: 0.1\nstorage: inmemory\nproxy:\n{proxy}"),
            &[],
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_values() {
        let c = parse("  remoteurl: https://registry-1.docker.io/\n").unwrap();
        let p = c.proxy.unwrap();
        assert_eq!(p.remote_url, "https://registry-1.docker.io");
        assert_eq!(p.ttl, Some(super::DEFAULT_TTL));
        assert_eq!(p.timeout, super::DEFAULT_TIMEOUT);
        assert_eq!((p.username, p.password), (None, None));
        let c = parse(
            "  remoteurl: http://127.0.0.1:5000/mirror\n  username: u\n  password: s3cret-pw\n  ttl: 90m\n  timeout: 5s\n",
        )
        .unwrap();
        let p = c.proxy.clone().unwrap();
        assert_eq!(p.remote_url, "http://127.0.0.1:5000/mirror");
        assert_eq!(p.ttl, Some(std::time::Duration::from_secs(5400)));
        assert_eq!(p.timeout, std::time::Duration::from_secs(5));
        assert_eq!(p.username.as_deref(), Some("u"));
        let shown = format!("{p:?} {c:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        // ttl: 0 keeps content forever.
        let p = parse("  remoteurl: http://h\n  ttl: 0\n")
            .unwrap()
            .proxy
            .unwrap();
        assert_eq!(p.ttl, None);
        // No remoteurl: no cache, as in registry:2.
        let c = parse("  username: u\n  password: p\n").unwrap();
        assert!(c.proxy.is_none());
        assert!(c
            .warnings
            .iter()
            .any(|w| w.contains("ignored without proxy.remoteurl")));
        let c = parse("  remoteurl: http://h\n  cachewritetimeout: 1m\n  bogus: 1\n").unwrap();
        assert!(
            c.warnings.iter().any(|w| w.contains("cachewritetimeout")),
            "{:?}",
            c.warnings
        );
        assert!(
            c.warnings.iter().any(|w| w.contains("proxy.bogus")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn environment_overrides() {
        let env = [
            ("REGISTRY_PROXY_REMOTEURL", "http://127.0.0.1:1"),
            ("REGISTRY_PROXY_USERNAME", "envuser"),
            ("REGISTRY_PROXY_PASSWORD", "envpass"),
            ("REGISTRY_PROXY_TTL", "1h"),
            ("REGISTRY_PROXY_NOPE", "x"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let c = Config::from_yaml("version: 0.1\nstorage: inmemory\n", &env).unwrap();
        let p = c.proxy.unwrap();
        assert_eq!(p.remote_url, "http://127.0.0.1:1");
        assert_eq!(p.username.as_deref(), Some("envuser"));
        assert_eq!(p.password.as_deref(), Some("envpass"));
        assert_eq!(p.ttl, Some(std::time::Duration::from_secs(3600)));
        assert!(
            c.warnings.iter().any(|w| w.contains("REGISTRY_PROXY_NOPE")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn errors_name_the_key_and_never_echo_secrets() {
        for (yaml, want) in [
            ("  remoteurl: ftp://h\n", "the scheme must be http or https"),
            ("  remoteurl: not a url\n", "not a URL"),
            (
                "  remoteurl: http://user:hunter2@h/\n",
                "set proxy.username and proxy.password",
            ),
            ("  remoteurl: http://h/?x=1\n", "query"),
            ("  remoteurl: http://h/v2/\n", "without /v2"),
            (
                "  remoteurl: http://h\n  username: u\n",
                "proxy.password is missing",
            ),
            (
                "  remoteurl: http://h\n  password: hunter2\n",
                "proxy.username is missing",
            ),
            (
                "  remoteurl: http://h\n  username: \"a:b\"\n  password: hunter2\n",
                "must not contain ':'",
            ),
            (
                "  remoteurl: http://h\n  ttl: soon\n",
                "proxy.ttl must be a duration",
            ),
            (
                "  remoteurl: http://h\n  timeout: 0s\n",
                "proxy.timeout must be longer than 0s",
            ),
            (
                "  remoteurl: http://h\n  exec:\n    command: x\n",
                "proxy.exec",
            ),
        ] {
            let e = parse(yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = Config::from_yaml(
            "version: 0.1\nstorage:\n  inmemory:\n  maintenance:\n    readonly:\n      enabled: true\nproxy:\n  remoteurl: http://h\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("read-only"), "{e}");
    }
}
