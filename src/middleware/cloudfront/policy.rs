//! CloudFront access policies: the canned policy (resource + expiry) and custom policies
//! (optional start time and source-IP range), serialised byte-exactly as CloudFront and the AWS
//! SDKs do, plus CloudFront's URL-safe base64.
//!
//! The JSON is written by hand: `{"Statement":[{"Resource":"…","Condition":{…}}]}` with no
//! whitespace, conditions in the order `DateLessThan`, `IpAddress`, `DateGreaterThan` (the order
//! of the SDK test vectors). Values that would need JSON escaping (`"`, `\`, control characters)
//! or are not ASCII are *rejected* rather than escaped, so a resource can never inject policy
//! statements; for every accepted value the bytes equal what Go's `json.Encoder` (with
//! `SetEscapeHTML(false)`, as the Go SDK uses) produces.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::cidr::Cidr;
use super::error::Error;

/// A CloudFront policy: one statement for one resource (which may contain `*` wildcards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    resource: String,
    date_less_than: u64,
    ip_address: Option<String>,
    date_greater_than: Option<u64>,
}

/// Builds a [`Policy`]; [`PolicyBuilder::build`] validates it.
#[derive(Debug, Clone)]
#[must_use]
pub struct PolicyBuilder {
    resource: String,
    date_less_than: Option<SystemTime>,
    date_greater_than: Option<SystemTime>,
    ip_address: Option<String>,
}

impl Policy {
    /// The canned policy: `resource` may be fetched until `expires` (whole seconds, rounded down).
    ///
    /// # Errors
    /// [`Error::InvalidPolicy`] when the resource is empty, not printable ASCII or contains `"`
    /// or `\`, or `expires` is before 1970.
    pub fn canned(resource: &str, expires: SystemTime) -> Result<Self, Error> {
        Self::builder(resource).date_less_than(expires).build()
    }

    /// Starts a custom policy for `resource` (a URL, optionally with `*` wildcards).
    pub fn builder(resource: &str) -> PolicyBuilder {
        PolicyBuilder {
            resource: resource.to_owned(),
            date_less_than: None,
            date_greater_than: None,
            ip_address: None,
        }
    }

    /// The resource URL (or wildcard pattern) the policy grants.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The expiry as Unix seconds (`DateLessThan`).
    pub fn expires_epoch(&self) -> u64 {
        self.date_less_than
    }

    /// `true` when the policy has only a resource and an expiry, i.e. it can be sent as a canned
    /// policy (`Expires=` instead of `Policy=`) when the resource is the exact URL.
    pub fn is_canned_shape(&self) -> bool {
        self.ip_address.is_none() && self.date_greater_than.is_none()
    }

    /// The policy document, byte-exact as it is signed.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(128 + self.resource.len());
        // Values were validated by `build`: nothing needs escaping.
        let _ = write!(
            s,
            r#"{{"Statement":[{{"Resource":"{}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{}}}"#,
            self.resource, self.date_less_than
        );
        if let Some(ip) = &self.ip_address {
            let _ = write!(s, r#","IpAddress":{{"AWS:SourceIp":"{ip}"}}"#);
        }
        if let Some(t) = self.date_greater_than {
            let _ = write!(s, r#","DateGreaterThan":{{"AWS:EpochTime":{t}}}"#);
        }
        s.push_str("}}]}");
        s
    }
}

impl PolicyBuilder {
    /// The expiry (`DateLessThan`, required); rounded down to whole seconds.
    pub fn date_less_than(mut self, t: SystemTime) -> Self {
        self.date_less_than = Some(t);
        self
    }

    /// The activation time (`DateGreaterThan`, optional); rounded down to whole seconds.
    pub fn date_greater_than(mut self, t: SystemTime) -> Self {
        self.date_greater_than = Some(t);
        self
    }

    /// The viewer's allowed source range (`IpAddress`/`AWS:SourceIp`, optional): a CIDR block
    /// or a single address (then `/32`, or `/128` for IPv6, is appended).
    pub fn ip_address(mut self, range: &str) -> Self {
        self.ip_address = Some(range.to_owned());
        self
    }

    /// Validates and returns the policy.
    ///
    /// # Errors
    /// [`Error::InvalidPolicy`] naming the element: no `DateLessThan` given; a time before 1970;
    /// `DateGreaterThan` not before `DateLessThan`; a resource that is empty, not printable
    /// ASCII, or contains `"` or `\`; an `IpAddress` that is not an IP address or CIDR block.
    pub fn build(self) -> Result<Policy, Error> {
        check_resource(&self.resource)?;
        let expires = self.date_less_than.ok_or_else(|| {
            Error::policy(
                "DateLessThan",
                "an expiration date is required: set the time until which the resource may be fetched",
            )
        })?;
        let date_less_than = epoch_seconds(expires, "DateLessThan")?;
        let date_greater_than = match self.date_greater_than {
            None => None,
            Some(t) => {
                let active = epoch_seconds(t, "DateGreaterThan")?;
                if active >= date_less_than {
                    return Err(Error::policy(
                        "DateGreaterThan",
                        format!(
                            "the active date ({active}) must be before the expiration date ({date_less_than})"
                        ),
                    ));
                }
                Some(active)
            }
        };
        let ip_address = match self.ip_address {
            None => None,
            Some(range) => Some(normalize_source_ip(&range)?),
        };
        Ok(Policy {
            resource: self.resource,
            date_less_than,
            ip_address,
            date_greater_than,
        })
    }
}

fn epoch_seconds(t: SystemTime, field: &'static str) -> Result<u64, Error> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::policy(field, "the time is before 1970-01-01"))
}

/// A resource must be non-empty printable ASCII without `"` or `\` (so it never needs escaping).
pub(crate) fn check_resource(resource: &str) -> Result<(), Error> {
    if resource.is_empty() {
        return Err(Error::policy("Resource", "the resource URL is empty"));
    }
    if let Some(c) = resource
        .chars()
        .find(|&c| !(' '..='~').contains(&c) || c == '"' || c == '\\')
    {
        return Err(Error::policy(
            "Resource",
            format!(
                "the resource URL contains {c:?}; it must be printable ASCII without '\"' or '\\' \
                 (percent-encode other characters)"
            ),
        ));
    }
    Ok(())
}

fn normalize_source_ip(range: &str) -> Result<String, Error> {
    let bad = || {
        Error::policy(
            "IpAddress",
            format!(
                "{range:?} is not an IP address or CIDR block (e.g. \"192.0.2.0/24\" or \"2001:db8::/32\")"
            ),
        )
    };
    if range.contains('/') {
        Cidr::parse(range).map_err(|_| bad())?;
        Ok(range.to_owned())
    } else {
        let ip: std::net::IpAddr = range.parse().map_err(|_| bad())?;
        Ok(format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 }))
    }
}

/// CloudFront's URL-safe base64: standard base64 with padding, then `+`→`-`, `=`→`_`, `/`→`~`.
pub(crate) fn cloudfront_base64(data: &[u8]) -> String {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    STANDARD
        .encode(data)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn canned_json_is_byte_exact() {
        let p = Policy::canned(
            "https://d111111abcdef8.cloudfront.net/image.jpg",
            at(1_767_290_400),
        )
        .unwrap();
        assert_eq!(
            p.to_json(),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/image.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#
        );
        assert!(p.is_canned_shape());
        assert_eq!(p.expires_epoch(), 1_767_290_400);
    }

    #[test]
    fn sub_second_times_round_down() {
        let p = Policy::canned("https://x/a", at(10) + Duration::from_millis(999)).unwrap();
        assert_eq!(p.expires_epoch(), 10);
    }

    #[test]
    fn custom_json_orders_conditions() {
        let p = Policy::builder("https://x/*")
            .date_greater_than(at(5))
            .ip_address("10.0.0.0/8")
            .date_less_than(at(9))
            .build()
            .unwrap();
        assert_eq!(
            p.to_json(),
            r#"{"Statement":[{"Resource":"https://x/*","Condition":{"DateLessThan":{"AWS:EpochTime":9},"IpAddress":{"AWS:SourceIp":"10.0.0.0/8"},"DateGreaterThan":{"AWS:EpochTime":5}}}]}"#
        );
        assert!(!p.is_canned_shape());
    }

    #[test]
    fn single_addresses_get_a_host_prefix() {
        let p = |ip| {
            Policy::builder("https://x/a")
                .date_less_than(at(9))
                .ip_address(ip)
                .build()
                .unwrap()
                .to_json()
        };
        assert!(p("192.0.2.7").contains(r#""AWS:SourceIp":"192.0.2.7/32""#));
        assert!(p("2001:db8::1").contains(r#""AWS:SourceIp":"2001:db8::1/128""#));
    }

    #[test]
    fn rejects_what_would_need_escaping() {
        for r in [
            "",
            "https://x/\"a",
            "https://x/a\\b",
            "https://x/a\nb",
            "https://x/\u{7f}",
            "https://x/caf\u{e9}",
        ] {
            let e = Policy::canned(r, at(9)).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidPolicy {
                        field: "Resource",
                        ..
                    }
                ),
                "{r:?}: {e}"
            );
        }
        // Characters Go's encoder leaves alone with SetEscapeHTML(false) pass through verbatim.
        let p = Policy::canned("https://x/a<b>&c d*'", at(9)).unwrap();
        assert!(p.to_json().contains(r#""Resource":"https://x/a<b>&c d*'""#));
    }

    #[test]
    fn rejects_bad_dates_and_ranges() {
        let e = Policy::builder("https://x/a").build().unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidPolicy {
                    field: "DateLessThan",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("expiration date is required"));
        for active in [9, 10] {
            let e = Policy::builder("https://x/a")
                .date_less_than(at(9))
                .date_greater_than(at(active))
                .build()
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidPolicy {
                        field: "DateGreaterThan",
                        ..
                    }
                ),
                "{e}"
            );
        }
        let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
        assert!(Policy::canned("https://x/a", before_epoch).is_err());
        for ip in ["10.0.0.0/33", "10.0.0/8", "x", "1.2.3.4/8\",\"a", ""] {
            let e = Policy::builder("https://x/a")
                .date_less_than(at(9))
                .ip_address(ip)
                .build()
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidPolicy {
                        field: "IpAddress",
                        ..
                    }
                ),
                "{ip}: {e}"
            );
        }
    }

    #[test]
    fn base64_alphabet_and_padding() {
        assert_eq!(cloudfront_base64(b""), "");
        assert_eq!(cloudfront_base64(b"f"), "Zg__");
        assert_eq!(cloudfront_base64(b"fo"), "Zm8_");
        assert_eq!(cloudfront_base64(b"foo"), "Zm9v");
        assert_eq!(cloudfront_base64(&[0xfb, 0xff, 0xbf]), "-~-~");
        assert_eq!(cloudfront_base64(&[0xff; 4]), "~~~~~w__");
    }
}
