//! The S3 client: endpoint resolution, credentials, retries and the S3 operations.
//!
//! | module | what |
//! |---|---|
//! | [`endpoint`] | region validation, AWS/custom endpoints, virtual-hosted vs path style, User-Agent |
//! | [`credentials`] | secrets, credential providers (static, env, profile files, container, IMDSv2), chain, cache |
//! | `retry` | retry classification, jittered backoff, the async retry driver ([`RetryConfig`]) |
//! | [`error`] | [`Error`], the client layer's one error type |

pub mod credentials;
pub mod endpoint;
pub mod error;
pub(crate) mod json;
pub(crate) mod retry;

pub use credentials::{
    CachingProvider, Credentials, DefaultChain, Env, ProcessEnv, ProvideCredentials, SecretString,
};
pub use endpoint::{AddressingStyle, EndpointConfig, RequestTarget, ResolvedEndpoint, Scheme};
pub use error::{BoxError, Error, ErrorKind, ServiceError};
pub use retry::{RetryConfig, TransportErrorKind};

mod body;
mod builder;
pub mod ops;
pub mod s3;

pub use builder::S3ClientBuilder;
pub use ops::{
    ByteRange, GetObjectOutput, ListObjectsV2Pages, ListObjectsV2Request, ObjectMeta,
    ServerSideEncryption, WriteOptions,
};
pub use s3::{ClientConfig, ClientStats, PayloadSigning, S3Client, SignatureVersion};
