//! Storage middleware: wrappers that change how a driver answers some calls.
//!
//! | module | feature | what |
//! |---|---|---|
//! | `cloudfront` | `cloudfront` | redirect blob downloads to CloudFront signed URLs (Distribution's `cloudfront` middleware), optionally sending clients inside AWS straight to S3 |

#[cfg(feature = "cloudfront")]
pub mod cloudfront;
// Go duration strings: CloudFront's options and the registry configuration.
#[cfg(any(feature = "cloudfront", feature = "server"))]
pub(crate) mod duration;
