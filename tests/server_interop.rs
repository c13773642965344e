//! Interoperability of the storage: a tree written by `registry:2` is served
//! as is, uploads continue across registry instances, and the kept upload
//! hash state spares the read-back.
#![cfg(feature = "server")]

mod server_support;

use server_support::registry_layout as paths;
use server_support::*;

#[tokio::test]
async fn upload_resumed_by_another_registry_instance() {
    // Two registries over one storage: the second has no in-memory hash state
    // and must re-read the data to verify the digest.
    let (driver, _dir) = driver_for(Backend::Filesystem);
    let cfg = config("");
    let a = start_with(&cfg, driver.clone()).await;
    let b = start_with(&cfg, driver).await;
    let resp = a
        .client
        .post(a.url("/v2/x/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = header(&resp, "location");
    a.client
        .patch(a.url(&loc))
        .body(vec![1u8; 5000])
        .send()
        .await
        .unwrap();
    b.client
        .patch(b.url(&loc))
        .body(vec![2u8; 5000])
        .send()
        .await
        .unwrap();
    let mut data = vec![1u8; 5000];
    data.extend(vec![2u8; 5000]);
    let bad = sha256(b"something else");
    let resp = a
        .client
        .put(a.url(&format!("{loc}?digest={}", sha256(&data))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let got = b
        .client
        .get(b.url(&format!("/v2/x/blobs/{}", sha256(&data))))
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap(), data);
    // And a wrong digest is still caught on the re-read path.
    let resp = b
        .client
        .post(b.url("/v2/x/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = header(&resp, "location");
    a.client
        .patch(a.url(&loc))
        .body(vec![3u8; 10])
        .send()
        .await
        .unwrap();
    let resp = b
        .client
        .put(b.url(&format!("{loc}?digest={bad}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    a.stop().await;
    b.stop().await;
}

/// A tree as `registry:2` leaves it (including an upload in progress with its
/// `hashstates`) is served as is, and the upload can be finished here.
#[tokio::test]
async fn serves_a_tree_written_by_registry2() {
    use bytes::Bytes;
    let (driver, dir) = driver_for(Backend::Filesystem);
    let put = |path: String, data: Vec<u8>| {
        let driver = driver.clone();
        async move { driver.put_content(&path, Bytes::from(data)).await.unwrap() }
    };
    let layer = b"layer written by registry:2".to_vec();
    let cfg_blob = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let (ld, cd) = (sha256(&layer), sha256(&cfg_blob));
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd, "size": cfg_blob.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": ld, "size": layer.len()}]})
    .to_string()
    .into_bytes();
    let md = sha256(&manifest);
    for (d, data) in [(&ld, &layer), (&cd, &cfg_blob), (&md, &manifest)] {
        put(paths::blob_data(d), data.clone()).await;
    }
    for d in [&ld, &cd] {
        put(
            paths::layer_link("library/old", d),
            d.to_string().into_bytes(),
        )
        .await;
    }
    put(
        paths::manifest_revision_link("library/old", &md),
        md.to_string().into_bytes(),
    )
    .await;
    put(
        paths::tag_index_link("library/old", "2.0", &md),
        md.to_string().into_bytes(),
    )
    .await;
    put(
        paths::tag_current_link("library/old", "2.0"),
        md.to_string().into_bytes(),
    )
    .await;
    // An unfinished upload: 10 bytes, its start time and a Go hash state.
    let id = "6f1e8a84-3c2e-4a6e-9d43-2f3b1f0c9a11";
    put(
        paths::upload_data("library/old", id),
        b"0123456789".to_vec(),
    )
    .await;
    put(
        paths::upload_started_at("library/old", id),
        b"2024-05-01T10:00:00Z".to_vec(),
    )
    .await;
    put(
        format!("{}/hashstates/sha256/10", paths::upload("library/old", id)),
        b"sha\x03opaque".to_vec(),
    )
    .await;

    let mut r = start_with(&config(""), driver.clone()).await;
    r.dir = dir;
    let resp = get_manifest(&r, "library/old", "2.0").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), DOCKER_MANIFEST);
    assert_eq!(resp.bytes().await.unwrap(), manifest);
    let resp = r
        .client
        .get(r.url(&format!("/v2/library/old/blobs/{ld}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap(), layer);
    let tags = r
        .client
        .get(r.url("/v2/library/old/tags/list"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(tags["tags"], serde_json::json!(["2.0"]));
    let cat = r
        .client
        .get(r.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(cat["repositories"], serde_json::json!(["library/old"]));

    let loc = format!("/v2/library/old/blobs/uploads/{id}");
    let resp = r.client.get(r.url(&loc)).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "range"), "0-9");
    let resp = r
        .client
        .patch(r.url(&loc))
        .header("Content-Range", "10-14")
        .body(b"abcde".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let d = sha256(b"0123456789abcde");
    let resp = r
        .client
        .put(r.url(&format!("{loc}?digest={d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert!(
        r.driver()
            .stat(&paths::upload("library/old", id))
            .await
            .is_err(),
        "hashstates removed with the upload"
    );
    let got = r
        .client
        .get(r.url(&format!("/v2/library/old/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap(), &b"0123456789abcde"[..]);
    r.stop().await;
}

/// Completing a chunked upload written through this process does not read the
/// data back; a sha512 digest (or a missing hash state) does.
#[tokio::test]
async fn upload_digest_uses_the_kept_hash_state() {
    use std::sync::atomic::Ordering;
    let td = std::sync::Arc::new(TestDriver::new());
    let r = start_with(&config(""), td.clone()).await;
    let upload = |chunks: Vec<Vec<u8>>| {
        let r = &r;
        async move {
            let loc = start_upload(r, "h").await;
            for c in chunks {
                assert_eq!(
                    r.client
                        .patch(r.url(&loc))
                        .body(c)
                        .send()
                        .await
                        .unwrap()
                        .status(),
                    202
                );
            }
            loc
        }
    };
    let loc = upload(vec![vec![1; 100], vec![2; 100]]).await;
    let mut all = vec![1u8; 100];
    all.extend([2u8; 100]);
    let resp = r
        .client
        .put(r.url(&format!("{loc}?digest={}", sha256(&all))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        td.readers.load(Ordering::SeqCst),
        0,
        "no read-back for sha256"
    );
    let loc = upload(vec![vec![3; 10]]).await;
    let d512 = paths::sha512_digest(&[3; 10]);
    let resp = r
        .client
        .put(r.url(&format!("{loc}?digest={d512}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        td.readers.load(Ordering::SeqCst),
        1,
        "sha512 is verified by reading back"
    );
    r.stop().await;
}
