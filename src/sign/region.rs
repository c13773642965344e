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
//! All others — [`V4_ONLY_REGIONS`], and any future region name of an AWS partition's
//! shape (`<us|eu|ap|sa|ca|me|af|il|mx|cn|eusc>-…-<n>`) — are SigV4-only. cn-north-1
//! opened (as a preview) in December 2013 but never accepted SigV2.
//!
//! [`v2_allowed`] also refuses SigV2 whenever the endpoint is AWS's own (or no custom
//! endpoint is configured, which means AWS): SigV2 is kept for S3-compatible servers only.

use super::SignError;

/// SigV2-capable AWS regions (all opened before 2014-01-30).
pub const V2_REGIONS: [&str; 9] = [
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
pub const V4_ONLY_REGIONS: [(&str, &str); 36] = [
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
pub const AWS_DNS_SUFFIXES: [&str; 9] = [
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
/// [`SignError::V2RegionNotAllowed`] for a SigV4-only AWS region,
/// [`SignError::V2EndpointNotAllowed`] for an AWS endpoint or no custom endpoint. Both
/// say to set `v4auth: true`.
pub fn v2_allowed(region: &str, endpoint: Option<&str>) -> Result<(), SignError> {
    let region = region.trim();
    if !V2_REGIONS.contains(&region) && is_aws_region_shape(region) {
        return Err(SignError::V2RegionNotAllowed {
            region: region.to_owned(),
        });
    }
    match endpoint.map(endpoint_host).filter(|h| !h.is_empty()) {
        None => Err(SignError::V2EndpointNotAllowed { host: None }),
        Some(host) if is_aws_host(&host) => {
            Err(SignError::V2EndpointNotAllowed { host: Some(host) })
        }
        Some(_) => Ok(()),
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
/// bare `host[:port]`.
pub fn endpoint_host(endpoint: &str) -> String {
    let rest = endpoint.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.trim_end_matches('.').to_ascii_lowercase()
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
            assert!(e.to_string().contains("v4auth: true"), "{e}");
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
            Err(SignError::V2EndpointNotAllowed { host: None })
        );
        assert_eq!(
            v2_allowed("us-east-1", Some("  ")),
            Err(SignError::V2EndpointNotAllowed { host: None })
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
                matches!(e, SignError::V2EndpointNotAllowed { host: Some(_) }),
                "{ep}"
            );
            assert!(e.to_string().contains("v4auth: true"));
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
    fn host_extraction() {
        assert_eq!(endpoint_host("https://a.b:9000/x?y"), "a.b");
        assert_eq!(endpoint_host("a.b"), "a.b");
        assert_eq!(endpoint_host("http://[::1]:9000"), "::1");
        assert_eq!(endpoint_host("http://u:p@Host.Example./"), "host.example");
    }
}
