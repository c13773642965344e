//! [`Error`], the one error type of the CloudFront middleware.

use std::error::Error as StdError;
use std::fmt;

use crate::client::BoxError;

/// An error from the CloudFront middleware: configuration, key loading, policy building,
/// signing or the AWS IP-range download.
///
/// `Display` says what is wrong and what to change. No variant ever holds private-key material.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A required option is absent from the middleware's parameters.
    MissingOption {
        /// The option name as written in the configuration (`baseurl`, `privatekey`, …).
        option: &'static str,
        /// What the option should hold.
        hint: &'static str,
    },
    /// An option is present but its value is unusable.
    InvalidOption {
        /// The option name as written in the configuration.
        option: &'static str,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// The private key file could not be read or decoded.
    Key {
        /// What failed (names the file, never its contents).
        message: String,
        /// The underlying I/O or decoding error, if any.
        source: Option<BoxError>,
    },
    /// The key decodes but is not an RSA key; CloudFront signing here supports RSA only.
    UnsupportedKeyType {
        /// The key type found (`"ECDSA"`, `"DSA"`, `"Ed25519"`, or the algorithm OID).
        found: String,
    },
    /// A policy field is missing or cannot be put into a policy safely.
    InvalidPolicy {
        /// The policy element (`Resource`, `DateLessThan`, `DateGreaterThan`, `IpAddress`).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The URL to sign is unusable (bad scheme, already signed, characters that break it).
    InvalidUrl {
        /// What is wrong.
        message: String,
    },
    /// The RSA operation failed (e.g. the key is too small for the digest).
    Sign {
        /// The RSA library's error.
        source: BoxError,
    },
    /// The AWS IP-range document could not be fetched or parsed; the previous table is kept.
    IpRanges {
        /// The URL that was fetched.
        url: String,
        /// What failed.
        message: String,
        /// The underlying HTTP or parse error, if any.
        source: Option<BoxError>,
    },
}

impl Error {
    pub(crate) fn invalid_option(option: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidOption {
            option,
            message: message.into(),
        }
    }

    pub(crate) fn key(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::Key {
            message: message.into(),
            source,
        }
    }

    pub(crate) fn policy(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidPolicy {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn url(message: impl Into<String>) -> Self {
        Self::InvalidUrl {
            message: message.into(),
        }
    }

    pub(crate) fn ip_ranges(
        url: &str,
        message: impl Into<String>,
        source: Option<BoxError>,
    ) -> Self {
        Self::IpRanges {
            url: url.to_owned(),
            message: message.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingOption { option, hint } => write!(
                f,
                "cloudfront: option `{option}` is required: set it to {hint}"
            ),
            Self::InvalidOption { option, message } => {
                write!(f, "cloudfront: invalid option `{option}`: {message}")
            }
            Self::Key { message, .. } => write!(
                f,
                "cloudfront: private key: {message}; `privatekey` must name a PEM file holding the \
                 RSA key of the CloudFront key pair (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)"
            ),
            Self::UnsupportedKeyType { found } => write!(
                f,
                "cloudfront: unsupported private key type {found}: only RSA keys are supported \
                 (ECDSA keys are not supported by this implementation); create an RSA 2048 key \
                 pair for the CloudFront public key"
            ),
            Self::InvalidPolicy { field, message } => {
                write!(f, "cloudfront: invalid policy {field}: {message}")
            }
            Self::InvalidUrl { message } => {
                write!(f, "cloudfront: cannot sign URL: {message}")
            }
            Self::Sign { source } => write!(
                f,
                "cloudfront: RSA signing failed ({source}); use an RSA key of at least 1024 bits"
            ),
            Self::IpRanges { url, message, .. } => write!(
                f,
                "cloudfront: AWS IP ranges from {url}: {message}; the previous table (if any) is \
                 kept, check `iprangesurl` and the network path to it"
            ),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Key { source, .. } | Self::IpRanges { source, .. } => {
                source.as_deref().map(|e| e as &(dyn StdError + 'static))
            }
            Self::Sign { source } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_option_and_the_fix() {
        let e = Error::MissingOption {
            option: "baseurl",
            hint: "the distribution URL",
        };
        assert_eq!(
            e.to_string(),
            "cloudfront: option `baseurl` is required: set it to the distribution URL"
        );
        let e = Error::UnsupportedKeyType {
            found: "DSA".into(),
        };
        let s = e.to_string();
        assert!(
            s.contains("DSA") && s.contains("RSA") && s.contains("ECDSA"),
            "{s}"
        );
    }

    #[test]
    fn sources_are_chained() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "nope");
        let e = Error::key("cannot read /x.pem", Some(Box::new(io)));
        assert_eq!(e.source().unwrap().to_string(), "nope");
        assert!(Error::url("x").source().is_none());
    }

    #[test]
    fn is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}
