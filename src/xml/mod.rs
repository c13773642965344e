//! The S3 XML codec.
