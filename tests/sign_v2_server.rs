//! SigV2 with a repeated sub-resource (`uploadId=a&uploadId=b`, `versionId=null&versionId=null`),
//! signed by our `sign::v2` (header and query-string auth) and sent with reqwest to servers that
//! verify SigV2 strictly: OpenStack Swift s3api and Ceph RGW (`S3DRIVER_SWIFT_ENDPOINT`,
//! `S3DRIVER_CEPH_ENDPOINT`; see `tests/common/external.rs`).
//!
//! Both servers put a repeated sub-resource into their string to sign once, with the value that
//! comes last in the query as sent; our signer sends the query sorted by encoded (name, value)
//! and signs that last value (`sign::v2::canonicalized_resource`). Each test also sends a
//! control request signed over every occurrence (what botocore's HmacV1 would sign) and expects
//! `SignatureDoesNotMatch`, so an answer other than 403 really proves the signature was checked.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use s3driver::sign::v2::{self, BucketAddressing};
use s3driver::sign::{encode_path, encode_query};
use s3driver::sign::{SignableRequest, SigningCredentials};

/// One SigV2 server under test.
struct Server {
    name: &'static str,
    endpoint: String,
    access_key: String,
    secret_key: String,
}

impl Server {
    fn creds(&self) -> SigningCredentials<'_> {
        SigningCredentials {
            access_key_id: &self.access_key,
            secret_access_key: &self.secret_key,
            session_token: None,
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{}", self.endpoint, encode_path(path));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_query(query));
        }
        url
    }

    /// Sends a request signed by `sign::v2::sign_header` (path style, `Date: now`).
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let req = SignableRequest {
            method,
            path,
            query,
            headers: &[],
        };
        let signed = v2::sign_header(
            &req,
            &self.creds(),
            BucketAddressing::PathStyle,
            "",
            "",
            &date,
        )
        .unwrap();
        let mut builder = common::http_client()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                self.url(path, query),
            )
            .header("date", &date)
            .body(body.to_vec());
        for (name, value) in &signed.headers {
            builder = builder.header(*name, value);
        }
        answer(builder.send().await).await
    }

    /// Sends a GET presigned by `sign::v2::presign`.
    async fn get_presigned(&self, path: &str, query: &[(&str, &str)]) -> (u16, String) {
        let expires = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 300;
        let req = SignableRequest {
            method: "GET",
            path,
            query,
            headers: &[],
        };
        let p = v2::presign(&req, &self.creds(), BucketAddressing::PathStyle, expires).unwrap();
        let url = format!("{}{}?{}", self.endpoint, encode_path(path), p.query);
        answer(common::http_client().get(url).send().await).await
    }

    /// Control: the same request with a hand-made string to sign whose resource is `resource`.
    async fn send_with_resource(
        &self,
        path: &str,
        query: &[(&str, &str)],
        resource: &str,
    ) -> (u16, String) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let sts = format!("GET\n\n\n{date}\n{resource}");
        let signature = common::refsign::signature_v2(&self.secret_key, &sts);
        let resp = common::http_client()
            .get(self.url(path, query))
            .header("date", &date)
            .header(
                "authorization",
                format!("AWS {}:{signature}", self.access_key),
            )
            .send()
            .await;
        answer(resp).await
    }

    /// Creates `bucket`, retrying a busy server's 503 like `common::S3Target::create_bucket`.
    async fn create_bucket(&self, bucket: &str) {
        let mut attempt = 0;
        loop {
            let (status, body) = self.send("PUT", &format!("/{bucket}"), &[], b"").await;
            if status == 503 && attempt < common::SLOW_DOWN_RETRIES {
                attempt += 1;
                tokio::time::sleep(common::slow_down_backoff(attempt)).await;
                continue;
            }
            assert_eq!(status, 200, "{}: creating {bucket}: {body}", self.name);
            return;
        }
    }
}

async fn answer(resp: reqwest::Result<reqwest::Response>) -> (u16, String) {
    let resp = resp.expect("transport error");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

fn swift() -> Option<Server> {
    let s = common::swift_or_skip()?;
    Some(Server {
        name: "swift",
        endpoint: s.endpoint().to_owned(),
        access_key: s.access_key().to_owned(),
        secret_key: s.secret_key().to_owned(),
    })
}

fn ceph() -> Option<Server> {
    let s = common::ceph_or_skip()?;
    Some(Server {
        name: "ceph",
        endpoint: s.endpoint().to_owned(),
        access_key: s.access_key().to_owned(),
        secret_key: s.secret_key().to_owned(),
    })
}

fn is_signature_mismatch(answer: &(u16, String)) -> bool {
    answer.0 == 403 && answer.1.contains("SignatureDoesNotMatch")
}

fn xml_field<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    Some(&body[start..start + len])
}

/// ListParts with the real upload id and a bogus one that is sent first (`%21` sorts before
/// any upload id), through header and query-string auth, in both caller orders.
async fn repeated_upload_id(server: Server) {
    let bucket = common::unique_bucket_name("v2-repeat");
    server.create_bucket(&bucket).await;
    let key = format!("/{bucket}/multi part+key");
    let (status, body) = server.send("POST", &key, &[("uploads", "")], b"").await;
    assert_eq!(status, 200, "{}: initiate: {body}", server.name);
    let upload_id = xml_field(&body, "UploadId").expect("UploadId").to_owned();
    assert!(
        upload_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)),
        "{upload_id}: the test needs an upload id that sorts after %21"
    );

    let bogus = "!not-an-upload";
    for query in [
        [("uploadId", upload_id.as_str()), ("uploadId", bogus)],
        [("uploadId", bogus), ("uploadId", upload_id.as_str())],
    ] {
        assert!(
            server
                .url(&key, &query)
                .ends_with(&format!("?uploadId=%21not-an-upload&uploadId={upload_id}")),
            "the wire order is sorted"
        );
        let header = server.send("GET", &key, &query, b"").await;
        assert_eq!(header.0, 200, "{}: header auth: {}", server.name, header.1);
        assert_eq!(xml_field(&header.1, "UploadId"), Some(upload_id.as_str()));
        let presigned = server.get_presigned(&key, &query).await;
        assert_eq!(
            presigned.0, 200,
            "{}: query auth: {}",
            server.name, presigned.1
        );
        assert_eq!(
            xml_field(&presigned.1, "UploadId"),
            Some(upload_id.as_str())
        );
    }

    // Controls: every occurrence signed, or the first one only, is refused.
    let query = [("uploadId", upload_id.as_str()), ("uploadId", bogus)];
    let all = format!(
        "{}?uploadId={bogus}&uploadId={upload_id}",
        encode_path(&key)
    );
    let control = server.send_with_resource(&key, &query, &all).await;
    assert!(
        is_signature_mismatch(&control),
        "{}: {control:?}",
        server.name
    );
    let first = format!("{}?uploadId={bogus}", encode_path(&key));
    let control = server.send_with_resource(&key, &query, &first).await;
    assert!(
        is_signature_mismatch(&control),
        "{}: {control:?}",
        server.name
    );
    let last = format!("{}?uploadId={upload_id}", encode_path(&key));
    let control = server.send_with_resource(&key, &query, &last).await;
    assert_eq!(control.0, 200, "{}: {control:?}", server.name);

    let (status, body) = server
        .send("DELETE", &key, &[("uploadId", &upload_id)], b"")
        .await;
    assert_eq!(status, 204, "{}: abort: {body}", server.name);
}

/// GET of an object with `versionId=null` twice (identical values collapse to one).
async fn repeated_version_id(server: Server) {
    let bucket = common::unique_bucket_name("v2-version");
    server.create_bucket(&bucket).await;
    let key = format!("/{bucket}/obj");
    let (status, body) = server.send("PUT", &key, &[], b"hello").await;
    assert_eq!(status, 200, "{}: put: {body}", server.name);
    let query = [("versionId", "null"), ("versionId", "null")];
    let got = server.send("GET", &key, &query, b"").await;
    assert_eq!(got, (200, "hello".to_owned()), "{}", server.name);
    let got = server.get_presigned(&key, &query).await;
    assert_eq!(got, (200, "hello".to_owned()), "{}", server.name);
    let all = format!("{key}?versionId=null&versionId=null");
    let control = server.send_with_resource(&key, &query, &all).await;
    assert!(
        is_signature_mismatch(&control),
        "{}: {control:?}",
        server.name
    );
    let (status, _) = server.send("DELETE", &key, &[], b"").await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn swift_verifies_repeated_upload_id() {
    if let Some(server) = swift() {
        repeated_upload_id(server).await;
    }
}

#[tokio::test]
async fn swift_verifies_repeated_version_id() {
    if let Some(server) = swift() {
        repeated_version_id(server).await;
    }
}

#[tokio::test]
async fn ceph_verifies_repeated_upload_id() {
    if let Some(server) = ceph() {
        repeated_upload_id(server).await;
    }
}

#[tokio::test]
async fn ceph_verifies_repeated_version_id() {
    if let Some(server) = ceph() {
        repeated_version_id(server).await;
    }
}
