//! The client's IP address as Distribution's `requestutil.RemoteIP` finds it: the first
//! `X-Forwarded-For` entry, else `X-Real-Ip`, else the peer address, with any port removed.

use std::net::{IpAddr, SocketAddr};

use reqwest::header::HeaderMap;

/// Parses `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]` or `[::1]:80` (surrounding spaces trimmed).
pub fn parse_host(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')?
        .strip_suffix(']')?
        .parse::<IpAddr>()
        .ok()
}

/// The client IP from the header values and the peer address (`remote_addr`, as
/// `http.Request.RemoteAddr`: `host:port`).
///
/// A header is used only when its value is an address (so a garbled `X-Forwarded-For` falls
/// through to `X-Real-Ip`, then to the peer). `None` when nothing parses.
pub fn remote_ip(
    x_forwarded_for: Option<&str>,
    x_real_ip: Option<&str>,
    remote_addr: Option<&str>,
) -> Option<IpAddr> {
    x_forwarded_for
        .and_then(|v| parse_host(v.split(',').next().unwrap_or("")))
        .or_else(|| x_real_ip.and_then(parse_host))
        .or_else(|| remote_addr.and_then(parse_host))
}

/// `remote_ip` over request headers (the first value of each header) and the peer's socket
/// address.
pub fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    remote_ip(header("x-forwarded-for"), header("x-real-ip"), None).or_else(|| peer.map(|p| p.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn host_forms() {
        assert_eq!(parse_host("1.2.3.4"), Some(ip("1.2.3.4")));
        assert_eq!(parse_host(" 1.2.3.4:8080 "), Some(ip("1.2.3.4")));
        assert_eq!(parse_host("::1"), Some(ip("::1")));
        assert_eq!(parse_host("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_host("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        for bad in [
            "",
            "example.com",
            "1.2.3.4:",
            "[1.2.3.4",
            "2001:db8::1]:80",
            "unknown",
            "fe80::1%eth0",
        ] {
            assert_eq!(parse_host(bad), None, "{bad}");
        }
    }

    #[test]
    fn precedence() {
        let peer = Some("10.0.0.9:5000");
        assert_eq!(
            remote_ip(Some(" 3.5.140.2 , 10.0.0.1"), Some("9.9.9.9"), peer),
            Some(ip("3.5.140.2"))
        );
        assert_eq!(
            remote_ip(Some("garbage, 1.1.1.1"), Some("9.9.9.9"), peer),
            Some(ip("9.9.9.9"))
        );
        assert_eq!(
            remote_ip(None, Some(" 9.9.9.9 "), peer),
            Some(ip("9.9.9.9"))
        );
        assert_eq!(
            remote_ip(Some(""), Some("nope"), peer),
            Some(ip("10.0.0.9"))
        );
        assert_eq!(remote_ip(None, None, Some("[::1]:80")), Some(ip("::1")));
        assert_eq!(remote_ip(None, None, Some("@")), None);
        assert_eq!(remote_ip(None, None, None), None);
    }

    #[test]
    fn from_header_map() {
        let peer: SocketAddr = "[2001:db8::7]:443".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(client_ip(&h, Some(peer)), Some(ip("2001:db8::7")));
        h.insert("x-real-ip", HeaderValue::from_static("192.0.2.1"));
        assert_eq!(client_ip(&h, Some(peer)), Some(ip("192.0.2.1")));
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 192.0.2.200"),
        );
        h.append("x-forwarded-for", HeaderValue::from_static("203.0.113.1"));
        assert_eq!(client_ip(&h, Some(peer)), Some(ip("198.51.100.1")));
        assert_eq!(client_ip(&HeaderMap::new(), None), None);
    }
}
