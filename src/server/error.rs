//! The registry API's error vocabulary (Distribution's `registry/api/errcode`):
//! codes, their messages and HTTP statuses, and the JSON envelope
//! `{"errors":[{"code":"BLOB_UNKNOWN","message":"...","detail":...}]}`.

use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use super::body::{self, Body};
use crate::driver::DriverError;

/// An error code of the distribution API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 404: the blob is not in this repository.
    BlobUnknown,
    /// 404: the upload can no longer proceed.
    BlobUploadInvalid,
    /// 404: no such upload (never started, finished or cancelled).
    BlobUploadUnknown,
    /// 400: the digest is malformed or does not match the content.
    DigestInvalid,
    /// 400: a manifest references a blob this repository does not have.
    ManifestBlobUnknown,
    /// 400: the manifest could not be accepted.
    ManifestInvalid,
    /// 404: no such manifest or tag.
    ManifestUnknown,
    /// 400: the repository name is malformed.
    NameInvalid,
    /// 404: no such repository.
    NameUnknown,
    /// 400: the `n` query parameter is not acceptable.
    PaginationNumberInvalid,
    /// 416: an upload chunk does not continue where the upload stands.
    RangeInvalid,
    /// 400: a length does not match the content.
    SizeInvalid,
    /// 400: the tag is malformed.
    TagInvalid,
    /// 401: authentication required.
    Unauthorized,
    /// 405: the operation is not supported (e.g. deletes disabled).
    Unsupported,
    /// 503: the registry is unhealthy.
    Unavailable,
    /// 429: a limit was reached; retry later (`Retry-After`).
    TooManyRequests,
    /// 500: anything else.
    Unknown,
}

impl ErrorCode {
    /// The wire identifier (`"BLOB_UNKNOWN"`).
    pub fn value(self) -> &'static str {
        match self {
            Self::BlobUnknown => "BLOB_UNKNOWN",
            Self::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Self::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Self::DigestInvalid => "DIGEST_INVALID",
            Self::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Self::ManifestInvalid => "MANIFEST_INVALID",
            Self::ManifestUnknown => "MANIFEST_UNKNOWN",
            Self::NameInvalid => "NAME_INVALID",
            Self::NameUnknown => "NAME_UNKNOWN",
            Self::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            Self::RangeInvalid => "RANGE_INVALID",
            Self::SizeInvalid => "SIZE_INVALID",
            Self::TagInvalid => "TAG_INVALID",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Unsupported => "UNSUPPORTED",
            Self::Unavailable => "UNAVAILABLE",
            Self::TooManyRequests => "TOOMANYREQUESTS",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The default human-readable message (Distribution's descriptor message).
    pub fn message(self) -> &'static str {
        match self {
            Self::BlobUnknown | Self::ManifestBlobUnknown => "blob unknown to registry",
            Self::BlobUploadInvalid => "blob upload invalid",
            Self::BlobUploadUnknown => "blob upload unknown to registry",
            Self::DigestInvalid => "provided digest did not match uploaded content",
            Self::ManifestInvalid => "manifest invalid",
            Self::ManifestUnknown => "manifest unknown",
            Self::NameInvalid => "invalid repository name",
            Self::NameUnknown => "repository name not known to registry",
            Self::PaginationNumberInvalid => "invalid number of results requested",
            Self::RangeInvalid => "invalid content range",
            Self::SizeInvalid => "provided length did not match content length",
            Self::TagInvalid => "manifest tag did not match URI",
            Self::Unauthorized => "authentication required",
            Self::Unsupported => "The operation is unsupported.",
            Self::Unavailable => "service unavailable",
            Self::TooManyRequests => "too many requests",
            Self::Unknown => "unknown error",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BlobUnknown
            | Self::BlobUploadInvalid
            | Self::BlobUploadUnknown
            | Self::ManifestUnknown
            | Self::NameUnknown => StatusCode::NOT_FOUND,
            Self::DigestInvalid
            | Self::ManifestBlobUnknown
            | Self::ManifestInvalid
            | Self::NameInvalid
            | Self::PaginationNumberInvalid
            | Self::SizeInvalid
            | Self::TagInvalid => StatusCode::BAD_REQUEST,
            Self::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// This code with a detail value.
    pub fn with_detail(self, detail: impl Into<Value>) -> ApiError {
        ApiError {
            detail: Some(detail.into()),
            ..ApiError::from(self)
        }
    }

    /// This code with a message replacing the default one.
    pub fn with_message(self, message: impl Into<String>) -> ApiError {
        ApiError {
            message: Some(message.into()),
            ..ApiError::from(self)
        }
    }
}

/// One error of a response: a code, an optional message override and an
/// optional detail.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The code.
    pub code: ErrorCode,
    /// Replaces the code's default message when set.
    pub message: Option<String>,
    /// Free-form detail (`"detail"` in the JSON).
    pub detail: Option<Value>,
    /// Replaces the code's HTTP status when set (e.g. 413 for an oversized
    /// manifest, which Distribution answers with `MANIFEST_INVALID`).
    pub status: Option<StatusCode>,
    /// `Retry-After` (seconds) to answer with.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// This error answered with `status` instead of its code's.
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// This error with a `Retry-After` header of `seconds`.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// A failure inside the registry (500 `UNKNOWN`): `internal` is logged
    /// with the request id, and the client is told only the id, never the
    /// storage paths, object keys or endpoints `internal` may name.
    pub fn internal(internal: &dyn std::fmt::Display) -> Self {
        let id = request_id();
        tracing::error!(request_id = %id, error = %internal, "internal error");
        ErrorCode::Unknown.with_detail(format!(
            "internal error; the registry's log has the details under request id {id}"
        ))
    }
}

tokio::task_local! {
    /// The id of the request being handled (set by the server for each request).
    pub(super) static REQUEST_ID: String;
}

/// The id of the request being handled, or `-` outside a request.
pub(super) fn request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self {
            code,
            message: None,
            detail: None,
            status: None,
            retry_after: None,
        }
    }
}

impl From<DriverError> for ApiError {
    /// A storage failure the handler did not expect: `TOOMANYREQUESTS` (429
    /// with `Retry-After`) when the driver is at a resource limit, else
    /// `UNKNOWN` (500) whose detail is only the request id (see
    /// [`ApiError::internal`]).
    fn from(e: DriverError) -> Self {
        if let Some(busy) = e.as_busy() {
            tracing::warn!(request_id = %request_id(), error = %e, "storage driver busy");
            return ErrorCode::TooManyRequests
                .with_detail(busy.reason.clone())
                .with_retry_after(busy.retry_after.as_secs().max(1));
        }
        Self::internal(&e)
    }
}

/// The errors of one response; the first decides the HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiErrors(pub Vec<ApiError>);

impl<T: Into<ApiError>> From<T> for ApiErrors {
    fn from(e: T) -> Self {
        Self(vec![e.into()])
    }
}

impl ApiErrors {
    /// The HTTP status (the first error's).
    pub fn status(&self) -> StatusCode {
        self.0
            .first()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |e| {
                e.status.unwrap_or_else(|| e.code.status())
            })
    }

    /// The JSON body.
    pub fn to_json(&self) -> Value {
        let errors: Vec<Value> = self
            .0
            .iter()
            .map(|e| {
                let mut o = json!({
                    "code": e.code.value(),
                    "message": e.message.as_deref().unwrap_or(e.code.message()),
                });
                if let Some(d) = &e.detail {
                    o["detail"] = d.clone();
                }
                o
            })
            .collect();
        json!({ "errors": errors })
    }

    /// The complete response (its extensions carry a summary of the first error for the
    /// request log).
    pub fn into_response(self) -> Response<Body> {
        let summary = self.0.first().map(|e| ErrorSummary {
            code: e.code.value().to_ascii_lowercase().replace('_', " "),
            message: e
                .message
                .clone()
                .unwrap_or_else(|| e.code.message().to_owned()),
            detail: e.detail.as_ref().map_or_else(String::new, |d| match d {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        });
        let mut text = self.to_json().to_string();
        text.push('\n');
        let mut resp = Response::new(body::empty());
        *resp.status_mut() = self.status();
        let h = resp.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
        if let Some(secs) = self.0.iter().find_map(|e| e.retry_after) {
            h.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        *resp.body_mut() = body::full(text);
        if let Some(s) = summary {
            resp.extensions_mut().insert(s);
        }
        resp
    }
}

/// The first error of an error response, for the request log (`err.code` in registry:2's
/// form, `manifest unknown` for `MANIFEST_UNKNOWN`; `err.message`, `err.detail`).
#[derive(Debug, Clone)]
pub(super) struct ErrorSummary {
    pub code: String,
    pub message: String,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_envelope_matches_errcode() {
        let e = ApiErrors(vec![
            ErrorCode::ManifestBlobUnknown.with_detail("sha256:00"),
            ErrorCode::Unsupported.into(),
        ]);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            e.to_json().to_string(),
            r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","detail":"sha256:00","message":"blob unknown to registry"},{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#
        );
        let r = ApiErrors::from(ErrorCode::RangeInvalid).into_response();
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json; charset=utf-8");
        let m = ApiErrors::from(ErrorCode::ManifestUnknown.with_message("OCI index found"));
        assert_eq!(m.to_json()["errors"][0]["message"], "OCI index found");
    }

    #[test]
    fn overrides_and_storage_errors() {
        let e = ApiErrors::from(
            ErrorCode::ManifestInvalid
                .with_detail("too big")
                .with_status(StatusCode::PAYLOAD_TOO_LARGE),
        );
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let busy = DriverError::busy("full", std::time::Duration::from_secs(7));
        let r = ApiErrors::from(busy).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[RETRY_AFTER], "7");
        let secret = DriverError::msg("GET http://10.0.0.5:9000/bucket/docker/registry/v2/x: 500");
        let e = ApiError::from(secret);
        assert_eq!(e.code, ErrorCode::Unknown);
        let detail = e.detail.unwrap().to_string();
        assert!(
            !detail.contains("10.0.0.5") && !detail.contains("docker/registry"),
            "{detail}"
        );
        assert!(detail.contains("request id -"), "{detail}");
    }

    #[test]
    fn statuses_follow_distribution() {
        use ErrorCode::*;
        for (c, s) in [
            (BlobUnknown, 404),
            (BlobUploadInvalid, 404),
            (BlobUploadUnknown, 404),
            (DigestInvalid, 400),
            (ManifestUnknown, 404),
            (NameUnknown, 404),
            (NameInvalid, 400),
            (TagInvalid, 400),
            (SizeInvalid, 400),
            (RangeInvalid, 416),
            (Unauthorized, 401),
            (Unsupported, 405),
            (Unavailable, 503),
            (TooManyRequests, 429),
            (Unknown, 500),
        ] {
            assert_eq!(c.status().as_u16(), s, "{}", c.value());
        }
    }
}
