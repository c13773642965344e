//! End to end with a real client: `skopeo` pushes a multi-layer OCI image made
//! on disk by this test to the registry (filesystem storage, htpasswd auth,
//! deletes on), pulls it back, converts it to Docker schema 2, lists tags and
//! deletes it. The digests must survive the round trip unchanged.
//!
//! The same push and pull also runs on the S3 driver over signature-verifying S3 servers
//! (in-process s3s-fs, and Swift's s3api when running), configured by a registry:2 YAML file.
//!
//! Needs `skopeo` (Debian package `skopeo`). Without it the test prints a skip
//! line and passes, unless `S3DRIVER_REQUIRE_SKOPEO=1`, which makes it fail.
#![cfg(feature = "server")]

mod common;
mod server_support;

use std::path::Path;
use std::sync::Arc;

use server_support::images::{gzip_stored, tar};
use server_support::skopeo::{available as skopeo_available, run as skopeo};
use server_support::*;

fn write_blob(layout: &Path, data: &[u8]) -> String {
    let d = sha256(data);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&d["sha256:".len()..]), data).unwrap();
    d
}

/// Writes an OCI image layout with one image of three gzip layers tagged `v1`;
/// returns the manifest bytes.
fn make_layout(layout: &Path) -> Vec<u8> {
    let big: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let layers = [
        tar(&[("etc/hello.txt", b"hello from layer one\n".to_vec())]),
        tar(&[("usr/share/big.bin", big)]),
        tar(&[
            ("etc/hello.txt", b"overwritten in layer three\n".to_vec()),
            ("tmp/x", vec![]),
        ]),
    ];
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in &layers {
        diff_ids.push(sha256(l));
        let gz = gzip_stored(l);
        let d = write_blob(layout, &gz);
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": gz.len()}));
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes();
    let cd = write_blob(layout, &config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": descs,
    })
    .to_string()
    .into_bytes();
    let md = write_blob(layout, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": md, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    manifest
}

#[tokio::test]
async fn skopeo_push_pull_convert_delete() {
    if !skopeo_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let manifest = make_layout(&src);
    let manifest_digest = sha256(&manifest);

    let htpasswd = work.path().join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("pusher:{}\n", bcrypt::hash("pw", 4).unwrap()),
    )
    .unwrap();
    let (driver, dir) = driver_for(Backend::Filesystem);
    let cfg = config_with_storage(
        "  delete:\n    enabled: true\n",
        &format!(
            "auth:\n  htpasswd:\n    realm: e2e\n    path: {}\n",
            htpasswd.display()
        ),
    );
    let mut r = start_with(&cfg, Arc::clone(&driver)).await;
    r.dir = dir;
    let host = r.base.trim_start_matches("http://").to_owned();
    let creds = "pusher:pw";

    skopeo(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/e2e/app:v1"),
    ])
    .await;
    // Stored in the registry:2 layout.
    let root = r
        .dir
        .as_ref()
        .unwrap()
        .path()
        .join("registry/docker/registry/v2");
    let current =
        std::fs::read_to_string(root.join("repositories/e2e/app/_manifests/tags/v1/current/link"))
            .unwrap();
    assert_eq!(current, manifest_digest);

    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        creds,
        &format!("docker://{host}/e2e/app:v1"),
    ])
    .await;
    assert_eq!(
        raw.as_bytes(),
        &manifest[..],
        "the manifest is served byte for byte"
    );

    let dst = work.path().join("dst");
    skopeo(&[
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--src-creds",
        creds,
        &format!("docker://{host}/e2e/app:v1"),
        &format!("oci:{}:v1", dst.display()),
    ])
    .await;
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dst.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], manifest_digest.as_str());
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    for layer in m["layers"].as_array().unwrap().iter().chain([&m["config"]]) {
        let d = layer["digest"].as_str().unwrap();
        let a = std::fs::read(src.join("blobs/sha256").join(&d[7..])).unwrap();
        let b = std::fs::read(dst.join("blobs/sha256").join(&d[7..])).unwrap();
        assert_eq!(a, b, "blob {d} round-trips");
    }

    // Docker schema 2 conversion, a second tag and repository.
    skopeo(&[
        "copy",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/e2e/docker:v2"),
    ])
    .await;
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        creds,
        &format!("docker://{host}/e2e/docker:v2"),
    ])
    .await;
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["mediaType"], DOCKER_MANIFEST);
    let back = work.path().join("back");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        creds,
        &format!("docker://{host}/e2e/docker:v2"),
        &format!("dir:{}", back.display()),
    ])
    .await;
    assert_eq!(
        std::fs::read(back.join("manifest.json")).unwrap(),
        raw.as_bytes()
    );

    let tags = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        "--creds",
        creds,
        &format!("docker://{host}/e2e/app"),
    ])
    .await;
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["v1"]));
    let catalog = r
        .client
        .get(r.url("/v2/_catalog"))
        .basic_auth("pusher", Some("pw"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["e2e/app", "e2e/docker"])
    );

    // Wrong credentials are refused.
    let out = tokio::process::Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            "pusher:nope",
            &format!("docker://{host}/e2e/app:v1"),
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());

    skopeo(&[
        "delete",
        "--tls-verify=false",
        "--creds",
        creds,
        &format!("docker://{host}/e2e/app:v1"),
    ])
    .await;
    let resp = r
        .client
        .get(r.url(&format!("/v2/e2e/app/manifests/{manifest_digest}")))
        .basic_auth("pusher", Some("pw"))
        .header("Accept", ACCEPT_ALL)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    r.stop().await;
}

/// Push and pull through a registry whose storage is the S3 driver, configured by the
/// registry:2 YAML a user would write; returns the blobs the bucket holds afterwards.
async fn push_pull_on_s3(target: common::S3Target, bucket: &str) -> Vec<String> {
    push_pull_on_s3_with(target, bucket, "").await
}

/// As [`push_pull_on_s3`], with `extra` lines added to the `storage.s3` section.
async fn push_pull_on_s3_with(target: common::S3Target, bucket: &str, extra: &str) -> Vec<String> {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let manifest = make_layout(&src);
    let manifest_digest = sha256(&manifest);
    let yaml = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /s3root\n    chunksize: 5242880\n{extra}  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n",
        target.access_key, target.secret_key, target.region, target.endpoint
    );
    let cfg = s3driver::config::Config::from_yaml(&yaml, &[]).expect("registry:2 config");
    let app = s3driver::server::App::from_config(&cfg).expect("app on the s3 driver");
    let r = start_app(app).await;
    assert_eq!(r.driver().name(), "s3aws");
    let host = r.base.trim_start_matches("http://").to_owned();
    skopeo(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/s3/app:v1"),
    ])
    .await;
    let current = r
        .driver()
        .get_content("/docker/registry/v2/repositories/s3/app/_manifests/tags/v1/current/link")
        .await
        .unwrap();
    assert_eq!(current.as_ref(), manifest_digest.as_bytes());

    // A blob GET is redirected to a presigned URL on the S3 server, which serves the blob.
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layer = m["layers"][1]["digest"].as_str().unwrap().to_owned();
    let resp = r
        .client
        .get(r.url(&format!("/v2/s3/app/blobs/{layer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 307);
    let location = header(&resp, "location");
    assert!(location.starts_with(&target.endpoint), "{location}");
    let blob = common::http_client().get(&location).send().await.unwrap();
    assert_eq!(blob.status(), 200);
    let blob = blob.bytes().await.unwrap();
    assert_eq!(sha256(&blob), layer);

    let dst = work.path().join("dst");
    skopeo(&[
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        &format!("docker://{host}/s3/app:v1"),
        &format!("oci:{}:v1", dst.display()),
    ])
    .await;
    for d in m["layers"].as_array().unwrap().iter().chain([&m["config"]]) {
        let d = d["digest"].as_str().unwrap();
        let a = std::fs::read(src.join("blobs/sha256").join(&d[7..])).unwrap();
        let b = std::fs::read(dst.join("blobs/sha256").join(&d[7..])).unwrap();
        assert_eq!(a, b, "blob {d} round-trips through S3");
    }
    let mut blobs = Vec::new();
    r.driver()
        .walk(
            "/docker/registry/v2/blobs",
            &mut |fi: &s3driver::driver::FileInfo| {
                if !fi.is_dir {
                    blobs.push(fi.path.clone());
                }
                Ok(s3driver::driver::WalkControl::Continue)
            },
            s3driver::driver::WalkOptions::default(),
        )
        .await
        .unwrap();
    r.stop().await;
    blobs.sort();
    blobs
}

#[tokio::test]
async fn skopeo_push_pull_on_s3_driver_over_s3s_fs() {
    if !skopeo_available() {
        return;
    }
    let server = common::S3sServer::start().await;
    server.create_bucket("registry");
    let blobs = push_pull_on_s3(server.target(), "registry").await;
    // Three layers, the config and the manifest, in registry:2's layout under the root.
    assert_eq!(blobs.len(), 5, "{blobs:?}");
    assert!(blobs
        .iter()
        .all(|b| b.starts_with("/docker/registry/v2/blobs/sha256/") && b.ends_with("/data")));
    assert!(server
        .object_path("registry", "s3root/docker/registry/v2/blobs")
        .exists());
}

#[tokio::test]
async fn skopeo_push_pull_on_s3_driver_over_swift() {
    skopeo_push_pull_on(&common::SWIFT).await;
}

#[tokio::test]
async fn skopeo_push_pull_on_s3_driver_over_ceph() {
    skopeo_push_pull_on(&common::CEPH).await;
}

#[tokio::test]
async fn skopeo_push_pull_on_s3_driver_over_ceph_with_sigv2() {
    skopeo_push_pull_on_with(&common::CEPH, "    v4auth: false\n").await;
}

async fn skopeo_push_pull_on(spec: &'static common::external::ServerSpec) {
    skopeo_push_pull_on_with(spec, "").await;
}

async fn skopeo_push_pull_on_with(spec: &'static common::external::ServerSpec, extra: &str) {
    if !skopeo_available() {
        return;
    }
    let Some(server) = common::server_or_skip(spec) else {
        return;
    };
    let bucket = common::unique_bucket_name("e2e");
    server.create_bucket(&bucket).await;
    let blobs = push_pull_on_s3_with(server.target(), &bucket, extra).await;
    assert_eq!(blobs.len(), 5, "{blobs:?}");
}

/// The registry:2 YAML of a registry on `target`/`bucket` (root `/ro`), with `extra` top-level
/// sections.
fn s3_yaml(target: &common::S3Target, bucket: &str, extra: &str) -> String {
    format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /ro\n    chunksize: 5242880\n  redirect:\n    disable: true\n{extra}http:\n  addr: 127.0.0.1:0\n",
        target.access_key, target.secret_key, target.region, target.endpoint
    )
}

/// A pull-only host: an image pushed through a read-write registry is pulled with skopeo
/// through a read-only one (`storage.maintenance.readonly.enabled`, upload purging and the
/// storage health check on) whose S3 requests pass through a proxy that refuses every write.
/// The read-only registry serves the pull and never asks S3 for a write.
async fn pull_through_a_read_only_registry(
    writer: common::S3Target,
    reader: common::S3Target,
    upstream: std::net::SocketAddr,
    bucket: &str,
) {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let manifest = make_layout(&src);
    let cfg = s3driver::config::Config::from_yaml(&s3_yaml(&writer, bucket, ""), &[]).unwrap();
    let rw = start_app(s3driver::server::App::from_config(&cfg).unwrap()).await;
    let host = rw.base.trim_start_matches("http://").to_owned();
    skopeo(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/pull/only:v1"),
    ])
    .await;
    rw.stop().await;

    let mut plan = common::FaultPlan::new();
    for method in ["PUT", "POST", "DELETE"] {
        plan = plan.rule(
            common::FaultRule::new(common::Fault::status(403, "AccessDenied", "Access Denied"))
                .method(method)
                .times(usize::MAX),
        );
    }
    let proxy = common::FaultProxy::start(upstream, plan).await;
    let read_only = "  maintenance:\n    readonly:\n      enabled: true\n    uploadpurging:\n      enabled: true\n      age: 1s\n      interval: 1s\n";
    let health =
        "health:\n  storagedriver:\n    enabled: true\n    interval: 200ms\n    threshold: 1\n";
    let yaml = s3_yaml(&reader.via(&proxy.endpoint()), bucket, health)
        .replace("  redirect:\n", &format!("{read_only}  redirect:\n"));
    let cfg = s3driver::config::Config::from_yaml(&yaml, &[]).unwrap();
    assert!(cfg.storage.read_only, "{yaml}");
    let ro = start_app(s3driver::server::App::from_config(&cfg).unwrap()).await;
    let host = ro.base.trim_start_matches("http://").to_owned();
    let dst = work.path().join("dst");
    skopeo(&[
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        &format!("docker://{host}/pull/only:v1"),
        &format!("oci:{}:v1", dst.display()),
    ])
    .await;
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    for d in m["layers"].as_array().unwrap().iter().chain([&m["config"]]) {
        let d = d["digest"].as_str().unwrap();
        let a = std::fs::read(src.join("blobs/sha256").join(&d[7..])).unwrap();
        let b = std::fs::read(dst.join("blobs/sha256").join(&d[7..])).unwrap();
        assert_eq!(a, b, "blob {d}");
    }
    // A push is refused by the registry itself, before any S3 request.
    let resp = ro
        .client
        .post(ro.url("/v2/pull/only/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert!(
        ro.app.health_status().is_empty(),
        "{:?}",
        ro.app.health_status()
    );
    ro.stop().await;
    let writes: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|r| !matches!(r.method.as_str(), "GET" | "HEAD"))
        .collect();
    assert!(
        writes.is_empty(),
        "the read-only registry asked S3 for writes: {writes:?}"
    );
    assert!(proxy.requests_seen() > 0);
}

#[tokio::test]
async fn pull_only_host_on_s3s_fs() {
    if !skopeo_available() {
        return;
    }
    let server = common::S3sServer::start().await;
    server.create_bucket("pullonly");
    pull_through_a_read_only_registry(server.target(), server.target(), server.addr(), "pullonly")
        .await;
}

/// The same with the pull-only host's own credentials: a Ceph RGW user whose bucket policy is
/// the seeds' pull-only IAM policy.
#[tokio::test]
async fn pull_only_host_on_ceph_with_a_pull_only_user() {
    if !skopeo_available() {
        return;
    }
    let Some(ceph) = common::ceph_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("pullonly");
    ceph.create_bucket(&bucket).await;
    let reader = ceph.pull_only_reader(&bucket).await;
    let upstream = ceph
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    pull_through_a_read_only_registry(ceph.target(), reader, upstream, &bucket).await;
}

/// Operations parity with registry:2 (the binary, as operators run it): with
/// `http.debug.addr` and `http.debug.prometheus.enabled`, a debug listener serves
/// `/debug/health`, `/debug/vars` and the metrics, whose counters move with a skopeo push to
/// the S3 driver; `log.formatter: json` writes logrus lines with registry:2's request fields
/// and `log.fields`; the access log goes to standard output in the combined format.
#[tokio::test]
async fn metrics_and_registry2_logs_after_a_skopeo_push() {
    if !skopeo_available() {
        return;
    }
    let server = common::S3sServer::start().await;
    server.create_bucket("observed");
    let target = server.target();
    let work = tempfile::tempdir().unwrap();
    let yaml = format!(
        "version: 0.1\nlog:\n  level: info\n  formatter: json\n  fields:\n    service: registry\n    environment: ci\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: observed\n    chunksize: 5242880\n  redirect:\n    disable: true\nhttp:\n  addr: 127.0.0.1:0\n  debug:\n    addr: 127.0.0.1:0\n    prometheus:\n      enabled: true\n      path: /metrics\n",
        target.access_key, target.secret_key, target.region, target.endpoint
    );
    let cfg_path = work.path().join("config.yml");
    std::fs::write(&cfg_path, yaml).unwrap();
    let serve = server_support::process::ServeProcess::start(&cfg_path).await;
    let debug = serve
        .debug_base
        .clone()
        .expect("the debug listener's address");
    let src = work.path().join("src");
    let manifest = make_layout(&src);
    let host = serve.base.trim_start_matches("http://").to_owned();
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/observed/app:v1"),
    ])
    .await;
    let c = client();

    // Health on the debug listener, not on the main port (as registry:2).
    let h = c.get(format!("{debug}/debug/health")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    assert_eq!(h.text().await.unwrap().trim(), "{}");
    let main = c
        .get(format!("{}/debug/health", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    let vars: serde_json::Value = serde_json::from_str(
        &c.get(format!("{debug}/debug/vars"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        vars["cmdline"].as_array().is_some_and(|a| !a.is_empty()),
        "{vars}"
    );

    // The counters moved.
    let resp = c.get(format!("{debug}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").starts_with("text/plain; version=0.0.4"));
    let metrics = resp.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert!(
        value(r#"registry_http_requests_total{code="201",handler="manifest",method="put"}"#) >= 1.0,
        "{metrics}"
    );
    assert!(
        value(
            r#"registry_http_requests_total{code="201",handler="blob_upload_chunk",method="put"}"#
        ) + value(
            r#"registry_http_requests_total{code="201",handler="blob_upload",method="post"}"#
        ) >= 3.0,
        "{metrics}"
    );
    assert!(
        value(r#"registry_http_request_duration_seconds_count{handler="manifest",method="put"}"#)
            >= 1.0
    );
    assert!(
        value(r#"registry_storage_action_seconds_count{driver="s3aws",action="PutContent"}"#)
            >= 1.0,
        "{metrics}"
    );
    assert!(value("registry_s3_requests_total") >= 10.0, "{metrics}");
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let pushed: u64 = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&m["config"]])
        .map(|d| d["size"].as_u64().unwrap())
        .sum();
    assert!(
        value("registry_upload_bytes_total") >= pushed as f64,
        "{metrics}"
    );
    assert_eq!(
        value(r#"registry_http_in_flight_requests{handler="manifest"}"#),
        0.0
    );

    // registry:2's JSON log lines.
    let log = serve.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "{log}");
    for l in &lines {
        for key in ["time", "level", "msg", "service", "environment"] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
    }
    let put = lines
        .iter()
        .find(|l| {
            l["msg"] == "response completed"
                && l["http.request.method"] == "PUT"
                && l["http.request.uri"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("/v2/observed/app/manifests/"))
        })
        .unwrap_or_else(|| panic!("no manifest PUT line in\n{log}"));
    assert_eq!(put["level"], "info");
    assert_eq!(put["http.response.status"], 201);
    assert_eq!(put["vars.name"], "observed/app");
    assert_eq!(put["vars.reference"], "v1");
    for key in [
        "http.request.host",
        "http.request.id",
        "http.request.remoteaddr",
        "http.request.useragent",
        "http.response.duration",
        "http.response.written",
    ] {
        assert!(put.get(key).is_some(), "{key} missing in {put}");
    }
    // The access log: combined format on stdout.
    let out = serve.stdout();
    assert!(
        out.lines()
            .any(|l| l.contains("\"PUT /v2/observed/app/manifests/v1 HTTP/1.1\" 201 ")),
        "{out}"
    );
}
