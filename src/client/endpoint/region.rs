//! When Signature Version 2 may be used.
//!
//! Amazon S3 accepted SigV2 only in the regions opened before 30 January 2014, and is
//! turning it off there too (no SigV2 for buckets created after 24 June 2020). Every
//! region opened since accepts only SigV4. AWS's own endpoint metadata (botocore
//! `endpoints.json`, S3 `signatureVersions: ["s3", "s3v4"]`) lists the SigV2-capable ones:
//!
//! | region | opened |
//! |---|---|
//! | us-east-1 (N. Virginia) | 2006 |
//! | eu-west-1 (Ireland) | 2007 |
//! | us-west-1 (N. California) | 2009-12 |
//! | ap-southeast-1 (Singapore) | 2010-04 |
//! | ap-northeast-1 (Tokyo) | 2011-03 |
//! | us-gov-west-1 (GovCloud US-West) | 2011-08 |
//! | us-west-2 (Oregon) | 2011-11 |
//! | sa-east-1 (São Paulo) | 2011-12 |
//! | ap-southeast-2 (Sydney) | 2012-11 |
//!
//! All others — `V4_ONLY_REGIONS`, and any future region name of an AWS partition's
//! shape (`<us|eu|ap|sa|ca|me|af|il|mx|cn|eusc>-…-<n>`) — are SigV4-only. cn-north-1
//! opened (as a preview) in December 2013 but never accepted SigV2.
//!
//! [`v2_allowed`] also refuses SigV2 whenever the endpoint is AWS's own (or no custom
//! endpoint is configured, which means AWS): SigV2 is kept for S3-compatible servers only.
//!
//! [`v2_decision`] is what a configuration asking for SigV2 turns into: SigV2 for an
//! S3-compatible server in a region that may use it; **SigV4 with a warning** for AWS's own
//! endpoint in one of the [`V2_REGIONS`] (`registry:2` starts with SigV2 configured there,
//! and AWS accepts SigV4 in every region); an error for the SigV4-only regions, with or
//! without a custom endpoint, and for AWS's default endpoint with a region name AWS does not
//! have.
//!
//! The messages name the client's settings (`SignatureVersion::V4`, `endpoint`); the S3
//! driver says the same in its registry parameter names.

use std::fmt;

/// Why Signature Version 2 cannot be used for a region and endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V2NotAllowed {
    /// The region accepts only SigV4 (an AWS region opened since 2014, or one of that shape).
    Region {
        /// The region.
        region: String,
    },
    /// The endpoint is Amazon S3's own (`host`), or none is set (`None`: requests go to AWS).
    Endpoint {
        /// The AWS host, or `None` without a custom endpoint.
        host: Option<String>,
    },
}

impl fmt::Display for V2NotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region { region } => write!(
                f,
                "region {region} accepts only Signature Version 4: use `SignatureVersion::V4`"
            ),
            Self::Endpoint { host: Some(host) } => write!(
                f,
                "endpoint {host} is Amazon S3, which accepts only Signature Version 4 here: use \
                 `SignatureVersion::V4` (SigV2 is for S3-compatible servers only)"
            ),
            Self::Endpoint { host: None } => f.write_str(
                "with no `endpoint` set, requests go to Amazon S3, which needs Signature Version 4: \
                 use `SignatureVersion::V4` (SigV2 is for S3-compatible servers only)",
            ),
        }
    }
}

impl std::error::Error for V2NotAllowed {}

/// SigV2-capable AWS regions (all opened before 2014-01-30).
pub(crate) const V2_REGIONS: [&str; 9] = [
    "us-east-1",
    "eu-west-1",
    "us-west-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "us-gov-west-1",
    "us-west-2",
    "sa-east-1",
    "ap-southeast-2",
];

/// Known SigV4-only AWS regions with the month they opened (`""` where AWS publishes no
/// date: isolated and sovereign partitions).
#[cfg(test)]
pub(crate) const V4_ONLY_REGIONS: [(&str, &str); 36] = [
    ("cn-north-1", "2013-12"),
    ("eu-central-1", "2014-10"),
    ("ap-northeast-2", "2016-01"),
    ("ap-south-1", "2016-06"),
    ("us-east-2", "2016-10"),
    ("ca-central-1", "2016-12"),
    ("eu-west-2", "2016-12"),
    ("cn-northwest-1", "2017-12"),
    ("eu-west-3", "2017-12"),
    ("ap-northeast-3", "2018-02"),
    ("us-gov-east-1", "2018-11"),
    ("eu-north-1", "2018-12"),
    ("ap-east-1", "2019-04"),
    ("me-south-1", "2019-07"),
    ("af-south-1", "2020-04"),
    ("eu-south-1", "2020-04"),
    ("ap-southeast-3", "2021-12"),
    ("me-central-1", "2022-08"),
    ("eu-central-2", "2022-11"),
    ("eu-south-2", "2022-11"),
    ("ap-south-2", "2022-11"),
    ("ap-southeast-4", "2023-01"),
    ("il-central-1", "2023-08"),
    ("ca-west-1", "2023-12"),
    ("ap-southeast-5", "2024-08"),
    ("ap-southeast-7", "2025-01"),
    ("mx-central-1", "2025-01"),
    ("ap-east-2", "2025-06"),
    ("ap-southeast-6", "2025-09"),
    ("us-iso-east-1", ""),
    ("us-iso-west-1", ""),
    ("us-isob-east-1", ""),
    ("eu-isoe-west-1", ""),
    ("us-isof-east-1", ""),
    ("us-isof-south-1", ""),
    ("eusc-de-east-1", ""),
];

/// DNS suffixes of AWS endpoints (all partitions, IPv4 and dual-stack).
pub(crate) const AWS_DNS_SUFFIXES: [&str; 9] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "api.aws",
    "amazonwebservices.com.cn",
    "amazonaws.eu",
    "c2s.ic.gov",
    "sc2s.sgov.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
];

/// First labels of AWS partition region names.
const AWS_REGION_PREFIXES: [&str; 11] = [
    "us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn", "eusc",
];

/// Decides whether SigV2 may be used for `region` and `endpoint` (the configured custom
/// endpoint, `None` or empty for AWS).
///
/// # Errors
/// [`V2NotAllowed::Region`] for a SigV4-only AWS region, [`V2NotAllowed::Endpoint`] for an
/// AWS endpoint or no custom endpoint. Both say to use `SignatureVersion::V4`.
pub fn v2_allowed(region: &str, endpoint: Option<&str>) -> Result<(), V2NotAllowed> {
    let region = region.trim();
    if !V2_REGIONS.contains(&region) && is_aws_region_shape(region) {
        return Err(V2NotAllowed::Region {
            region: region.to_owned(),
        });
    }
    // An endpoint that is not a URL has no host here: it is not AWS's, and endpoint
    // resolution refuses it with the reason.
    match endpoint.map(str::trim).filter(|e| !e.is_empty()) {
        None => Err(V2NotAllowed::Endpoint { host: None }),
        Some(endpoint) => match endpoint_host(endpoint) {
            host if is_aws_host(&host) => Err(V2NotAllowed::Endpoint { host: Some(host) }),
            _ => Ok(()),
        },
    }
}

/// What a request for Signature Version 2 becomes; see [`v2_decision`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V2Decision {
    /// Sign with SigV2: a custom (S3-compatible) endpoint, in a region that may use it.
    SignV2,
    /// AWS's own endpoint in a region that accepted SigV2: sign with SigV4 instead (AWS
    /// accepts SigV4 in every region) and tell the operator ([`V2Decision::warning`]).
    SignV4Instead {
        /// The region (one of [`V2_REGIONS`]).
        region: String,
        /// The configured AWS endpoint host, or `None` for AWS's default endpoint.
        host: Option<String>,
    },
}

impl V2Decision {
    /// The operator-facing warning for [`V2Decision::SignV4Instead`] (`None` for
    /// [`V2Decision::SignV2`]). It says what was asked for, what is done instead and how to
    /// silence it.
    pub fn warning(&self) -> Option<String> {
        match self {
            Self::SignV2 => None,
            Self::SignV4Instead { region, host } => {
                let endpoint = host.as_deref().map_or_else(
                    || "AWS's own endpoint".to_owned(),
                    |h| format!("AWS's endpoint {h}"),
                );
                Some(format!(
                    "Signature Version 2 was asked for (`SignatureVersion::V2`), but requests \
                     go to {endpoint}, which is turning it off (buckets created since 24 June \
                     2020 never accepted it): signing with Signature Version 4 instead, which \
                     {region} accepts; use `SignatureVersion::V4` to silence this warning"
                ))
            }
        }
    }
}

/// Decides what a request for SigV2 means for `region` and `endpoint` (the configured custom
/// endpoint, `None` or empty for AWS's default).
///
/// - a SigV4-only AWS region (known, or of an AWS region's shape) — refused, even with a
///   custom endpoint: [`V2NotAllowed::Region`];
/// - AWS's endpoint (no custom endpoint, or an AWS host) with a region of [`V2_REGIONS`] —
///   [`V2Decision::SignV4Instead`];
/// - AWS's default endpoint with any other region name — refused:
///   [`V2NotAllowed::Endpoint`];
/// - a custom non-AWS endpoint — [`V2Decision::SignV2`] (what [`v2_allowed`] accepts).
///
/// # Errors
/// As listed; both errors say to use `SignatureVersion::V4`.
pub fn v2_decision(region: &str, endpoint: Option<&str>) -> Result<V2Decision, V2NotAllowed> {
    match v2_allowed(region, endpoint) {
        Ok(()) => Ok(V2Decision::SignV2),
        Err(V2NotAllowed::Endpoint { host }) if V2_REGIONS.contains(&region.trim()) => {
            Ok(V2Decision::SignV4Instead {
                region: region.trim().to_owned(),
                host,
            })
        }
        Err(e) => Err(e),
    }
}

/// True for names shaped like an AWS region of any partition (`eu-central-1`,
/// `us-gov-west-1`, `eusc-de-east-1`, …), known or not yet opened.
pub fn is_aws_region_shape(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    if parts.len() < 3 || !AWS_REGION_PREFIXES.contains(&parts[0]) {
        return false;
    }
    let last = parts[parts.len() - 1];
    let middle = &parts[1..parts.len() - 1];
    !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// True when `host` is AWS's own (`*.amazonaws.com`, `*.amazonaws.com.cn`, …).
pub fn is_aws_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    AWS_DNS_SUFFIXES.iter().any(|suffix| {
        host == *suffix
            || (host.len() > suffix.len()
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.')
    })
}

/// The lower-cased host of an endpoint given as a URL (`https://host:port/path`) or as a
/// bare `host[:port]` (IPv6 without brackets, no trailing dot); `""` when it has none or is
/// not a URL.
pub(crate) fn endpoint_host(endpoint: &str) -> String {
    let host = match super::endpoint_url(endpoint.trim(), false)
        .ok()
        .as_ref()
        .and_then(url::Url::host)
    {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(host) => host.to_string(),
        None => String::new(),
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIO: Option<&str> = Some("http://127.0.0.1:9000");

    #[test]
    fn v2_regions_with_custom_endpoint() {
        for r in V2_REGIONS {
            assert_eq!(v2_allowed(r, MINIO), Ok(()), "{r}");
        }
        for custom in ["minio", "garage", "default", "", "local-1x"] {
            assert_eq!(v2_allowed(custom, MINIO), Ok(()), "{custom}");
        }
    }

    #[test]
    fn v4_only_regions_are_refused_even_with_custom_endpoint() {
        for (r, _) in V4_ONLY_REGIONS {
            assert!(is_aws_region_shape(r), "{r}");
            let e = v2_allowed(r, MINIO).unwrap_err();
            assert!(e.to_string().contains("`SignatureVersion::V4`"), "{e}");
        }
        // A region AWS has not opened yet has the same shape and is refused too.
        assert!(v2_allowed("eu-west-9", MINIO).is_err());
        assert!(v2_allowed("us-gov-central-1", MINIO).is_err());
        assert!(!V4_ONLY_REGIONS.iter().any(|(r, _)| V2_REGIONS.contains(r)));
    }

    #[test]
    fn aws_endpoints_and_no_endpoint_are_refused() {
        assert_eq!(
            v2_allowed("us-east-1", None),
            Err(V2NotAllowed::Endpoint { host: None })
        );
        assert_eq!(
            v2_allowed("us-east-1", Some("  ")),
            Err(V2NotAllowed::Endpoint { host: None })
        );
        for ep in [
            "https://s3.amazonaws.com",
            "s3.us-west-2.amazonaws.com",
            "https://bucket.s3.dualstack.us-west-2.amazonaws.com/x",
            "http://s3.cn-north-1.amazonaws.com.cn:80",
            "https://s3.dualstack.us-east-1.api.aws",
            "https://S3.AMAZONAWS.COM.",
            "https://user@s3.amazonaws.com",
        ] {
            let e = v2_allowed("us-east-1", Some(ep)).unwrap_err();
            assert!(
                matches!(e, V2NotAllowed::Endpoint { host: Some(_) }),
                "{ep}"
            );
            assert!(e.to_string().contains("`SignatureVersion::V4`"));
        }
        for ep in [
            "https://minio.example.com",
            "http://localhost:9000",
            "http://[::1]:9000",
            "https://notamazonaws.com",
            "https://amazonaws.com.evil.example",
        ] {
            assert_eq!(v2_allowed("us-east-1", Some(ep)), Ok(()), "{ep}");
        }
    }

    #[test]
    fn v2_on_aws_becomes_v4_in_the_regions_that_accepted_v2() {
        for r in V2_REGIONS {
            let d = v2_decision(r, None).unwrap();
            assert_eq!(
                d,
                V2Decision::SignV4Instead {
                    region: r.to_owned(),
                    host: None
                }
            );
            let w = d.warning().unwrap();
            assert!(
                w.contains("`SignatureVersion::V2`") && w.contains("Signature Version 4"),
                "{w}"
            );
            assert!(w.contains(r) && w.contains("AWS's own endpoint"), "{w}");
            // The same with an explicit AWS endpoint.
            let d = v2_decision(r, Some("https://s3.amazonaws.com")).unwrap();
            assert!(d.warning().unwrap().contains("s3.amazonaws.com"));
            assert!(matches!(d, V2Decision::SignV4Instead { host: Some(_), .. }));
            // An S3-compatible server keeps SigV2, with no warning.
            assert_eq!(v2_decision(r, MINIO), Ok(V2Decision::SignV2));
            assert_eq!(V2Decision::SignV2.warning(), None);
        }
        assert_eq!(
            v2_decision(" us-west-2 ", Some("")).unwrap(),
            V2Decision::SignV4Instead {
                region: "us-west-2".to_owned(),
                host: None
            }
        );
    }

    #[test]
    fn v2_decision_keeps_refusing_v4_only_regions() {
        for (r, _) in V4_ONLY_REGIONS {
            for endpoint in [None, MINIO, Some("https://s3.amazonaws.com")] {
                assert_eq!(
                    v2_decision(r, endpoint),
                    Err(V2NotAllowed::Region {
                        region: r.to_owned()
                    }),
                    "{r} {endpoint:?}"
                );
            }
        }
        assert!(v2_decision("eu-west-9", None).is_err());
        // A region name AWS does not have, on AWS's default endpoint: refused as before.
        assert_eq!(
            v2_decision("minio", None),
            Err(V2NotAllowed::Endpoint { host: None })
        );
        assert_eq!(v2_decision("minio", MINIO), Ok(V2Decision::SignV2));
    }

    #[test]
    fn host_extraction() {
        assert_eq!(endpoint_host("https://a.b:9000/x?y"), "a.b");
        assert_eq!(endpoint_host("a.b"), "a.b");
        assert_eq!(endpoint_host("http://[::1]:9000"), "::1");
        assert_eq!(endpoint_host("http://u:p@Host.Example./"), "host.example");
        assert_eq!(endpoint_host("minio:9000"), "minio");
        assert_eq!(
            endpoint_host("HTTPS://S3.AMAZONAWS.COM"),
            "s3.amazonaws.com"
        );
        assert_eq!(endpoint_host("http://ho st"), "");
    }
}
