use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::credentials::{Credentials, ProvideCredentials};
use super::endpoint::{AddressingStyle, EndpointConfig, ResolvedEndpoint};
use super::error::{Error, ServiceError};
use super::retry::{retry, OneShot, RetryConfig, RetryOp, TransportErrorKind, XorShift64};
use crate::sign::{self, crypto, v2, v4, PayloadHash, SignableRequest, UriMode};
use crate::xml;

/// Which AWS signature algorithm the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// Signature Version 4 (`v4auth: true`, the default).
    #[default]
    V4,
    /// Signature Version 2 (`v4auth: false`): only for S3-compatible services that need it;
    /// refused for AWS endpoints and V4-only regions.
    V2,
}

/// How request bodies are covered by a SigV4 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadSigning {
    /// In-memory bodies are hashed (SHA-256) and signed, as aws-sdk-go v1 does; streaming
    /// bodies are sent as `UNSIGNED-PAYLOAD`.
    #[default]
    Signed,
    /// In-memory bodies signed; streaming bodies use aws-chunked
    /// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`), each chunk signed. Not every S3-compatible
    /// server supports aws-chunked (OpenStack Swift does not).
    SignedChunked,
    /// Every body is sent as `UNSIGNED-PAYLOAD` (saves hashing; HTTPS recommended).
    Unsigned,
}

/// Everything an [`S3Client`] needs besides credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Endpoint, addressing style, TLS verification and User-Agent.
    pub endpoint: EndpointConfig,
    /// The bucket every request addresses. It must exist: the client never creates it.
    pub bucket: String,
    /// Signature algorithm.
    pub signature: SignatureVersion,
    /// Payload signing for SigV4.
    pub payload_signing: PayloadSigning,
    /// Retry policy for replayable requests.
    pub retry: RetryConfig,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Longest pause between two reads of a response before the request fails.
    pub read_timeout: Duration,
    /// Forces the addressing style, overriding the automatic choice of
    /// [`EndpointConfig`] (which uses path style for IP and `localhost` endpoints);
    /// `None` keeps the automatic choice. Virtual-hosted style is refused for an IP-literal
    /// endpoint or a bucket name that is not DNS-compatible (or has dots over HTTPS), path
    /// style with S3 Transfer Acceleration.
    pub addressing_style: Option<AddressingStyle>,
    /// Host names resolved to fixed addresses instead of through DNS (split DNS, or
    /// `BUCKET.localhost` for virtual-hosted requests to a local server). The port of each
    /// address is ignored: the request URL's port is used.
    pub resolve_overrides: Vec<(String, SocketAddr)>,
}

impl ClientConfig {
    /// A configuration for `bucket` with defaults for everything else.
    pub fn new(endpoint: EndpointConfig, bucket: impl Into<String>) -> Self {
        Self {
            endpoint,
            bucket: bucket.into(),
            signature: SignatureVersion::V4,
            payload_signing: PayloadSigning::Signed,
            retry: RetryConfig::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            addressing_style: None,
            resolve_overrides: Vec::new(),
        }
    }
}

/// A handle to one bucket. Clones share the connection pool, credentials cache and signing-key
/// cache.
#[derive(Clone)]
pub struct S3Client {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) endpoint: ResolvedEndpoint,
    pub(super) credentials: Arc<dyn ProvideCredentials>,
    pub(super) signature: SignatureVersion,
    pub(super) payload_signing: PayloadSigning,
    pub(super) key_cache: v4::SigningKeyCache,
    pub(super) retry: RetryConfig,
    pub(super) stats: Stats,
}

/// Counters of what a client sent and what came back (see [`S3Client::stats`]).
#[derive(Debug, Default)]
pub(super) struct Stats {
    attempts: std::sync::atomic::AtomicU64,
    retries: std::sync::atomic::AtomicU64,
    errors: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

/// A snapshot of a client's request counters, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Requests sent (every attempt counts).
    pub attempts: u64,
    /// Attempts that were retries of a failed one.
    pub retries: u64,
    /// Failed attempts by S3 error code (`SlowDown`, `NoSuchKey`, ...), or `HTTP <status>`
    /// when the answer had no code, or `transport` for connection failures and timeouts.
    pub errors: Vec<(String, u64)>,
}

/// An operation whose attempts are counted in [`Stats`] as they start.
struct Counted<'a, O> {
    op: O,
    stats: &'a Stats,
}

impl<O: RetryOp> RetryOp for Counted<'_, O> {
    type Output = O::Output;
    type Future = O::Future;
    fn attempt(&mut self, attempt: u32) -> O::Future {
        self.stats.attempt(attempt);
        self.op.attempt(attempt)
    }
    fn replayable(&self) -> bool {
        self.op.replayable()
    }
}

impl Stats {
    fn attempt(&self, attempt: u32) {
        use std::sync::atomic::Ordering::Relaxed;
        self.attempts.fetch_add(1, Relaxed);
        if attempt > 1 {
            self.retries.fetch_add(1, Relaxed);
        }
    }

    pub(super) fn error(&self, e: &Error) {
        let key = match (e.code(), e.status()) {
            (Some(code), _) => code.to_owned(),
            (None, Some(status)) => format!("HTTP {status}"),
            (None, None) => "transport".to_owned(),
        };
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *errors.entry(key).or_default() += 1;
    }
}

impl fmt::Debug for S3Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Client")
            .field("endpoint", &self.inner.endpoint)
            .field("signature", &self.inner.signature)
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

/// A request body.
#[derive(Debug, Clone, Default)]
pub(super) enum Body {
    /// No body.
    #[default]
    Empty,
    /// An in-memory body: hashed for the signature and replayable on retry.
    Bytes(Bytes),
}

impl Body {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Bytes(b) => b,
        }
    }
}

/// One S3 request before signing.
#[derive(Debug, Clone)]
pub(super) struct Request {
    /// The operation name, for error messages (`PutObject`).
    pub(super) operation: &'static str,
    /// HTTP method.
    pub(super) method: reqwest::Method,
    /// The object key; `None` addresses the bucket.
    pub(super) key: Option<String>,
    /// Decoded query pairs.
    pub(super) query: Vec<(String, String)>,
    /// Extra headers (lower-case names), all signed.
    pub(super) headers: Vec<(String, String)>,
    /// The body.
    pub(super) body: Body,
}

impl Request {
    pub(super) fn new(operation: &'static str, method: reqwest::Method, key: Option<&str>) -> Self {
        Self {
            operation,
            method,
            key: key.map(str::to_owned),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub(super) fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    pub(super) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub(super) fn body(mut self, body: Bytes) -> Self {
        self.body = Body::Bytes(body);
        self
    }
}

impl S3Client {
    /// Builds a client for `config.bucket` using `credentials`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`](super::ErrorKind::InvalidConfig) for an unusable endpoint
    /// configuration, or SigV2 requested where AWS only accepts SigV4; a transport error if
    /// the HTTP client cannot be built.
    pub fn new(
        config: ClientConfig,
        credentials: Arc<dyn ProvideCredentials>,
    ) -> Result<Self, Error> {
        let mut endpoint = config.endpoint.resolve(&config.bucket)?;
        if let Some(style) = config.addressing_style {
            endpoint = endpoint.with_style(style)?;
        }
        if config.signature == SignatureVersion::V2 {
            let custom = config
                .endpoint
                .region_endpoint
                .as_deref()
                .filter(|e| !e.trim().is_empty());
            super::endpoint::v2_allowed(&config.endpoint.region, custom).map_err(|e| {
                Error::invalid_config(format!("`SignatureVersion::V2` cannot be used here: {e}"))
            })?;
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(config.endpoint.user_agent())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60));
        #[cfg(feature = "tls")]
        {
            builder = builder.danger_accept_invalid_certs(config.endpoint.skip_verify);
        }
        #[cfg(not(feature = "tls"))]
        if endpoint.scheme() == super::endpoint::Scheme::Https {
            return Err(Error::invalid_config(
                "this build has no TLS support (cargo feature `tls` is off): use an http:// \
                 endpoint or `secure: false`, or rebuild with the `tls` feature",
            ));
        }
        builder = builder.http1_only();
        for (host, addr) in &config.resolve_overrides {
            builder = builder.resolve(host, *addr);
        }
        let http = builder
            .build()
            .map_err(|e| Error::invalid_config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint,
                credentials,
                signature: config.signature,
                payload_signing: config.payload_signing,
                key_cache: v4::SigningKeyCache::default(),
                retry: config.retry,
                stats: Stats::default(),
            }),
        })
    }

    /// The resolved endpoint (scheme, host, addressing style, bucket).
    pub(crate) fn endpoint(&self) -> &ResolvedEndpoint {
        &self.inner.endpoint
    }

    /// The credentials provider the client signs with (e.g. to report which source supplied
    /// the credentials, as `s3driver check` does).
    pub fn credentials_provider(&self) -> &Arc<dyn ProvideCredentials> {
        &self.inner.credentials
    }

    /// The bucket this client addresses.
    pub fn bucket(&self) -> &str {
        self.inner.endpoint.bucket()
    }

    /// What this client (and its clones) sent so far: attempts, retries, errors by code.
    pub fn stats(&self) -> ClientStats {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.inner.stats;
        ClientStats {
            attempts: s.attempts.load(Relaxed),
            retries: s.retries.load(Relaxed),
            errors: s
                .errors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        }
    }

    /// Sends `req`, retrying replayable failures, and returns the successful response (status
    /// 2xx; the body is not read).
    pub(super) async fn send(&self, req: Request) -> Result<reqwest::Response, Error> {
        let req = &req;
        self.retried(req.operation, |_attempt| self.send_no_retry_ref(req))
            .await
    }

    /// Runs `op` under the client's retry policy, each attempt counted in the client's stats;
    /// errors name operation `name`.
    pub(super) async fn retried<O: RetryOp>(
        &self,
        name: &'static str,
        op: O,
    ) -> Result<O::Output, Error> {
        let counted = Counted {
            op,
            stats: &self.inner.stats,
        };
        retry(
            &self.inner.retry,
            &mut XorShift64::from_time(),
            tokio::time::sleep,
            counted,
        )
        .await
        .map_err(|e| e.with_operation(name))
    }

    /// Sends a request whose body is a stream: one attempt only.
    pub(super) async fn send_stream(
        &self,
        req: Request,
        body: reqwest::Body,
        payload: StreamPayload,
    ) -> Result<reqwest::Response, Error> {
        let mut body = Some(body);
        let req = &req;
        let payload = &payload;
        self.retried(
            req.operation,
            OneShot(|_attempt| {
                let body = body.take();
                async move {
                    let body = body.ok_or_else(|| {
                        Error::invalid_config("a streaming body can only be sent once")
                    })?;
                    self.dispatch(req, Some((body, payload))).await
                }
            }),
        )
        .await
    }

    /// One attempt, no retry (callers that retry themselves).
    pub(super) async fn send_no_retry_ref(
        &self,
        req: &Request,
    ) -> Result<reqwest::Response, Error> {
        self.dispatch(req, None).await
    }

    async fn dispatch(
        &self,
        req: &Request,
        stream: Option<(reqwest::Body, &StreamPayload)>,
    ) -> Result<reqwest::Response, Error> {
        let result = self.dispatch_once(req, stream).await;
        if let Err(e) = &result {
            self.inner.stats.error(e);
        }
        result
    }

    async fn dispatch_once(
        &self,
        req: &Request,
        stream: Option<(reqwest::Body, &StreamPayload)>,
    ) -> Result<reqwest::Response, Error> {
        let creds = self.inner.credentials.provide_credentials().await?;
        let now = SystemTime::now();
        let (url, headers, body) = match stream {
            None => {
                let (url, mut headers) = self.sign(req, &creds, now, None)?;
                let body = match &req.body {
                    Body::Empty => reqwest::Body::from(Bytes::new()),
                    Body::Bytes(b) => reqwest::Body::from(b.clone()),
                };
                // The HTTP stack omits `Content-Length: 0` for an empty body, but S3 (and
                // Swift) refuse a PUT/POST without it (411 MissingContentLength): state the
                // length of every in-memory PUT/POST body explicitly.
                if req.method == reqwest::Method::PUT || req.method == reqwest::Method::POST {
                    headers.insert(
                        reqwest::header::CONTENT_LENGTH,
                        HeaderValue::from(req.body.bytes().len()),
                    );
                }
                (url, headers, body)
            }
            Some((body, payload)) => {
                let (url, headers) = self.sign(req, &creds, now, Some(payload))?;
                (url, headers, body)
            }
        };
        let response = self
            .inner
            .http
            .request(req.method.clone(), url)
            .headers(headers)
            .body(body)
            .send()
            .await?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(error_from_response(response).await)
    }

    /// Signs `req` and returns the URL and the headers to send.
    fn sign(
        &self,
        req: &Request,
        creds: &Credentials,
        now: SystemTime,
        stream: Option<&StreamPayload>,
    ) -> Result<(reqwest::Url, HeaderMap), Error> {
        let target = self.inner.endpoint.url_for(object_key(req.key.as_deref())?);
        let query: Vec<(&str, &str)> = req
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // aws-chunked lengths are sent as headers and signed: S3 refuses requests with unsigned
        // `x-amz-*` headers (HeadersNotSigned).
        let chunked_lengths = match stream {
            Some(StreamPayload::Chunked {
                encoded_length,
                decoded_length,
                ..
            }) => Some((encoded_length.to_string(), decoded_length.to_string())),
            _ => None,
        };
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(req.headers.len() + 3);
        headers.push(("host", &target.host));
        for (k, v) in &req.headers {
            headers.push((k, v));
        }
        if let Some((encoded, decoded)) = &chunked_lengths {
            headers.push(("content-length", encoded));
            headers.push(("x-amz-decoded-content-length", decoded));
        }
        let sign_creds = signing_credentials(creds);
        let added: Vec<(&'static str, String)>;
        let date_header;
        match self.inner.signature {
            SignatureVersion::V4 => {
                let body_hash;
                let payload = match (stream, self.inner.payload_signing) {
                    (Some(StreamPayload::Unsigned), _) => PayloadHash::Unsigned,
                    (Some(StreamPayload::Chunked { .. }), _) => PayloadHash::StreamingSigned,
                    (None, PayloadSigning::Unsigned) => PayloadHash::Unsigned,
                    (None, _) => {
                        body_hash = crypto::sha256_hex(req.body.bytes());
                        PayloadHash::Precomputed(&body_hash)
                    }
                };
                let signable = SignableRequest {
                    method: req.method.as_str(),
                    path: &target.path,
                    query: &query,
                    headers: &headers,
                };
                let params = self.v4_params(sign_creds, now, payload);
                let opts = self.v4_options();
                let signed =
                    v4::sign_headers_with(&signable, &params, &opts).map_err(Error::sign)?;
                if let Some(StreamPayload::Chunked { signer_seed, .. }) = stream {
                    // Hand the seed signature and key to the body stream that frames the chunks.
                    *signer_seed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(crate::sign::chunked::ChunkSigner::new(&signed));
                }
                added = signed.headers;
            }
            SignatureVersion::V2 => {
                date_header = httpdate::fmt_http_date(now);
                let find = |name: &str| {
                    req.headers
                        .iter()
                        .find(|(k, _)| k == name)
                        .map_or("", |(_, v)| v.as_str())
                };
                let bucket = self.v2_addressing();
                let signable = SignableRequest {
                    method: req.method.as_str(),
                    path: &target.path,
                    query: &query,
                    headers: &headers,
                };
                let signed = v2::sign_header(
                    &signable,
                    &sign_creds,
                    bucket,
                    find("content-md5"),
                    find("content-type"),
                    &date_header,
                )
                .map_err(Error::sign)?;
                let mut h = signed.headers;
                h.push(("date", date_header.clone()));
                added = h;
            }
        }
        let url = build_url(&target.base_url, &target.path, &query)?;
        let mut map = HeaderMap::with_capacity(headers.len() + added.len());
        for (k, v) in headers
            .iter()
            .copied()
            .chain(added.iter().map(|(k, v)| (*k, v.as_str())))
        {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| Error::invalid_config(format!("bad header name {k:?}: {e}")))?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                Error::invalid_config(format!("the value of header {k} is not valid in HTTP"))
            })?;
            map.append(name, value);
        }
        Ok((url, map))
    }

    /// Where SigV2 finds the bucket: in the host (virtual-hosted) or in the path.
    fn v2_addressing(&self) -> v2::BucketAddressing<'_> {
        match self.inner.endpoint.style() {
            AddressingStyle::VirtualHosted => v2::BucketAddressing::VirtualHosted(self.bucket()),
            AddressingStyle::Path => v2::BucketAddressing::PathStyle,
        }
    }

    /// A presigned URL for `method` on `key`, valid for `expires_in` (SigV4: 1 s to 7 days;
    /// SigV2: an absolute expiry `now + expires_in`). Nothing is sent.
    ///
    /// # Errors
    /// Credentials could not be loaded, the expiry is out of range, or the key is empty or has
    /// `.`/`..` segments.
    pub async fn presign(
        &self,
        method: &str,
        key: &str,
        expires_in: Duration,
        now: SystemTime,
    ) -> Result<String, Error> {
        let target = self.inner.endpoint.url_for(object_key(Some(key))?);
        build_url(&target.base_url, &target.path, &[])?;
        let creds = self.inner.credentials.provide_credentials().await?;
        let headers = [("host", target.host.as_str())];
        let signable = SignableRequest {
            method,
            path: &target.path,
            query: &[],
            headers: &headers,
        };
        let sign_creds = signing_credentials(&creds);
        let query = match self.inner.signature {
            SignatureVersion::V4 => {
                let params = self.v4_params(sign_creds, now, PayloadHash::Unsigned);
                let opts = self.v4_options();
                v4::presign_with(&signable, &params, expires_in.as_secs(), &opts)
                    .map_err(Error::sign)?
                    .query
            }
            SignatureVersion::V2 => {
                let bucket = self.v2_addressing();
                let expires = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs()
                    + expires_in.as_secs();
                v2::presign(&signable, &sign_creds, bucket, expires)
                    .map_err(Error::sign)?
                    .query
            }
        };
        Ok(format!(
            "{}{}?{}",
            target.base_url,
            sign::encode_path(&target.path),
            query
        ))
    }
}

impl S3Client {
    /// SigV4 parameters for an S3 request signed at `now` for this client's region.
    fn v4_params<'a>(
        &'a self,
        credentials: sign::SigningCredentials<'a>,
        now: SystemTime,
        payload: PayloadHash<'a>,
    ) -> v4::SigningParams<'a> {
        v4::SigningParams {
            credentials,
            region: self.inner.endpoint.signing_region(),
            service: "s3",
            time: now,
            uri_mode: UriMode::S3,
            payload,
        }
    }

    /// SigV4 options for this client: derived signing keys come from its cache.
    fn v4_options(&self) -> v4::SignOptions<'_> {
        v4::SignOptions::default().with_key_cache(&self.inner.key_cache)
    }
}

/// The signer's borrowed view of `creds`.
fn signing_credentials(creds: &Credentials) -> sign::SigningCredentials<'_> {
    sign::SigningCredentials {
        access_key_id: creds.access_key_id(),
        secret_access_key: creds.secret(),
        session_token: creds.session_token(),
    }
}

/// How a streaming body is signed.
#[derive(Debug)]
pub(super) enum StreamPayload {
    /// `UNSIGNED-PAYLOAD`; the body is sent as is with its `Content-Length`.
    Unsigned,
    /// aws-chunked: the body stream waits for the seed signature set here at signing time.
    Chunked {
        /// Filled by the signer with a chunk signer seeded by the request signature.
        signer_seed: Arc<std::sync::Mutex<Option<crate::sign::chunked::ChunkSigner>>>,
        /// The framed length (`Content-Length`).
        encoded_length: u64,
        /// The object length (`x-amz-decoded-content-length`).
        decoded_length: u64,
    },
}

/// The key of an object request. An empty key would address the bucket itself (a PUT would be
/// CreateBucket, a DELETE DeleteBucket), so it is refused.
fn object_key(key: Option<&str>) -> Result<&str, Error> {
    match key {
        None => Ok(""),
        Some("") => Err(Error::invalid_config(
            "an object key cannot be empty (it would address the bucket itself)",
        )),
        Some(k) => Ok(k),
    }
}

/// `base` + encoded path + `?` + canonical query.
///
/// # Errors
/// The URL cannot be parsed, or parsing would change its path: URL parsers remove `.` and `..`
/// segments, so a key like `a/../b` would be sent to another key than the one signed.
fn build_url(base: &str, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, Error> {
    let encoded_path = sign::encode_path(path);
    let mut url = String::with_capacity(base.len() + encoded_path.len() + 64);
    url.push_str(base);
    url.push_str(&encoded_path);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&sign::encode_query(query));
    }
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| Error::invalid_config(format!("cannot build a request URL: {e}")))?;
    if parsed.path() != encoded_path {
        return Err(Error::invalid_config(
            "object keys with '.' or '..' path segments (like `a/../b`) cannot be sent: HTTP \
             clients rewrite them to another key",
        ));
    }
    Ok(parsed)
}

/// Largest error body read into memory.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Turns a non-2xx response into an [`Error`] with the S3 code, message and request id.
pub(super) async fn error_from_response(response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request_id = header("x-amz-request-id");
    let host_id = header("x-amz-id-2");
    let body = read_limited(response, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    service_error(status, &body, request_id, host_id)
}

/// Builds the service error for `status` and `body` (an `<Error>` document or nothing).
pub(super) fn service_error(
    status: u16,
    body: &[u8],
    request_id: Option<String>,
    host_id: Option<String>,
) -> Error {
    let mut err = ServiceError::from_status(status);
    err.request_id = request_id;
    err.host_id = host_id;
    if let Some(parsed) = xml::parse_error_body(body) {
        err.code = Some(parsed.code).filter(|c| !c.is_empty());
        err.message = Some(parsed.message).filter(|m| !m.is_empty());
        err.request_id = parsed.request_id.or(err.request_id);
        err.host_id = parsed.host_id.or(err.host_id);
        err.resource = parsed.resource.or(parsed.key);
    } else if status == 404 {
        err.code = Some("NotFound".to_owned());
    }
    Error::service(err)
}

/// A failure while reading a response body. reqwest reports a broken or truncated body as a
/// "decode" error, which [`Error`]'s `From<reqwest::Error>` would treat as undecodable content
/// (not retryable); here it is what it is, a transport failure mid-response (retryable by
/// whoever can repeat the request), or a timeout.
pub(super) fn body_error(mut e: reqwest::Error) -> Error {
    if e.is_timeout() {
        return Error::from(e);
    }
    if let Some(url) = e.url_mut() {
        url.set_query(None);
    }
    Error::transport(TransportErrorKind::Io, e)
}

/// Reads at most `limit` bytes of the body.
pub(super) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(body_error)? {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_must_not_be_empty() {
        assert_eq!(object_key(None).unwrap(), "");
        assert_eq!(object_key(Some("k")).unwrap(), "k");
        let e = object_key(Some("")).unwrap_err();
        assert!(e.to_string().contains("cannot be empty"), "{e}");
    }

    #[test]
    fn urls_keep_the_signed_path() {
        let u = build_url(
            "http://h:9000",
            "/b/a b/+/ü/..x/.../x.",
            &[("uploadId", "1")],
        )
        .unwrap();
        assert_eq!(u.path(), "/b/a%20b/%2B/%C3%BC/..x/.../x.");
        assert_eq!(u.query(), Some("uploadId=1"));
        let u = build_url("http://h", "/b//lead", &[]).unwrap();
        assert_eq!(u.path(), "/b//lead");
        for path in ["/b/a/../c", "/b/./c", "/b/c/..", "/b/c/.", "/b/.."] {
            let e = build_url("http://h", path, &[]).unwrap_err();
            assert!(e.to_string().contains("'..'"), "{path}: {e}");
        }
    }
}
