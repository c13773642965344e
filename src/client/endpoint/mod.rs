use std::net::Ipv4Addr;

use url::{Host, Url};

use super::error::Error;
use crate::sign::percent_decode;

mod region;

pub use region::{v2_allowed, V2NotAllowed};
pub(crate) use region::{v2_decision, V2Decision};

/// The `User-Agent` sent by this client (before any configured suffix).
pub(crate) const USER_AGENT: &str = concat!("s3driver/", env!("CARGO_PKG_VERSION"));

/// The region the client signs for when a custom endpoint is given without a region.
pub(crate) const DEFAULT_CUSTOM_ENDPOINT_REGION: &str = "us-east-1";

/// The regions of aws-sdk-go v1.55.5's endpoint partitions (`aws`, `aws-cn`, `aws-us-gov`,
/// `aws-iso`, `aws-iso-b`, `aws-iso-e`; `aws-iso-f` lists none), which Distribution's S3 driver
/// accepts as `region` when no `regionendpoint` is set.
pub(crate) const AWS_REGIONS: [&str; 37] = [
    // aws
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    // aws-cn
    "cn-north-1",
    "cn-northwest-1",
    // aws-us-gov
    "us-gov-east-1",
    "us-gov-west-1",
    // aws-iso
    "us-iso-east-1",
    "us-iso-west-1",
    // aws-iso-b
    "us-isob-east-1",
    // aws-iso-e
    "eu-isoe-west-1",
];

/// Checks `region` against [`AWS_REGIONS`] (use when no custom endpoint is configured).
///
/// # Errors
///
/// [`ErrorKind::InvalidConfig`](super::ErrorKind::InvalidConfig) for an empty or unknown region.
pub(crate) fn validate_region(region: &str) -> Result<(), Error> {
    if region.is_empty() {
        return Err(Error::invalid_config(
            "`region` is required unless `endpoint` is set (e.g. us-east-1)",
        ));
    }
    if AWS_REGIONS.contains(&region) {
        return Ok(());
    }
    Err(Error::invalid_config(format!(
        "unknown AWS region {region:?}; use one of: {}; for an S3-compatible service set \
         `endpoint` (any region name is then accepted)",
        AWS_REGIONS.join(", ")
    )))
}

/// Where and how to reach S3: the endpoint half of the driver configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// AWS region (`region`). Required unless `region_endpoint` is set.
    pub region: String,
    /// Custom endpoint for S3-compatible services (`regionendpoint`).
    pub region_endpoint: Option<String>,
    /// Always use path-style addressing (`forcepathstyle`).
    pub force_path_style: bool,
    /// Use HTTPS when the endpoint gives no scheme (`secure`, default true).
    pub secure: bool,
    /// Use the dual-stack (IPv4+IPv6) AWS endpoint (`usedualstack`).
    pub use_dual_stack: bool,
    /// Use S3 Transfer Acceleration (`accelerate`).
    pub accelerate: bool,
    /// Skip TLS certificate verification (`skipverify`); read by the transport, not here.
    pub skip_verify: bool,
    /// Free-form text appended to the User-Agent (`useragent`).
    pub user_agent_suffix: Option<String>,
}

setters!(EndpointConfig {
    /// Sets the AWS region (`region`).
    with_region => region: impl Into<String>,
    /// Sets a custom endpoint (`regionendpoint`).
    with_region_endpoint => region_endpoint: impl Into<String> as Some,
    /// Sets path-style addressing (`forcepathstyle`).
    with_force_path_style => force_path_style: bool,
    /// Sets whether a scheme-less endpoint uses HTTPS (`secure`).
    with_secure => secure: bool,
    /// Sets the dual-stack endpoint (`usedualstack`).
    with_dual_stack => use_dual_stack: bool,
    /// Sets Transfer Acceleration (`accelerate`).
    with_accelerate => accelerate: bool,
    /// Sets skipping TLS certificate verification (`skipverify`).
    with_skip_verify => skip_verify: bool,
    /// Sets the text appended to the User-Agent (`useragent`).
    with_user_agent_suffix => user_agent_suffix: impl Into<String> as Some,
});

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            region: String::new(),
            region_endpoint: None,
            force_path_style: false,
            secure: true,
            use_dual_stack: false,
            accelerate: false,
            skip_verify: false,
            user_agent_suffix: None,
        }
    }
}

impl EndpointConfig {
    /// Resolves the endpoint for `bucket`; see [`ResolvedEndpoint::resolve`].
    ///
    /// # Errors
    ///
    /// As [`ResolvedEndpoint::resolve`].
    pub(crate) fn resolve(&self, bucket: &str) -> Result<ResolvedEndpoint, Error> {
        ResolvedEndpoint::resolve(self, bucket)
    }

    /// `EndpointConfig::resolve` for the fuzz target (`fuzz/fuzz_targets/params.rs`). Not
    /// API: compiled only with the hidden `__internals` feature.
    ///
    /// # Errors
    /// As `resolve`.
    #[cfg(feature = "__internals")]
    #[doc(hidden)]
    pub fn __fuzz_resolve(&self, bucket: &str) -> Result<(), Error> {
        self.resolve(bucket).map(drop)
    }

    /// The `User-Agent` header: `s3driver/<version>`, then a space and the configured suffix
    /// (control characters replaced by spaces so the header stays valid).
    pub fn user_agent(&self) -> String {
        match self.user_agent_suffix.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => {
                let clean: String = s
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                format!("{USER_AGENT} {clean}")
            }
            _ => USER_AGENT.to_owned(),
        }
    }
}

/// URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// How the bucket is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressingStyle {
    /// `bucket.host/key`.
    VirtualHosted,
    /// `host/bucket/key`.
    Path,
}

/// The target of one request: what to put in the `Host` header, the (unencoded) path to sign and
/// send, and the base URL to which the encoded path and query are appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestTarget {
    /// `Host` header value (`host[:port]`), e.g. `bucket.s3.eu-west-1.amazonaws.com`.
    pub host: String,
    /// The path as the application sees it, not percent-encoded: `/bucket/key` (path style) or
    /// `/key` (virtual-hosted), after any endpoint path prefix.
    pub path: String,
    /// `scheme://host[:port]`, without a trailing slash.
    pub base_url: String,
}

/// An endpoint resolved for one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedEndpoint {
    scheme: Scheme,
    endpoint_host: String,
    host: String,
    path_prefix: String,
    bucket: String,
    style: AddressingStyle,
    signing_region: String,
    aws: bool,
}

impl ResolvedEndpoint {
    /// Resolves `config` for `bucket` (rules in the [client docs](crate::client#endpoints)).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidConfig`](super::ErrorKind::InvalidConfig) for an empty/invalid bucket,
    /// an unknown region (AWS only), a malformed `regionendpoint`, or an impossible combination
    /// (accelerate with path style, a dotted bucket, a custom endpoint or a non-commercial
    /// partition; dual-stack in an isolated partition).
    pub fn resolve(config: &EndpointConfig, bucket: &str) -> Result<Self, Error> {
        validate_bucket(bucket)?;
        match config.region_endpoint.as_deref().map(str::trim) {
            Some(ep) if !ep.is_empty() => Self::resolve_custom(config, ep, bucket),
            _ => Self::resolve_aws(config, bucket),
        }
    }

    fn resolve_aws(config: &EndpointConfig, bucket: &str) -> Result<Self, Error> {
        let region = config.region.as_str();
        validate_region(region)?;
        let scheme = if config.secure {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let suffix = dns_suffix(region);
        let isolated = region.contains("-iso");
        let endpoint_host = if config.accelerate {
            if suffix != "amazonaws.com" || region.starts_with("us-gov-") {
                return Err(Error::invalid_config(format!(
                    "S3 Transfer Acceleration is not available in region {region}; turn \
                     `accelerate` off"
                )));
            }
            if config.force_path_style {
                return Err(Error::invalid_config(
                    "`accelerate` needs virtual-hosted addressing: use \
                     `AddressingStyle::VirtualHosted` or turn `accelerate` off",
                ));
            }
            if bucket.contains('.') || !dns_compatible_bucket(bucket) {
                return Err(Error::invalid_config(format!(
                    "bucket {bucket:?} cannot be used with `accelerate`: the name must be \
                     DNS-compatible and contain no dots"
                )));
            }
            if config.use_dual_stack {
                "s3-accelerate.dualstack.amazonaws.com".to_owned()
            } else {
                "s3-accelerate.amazonaws.com".to_owned()
            }
        } else if config.use_dual_stack {
            if isolated {
                return Err(Error::invalid_config(format!(
                    "dual-stack endpoints are not available in region {region}; turn \
                     `dual_stack` off"
                )));
            }
            format!("s3.dualstack.{region}.{suffix}")
        } else {
            format!("s3.{region}.{suffix}")
        };
        let style = if config.force_path_style || !host_compatible_bucket(bucket, scheme) {
            AddressingStyle::Path
        } else {
            AddressingStyle::VirtualHosted
        };
        Ok(Self::build(
            scheme,
            endpoint_host,
            String::new(),
            bucket,
            style,
            region.to_owned(),
            true,
        ))
    }

    fn resolve_custom(
        config: &EndpointConfig,
        endpoint: &str,
        bucket: &str,
    ) -> Result<Self, Error> {
        if config.accelerate {
            return Err(Error::invalid_config(
                "`accelerate` applies only to AWS endpoints; turn it off or remove the `endpoint`",
            ));
        }
        let parsed = parse_endpoint(endpoint, config.secure)?;
        let style = if config.force_path_style
            || parsed.ip_or_localhost
            || !host_compatible_bucket(bucket, parsed.scheme)
        {
            AddressingStyle::Path
        } else {
            AddressingStyle::VirtualHosted
        };
        let region = if config.region.is_empty() {
            DEFAULT_CUSTOM_ENDPOINT_REGION.to_owned()
        } else {
            config.region.clone()
        };
        Ok(Self::build(
            parsed.scheme,
            parsed.authority,
            parsed.path_prefix,
            bucket,
            style,
            region,
            false,
        ))
    }

    /// The same endpoint with the addressing style forced to `style`, overriding the automatic
    /// choice (e.g. virtual-hosted requests to a `localhost` endpoint whose `BUCKET.localhost`
    /// name the HTTP client resolves through an override).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidConfig`](super::ErrorKind::InvalidConfig) for virtual-hosted style with
    /// an IP-literal endpoint or a bucket name that is not DNS-compatible (or contains dots over
    /// HTTPS), and for path style with S3 Transfer Acceleration.
    pub fn with_style(self, style: AddressingStyle) -> Result<Self, Error> {
        if style == self.style {
            return Ok(self);
        }
        match style {
            AddressingStyle::VirtualHosted => {
                if is_ip_literal(&self.endpoint_host) {
                    return Err(Error::invalid_config(format!(
                        "virtual-hosted addressing needs a host name, but the endpoint is the IP \
                         address {}; use path style or a host name that resolves to it",
                        self.endpoint_host
                    )));
                }
                if !host_compatible_bucket(&self.bucket, self.scheme) {
                    return Err(Error::invalid_config(format!(
                        "bucket {:?} cannot be addressed virtual-hosted: the name must be \
                         DNS-compatible (and contain no dots over HTTPS); use path style",
                        self.bucket
                    )));
                }
            }
            AddressingStyle::Path => {
                if self.endpoint_host.starts_with("s3-accelerate.") {
                    return Err(Error::invalid_config(
                        "`accelerate` needs virtual-hosted addressing; turn off `accelerate` or \
                         do not force path style",
                    ));
                }
            }
        }
        Ok(Self::build(
            self.scheme,
            self.endpoint_host,
            self.path_prefix,
            &self.bucket,
            style,
            self.signing_region,
            self.aws,
        ))
    }

    fn build(
        scheme: Scheme,
        endpoint_host: String,
        path_prefix: String,
        bucket: &str,
        style: AddressingStyle,
        signing_region: String,
        aws: bool,
    ) -> Self {
        let host = match style {
            AddressingStyle::VirtualHosted => format!("{bucket}.{endpoint_host}"),
            AddressingStyle::Path => endpoint_host.clone(),
        };
        Self {
            scheme,
            endpoint_host,
            host,
            path_prefix,
            bucket: bucket.to_owned(),
            style,
            signing_region,
            aws,
        }
    }

    /// The URL scheme.
    #[cfg(any(test, not(feature = "tls")))]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The `Host` header for requests to this bucket (`bucket.host` when virtual-hosted).
    #[cfg(test)]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The service endpoint's `host[:port]`, without the bucket.
    #[cfg(test)]
    pub fn endpoint_host(&self) -> &str {
        &self.endpoint_host
    }

    /// The path prefix from `regionendpoint` (`""` or `/prefix`, no trailing slash).
    #[cfg(test)]
    pub fn path_prefix(&self) -> &str {
        &self.path_prefix
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Virtual-hosted or path style.
    pub fn style(&self) -> AddressingStyle {
        self.style
    }

    /// The region to put in the SigV4 credential scope.
    pub fn signing_region(&self) -> &str {
        &self.signing_region
    }

    /// `true` for an AWS endpoint, `false` for a custom `regionendpoint` (Distribution refuses
    /// SigV2 on AWS).
    #[cfg(test)]
    pub fn is_aws(&self) -> bool {
        self.aws
    }

    /// The request target for `key` (not percent-encoded; the signer's URI encoder encodes the
    /// path once for both the canonical request and the URL). The key is used verbatim: a
    /// leading `/` is part of the key. An empty key addresses the bucket itself: `/bucket` in
    /// path style, `/` virtual-hosted.
    pub fn url_for(&self, key: &str) -> RequestTarget {
        let mut path = self.path_prefix.clone();
        if self.style == AddressingStyle::Path {
            path.push('/');
            path.push_str(&self.bucket);
            if !key.is_empty() {
                path.push('/');
                path.push_str(key);
            }
        } else {
            path.push('/');
            path.push_str(key);
        }
        RequestTarget {
            host: self.host.clone(),
            path,
            base_url: format!("{}://{}", self.scheme.as_str(), self.host),
        }
    }
}

/// The DNS suffix of `region`'s AWS partition.
pub(crate) fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("eu-isoe-") {
        "cloud.adc-e.uk"
    } else {
        "amazonaws.com"
    }
}

fn validate_bucket(bucket: &str) -> Result<(), Error> {
    if bucket.is_empty() {
        return Err(Error::invalid_config("`bucket` is required"));
    }
    if bucket
        .chars()
        .any(|c| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid_config(format!(
            "bucket name {bucket:?} contains '/', '?', '#', whitespace or control characters; \
             give only the bucket name (put key prefixes in `rootdirectory`)"
        )));
    }
    Ok(())
}

/// aws-sdk-go v1 `dnsCompatibleBucketName`: `^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`, not an IPv4
/// address, no `..`.
fn dns_compatible_bucket(bucket: &str) -> bool {
    let b = bucket.as_bytes();
    if b.len() < 3 || b.len() > 63 {
        return false;
    }
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mid_ok = |c: u8| edge_ok(c) || c == b'.' || c == b'-';
    edge_ok(b[0])
        && edge_ok(b[b.len() - 1])
        && b.iter().all(|&c| mid_ok(c))
        && !bucket.contains("..")
        && bucket.parse::<Ipv4Addr>().is_err()
}

/// aws-sdk-go v1 `hostCompatibleBucketName`: DNS-compatible, and no dots over HTTPS.
fn host_compatible_bucket(bucket: &str, scheme: Scheme) -> bool {
    !(scheme == Scheme::Https && bucket.contains('.')) && dns_compatible_bucket(bucket)
}

struct ParsedEndpoint {
    scheme: Scheme,
    authority: String,
    path_prefix: String,
    ip_or_localhost: bool,
}

/// Whether an endpoint's `host[:port]` names an IP address (`[v6]`, or dotted IPv4), not a
/// host name.
fn is_ip_literal(authority: &str) -> bool {
    authority.starts_with('[')
        || authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
            .parse::<Ipv4Addr>()
            .is_ok()
}

fn parse_endpoint(endpoint: &str, secure: bool) -> Result<ParsedEndpoint, Error> {
    let bad = |why: &str| {
        Error::invalid_config(format!(
            "`endpoint` {endpoint:?} {why}; expected [http[s]://]host[:port][/path]"
        ))
    };
    let url = endpoint_url(endpoint, secure).map_err(bad)?;
    let scheme = match url.scheme() {
        "https" => Scheme::Https,
        _ => Scheme::Http,
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("has user info"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a query or a fragment"));
    }
    let (host, ip) = match url.host() {
        Some(Host::Domain(d)) => (d.to_owned(), false),
        Some(Host::Ipv4(ip)) => (ip.to_string(), true),
        Some(Host::Ipv6(ip)) => (format!("[{ip}]"), true),
        None => return Err(bad("has no host")),
    };
    let ip_or_localhost = ip || host == "localhost" || host.ends_with(".localhost");
    // `url` leaves out the scheme's default port.
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    let path = percent_decode(url.path()).map_err(|_| bad("has an invalid path"))?;
    let path_prefix = path.trim_end_matches('/').to_owned();
    if path_prefix.contains("//") {
        return Err(bad("has an empty path segment"));
    }
    Ok(ParsedEndpoint {
        scheme,
        authority,
        path_prefix,
        ip_or_localhost,
    })
}

/// An endpoint as a URL ([`parse_http_url`]'s rules). A URL with an authority has a scheme;
/// anything else (`host:port`, which `url` reads as scheme `host`, or an IP address) is a host
/// to which `secure` gives the scheme (`https`, else `http`).
fn endpoint_url(endpoint: &str, secure: bool) -> Result<Url, &'static str> {
    match Url::parse(endpoint) {
        Ok(url) if !url.cannot_be_a_base() => parse_http_url(endpoint),
        _ => {
            let scheme = if secure { "https" } else { "http" };
            parse_http_url(&format!("{scheme}://{endpoint}"))
        }
    }
}

/// Parses an absolute `http`/`https` URL (any case) with [`Url`], more strictly than the WHATWG
/// rules it follows: whitespace, control characters and `\` are refused (rather than dropped or
/// read as `/`), and so are a missing `//`, extra slashes before the host (`http:///x`, which
/// [`Url`] reads as host `x`), an empty port (`host:`) and port 0. [`Url`] lower-cases the host,
/// drops the scheme's default port and rewrites `.`/`..` path segments.
pub(crate) fn parse_http_url(text: &str) -> Result<Url, &'static str> {
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err("contains whitespace, a control character or a backslash");
    }
    let url = Url::parse(text).map_err(|_| "is not an absolute URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("has an unsupported scheme (use http or https)");
    }
    let written = text
        .get(url.scheme().len()..)
        .and_then(|rest| rest.strip_prefix("://"))
        .ok_or("is not an absolute URL (scheme://host)")?;
    let authority = written.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() || host.starts_with(':') || url.host().is_none() {
        return Err("has no host");
    }
    if authority.ends_with(':') || url.port() == Some(0) {
        return Err("has an invalid port");
    }
    Ok(url)
}

#[cfg(test)]
mod tests;
