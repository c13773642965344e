//! The middleware's options, parsed from Distribution's parameter names (`baseurl`,
//! `privatekey`, `keypairid`, `duration`, `ipfilteredby`, `awsregion`, `updatefrequency`,
//! `iprangesurl`) with its defaults and checks.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::error::Error;
use crate::client::endpoint::parse_http_url;
use crate::middleware::duration::parse_go_duration;

/// Default lifetime of a signed URL (Distribution: 20 minutes).
pub(crate) const DEFAULT_DURATION: Duration = Duration::from_secs(20 * 60);
/// Default refresh period of the AWS IP ranges (Distribution: 12 hours).
pub(crate) const DEFAULT_UPDATE_FREQUENCY: Duration = Duration::from_secs(12 * 3600);
/// Where AWS publishes its IP ranges.
pub(crate) const DEFAULT_IP_RANGES_URL: &str = "https://ip-ranges.amazonaws.com/ip-ranges.json";

const KNOWN: [&str; 9] = [
    "baseurl",
    "privatekey",
    "keypairid",
    "duration",
    "ipfilteredby",
    "awsregion",
    "updatefrequency",
    "updatefrenquency",
    "iprangesurl",
];

/// Which clients are sent straight to S3 instead of CloudFront (`ipfilteredby`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IpFilter {
    /// `none` (or empty): every client gets a CloudFront URL.
    #[default]
    None,
    /// `aws`: clients inside any AWS IP range get the S3 URL.
    Aws,
    /// `awsregion`: clients inside the ranges of these regions (lower-case) get the S3 URL.
    AwsRegions(Vec<String>),
}

impl IpFilter {
    /// `true` unless [`IpFilter::None`].
    pub fn is_enabled(&self) -> bool {
        !matches!(self, Self::None)
    }
}

/// Something accepted but worth telling the operator.
#[derive(Debug)]
#[non_exhaustive]
pub enum Warning {
    /// A deprecated spelling of an option was used.
    DeprecatedOption {
        /// The spelling found.
        used: &'static str,
        /// The spelling to use.
        instead: &'static str,
    },
    /// An option was given but has no effect.
    IgnoredOption {
        /// The option name.
        option: String,
        /// Why it has no effect.
        reason: &'static str,
    },
    /// The AWS IP ranges could not be loaded at start-up; every client gets CloudFront URLs
    /// until a background refresh succeeds.
    IpRangesUnavailable(Error),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeprecatedOption { used, instead } => write!(
                f,
                "cloudfront: option `{used}` is deprecated; rename it to `{instead}`"
            ),
            Self::IgnoredOption { option, reason } => {
                write!(f, "cloudfront: option `{option}` is ignored: {reason}")
            }
            Self::IpRangesUnavailable(e) => write!(
                f,
                "{e} (until a refresh succeeds, every client is redirected to CloudFront)"
            ),
        }
    }
}

/// The parsed options. Build with [`Options::from_params`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// `baseurl`: the distribution URL, with a scheme and a trailing `/`.
    pub base_url: String,
    /// `privatekey`: path of the PEM private key.
    pub private_key: PathBuf,
    /// `keypairid`: the CloudFront public key id.
    pub key_pair_id: String,
    /// `duration`: lifetime of each signed URL.
    pub duration: Duration,
    /// `ipfilteredby` (+ `awsregion`).
    pub ip_filter: IpFilter,
    /// `updatefrequency`: how often the AWS IP ranges are refreshed.
    pub update_frequency: Duration,
    /// `iprangesurl`: where the AWS IP ranges are fetched from.
    pub ip_ranges_url: String,
}

fn duration_option(option: &'static str, value: &str) -> Result<Duration, Error> {
    let d = parse_go_duration(value.trim())
        .map_err(|e| Error::invalid_option(option, e.to_string()))?;
    if d.is_zero() {
        return Err(Error::invalid_option(option, "must be longer than zero"));
    }
    Ok(d)
}

fn http_url(option: &'static str, value: &str) -> Result<(), Error> {
    if let Some(c) = value
        .chars()
        .find(|&c| !(' '..='~').contains(&c) || matches!(c, ' ' | '"' | '\\'))
    {
        return Err(Error::invalid_option(
            option,
            format!("{value:?} contains {c:?}; use printable ASCII (percent-encode the rest)"),
        ));
    }
    parse_http_url(value)
        .map(drop)
        .map_err(|why| Error::invalid_option(option, format!("{value:?} {why}")))
}

impl Options {
    /// Parses the middleware's parameter map (names as in Distribution's configuration).
    ///
    /// * `baseurl` (required): `https://` is prefixed when it has no `://`, `/` appended when
    ///   missing; it must then be an http(s) URL with a host, printable ASCII, no `?` or `#`.
    /// * `privatekey` (required): path to the PEM key (read later, by the signer).
    /// * `keypairid` (required).
    /// * `duration` (default `20m`) and `updatefrequency` (default `12h`; the old misspelling
    ///   `updatefrenquency` is accepted with a warning): Go duration strings, more than zero.
    /// * `ipfilteredby`: `none` (default, also empty), `aws` or `awsregion`, any case, trimmed.
    /// * `awsregion`: comma-separated regions, trimmed and lower-cased; required for
    ///   `awsregion` and ignored (with a warning) otherwise.
    /// * `iprangesurl` (default `https://ip-ranges.amazonaws.com/ip-ranges.json`).
    ///
    /// Unknown names are reported as warnings. Repeated names: the last value wins.
    ///
    /// # Errors
    /// [`Error::MissingOption`] / [`Error::InvalidOption`] naming the option.
    pub fn from_params<I, K, V>(params: I) -> Result<(Self, Vec<Warning>), Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        // Inserted one by one: collect() would instantiate a sort for each caller's iterator.
        let mut map = BTreeMap::new();
        for (k, v) in params {
            map.insert(k.as_ref().to_owned(), v.as_ref().to_owned());
        }
        let get = |k: &str| map.get(k).map(String::as_str);
        let mut warnings = Vec::new();
        for k in map.keys() {
            if !KNOWN.contains(&k.as_str()) {
                warnings.push(Warning::IgnoredOption {
                    option: k.clone(),
                    reason: "not a cloudfront middleware option",
                });
            }
        }

        let base = get("baseurl").ok_or(Error::MissingOption {
            option: "baseurl",
            hint: "the CloudFront distribution URL, e.g. https://d111111abcdef8.cloudfront.net/",
        })?;
        let base = base.trim();
        let mut base_url = if base.contains("://") {
            base.to_owned()
        } else {
            format!("https://{base}")
        };
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        http_url("baseurl", &base_url)?;
        if base_url.contains(['?', '#']) {
            return Err(Error::invalid_option(
                "baseurl",
                format!("{base_url:?} must not contain '?' or '#': object keys are appended to it"),
            ));
        }

        let private_key =
            get("privatekey")
                .filter(|s| !s.trim().is_empty())
                .ok_or(Error::MissingOption {
                    option: "privatekey",
                    hint: "the path of the PEM file with the CloudFront key pair's private key",
                })?;
        let key_pair_id = get("keypairid")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(Error::MissingOption {
                option: "keypairid",
                hint: "the id of the CloudFront public key (e.g. K2JCJMDEHXQW5F)",
            })?;

        let duration = match get("duration") {
            Some(v) => duration_option("duration", v)?,
            None => DEFAULT_DURATION,
        };

        let ip_filter = match get("ipfilteredby")
            .map(|s| s.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("" | "none") => IpFilter::None,
            Some("aws") => IpFilter::Aws,
            Some("awsregion") => {
                let regions = get("awsregion").ok_or(Error::MissingOption {
                    option: "awsregion",
                    hint: "a comma-separated list of AWS regions (ipfilteredby is awsregion), e.g. us-east-1,eu-west-1",
                })?;
                let regions: Vec<String> = regions
                    .split(',')
                    .map(|r| r.trim().to_ascii_lowercase())
                    .filter(|r| !r.is_empty())
                    .collect();
                if regions.is_empty() {
                    return Err(Error::invalid_option(
                        "awsregion",
                        "lists no region; give a comma-separated list such as us-east-1,eu-west-1",
                    ));
                }
                IpFilter::AwsRegions(regions)
            }
            Some(other) => {
                return Err(Error::invalid_option(
                    "ipfilteredby",
                    format!("{other:?} is not one of none, aws, awsregion"),
                ))
            }
        };
        if get("awsregion").is_some() && !matches!(ip_filter, IpFilter::AwsRegions(_)) {
            warnings.push(Warning::IgnoredOption {
                option: "awsregion".into(),
                reason: "only used when ipfilteredby is awsregion",
            });
        }

        let update_frequency = match (get("updatefrequency"), get("updatefrenquency")) {
            (Some(v), typo) => {
                if typo.is_some() {
                    warnings.push(Warning::IgnoredOption {
                        option: "updatefrenquency".into(),
                        reason: "updatefrequency is also set and takes precedence",
                    });
                }
                duration_option("updatefrequency", v)?
            }
            (None, Some(v)) => {
                warnings.push(Warning::DeprecatedOption {
                    used: "updatefrenquency",
                    instead: "updatefrequency",
                });
                duration_option("updatefrequency", v)?
            }
            (None, None) => DEFAULT_UPDATE_FREQUENCY,
        };

        let ip_ranges_url = get("iprangesurl")
            .map(str::trim)
            .unwrap_or(DEFAULT_IP_RANGES_URL)
            .to_owned();
        http_url("iprangesurl", &ip_ranges_url)?;

        Ok((
            Self {
                base_url,
                private_key: PathBuf::from(private_key),
                key_pair_id: key_pair_id.to_owned(),
                duration,
                ip_filter,
                update_frequency,
                ip_ranges_url,
            },
            warnings,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 3] = [
        ("baseurl", "d111111abcdef8.cloudfront.net"),
        ("privatekey", "/etc/registry/cf.pem"),
        ("keypairid", "K2JCJMDEHXQW5F"),
    ];

    fn parse(extra: &[(&str, &str)]) -> Result<(Options, Vec<Warning>), Error> {
        Options::from_params(BASE.iter().chain(extra).copied())
    }

    fn invalid(extra: &[(&str, &str)]) -> (&'static str, String) {
        match parse(extra).unwrap_err() {
            Error::InvalidOption { option, message } => (option, message),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn defaults() {
        let (o, w) = parse(&[]).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(o.base_url, "https://d111111abcdef8.cloudfront.net/");
        assert_eq!(o.private_key, PathBuf::from("/etc/registry/cf.pem"));
        assert_eq!(o.key_pair_id, "K2JCJMDEHXQW5F");
        assert_eq!(o.duration, Duration::from_secs(1200));
        assert_eq!(o.ip_filter, IpFilter::None);
        assert!(!o.ip_filter.is_enabled());
        assert_eq!(o.update_frequency, Duration::from_secs(43_200));
        assert_eq!(o.ip_ranges_url, DEFAULT_IP_RANGES_URL);
    }

    #[test]
    fn base_url_normalisation() {
        for (given, want) in [
            ("https://cdn.example.com", "https://cdn.example.com/"),
            ("http://cdn.example.com/", "http://cdn.example.com/"),
            (
                "cdn.example.com/registry",
                "https://cdn.example.com/registry/",
            ),
            (" cdn.example.com ", "https://cdn.example.com/"),
        ] {
            let o = Options::from_params([("baseurl", given), BASE[1], BASE[2]])
                .unwrap()
                .0;
            assert_eq!(o.base_url, want);
        }
        for bad in [
            "ftp://cdn.example.com",
            "https:///x",
            "cdn.example.com/a?b",
            "cdn.example.com/#x",
            "cdn.exa mple.com",
            "https://caf\u{e9}.com",
            "https://cdn.example.com:0",
            "https://cdn.example.com:",
            "https:cdn.example.com",
        ] {
            let e = Options::from_params([("baseurl", bad), BASE[1], BASE[2]]).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "baseurl",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn required_options_are_named() {
        for missing in ["baseurl", "privatekey", "keypairid"] {
            let params = BASE.iter().filter(|(k, _)| *k != missing).copied();
            match Options::from_params(params).unwrap_err() {
                Error::MissingOption { option, .. } => assert_eq!(option, missing),
                e => panic!("{e}"),
            }
        }
        let e = Options::from_params([BASE[0], BASE[1], ("keypairid", " ")]).unwrap_err();
        assert!(e.to_string().contains("`keypairid` is required"), "{e}");
    }

    #[test]
    fn durations() {
        let (o, _) = parse(&[("duration", "1h30m"), ("updatefrequency", "90s")]).unwrap();
        assert_eq!(o.duration, Duration::from_secs(5400));
        assert_eq!(o.update_frequency, Duration::from_secs(90));
        assert_eq!(
            parse(&[("duration", "1.5h")]).unwrap().0.duration,
            Duration::from_secs(5400)
        );
        for bad in ["3000", "0", "0s", "-5m", "soon"] {
            let (option, message) = invalid(&[("duration", bad)]);
            assert_eq!(option, "duration", "{bad}");
            assert!(!message.is_empty());
        }
        assert_eq!(invalid(&[("updatefrequency", "x")]).0, "updatefrequency");
    }

    #[test]
    fn misspelt_update_frequency() {
        let (o, w) = parse(&[("updatefrenquency", "1h")]).unwrap();
        assert_eq!(o.update_frequency, Duration::from_secs(3600));
        assert!(matches!(
            w.as_slice(),
            [Warning::DeprecatedOption {
                used: "updatefrenquency",
                instead: "updatefrequency"
            }]
        ));
        assert!(w[0].to_string().contains("deprecated"));
        let (o, w) = parse(&[("updatefrenquency", "1h"), ("updatefrequency", "2h")]).unwrap();
        assert_eq!(o.update_frequency, Duration::from_secs(7200));
        assert!(matches!(w.as_slice(), [Warning::IgnoredOption { .. }]));
        assert_eq!(invalid(&[("updatefrenquency", "bad")]).0, "updatefrequency");
    }

    #[test]
    fn ip_filter() {
        for (v, want) in [
            ("", IpFilter::None),
            ("none", IpFilter::None),
            (" NONE ", IpFilter::None),
            ("aws", IpFilter::Aws),
            (" Aws\t", IpFilter::Aws),
        ] {
            assert_eq!(
                parse(&[("ipfilteredby", v)]).unwrap().0.ip_filter,
                want,
                "{v:?}"
            );
        }
        let (o, w) = parse(&[
            ("ipfilteredby", "AWSRegion"),
            ("awsregion", " US-East-1, eu-west-1 ,"),
        ])
        .unwrap();
        assert_eq!(
            o.ip_filter,
            IpFilter::AwsRegions(vec!["us-east-1".into(), "eu-west-1".into()])
        );
        assert!(o.ip_filter.is_enabled());
        assert!(w.is_empty());
        match parse(&[("ipfilteredby", "awsregion")]).unwrap_err() {
            Error::MissingOption { option, .. } => assert_eq!(option, "awsregion"),
            e => panic!("{e}"),
        }
        assert_eq!(
            invalid(&[("ipfilteredby", "awsregion"), ("awsregion", " , ")]).0,
            "awsregion"
        );
        let (option, message) = invalid(&[("ipfilteredby", "gcp")]);
        assert_eq!(option, "ipfilteredby");
        assert!(message.contains("none, aws, awsregion"));
        let (_, w) = parse(&[("ipfilteredby", "aws"), ("awsregion", "us-east-1")]).unwrap();
        assert!(matches!(&w[..], [Warning::IgnoredOption { option, .. }] if option == "awsregion"));
    }

    #[test]
    fn ip_ranges_url_and_unknown_options() {
        let (o, w) = parse(&[
            ("iprangesurl", "http://127.0.0.1:8080/r.json"),
            ("colour", "blue"),
        ])
        .unwrap();
        assert_eq!(o.ip_ranges_url, "http://127.0.0.1:8080/r.json");
        assert!(matches!(&w[..], [Warning::IgnoredOption { option, .. }] if option == "colour"));
        assert_eq!(
            invalid(&[("iprangesurl", "file:///tmp/r.json")]).0,
            "iprangesurl"
        );
    }

    #[test]
    fn accepts_owned_maps() {
        let map: std::collections::HashMap<String, String> = BASE
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert!(Options::from_params(&map).is_ok());
    }
}
