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
//! | [`middleware`] | storage middleware (CloudFront redirects) |
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
