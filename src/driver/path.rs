//! Storage paths: validation and the few helpers drivers share.
//!
//! A storage path is absolute, has at least one component, no trailing slash and
//! no empty component; each component uses only `A-Z a-z 0-9 . _ -`. This is
//! Distribution's `PathRegexp`, `^(/[A-Za-z0-9._-]+)+$`, checked by hand.
//! `Stat`, `List` and `Walk` also accept the root, `"/"` (see
//! [`is_valid_path_or_root`]).

/// True if `path` matches Distribution's path pattern, `^(/[A-Za-z0-9._-]+)+$`.
///
/// ```
/// use s3driver::driver::is_valid_path;
/// assert!(is_valid_path("/docker/registry/v2/blobs"));
/// assert!(is_valid_path("/.abc"));
/// assert!(!is_valid_path("/"));
/// assert!(!is_valid_path("//bcd"));
/// assert!(!is_valid_path("/abc_123/"));
/// assert!(!is_valid_path("abc"));
/// ```
pub fn is_valid_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    // Each '/'-separated component must be non-empty and use only allowed bytes;
    // this also rejects "//", a trailing '/' and the bare root.
    rest.split('/').all(|component| {
        !component.is_empty()
            && component
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

/// True if `path` is `"/"` or a valid path (what `Stat`, `List` and `Walk` accept).
pub(crate) fn is_valid_path_or_root(path: &str) -> bool {
    path == "/" || is_valid_path(path)
}

/// The parent of a valid path, `"/"` for a top-level path.
pub(crate) fn parent_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Joins a directory path (possibly `"/"`) and a child name.
pub(crate) fn join_path(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// True if `path` is `dir` itself or lies below it (component-wise, so `/a`
/// does not contain `/ab`). The root contains every absolute path.
pub(crate) fn is_subpath(path: &str, dir: &str) -> bool {
    if dir == "/" {
        return path.starts_with('/');
    }
    match path.strip_prefix(dir) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_suites_valid_paths() {
        for p in [
            "/a",
            "/2",
            "/aa",
            "/a.a",
            "/0-9/abcdefg",
            "/abcdefg/z.75",
            "/abc/1.2.3.4.5-6_zyx/123.z/4",
            "/docker/docker-registry",
            "/123.abc",
            "/abc./abc",
            "/.abc",
            "/a--b",
            "/a-.b",
            "/_.abc",
            "/Docker/docker-registry",
            "/Abc/Cba",
        ] {
            assert!(is_valid_path(p), "{p} should be valid");
        }
    }

    #[test]
    fn rejects_the_suites_invalid_paths() {
        for p in [
            "",
            "/",
            "abc",
            "123.abc",
            "//bcd",
            "/abc_123/",
            "/path/is/invalid*",
            "/a b",
            "/é",
            "/a//b",
        ] {
            assert!(!is_valid_path(p), "{p:?} should be invalid");
        }
        assert!(is_valid_path_or_root("/"));
        assert!(!is_valid_path_or_root(""));
    }

    #[test]
    fn helpers() {
        assert_eq!(parent_path("/a/b/c"), "/a/b");
        assert_eq!(parent_path("/a"), "/");
        assert_eq!(parent_path("/"), "/");
        assert_eq!(join_path("/", "a"), "/a");
        assert_eq!(join_path("/a", "b"), "/a/b");
        assert!(is_subpath("/a/b", "/a"));
        assert!(is_subpath("/a", "/a"));
        assert!(!is_subpath("/ab", "/a"));
        assert!(is_subpath("/x", "/"));
        assert_eq!(parent_path("/a/b"), "/a");
        assert!(!is_subpath("/folder1-v2/file1", "/folder1"));
        assert!(is_subpath("/folder1/file1", "/folder1"));
    }
}
