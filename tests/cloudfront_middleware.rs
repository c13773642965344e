//! The CloudFront middleware over the S3 driver (s3s-fs, signature-verifying): redirect URLs
//! are CloudFront canned-policy URLs for the driver's S3 key; clients inside the filtered AWS
//! ranges get the driver's presigned S3 URL, which really serves the blob; a driver that is
//! not backed by S3 keeps its own answer.
#![cfg(feature = "cloudfront")]

mod common;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use s3driver::client::credentials::StaticProvider;
use s3driver::driver::{
    InMemoryDriver, Parameters, RedirectRequest, S3Driver, S3Parameters, StorageDriver,
};
use s3driver::middleware::cloudfront::{CloudFrontMiddleware, Options, Policy, Signer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY_FILE: &str = "signing-vectors/cloudfront/test-rsa-key-pkcs1.pem";

fn key_path() -> String {
    format!("{}/{KEY_FILE}", env!("CARGO_MANIFEST_DIR"))
}

/// Serves `body` as JSON to every request on 127.0.0.1.
async fn serve_json(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/ip-ranges.json")
}

const RANGES: &str = r#"{"syncToken":"1","createDate":"2026-11-01-00-00-00","prefixes":[{"ip_prefix":"203.0.113.0/24","region":"eu-west-1","service":"AMAZON","network_border_group":"eu-west-1"}],"ipv6_prefixes":[{"ipv6_prefix":"2001:db8::/32","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"}]}"#;

async fn s3_driver(server: &common::S3sServer) -> Arc<dyn StorageDriver> {
    server.create_bucket("registry");
    let target = server.target();
    let params = S3Parameters::from_parameters(&Parameters::from_iter([
        ("region", "us-east-1"),
        ("regionendpoint", target.endpoint.as_str()),
        ("forcepathstyle", "true"),
        ("bucket", "registry"),
        ("rootdirectory", "/root-dir"),
    ]))
    .unwrap();
    let creds =
        StaticProvider::from_keys(target.access_key.clone(), target.secret_key.clone(), None);
    Arc::new(s3driver::driver::Base::new(
        S3Driver::with_credentials(params, Arc::new(creds)).unwrap(),
    ))
}

fn options(extra: &[(&str, &str)]) -> Options {
    let key = key_path();
    let mut params: Vec<(String, String)> = vec![
        ("baseurl".into(), "d111111abcdef8.cloudfront.net".into()),
        ("privatekey".into(), key),
        ("keypairid".into(), "K2JCJMDEHXQW5F".into()),
        ("duration".into(), "20m".into()),
    ];
    params.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Options::from_params(params).unwrap().0
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn redirects_to_signed_cloudfront_url_for_the_s3_key() {
    let server = common::S3sServer::start().await;
    let driver = s3_driver(&server).await;
    driver
        .put_content(
            "/docker/registry/v2/blobs/sha256/ab/abcd/data",
            Bytes::from_static(b"blob"),
        )
        .await
        .unwrap();
    let (mw, warnings) = CloudFrontMiddleware::from_options(driver, &options(&[]))
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let url = mw
        .redirect_url(
            &RedirectRequest::new("GET"),
            "/docker/registry/v2/blobs/sha256/ab/abcd/data",
        )
        .await
        .unwrap()
        .expect("a CloudFront URL");
    let resource = "https://d111111abcdef8.cloudfront.net/root-dir/docker/registry/v2/blobs/sha256/ab/abcd/data";
    assert!(url.starts_with(&format!("{resource}?Expires=")), "{url}");
    let expires: u64 = query_param(&url, "Expires").unwrap().parse().unwrap();
    assert!(
        (before + 1200..=before + 1202).contains(&expires),
        "expires {expires}, now {before}"
    );
    assert_eq!(query_param(&url, "Key-Pair-Id"), Some("K2JCJMDEHXQW5F"));
    // The signature is RSA-SHA1 over the canned policy for exactly this resource and expiry.
    let pem = std::fs::read_to_string(key_path()).unwrap();
    let signer = Signer::from_pem(&pem, "K2JCJMDEHXQW5F").unwrap();
    let policy = Policy::canned(
        resource,
        UNIX_EPOCH + std::time::Duration::from_secs(expires),
    )
    .unwrap()
    .to_json();
    assert_eq!(
        policy,
        format!(
            r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
        )
    );
    assert_eq!(
        query_param(&url, "Signature"),
        Some(signer.sign(policy.as_bytes()).unwrap().as_str())
    );
    // Every method is redirected, as in Distribution.
    assert!(mw
        .redirect_url(
            &RedirectRequest::new("PUT"),
            "/docker/registry/v2/blobs/sha256/ab/abcd/data"
        )
        .await
        .unwrap()
        .is_some());
    mw.delete("/docker").await.unwrap();
}

#[tokio::test]
async fn clients_inside_aws_ranges_get_the_presigned_s3_url() {
    let server = common::S3sServer::start().await;
    let driver = s3_driver(&server).await;
    driver
        .put_content("/blob", Bytes::from_static(b"content-of-blob"))
        .await
        .unwrap();
    let ranges_url = serve_json(RANGES).await;
    let opts = options(&[
        ("ipfilteredby", "awsregion"),
        ("awsregion", "eu-west-1"),
        ("iprangesurl", &ranges_url),
    ]);
    let (mw, warnings) = CloudFrontMiddleware::from_options(driver, &opts)
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    let mut inside = RedirectRequest::new("GET");
    inside
        .headers
        .push(("X-Forwarded-For".into(), "203.0.113.7, 10.0.0.1".into()));
    let url = mw.redirect_url(&inside, "/blob").await.unwrap().unwrap();
    assert!(
        url.starts_with(&server.endpoint()),
        "S3 URL expected: {url}"
    );
    let body = common::http_client().get(&url).send().await.unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(body.bytes().await.unwrap().as_ref(), b"content-of-blob");

    // An address in another region's range (IPv6, us-east-1) is not filtered: CloudFront.
    let mut other_region = RedirectRequest::new("GET");
    other_region
        .headers
        .push(("X-Real-Ip".into(), "2001:db8::1".into()));
    let url = mw
        .redirect_url(&other_region, "/blob")
        .await
        .unwrap()
        .unwrap();
    assert!(
        url.starts_with("https://d111111abcdef8.cloudfront.net/root-dir/blob?"),
        "{url}"
    );

    // The peer address counts when there are no forwarding headers.
    let mut peer = RedirectRequest::new("GET");
    peer.remote_addr = Some("203.0.113.200:5555".parse().unwrap());
    let url = mw.redirect_url(&peer, "/blob").await.unwrap().unwrap();
    assert!(url.starts_with(&server.endpoint()), "{url}");
    mw.delete("/blob").await.unwrap();
}

#[tokio::test]
async fn drivers_without_s3_keys_keep_their_own_answer() {
    let inner: Arc<dyn StorageDriver> =
        Arc::new(s3driver::driver::Base::new(InMemoryDriver::new()));
    inner
        .put_content("/a", Bytes::from_static(b"x"))
        .await
        .unwrap();
    let (mw, _) = CloudFrontMiddleware::from_options(inner, &options(&[]))
        .await
        .unwrap();
    assert_eq!(
        mw.redirect_url(&RedirectRequest::new("GET"), "/a")
            .await
            .unwrap(),
        None
    );
    assert_eq!(mw.get_content("/a").await.unwrap().as_ref(), b"x");
    assert_eq!(mw.name(), "inmemory");
}
