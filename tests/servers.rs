//! Proves the test harness: the S3 test servers really verify signatures (checked with independent reference
//! signers, not s3driver's own), Swift tests are skipped or required as configured, and the fault proxy injects
//! and forwards correctly.

mod common;

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::refsign::{self, RefCredentials};
use common::{swift_or_skip, Fault, FaultPlan, FaultProxy, FaultRule, S3Target, S3sServer};

const WRONG_SECRET: &str = "wrong/Secret+Key/0000000000000000000000000";

fn client() -> reqwest::Client {
    common::http_client()
}

/// Prints a line past libtest's output capture, so the numbers show in CI logs.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

async fn status_and_body(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Runs the signature checks against one server and returns how many passed (all must, or it panics).
async fn verify_signatures(t: &S3Target, bucket: &str) -> usize {
    let c = client();
    let creds = t.credentials();
    let wrong = creds.with_secret(WRONG_SECRET);
    let url = format!("{}/{bucket}/obj.txt", t.endpoint);
    let resource = format!("/{bucket}/obj.txt");
    let name = t.name;
    let checks = std::cell::Cell::new(0);
    let expect = |what: &str, got: (u16, String), want: u16| {
        assert_eq!(
            got.0, want,
            "{name}: {what}: expected {want}, got {}: {}",
            got.0, got.1
        );
        checks.set(checks.get() + 1);
    };

    // Unsigned requests are refused: s3s answers 403 AccessDenied; Swift hands requests without S3 credentials to
    // its native API, which answers 400 for a path outside /v1/. Either way nothing is stored (checked below).
    for method in ["PUT", "GET"] {
        let r = c
            .request(method.parse().expect("method"), &url)
            .body("anonymous")
            .send()
            .await;
        let (status, body) = status_and_body(r.expect("unsigned request")).await;
        assert!(
            status == 403 || (name == "swift" && status == 400),
            "{name}: unsigned {method}: expected 403 (or 400 from Swift), got {status}: {body}"
        );
        report(&format!("{name}: unsigned {method} answered {status}"));
        checks.set(checks.get() + 1);
    }

    // SigV4 header auth: right secret accepted, wrong secret refused.
    let r = refsign::send_v4(
        &c,
        "PUT",
        &url,
        &[("content-type", "text/plain")],
        b"hello v4".to_vec(),
        &creds,
    )
    .await;
    expect("SigV4 PUT", status_and_body(r).await, 200);
    let r = refsign::send_v4(&c, "GET", &url, &[], Vec::new(), &creds).await;
    let got = status_and_body(r).await;
    assert_eq!(got.1, "hello v4", "{name}: SigV4 GET body");
    expect("SigV4 GET", got, 200);
    let r = refsign::send_v4(&c, "PUT", &url, &[], b"evil".to_vec(), &wrong).await;
    expect("SigV4 PUT, wrong secret", status_and_body(r).await, 403);
    let r = refsign::send_v4(&c, "GET", &url, &[], Vec::new(), &wrong).await;
    expect("SigV4 GET, wrong secret", status_and_body(r).await, 403);

    // SigV4 with x-amz-content-sha256 of another body: refused, object unchanged.
    let signed = refsign::sign_v4("PUT", &url, &[], b"signed body", &creds, SystemTime::now());
    let mut req = c.put(&url).body("tampered body");
    for (n, v) in &signed {
        req = req.header(n.as_str(), v.as_str());
    }
    let (status, body) = status_and_body(req.send().await.expect("tampered PUT")).await;
    assert!(
        !(200..300).contains(&status),
        "{name}: tampered body accepted: {status} {body}"
    );
    report(&format!("{name}: payload-hash mismatch answered {status}"));
    checks.set(checks.get() + 1);
    let r = refsign::send_v4(&c, "GET", &url, &[], Vec::new(), &creds).await;
    assert_eq!(
        status_and_body(r).await.1,
        "hello v4",
        "{name}: tampered PUT changed the object"
    );

    // SigV4 presigned URLs.
    let now = SystemTime::now();
    let presigned = refsign::presign_v4("GET", &url, &creds, Duration::from_secs(300), now);
    let r = c.get(&presigned).send().await.expect("presigned GET");
    expect("SigV4 presigned GET", status_and_body(r).await, 200);
    let presigned = refsign::presign_v4("GET", &url, &wrong, Duration::from_secs(300), now);
    let r = c.get(&presigned).send().await.expect("presigned GET");
    expect(
        "SigV4 presigned GET, wrong secret",
        status_and_body(r).await,
        403,
    );
    let two_hours_ago = now - Duration::from_secs(7200);
    let presigned =
        refsign::presign_v4("GET", &url, &creds, Duration::from_secs(60), two_hours_ago);
    let r = c.get(&presigned).send().await.expect("presigned GET");
    expect(
        "SigV4 presigned GET, expired",
        status_and_body(r).await,
        403,
    );

    // SigV2 header auth and presigned URLs.
    let r = refsign::send_v2(
        &c,
        "PUT",
        &url,
        &resource,
        &[],
        b"hello v2".to_vec(),
        &creds,
    )
    .await;
    expect("SigV2 PUT", status_and_body(r).await, 200);
    let r = refsign::send_v2(&c, "PUT", &url, &resource, &[], b"evil".to_vec(), &wrong).await;
    expect("SigV2 PUT, wrong secret", status_and_body(r).await, 403);
    let r = refsign::send_v2(&c, "GET", &url, &resource, &[], Vec::new(), &creds).await;
    let got = status_and_body(r).await;
    assert_eq!(got.1, "hello v2", "{name}: SigV2 GET body");
    expect("SigV2 GET", got, 200);
    let expires = refsign::unix_time_in(300);
    let r = c
        .get(refsign::presign_v2("GET", &url, &resource, &creds, expires))
        .send()
        .await
        .expect("GET");
    expect("SigV2 presigned GET", status_and_body(r).await, 200);
    let r = c
        .get(refsign::presign_v2("GET", &url, &resource, &wrong, expires))
        .send()
        .await
        .expect("GET");
    expect(
        "SigV2 presigned GET, wrong secret",
        status_and_body(r).await,
        403,
    );

    // Virtual-hosted style: BUCKET.localhost:PORT, resolved to 127.0.0.1 by the client.
    let port: u16 = t
        .virtual_host_domain
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let vhost = format!("{bucket}.localhost");
    let vc = common::http_client_builder()
        .resolve(&vhost, ([127, 0, 0, 1], port).into())
        .build()
        .expect("reqwest client");
    let vurl = format!("http://{vhost}:{port}/obj.txt");
    let r = refsign::send_v4(&vc, "GET", &vurl, &[], Vec::new(), &creds).await;
    let got = status_and_body(r).await;
    assert_eq!(got.1, "hello v2", "{name}: virtual-hosted GET body");
    expect("SigV4 virtual-hosted GET", got, 200);
    let r = refsign::send_v4(&vc, "GET", &vurl, &[], Vec::new(), &wrong).await;
    expect(
        "SigV4 virtual-hosted GET, wrong secret",
        status_and_body(r).await,
        403,
    );

    report(&format!(
        "{name}: {} signature checks passed at {}",
        checks.get(),
        t.endpoint
    ));
    checks.get()
}

#[test]
fn reference_signers_match_published_vectors() {
    // signing-vectors/s3-v2-examples.json, case "jsmith-object-get".
    let sts = refsign::string_to_sign_v2(
        "GET",
        "/johnsmith/photos/puppy.jpg",
        &[
            ("Host", "johnsmith.s3.amazonaws.com"),
            ("Date", "Tue, 27 Mar 2007 19:36:42 +0000"),
        ],
    );
    assert_eq!(
        sts,
        "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg"
    );
    assert_eq!(
        refsign::signature_v2("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &sts),
        "bWq2s1WEIj+Ydj0vQ697zp+IXMU="
    );

    // signing-vectors/s3-v4-examples.json, case "get-object".
    let creds = RefCredentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1",
    );
    let time = UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24T00:00:00Z
    let headers = refsign::sign_v4(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        &[("range", "bytes=0-9")],
        b"",
        &creds,
        time,
    );
    let auth = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str())
        .expect("authorization header");
    assert!(
        auth.ends_with(
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        ),
        "{auth}"
    );
    assert!(
        auth.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"),
        "{auth}"
    );

    for (input, want) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(refsign::base64(input.as_bytes()), want);
    }
}

#[tokio::test]
async fn s3s_fs_verifies_signatures() {
    let server = S3sServer::start().await;
    server.create_bucket("sigcheck");
    let checks = verify_signatures(&server.target(), "sigcheck").await;
    assert_eq!(checks, 17);
    // Unsigned and wrong-secret PUTs stored nothing; the last good PUT is on disk.
    let stored =
        std::fs::read_to_string(server.object_path("sigcheck", "obj.txt")).expect("object file");
    assert_eq!(stored, "hello v2");
}

// Multi-thread flavour on purpose: the harness works with both runtime flavours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_bucket_created_by_signed_request_is_listed() {
    let server = S3sServer::start().await;
    let target = server.target();
    target.create_bucket("made-by-put").await;
    assert!(server.data_dir().join("made-by-put").is_dir());
    let c = client();
    let r = refsign::send_v4(
        &c,
        "GET",
        &format!("{}/", target.endpoint),
        &[],
        Vec::new(),
        &target.credentials(),
    )
    .await;
    let (status, body) = status_and_body(r).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Name>made-by-put</Name>"), "{body}");
}

#[tokio::test]
async fn s3s_fs_stops_when_dropped() {
    let server = S3sServer::start().await;
    let addr = server.addr();
    let dir = server.data_dir().to_path_buf();
    drop(server);
    tokio::task::yield_now().await;
    assert!(!dir.exists(), "data dir left behind");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
}

#[tokio::test]
async fn swift_verifies_signatures() {
    let Some(swift) = swift_or_skip() else { return };
    let bucket = common::unique_bucket_name("sig");
    swift.create_bucket(&bucket).await;
    let checks = verify_signatures(&swift.target(), &bucket).await;
    assert_eq!(checks, 17);
}

#[tokio::test]
async fn fault_proxy_injects_errors_in_order_then_forwards() {
    let server = S3sServer::start().await;
    server.create_bucket("bkt");
    let plan = FaultPlan::new()
        .then(Fault::slow_down(), 2)
        .then(Fault::internal_error(), 1);
    let proxy = FaultProxy::start(server.addr(), plan).await;
    let t = server.target().via(&proxy.endpoint());
    let c = client();
    let url = format!("{}/bkt/k", t.endpoint);
    let body = b"payload through the proxy".to_vec();

    // Two 503 SlowDown and one 500 InternalError, each after the PUT body was drained, on one kept-alive connection.
    for (want, code) in [(503, "SlowDown"), (503, "SlowDown"), (500, "InternalError")] {
        let r = refsign::send_v4(&c, "PUT", &url, &[], body.clone(), &t.credentials()).await;
        let request_id = r.headers().get("x-amz-request-id").cloned();
        let (status, text) = status_and_body(r).await;
        assert_eq!(status, want, "{text}");
        assert!(text.contains(&format!("<Code>{code}</Code>")), "{text}");
        assert!(request_id.is_some());
    }
    assert!(
        !server.object_path("bkt", "k").exists(),
        "a faulted PUT reached the server"
    );
    let r = refsign::send_v4(&c, "PUT", &url, &[], body.clone(), &t.credentials()).await;
    assert_eq!(status_and_body(r).await.0, 200);
    let r = refsign::send_v4(&c, "GET", &url, &[], Vec::new(), &t.credentials()).await;
    let (status, text) = status_and_body(r).await;
    assert_eq!((status, text.as_bytes()), (200, body.as_slice()));

    assert_eq!(proxy.requests_seen(), 5);
    assert_eq!(proxy.faults_injected(), 3);
    assert_eq!(proxy.requests_forwarded(), 2);
    assert_eq!(proxy.pending_faults(), 0);
    assert_eq!(
        proxy.connections_accepted(),
        1,
        "keep-alive broken: {:?}",
        proxy.log()
    );
    let actions: Vec<String> = proxy.log().into_iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            "503 SlowDown",
            "503 SlowDown",
            "500 InternalError",
            "forwarded",
            "forwarded"
        ]
    );
    report(&format!(
        "fault proxy: {} requests, {} faults, {} forwarded",
        5, 3, 2
    ));
}

#[tokio::test]
async fn fault_proxy_reset_close_truncate_and_delay() {
    let server = S3sServer::start().await;
    server.create_bucket("bkt");
    let proxy = FaultProxy::start(server.addr(), FaultPlan::new()).await;
    let t = server.target().via(&proxy.endpoint());
    let creds = t.credentials();
    let c = client();
    let url = format!("{}/bkt/big", t.endpoint);
    let body = vec![b'x'; 100_000];
    let r = refsign::send_v4(&c, "PUT", &url, &[], body.clone(), &creds).await;
    assert_eq!(r.status().as_u16(), 200);

    let send_get = |client: reqwest::Client| {
        let url = url.clone();
        let creds = creds.clone();
        async move {
            let signed = refsign::sign_v4("GET", &url, &[], b"", &creds, SystemTime::now());
            let mut req = client.get(&url);
            for (n, v) in &signed {
                req = req.header(n.as_str(), v.as_str());
            }
            match req.send().await {
                Ok(resp) => resp.bytes().await.map(|b| b.len()),
                Err(e) => Err(e),
            }
        }
    };

    proxy.add_rule(FaultRule::new(Fault::Reset));
    assert!(
        send_get(client()).await.is_err(),
        "reset connection produced a response"
    );
    proxy.add_rule(FaultRule::new(Fault::Close));
    assert!(
        send_get(client()).await.is_err(),
        "closed connection produced a response"
    );
    proxy.add_rule(FaultRule::new(Fault::TruncateResponse));
    let err = send_get(client())
        .await
        .expect_err("truncated body read in full");
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );

    proxy.add_rule(FaultRule::new(Fault::Delay(Duration::from_millis(300))));
    let start = Instant::now();
    assert_eq!(send_get(client()).await.expect("delayed GET"), 100_000);
    assert!(start.elapsed() >= Duration::from_millis(300));

    proxy.add_rule(FaultRule::new(Fault::Delay(Duration::from_secs(3))));
    let impatient = common::http_client_builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let err = send_get(impatient)
        .await
        .expect_err("delay beyond the client timeout");
    assert!(err.is_timeout(), "{err:?}");

    assert_eq!(send_get(client()).await.expect("plain GET"), 100_000);
    assert_eq!(proxy.faults_injected(), 5);
    assert_eq!(proxy.pending_faults(), 0);
    let actions: Vec<String> = proxy.log().into_iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            "forwarded",
            "reset",
            "closed",
            "forwarded, response truncated",
            "delayed 300ms, forwarded",
            "delayed 3000ms, forwarded",
            "forwarded"
        ]
    );
}

#[tokio::test]
async fn fault_proxy_rules_filter_by_method_and_path() {
    let server = S3sServer::start().await;
    server.create_bucket("bkt");
    let plan = FaultPlan::new().rule(
        FaultRule::new(Fault::service_unavailable())
            .times(2)
            .method("put")
            .path_contains("/bkt/only-this"),
    );
    let proxy = FaultProxy::start(server.addr(), plan).await;
    let t = server.target().via(&proxy.endpoint());
    let c = client();
    let creds = t.credentials();
    let put = |key: &'static str| {
        let c = c.clone();
        let creds = creds.clone();
        let url = format!("{}/bkt/{key}", t.endpoint);
        async move {
            let r = refsign::send_v4(&c, "PUT", &url, &[], b"v".to_vec(), &creds).await;
            let (status, body) = status_and_body(r).await;
            assert!(status == 200 || status == 503, "{status}: {body}");
            status
        }
    };
    assert_eq!(put("other").await, 200);
    assert_eq!(put("only-this").await, 503);
    let url = format!("{}/bkt/only-this", t.endpoint);
    let r = refsign::send_v4(&c, "GET", &url, &[], Vec::new(), &creds).await;
    assert_eq!(r.status().as_u16(), 404, "GET must pass through");
    let r = refsign::send_v4(&c, "HEAD", &url, &[], Vec::new(), &creds).await;
    assert_eq!(r.status().as_u16(), 404, "HEAD must pass through");
    assert_eq!(put("only-this").await, 503);
    assert_eq!(put("only-this").await, 200);
    assert_eq!(proxy.requests_seen(), 6);
    assert_eq!(proxy.faults_injected(), 2);
}

#[tokio::test]
async fn fault_proxy_drains_chunked_request_bodies() {
    let server = S3sServer::start().await;
    server.create_bucket("bkt");
    let proxy =
        FaultProxy::start(server.addr(), FaultPlan::new().then(Fault::slow_down(), 1)).await;
    let t = server.target().via(&proxy.endpoint());
    let c = client();
    let url = format!("{}/bkt/k", t.endpoint);

    // A chunked request body (no Content-Length) is read to its end before the injected answer...
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..50)
        .map(|i| Ok(vec![b'a' + (i % 26) as u8; 1000]))
        .collect();
    let stream = futures_util::stream::iter(chunks);
    let r = c
        .put(&url)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("chunked PUT");
    assert_eq!(r.status().as_u16(), 503);
    let _ = r.bytes().await;
    // ...so the same connection carries the next request cleanly.
    let r = refsign::send_v4(
        &c,
        "PUT",
        &url,
        &[],
        b"after chunked".to_vec(),
        &t.credentials(),
    )
    .await;
    assert_eq!(status_and_body(r).await.0, 200);
    assert_eq!(proxy.connections_accepted(), 1);
    assert_eq!(proxy.requests_seen(), 2);
}

#[tokio::test]
async fn fault_proxy_in_front_of_swift() {
    let Some(swift) = swift_or_skip() else { return };
    let bucket = common::unique_bucket_name("proxy");
    swift.create_bucket(&bucket).await;
    let upstream = swift
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("S3DRIVER_SWIFT_ENDPOINT must be http://IP:PORT");
    let proxy = FaultProxy::start(upstream, FaultPlan::new().then(Fault::slow_down(), 1)).await;
    let t = swift.target().via(&proxy.endpoint());
    let c = client();
    let url = format!("{}/{bucket}/k", t.endpoint);
    let r = refsign::send_v4(
        &c,
        "PUT",
        &url,
        &[],
        b"swift via proxy".to_vec(),
        &t.credentials(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 503);
    let r = refsign::send_v4(
        &c,
        "PUT",
        &url,
        &[],
        b"swift via proxy".to_vec(),
        &t.credentials(),
    )
    .await;
    assert_eq!(status_and_body(r).await.0, 200);
    let r = refsign::send_v4(&c, "GET", &url, &[], Vec::new(), &t.credentials()).await;
    assert_eq!(
        status_and_body(r).await,
        (200, "swift via proxy".to_owned())
    );
    let r = refsign::send_v4(
        &c,
        "GET",
        &url,
        &[],
        Vec::new(),
        &t.credentials().with_secret(WRONG_SECRET),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(proxy.requests_forwarded(), 3);
}

#[test]
fn swift_is_required_when_ci_says_so() {
    // CI exports both variables; then a configured endpoint must be found. Locally without Swift, nothing to check
    // beyond from_env agreeing with the environment.
    let configured = std::env::var("S3DRIVER_SWIFT_ENDPOINT").is_ok_and(|v| !v.trim().is_empty());
    assert_eq!(common::SwiftServer::from_env().is_some(), configured);
    if common::external::swift_required() {
        assert!(
            configured,
            "S3DRIVER_REQUIRE_SWIFT is set but S3DRIVER_SWIFT_ENDPOINT is not"
        );
    }
}

/// Reads one response (status line, headers, Content-Length body) and returns its status line.
async fn read_raw_response(stream: &mut tokio::io::BufReader<tokio::net::TcpStream>) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut status = String::new();
    stream.read_line(&mut status).await.expect("status line");
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.expect("header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().expect("content-length");
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.expect("response body");
    status.trim_end().to_owned()
}

/// Sends a raw signed PUT with `Expect: 100-continue` and returns the status lines of every response read.
async fn raw_expect_continue_put(
    proxy: &FaultProxy,
    creds: &RefCredentials,
    key: &str,
) -> Vec<String> {
    use tokio::io::{AsyncWriteExt, BufReader};
    let url = format!("{}/bkt/{key}", proxy.endpoint());
    let body = b"sent after 100-continue";
    let signed = refsign::sign_v4("PUT", &url, &[], body, creds, SystemTime::now());
    let mut head = format!(
        "PUT /bkt/{key} HTTP/1.1\r\nHost: {}\r\nExpect: 100-continue\r\nContent-Length: {}\r\n",
        proxy.addr(),
        body.len()
    );
    for (n, v) in &signed {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let stream = tokio::net::TcpStream::connect(proxy.addr())
        .await
        .expect("connect");
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(head.as_bytes())
        .await
        .expect("write head");
    let mut statuses = Vec::new();
    let first = tokio::time::timeout(Duration::from_secs(10), read_raw_response(&mut stream))
        .await
        .expect("no answer to the request head");
    let interim = first.contains(" 100 ");
    statuses.push(first);
    if interim {
        stream.get_mut().write_all(body).await.expect("write body");
        let last = tokio::time::timeout(Duration::from_secs(10), read_raw_response(&mut stream))
            .await
            .expect("no final response");
        statuses.push(last);
    }
    statuses
}

#[tokio::test]
async fn fault_proxy_handles_expect_100_continue() {
    let server = S3sServer::start().await;
    server.create_bucket("bkt");
    let proxy =
        FaultProxy::start(server.addr(), FaultPlan::new().then(Fault::slow_down(), 1)).await;
    let creds = server.target().credentials();
    // Injected error: answered at once, the body is never asked for.
    let statuses = raw_expect_continue_put(&proxy, &creds, "e1").await;
    assert_eq!(statuses, ["HTTP/1.1 503 Service Unavailable"]);
    // Forwarded: the proxy sends its own 100 Continue, the upstream's interim answer is not relayed twice.
    let statuses = raw_expect_continue_put(&proxy, &creds, "e2").await;
    assert_eq!(statuses, ["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]);
    assert_eq!(
        std::fs::read_to_string(server.object_path("bkt", "e2")).expect("stored object"),
        "sent after 100-continue"
    );
}
