//! Operations: htpasswd auth, health checks, graceful shutdown, TLS, extra
//! headers, path prefix, read-only mode.
#![cfg(feature = "server")]

mod server_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use s3driver::driver::StorageDriver;
use server_support::*;

fn tls_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls")
}

#[tokio::test]
async fn htpasswd_accepts_good_and_refuses_bad_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
    let cfg = config(&format!(
        "auth:\n  htpasswd:\n    realm: Registry Realm\n    path: {}\n",
        path.display()
    ));
    let r = start_with(
        &cfg,
        Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .await;
    let resp = r.client.get(r.url("/v2/")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        header(&resp, "www-authenticate"),
        "Basic realm=\"Registry Realm\""
    );
    assert_eq!(
        header(&resp, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert_eq!(error_codes(resp).await, ["UNAUTHORIZED"]);
    let resp = r
        .client
        .get(r.url("/v2/"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = r
        .client
        .get(r.url("/v2/_catalog"))
        .basic_auth("mallory", Some("correct horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    for _ in 0..2 {
        let resp = r
            .client
            .get(r.url("/v2/"))
            .basic_auth("alice", Some("correct horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // A whole push with credentials.
    let resp = r
        .client
        .post(r.url(&format!("/v2/a/blobs/uploads/?digest={}", sha256(b"x"))))
        .basic_auth("alice", Some("correct horse"))
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // Health is not behind auth.
    let resp = r.client.get(r.url("/debug/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    r.stop().await;
}

#[tokio::test]
async fn health_check_threshold_and_503() {
    let td = Arc::new(TestDriver::new());
    let cfg = config(
        "health:\n  storagedriver:\n    enabled: true\n    interval: 50ms\n    threshold: 2\n",
    );
    let r = start_with(&cfg, td.clone() as Arc<dyn StorageDriver>).await;
    let resp = r.client.get(r.url("/debug/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(resp.text().await.unwrap().trim(), "{}");
    // PathNotFound on "/" is healthy.
    td.root_stat_not_found.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(r.app.health_status().is_empty());
    td.fail_root_stat.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while r.app.health_status().is_empty() {
        assert!(Instant::now() < deadline, "never became unhealthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resp = r.client.get(r.url("/debug/health")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let v = resp.json_value().await;
    assert_eq!(v["storagedriver_inmemory"], "inmemory: backend unreachable");
    let resp = r.client.get(r.url("/v2/")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let v = resp.json_value().await;
    assert_eq!(v["errors"][0]["code"], "UNAVAILABLE");
    assert_eq!(
        v["errors"][0]["detail"],
        "health check failed: please see /debug/health"
    );
    let resp = r.client.post(r.url("/debug/health")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    td.fail_root_stat.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !r.app.health_status().is_empty() {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        r.client.get(r.url("/v2/")).send().await.unwrap().status(),
        200
    );
    r.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut td = TestDriver::new();
    td.list_delay = Duration::from_millis(500);
    let mut r = start_with(&config(""), Arc::new(td)).await;
    let url = r.url("/v2/slow/tags/list");
    let client = r.client.clone();
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let server = r.signal_shutdown();
    let resp = in_flight
        .await
        .unwrap()
        .expect("in-flight request completes");
    assert_eq!(resp.status(), 404, "NAME_UNKNOWN after the slow listing");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
    // No longer accepting.
    assert!(reqwest::Client::new()
        .get(r.url("/v2/"))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn shutdown_is_bounded_by_the_drain_timeout() {
    let mut td = TestDriver::new();
    td.list_delay = Duration::from_secs(30);
    let mut r = start_with(&config("http:\n  draintimeout: 200ms\n"), Arc::new(td)).await;
    let url = r.url("/v2/slow/tags/list");
    let client = r.client.clone();
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let server = r.signal_shutdown();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    in_flight.abort();
}

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let dir = tls_dir();
    let cfg = config(&format!(
        "http:\n  tls:\n    certificate: {}\n    key: {}\n",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    ));
    let r = start_with(
        &cfg,
        Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .await;
    assert!(r.base.starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let resp = client.get(r.url("/v2/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let d = sha256(b"over tls");
    let resp = client
        .post(r.url(&format!("/v2/a/blobs/uploads/?digest={d}")))
        .body(b"over tls".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // Plain HTTP on the TLS port gets Go's 400 (as registry:2 answers), not a closed connection.
    let plain = r.base.replace("https://", "http://");
    let resp = reqwest::Client::new()
        .get(format!("{plain}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Client sent an HTTP request to an HTTPS server"));
    // HTTP/2 is negotiated (ALPN h2) with a client that offers it, as with registry:2.
    let curl = tokio::process::Command::new("curl")
        .args(["-s", "--http2", "-o", "/dev/null", "-w", "%{http_version}"])
        .arg("--cacert")
        .arg(dir.join("ca.pem"))
        .arg(r.url("/v2/"))
        .output()
        .await
        .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "2", "{curl:?}");
    r.stop().await;
    // With http.http2.disabled, HTTP/1.1 only.
    let cfg = config(&format!(
        "http:\n  http2:\n    disabled: true\n  tls:\n    certificate: {}\n    key: {}\n",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    ));
    let r = start_with(
        &cfg,
        Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .await;
    let curl = tokio::process::Command::new("curl")
        .args(["-s", "--http2", "-o", "/dev/null", "-w", "%{http_version}"])
        .arg("--cacert")
        .arg(dir.join("ca.pem"))
        .arg(r.url("/v2/"))
        .output()
        .await
        .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "1.1", "{curl:?}");
    r.stop().await;
    // A key that does not match the certificate is a configuration error.
    let other = tempfile::tempdir().unwrap();
    let bad_key = other.path().join("key.pem");
    std::fs::write(&bad_key, std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let cfg = config(&format!(
        "http:\n  tls:\n    certificate: {}\n    key: {}\n",
        dir.join("cert.pem").display(),
        bad_key.display()
    ));
    let e = s3driver::server::App::with_driver(
        &cfg,
        Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .unwrap_err();
    assert_eq!(e.key(), "http.tls.key");
}

#[tokio::test]
async fn extra_headers_prefix_and_read_only() {
    let r = start(
        Backend::InMemory,
        "http:\n  prefix: /registry/\n  headers:\n    X-Content-Type-Options: [nosniff]\n    X-Team: blue\n",
    )
    .await;
    let resp = r.client.get(r.url("/registry/v2/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    assert_eq!(header(&resp, "x-team"), "blue");
    assert_eq!(
        r.client.get(r.url("/v2/")).send().await.unwrap().status(),
        404
    );
    let resp = r
        .client
        .post(r.url("/registry/v2/p/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert!(header(&resp, "location").starts_with("/registry/v2/p/blobs/uploads/"));
    let body = image_manifest_prefixed(&r).await;
    let resp = r
        .client
        .put(r.url("/registry/v2/p/manifests/v1"))
        .header("Content-Type", OCI_MANIFEST)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert!(header(&resp, "location").starts_with("/registry/v2/p/manifests/sha256:"));
    r.stop().await;

    let driver: Arc<dyn StorageDriver> = Arc::new(s3driver::driver::Base::new(
        s3driver::driver::InMemoryDriver::new(),
    ));
    let rw = start_with(&config(""), driver.clone()).await;
    let d = push_blob(&rw, "ro", b"existing").await;
    rw.stop().await;
    let ro = start_with(
        &config_with_storage("  maintenance:\n    readonly:\n      enabled: true\n", ""),
        driver,
    )
    .await;
    let resp = ro
        .client
        .post(ro.url("/v2/ro/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(error_codes(resp).await, ["UNSUPPORTED"]);
    let resp = ro
        .client
        .get(ro.url(&format!("/v2/ro/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    ro.stop().await;
}

/// An empty OCI manifest (empty config, no layers) pushed through the prefix.
async fn image_manifest_prefixed(r: &Registry) -> Vec<u8> {
    let d = sha256(b"{}");
    let resp = r
        .client
        .post(r.url(&format!("/registry/v2/p/blobs/uploads/?digest={d}")))
        .body(b"{}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        header(&resp, "location"),
        format!("/registry/v2/p/blobs/{d}")
    );
    serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": d, "size": 2},
        "layers": []})
    .to_string()
    .into_bytes()
}
