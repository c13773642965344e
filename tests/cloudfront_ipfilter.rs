//! The CloudFront middleware's AWS IP filter against an `ip-ranges.json` served from
//! 127.0.0.1: loading, IPv4/IPv6/region matching, failures that keep the old table, the
//! background refresh, timeouts, and client-address precedence. Nothing leaves loopback.
#![cfg(feature = "cloudfront")]

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue};
use s3driver::middleware::cloudfront::{
    client_ip, CloudFrontRedirector, Error, IpFilter, IpRanges, Options, Redirect, UpdateStats,
    Warning,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const DOC_V1: &str = r#"{
  "syncToken": "1700000000",
  "createDate": "2024-01-01-00-00-00",
  "prefixes": [
    {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON", "network_border_group": "ap-northeast-2"},
    {"ip_prefix": "52.95.245.0/24", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
    {"ip_prefix": "52.95.245.0/24", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
    {"ip_prefix": "13.248.118.0/24", "region": "EU-WEST-1", "service": "AMAZON", "network_border_group": "eu-west-1"},
    {"ip_prefix": "35.180.0.0/16", "region": "GLOBAL", "service": "CLOUDFRONT", "network_border_group": "GLOBAL"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"},
    {"ipv6_prefix": "2a05:d07a:a000::/40", "region": "eu-south-1", "service": "S3", "network_border_group": "eu-south-1"}
  ]
}"#;

/// The next version: ap-northeast-2 gone, a new us-west-2 block.
const DOC_V2: &str = r#"{
  "prefixes": [
    {"ip_prefix": "52.95.245.0/24", "region": "us-east-1", "service": "S3"},
    {"ip_prefix": "18.236.0.0/15", "region": "us-west-2", "service": "EC2"}
  ],
  "ipv6_prefixes": []
}"#;

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server: one response per connection, body and status swappable at run time.

#[derive(Clone)]
enum Reply {
    Ok(String),
    Status(u16),
    Hang,
}

#[derive(Clone)]
struct Server {
    addr: SocketAddr,
    reply: Arc<Mutex<Reply>>,
    hits: Arc<AtomicUsize>,
}

impl Server {
    async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            addr: listener.local_addr().unwrap(),
            reply: Arc::new(Mutex::new(reply)),
            hits: Arc::default(),
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    assert!(head.starts_with(b"GET /ip-ranges.json HTTP/1.1\r\n"));
                    s.hits.fetch_add(1, Ordering::SeqCst);
                    let reply = s.reply.lock().unwrap().clone();
                    let (status, body) = match reply {
                        Reply::Ok(body) => (200, body),
                        Reply::Status(code) => (code, "{}".to_owned()),
                        Reply::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                    };
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(resp.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        server
    }

    fn url(&self) -> String {
        format!("http://{}/ip-ranges.json", self.addr)
    }

    fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap()
}

fn ranges(server: &Server, filter: IpFilter) -> Arc<IpRanges> {
    Arc::new(IpRanges::with_client(
        &server.url(),
        filter,
        client(Duration::from_secs(5)),
    ))
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn all_of_aws_v4_and_v6() {
    let server = Server::start(Reply::Ok(DOC_V1.into())).await;
    let r = ranges(&server, IpFilter::Aws);
    let stats = r.try_update().await.unwrap();
    assert_eq!(
        stats,
        UpdateStats {
            ipv4_blocks: 5,
            ipv6_blocks: 2
        }
    );
    assert_eq!(server.hits(), 1);
    assert!(r.is_initialized() && r.last_error().is_none() && r.last_success().is_some());
    for (addr, want) in [
        ("3.5.140.1", true),
        ("3.5.143.255", true),
        ("3.5.144.0", false),
        ("52.95.245.77", true),
        ("13.248.118.1", true),
        ("35.180.255.255", true),
        ("8.8.8.8", false),
        ("::ffff:52.95.245.77", true),
        ("2600:1f18::1", true),
        ("2600:1f18:7fff:ffff:ffff:ffff:ffff:ffff", true),
        ("2600:1f18:8000::", false),
        ("2a05:d07a:a0ff::1", true),
        ("2001:db8::1", false),
    ] {
        assert_eq!(r.eligible_for_s3(ip(addr)), want, "{addr}");
    }
    assert!(!r.eligible_for_s3(None));
}

#[tokio::test]
async fn by_region() {
    let server = Server::start(Reply::Ok(DOC_V1.into())).await;
    let r = ranges(
        &server,
        IpFilter::AwsRegions(vec!["us-east-1".into(), "eu-west-1".into()]),
    );
    let stats = r.try_update().await.unwrap();
    assert_eq!(
        stats,
        UpdateStats {
            ipv4_blocks: 3,
            ipv6_blocks: 1
        }
    );
    assert!(r.eligible_for_s3(ip("52.95.245.1")));
    assert!(
        r.eligible_for_s3(ip("13.248.118.9")),
        "document region case is ignored"
    );
    assert!(r.eligible_for_s3(ip("2600:1f18::1")));
    assert!(
        !r.eligible_for_s3(ip("3.5.140.1")),
        "ap-northeast-2 not selected"
    );
    assert!(!r.eligible_for_s3(ip("35.180.0.1")), "GLOBAL not selected");
    assert!(
        !r.eligible_for_s3(ip("2a05:d07a:a000::1")),
        "eu-south-1 not selected"
    );

    // A region with no blocks: loaded (initialised) but nobody is eligible.
    let none = ranges(&server, IpFilter::AwsRegions(vec!["sa-east-1".into()]));
    assert_eq!(
        none.try_update().await.unwrap(),
        UpdateStats {
            ipv4_blocks: 0,
            ipv6_blocks: 0
        }
    );
    assert!(none.is_initialized());
    assert!(!none.eligible_for_s3(ip("52.95.245.1")));
}

#[tokio::test]
async fn not_initialized_until_a_fetch_succeeds() {
    let server = Server::start(Reply::Status(500)).await;
    let r = ranges(&server, IpFilter::Aws);
    assert!(!r.is_initialized());
    assert!(!r.eligible_for_s3(ip("52.95.245.1")));
    let e = r.try_update().await.unwrap_err();
    assert!(matches!(e, Error::IpRanges { .. }), "{e}");
    assert!(e.to_string().contains("HTTP 500"), "{e}");
    assert!(!r.is_initialized());
    assert!(!r.eligible_for_s3(ip("52.95.245.1")));
    assert!(r.last_error().unwrap().contains("HTTP 500"));
    server.set(Reply::Ok(DOC_V1.into()));
    r.try_update().await.unwrap();
    assert!(r.eligible_for_s3(ip("52.95.245.1")));
    assert!(r.last_error().is_none(), "a success clears the error");
}

#[tokio::test]
async fn failures_keep_the_old_table() {
    let server = Server::start(Reply::Ok(DOC_V1.into())).await;
    let r = ranges(&server, IpFilter::Aws);
    r.try_update().await.unwrap();
    let loaded_at = r.last_success();
    for (reply, needle) in [
        (Reply::Ok("{\"prefixes\": [".into()), "invalid JSON"),
        (
            Reply::Ok(r#"{"prefixes":[{"ip_prefix":"3.5.140.0/99","region":"x"}]}"#.into()),
            "not a CIDR",
        ),
        (Reply::Ok("[]".into()), "not a JSON object"),
        (Reply::Status(404), "HTTP 404"),
    ] {
        server.set(reply);
        let e = r.try_update().await.unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
        assert!(
            r.eligible_for_s3(ip("3.5.140.1")),
            "old table kept after: {needle}"
        );
        assert_eq!(r.last_success(), loaded_at);
        assert!(r.last_error().unwrap().contains(needle));
    }
}

#[tokio::test]
async fn unreachable_and_slow_servers_fail_within_the_timeout() {
    // Bind and drop a listener: nothing listens on that port any more.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let r = IpRanges::with_client(
        &format!("http://{closed}/ip-ranges.json"),
        IpFilter::Aws,
        client(Duration::from_secs(5)),
    );
    let e = r.try_update().await.unwrap_err();
    assert!(e.to_string().contains("request failed"), "{e}");
    assert!(std::error::Error::source(&e).is_some());

    let server = Server::start(Reply::Hang).await;
    let r = IpRanges::with_client(
        &server.url(),
        IpFilter::Aws,
        client(Duration::from_millis(300)),
    );
    let started = std::time::Instant::now();
    let e = r.try_update().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(e, Error::IpRanges { .. }), "{e}");
    assert!(!r.is_initialized());

    // The default constructor (its own client and timeout) works against loopback too.
    let server = Server::start(Reply::Ok(DOC_V1.into())).await;
    let r = IpRanges::new(&server.url(), IpFilter::Aws).unwrap();
    r.try_update().await.unwrap();
    assert!(r.eligible_for_s3(ip("52.95.245.1")));
}

#[tokio::test]
async fn refresh_picks_up_a_changed_file() {
    let server = Server::start(Reply::Ok(DOC_V1.into())).await;
    let r = ranges(&server, IpFilter::Aws);
    r.try_update().await.unwrap();
    assert!(r.eligible_for_s3(ip("3.5.140.1")));
    assert!(!r.eligible_for_s3(ip("18.237.1.1")));

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let refresher = r.spawn_refresher(Duration::from_millis(100), move |res| {
        let _ = tx.send(res.as_ref().map(|s| *s).map_err(ToString::to_string));
    });
    // First tick comes one period after the start, not immediately.
    assert_eq!(server.hits(), 1);
    server.set(Reply::Ok("garbage".into()));
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(first.unwrap_err().contains("invalid JSON"));
    assert!(
        r.eligible_for_s3(ip("3.5.140.1")),
        "bad refresh keeps the table"
    );

    server.set(Reply::Ok(DOC_V2.into()));
    let stats = loop {
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if let Ok(stats) = got {
            break stats;
        }
    };
    assert_eq!(
        stats,
        UpdateStats {
            ipv4_blocks: 2,
            ipv6_blocks: 0
        }
    );
    assert!(!r.eligible_for_s3(ip("3.5.140.1")), "removed block");
    assert!(r.eligible_for_s3(ip("18.237.1.1")), "added block");
    assert!(!r.eligible_for_s3(ip("2600:1f18::1")));

    // Stopping: no more fetches.
    refresher.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let hits = server.hits();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(server.hits(), hits, "stopped refresher still fetching");
}

#[tokio::test]
async fn refresher_ends_when_the_ranges_are_dropped() {
    let server = Server::start(Reply::Ok(DOC_V1.into())).await;
    let r = ranges(&server, IpFilter::Aws);
    let refresher = r.spawn_refresher(Duration::from_millis(50), |_| {});
    let weak = Arc::downgrade(&r);
    drop(r);
    assert!(
        weak.upgrade().is_none(),
        "the task holds no strong reference"
    );
    tokio::time::timeout(Duration::from_secs(5), async {
        while !refresher.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("task did not end after its IpRanges was dropped");
    assert_eq!(server.hits(), 0);
}

#[test]
fn client_address_precedence() {
    let peer: SocketAddr = "[2600:1f18::5]:40000".parse().unwrap();
    let mut h = HeaderMap::new();
    assert_eq!(client_ip(&h, Some(peer)), ip("2600:1f18::5"));
    assert_eq!(client_ip(&h, None), None);
    h.insert("X-Real-Ip", HeaderValue::from_static(" 52.95.245.3 "));
    assert_eq!(client_ip(&h, Some(peer)), ip("52.95.245.3"));
    h.insert(
        "X-Forwarded-For",
        HeaderValue::from_static("8.8.8.8, 52.95.245.3"),
    );
    assert_eq!(
        client_ip(&h, Some(peer)),
        ip("8.8.8.8"),
        "first X-Forwarded-For entry wins"
    );
    h.insert(
        "X-Forwarded-For",
        HeaderValue::from_static("[2001:db8::1]:443"),
    );
    assert_eq!(client_ip(&h, Some(peer)), ip("2001:db8::1"));
    h.insert("X-Forwarded-For", HeaderValue::from_static("unknown"));
    assert_eq!(
        client_ip(&h, Some(peer)),
        ip("52.95.245.3"),
        "unusable XFF falls through"
    );
    h.remove("X-Real-Ip");
    assert_eq!(client_ip(&h, Some(peer)), ip("2600:1f18::5"));
}

/// The redirector end to end: options -> key file -> initial fetch -> refresh task, and the
/// X-Forwarded-For address deciding between S3 and CloudFront.
#[tokio::test]
async fn redirector_from_options() {
    let server = Server::start(Reply::Ok(DOC_V1.into())).await;
    let key = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("signing-vectors/cloudfront/test-rsa-key-pkcs1.pem");
    let url = server.url();
    let (options, warnings) = Options::from_params([
        ("baseurl", "d111111abcdef8.cloudfront.net"),
        ("privatekey", key.to_str().unwrap()),
        ("keypairid", "K1TESTKEY"),
        ("ipfilteredby", "awsregion"),
        ("awsregion", "us-east-1"),
        ("updatefrenquency", "100ms"),
        ("iprangesurl", url.as_str()),
    ])
    .unwrap();
    assert!(matches!(
        warnings.as_slice(),
        [Warning::DeprecatedOption { .. }]
    ));
    let (redirector, warnings) = CloudFrontRedirector::from_options(&options).await.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(server.hits() >= 1);

    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_289_200);
    let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        "x-forwarded-for",
        HeaderValue::from_static("52.95.245.9, 10.0.0.1"),
    );
    let key = "docker/registry/v2/blobs/sha256/0a/0abc/data";
    assert_eq!(
        redirector
            .redirect(now, key, client_ip(&h, Some(peer)))
            .unwrap(),
        Redirect::UseS3
    );
    let Redirect::CloudFront(signed) = redirector
        .redirect(now, key, client_ip(&HeaderMap::new(), Some(peer)))
        .unwrap()
    else {
        panic!("a client outside AWS goes to CloudFront")
    };
    assert!(
        signed.starts_with(&format!(
            "https://d111111abcdef8.cloudfront.net/{key}?Expires=1767290400&Signature="
        )),
        "{signed}"
    );
    assert!(signed.ends_with("&Key-Pair-Id=K1TESTKEY"));

    // The refresh task started by from_options follows the served file.
    server.set(Reply::Ok(DOC_V2.replace("us-east-1", "eu-west-3")));
    tokio::time::timeout(Duration::from_secs(5), async {
        while redirector
            .redirect(now, key, client_ip(&h, Some(peer)))
            .unwrap()
            == Redirect::UseS3
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("refresh did not drop the us-east-1 block");

    // Dropping the redirector stops its task.
    let hits_before = server.hits();
    drop(redirector);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        server.hits() <= hits_before + 1,
        "refresh task outlived the redirector"
    );
}
