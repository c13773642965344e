//! The S3 client: endpoint resolution, credentials, retries and the S3 operations.
//!
//! | part | what |
//! |---|---|
//! | [`S3Client`], [`S3ClientBuilder`] | the client; its operations are methods |
//! | [`EndpointConfig`] | region validation, AWS/custom endpoints, virtual-hosted vs path style, User-Agent |
//! | [`credentials`] | secrets, credential providers (static, env, profile files, container, IMDSv2), chain, cache |
//! | [`RetryConfig`] | retry classification, jittered backoff |
//! | [`Error`] | the client layer's one error type |
//!
//! # Endpoints
//!
//! Endpoint resolution: which host, scheme and path a request for `bucket`/`key` goes to.
//!
//! ## AWS endpoints (no `regionendpoint`)
//!
//! | setting | host |
//! |---|---|
//! | default | `s3.<region>.<suffix>` — also for `us-east-1`, see below |
//! | `usedualstack` | `s3.dualstack.<region>.<suffix>` |
//! | `accelerate` | `s3-accelerate.amazonaws.com`, with dual-stack `s3-accelerate.dualstack.amazonaws.com` |
//!
//! `<suffix>` is the partition's DNS suffix: `amazonaws.com`, `amazonaws.com.cn` for `cn-*`,
//! `c2s.ic.gov` (`us-iso-*`), `sc2s.sgov.gov` (`us-isob-*`), `cloud.adc-e.uk` (`eu-isoe-*`).
//!
//! **us-east-1** resolves to the regional `s3.us-east-1.amazonaws.com`. aws-sdk-go v1 (used by
//! Distribution) defaults to the legacy global `s3.amazonaws.com`; both serve the same buckets and
//! are signed for `us-east-1`, and the regional name is what current AWS SDKs use. A bucket that
//! lives in another region answers either with `PermanentRedirect`, whose error message tells the
//! user to fix `region`.
//!
//! The region must be one of `AWS_REGIONS`, the 37 regions aws-sdk-go v1.55.5's endpoint
//! partitions know (the list Distribution validates against).
//!
//! **Addressing style** on AWS is virtual-hosted (`bucket.s3.<region>.amazonaws.com/key`) unless
//! `forcepathstyle` is set or the bucket name is not DNS-compatible — uppercase, underscores,
//! shorter than 3 or longer than 63 characters, IP-address-like, `..`, or any dot when using
//! HTTPS (the wildcard certificate does not cover `a.b.s3…`). This is aws-sdk-go v1's
//! `hostCompatibleBucketName` rule. Transfer acceleration works only virtual-hosted, so it is an
//! error with `forcepathstyle` or with a bucket name containing dots, and it does not exist
//! outside the commercial `aws` partition.
//!
//! ## Custom endpoints (`regionendpoint`)
//!
//! `regionendpoint` may be `host[:port]`, `http://host[:port]` or `https://host[:port]`, optionally
//! followed by a path prefix (kept in front of every request path, as aws-sdk-go v1 does). Without
//! a scheme, `secure` picks `https` (default) or `http`. A default port (`:80` for http, `:443` for
//! https) is dropped so the signed `Host` matches what the HTTP client sends, and the host is
//! lower-cased for the same reason.
//!
//! Addressing style with a custom endpoint:
//! * `forcepathstyle: true` → path style `host/bucket/key`;
//! * otherwise virtual-hosted `bucket.host/key`, which is what Distribution v3 does and why MinIO
//!   setups that worked with v2 broke ([distribution#4528]: v2 forced path style whenever
//!   `regionendpoint` was set; v3 requires `forcepathstyle: true`);
//! * **except** when the host is an IP literal or `localhost`: `bucket.127.0.0.1` cannot resolve,
//!   so these always use path style — the common MinIO-on-localhost setup works without
//!   `forcepathstyle`;
//! * and, as on AWS, a bucket name that is not DNS-compatible falls back to path style.
//!
//! `usedualstack` is ignored with a custom endpoint (aws-sdk-go v1 skips endpoint resolution
//! then); `accelerate` is an error. The signing region is `region`, or `us-east-1` if empty
//! (MinIO's default).
//!
//! [distribution#4528]: https://github.com/distribution/distribution/issues/4528
//!
//! # Requests
//!
//! [`S3Client`]: a cheap-to-clone handle that signs, sends and retries S3 requests.
//!
//! Every request goes through one path (`S3Client::send`): resolve the target URL, fetch
//! (cached) credentials, sign with the current time (SigV4 header auth, or SigV2 where
//! allowed), send with reqwest, and turn any non-2xx answer into an [`Error`] carrying the S3
//! error code, message, request id and HTTP status. Requests with an in-memory body are
//! retried with jittered backoff ([`RetryConfig`]); streaming bodies are sent once.
//!
//! # Operations
//!
//! The S3 operations the storage driver needs, each a method of [`S3Client`].
//!
//! Each method builds one `Request`, sends it through `S3Client::send` (sign, send, retry,
//! map errors) and decodes the answer with [`crate::xml`]. Operations that S3 may answer with
//! `200 OK` and an `<Error>` body (CopyObject, UploadPartCopy, CompleteMultipartUpload) read
//! the whole body and treat such a document as an error.

pub mod credentials;
pub(crate) mod endpoint;
pub(crate) mod error;
pub(crate) mod json;
pub(crate) mod retry;

pub use credentials::{
    CachingProvider, Credentials, DefaultChain, Env, ProcessEnv, ProvideCredentials, SecretString,
};
pub use endpoint::{v2_allowed, AddressingStyle, EndpointConfig, V2NotAllowed};
pub use error::{BoxError, Error, ErrorKind, ServiceError};
pub use retry::{RetryConfig, TransportErrorKind};

mod body;
mod builder;
pub(crate) mod ops;
pub(crate) mod s3;

pub use builder::S3ClientBuilder;
pub use ops::{
    ByteRange, GetObjectOutput, ListObjectsV2Pages, ListObjectsV2Request, ObjectMeta,
    ServerSideEncryption, WriteOptions,
};
pub use s3::{ClientConfig, ClientStats, PayloadSigning, S3Client, SignatureVersion};
