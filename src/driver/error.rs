//! [`DriverError`]: the error vocabulary of every storage driver.
//!
//! The variants and their messages are those of Distribution's
//! `registry/storage/driver` package (`PathNotFoundError`, `InvalidPathError`,
//! `InvalidOffsetError`, `ErrUnsupportedMethod`, `Error`, `Errors`), so logs and
//! HTTP error details read the same as `registry:2`.
//!
//! Drivers build errors with an empty driver name (see the constructors below);
//! [`Base`](super::Base) stamps its driver's name into every error it returns, as
//! Distribution's `base.Base.setDriverName` does.

use std::error::Error as StdError;
use std::fmt;

use crate::client::BoxError;

/// An error returned by a [`StorageDriver`](super::StorageDriver).
///
/// Every message starts with the driver's name (`"s3aws: ..."`, `"inmemory: ..."`)
/// once the error has passed through [`Base`](super::Base).
#[derive(Debug)]
#[non_exhaustive]
pub enum DriverError {
    /// The path does not exist (`"<driver>: Path not found: <path>"`).
    PathNotFound {
        /// The path as given by the caller.
        path: String,
        /// The driver's name.
        driver: String,
    },
    /// The path is malformed (`"<driver>: invalid path: <path>"`); see
    /// [`is_valid_path`](super::is_valid_path).
    InvalidPath {
        /// The path as given by the caller.
        path: String,
        /// The driver's name.
        driver: String,
    },
    /// A read was requested at an offset the driver cannot serve, e.g. past
    /// what the backend could seek to
    /// (`"<driver>: invalid offset: <offset> for path: <path>"`). Offsets are
    /// `u64`, so the negative offsets Distribution rejects with this error
    /// cannot be expressed.
    InvalidOffset {
        /// The path as given by the caller.
        path: String,
        /// The rejected offset.
        offset: u64,
        /// The driver's name.
        driver: String,
    },
    /// The driver does not implement this optional method
    /// (`"<driver>: unsupported method"`).
    Unsupported {
        /// The driver's name.
        driver: String,
    },
    /// Any other failure, wrapping its cause (`"<driver>: <cause>"`).
    Other {
        /// The driver's name.
        driver: String,
        /// The underlying error.
        source: BoxError,
    },
    /// Several independent failures of one operation, e.g. the per-key errors of
    /// an S3 `DeleteObjects` call (Distribution's `storagedriver.Errors`).
    Multiple {
        /// The driver's name.
        driver: String,
        /// The individual failures, in the order they were reported.
        errors: Vec<BoxError>,
    },
}

/// A plain-text cause for [`DriverError::Other`], used by [`DriverError::msg`].
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

impl DriverError {
    /// `PathNotFound` for `path`, driver name left for [`Base`](super::Base) to fill.
    pub fn path_not_found(path: impl Into<String>) -> Self {
        Self::PathNotFound {
            path: path.into(),
            driver: String::new(),
        }
    }

    /// `InvalidPath` for `path`, driver name left for [`Base`](super::Base) to fill.
    pub fn invalid_path(path: impl Into<String>) -> Self {
        Self::InvalidPath {
            path: path.into(),
            driver: String::new(),
        }
    }

    /// `InvalidOffset` for `path` at `offset`, driver name left for [`Base`](super::Base).
    pub fn invalid_offset(path: impl Into<String>, offset: u64) -> Self {
        Self::InvalidOffset {
            path: path.into(),
            offset,
            driver: String::new(),
        }
    }

    /// `Unsupported`, driver name left for [`Base`](super::Base) to fill.
    pub fn unsupported() -> Self {
        Self::Unsupported {
            driver: String::new(),
        }
    }

    /// Wraps any error as `Other`.
    pub fn other(source: impl Into<BoxError>) -> Self {
        Self::Other {
            driver: String::new(),
            source: source.into(),
        }
    }

    /// `Other` with a plain-text cause.
    pub fn msg(message: impl Into<String>) -> Self {
        Self::other(Message(message.into()))
    }

    /// `Multiple` from a list of causes (S3 `DeleteObjects` per-key errors).
    pub fn multiple(errors: Vec<BoxError>) -> Self {
        Self::Multiple {
            driver: String::new(),
            errors,
        }
    }

    /// The driver name recorded in this error (empty before [`Base`](super::Base)).
    pub fn driver_name(&self) -> &str {
        match self {
            Self::PathNotFound { driver, .. }
            | Self::InvalidPath { driver, .. }
            | Self::InvalidOffset { driver, .. }
            | Self::Unsupported { driver }
            | Self::Other { driver, .. }
            | Self::Multiple { driver, .. } => driver,
        }
    }

    /// Returns this error with its driver name set to `name`.
    pub fn with_driver(mut self, name: &str) -> Self {
        self.set_driver(name);
        self
    }

    /// Sets the driver name in place (what [`Base`](super::Base) does to every error).
    pub fn set_driver(&mut self, name: &str) {
        match self {
            Self::PathNotFound { driver, .. }
            | Self::InvalidPath { driver, .. }
            | Self::InvalidOffset { driver, .. }
            | Self::Unsupported { driver }
            | Self::Other { driver, .. }
            | Self::Multiple { driver, .. } => {
                if driver != name {
                    name.clone_into(driver);
                }
            }
        }
    }

    /// True for [`DriverError::PathNotFound`].
    pub fn is_path_not_found(&self) -> bool {
        matches!(self, Self::PathNotFound { .. })
    }

    /// `Other` caused by [`Busy`]: the driver is at a resource limit and nothing was changed
    /// by the failed call beyond what its documentation says; retry after `retry_after`.
    pub fn busy(reason: impl Into<String>, retry_after: std::time::Duration) -> Self {
        Self::other(Busy {
            reason: reason.into(),
            retry_after,
        })
    }

    /// The [`Busy`] cause of this error, if it is one.
    pub fn as_busy(&self) -> Option<&Busy> {
        match self {
            Self::Other { source, .. } => source.downcast_ref::<Busy>(),
            _ => None,
        }
    }
}

/// The cause of a [`DriverError::busy`] error: a resource limit of the driver (such as the S3
/// driver's write-buffer budget) was reached; the caller may retry later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// What limit was reached.
    pub reason: String,
    /// How long the caller should wait before trying again.
    pub retry_after: std::time::Duration,
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl StdError for Busy {}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PathNotFound { path, driver } => write!(f, "{driver}: Path not found: {path}"),
            Self::InvalidPath { path, driver } => write!(f, "{driver}: invalid path: {path}"),
            Self::InvalidOffset {
                path,
                offset,
                driver,
            } => write!(f, "{driver}: invalid offset: {offset} for path: {path}"),
            Self::Unsupported { driver } => write!(f, "{driver}: unsupported method"),
            Self::Other { driver, source } => write!(f, "{driver}: {source}"),
            // Distribution's `storagedriver.Errors.Error()`.
            Self::Multiple { driver, errors } => match errors.as_slice() {
                [] => write!(f, "{driver}: <nil>"),
                [one] => write!(f, "{driver}: {one}"),
                many => {
                    writeln!(f, "{driver}: errors:")?;
                    for e in many {
                        writeln!(f, "{e}")?;
                    }
                    Ok(())
                }
            },
        }
    }
}

impl StdError for DriverError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Other { source, .. } => Some(source.as_ref()),
            Self::Multiple { errors, .. } => errors.first().map(|e| e.as_ref() as _),
            _ => None,
        }
    }
}

impl From<std::io::Error> for DriverError {
    /// Wraps an I/O error as `Other`. A missing file is *not* turned into
    /// `PathNotFound` here: only the driver knows which path the caller named.
    fn from(e: std::io::Error) -> Self {
        Self::other(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_distribution() {
        let e = DriverError::path_not_found("/a/b").with_driver("s3aws");
        assert_eq!(e.to_string(), "s3aws: Path not found: /a/b");
        let e = DriverError::invalid_path("abc").with_driver("inmemory");
        assert_eq!(e.to_string(), "inmemory: invalid path: abc");
        let e = DriverError::invalid_offset("/a", 7).with_driver("filesystem");
        assert_eq!(e.to_string(), "filesystem: invalid offset: 7 for path: /a");
        let e = DriverError::unsupported().with_driver("s3aws");
        assert_eq!(e.to_string(), "s3aws: unsupported method");
        let e = DriverError::msg("boom").with_driver("s3aws");
        assert_eq!(e.to_string(), "s3aws: boom");
    }

    #[test]
    fn multiple_formats_like_storagedriver_errors() {
        let none = DriverError::multiple(vec![]).with_driver("s3aws");
        assert_eq!(none.to_string(), "s3aws: <nil>");
        let one = DriverError::multiple(vec!["k1: AccessDenied".into()]).with_driver("s3aws");
        assert_eq!(one.to_string(), "s3aws: k1: AccessDenied");
        let two = DriverError::multiple(vec!["a".into(), "b".into()]).with_driver("s3aws");
        assert_eq!(two.to_string(), "s3aws: errors:\na\nb\n");
    }

    #[test]
    fn driver_name_is_stamped_and_source_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = DriverError::from(io);
        assert_eq!(e.driver_name(), "");
        let e = e.with_driver("filesystem");
        assert_eq!(e.driver_name(), "filesystem");
        assert_eq!(e.to_string(), "filesystem: denied");
        assert!(e.source().is_some());
        assert!(!e.is_path_not_found());
        assert!(DriverError::path_not_found("/x").is_path_not_found());
    }

    #[test]
    fn busy_is_recognised_after_stamping() {
        let e = DriverError::busy("write buffers full", std::time::Duration::from_secs(3))
            .with_driver("s3aws");
        assert_eq!(e.to_string(), "s3aws: write buffers full");
        assert_eq!(e.as_busy().unwrap().retry_after.as_secs(), 3);
        assert!(DriverError::msg("x").as_busy().is_none());
    }
}
