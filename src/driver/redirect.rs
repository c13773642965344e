//! [`RedirectRequest`]: the part of a client's HTTP request a driver may use to
//! build a redirect URL (Distribution passes the whole `*http.Request`).

use std::net::SocketAddr;

/// The client request a blob is served for, as plain data (no HTTP crate types).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectRequest {
    /// The HTTP method, upper case (`"GET"`, `"HEAD"`).
    pub method: String,
    /// Request headers, names as received (compare case-insensitively).
    pub headers: Vec<(String, String)>,
    /// The peer address of the connection, if known.
    pub remote_addr: Option<SocketAddr>,
}

impl RedirectRequest {
    /// A request with the given method and no headers.
    pub fn new(method: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            ..Self::default()
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_ignores_case() {
        let mut r = RedirectRequest::new("GET");
        r.headers
            .push(("X-Forwarded-For".into(), "10.0.0.1".into()));
        assert_eq!(r.header("x-forwarded-for"), Some("10.0.0.1"));
        assert_eq!(r.header("x-real-ip"), None);
    }
}
