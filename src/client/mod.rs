//! The S3 client.
