//! S3Client retries, error reporting, credentials and configuration checks, against s3s-fs
//! (signature-verifying) behind the harness's `FaultProxy`.
//!
//! Attempt counts come from the proxy's counters: `requests_seen` (every request that reached
//! the proxy), `faults_injected` and `requests_forwarded` (reached s3s-fs). The proxy's injected
//! errors carry request ids `FAULTPROXY<n>` (n = the proxy's request number), which show which
//! attempt's error the client surfaced.

mod client_support;
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use client_support::*;
use common::{Fault, FaultPlan, FaultProxy, FaultRule, S3sServer};
use s3driver::client::credentials::{default_provider, EnvironmentProvider};
use s3driver::client::{
    ClientConfig, EndpointConfig, Env, ErrorKind, ProvideCredentials, S3Client, SignatureVersion,
    TransportErrorKind, WriteOptions,
};

/// A server with a bucket, a proxy in front of it with `plan`, a cell addressing the server
/// through the proxy (path style, SigV4), and a cell addressing the server directly.
async fn proxied(plan: FaultPlan) -> (S3sServer, FaultProxy, Cell, Cell) {
    proxied_with(plan, SignatureVersion::V4, Style::Path).await
}

async fn proxied_with(
    plan: FaultPlan,
    sig: SignatureVersion,
    style: Style,
) -> (S3sServer, FaultProxy, Cell, Cell) {
    let server = S3sServer::start().await;
    let bucket = common::unique_bucket_name("retry");
    server.create_bucket(&bucket);
    let proxy = FaultProxy::start(server.addr(), plan).await;
    let direct = Cell {
        target: server.target(),
        kind: ServerKind::S3s,
        bucket,
        sig,
        style,
    };
    let via = Cell {
        target: direct.target.via(&proxy.endpoint()),
        ..direct.clone()
    };
    (server, proxy, via, direct)
}

/// A client through the proxy with `max_attempts` fast retries.
fn client_attempts(cell: &Cell, max_attempts: u32) -> S3Client {
    let mut cfg = cell.config();
    cfg.retry = fast_retry(max_attempts);
    cell.client_with(cfg, &cell.target.secret_key)
}

const SECRET: &str = S3sServer::SECRET_KEY;

#[tokio::test]
async fn wrong_secret_is_refused_directly_and_through_the_proxy() {
    let (_server, proxy, via, direct) = proxied(FaultPlan::new()).await;
    scenario_wrong_secret(&direct).await;
    scenario_wrong_secret(&via).await;
    assert_eq!(proxy.faults_injected(), 0);
    assert!(proxy.requests_forwarded() >= 6);
}

#[tokio::test]
async fn slow_down_twice_then_success() {
    let (_server, proxy, via, direct) = proxied(FaultPlan::new().then(Fault::slow_down(), 2)).await;
    let c = client_attempts(&via, 5);
    let body = Bytes::from(data(10_000, 1));
    let etag = c
        .put_object("r/slow", body.clone(), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(etag.unquoted(), md5_hex(&body));
    assert_eq!(proxy.requests_seen(), 3, "{:?}", proxy.log());
    assert_eq!(proxy.faults_injected(), 2);
    assert_eq!(proxy.requests_forwarded(), 1);
    let actions: Vec<String> = proxy.log().into_iter().map(|r| r.action).collect();
    assert_eq!(actions, ["503 SlowDown", "503 SlowDown", "forwarded"]);
    assert_eq!(get_bytes(&direct.client(), "r/slow").await.unwrap(), body);
}

#[tokio::test]
async fn internal_error_is_retried_for_every_request_shape() {
    let (_server, proxy, via, direct) = proxied(FaultPlan::new()).await;
    let c = client_attempts(&via, 3);
    direct
        .client()
        .put_object(
            "r/src",
            Bytes::from_static(b"source"),
            &WriteOptions::default(),
        )
        .await
        .unwrap();
    // GET (streamed body), HEAD (no body), LIST (XML), COPY (checked XML), DELETE.
    proxy.add_rule(
        FaultRule::new(Fault::internal_error())
            .times(2)
            .method("GET"),
    );
    assert_eq!(get_bytes(&c, "r/src").await.unwrap(), &b"source"[..]);
    assert_eq!(proxy.requests_seen(), 3);
    proxy.add_rule(FaultRule::new(Fault::internal_error()).method("HEAD"));
    assert_eq!(c.head_object("r/src").await.unwrap().size, 6);
    assert_eq!(proxy.requests_seen(), 5);
    proxy.add_rule(
        FaultRule::new(Fault::service_unavailable())
            .method("GET")
            .path_contains("list-type=2"),
    );
    let page = c.list_objects_v2(&Default::default()).await.unwrap();
    assert_eq!(page.contents.len(), 1);
    assert_eq!(proxy.requests_seen(), 7);
    proxy.add_rule(FaultRule::new(Fault::internal_error()).method("PUT"));
    c.copy_object("r/src", "r/dst", &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(proxy.requests_seen(), 9);
    proxy.add_rule(FaultRule::new(Fault::internal_error()).method("DELETE"));
    c.delete_object("r/dst").await.unwrap();
    assert_eq!(proxy.requests_seen(), 11);
    assert_eq!(proxy.faults_injected(), 6);
    assert_eq!(proxy.pending_faults(), 0);
    // The client's counters (the registry's registry_s3_* metrics) saw every attempt of
    // every shape, the XML-reading ones included.
    let stats = c.stats();
    assert_eq!((stats.attempts, stats.retries), (11, 6), "{stats:?}");
    assert_eq!(
        stats.errors.iter().map(|(_, n)| n).sum::<u64>(),
        6,
        "{stats:?}"
    );
}

#[tokio::test]
async fn connection_reset_and_close_are_retried() {
    let plan = FaultPlan::new().then(Fault::Reset, 1).then(Fault::Close, 1);
    let (_server, proxy, via, direct) = proxied(plan).await;
    let c = client_attempts(&via, 4);
    let body = Bytes::from(data(50_000, 2));
    c.put_object("r/reset", body.clone(), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(proxy.requests_seen(), 3, "{:?}", proxy.log());
    assert_eq!(proxy.requests_forwarded(), 1);
    assert!(
        proxy.connections_accepted() >= 3,
        "a broken connection was reused"
    );
    assert_eq!(get_bytes(&direct.client(), "r/reset").await.unwrap(), body);
}

#[tokio::test]
async fn read_timeout_is_retried() {
    let plan = FaultPlan::new().then(Fault::Delay(Duration::from_secs(3)), 1);
    let (_server, proxy, via, _direct) = proxied(plan).await;
    let mut cfg = via.config();
    cfg.retry = fast_retry(3);
    cfg.read_timeout = Duration::from_millis(500);
    let c = via.client_with(cfg, SECRET);
    let err = c.head_object("r/none").await.unwrap_err();
    // The first attempt timed out, the second reached the server: not found.
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(proxy.requests_seen(), 2, "{:?}", proxy.log());
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let plan = FaultPlan::new()
        .rule(
            FaultRule::new(Fault::status(403, "AccessDenied", "Access Denied"))
                .times(5)
                .method("PUT"),
        )
        .rule(
            FaultRule::new(Fault::status(
                404,
                "NoSuchKey",
                "The specified key does not exist.",
            ))
            .times(5)
            .method("GET"),
        )
        .rule(
            FaultRule::new(Fault::status(400, "InvalidArgument", "bad"))
                .times(5)
                .method("DELETE"),
        );
    let (_server, proxy, via, _direct) = proxied(plan).await;
    let c = client_attempts(&via, 5);

    let err = c
        .put_object(
            "r/denied",
            Bytes::from_static(b"x"),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_service(&err, 403, "AccessDenied", "PUT");
    assert_eq!(err.request_id(), Some("FAULTPROXY00000001"));
    assert!(
        err.to_string().contains("[request id FAULTPROXY00000001]"),
        "{err}"
    );
    assert!(err.to_string().contains("IAM policy"), "{err}");
    assert_eq!(proxy.requests_seen(), 1);

    let err = c.get_object("r/denied", None).await.unwrap_err();
    assert!(err.is_not_found());
    assert_service(&err, 404, "NoSuchKey", "GET");
    assert_eq!(err.request_id(), Some("FAULTPROXY00000002"));
    assert_eq!(proxy.requests_seen(), 2);

    let err = c.delete_object("r/denied").await.unwrap_err();
    assert_service(&err, 400, "InvalidArgument", "DELETE");
    assert_eq!(proxy.requests_seen(), 3);
    assert_eq!(proxy.requests_forwarded(), 0);
    assert_eq!(proxy.pending_faults(), 12);
    assert_no_secret(&err, &[SECRET]);
}

#[tokio::test]
async fn exhausted_attempts_return_the_last_error() {
    let plan = FaultPlan::new()
        .then(Fault::slow_down(), 2)
        .then(Fault::internal_error(), 10);
    let (_server, proxy, via, _direct) = proxied(plan).await;
    let c = client_attempts(&via, 3);
    let err = c.head_object("r/x").await.unwrap_err();
    // HEAD has no error body: status only; the third attempt's 500 is what is reported.
    assert_eq!(err.status(), Some(500), "{err:?}");
    assert_eq!(err.request_id(), Some("FAULTPROXY00000003"), "{err:?}");
    assert_eq!(proxy.requests_seen(), 3);
    let err = c.get_object("r/x", None).await.unwrap_err();
    assert_service(&err, 500, "InternalError", "GET");
    assert_eq!(err.request_id(), Some("FAULTPROXY00000006"));
    assert!(err.is_retryable());
    assert_eq!(err.operation(), Some("GetObject"));
    assert_eq!(proxy.requests_seen(), 6);
    assert_eq!(proxy.requests_forwarded(), 0);
}

#[tokio::test]
async fn elapsed_budget_stops_retries() {
    let (_server, proxy, via, _direct) =
        proxied(FaultPlan::new().then(Fault::internal_error(), 10)).await;
    let mut cfg = via.config();
    cfg.retry = fast_retry(10);
    // Any backoff delay (at least 5 ms) exceeds this budget: one attempt only.
    cfg.retry.max_elapsed = Duration::from_millis(1);
    let c = via.client_with(cfg, SECRET);
    let err = c.get_object("r/x", None).await.unwrap_err();
    assert_service(&err, 500, "InternalError", "GET");
    assert_eq!(proxy.requests_seen(), 1);
}

#[tokio::test]
async fn streaming_put_is_not_retried() {
    let plan = FaultPlan::new()
        .then(Fault::slow_down(), 1)
        .then(Fault::Reset, 1);
    let (_server, proxy, via, direct) = proxied(plan).await;
    let c = client_attempts(&via, 5);
    let body = data(100_000, 3);

    let err = c
        .put_object_stream(
            "r/stream",
            pieces(&body, 10_000),
            body.len() as u64,
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NotReplayable { .. }),
        "{err:?}"
    );
    assert_eq!(err.operation(), Some("PutObject"));
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("cannot be resent"), "{err}");
    let inner = inner_service(&err).expect("the 503 inside");
    assert_service(inner, 503, "SlowDown", "stream");
    assert_eq!(proxy.requests_seen(), 1);

    let err = c
        .put_object_stream(
            "r/stream",
            pieces(&body, 10_000),
            body.len() as u64,
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    let ErrorKind::NotReplayable { source } = err.kind() else {
        panic!("{err:?}");
    };
    let inner = source.downcast_ref::<s3driver::client::Error>().unwrap();
    assert!(
        matches!(
            inner.kind(),
            ErrorKind::Transport {
                kind: TransportErrorKind::Io,
                ..
            }
        ),
        "{inner:?}"
    );
    assert_eq!(proxy.requests_seen(), 2);
    assert_eq!(proxy.requests_forwarded(), 0);
    assert!(direct
        .client()
        .head_object("r/stream")
        .await
        .unwrap_err()
        .is_not_found());

    // The same call succeeds once the faults are spent.
    c.put_object_stream(
        "r/stream",
        pieces(&body, 10_000),
        body.len() as u64,
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(get_bytes(&direct.client(), "r/stream").await.unwrap(), body);
}

/// S3 can answer CopyObject, UploadPartCopy and CompleteMultipartUpload with `200 OK` and an
/// `<Error>` body. The client treats it as an error: retried when the code is transient,
/// surfaced (status 200, code, request id) otherwise.
#[tokio::test]
async fn ok_status_with_error_body_is_an_error() {
    let (_server, proxy, via, direct) = proxied(FaultPlan::new()).await;
    let c = client_attempts(&via, 3);
    let d = direct.client();
    d.put_object(
        "r/src",
        Bytes::from(data(MIB5, 4)),
        &WriteOptions::default(),
    )
    .await
    .unwrap();

    // Transient code: retried, then the copy succeeds.
    proxy.add_rule(
        FaultRule::new(Fault::status(
            200,
            "InternalError",
            "We encountered an internal error.",
        ))
        .method("PUT")
        .path_contains("r/copy1"),
    );
    let res = c
        .copy_object("r/src", "r/copy1", &WriteOptions::default())
        .await
        .unwrap();
    assert!(!res.etag.as_str().is_empty());
    assert_eq!(proxy.requests_seen(), 2);
    assert_eq!(d.head_object("r/copy1").await.unwrap().size, MIB5 as u64);

    // Permanent code: surfaced as an error although the status is 200.
    proxy.add_rule(
        FaultRule::new(Fault::status(200, "AccessDenied", "Access Denied"))
            .method("PUT")
            .path_contains("r/copy2"),
    );
    let err = c
        .copy_object("r/src", "r/copy2", &WriteOptions::default())
        .await
        .unwrap_err();
    assert_service(&err, 200, "AccessDenied", "copy");
    assert_eq!(err.operation(), Some("CopyObject"));
    assert_eq!(err.request_id(), Some("FAULTPROXY00000003"));
    assert_eq!(proxy.requests_seen(), 3);

    // UploadPartCopy and CompleteMultipartUpload.
    let upload = c
        .create_multipart_upload("r/mpu", &WriteOptions::default())
        .await
        .unwrap();
    proxy.add_rule(
        FaultRule::new(Fault::status(
            200,
            "SlowDown",
            "Please reduce your request rate.",
        ))
        .method("PUT")
        .path_contains("partNumber=1"),
    );
    let part = c
        .upload_part_copy("r/mpu", &upload, 1, "r/src", None)
        .await
        .unwrap();
    proxy.add_rule(
        FaultRule::new(Fault::status(
            200,
            "InvalidPart",
            "One or more parts could not be found.",
        ))
        .method("POST")
        .path_contains("uploadId="),
    );
    let parts = [s3driver::xml::CompletedPart {
        part_number: 1,
        etag: part.etag,
    }];
    let err = c
        .complete_multipart_upload("r/mpu", &upload, &parts)
        .await
        .unwrap_err();
    assert_service(&err, 200, "InvalidPart", "complete");
    assert_eq!(err.operation(), Some("CompleteMultipartUpload"));
    // Retrying the completion after the fault goes through.
    c.complete_multipart_upload("r/mpu", &upload, &parts)
        .await
        .unwrap();
    assert_eq!(d.head_object("r/mpu").await.unwrap().size, MIB5 as u64);
    assert_eq!(proxy.faults_injected(), 4);
}

#[tokio::test]
async fn truncated_body_is_an_error_not_short_data() {
    let (_server, proxy, via, direct) =
        proxied(FaultPlan::new().rule(FaultRule::new(Fault::TruncateResponse).method("GET"))).await;
    let body = Bytes::from(data(200_000, 5));
    direct
        .client()
        .put_object("r/trunc", body.clone(), &WriteOptions::default())
        .await
        .unwrap();
    let c = client_attempts(&via, 3);
    let out = c.get_object("r/trunc", None).await.unwrap();
    assert_eq!(out.meta.size, 200_000);
    let err = out.bytes().await.unwrap_err();
    // A connection cut mid-body is a transport failure the caller may retry (re-open the
    // object at an offset), not an undecodable answer.
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Transport {
                kind: TransportErrorKind::Io,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_no_secret(&err, &[SECRET]);
    // The next GET is whole.
    assert_eq!(get_bytes(&c, "r/trunc").await.unwrap(), body);

    // Streamed reads report it too.
    proxy.add_rule(FaultRule::new(Fault::TruncateResponse).method("GET"));
    let mut out = c.get_object("r/trunc", None).await.unwrap();
    let mut got = 0;
    let err = loop {
        match out.chunk().await {
            Ok(Some(chunk)) => got += chunk.len(),
            Ok(None) => panic!("a truncated body ended cleanly after {got} bytes"),
            Err(e) => break e,
        }
    };
    assert!(got < body.len());
    assert!(err.is_retryable(), "{err:?}");
}

/// An XML answer cut off mid-body (ListObjectsV2 here) is retried like a failed request.
#[tokio::test]
async fn truncated_xml_answer_is_retried() {
    let (_server, proxy, via, direct) = proxied(FaultPlan::new()).await;
    let d = direct.client();
    for i in 0..50 {
        d.put_object(
            &format!("r/many/{i:03}-with-a-longer-key-name"),
            Bytes::from_static(b"x"),
            &WriteOptions::default(),
        )
        .await
        .unwrap();
    }
    proxy.add_rule(
        FaultRule::new(Fault::TruncateResponse)
            .method("GET")
            .path_contains("list-type=2"),
    );
    let c = client_attempts(&via, 3);
    let page = c.list_objects_v2(&Default::default()).await.unwrap();
    assert_eq!(page.contents.len(), 50);
    assert_eq!(proxy.requests_seen(), 2, "{:?}", proxy.log());
    assert_eq!(proxy.log()[0].action, "forwarded, response truncated");
    let stats = c.stats();
    assert_eq!((stats.attempts, stats.retries), (2, 1), "{stats:?}");
    assert_eq!(
        stats.errors.len(),
        1,
        "the cut-off answer is counted: {stats:?}"
    );
}

#[tokio::test]
async fn virtual_hosted_and_v2_requests_are_retried_too() {
    for (sig, style) in [
        (SignatureVersion::V4, Style::Virtual),
        (SignatureVersion::V2, Style::Path),
        (SignatureVersion::V2, Style::Virtual),
    ] {
        let (_server, proxy, via, _direct) =
            proxied_with(FaultPlan::new().then(Fault::slow_down(), 2), sig, style).await;
        let c = client_attempts(&via, 3);
        c.put_object("r/v", Bytes::from_static(b"v"), &WriteOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{sig:?} {style:?}: {e}"));
        assert_eq!(get_bytes(&c, "r/v").await.unwrap(), &b"v"[..]);
        assert_eq!(proxy.requests_seen(), 4, "{sig:?} {style:?}");
    }
}

#[tokio::test]
async fn transport_errors_are_reported_without_secrets() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let cell = Cell {
        target: common::S3Target {
            name: "closed-port",
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key: S3sServer::ACCESS_KEY.into(),
            secret_key: SECRET.into(),
            region: "us-east-1".into(),
            virtual_host_domain: format!("localhost:{port}"),
        },
        kind: ServerKind::S3s,
        bucket: "bucket".into(),
        sig: SignatureVersion::V4,
        style: Style::Path,
    };
    let c = client_attempts(&cell, 2);
    let err = c.get_object("k", None).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Transport {
                kind: TransportErrorKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("could not connect"), "{err}");
    assert_no_secret(&err, &[SECRET]);
    let url = c
        .presign(
            "GET",
            "k",
            Duration::from_secs(60),
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    assert!(!url.contains(SECRET));
    assert_debug_no_secret(&c, &[SECRET]);
}

fn env(pairs: &[(&str, &str)]) -> Arc<dyn Env> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Arc::new(map)
}

#[tokio::test]
async fn credentials_from_environment_and_default_chain_work_end_to_end() {
    let server = S3sServer::start().await;
    let bucket = common::unique_bucket_name("creds");
    server.create_bucket(&bucket);
    let cell = Cell {
        target: server.target(),
        kind: ServerKind::S3s,
        bucket,
        sig: SignatureVersion::V4,
        style: Style::Path,
    };
    let good_env = env(&[
        ("AWS_ACCESS_KEY_ID", S3sServer::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
    ]);

    // EnvironmentProvider over a HashMap.
    let p: Arc<dyn ProvideCredentials> = Arc::new(EnvironmentProvider::new(good_env.clone()));
    let c = S3Client::new(cell.config(), p).unwrap();
    c.put_object(
        "c/env",
        Bytes::from_static(b"env"),
        &WriteOptions::default(),
    )
    .await
    .unwrap();

    // The cached default chain: environment first (never reaches the network providers).
    let p: Arc<dyn ProvideCredentials> = Arc::new(default_provider(good_env));
    let c = S3Client::new(cell.config(), p).unwrap();
    assert_eq!(get_bytes(&c, "c/env").await.unwrap(), &b"env"[..]);
    for sig in [SignatureVersion::V2] {
        let mut cfg = cell.config();
        cfg.signature = sig;
        let c = S3Client::new(
            cfg,
            Arc::new(default_provider(env(&[
                ("AWS_ACCESS_KEY", S3sServer::ACCESS_KEY),
                ("AWS_SECRET_KEY", SECRET),
            ]))),
        )
        .unwrap();
        assert_eq!(get_bytes(&c, "c/env").await.unwrap(), &b"env"[..]);
    }

    // Shared credentials file through the chain (no environment keys).
    let dir = tempfile::tempdir().unwrap();
    let creds_file = dir.path().join("credentials");
    std::fs::write(
        &creds_file,
        format!(
            "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n\
             [registry]\naws_access_key_id = {}\naws_secret_access_key = {SECRET}\n",
            S3sServer::ACCESS_KEY
        ),
    )
    .unwrap();
    let file_env = env(&[
        ("AWS_SHARED_CREDENTIALS_FILE", creds_file.to_str().unwrap()),
        (
            "AWS_CONFIG_FILE",
            dir.path().join("absent").to_str().unwrap(),
        ),
        ("AWS_PROFILE", "registry"),
    ]);
    let c = S3Client::new(cell.config(), Arc::new(default_provider(file_env))).unwrap();
    assert_eq!(get_bytes(&c, "c/env").await.unwrap(), &b"env"[..]);

    // A wrong secret from the environment is refused by the server.
    let bad_env = env(&[
        ("AWS_ACCESS_KEY_ID", S3sServer::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", WRONG_SECRET),
    ]);
    let c = S3Client::new(cell.config(), Arc::new(default_provider(bad_env))).unwrap();
    let err = c.get_object("c/env", None).await.unwrap_err();
    assert_service(&err, 403, "SignatureDoesNotMatch", "env");
    assert_no_secret(&err, &[WRONG_SECRET, SECRET]);
    assert_debug_no_secret(&c, &[WRONG_SECRET, SECRET]);

    // Half-configured environment: a credentials error naming the variable, sent nothing.
    let half = env(&[("AWS_ACCESS_KEY_ID", S3sServer::ACCESS_KEY)]);
    let c = S3Client::new(cell.config(), Arc::new(EnvironmentProvider::new(half))).unwrap();
    let err = c.get_object("c/env", None).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Credentials { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{err}");
}

fn config(region: &str, endpoint: Option<&str>) -> ClientConfig {
    let mut ep = EndpointConfig::default().with_region(region);
    ep.region_endpoint = endpoint.map(str::to_owned);
    let mut cfg = ClientConfig::new(ep, "bucket");
    cfg.signature = SignatureVersion::V2;
    cfg
}

#[test]
fn sigv2_is_refused_at_construction_for_aws() {
    let creds = || -> Arc<dyn ProvideCredentials> {
        Arc::new(s3driver::client::credentials::StaticProvider::from_keys(
            "AK", "SK", None,
        ))
    };
    let refused = [
        ("us-east-1", None),
        ("eu-west-1", None),
        ("eu-central-1", Some("http://127.0.0.1:9000")),
        ("ap-south-2", Some("https://minio.internal")),
        ("us-east-1", Some("https://s3.amazonaws.com")),
        (
            "us-east-1",
            Some("https://bucket.s3.us-east-1.amazonaws.com"),
        ),
        ("cn-north-1", Some("https://s3.cn-north-1.amazonaws.com.cn")),
    ];
    for (region, endpoint) in refused {
        let err = S3Client::new(config(region, endpoint), creds()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidConfig { .. }),
            "{region} {endpoint:?}: {err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("`SignatureVersion::V2` cannot be used"),
            "{region} {endpoint:?}: {msg}"
        );
        assert!(
            msg.contains("use `SignatureVersion::V4`") && !msg.contains("v4auth"),
            "{region} {endpoint:?}: {msg}"
        );
        assert!(
            msg.contains("Signature Version 4"),
            "{region} {endpoint:?}: {msg}"
        );
    }
    // S3-compatible endpoints in SigV2-capable (or non-AWS) regions are accepted.
    for (region, endpoint) in [
        ("us-east-1", "http://127.0.0.1:9000"),
        ("", "http://minio.internal:9000"),
        ("default", "https://ceph.example.org"),
        ("eu-west-1", "http://127.0.0.1:9000"),
    ] {
        S3Client::new(config(region, Some(endpoint)), creds())
            .unwrap_or_else(|e| panic!("{region} {endpoint}: {e}"));
    }
    // SigV4 is accepted everywhere.
    let mut cfg = config("eu-central-1", None);
    cfg.signature = SignatureVersion::V4;
    S3Client::new(cfg, creds()).unwrap();
}

/// Keys that would address something else than an object are refused before anything is sent:
/// an empty key (the bucket itself: PUT = CreateBucket, DELETE = DeleteBucket) and keys with
/// `.`/`..` segments (rewritten by URL parsers).
#[tokio::test]
async fn unsendable_keys_are_refused_before_sending() {
    let (_server, proxy, via, direct) = proxied(FaultPlan::new()).await;
    let c = client_attempts(&via, 3);
    let d = direct.client();
    d.put_object("r/keep", Bytes::from_static(b"k"), &WriteOptions::default())
        .await
        .unwrap();
    let errors = vec![
        c.put_object("", Bytes::from_static(b"x"), &WriteOptions::default())
            .await
            .unwrap_err(),
        c.delete_object("").await.unwrap_err(),
        c.head_object("").await.unwrap_err(),
        c.get_object("r/a/../keep", None).await.unwrap_err(),
        c.delete_object("r/./keep").await.unwrap_err(),
        c.presign(
            "GET",
            "",
            Duration::from_secs(60),
            std::time::SystemTime::now(),
        )
        .await
        .unwrap_err(),
        c.presign(
            "GET",
            "r/..",
            Duration::from_secs(60),
            std::time::SystemTime::now(),
        )
        .await
        .unwrap_err(),
    ];
    for err in &errors {
        assert!(
            matches!(err.kind(), ErrorKind::InvalidConfig { .. }),
            "{err:?}"
        );
    }
    assert!(
        errors[0].to_string().contains("cannot be empty"),
        "{}",
        errors[0]
    );
    assert!(errors[3].to_string().contains("'..'"), "{}", errors[3]);
    assert_eq!(proxy.requests_seen(), 0, "{:?}", proxy.log());
    // The bucket and its object are still there.
    assert_eq!(get_bytes(&d, "r/keep").await.unwrap(), &b"k"[..]);
    // Keys with dots that are not whole segments are fine.
    for key in ["r/..x", "r/x..", "r/...", "r/.hidden", "r/a.b"] {
        c.put_object(
            key,
            Bytes::from(key.as_bytes().to_vec()),
            &WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(get_bytes(&d, key).await.unwrap(), key.as_bytes());
    }
}
