//! The registry API over HTTP: base endpoint, blobs and uploads, on the
//! in-memory and filesystem drivers.
#![cfg(feature = "server")]

mod server_support;

use server_support::registry_layout as paths;
use server_support::*;

#[tokio::test]
async fn base_endpoint_and_unknown_routes() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let resp = r.client.get(r.url("/v2/")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp, "docker-distribution-api-version"),
            "registry/2.0"
        );
        // registry:2's exact answer.
        assert_eq!(
            header(&resp, "content-type"),
            "application/json; charset=utf-8"
        );
        assert_eq!(resp.text().await.unwrap(), "{}");
        let resp = r.client.head(r.url("/v2")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let resp = r.client.get(r.url("/v3/")).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        let resp = r.client.get(r.url("/v2/a/unknown/x")).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        let resp = r.client.post(r.url("/v2/_catalog")).send().await.unwrap();
        assert_eq!(resp.status(), 405);
        assert_eq!(header(&resp, "allow"), "GET");
        assert_eq!(error_codes(resp).await, ["UNSUPPORTED"]);
        let resp = r
            .client
            .get(r.url("/v2/Bad_Name/tags/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["NAME_INVALID"]);
        r.stop().await;
    }
}

#[tokio::test]
async fn monolithic_upload_and_blob_fetch() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let data = b"hello, registry".to_vec();
        let d = sha256(&data);
        let resp = r
            .client
            .post(r.url(&format!("/v2/lib/app/blobs/uploads/?digest={d}")))
            .body(data.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{backend:?}");
        assert_eq!(header(&resp, "location"), format!("/v2/lib/app/blobs/{d}"));
        assert_eq!(header(&resp, "docker-content-digest"), d);
        // Stored exactly where registry:2 stores it.
        let drv = r.driver();
        assert_eq!(drv.get_content(&paths::blob_data(&d)).await.unwrap(), data);
        assert_eq!(
            drv.get_content(&paths::layer_link("lib/app", &d))
                .await
                .unwrap(),
            d.as_bytes()
        );
        assert!(drv
            .list(&format!("{}/_uploads", paths::repository("lib/app")))
            .await
            .unwrap_or_default()
            .is_empty());

        let resp = r
            .client
            .get(r.url(&format!("/v2/lib/app/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "content-length"), data.len().to_string());
        assert_eq!(header(&resp, "docker-content-digest"), d);
        assert_eq!(header(&resp, "etag"), format!("\"{d}\""));
        assert_eq!(header(&resp, "content-type"), "application/octet-stream");
        assert_eq!(header(&resp, "accept-ranges"), "bytes");
        assert_eq!(resp.bytes().await.unwrap(), data);

        let resp = r
            .client
            .head(r.url(&format!("/v2/lib/app/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "content-length"), data.len().to_string());
        assert!(resp.bytes().await.unwrap().is_empty());

        // Another repository does not see it.
        let resp = r
            .client
            .get(r.url(&format!("/v2/other/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(error_codes(resp).await, ["BLOB_UNKNOWN"]);
        let resp = r
            .client
            .get(r.url("/v2/lib/app/blobs/sha256:abc"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["DIGEST_INVALID"]);
        r.stop().await;
    }
}

#[tokio::test]
async fn post_then_single_put() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let resp = r
            .client
            .post(r.url("/v2/a/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        let loc = header(&resp, "location");
        let data = vec![7u8; 100_000];
        let d = sha256(&data);
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest={d}")))
            .body(data.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{backend:?}");
        assert_eq!(header(&resp, "docker-content-digest"), d);
        let got = r
            .client
            .get(r.url(&format!("/v2/a/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap(), data);
        r.stop().await;
    }
}

#[tokio::test]
async fn chunked_upload_with_content_range() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let resp = r
            .client
            .post(r.url("/v2/chunky/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        let loc = header(&resp, "location");
        let uuid = header(&resp, "docker-upload-uuid");
        assert_eq!(loc, format!("/v2/chunky/blobs/uploads/{uuid}"));
        assert_eq!(header(&resp, "range"), "0-0");
        assert_eq!(header(&resp, "content-length"), "0");
        // startedat is an RFC 3339 UTC time, as registry:2 writes it.
        let started = r
            .driver()
            .get_content(&paths::upload_started_at("chunky", &uuid))
            .await
            .unwrap();
        let started = String::from_utf8(started.to_vec()).unwrap();
        assert!(is_rfc3339_utc(&started), "{started}");

        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let chunks = [&data[..1000], &data[1000..150_000], &data[150_000..]];
        let mut offset = 0usize;
        for c in chunks {
            let end = offset + c.len() - 1;
            let resp = r
                .client
                .patch(r.url(&loc))
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", format!("{offset}-{end}"))
                .body(c.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 202, "{backend:?}");
            assert_eq!(header(&resp, "range"), format!("0-{end}"));
            assert_eq!(header(&resp, "location"), loc);
            offset += c.len();
        }
        let status = r.client.get(r.url(&loc)).send().await.unwrap();
        assert_eq!(status.status(), 204);
        assert_eq!(header(&status, "range"), format!("0-{}", data.len() - 1));
        assert_eq!(header(&status, "docker-upload-uuid"), uuid);

        // Out of order: 416 RANGE_INVALID, with the current position.
        let resp = r
            .client
            .patch(r.url(&loc))
            .header("Content-Range", "5-9")
            .body(vec![0u8; 5])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 416);
        assert_eq!(header(&resp, "range"), format!("0-{}", data.len() - 1));
        assert_eq!(error_codes(resp).await, ["RANGE_INVALID"]);
        // Range and length disagree: 400 SIZE_INVALID.
        let resp = r
            .client
            .patch(r.url(&loc))
            .header(
                "Content-Range",
                format!("{}-{}", data.len(), data.len() + 9),
            )
            .body(vec![0u8; 5])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["SIZE_INVALID"]);

        let d = sha256(&data);
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest={d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{backend:?}");
        assert_eq!(header(&resp, "location"), format!("/v2/chunky/blobs/{d}"));
        let got = r
            .client
            .get(r.url(&format!("/v2/chunky/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap(), data);
        // The upload is gone.
        assert!(r
            .driver()
            .stat(&paths::upload("chunky", &uuid))
            .await
            .is_err());
        let resp = r.client.get(r.url(&loc)).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_UNKNOWN"]);
        r.stop().await;
    }
}

#[tokio::test]
async fn chunks_without_content_range_and_a_final_chunk_in_put() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let resp = r
            .client
            .post(r.url("/v2/a/blobs/uploads"))
            .send()
            .await
            .unwrap();
        let loc = header(&resp, "location");
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
        for c in [&data[..10], &data[10..60_000]] {
            let resp = r
                .client
                .patch(r.url(&loc))
                .body(c.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 202);
        }
        let d = sha256(&data);
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest={d}")))
            .body(data[60_000..].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{backend:?}");
        let got = r
            .client
            .get(r.url(&format!("/v2/a/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap(), data);
        r.stop().await;
    }
}

#[tokio::test]
async fn digest_errors_and_cancellation() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let resp = r
            .client
            .post(r.url("/v2/a/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        let loc = header(&resp, "location");
        let uuid = header(&resp, "docker-upload-uuid");
        r.client
            .patch(r.url(&loc))
            .body(b"abc".to_vec())
            .send()
            .await
            .unwrap();
        // No digest: DIGEST_INVALID, the upload survives.
        let resp = r.client.put(r.url(&loc)).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["DIGEST_INVALID"]);
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest=sha256:zz")))
            .send()
            .await
            .unwrap();
        assert_eq!(error_codes(resp).await, ["DIGEST_INVALID"]);
        assert_eq!(
            r.client.get(r.url(&loc)).send().await.unwrap().status(),
            204
        );
        // Wrong digest: DIGEST_INVALID and the upload is cancelled.
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest={}", sha256(b"abd"))))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["DIGEST_INVALID"]);
        let resp = r.client.get(r.url(&loc)).send().await.unwrap();
        assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_UNKNOWN"]);
        assert!(r.driver().stat(&paths::upload("a", &uuid)).await.is_err());

        // DELETE cancels.
        let resp = r
            .client
            .post(r.url("/v2/a/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        let loc = header(&resp, "location");
        let uuid = header(&resp, "docker-upload-uuid");
        r.client
            .patch(r.url(&loc))
            .body(b"data".to_vec())
            .send()
            .await
            .unwrap();
        let resp = r.client.delete(r.url(&loc)).send().await.unwrap();
        assert_eq!(resp.status(), 204);
        assert_eq!(header(&resp, "docker-upload-uuid"), uuid);
        assert!(r.driver().stat(&paths::upload("a", &uuid)).await.is_err());
        let resp = r.client.delete(r.url(&loc)).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_UNKNOWN"]);
        let resp = r
            .client
            .patch(r.url("/v2/a/blobs/uploads/no-such-upload"))
            .body(b"x".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_UNKNOWN"]);
        // A monolithic POST with the wrong digest leaves nothing behind.
        let resp = r
            .client
            .post(r.url(&format!("/v2/a/blobs/uploads/?digest={}", sha256(b"x"))))
            .body(b"y".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(error_codes(resp).await, ["DIGEST_INVALID"]);
        let uploads = r
            .driver()
            .list(&format!("{}/_uploads", paths::repository("a")))
            .await
            .unwrap_or_default();
        assert!(uploads.is_empty(), "{uploads:?}");
        r.stop().await;
    }
}

#[tokio::test]
async fn sha512_digests() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let data = b"sha512 content".to_vec();
        let d512 = paths::sha512_digest(&data);
        let d256 = sha256(&data);
        let loc = start_upload(&r, "a").await;
        r.client
            .patch(r.url(&loc))
            .body(data.clone())
            .send()
            .await
            .unwrap();
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest={d512}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{backend:?}");
        // Answered under the client's digest; stored under the canonical sha256,
        // reachable by both, each answered under its own name.
        assert_eq!(header(&resp, "docker-content-digest"), d512);
        assert_eq!(header(&resp, "location"), format!("/v2/a/blobs/{d512}"));
        for d in [&d512, &d256] {
            for method in [reqwest::Method::HEAD, reqwest::Method::GET] {
                let got = r
                    .client
                    .request(method.clone(), r.url(&format!("/v2/a/blobs/{d}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(got.status(), 200);
                assert_eq!(header(&got, "docker-content-digest"), *d, "{method}");
                if method == reqwest::Method::GET {
                    assert_eq!(got.bytes().await.unwrap(), data);
                }
            }
        }
        let link = paths::layer_link("a", &d512);
        assert_eq!(
            r.driver().get_content(&link).await.unwrap(),
            d256.as_bytes()
        );
        r.stop().await;
    }
}

#[tokio::test]
async fn cross_repository_mount() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let d = push_blob(&r, "source/repo", b"shared layer").await;
        let resp = r
            .client
            .post(r.url(&format!(
                "/v2/target/blobs/uploads/?mount={d}&from=source/repo"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{backend:?}");
        assert_eq!(header(&resp, "location"), format!("/v2/target/blobs/{d}"));
        assert_eq!(header(&resp, "docker-content-digest"), d);
        let got = r
            .client
            .get(r.url(&format!("/v2/target/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap(), &b"shared layer"[..]);
        // Mounting what the source lacks starts a normal upload.
        let missing = sha256(b"nope");
        let resp = r
            .client
            .post(r.url(&format!(
                "/v2/target/blobs/uploads/?mount={missing}&from=source/repo"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        assert!(header(&resp, "location").starts_with("/v2/target/blobs/uploads/"));
        r.stop().await;
    }
}

#[tokio::test]
async fn range_requests_and_conditional_get() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let data: Vec<u8> = (0..=99u8).collect();
        let d = push_blob(&r, "a", &data).await;
        let url = r.url(&format!("/v2/a/blobs/{d}"));
        let resp = r
            .client
            .get(&url)
            .header("Range", "bytes=10-19")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 206);
        assert_eq!(header(&resp, "content-range"), "bytes 10-19/100");
        assert_eq!(header(&resp, "content-length"), "10");
        assert_eq!(resp.bytes().await.unwrap(), &data[10..20]);
        let resp = r
            .client
            .get(&url)
            .header("Range", "bytes=-5")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 206);
        assert_eq!(resp.bytes().await.unwrap(), &data[95..]);
        let resp = r
            .client
            .get(&url)
            .header("Range", "bytes=90-")
            .send()
            .await
            .unwrap();
        assert_eq!(header(&resp, "content-range"), "bytes 90-99/100");
        assert_eq!(resp.bytes().await.unwrap(), &data[90..]);
        let resp = r
            .client
            .get(&url)
            .header("Range", "bytes=100-")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 416);
        assert_eq!(header(&resp, "content-range"), "bytes */100");
        let resp = r
            .client
            .get(&url)
            .header("Range", "bytes=5-1")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 416);
        let resp = r
            .client
            .get(&url)
            .header("If-None-Match", format!("\"{d}\""))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 304);
        r.stop().await;
    }
}

#[tokio::test]
async fn redirects_to_the_driver_url_unless_disabled() {
    let mut td = TestDriver::new();
    td.redirect_base = Some("https://storage.example.invalid/bucket".into());
    let driver: std::sync::Arc<dyn s3driver::driver::StorageDriver> = std::sync::Arc::new(td);
    let r = start_with(&config(""), driver.clone()).await;
    let d = push_blob(&r, "a", b"redirected").await;
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let resp = r
            .client
            .request(method, r.url(&format!("/v2/a/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 307);
        assert_eq!(
            header(&resp, "location"),
            format!(
                "https://storage.example.invalid/bucket{}",
                paths::blob_data(&d)
            )
        );
    }
    r.stop().await;
    let r = start_with(
        &config_with_storage("  redirect:\n    disable: true\n", ""),
        driver,
    )
    .await;
    let resp = r
        .client
        .get(r.url(&format!("/v2/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), &b"redirected"[..]);
    r.stop().await;
}

#[tokio::test]
async fn blob_delete_enabled_and_disabled() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let d = push_blob(&r, "a", b"to delete").await;
        let resp = r
            .client
            .delete(r.url(&format!("/v2/a/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405);
        assert_eq!(error_codes(resp).await, ["UNSUPPORTED"]);
        r.stop().await;

        let (driver, dir) = driver_for(backend);
        let mut r = start_with(
            &config_with_storage("  delete:\n    enabled: true\n", ""),
            driver,
        )
        .await;
        r.dir = dir;
        let d = push_blob(&r, "a", b"to delete").await;
        let resp = r
            .client
            .delete(r.url(&format!("/v2/a/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "{backend:?}");
        let resp = r
            .client
            .get(r.url(&format!("/v2/a/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        // Only the link goes; the data stays for garbage collection.
        assert!(r.driver().stat(&paths::blob_data(&d)).await.is_ok());
        let resp = r
            .client
            .delete(r.url(&format!("/v2/a/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(error_codes(resp).await, ["BLOB_UNKNOWN"]);
        r.stop().await;
    }
}
