//! `REGISTRY_*` environment overrides, applied to the configuration tree the way
//! Distribution's `configuration/parser.go` applies them:
//!
//! * variables are applied in byte order of their names, so `REGISTRY_STORAGE`
//!   (replacing the whole `storage` section) comes before
//!   `REGISTRY_STORAGE_S3_BUCKET`;
//! * the name after `REGISTRY_` is split on `_`; each part selects a field or map
//!   key whose upper-case form equals it;
//! * a part that names no field of a fixed section (`http`, `log`, `health`,
//!   ...) is ignored with a warning; in open maps (`storage`, `auth`, driver
//!   parameters, `http.headers`, middleware options) a missing key is created in
//!   lower case; list elements are addressed by index (`..._0_NAME`), the index
//!   one past the end appends;
//! * the value is parsed as YAML, so `true`, `10`, `[a, b]` and `{k: v}` work.

use super::yaml::{self, map_set, Node};
use super::ConfigError;

/// The shape of a configuration section, for deciding how an override applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Fixed fields (a Go struct): unknown names are ignored.
    Struct(&'static [&'static str]),
    /// Open keys (a Go map or `interface{}`).
    Map,
    /// A list whose elements have this element shape (only struct lists occur).
    List(&'static [&'static str]),
    /// A scalar field.
    Leaf,
}

const LOG: &[&str] = &[
    "accesslog",
    "level",
    "formatter",
    "fields",
    "hooks",
    "reportcaller",
];
const HTTP: &[&str] = &[
    "addr",
    "net",
    "host",
    "prefix",
    "secret",
    "relativeurls",
    "draintimeout",
    "bodyidletimeout",
    "maxconnections",
    "tls",
    "headers",
    "debug",
    "http2",
    "h2c",
];
const TLS: &[&str] = &[
    "certificate",
    "key",
    "clientcas",
    "clientauth",
    "minimumtls",
    "ciphersuites",
    "letsencrypt",
];
const HEALTH: &[&str] = &[
    "filecheckers",
    "httpcheckers",
    "tcpcheckers",
    "storagedriver",
];
const STORAGEDRIVER: &[&str] = &["enabled", "interval", "threshold"];
const MIDDLEWARE: &[&str] = &["name", "disabled", "options"];
const NOTIFICATIONS: &[&str] = &["events", "endpoints"];
const ENDPOINT: &[&str] = &[
    "name",
    "disabled",
    "url",
    "headers",
    "timeout",
    "threshold",
    "backoff",
    "ignoredmediatypes",
    "ignore",
];

fn shape(path: &[String]) -> Shape {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        [] => Shape::Struct(super::parse::TOP_LEVEL),
        ["log"] => Shape::Struct(LOG),
        ["log", "accesslog"] => Shape::Struct(&["disabled"]),
        ["log", "fields"] => Shape::Map,
        ["http"] => Shape::Struct(HTTP),
        ["http", "tls"] => Shape::Struct(TLS),
        ["http", "headers"] => Shape::Map,
        ["http", "debug"] => Shape::Struct(&["addr", "prometheus"]),
        ["http", "debug", "prometheus"] => Shape::Struct(&["enabled", "path"]),
        ["http", "http2"] => Shape::Struct(&["disabled"]),
        ["http", "h2c"] => Shape::Struct(&["enabled"]),
        ["health"] => Shape::Struct(HEALTH),
        ["health", "storagedriver"] => Shape::Struct(STORAGEDRIVER),
        ["catalog"] => Shape::Struct(&["maxentries"]),
        ["proxy"] => Shape::Struct(super::parse::PROXY_KEYS),
        ["notifications"] => Shape::Struct(NOTIFICATIONS),
        ["notifications", "events"] => Shape::Struct(&["includereferences"]),
        ["notifications", "endpoints"] => Shape::List(ENDPOINT),
        ["notifications", "endpoints", _] => Shape::Struct(ENDPOINT),
        ["notifications", "endpoints", _, "headers"] => Shape::Map,
        ["notifications", "endpoints", _, "ignore"] => Shape::Struct(&["mediatypes", "actions"]),
        ["notifications", ..] => Shape::Leaf,
        ["middleware", _] => Shape::List(MIDDLEWARE),
        ["middleware", _, _] => Shape::Struct(MIDDLEWARE),
        ["log" | "http" | "health" | "catalog", ..] | ["version" | "loglevel"] => Shape::Leaf,
        // storage, auth, middleware (and their parameters), redis, proxy.exec,
        // validation, policy: open maps.
        _ => Shape::Map,
    }
}

/// Applies every `REGISTRY_*` variable of `env` to `root`. Returns warnings for
/// ignored variables.
///
/// # Errors
/// A value that is not valid YAML, or a list index that is not a number or
/// lies past the end; the message names the variable, never its value.
pub(crate) fn apply(root: &mut Node, env: &[(String, String)]) -> Result<Vec<String>, ConfigError> {
    let mut vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("REGISTRY_") && k != "REGISTRY_CONFIGURATION_PATH")
        .collect();
    crate::sort::sort_by(&mut vars, |a, b| a.0.cmp(&b.0));
    let mut warnings = Vec::new();
    for (name, value) in vars {
        let parts: Vec<&str> = name.split('_').skip(1).collect();
        let payload = yaml::parse(value).map_err(|e| {
            ConfigError::new(
                name.clone(),
                format!(
                    "the value of environment variable {name} is not valid YAML: {}",
                    e.0
                ),
            )
        })?;
        let mut path = Vec::new();
        match overwrite(root, &mut path, &parts, payload, name)? {
            // `REGISTRY_STORAGE=s3` is the short form `storage: s3`.
            Applied::Yes => super::parse::normalize(root),
            Applied::Ignored => {
                warnings.push(format!("ignoring unrecognized environment variable {name}"));
            }
        }
    }
    Ok(warnings)
}

enum Applied {
    Yes,
    Ignored,
}

fn overwrite(
    node: &mut Node,
    path: &mut Vec<String>,
    parts: &[&str],
    payload: Node,
    var: &str,
) -> Result<Applied, ConfigError> {
    let Some((first, rest)) = parts.split_first() else {
        *node = payload;
        return Ok(Applied::Yes);
    };
    match shape(path) {
        Shape::Leaf => Ok(Applied::Ignored),
        Shape::List(_) => {
            let idx: usize = first.parse().map_err(|_| {
                ConfigError::new(var, format!("{var}: non-numeric list index {first}"))
            })?;
            if !matches!(node, Node::List(_)) {
                *node = Node::List(Vec::new());
            }
            let Node::List(items) = node else {
                return Ok(Applied::Ignored);
            };
            if idx > items.len() {
                return Err(ConfigError::new(
                    var,
                    format!(
                        "{var}: undefined list index {idx} (the list has {} entries)",
                        items.len()
                    ),
                ));
            }
            if idx == items.len() {
                items.push(Node::Map(Vec::new()));
            }
            path.push(idx.to_string());
            overwrite(&mut items[idx], path, rest, payload, var)
        }
        shape @ (Shape::Struct(_) | Shape::Map) => {
            if let Shape::Struct(fields) = shape {
                if !fields.iter().any(|f| f.to_ascii_uppercase() == *first) {
                    return Ok(Applied::Ignored);
                }
            }
            if node.is_null() {
                *node = Node::Map(Vec::new());
            }
            let Node::Map(entries) = node else {
                // A scalar where a section was expected: Go ignores the variable.
                return Ok(Applied::Ignored);
            };
            let existing = entries
                .iter()
                .position(|(k, _)| k.to_ascii_uppercase() == *first);
            let key = match existing {
                Some(i) => entries[i].0.clone(),
                None => first.to_ascii_lowercase(),
            };
            if existing.is_none() || rest.is_empty() {
                let fresh = if rest.is_empty() {
                    payload.clone()
                } else {
                    Node::null()
                };
                map_set(entries, key.clone(), fresh);
                if rest.is_empty() {
                    return Ok(Applied::Yes);
                }
            }
            let slot = entries
                .iter_mut()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v)
                .ok_or_else(|| ConfigError::new(var, format!("{var}: internal error")))?;
            path.push(key);
            overwrite(slot, path, rest, payload, var)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::{go_sprint, parse};

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn at<'a>(n: &'a Node, path: &[&str]) -> &'a Node {
        path.iter()
            .fold(n, |n, k| n.get(k).unwrap_or_else(|| panic!("missing {k}")))
    }

    #[test]
    fn overrides_follow_parser_go() {
        let mut root = parse(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /x\nhttp:\n  addr: :5000\n",
        )
        .unwrap();
        let w = apply(
            &mut root,
            &env(&[
                ("REGISTRY_STORAGE_S3_BUCKET", "b"),
                ("REGISTRY_STORAGE", "{s3: {region: us-east-1}}"),
                ("REGISTRY_HTTP_ADDR", ":6000"),
                ("REGISTRY_HTTP_NOPE", "x"),
                ("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
                ("REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD", "5"),
                ("REGISTRY_MIDDLEWARE_STORAGE_0_NAME", "cloudfront"),
                ("REGISTRY_MIDDLEWARE_STORAGE_0_OPTIONS_KEYPAIRID", "K"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(
            w,
            vec!["ignoring unrecognized environment variable REGISTRY_HTTP_NOPE"]
        );
        // REGISTRY_STORAGE sorts first and replaced the filesystem section.
        assert!(at(&root, &["storage"]).get("filesystem").is_none());
        assert_eq!(go_sprint(at(&root, &["storage", "s3", "bucket"])), "b");
        assert_eq!(
            go_sprint(at(&root, &["storage", "s3", "region"])),
            "us-east-1"
        );
        assert_eq!(go_sprint(at(&root, &["http", "addr"])), ":6000");
        assert_eq!(
            go_sprint(at(&root, &["storage", "delete", "enabled"])),
            "true"
        );
        assert_eq!(
            go_sprint(at(&root, &["health", "storagedriver", "threshold"])),
            "5"
        );
        let mw = at(&root, &["middleware", "storage"]);
        assert_eq!(
            go_sprint(mw),
            "[map[name:cloudfront options:map[keypairid:K]]]"
        );
    }

    #[test]
    fn existing_keys_keep_their_spelling_and_bad_indexes_fail() {
        let mut root = parse("storage:\n  s3:\n    regionEndpoint: x\n").unwrap();
        apply(
            &mut root,
            &env(&[("REGISTRY_STORAGE_S3_REGIONENDPOINT", "z")]),
        )
        .unwrap();
        assert_eq!(
            go_sprint(at(&root, &["storage", "s3", "regionEndpoint"])),
            "z"
        );
        let e = apply(
            &mut root,
            &env(&[("REGISTRY_MIDDLEWARE_STORAGE_3_NAME", "x")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("undefined list index 3"), "{e}");
        let e = apply(
            &mut root,
            &env(&[("REGISTRY_MIDDLEWARE_STORAGE_X_NAME", "x")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("non-numeric"), "{e}");
    }

    #[test]
    fn notification_endpoints_are_a_list_of_structs() {
        let mut root =
            parse("notifications:\n  endpoints:\n    - name: a\n      url: http://x/\n").unwrap();
        let w = apply(
            &mut root,
            &env(&[
                ("REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL", "http://y/"),
                (
                    "REGISTRY_NOTIFICATIONS_ENDPOINTS_0_IGNORE_ACTIONS",
                    "[pull]",
                ),
                (
                    "REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS_AUTHORIZATION",
                    "[Bearer x]",
                ),
                ("REGISTRY_NOTIFICATIONS_ENDPOINTS_1_NAME", "b"),
                ("REGISTRY_NOTIFICATIONS_ENDPOINTS_1_NOPE", "x"),
                ("REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(
            w,
            vec!["ignoring unrecognized environment variable REGISTRY_NOTIFICATIONS_ENDPOINTS_1_NOPE"]
        );
        let eps = at(&root, &["notifications", "endpoints"]);
        assert_eq!(
            go_sprint(eps),
            "[map[headers:map[authorization:[Bearer x]] ignore:map[actions:[pull]] name:a url:http://y/] map[name:b]]"
        );
        assert_eq!(
            go_sprint(at(&root, &["notifications", "events", "includereferences"])),
            "true"
        );
    }

    #[test]
    fn invalid_yaml_value_is_named_but_not_echoed() {
        let mut root = Node::null();
        let e = apply(
            &mut root,
            &env(&[("REGISTRY_STORAGE_S3_SECRETKEY", "[s3cr3t-value")]),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("REGISTRY_STORAGE_S3_SECRETKEY"), "{msg}");
        assert!(!msg.contains("s3cr3t"), "{msg}");
    }
}
