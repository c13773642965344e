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
//! # The S3 client
//!
//! [`client::S3Client`] talks to one bucket; [`client::S3Client::builder`] makes one.
//! Clones are cheap and share connections, credentials and signing keys.
//!
//! ```no_run
//! use s3driver::client::{S3Client, WriteOptions};
//!
//! # async fn demo() -> Result<(), s3driver::client::Error> {
//! let client = S3Client::builder()
//!     .endpoint("http://127.0.0.1:9000") // leave out for AWS
//!     .region("us-east-1")
//!     .bucket("my-bucket")
//!     .static_credentials("AKIDEXAMPLE", "secret") // or .credentials(provider); default: the AWS chain
//!     .build()?;
//! client.put_object("hello.txt", "hi".into(), &WriteOptions::default()).await?;
//! let body = client.get_object("hello.txt", None).await?.bytes().await?;
//! assert_eq!(&body[..], b"hi");
//! client.delete_object("hello.txt").await?;
//! # Ok(())
//! # }
//! ```
//!
//! Listing, page by page (the pager follows continuation tokens):
//!
//! ```no_run
//! # async fn demo(client: s3driver::client::S3Client) -> Result<(), s3driver::client::Error> {
//! use s3driver::client::ListObjectsV2Request;
//!
//! let request = ListObjectsV2Request::default().with_prefix("logs/");
//! let mut pages = client.list_objects_v2_pages(request);
//! while let Some(page) = pages.next_page().await? {
//!     for object in &page.contents {
//!         println!("{} ({} bytes)", object.key, object.size);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A multipart upload (parts of at least 5 MiB except the last):
//!
//! ```no_run
//! # async fn demo(client: s3driver::client::S3Client, parts: Vec<bytes::Bytes>) -> Result<(), s3driver::client::Error> {
//! use s3driver::client::WriteOptions;
//! use s3driver::xml::CompletedPart;
//!
//! let id = client.create_multipart_upload("big.bin", &WriteOptions::default()).await?;
//! let mut done = Vec::new();
//! for (i, part) in parts.into_iter().enumerate() {
//!     let part_number = i as u32 + 1;
//!     let etag = client.upload_part("big.bin", &id, part_number, part).await?;
//!     done.push(CompletedPart { part_number, etag });
//! }
//! client.complete_multipart_upload("big.bin", &id, &done).await?;
//! # Ok(())
//! # }
//! ```
//!
//! A presigned URL (nothing is sent; anyone holding it can GET the object for an hour):
//!
//! ```no_run
//! # async fn demo(client: s3driver::client::S3Client) -> Result<(), s3driver::client::Error> {
//! use std::time::{Duration, SystemTime};
//!
//! let url = client
//!     .presign("GET", "report.pdf", Duration::from_secs(3600), SystemTime::now())
//!     .await?;
//! println!("{url}");
//! # Ok(())
//! # }
//! ```
//!
//! `examples/client.rs` runs all of these against a server.
//!
//! # The storage driver
//!
//! ```no_run
//! use s3driver::driver::{Base, Parameters, S3Driver, StorageDriver};
//!
//! # async fn demo() -> Result<(), s3driver::driver::DriverError> {
//! let params = Parameters::from_iter([
//!     ("region", "us-east-1"),
//!     ("bucket", "my-registry"),
//!     ("rootdirectory", "/registry"),
//! ]);
//! // Base checks paths and names the driver in errors, as registry:2's base.Base does.
//! let driver = Base::new(S3Driver::from_parameters(&params)?);
//! driver.put_content("/hello", "world".into()).await?;
//! assert_eq!(&driver.get_content("/hello").await?[..], b"world");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

/// Builder-style setters (`with_*`, taking and returning `self`) for the public fields of
/// a `#[non_exhaustive]` options struct, which code outside the crate cannot build with a
/// struct expression. `setter => field: Type` assigns `value.into()`; with `as Some` the
/// field is an `Option` and gets `Some(value.into())`.
macro_rules! setters {
    ($ty:ty { $( $(#[$doc:meta])* $setter:ident => $field:ident : $arg:ty $(as $some:ident)? ),* $(,)? }) => {
        impl $ty {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $setter(mut self, value: $arg) -> Self {
                    self.$field = setters!(@wrap value $($some)?);
                    self
                }
            )*
        }
    };
    (@wrap $v:ident) => { $v.into() };
    (@wrap $v:ident Some) => { Some($v.into()) };
}

pub mod client;
#[cfg(feature = "server")]
pub mod config;
pub mod driver;
pub mod middleware;
#[cfg(feature = "server")]
pub mod server;
pub mod sign;
mod sort;
pub mod xml;
