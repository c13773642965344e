//! A small response builder that never fails: header values that cannot be
//! represented are dropped with an error log instead of panicking.

use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{HeaderMap, Response, StatusCode};
use serde_json::Value;

use super::body::{self, Body};

/// A response under construction.
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
}

impl Reply {
    /// A response with `status` and no headers.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
        }
    }

    /// Adds a header (replacing one of the same name).
    pub fn header(mut self, name: impl Into<HeaderName>, value: impl AsRef<str>) -> Self {
        let name = name.into();
        match HeaderValue::from_str(value.as_ref()) {
            Ok(v) => {
                self.headers.insert(name, v);
            }
            Err(_) => {
                tracing::error!(header = %name, "dropping a header value that is not valid in HTTP")
            }
        }
        self
    }

    /// Finishes with an empty body and `Content-Length: 0` (unless a length was set).
    pub fn empty(mut self) -> Response<Body> {
        if !self.headers.contains_key(CONTENT_LENGTH) {
            self.headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
        }
        self.with_body(body::empty())
    }

    /// Finishes with a JSON body (`application/json`, a trailing newline like
    /// Go's `json.Encoder`).
    pub fn json(mut self, value: &Value) -> Response<Body> {
        let mut text = value.to_string();
        text.push('\n');
        if !self.headers.contains_key(CONTENT_TYPE) {
            self.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self.headers
            .insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
        self.with_body(body::full(text))
    }

    /// Finishes with `body`; the caller sets `Content-Length`.
    pub fn with_body(self, body: Body) -> Response<Body> {
        let mut r = Response::new(body);
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::LOCATION;

    #[test]
    fn builds_without_panicking() {
        let r = Reply::new(StatusCode::CREATED)
            .header(LOCATION, "/v2/a/blobs/sha256:00")
            .header(HeaderName::from_static("x-bad"), "a\nb")
            .empty();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()[LOCATION], "/v2/a/blobs/sha256:00");
        assert!(r.headers().get("x-bad").is_none());
        assert_eq!(r.headers()[CONTENT_LENGTH], "0");
        let j = Reply::new(StatusCode::OK).json(&serde_json::json!({}));
        assert_eq!(j.headers()[CONTENT_LENGTH], "3");
    }
}
