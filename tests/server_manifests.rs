//! Manifests, tags, catalog, referrers and deletes over HTTP, on the in-memory
//! and filesystem drivers.
#![cfg(feature = "server")]

mod server_support;

use server_support::registry_layout as paths;
use server_support::*;

#[tokio::test]
async fn oci_and_docker_manifests_by_tag_and_digest() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        for (tag, media_type) in [("oci", OCI_MANIFEST), ("docker", DOCKER_MANIFEST)] {
            let body = image_manifest(&r, "img", media_type, tag).await;
            let d = sha256(&body);
            let resp = put_manifest(&r, "img", tag, media_type, &body).await;
            assert_eq!(
                resp.status(),
                201,
                "{backend:?} {tag}: {}",
                resp.text().await.unwrap()
            );
            let resp = put_manifest(&r, "img", tag, media_type, &body).await;
            assert_eq!(resp.status(), 201, "putting the same manifest again");
            assert_eq!(header(&resp, "location"), format!("/v2/img/manifests/{d}"));
            assert_eq!(header(&resp, "docker-content-digest"), d);
            for reference in [tag, d.as_str()] {
                let resp = get_manifest(&r, "img", reference).await;
                assert_eq!(resp.status(), 200);
                assert_eq!(header(&resp, "content-type"), media_type);
                assert_eq!(header(&resp, "docker-content-digest"), d);
                assert_eq!(header(&resp, "etag"), format!("\"{d}\""));
                assert_eq!(header(&resp, "content-length"), body.len().to_string());
                assert_eq!(resp.bytes().await.unwrap(), body);
            }
            let resp = r
                .client
                .head(r.url(&format!("/v2/img/manifests/{tag}")))
                .header("Accept", ACCEPT_ALL)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(header(&resp, "content-length"), body.len().to_string());
            assert!(resp.bytes().await.unwrap().is_empty());
            let resp = r
                .client
                .get(r.url(&format!("/v2/img/manifests/{tag}")))
                .header("If-None-Match", format!("\"{d}\""))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 304);
            // The registry:2 layout.
            let drv = r.driver();
            assert_eq!(drv.get_content(&paths::blob_data(&d)).await.unwrap(), body);
            for link in [
                paths::manifest_revision_link("img", &d),
                paths::tag_current_link("img", tag),
                paths::tag_index_link("img", tag, &d),
            ] {
                assert_eq!(
                    drv.get_content(&link).await.unwrap(),
                    d.as_bytes(),
                    "{link}"
                );
            }
        }
        // A client that does not accept OCI manifests does not get one.
        let resp = r
            .client
            .get(r.url("/v2/img/manifests/oci"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(error_codes(resp).await, ["MANIFEST_UNKNOWN"]);
        // A Docker manifest is served whatever the Accept header says.
        let resp = r
            .client
            .get(r.url("/v2/img/manifests/docker"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let resp = get_manifest(&r, "img", "nope").await;
        assert_eq!(resp.status(), 404);
        assert_eq!(error_codes(resp).await, ["MANIFEST_UNKNOWN"]);
        let resp = get_manifest(&r, "img", &sha256(b"unknown")).await;
        assert_eq!(error_codes(resp).await, ["MANIFEST_UNKNOWN"]);
        r.stop().await;
    }
}

#[tokio::test]
async fn manifest_put_errors() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let body = image_manifest(&r, "img", OCI_MANIFEST, "x").await;
        // References blobs this repository lacks.
        let resp = put_manifest(&r, "other", "v1", OCI_MANIFEST, &body).await;
        assert_eq!(resp.status(), 400);
        let v = resp.json_value().await;
        let codes: Vec<&str> = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        // The check stops at the first missing reference (bounded cost).
        assert_eq!(codes, ["MANIFEST_BLOB_UNKNOWN"]);
        let m: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let referenced = [
            &m["config"]["digest"],
            &m["layers"][0]["digest"],
            &m["layers"][1]["digest"],
        ];
        assert!(referenced.contains(&&v["errors"][0]["detail"]), "{v}");
        // Digest reference that does not match the payload.
        let resp = put_manifest(&r, "img", &sha256(b"other"), OCI_MANIFEST, &body).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["DIGEST_INVALID"]);
        // By the right digest it works.
        let resp = put_manifest(&r, "img", &sha256(&body), OCI_MANIFEST, &body).await;
        assert_eq!(resp.status(), 201);
        // Bad JSON, bad media type, media type mismatch, bad tag.
        let resp = put_manifest(&r, "img", "v1", OCI_MANIFEST, b"{not json").await;
        assert_eq!(error_codes(resp).await, ["MANIFEST_INVALID"]);
        let resp = put_manifest(&r, "img", "v1", "text/plain", &body).await;
        assert_eq!(error_codes(resp).await, ["MANIFEST_INVALID"]);
        let resp = put_manifest(&r, "img", "v1", DOCKER_MANIFEST, &body).await;
        assert_eq!(error_codes(resp).await, ["MANIFEST_INVALID"]);
        let resp = put_manifest(&r, "img", ".bad", OCI_MANIFEST, &body).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["TAG_INVALID"]);
        let resp = put_manifest(&r, "img", "v1", OCI_MANIFEST, &vec![b' '; 5 * 1024 * 1024]).await;
        assert_eq!(error_codes(resp).await, ["MANIFEST_INVALID"]);
        // A manifest whose layer digest is malformed.
        let bad = br#"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:xyz","size":1},"layers":[]}"#;
        let resp = put_manifest(&r, "img", "v1", OCI_MANIFEST, bad).await;
        assert_eq!(
            error_codes(resp).await,
            ["DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN"]
        );
        r.stop().await;
    }
}

#[tokio::test]
async fn indexes_and_manifest_lists() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let amd = image_manifest(&r, "multi", DOCKER_MANIFEST, "amd64").await;
        let arm = image_manifest(&r, "multi", DOCKER_MANIFEST, "arm64").await;
        for (tag, body) in [("amd", &amd), ("arm", &arm)] {
            assert_eq!(
                put_manifest(&r, "multi", tag, DOCKER_MANIFEST, body)
                    .await
                    .status(),
                201
            );
        }
        let entry = |body: &Vec<u8>, arch: &str| {
            serde_json::json!({"mediaType": DOCKER_MANIFEST, "digest": sha256(body), "size": body.len(),
                "platform": {"architecture": arch, "os": "linux"}})
        };
        let list = serde_json::json!({"schemaVersion": 2, "mediaType": DOCKER_LIST,
            "manifests": [entry(&arm, "arm64"), entry(&amd, "amd64")]})
        .to_string()
        .into_bytes();
        let resp = put_manifest(&r, "multi", "latest", DOCKER_LIST, &list).await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        let resp = get_manifest(&r, "multi", "latest").await;
        assert_eq!(header(&resp, "content-type"), DOCKER_LIST);
        assert_eq!(resp.bytes().await.unwrap(), list);
        // An old client that only takes schema 2 gets the linux/amd64 image.
        let resp = r
            .client
            .get(r.url("/v2/multi/manifests/latest"))
            .header("Accept", DOCKER_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "docker-content-digest"), sha256(&amd));
        assert_eq!(resp.bytes().await.unwrap(), amd);

        let oci = image_manifest(&r, "multi", OCI_MANIFEST, "oci").await;
        assert_eq!(
            put_manifest(&r, "multi", "o", OCI_MANIFEST, &oci)
                .await
                .status(),
            201
        );
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256(&oci), "size": oci.len()}]})
        .to_string()
        .into_bytes();
        let resp = put_manifest(&r, "multi", "idx", OCI_INDEX, &index).await;
        assert_eq!(resp.status(), 201);
        let resp = get_manifest(&r, "multi", "idx").await;
        assert_eq!(header(&resp, "content-type"), OCI_INDEX);
        let resp = r
            .client
            .get(r.url("/v2/multi/manifests/idx"))
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(error_codes(resp).await, ["MANIFEST_UNKNOWN"]);
        // Children must exist in the repository.
        let resp = put_manifest(&r, "elsewhere", "idx", OCI_INDEX, &index).await;
        assert_eq!(error_codes(resp).await, ["MANIFEST_BLOB_UNKNOWN"]);
        r.stop().await;
    }
}

#[tokio::test]
async fn tag_listing_with_pagination() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let body = image_manifest(&r, "t", OCI_MANIFEST, "x").await;
        for tag in ["v3", "v1", "latest", "v2", "v10"] {
            assert_eq!(
                put_manifest(&r, "t", tag, OCI_MANIFEST, &body)
                    .await
                    .status(),
                201
            );
        }
        let resp = r.client.get(r.url("/v2/t/tags/list")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(header(&resp, "link").is_empty());
        let v = resp.json_value().await;
        assert_eq!(
            v,
            serde_json::json!({"name": "t", "tags": ["latest", "v1", "v10", "v2", "v3"]})
        );
        let resp = r
            .client
            .get(r.url("/v2/t/tags/list?n=2"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&resp, "link"),
            "</v2/t/tags/list?last=v1&n=2>; rel=\"next\""
        );
        assert_eq!(
            resp.json_value().await["tags"],
            serde_json::json!(["latest", "v1"])
        );
        let resp = r
            .client
            .get(r.url("/v2/t/tags/list?n=2&last=v1"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&resp, "link"),
            "</v2/t/tags/list?last=v2&n=2>; rel=\"next\""
        );
        assert_eq!(
            resp.json_value().await["tags"],
            serde_json::json!(["v10", "v2"])
        );
        let resp = r
            .client
            .get(r.url("/v2/t/tags/list?n=2&last=v2"))
            .send()
            .await
            .unwrap();
        assert!(header(&resp, "link").is_empty(), "last page");
        assert_eq!(resp.json_value().await["tags"], serde_json::json!(["v3"]));
        let resp = r
            .client
            .get(r.url("/v2/t/tags/list?n=0"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.json_value().await["tags"], serde_json::json!([]));
        let resp = r
            .client
            .get(r.url("/v2/t/tags/list?n=-1"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["PAGINATION_NUMBER_INVALID"]);
        let resp = r
            .client
            .get(r.url("/v2/nothing/tags/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(error_codes(resp).await, ["NAME_UNKNOWN"]);
        r.stop().await;
    }
}

#[tokio::test]
async fn catalog_with_pagination() {
    for backend in BACKENDS {
        let r = start(backend, "catalog:\n  maxentries: 3\n").await;
        let resp = r.client.get(r.url("/v2/_catalog")).send().await.unwrap();
        assert_eq!(
            resp.json_value().await,
            serde_json::json!({"repositories": []})
        );
        for repo in ["b", "a", "a/sub", "a-b", "c/d/e"] {
            push_blob(&r, repo, repo.as_bytes()).await;
        }
        // Uploads in progress do not make a repository appear twice.
        r.client
            .post(r.url("/v2/a/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        let resp = r.client.get(r.url("/v2/_catalog")).send().await.unwrap();
        assert_eq!(
            header(&resp, "link"),
            "</v2/_catalog?last=a-b&n=3>; rel=\"next\""
        );
        assert_eq!(
            resp.json_value().await["repositories"],
            serde_json::json!(["a", "a/sub", "a-b"])
        );
        let mut all = Vec::new();
        let mut next = "/v2/_catalog?n=2".to_owned();
        loop {
            let resp = r.client.get(r.url(&next)).send().await.unwrap();
            let link = header(&resp, "link");
            let v = resp.json_value().await;
            all.extend(
                v["repositories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_owned()),
            );
            if link.is_empty() {
                break;
            }
            next = link
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned();
        }
        assert_eq!(all, ["a", "a/sub", "a-b", "b", "c/d/e"]);
        let resp = r
            .client
            .get(r.url("/v2/_catalog?n=4"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_codes(resp).await, ["PAGINATION_NUMBER_INVALID"]);
        let resp = r
            .client
            .get(r.url("/v2/_catalog?last=b"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.json_value().await["repositories"],
            serde_json::json!(["c/d/e"])
        );
        // A `last` that is no repository name still filters.
        let resp = r
            .client
            .get(r.url("/v2/_catalog?last=B%2F..%2F%2F"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.json_value().await["repositories"],
            serde_json::json!(["a", "a/sub", "a-b"])
        );
        r.stop().await;
    }
}

#[tokio::test]
async fn manifest_deletes() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let body = image_manifest(&r, "d", OCI_MANIFEST, "x").await;
        put_manifest(&r, "d", "v1", OCI_MANIFEST, &body).await;
        let resp = r
            .client
            .delete(r.url("/v2/d/manifests/v1"))
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
        let body = image_manifest(&r, "d", OCI_MANIFEST, "x").await;
        let d = sha256(&body);
        for tag in ["v1", "v2", "keep"] {
            put_manifest(&r, "d", tag, OCI_MANIFEST, &body).await;
        }
        let other = image_manifest(&r, "d", OCI_MANIFEST, "y").await;
        put_manifest(&r, "d", "keep", OCI_MANIFEST, &other).await;
        // By tag: only the tag goes.
        let resp = r
            .client
            .delete(r.url("/v2/d/manifests/v1"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "{backend:?}");
        assert_eq!(get_manifest(&r, "d", "v1").await.status(), 404);
        assert_eq!(get_manifest(&r, "d", &d).await.status(), 200);
        let resp = r
            .client
            .delete(r.url("/v2/d/manifests/v1"))
            .send()
            .await
            .unwrap();
        assert_eq!(error_codes(resp).await, ["MANIFEST_UNKNOWN"]);
        // By digest: the revision and the tags pointing at it go.
        let resp = r
            .client
            .delete(r.url(&format!("/v2/d/manifests/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        assert_eq!(get_manifest(&r, "d", &d).await.status(), 404);
        assert_eq!(get_manifest(&r, "d", "v2").await.status(), 404);
        assert_eq!(get_manifest(&r, "d", "keep").await.status(), 200);
        let tags = r
            .client
            .get(r.url("/v2/d/tags/list"))
            .send()
            .await
            .unwrap()
            .json_value()
            .await;
        assert_eq!(tags["tags"], serde_json::json!(["keep"]));
        let resp = r
            .client
            .delete(r.url(&format!("/v2/d/manifests/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(error_codes(resp).await, ["MANIFEST_UNKNOWN"]);
        r.stop().await;
    }
}

#[tokio::test]
async fn referrers_api() {
    for backend in BACKENDS {
        let r = start(backend, "").await;
        let body = image_manifest(&r, "app", OCI_MANIFEST, "x").await;
        let subject = sha256(&body);
        put_manifest(&r, "app", "v1", OCI_MANIFEST, &body).await;
        let empty = push_blob(&r, "app", b"{}").await;
        let artifact = |at: &str, note: &str| {
            serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": at,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
                "layers": [],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": body.len()},
                "annotations": {"note": note}})
            .to_string()
            .into_bytes()
        };
        let sig = artifact("application/vnd.example.sig", "s");
        let sbom = artifact("application/vnd.example.sbom", "b");
        for a in [&sig, &sbom] {
            let resp = put_manifest(&r, "app", &sha256(a), OCI_MANIFEST, a).await;
            assert_eq!(resp.status(), 201);
            assert_eq!(header(&resp, "oci-subject"), subject);
        }
        let resp = r
            .client
            .get(r.url(&format!("/v2/app/referrers/{subject}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "content-type"), OCI_INDEX);
        let v = resp.json_value().await;
        assert_eq!(v["mediaType"], OCI_INDEX);
        let mut found: Vec<(String, String)> = v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["digest"].as_str().unwrap().to_owned(),
                    m["artifactType"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        found.sort();
        let mut want = vec![
            (sha256(&sig), "application/vnd.example.sig".to_owned()),
            (sha256(&sbom), "application/vnd.example.sbom".to_owned()),
        ];
        want.sort();
        assert_eq!(found, want);
        let resp = r
            .client
            .get(r.url(&format!(
                "/v2/app/referrers/{subject}?artifactType=application/vnd.example.sig"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(header(&resp, "oci-filters-applied"), "artifactType");
        let v = resp.json_value().await;
        assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(v["manifests"][0]["annotations"]["note"], "s");
        assert_eq!(v["manifests"][0]["size"], sig.len());
        let resp = r
            .client
            .get(r.url(&format!("/v2/none/referrers/{subject}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.json_value().await["manifests"], serde_json::json!([]));
        r.stop().await;
    }
}
