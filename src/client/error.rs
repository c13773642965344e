use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use super::retry::{decision_for, RetryDecision, TransportErrorKind};

/// A boxed error from another layer or library.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error from the S3 client layer, its one error type.
///
/// It is one pointer wide (the details live in a `Box`), so `Result<T, Error>` stays small on
/// hot paths. Its [`ErrorKind`] says what went wrong; [`Error::is_retryable`] and
/// [`Error::is_not_found`] answer the two questions callers ask most. Errors from other layers
/// (signing, XML) are carried as boxed `std::error::Error` sources.
///
/// Messages never contain secret keys, session tokens or signatures: service errors carry only
/// what S3 put in its `<Error>` body (code, message, request ids, resource), credential errors
/// name the provider and the setting to fix, never its value.
///
/// Build one with the constructors ([`Error::service`], [`Error::transport`], …) and inspect it
/// with [`Error::kind`] and the accessors. `Display` gives a one-paragraph message that ends with
/// what to do about it.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    operation: Option<&'static str>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// S3 (or an S3-compatible service) answered with an error status or an `<Error>` body.
    /// Retried when the client's retry classification says so (5xx, 429, `SlowDown`, `RequestTimeout`, …).
    Service(ServiceError),
    /// The request did not complete at the HTTP level: DNS, connect, TLS, reset, body I/O.
    /// Retried unless `kind` is [`TransportErrorKind::Other`].
    Transport {
        /// The retry-relevant category of the failure.
        kind: TransportErrorKind,
        /// The underlying error (e.g. a `reqwest::Error`).
        source: BoxError,
    },
    /// The operation exceeded a deadline set by this client. Retried.
    Timeout {
        /// The deadline, when known.
        after: Option<Duration>,
    },
    /// No usable credentials could be obtained. Not retried by the request retry loop.
    Credentials {
        /// The provider that failed (`"environment"`, `"profile"`, `"container"`, `"imds"`, …).
        provider: &'static str,
        /// What is missing or wrong and what to set; never contains secret values.
        message: String,
        /// `true` when the provider simply found nothing to load (so a chain may try the next one);
        /// `false` when it found configuration that is broken.
        not_loaded: bool,
        /// The underlying error, if any.
        source: Option<BoxError>,
    },
    /// The client configuration is unusable (bad region, endpoint, bucket name, option mix).
    InvalidConfig {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A response could not be decoded (bad XML/JSON, missing header, bad date).
    Decode {
        /// What could not be decoded.
        message: String,
        /// The underlying parser error, if any.
        source: Option<BoxError>,
    },
    /// The request could not be signed.
    Sign {
        /// The signing layer's error.
        source: BoxError,
    },
    /// The request body was consumed by a failed attempt and cannot be sent again.
    NotReplayable {
        /// The error of the attempt that consumed the body.
        source: BoxError,
    },
}

/// The details of an S3 error response (`<Error><Code>…</Code>…</Error>` plus the status).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status code (200 for "200 with an `<Error>` body" on copy/complete).
    pub status: u16,
    /// The S3 error code (`NoSuchKey`, `SlowDown`, …); `None` for body-less responses (HEAD).
    pub code: Option<String>,
    /// The human-readable message from the body.
    pub message: Option<String>,
    /// `x-amz-request-id` / `<RequestId>`.
    pub request_id: Option<String>,
    /// `x-amz-id-2` / `<HostId>`.
    pub host_id: Option<String>,
    /// `<Resource>`: the bucket or key the error is about.
    pub resource: Option<String>,
}

impl ServiceError {
    /// A service error with only a status code (what a body-less `HEAD` response gives).
    pub fn from_status(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }
}

impl Error {
    fn new(kind: ErrorKind) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                operation: None,
            }),
        }
    }

    /// An S3 error response.
    pub fn service(err: ServiceError) -> Self {
        Self::new(ErrorKind::Service(err))
    }

    /// A transport-level failure of the given category.
    pub fn transport(kind: TransportErrorKind, source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Transport {
            kind,
            source: source.into(),
        })
    }

    /// A deadline set by this client expired.
    pub fn timeout(after: Option<Duration>) -> Self {
        Self::new(ErrorKind::Timeout { after })
    }

    /// A credential provider found configuration that is broken (the chain stops here).
    pub fn credentials(provider: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Credentials {
            provider,
            message: message.into(),
            not_loaded: false,
            source: None,
        })
    }

    /// A credential provider failed because of `source` (the chain stops here).
    pub fn credentials_with_source(
        provider: &'static str,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::new(ErrorKind::Credentials {
            provider,
            message: message.into(),
            not_loaded: false,
            source: Some(source.into()),
        })
    }

    /// A credential provider found nothing to load (a chain goes on to the next provider).
    pub fn credentials_not_loaded(provider: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Credentials {
            provider,
            message: message.into(),
            not_loaded: true,
            source: None,
        })
    }

    /// The configuration is unusable; `message` says how to fix it.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfig {
            message: message.into(),
        })
    }

    /// A response could not be decoded.
    pub fn decode(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::new(ErrorKind::Decode {
            message: message.into(),
            source,
        })
    }

    /// The signing layer refused to sign the request.
    pub fn sign(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Sign {
            source: source.into(),
        })
    }

    /// A retryable failure happened after a one-shot body was consumed.
    pub fn not_replayable(source: Error) -> Self {
        Self::new(ErrorKind::NotReplayable {
            source: Box::new(source),
        })
    }

    /// Names the S3 operation (e.g. `"PutObject"`) in the message.
    #[must_use]
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        self.inner.operation = Some(operation);
        self
    }

    /// The operation named with [`Error::with_operation`].
    pub fn operation(&self) -> Option<&'static str> {
        self.inner.operation
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The service error details, if S3 answered with an error.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match &self.inner.kind {
            ErrorKind::Service(s) => Some(s),
            _ => None,
        }
    }

    /// The HTTP status of a service error.
    pub fn status(&self) -> Option<u16> {
        self.service_error().map(|s| s.status)
    }

    /// The S3 error code of a service error.
    pub fn code(&self) -> Option<&str> {
        self.service_error().and_then(|s| s.code.as_deref())
    }

    /// The S3 request id of a service error (quote it to AWS support).
    pub fn request_id(&self) -> Option<&str> {
        self.service_error().and_then(|s| s.request_id.as_deref())
    }

    /// `true` for "the object/upload does not exist": status 404, or code `NoSuchKey`,
    /// `NoSuchUpload` or `NotFound`. (`NoSuchBucket` is a configuration problem and is *not*
    /// reported as not-found, so a missing bucket never looks like an empty registry.)
    pub fn is_not_found(&self) -> bool {
        let Some(s) = self.service_error() else {
            return false;
        };
        match s.code.as_deref() {
            Some("NoSuchKey" | "NoSuchUpload" | "NotFound") => true,
            Some("NoSuchBucket") => false,
            _ => s.status == 404,
        }
    }

    /// `true` if sending the same request again may succeed (5xx, 429, throttling and timeout codes, transport failures; see [`RetryConfig`](super::RetryConfig)).
    pub fn is_retryable(&self) -> bool {
        decision_for(self) != RetryDecision::DoNotRetry
    }

    /// `true` for a credential provider that found nothing to load.
    pub fn is_credentials_not_loaded(&self) -> bool {
        matches!(
            &self.inner.kind,
            ErrorKind::Credentials {
                not_loaded: true,
                ..
            }
        )
    }
}

impl From<reqwest::Error> for Error {
    /// Classifies a reqwest error. The URL's query is removed first: a presigned URL carries
    /// its signature and session token there, and the error's text must not.
    fn from(mut e: reqwest::Error) -> Self {
        if let Some(url) = e.url_mut() {
            url.set_query(None);
        }
        if e.is_timeout() {
            return Self::transport(TransportErrorKind::Timeout, e);
        }
        let kind = if e.is_connect() {
            TransportErrorKind::Connect
        } else if e.is_request() || e.is_body() {
            TransportErrorKind::Io
        } else if e.is_decode() {
            return Self::decode("could not read the response body", Some(Box::new(e)));
        } else {
            TransportErrorKind::Other
        };
        Self::transport(kind, e)
    }
}

/// What to tell the user for a given S3 error code; `None` when the message says enough.
fn service_hint(status: u16, code: Option<&str>) -> Option<&'static str> {
    let hint = match code {
        Some("AccessDenied") => {
            "check that the access key is right, that its IAM policy allows this action on the \
             bucket and prefix, and that `region` is the bucket's region"
        }
        Some("SignatureDoesNotMatch") => {
            "check the secret key, that `region` matches the bucket's region (or the endpoint's \
             configured region), and that the system clock is correct"
        }
        Some("InvalidAccessKeyId") => {
            "the access key id is unknown to this endpoint: check the access key (`static_credentials`, \
             or the environment / profile the credentials came from) and that the `endpoint` points \
             at the service that issued the key"
        }
        Some("InvalidToken" | "ExpiredToken" | "TokenRefreshRequired") => {
            "the session token is invalid or expired: refresh the temporary credentials (or remove a \
             stale AWS_SESSION_TOKEN)"
        }
        Some("RequestTimeTooSkewed") => {
            "the system clock differs from S3's by more than 15 minutes: synchronise it (NTP)"
        }
        Some(
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException"
            | "TemporaryRedirect",
        ) => "set `region` to the region the bucket lives in (or use that region's endpoint)",
        Some("NoSuchBucket") => {
            "check `bucket`, that it exists, and that `region`/`endpoint` point where it lives"
        }
        Some("SlowDown" | "ServiceUnavailable" | "Throttling" | "ThrottlingException") => {
            "S3 is throttling requests; this is retried with backoff, but sustained throttling \
             means the request rate per prefix is too high"
        }
        Some("InternalError") => "S3 had an internal error; this is retried with backoff",
        Some("InvalidBucketName") => "bucket names are 3-63 lowercase letters, digits, '-' and '.'",
        Some(_) => return None,
        None => match status {
            301 | 307 => "set `region` to the region the bucket lives in (or use that region's endpoint)",
            400 => "the request was rejected without an error body; check `region` and `endpoint`",
            403 => {
                "access was denied (no error body for HEAD): check the credentials, their IAM \
                 policy and `region`"
            }
            _ => return None,
        },
    };
    Some(hint)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = self.inner.operation {
            write!(f, "{op}: ")?;
        }
        match &self.inner.kind {
            ErrorKind::Service(s) => {
                write!(f, "S3 returned HTTP {}", s.status)?;
                if let Some(code) = &s.code {
                    write!(f, " {code}")?;
                }
                if let Some(msg) = &s.message {
                    write!(f, ": {msg}")?;
                }
                if let Some(res) = &s.resource {
                    write!(f, " (resource {res})")?;
                }
                if let Some(id) = &s.request_id {
                    write!(f, " [request id {id}")?;
                    if let Some(host) = &s.host_id {
                        write!(f, ", host id {host}")?;
                    }
                    f.write_str("]")?;
                }
                if let Some(hint) = service_hint(s.status, s.code.as_deref()) {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
            ErrorKind::Transport { kind, source } => {
                let what = match kind {
                    TransportErrorKind::Connect => "could not connect to the S3 endpoint",
                    TransportErrorKind::Timeout => "the request to the S3 endpoint timed out",
                    TransportErrorKind::Io => {
                        "the connection to the S3 endpoint failed mid-request"
                    }
                    TransportErrorKind::Other => "the HTTP request could not be made",
                };
                write!(
                    f,
                    "{what}: {source}; check `endpoint`/`region`, DNS, proxies and TLS settings"
                )
            }
            ErrorKind::Timeout { after } => match after {
                Some(d) => write!(f, "operation timed out after {d:?}; it is retried"),
                None => f.write_str("operation timed out; it is retried"),
            },
            ErrorKind::Credentials {
                provider,
                message,
                source,
                ..
            } => {
                write!(f, "credentials ({provider}): {message}")?;
                if let Some(src) = source {
                    write!(f, ": {src}")?;
                }
                Ok(())
            }
            ErrorKind::InvalidConfig { message } => {
                write!(f, "invalid S3 configuration: {message}")
            }
            ErrorKind::Decode { message, source } => {
                write!(f, "could not decode the S3 response: {message}")?;
                if let Some(src) = source {
                    write!(f, ": {src}")?;
                }
                Ok(())
            }
            ErrorKind::Sign { source } => write!(f, "could not sign the request: {source}"),
            ErrorKind::NotReplayable { source } => write!(
                f,
                "{source} (not retried: the request body was already consumed and cannot be resent)"
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        if let Some(op) = self.inner.operation {
            d.field("operation", &op);
        }
        d.field("kind", &self.inner.kind).finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.inner.kind {
            ErrorKind::Transport { source, .. }
            | ErrorKind::Sign { source }
            | ErrorKind::NotReplayable { source } => Some(source.as_ref()),
            ErrorKind::Credentials {
                source: Some(s), ..
            }
            | ErrorKind::Decode {
                source: Some(s), ..
            } => Some(s.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A service error with `status` and `code` and the other fields set (for tests).
    pub(crate) fn svc(status: u16, code: Option<&str>) -> Error {
        Error::service(ServiceError {
            status,
            code: code.map(str::to_owned),
            message: Some("msg".into()),
            request_id: Some("REQ1".into()),
            host_id: Some("HOST1".into()),
            resource: Some("/b/k".into()),
        })
    }

    #[tokio::test]
    async fn reqwest_errors_are_classified_and_lose_the_query() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let err = client
            .get(format!(
                "http://127.0.0.1:{port}/b/k?X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok"
            ))
            .send()
            .await
            .unwrap_err();
        let e = Error::from(err);
        assert!(matches!(
            e.kind(),
            ErrorKind::Transport {
                kind: TransportErrorKind::Connect,
                ..
            }
        ));
        assert!(e.is_retryable());
        let text = format!("{e} {e:?}");
        assert!(text.contains("/b/k"), "{text}");
        assert!(
            !text.contains("deadbeef") && !text.contains("tok&"),
            "{text}"
        );
        assert!(!text.contains("X-Amz-Security-Token"), "{text}");
    }

    #[test]
    fn error_is_one_pointer_and_thread_safe() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn accessors() {
        let e = svc(404, Some("NoSuchKey"));
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.code(), Some("NoSuchKey"));
        assert_eq!(e.request_id(), Some("REQ1"));
        assert!(e.is_not_found());
        assert!(!e.is_retryable());
        let t = Error::timeout(None);
        assert_eq!(t.status(), None);
        assert_eq!(t.code(), None);
        assert_eq!(t.request_id(), None);
    }

    #[test]
    fn not_found_rules() {
        assert!(svc(404, None).is_not_found());
        assert!(svc(404, Some("NoSuchUpload")).is_not_found());
        assert!(svc(400, Some("NotFound")).is_not_found());
        assert!(!svc(404, Some("NoSuchBucket")).is_not_found());
        assert!(!svc(403, Some("AccessDenied")).is_not_found());
        assert!(!Error::invalid_config("x").is_not_found());
    }

    #[test]
    fn retryable_rules() {
        assert!(svc(500, Some("InternalError")).is_retryable());
        assert!(svc(503, Some("SlowDown")).is_retryable());
        assert!(svc(429, None).is_retryable());
        assert!(svc(400, Some("RequestTimeout")).is_retryable());
        assert!(!svc(403, Some("SignatureDoesNotMatch")).is_retryable());
        assert!(!svc(403, Some("RequestTimeTooSkewed")).is_retryable());
        assert!(Error::transport(TransportErrorKind::Connect, "refused").is_retryable());
        assert!(Error::transport(TransportErrorKind::Io, "reset").is_retryable());
        assert!(!Error::transport(TransportErrorKind::Other, "builder").is_retryable());
        assert!(Error::timeout(Some(Duration::from_secs(1))).is_retryable());
        assert!(!Error::credentials("env", "x").is_retryable());
        assert!(!Error::decode("bad xml", None).is_retryable());
        assert!(!Error::sign("bad").is_retryable());
        assert!(!Error::not_replayable(svc(500, None)).is_retryable());
    }

    #[test]
    fn display_hints() {
        let cases = [
            ("AccessDenied", "IAM policy"),
            ("SignatureDoesNotMatch", "system clock"),
            ("InvalidAccessKeyId", "`endpoint`"),
            ("PermanentRedirect", "set `region`"),
            ("AuthorizationHeaderMalformed", "set `region`"),
            ("RequestTimeTooSkewed", "NTP"),
            ("NoSuchBucket", "check `bucket`"),
            ("SlowDown", "throttling"),
            ("ExpiredToken", "session token"),
        ];
        for (code, hint) in cases {
            let s = svc(403, Some(code)).with_operation("PutObject").to_string();
            assert!(s.starts_with("PutObject: S3 returned HTTP 403 "), "{s}");
            assert!(s.contains(code), "{s}");
            assert!(s.contains(hint), "{code}: {s}");
            assert!(s.contains("request id REQ1, host id HOST1"), "{s}");
            assert!(s.contains("resource /b/k"), "{s}");
        }
        assert!(svc(301, None).to_string().contains("set `region`"));
        assert!(svc(403, None).to_string().contains("credentials"));
        assert_eq!(
            svc(409, Some("BucketNotEmpty")).to_string(),
            "S3 returned HTTP 409 BucketNotEmpty: msg (resource /b/k) [request id REQ1, host id HOST1]"
        );
    }

    #[test]
    fn display_other_kinds() {
        let e = Error::credentials_not_loaded("environment", "AWS_ACCESS_KEY_ID is not set");
        assert!(e.is_credentials_not_loaded());
        assert_eq!(
            e.to_string(),
            "credentials (environment): AWS_ACCESS_KEY_ID is not set"
        );
        let e = Error::credentials_with_source("imds", "request failed", "boom");
        assert!(!e.is_credentials_not_loaded());
        assert!(e.to_string().ends_with("request failed: boom"));
        assert!(StdError::source(&e).is_some());
        assert!(Error::invalid_config("bad region")
            .to_string()
            .contains("bad region"));
        let e = Error::transport(TransportErrorKind::Connect, "refused");
        assert!(e.to_string().contains("could not connect"));
        assert!(StdError::source(&e).is_some());
        let e = Error::not_replayable(svc(500, Some("InternalError")));
        assert!(e.to_string().contains("cannot be resent"));
        assert!(Error::timeout(Some(Duration::from_secs(2)))
            .to_string()
            .contains("2s"));
        assert!(
            format!("{:?}", Error::sign("x").with_operation("GetObject")).contains("GetObject")
        );
    }
}
