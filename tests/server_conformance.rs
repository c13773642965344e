//! Distribution API details the OCI conformance suite exercises (or a newer
//! draft of it), each pinned down by a test of its own: connections after
//! early answers, sha512 blobs end to end, closing PUTs with a Content-Range,
//! empty blobs and nested indexes.
#![cfg(feature = "server")]

mod server_support;

use std::sync::Arc;

use server_support::raw::RawConn;
use server_support::*;

/// A PATCH to an unknown upload is answered before its body is read: the
/// answer says `Connection: close` and the server closes; a request whose
/// body was read keeps the connection for the next one.
#[tokio::test]
async fn early_answers_close_the_connection_explicitly() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let mut c = RawConn::connect(&r.base).await;
        c.send_head(
            "PATCH",
            "/v2/a/blobs/uploads/6e6b4cd8-6c71-4e9c-9a44-7b0c5a4f3f11",
            &[("Content-Type", "application/octet-stream")],
            Some(10),
        )
        .await;
        c.send(b"0123456789").await;
        let resp = c.read_response().await;
        assert_eq!(resp.status, 404);
        assert_eq!(resp.error_codes(), ["BLOB_UPLOAD_UNKNOWN"]);
        assert_eq!(resp.header("connection"), Some("close"), "{backend:?}");
        assert!(c.closed_by_server().await);

        // Bodies read to the end: the connection carries the next request.
        let mut c = RawConn::connect(&r.base).await;
        c.send_head("POST", "/v2/a/blobs/uploads/", &[], Some(0))
            .await;
        let resp = c.read_response().await;
        assert_eq!(resp.status, 202);
        assert_eq!(resp.header("connection"), None);
        let loc = resp.header("location").unwrap().to_owned();
        c.send_head("PATCH", &loc, &[], Some(10)).await;
        c.send(b"0123456789").await;
        let resp = c.read_response().await;
        assert_eq!(resp.status, 202);
        assert_eq!(resp.header("connection"), None);
        // Refused after reading the body (digest mismatch): still reusable.
        c.send_head(
            "PUT",
            &format!("{loc}?digest={}", sha256(b"other")),
            &[],
            Some(3),
        )
        .await;
        c.send(b"abc").await;
        let resp = c.read_response().await;
        assert_eq!(resp.status, 400);
        assert_eq!(resp.header("connection"), None);
        c.send_head("GET", "/v2/", &[], None).await;
        assert_eq!(c.read_response().await.status, 200);
        r.stop().await;
    }
}

#[tokio::test]
async fn unauthenticated_bodies_close_the_connection_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    std::fs::write(&path, format!("alice:{}\n", bcrypt::hash("pw", 4).unwrap())).unwrap();
    let cfg = config(&format!(
        "auth:\n  htpasswd:\n    realm: r\n    path: {}\n",
        path.display()
    ));
    let r = start_with(
        &cfg,
        Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .await;
    let mut c = RawConn::connect(&r.base).await;
    c.send_head(
        "PUT",
        "/v2/a/manifests/v1",
        &[("Content-Type", OCI_MANIFEST)],
        Some(2),
    )
    .await;
    c.send(b"{}").await;
    let resp = c.read_response().await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(c.closed_by_server().await);
    // Without a body the 401 keeps the connection (the usual challenge round trip).
    let mut c = RawConn::connect(&r.base).await;
    c.send_head("GET", "/v2/", &[], None).await;
    let resp = c.read_response().await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.header("connection"), None);
    c.send_head(
        "GET",
        "/v2/",
        &[("Authorization", "Basic YWxpY2U6cHc=")],
        None,
    )
    .await;
    assert_eq!(c.read_response().await.status, 200);
    r.stop().await;
}

/// A closing `PUT` whose chunk does not start at the upload's offset is a
/// range error (416 with the upload's `Range`), as for PATCH.
#[tokio::test]
async fn closing_put_with_a_content_range_not_at_the_offset() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let loc = start_upload(&r, "a").await;
        let resp = r
            .client
            .patch(r.url(&loc))
            .header("Content-Range", "0-9")
            .body("0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        let all = b"0123456789abcde";
        let put = |range: &'static str, body: &'static [u8]| {
            r.client
                .put(r.url(&format!("{loc}?digest={}", sha256(all))))
                .header("Content-Range", range)
                .body(body)
                .send()
        };
        let resp = put("5-9", b"56789").await.unwrap();
        assert_eq!(resp.status(), 416, "{backend:?}");
        assert_eq!(header(&resp, "range"), "0-9");
        assert_eq!(header(&resp, "location"), loc);
        assert_eq!(error_codes(resp).await, ["RANGE_INVALID"]);
        let resp = put("10-14", b"abcde").await.unwrap();
        assert_eq!(resp.status(), 201);
        r.stop().await;
    }
}

/// Offsets are `u64` inside, but the numbers clients send are still read as Go `int64`s: a
/// negative or overflowing `Content-Range` on a PATCH is a 416 RANGE_INVALID that leaves the
/// upload where it was (registry:2 2.8 ignores a PATCH's Content-Range altogether), a
/// `Content-Length` that disagrees with the range (past `i64::MAX` included) is SIZE_INVALID,
/// and a blob `Range` past `i64::MAX` is a 416 as Go's `http.ServeContent` answers it.
#[tokio::test]
async fn negative_and_overflowing_offsets_are_refused() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let loc = start_upload(&r, "a").await;
        for range in [
            "-1-4",
            "0--1",
            "-5",
            "0-9223372036854775808",
            "9223372036854775808-9223372036854775809",
            "18446744073709551615-18446744073709551615",
            "18446744073709551616-0",
            "5-0",
        ] {
            let resp = r
                .client
                .patch(r.url(&loc))
                .header("Content-Range", range)
                .body("01234")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 416, "{backend:?} {range}");
            assert_eq!(header(&resp, "range"), "0-0", "{backend:?} {range}");
            assert_eq!(error_codes(resp).await, ["RANGE_INVALID"], "{range}");
        }
        // Content-Length is compared with the range as a Go int64 (answered before the body).
        for len in ["6", "9223372036854775808"] {
            let mut c = RawConn::connect(&r.base).await;
            c.send_head(
                "PATCH",
                &loc,
                &[("Content-Range", "0-4"), ("Content-Length", len)],
                None,
            )
            .await;
            let resp = c.read_response().await;
            assert_eq!(resp.status, 400, "{backend:?} Content-Length {len}");
            assert_eq!(resp.error_codes(), ["SIZE_INVALID"], "{len}");
        }
        // Not a number HTTP knows: refused by the HTTP layer.
        for len in ["-5", "18446744073709551621"] {
            let mut c = RawConn::connect(&r.base).await;
            c.send_head(
                "PATCH",
                &loc,
                &[("Content-Range", "0-4"), ("Content-Length", len)],
                None,
            )
            .await;
            assert_eq!(c.read_response().await.status, 400, "{len}");
        }
        let resp = r
            .client
            .patch(r.url(&loc))
            .header("Content-Range", "0-4")
            .body("01234")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "{backend:?}");
        assert_eq!(header(&resp, "range"), "0-4");
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest={}", sha256(b"01234"))))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{backend:?}");
        let blob = r.url(&format!("/v2/a/blobs/{}", sha256(b"01234")));
        for range in [
            "bytes=9223372036854775807-",
            "bytes=9223372036854775808-",
            "bytes=18446744073709551616-",
            "bytes=1-9223372036854775808",
            "bytes=-9223372036854775808",
            "bytes=-1-2",
        ] {
            let resp = r
                .client
                .get(&blob)
                .header("Range", range)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 416, "{backend:?} {range}");
        }
        let resp = r
            .client
            .get(&blob)
            .header("Range", "bytes=1-9223372036854775807")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 206, "{backend:?}");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), b"1234");
        r.stop().await;
    }
}

/// An image whose config and layer are pushed and referenced by sha512.
#[tokio::test]
async fn sha512_blobs_in_manifests() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
        let layer = b"a layer addressed by sha512".to_vec();
        let mut digests = Vec::new();
        for data in [&config, &layer] {
            let d = registry_layout::sha512_digest(data);
            let resp = r
                .client
                .post(r.url(&format!("/v2/s512/blobs/uploads/?digest={d}")))
                .body(data.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
            assert_eq!(header(&resp, "docker-content-digest"), d);
            digests.push(d);
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digests[0], "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digests[1], "size": layer.len()}],
        })
        .to_string()
        .into_bytes();
        let resp = put_manifest(&r, "s512", "v1", OCI_MANIFEST, &manifest).await;
        assert_eq!(
            resp.status(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        let resp = get_manifest(&r, "s512", "v1").await;
        assert_eq!(resp.bytes().await.unwrap(), manifest);
        for (d, data) in digests.iter().zip([&config, &layer]) {
            let resp = r
                .client
                .get(r.url(&format!("/v2/s512/blobs/{d}")))
                .send()
                .await
                .unwrap();
            assert_eq!(header(&resp, "docker-content-digest"), *d);
            assert_eq!(resp.bytes().await.unwrap(), *data);
        }
        r.stop().await;
    }
}

/// The empty blob (monolithic and as an upload whose final PUT has no body)
/// and an index of an index of an image.
#[tokio::test]
async fn empty_blobs_and_nested_indexes() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let empty = sha256(b"");
        let resp = r
            .client
            .post(r.url(&format!("/v2/n/blobs/uploads/?digest={empty}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let loc = start_upload(&r, "n2").await;
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest={empty}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        for repo in ["n", "n2"] {
            let resp = r
                .client
                .get(r.url(&format!("/v2/{repo}/blobs/{empty}")))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(header(&resp, "content-length"), "0");
        }

        let image = image_manifest(&r, "n", OCI_MANIFEST, "nested").await;
        let image_digest = sha256(&image);
        assert_eq!(
            put_manifest(&r, "n", &image_digest, OCI_MANIFEST, &image)
                .await
                .status(),
            201
        );
        let index = |child: &str, size: usize, media_type: &str| {
            serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [{"mediaType": media_type, "digest": child, "size": size,
                               "platform": {"architecture": "amd64", "os": "linux"}}],
            })
            .to_string()
            .into_bytes()
        };
        let inner = index(&image_digest, image.len(), OCI_MANIFEST);
        let inner_digest = sha256(&inner);
        assert_eq!(
            put_manifest(&r, "n", &inner_digest, OCI_INDEX, &inner)
                .await
                .status(),
            201
        );
        let outer = index(&inner_digest, inner.len(), OCI_INDEX);
        let resp = put_manifest(&r, "n", "nested", OCI_INDEX, &outer).await;
        assert_eq!(
            resp.status(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        let resp = get_manifest(&r, "n", "nested").await;
        assert_eq!(header(&resp, "content-type"), OCI_INDEX);
        assert_eq!(resp.bytes().await.unwrap(), outer);
        // An outer index whose child index is missing is refused.
        let dangling = index(&sha256(b"no such index"), 10, OCI_INDEX);
        let resp = put_manifest(&r, "n", "dangling", OCI_INDEX, &dangling).await;
        assert_eq!(error_codes(resp).await, ["MANIFEST_BLOB_UNKNOWN"]);
        r.stop().await;
    }
}
