//! CloudFront redirects: Distribution's `cloudfront` storage middleware.
//!
//! Distribution answers a blob `GET` with a redirect. With this middleware the redirect goes to
//! a CloudFront URL signed with a canned policy (`<baseurl><s3 key>?Expires=…&Signature=…&Key-Pair-Id=…`)
//! instead of a presigned S3 URL, except for clients inside AWS when IP filtering is on
//! (`ipfilteredby: aws | awsregion`): those are sent to S3, which is free of transfer charges
//! within a region.
//!
//! | item | what |
//! |---|---|
//! | [`Options`] | the options, parsed from Distribution's names (`baseurl`, `privatekey`, …) |
//! | [`Signer`], [`Policy`] | canned/custom policies, RSA PKCS#1 v1.5 (SHA-1 or SHA-256) signed URLs and cookies |
//! | [`IpRanges`], [`Refresher`] | AWS `ip-ranges.json` tables (CIDR range tables), refresh task, `eligible_for_s3` |
//! | [`client_ip`] | the client address from `X-Forwarded-For` / `X-Real-Ip` / the peer |
//! | [`CloudFrontRedirector`] | all of the above: `redirect(now, s3_key, client_ip)` |
//! | [`CloudFrontMiddleware`] | the storage-driver wrapper: overrides only `redirect_url` |
//!
//! # Policy rules
//! * The canned policy JSON is byte-exact
//!   `{"Statement":[{"Resource":"<url>","Condition":{"DateLessThan":{"AWS:EpochTime":<unix>}}}]}`.
//! * Resources and IP ranges that would need JSON escaping are refused, not escaped, so a key
//!   can never inject policy statements (registry keys never contain such characters).
//! * Only RSA keys are supported (PKCS#1 as Distribution, or PKCS#8); ECDSA, DSA and EdDSA keys
//!   are reported as [`Error::UnsupportedKeyType`].
//! * The signature goes over SHA-1 by default (CloudFront's default and Distribution's only
//!   choice); [`HashAlgorithm::Sha256`] adds `Hash-Algorithm=SHA256`.

mod cidr;
mod client_ip;
mod error;
mod ipranges;
mod middleware;
mod options;
mod policy;
mod signer;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

pub use client_ip::client_ip;
use client_ip::remote_ip;
pub use error::Error;
pub use ipranges::{IpRanges, Refresher, UpdateStats};
pub use middleware::CloudFrontMiddleware;
pub use options::{IpFilter, Options, Warning};
pub use policy::{Policy, PolicyBuilder};
pub use signer::{HashAlgorithm, Signer};

/// Where a client should be sent for a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// To this signed CloudFront URL.
    CloudFront(String),
    /// To the storage driver's own (presigned S3) URL: the client is inside the filtered AWS
    /// ranges.
    UseS3,
}

/// The CloudFront middleware's decision logic, for the driver wrapper to call on each
/// `redirect_url`: IP filter first, then a canned-policy signed URL for `baseurl + key`.
#[derive(Debug)]
pub struct CloudFrontRedirector {
    base_url: String,
    signer: Signer,
    duration: std::time::Duration,
    ip_ranges: Option<Arc<IpRanges>>,
    refresher: Option<Refresher>,
}

impl CloudFrontRedirector {
    /// Builds the redirector as Distribution's middleware does at start-up: loads the private
    /// key, and when IP filtering is on, fetches the IP ranges once (a failure is returned as
    /// [`Warning::IpRangesUnavailable`], not an error) and starts a refresh task every
    /// `update_frequency` that lives as long as the redirector.
    ///
    /// # Errors
    /// [`Error::Key`] / [`Error::UnsupportedKeyType`] / [`Error::InvalidOption`] for the key;
    /// [`Error::IpRanges`] only when the HTTP client cannot be built.
    ///
    /// # Panics
    /// Outside a Tokio runtime when IP filtering is on.
    pub async fn from_options(options: &Options) -> Result<(Self, Vec<Warning>), Error> {
        let signer = Signer::from_pem_file(&options.private_key, &options.key_pair_id)?;
        let mut warnings = Vec::new();
        let mut this = Self::new(options, signer, None);
        if options.ip_filter.is_enabled() {
            let ranges = Arc::new(IpRanges::new(
                &options.ip_ranges_url,
                options.ip_filter.clone(),
            )?);
            if let Err(e) = ranges.try_update().await {
                warnings.push(Warning::IpRangesUnavailable(e));
            }
            // Failures stay visible through `IpRanges::last_error`.
            this.refresher = Some(ranges.spawn_refresher(options.update_frequency, |_| {}));
            this.ip_ranges = Some(ranges);
        }
        Ok((this, warnings))
    }

    /// A redirector from parts (no I/O): `ip_ranges` is consulted when given (its own filter
    /// decides); no refresh task is started.
    pub fn new(options: &Options, signer: Signer, ip_ranges: Option<Arc<IpRanges>>) -> Self {
        Self {
            base_url: options.base_url.clone(),
            signer,
            duration: options.duration,
            ip_ranges,
            refresher: None,
        }
    }

    /// Keeps `refresher` (the IP-range refresh task) alive as long as the redirector.
    #[must_use]
    pub fn with_refresher(mut self, refresher: Refresher) -> Self {
        self.refresher = Some(refresher);
        self
    }

    /// The IP ranges in use, when filtering is on.
    pub fn ip_ranges(&self) -> Option<&Arc<IpRanges>> {
        self.ip_ranges.as_ref()
    }

    /// The signer in use.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Decides where a client at `client_ip` fetching S3 object `s3_key` (the full key,
    /// root directory included, no leading `/`; leading slashes are dropped) goes at `now`:
    /// [`Redirect::UseS3`] when the IP filter says so, otherwise the CloudFront URL
    /// `baseurl + key` signed with a canned policy expiring at `now + duration`. Like
    /// Distribution, this does not look at the request method.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the key contains `?`, `#`, or characters a policy cannot carry
    /// (non-ASCII, `"`, `\`, controls); [`Error::InvalidPolicy`] for a time before 1970;
    /// [`Error::Sign`].
    pub fn redirect(
        &self,
        now: SystemTime,
        s3_key: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<Redirect, Error> {
        if let Some(ranges) = &self.ip_ranges {
            if ranges.eligible_for_s3(client_ip) {
                return Ok(Redirect::UseS3);
            }
        }
        let key = s3_key.trim_start_matches('/');
        if key.contains(['?', '#']) {
            return Err(Error::url(format!(
                "the object key {key:?} contains '?' or '#'"
            )));
        }
        let url = format!("{}{key}", self.base_url);
        let expires = now + self.duration;
        self.signer
            .sign_url_canned(&url, expires)
            .map(Redirect::CloudFront)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const PKCS1: &str = include_str!("../../../signing-vectors/cloudfront/test-rsa-key-pkcs1.pem");
    const DOC: &str = r#"{"prefixes":[{"ip_prefix":"52.95.245.0/24","region":"us-east-1"}],
        "ipv6_prefixes":[{"ipv6_prefix":"2600:1f18::/33","region":"us-east-1"}]}"#;

    fn options(extra: &[(&str, &str)]) -> Options {
        let base = [
            ("baseurl", "cdn.example.com/reg"),
            ("privatekey", "/unused.pem"),
            ("keypairid", "K1TESTKEY"),
        ];
        Options::from_params(base.iter().chain(extra).copied())
            .unwrap()
            .0
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn signs_base_url_plus_key() {
        let o = options(&[("duration", "1h")]);
        let r = CloudFrontRedirector::new(&o, Signer::from_pem(PKCS1, "K1TESTKEY").unwrap(), None);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000) + Duration::from_millis(700);
        let key = "docker/registry/v2/blobs/sha256/ab/abcd/data";
        let Redirect::CloudFront(url) = r.redirect(now, key, ip("52.95.245.1")).unwrap() else {
            panic!("no filter: always CloudFront")
        };
        let want = r
            .signer()
            .sign_url_canned(
                &format!("https://cdn.example.com/reg/{key}"),
                now + Duration::from_secs(3600),
            )
            .unwrap();
        assert_eq!(url, want);
        assert!(url.contains("?Expires=1003600&Signature="), "{url}");
        // A leading slash does not double the separator.
        assert_eq!(
            r.redirect(now, &format!("/{key}"), None).unwrap(),
            Redirect::CloudFront(want)
        );
        for bad in ["a?b", "a#b", "caf\u{e9}", "a\"b"] {
            assert!(
                matches!(
                    r.redirect(now, bad, None).unwrap_err(),
                    Error::InvalidUrl { .. }
                ),
                "{bad}"
            );
        }
        assert!(r.ip_ranges().is_none());
    }

    #[test]
    fn filtered_clients_use_s3() {
        let o = options(&[("ipfilteredby", "aws")]);
        let ranges = Arc::new(IpRanges::with_client(
            "http://127.0.0.1:9/",
            o.ip_filter.clone(),
            reqwest::Client::new(),
        ));
        let r = CloudFrontRedirector::new(
            &o,
            Signer::from_pem(PKCS1, "K1TESTKEY").unwrap(),
            Some(ranges.clone()),
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        // Not initialised yet: CloudFront for everyone.
        assert!(matches!(
            r.redirect(now, "k", ip("52.95.245.1")).unwrap(),
            Redirect::CloudFront(_)
        ));
        ranges.load_document(DOC.as_bytes(), now).unwrap();
        assert_eq!(
            r.redirect(now, "k", ip("52.95.245.1")).unwrap(),
            Redirect::UseS3
        );
        assert_eq!(
            r.redirect(now, "k", ip("2600:1f18::9")).unwrap(),
            Redirect::UseS3
        );
        assert!(matches!(
            r.redirect(now, "k", ip("8.8.8.8")).unwrap(),
            Redirect::CloudFront(_)
        ));
        assert!(matches!(
            r.redirect(now, "k", None).unwrap(),
            Redirect::CloudFront(_)
        ));
        // An eligible client is sent to S3 even for a key CloudFront could not sign.
        assert_eq!(
            r.redirect(now, "a?b", ip("52.95.245.1")).unwrap(),
            Redirect::UseS3
        );
    }

    #[tokio::test]
    async fn from_options_loads_the_key_and_warns_when_ranges_are_unreachable() {
        let dir = std::env::temp_dir().join(format!("cf-redirector-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("key.pem");
        std::fs::write(&pem, PKCS1).unwrap();
        let pem_s = pem.to_str().unwrap();
        // Port 9 (discard) on loopback: connection refused, fast.
        let o = Options::from_params([
            ("baseurl", "https://cdn.example.com"),
            ("privatekey", pem_s),
            ("keypairid", "K1TESTKEY"),
            ("ipfilteredby", "aws"),
            ("iprangesurl", "http://127.0.0.1:9/ip-ranges.json"),
        ])
        .unwrap()
        .0;
        let (r, warnings) = CloudFrontRedirector::from_options(&o).await.unwrap();
        assert!(
            matches!(
                warnings.as_slice(),
                [Warning::IpRangesUnavailable(Error::IpRanges { .. })]
            ),
            "{warnings:?}"
        );
        assert!(warnings[0]
            .to_string()
            .contains("every client is redirected to CloudFront"));
        let ranges = r.ip_ranges().unwrap().clone();
        assert!(!ranges.is_initialized());
        assert!(ranges.last_error().is_some());
        assert!(matches!(
            r.redirect(SystemTime::now(), "k", ip("52.95.245.1"))
                .unwrap(),
            Redirect::CloudFront(_)
        ));
        // No filter: no ranges, no task.
        let o = Options::from_params([
            ("baseurl", "cdn.example.com"),
            ("privatekey", pem_s),
            ("keypairid", "K1TESTKEY"),
        ])
        .unwrap()
        .0;
        let (r, warnings) = CloudFrontRedirector::from_options(&o).await.unwrap();
        assert!(warnings.is_empty() && r.ip_ranges().is_none());
        let o = Options::from_params([
            ("baseurl", "cdn.example.com"),
            ("privatekey", "/nonexistent.pem"),
            ("keypairid", "K1TESTKEY"),
        ])
        .unwrap()
        .0;
        assert!(matches!(
            CloudFrontRedirector::from_options(&o).await.unwrap_err(),
            Error::Key { .. }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
