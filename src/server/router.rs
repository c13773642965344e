//! Request paths to routes (Distribution's `registry/api/v2/routes.go`), and
//! query strings.

use percent_encoding::percent_decode_str;

use super::error::{ApiErrors, ErrorCode};
use super::names::{is_valid_name, is_valid_upload_id};

/// An API endpoint below `/v2/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/<name>/tags/list`.
    Tags {
        /// Repository.
        name: String,
    },
    /// `/v2/<name>/manifests/<reference>`.
    Manifest {
        /// Repository.
        name: String,
        /// Tag or digest, unvalidated.
        reference: String,
    },
    /// `/v2/<name>/blobs/<digest>`.
    Blob {
        /// Repository.
        name: String,
        /// Digest, unvalidated.
        digest: String,
    },
    /// `/v2/<name>/blobs/uploads/`.
    UploadStart {
        /// Repository.
        name: String,
    },
    /// `/v2/<name>/blobs/uploads/<id>`.
    Upload {
        /// Repository.
        name: String,
        /// Upload id (validated as a safe path component).
        id: String,
    },
    /// `/v2/<name>/referrers/<digest>`.
    Referrers {
        /// Repository.
        name: String,
        /// Digest, unvalidated.
        digest: String,
    },
}

/// Why a path is not a route.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteError {
    /// No endpoint has this shape: plain 404.
    NotFound,
    /// The shape is right but a part is malformed.
    Api(ApiErrors),
}

/// Parses the path below the prefix (starting with `/v2`).
pub fn parse(path: &str) -> Result<Route, RouteError> {
    let rest = match path {
        "/v2" | "/v2/" => return Ok(Route::Base),
        _ => path.strip_prefix("/v2/").ok_or(RouteError::NotFound)?,
    };
    if rest == "_catalog" {
        return Ok(Route::Catalog);
    }
    let name_ok = |name: &str| -> Result<String, RouteError> {
        if is_valid_name(name) {
            Ok(name.to_owned())
        } else {
            Err(RouteError::Api(
                ErrorCode::NameInvalid
                    .with_detail(serde_json::json!({ "name": name }))
                    .into(),
            ))
        }
    };
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Ok(Route::Tags {
            name: name_ok(name)?,
        });
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Ok(Route::UploadStart {
            name: name_ok(name)?,
        });
    }
    if let Some((name, id)) = split_last(rest, "/blobs/uploads/") {
        if !is_valid_upload_id(id) {
            return Err(RouteError::Api(
                ErrorCode::BlobUploadUnknown
                    .with_detail(serde_json::json!({ "uuid": id }))
                    .into(),
            ));
        }
        return Ok(Route::Upload {
            name: name_ok(name)?,
            id: id.to_owned(),
        });
    }
    for (marker, kind) in [("/manifests/", 0), ("/blobs/", 1), ("/referrers/", 2)] {
        if let Some((name, last)) = split_last(rest, marker) {
            let name = name_ok(name)?;
            let last = last.to_owned();
            return Ok(match kind {
                0 => Route::Manifest {
                    name,
                    reference: last,
                },
                1 => Route::Blob { name, digest: last },
                _ => Route::Referrers { name, digest: last },
            });
        }
    }
    Err(RouteError::NotFound)
}

/// Splits `s` at the last `marker` when what follows is one non-empty segment.
fn split_last<'a>(s: &'a str, marker: &str) -> Option<(&'a str, &'a str)> {
    let i = s.rfind(marker)?;
    let (head, tail) = (&s[..i], &s[i + marker.len()..]);
    (!tail.is_empty() && !tail.contains('/') && !head.is_empty()).then_some((head, tail))
}

/// The decoded `key=value` pairs of a query string, in order (`+` is a space).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_decode_str(&s).decode_utf8_lossy().into_owned()
    };
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value of `key` (Go's `FormValue`), `None` if absent.
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn parses_every_endpoint() {
        assert_eq!(parse("/v2/"), Ok(Route::Base));
        assert_eq!(parse("/v2"), Ok(Route::Base));
        assert_eq!(parse("/v2/_catalog"), Ok(Route::Catalog));
        assert_eq!(
            parse("/v2/a/b/tags/list"),
            Ok(Route::Tags { name: name("a/b") })
        );
        assert_eq!(
            parse("/v2/a/manifests/latest"),
            Ok(Route::Manifest {
                name: name("a"),
                reference: name("latest")
            })
        );
        assert_eq!(
            parse("/v2/a/blobs/sha256:00"),
            Ok(Route::Blob {
                name: name("a"),
                digest: name("sha256:00")
            })
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads/"),
            Ok(Route::UploadStart { name: name("a") })
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads/abc-123"),
            Ok(Route::Upload {
                name: name("a"),
                id: name("abc-123")
            })
        );
        // A repository whose name contains the route keywords.
        assert_eq!(
            parse("/v2/blobs/uploads/blobs/uploads/"),
            Ok(Route::UploadStart {
                name: name("blobs/uploads")
            })
        );
        assert_eq!(
            parse("/v2/x/manifests/manifests/v1"),
            Ok(Route::Manifest {
                name: name("x/manifests"),
                reference: name("v1")
            })
        );
        assert_eq!(
            parse("/v2/a/referrers/sha256:00"),
            Ok(Route::Referrers {
                name: name("a"),
                digest: name("sha256:00")
            })
        );
    }

    #[test]
    fn rejects_bad_names_and_unknown_shapes() {
        assert!(matches!(
            parse("/v2/UPPER/tags/list"),
            Err(RouteError::Api(e)) if e.0[0].code == ErrorCode::NameInvalid
        ));
        assert!(matches!(
            parse("/v2/a/blobs/uploads/.."),
            Err(RouteError::Api(e)) if e.0[0].code == ErrorCode::BlobUploadUnknown
        ));
        assert_eq!(parse("/v2/a"), Err(RouteError::NotFound));
        assert_eq!(parse("/v2/a/unknown/x"), Err(RouteError::NotFound));
        assert_eq!(parse("/v3/"), Err(RouteError::NotFound));
        assert_eq!(parse("/v2/a/manifests/"), Err(RouteError::NotFound));
    }

    #[test]
    fn query_strings() {
        let q = query_pairs(Some("n=2&last=a%2Fb&x&digest=sha256%3A00&n=9&s=a+b"));
        assert_eq!(first(&q, "n"), Some("2"));
        assert_eq!(first(&q, "last"), Some("a/b"));
        assert_eq!(first(&q, "x"), Some(""));
        assert_eq!(first(&q, "digest"), Some("sha256:00"));
        assert_eq!(first(&q, "s"), Some("a b"));
        assert_eq!(first(&q, "nope"), None);
        assert!(query_pairs(None).is_empty());
    }
}
