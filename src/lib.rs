//! # s3driver
//!
//! A small S3 storage driver for container registries, with its own S3 client:
//! hand-rolled AWS Signature V4 and V2 signing, its own XML codec, no AWS SDK.
//!
//! # Layout
//!
//! Modules follow the order data flows; a lower layer never imports a higher one.
//!
//! | module | what |
//! |---|---|
//! | [`sign`] | pure request signing: SigV4 (header, presigned, aws-chunked), SigV2, region policy |
//! | [`xml`] | the S3 XML codec (listing, multipart, copy, delete, location, errors) |
//! | [`client`] | the S3 client: endpoints, credentials, retries, operations |
//! | [`driver`] | the registry storage-driver contract and its drivers |
//! | [`middleware`] | storage middleware (CloudFront redirects, feature `cloudfront`) |
//! | `config`, `server` | the `s3driver` registry binary's configuration and HTTP server (feature `server`) |
//!
//! # Quick start
//!
//! ```no_run
//! use s3driver::driver::{Parameters, S3Driver, StorageDriver};
//!
//! # async fn demo() -> Result<(), s3driver::driver::DriverError> {
//! let params = Parameters::from_iter([
//!     ("region", "us-east-1"),
//!     ("bucket", "my-registry"),
//!     ("rootdirectory", "/registry"),
//! ]);
//! let driver = S3Driver::from_parameters(&params)?;
//! driver.put_content("/hello", "world".into()).await?;
//! assert_eq!(&driver.get_content("/hello").await?[..], b"world");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod client;
#[cfg(feature = "server")]
pub mod config;
pub mod driver;
pub mod middleware;
#[cfg(feature = "server")]
pub mod server;
pub mod sign;
pub mod xml;
