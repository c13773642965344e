//! The registry under concurrency, hostile clients and S3 faults: uploads never
//! commit bytes under a digest they do not have, stalled clients are cut off
//! and bounded in memory, failed S3 requests leave uploads resumable, the
//! storage health check sees S3, manifest checks are bounded, and errors do not
//! leak storage details.
//!
//! The S3 cases run on the in-process s3s-fs server (signature-verifying), some
//! behind the fault-injecting proxy; the cases that need two registries on one
//! bucket resuming each other's uploads run on Swift (s3s-fs lacks
//! ListMultipartUploads).
#![cfg(feature = "server")]

mod common;
mod server_support;

use std::sync::Arc;
use std::time::Duration;

use common::{Fault, FaultPlan, FaultProxy, FaultRule, S3Target};
use s3driver::client::credentials::StaticProvider;
use s3driver::client::{ClientConfig, RetryConfig};
use s3driver::driver::FilesystemParameters;
use s3driver::driver::{Base, FilesystemDriver, Parameters, S3Driver, S3Parameters, StorageDriver};
use server_support::process::ServeProcess;
use server_support::raw::{RawConn, RawResponse};
use server_support::*;

const MIB: usize = 1 << 20;

/// Configuration for registries that serve blobs themselves (the driver comes separately).
const NO_REDIRECT: &str = "storage:\n  inmemory:\n  redirect:\n    disable: true\n";

/// An S3 driver on `target`/`bucket` (root `/hardening`, 5 MiB chunks) with a
/// quick retry policy, so injected faults fail fast.
fn s3_driver(target: &S3Target, bucket: &str, extra: &[(&str, &str)]) -> Arc<Base<S3Driver>> {
    let mut p = Parameters::from_iter([
        ("region", target.region.as_str()),
        ("regionendpoint", target.endpoint.as_str()),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("chunksize", "5242880"),
        ("rootdirectory", "/hardening"),
    ]);
    for (k, v) in extra {
        p = p.with(*k, *v);
    }
    let params = S3Parameters::from_parameters(&p).expect("parameters");
    let mut cfg = ClientConfig::new(params.endpoint.clone(), params.bucket.clone());
    cfg.retry = RetryConfig::default()
        .with_max_attempts(2)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(50))
        .with_max_elapsed(Duration::from_secs(10));
    let creds =
        StaticProvider::from_keys(target.access_key.clone(), target.secret_key.clone(), None);
    Arc::new(s3driver::driver::Base::new(
        S3Driver::with_client_config(params, cfg, Arc::new(creds)).expect("driver"),
    ))
}

/// A registry on the S3 driver on `target`/`bucket`, serving blobs itself.
async fn s3_registry(target: &S3Target, bucket: &str) -> Registry {
    start_with(&config(NO_REDIRECT), s3_driver(target, bucket, &[])).await
}

/// Two filesystem drivers on one directory: two registries sharing storage.
fn shared_fs() -> (
    tempfile::TempDir,
    Arc<dyn StorageDriver>,
    Arc<dyn StorageDriver>,
) {
    let dir = tempfile::tempdir().unwrap();
    let make = || -> Arc<dyn StorageDriver> {
        Arc::new(s3driver::driver::Base::new(FilesystemDriver::new(
            FilesystemParameters::new(dir.path().join("registry")),
        )))
    };
    let (a, b) = (make(), make());
    (dir, a, b)
}

/// `Range: 0-N` as the number of bytes stored (`0-0` is empty: the tests never
/// store a single byte).
fn stored(range: &str) -> usize {
    match range
        .strip_prefix("0-")
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(0) => 0,
        Some(n) => n + 1,
        None => panic!("bad Range {range:?}"),
    }
}

async fn upload_status(r: &Registry, loc: &str) -> usize {
    let resp = r.client.get(r.url(loc)).send().await.unwrap();
    assert_eq!(
        resp.status(),
        204,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    stored(&header(&resp, "range"))
}

async fn patch(r: &Registry, loc: &str, offset: usize, data: &[u8]) -> reqwest::Response {
    r.client
        .patch(r.url(loc))
        .header("Content-Type", "application/octet-stream")
        .header(
            "Content-Range",
            format!("{offset}-{}", offset + data.len() - 1),
        )
        .body(data.to_vec())
        .send()
        .await
        .unwrap()
}

async fn finish(r: &Registry, loc: &str, digest: &str) -> reqwest::Response {
    let sep = if loc.contains('?') { '&' } else { '?' };
    r.client
        .put(r.url(&format!("{loc}{sep}digest={digest}")))
        .send()
        .await
        .unwrap()
}

/// The blob's bytes as the registry serves them (redirects are disabled in
/// these tests' configurations).
async fn blob(r: &Registry, repo: &str, digest: &str) -> Option<Vec<u8>> {
    let resp = r
        .client
        .get(r.url(&format!("/v2/{repo}/blobs/{digest}")))
        .send()
        .await
        .unwrap();
    match resp.status().as_u16() {
        200 => Some(resp.bytes().await.unwrap().to_vec()),
        404 => None,
        s => panic!("GET blob: {s} {}", resp.text().await.unwrap_or_default()),
    }
}

/// A PATCH head with `Expect: 100-continue` whose handler has started (the
/// registry asks for the body only once it holds the upload).
async fn patch_head_until_continue(r: &Registry, loc: &str, len: usize) -> RawConn {
    let mut c = RawConn::connect(&r.base).await;
    c.send_head(
        "PATCH",
        loc,
        &[
            ("Content-Type", "application/octet-stream"),
            ("Expect", "100-continue"),
        ],
        Some(len),
    )
    .await;
    let resp = c.read_response().await;
    assert_eq!(resp.status, 100, "{}", resp.text());
    c
}

/// The registry answered `resp` to a `PUT ?digest=d`: either it refused, or the
/// blob it stored under `d` has exactly the digest `d` on every registry.
async fn assert_not_poisoned(regs: &[&Registry], repo: &str, d: &str, resp: reqwest::Response) {
    let status = resp.status().as_u16();
    for r in regs {
        if let Some(bytes) = blob(r, repo, d).await {
            assert_eq!(status, 201, "a refused commit left a blob");
            assert_eq!(sha256(&bytes), d, "blob {d} is served with other bytes");
        }
    }
}

// --- 1. One upload, two requests at once -----------------------------------------------------

/// `A`'s head, `B`'s head, `A`'s body, `B`'s body on one upload of one registry:
/// the second request is refused while the first holds the upload, and the
/// blob is exactly `A`.
async fn interleaved_patches_on_one_registry(r: &Registry) {
    let loc = start_upload(r, "race").await;
    let (a, b) = (vec![b'A'; 1000], vec![b'B'; 1000]);
    let mut ca = patch_head_until_continue(r, &loc, a.len()).await;
    let mut cb = RawConn::connect(&r.base).await;
    cb.send_head(
        "PATCH",
        &loc,
        &[
            ("Content-Type", "application/octet-stream"),
            ("Expect", "100-continue"),
        ],
        Some(b.len()),
    )
    .await;
    let rb = cb.read_response().await;
    assert_eq!(rb.status, 416, "{}", rb.text());
    assert_eq!(rb.error_codes(), ["RANGE_INVALID"]);
    ca.send(&a).await;
    let ra = ca.read_response().await;
    assert_eq!(ra.status, 202, "{}", ra.text());
    assert_eq!(ra.header("range"), Some("0-999"));
    // B's body arrives after its refusal: it is never appended.
    cb.try_send(&b).await;
    assert_eq!(upload_status(r, &loc).await, 1000);
    let resp = finish(r, &loc, &sha256(&a)).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(blob(r, "race", &sha256(&a)).await.unwrap(), a);
}

#[tokio::test]
async fn interleaved_patches_are_exclusive_on_filesystem() {
    let r = start(Backend::Filesystem, "").await;
    interleaved_patches_on_one_registry(&r).await;
    r.stop().await;
}

#[tokio::test]
async fn interleaved_patches_are_exclusive_on_s3() {
    let server = common::S3sServer::start().await;
    server.create_bucket("race");
    let r = s3_registry(&server.target(), "race").await;
    interleaved_patches_on_one_registry(&r).await;
    r.stop().await;
}

/// Two registries on one storage (two processes behind a load balancer): no
/// lock spans them, so both PATCHes write. The first registry's kept hash
/// state then describes bytes that are no longer stored; the commit must
/// notice (the writer's version differs) and hash what is stored.
async fn interleaved_patches_across_registries(r1: &Registry, r2: &Registry) {
    let loc = start_upload(r1, "race2").await;
    let (a, b) = (vec![b'A'; 1000], vec![b'B'; 1000]);
    let mut ca = patch_head_until_continue(r1, &loc, a.len()).await;
    let mut cb = patch_head_until_continue(r2, &loc, b.len()).await;
    ca.send(&a).await;
    let ra = ca.read_response().await;
    assert_eq!(ra.status, 202, "{}", ra.text());
    cb.send(&b).await;
    let rb = cb.read_response().await;
    assert_eq!(rb.status, 202, "{}", rb.text());
    // What is stored now is B (both wrote at offset 0), but r1 hashed A.
    let resp = finish(r1, &loc, &sha256(&a)).await;
    assert_eq!(
        resp.status(),
        400,
        "the digest of bytes no longer stored was accepted"
    );
    assert_not_poisoned(&[r1, r2], "race2", &sha256(&a), resp).await;
    assert!(blob(r1, "race2", &sha256(&a)).await.is_none());
}

#[tokio::test]
async fn interleaved_patches_on_two_registries_never_poison_a_digest_on_filesystem() {
    let (_dir, d1, d2) = shared_fs();
    let cfg = config(NO_REDIRECT);
    let (r1, r2) = (start_with(&cfg, d1).await, start_with(&cfg, d2).await);
    interleaved_patches_across_registries(&r1, &r2).await;
    r1.stop().await;
    r2.stop().await;
}

#[tokio::test]
async fn interleaved_patches_on_two_registries_never_poison_a_digest_on_swift() {
    let Some(swift) = common::swift_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("race");
    swift.create_bucket(&bucket).await;
    let r1 = s3_registry(&swift.target(), &bucket).await;
    let r2 = s3_registry(&swift.target(), &bucket).await;
    interleaved_patches_across_registries(&r1, &r2).await;
    r1.stop().await;
    r2.stop().await;
}

// --- 2. Eight clients on one upload ------------------------------------------------------------

/// Eight clients append their chunk to one upload, each asking where it stands
/// and retrying on 416. Whatever order wins, the chunks accepted (202) make up
/// the upload exactly, and it commits under their digest.
async fn hammer_one_upload(r: &Registry) {
    let loc = start_upload(r, "hammer").await;
    let chunk_len = 50_000;
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let client = client();
        let (base, loc) = (r.base.clone(), loc.clone());
        tasks.push(tokio::spawn(async move {
            let data: Vec<u8> = (0..chunk_len)
                .map(|j| i.wrapping_mul(31) ^ (j as u8))
                .collect();
            for _ in 0..500 {
                let resp = client.get(format!("{base}{loc}")).send().await.unwrap();
                assert_eq!(
                    resp.status(),
                    204,
                    "{}",
                    resp.text().await.unwrap_or_default()
                );
                let offset = stored(&header(&resp, "range"));
                let resp = client
                    .patch(format!("{base}{loc}"))
                    .header("Content-Type", "application/octet-stream")
                    .header(
                        "Content-Range",
                        format!("{offset}-{}", offset + chunk_len - 1),
                    )
                    .body(data.clone())
                    .send()
                    .await
                    .unwrap();
                match resp.status().as_u16() {
                    202 => {
                        assert_eq!(
                            stored(&header(&resp, "range")),
                            offset + chunk_len,
                            "the upload grew by exactly this chunk"
                        );
                        return (offset, data);
                    }
                    416 => tokio::task::yield_now().await,
                    s => panic!("client {i}: {s} {}", resp.text().await.unwrap_or_default()),
                }
            }
            panic!("client {i} never got its chunk in");
        }));
    }
    let mut accepted = Vec::new();
    for t in tasks {
        accepted.push(t.await.unwrap());
    }
    accepted.sort_by_key(|(o, _)| *o);
    let mut expected = Vec::new();
    for (offset, data) in accepted {
        assert_eq!(
            offset,
            expected.len(),
            "accepted chunks overlap or leave a gap"
        );
        expected.extend(data);
    }
    assert_eq!(upload_status(r, &loc).await, expected.len());
    let d = sha256(&expected);
    let resp = finish(r, &loc, &d).await;
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(blob(r, "hammer", &d).await.unwrap(), expected);
}

#[tokio::test]
async fn eight_clients_hammer_one_upload_on_filesystem() {
    let r = start(Backend::Filesystem, "").await;
    hammer_one_upload(&r).await;
    r.stop().await;
}

#[tokio::test]
async fn eight_clients_hammer_one_upload_on_s3() {
    let server = common::S3sServer::start().await;
    server.create_bucket("hammer");
    let r = s3_registry(&server.target(), "hammer").await;
    hammer_one_upload(&r).await;
    r.stop().await;
}

// --- 3. Stalled clients --------------------------------------------------------------------------

/// Twenty uploads whose bodies stop after 1 MiB: each is cut off after
/// `http.bodyidletimeout` (408, connection closed), what arrived is kept, and
/// the S3 part buffers never exceed `maxbuffermemory` although twenty
/// buffering uploads would need five times as much.
#[tokio::test]
async fn stalled_uploads_are_cut_off_within_the_buffer_budget() {
    let server = common::S3sServer::start().await;
    server.create_bucket("stall");
    let budget = 4 * 5 * MIB;
    let driver = s3_driver(
        &server.target(),
        "stall",
        &[("maxbuffermemory", &budget.to_string())],
    );
    let r = start_with(
        &config(&format!("{NO_REDIRECT}http:\n  bodyidletimeout: 1s\n")),
        Arc::clone(&driver) as Arc<dyn StorageDriver>,
    )
    .await;
    let part = vec![7u8; MIB];
    let mut conns = Vec::new();
    for _ in 0..20 {
        let loc = start_upload(&r, "stall").await;
        let mut c = RawConn::connect(&r.base).await;
        c.send_head(
            "PATCH",
            &loc,
            &[("Content-Type", "application/octet-stream")],
            Some(2 * MIB),
        )
        .await;
        c.send(&part).await;
        conns.push((loc, c));
    }
    for (_, c) in &mut conns {
        let resp = c.read_response().await;
        assert_eq!(resp.status, 408, "{}", resp.text());
        assert_eq!(resp.error_codes(), ["BLOB_UPLOAD_INVALID"]);
        assert!(
            c.closed_by_server().await,
            "the stalled connection stays open"
        );
    }
    let mem = driver.inner().buffer_memory();
    assert!(mem.peak <= budget as u64, "{mem:?}");
    assert!(
        mem.peak >= 5 * MIB as u64,
        "the budget was never used: {mem:?}"
    );
    assert_eq!(mem.in_use, 0, "{mem:?}");
    for (loc, _) in &conns {
        assert_eq!(
            upload_status(&r, loc).await,
            MIB,
            "the part that arrived is kept"
        );
    }
    r.stop().await;
}

/// `http.maxconnections` connections at once: a further client waits until
/// one ends, then is served.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let r = start(Backend::InMemory, "http:\n  maxconnections: 2\n").await;
    // Two connections that send nothing (yet) hold both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(RawConn::connect(&r.base).await);
    }
    let waiting = tokio::spawn({
        let url = r.url("/v2/");
        async move { client().get(url).send().await.unwrap().status().as_u16() }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served while two were held"
    );
    drop(held.pop());
    assert_eq!(waiting.await.unwrap(), 200);
    r.stop().await;
}

// --- 4. Storage health through S3 faults -------------------------------------------------------

async fn wait_for_health(r: &Registry, status: u16) {
    for _ in 0..600 {
        let resp = r.client.get(r.url("/debug/health")).send().await.unwrap();
        if resp.status().as_u16() == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/debug/health never answered {status}");
}

#[tokio::test]
async fn health_check_follows_s3_through_the_fault_proxy() {
    let server = common::S3sServer::start().await;
    server.create_bucket("health");
    let proxy = FaultProxy::start(server.addr(), FaultPlan::new()).await;
    let driver = s3_driver(&server.target().via(&proxy.endpoint()), "health", &[]);
    let r = start_with(
        &config(
            "health:\n  storagedriver:\n    enabled: true\n    interval: 200ms\n    threshold: 2\n",
        ),
        driver,
    )
    .await;
    wait_for_health(&r, 200).await;
    let before = proxy.requests_seen();
    proxy.add_rule(FaultRule::new(Fault::Reset).times(usize::MAX));
    wait_for_health(&r, 503).await;
    assert!(proxy.requests_seen() > before, "the check did not ask S3");
    let resp = r.client.get(r.url("/v2/")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(error_codes(resp).await, ["UNAVAILABLE"]);
    proxy.clear_rules();
    wait_for_health(&r, 200).await;
    assert_eq!(
        r.client.get(r.url("/v2/")).send().await.unwrap().status(),
        200
    );
    r.stop().await;
}

// --- 5. Failed S3 requests leave uploads resumable -----------------------------------------------

/// A registry on s3s-fs behind a fault proxy.
async fn faulty_s3(bucket: &str) -> (common::S3sServer, FaultProxy, Registry) {
    let server = common::S3sServer::start().await;
    server.create_bucket(bucket);
    let proxy = FaultProxy::start(server.addr(), FaultPlan::new()).await;
    let r = s3_registry(&server.target().via(&proxy.endpoint()), bucket).await;
    (server, proxy, r)
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(seed) ^ (i >> 9) as u8)
        .collect()
}

/// A 500 answer says nothing about the storage behind it.
async fn assert_no_storage_details(resp: reqwest::Response, proxy: &FaultProxy, bucket: &str) {
    assert_eq!(resp.status(), 500);
    let text = resp.text().await.unwrap();
    for leak in [
        proxy.endpoint().as_str(),
        "127.0.0.1",
        bucket,
        "docker/registry",
        "_uploads",
        "hardening",
    ] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }
    assert!(text.contains("request id"), "{text}");
}

#[tokio::test]
async fn failed_completion_of_the_final_put_keeps_the_upload() {
    let (_server, proxy, r) = faulty_s3("final").await;
    let loc = start_upload(&r, "final").await;
    let content = data(7 * MIB, 3);
    assert_eq!(patch(&r, &loc, 0, &content).await.status(), 202);
    let complete = FaultRule::new(Fault::internal_error())
        .method("POST")
        .path_contains("uploadId=")
        .times(usize::MAX);
    proxy.add_rule(complete);
    let resp = finish(&r, &loc, &sha256(&content)).await;
    assert_no_storage_details(resp, &proxy, "final").await;
    assert_eq!(
        upload_status(&r, &loc).await,
        content.len(),
        "the upload is intact"
    );
    proxy.clear_rules();
    let resp = finish(&r, &loc, &sha256(&content)).await;
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(blob(&r, "final", &sha256(&content)).await.unwrap(), content);
    r.stop().await;
}

#[tokio::test]
async fn failed_completion_mid_upload_keeps_the_upload() {
    let (_server, proxy, r) = faulty_s3("mid").await;
    let loc = start_upload(&r, "mid").await;
    let content = data(3 * MIB, 5);
    // 1 MiB: stored as a part shorter than S3's minimum, so the next PATCH must
    // complete that multipart upload before it can continue.
    assert_eq!(patch(&r, &loc, 0, &content[..MIB]).await.status(), 202);
    proxy.add_rule(
        FaultRule::new(Fault::internal_error())
            .method("POST")
            .path_contains("uploadId=")
            .times(usize::MAX),
    );
    let resp = patch(&r, &loc, MIB, &content[MIB..2 * MIB]).await;
    assert_eq!(resp.status(), 500);
    assert_eq!(upload_status(&r, &loc).await, MIB, "not reset, not grown");
    proxy.clear_rules();
    // Completion works but starting the next multipart upload fails: the
    // completed object alone is the upload now, and it resumes from there.
    proxy.add_rule(
        FaultRule::new(Fault::internal_error())
            .method("POST")
            .path_contains("?uploads")
            .times(usize::MAX),
    );
    let resp = patch(&r, &loc, MIB, &content[MIB..2 * MIB]).await;
    assert_eq!(resp.status(), 500);
    assert_eq!(upload_status(&r, &loc).await, MIB);
    proxy.clear_rules();
    assert_eq!(
        patch(&r, &loc, MIB, &content[MIB..2 * MIB]).await.status(),
        202
    );
    assert_eq!(
        patch(&r, &loc, 2 * MIB, &content[2 * MIB..]).await.status(),
        202
    );
    assert_eq!(upload_status(&r, &loc).await, content.len());
    let resp = finish(&r, &loc, &sha256(&content)).await;
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(blob(&r, "mid", &sha256(&content)).await.unwrap(), content);
    r.stop().await;
}

// --- 6. Manifest checks are bounded -------------------------------------------------------------

fn manifest_with_layers(config: &str, layers: &[String]) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|d| {
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": 1})
        })
        .collect();
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": layers,
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn manifest_reference_checks_are_bounded_on_s3() {
    let (_server, proxy, r) = faulty_s3("refs").await;
    let config_digest = push_blob(&r, "refs", b"{}").await;
    let layer = push_blob(&r, "refs", b"layer").await;
    // 3000 layers this repository lacks: the check stops at the first missing.
    let missing: Vec<String> = (0..3000)
        .map(|i| sha256(format!("missing {i}").as_bytes()))
        .collect();
    let body = manifest_with_layers(&config_digest, &missing);
    let before = proxy.requests_seen();
    let resp = put_manifest(&r, "refs", "v1", OCI_MANIFEST, &body).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_codes(resp).await, ["MANIFEST_BLOB_UNKNOWN"]);
    let lookups = proxy.requests_seen() - before;
    assert!(
        lookups <= 64,
        "{lookups} S3 requests for a manifest whose second reference is missing"
    );
    // 3000 references to one layer: looked up once.
    let body = manifest_with_layers(&config_digest, &vec![layer.clone(); 3000]);
    let before = proxy.requests_seen();
    let resp = put_manifest(&r, "refs", "v1", OCI_MANIFEST, &body).await;
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let lookups = proxy.requests_seen() - before;
    assert!(
        lookups <= 30,
        "{lookups} S3 requests for two distinct references"
    );
    // Over the cap: refused before any lookup.
    let many: Vec<String> = (0..5000)
        .map(|i| sha256(format!("m {i}").as_bytes()))
        .collect();
    let before = proxy.requests_seen();
    let resp = put_manifest(
        &r,
        "refs",
        "v2",
        OCI_MANIFEST,
        &manifest_with_layers(&config_digest, &many),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v = resp.json_value().await;
    assert_eq!(v["errors"][0]["code"], "MANIFEST_INVALID");
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("at most 4096"),
        "{v}"
    );
    assert_eq!(proxy.requests_seen(), before);
    r.stop().await;
}

// --- 7. The smaller ones -----------------------------------------------------------------------

/// A `_state` the registry signed stays valid after the upload is cancelled: continuing with
/// it (PATCH or PUT) is `BLOB_UPLOAD_UNKNOWN` and stores nothing, whether the registry reads
/// `startedat` (filesystem) or trusts the token's start time and asks the writer (S3).
async fn cancelled_upload_stays_gone(r: &Registry, repo: &str) {
    let loc = start_upload(r, repo).await;
    assert!(loc.contains("_state="), "{loc}");
    let resp = patch(r, &loc, 0, b"before").await;
    assert_eq!(resp.status(), 202);
    let loc = header(&resp, "location");
    let resp = r.client.delete(r.url(&loc)).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let id = loc
        .split("/uploads/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let dir = format!("/docker/registry/v2/repositories/{repo}/_uploads/{id}");
    let resp = patch(r, &loc, 6, b"after").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_UNKNOWN"]);
    let resp = finish(r, &loc, &sha256(b"beforeafter")).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_UNKNOWN"]);
    assert!(
        r.driver().list(&dir).await.is_err(),
        "nothing stored again under {dir}"
    );
}

/// With `http.secret`, a PATCH or PUT whose `_state` is stale (another offset), tampered with
/// or another upload's is refused, even with a `Content-Range` at the right offset, and stores
/// nothing; the upload then goes on with its current state.
async fn bad_upload_states_change_nothing(r: &Registry, repo: &str) {
    let split = |loc: &str| {
        let (path, state) = loc
            .split_once("?_state=")
            .expect("a _state in the location");
        (path.to_owned(), state.to_owned())
    };
    let first = start_upload(r, repo).await;
    let resp = patch(r, &first, 0, b"0123").await;
    assert_eq!(resp.status(), 202);
    let current = header(&resp, "location");
    let (path, state) = split(&current);
    let (_, other_state) = split(&start_upload(r, repo).await);
    let flipped = if state.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{path}?_state={flipped}{}", &state[1..]);
    let others = format!("{path}?_state={other_state}");
    for (loc, code, status) in [
        (&first, "RANGE_INVALID", 416),
        (&tampered, "BLOB_UPLOAD_INVALID", 404),
        (&others, "BLOB_UPLOAD_INVALID", 404),
    ] {
        let resp = patch(r, loc, 4, b"45").await;
        assert_eq!(
            (resp.status().as_u16(), error_codes(resp).await),
            (status, vec![code.to_owned()]),
            "PATCH with {loc}"
        );
        let resp = finish(r, loc, &sha256(b"0123")).await;
        assert_eq!(
            (resp.status().as_u16(), error_codes(resp).await),
            (status, vec![code.to_owned()]),
            "PUT with {loc}"
        );
        assert_eq!(upload_status(r, &current).await, 4);
    }
    let resp = patch(r, &current, 4, b"45").await;
    assert_eq!(resp.status(), 202);
    let resp = finish(r, &header(&resp, "location"), &sha256(b"012345")).await;
    assert_eq!(resp.status(), 201);
    let digest = sha256(b"012345");
    assert_eq!(
        blob(r, repo, &digest).await.as_deref(),
        Some(&b"012345"[..])
    );
}

#[tokio::test]
async fn bad_upload_states_change_nothing_on_filesystem() {
    let r = start(Backend::Filesystem, "http:\n  secret: s3cret\n").await;
    bad_upload_states_change_nothing(&r, "states/fs").await;
    r.stop().await;
}

#[tokio::test]
async fn bad_upload_states_change_nothing_on_s3() {
    let server = common::S3sServer::start().await;
    server.create_bucket("states");
    let cfg = config(&format!("{NO_REDIRECT}http:\n  secret: s3cret\n"));
    let r = start_with(&cfg, s3_driver(&server.target(), "states", &[])).await;
    bad_upload_states_change_nothing(&r, "states/s3").await;
    r.stop().await;
}

/// With `http.secret`, a PATCH and a PUT that carry the registry's signed `_state` take the
/// start time from it and do not read `startedat`, on a driver whose append-writer refuses a
/// missing upload (in-memory, behind the metrics wrapper and a test wrapper, each of which
/// must pass the driver's answer on); on the filesystem, whose append-writer would create
/// the file, they read it.
#[tokio::test]
async fn signed_state_spares_the_startedat_read_only_where_the_writer_can_tell() {
    for backend in [Backend::InMemory, Backend::Filesystem] {
        let (inner, _dir) = driver_for(backend);
        let mut td = TestDriver::new();
        td.inner = inner;
        let td = Arc::new(td);
        let cfg = config(
            "http:\n  secret: s3cret\n  debug:\n    addr: 127.0.0.1:0\n    prometheus:\n      \
             enabled: true\n",
        );
        let r = start_with(&cfg, td.clone() as Arc<dyn StorageDriver>).await;
        let loc = start_upload(&r, "spare/it").await;
        let resp = patch(&r, &loc, 0, b"some ").await;
        assert_eq!(resp.status(), 202);
        let resp = patch(&r, &header(&resp, "location"), 5, b"bytes").await;
        assert_eq!(resp.status(), 202);
        let resp = finish(&r, &header(&resp, "location"), &sha256(b"some bytes")).await;
        assert_eq!(resp.status(), 201);
        let reads = td
            .contents_read
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.ends_with("/startedat"))
            .count();
        match backend {
            Backend::InMemory => assert_eq!(reads, 0, "{backend:?}"),
            Backend::Filesystem => assert_eq!(reads, 3, "{backend:?}"),
        }
        r.stop().await;
    }
}

#[tokio::test]
async fn cancelled_upload_stays_gone_on_filesystem() {
    let r = start(Backend::Filesystem, "http:\n  secret: s3cret\n").await;
    cancelled_upload_stays_gone(&r, "gone/fs").await;
    r.stop().await;
}

#[tokio::test]
async fn cancelled_upload_stays_gone_on_s3() {
    let server = common::S3sServer::start().await;
    server.create_bucket("gone");
    let cfg = config(&format!("{NO_REDIRECT}http:\n  secret: s3cret\n"));
    let r = start_with(&cfg, s3_driver(&server.target(), "gone", &[])).await;
    cancelled_upload_stays_gone(&r, "gone/s3").await;
    r.stop().await;
}

#[tokio::test]
async fn bad_chunks_are_refused_and_change_nothing() {
    let r = start(Backend::Filesystem, "").await;
    let loc = start_upload(&r, "small").await;
    assert_eq!(patch(&r, &loc, 0, b"0123456789").await.status(), 202);
    // A chunked body (no Content-Length) with a Content-Range not at the offset.
    let stream =
        futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"abc"))]);
    let resp = r
        .client
        .patch(r.url(&loc))
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", "0-2")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(header(&resp, "range"), "0-9");
    assert_eq!(upload_status(&r, &loc).await, 10);
    // Another Content-Type.
    let resp = r
        .client
        .patch(r.url(&loc))
        .header("Content-Type", "text/plain")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_INVALID"]);
    assert_eq!(upload_status(&r, &loc).await, 10);
    // A body that ends before its Content-Length: 400, and what arrived is kept.
    let mut c = RawConn::connect(&r.base).await;
    c.send_head(
        "PATCH",
        &loc,
        &[("Content-Type", "application/octet-stream")],
        Some(1000),
    )
    .await;
    c.send(&[b'x'; 400]).await;
    c.shutdown_write().await;
    let resp: RawResponse = c.read_response().await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.error_codes(), ["SIZE_INVALID"]);
    assert_eq!(upload_status(&r, &loc).await, 410);
    r.stop().await;
}

#[tokio::test]
async fn oversized_manifests_and_head_of_tags() {
    let r = start(Backend::InMemory, "").await;
    let body = image_manifest(&r, "t", OCI_MANIFEST, "x").await;
    assert_eq!(
        put_manifest(&r, "t", "v1", OCI_MANIFEST, &body)
            .await
            .status(),
        201
    );
    let big = vec![b' '; 4 * MIB + 1];
    let resp = put_manifest(&r, "t", "v2", OCI_MANIFEST, &big).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_codes(resp).await, ["MANIFEST_INVALID"]);
    let get = r.client.get(r.url("/v2/t/tags/list")).send().await.unwrap();
    let head = r
        .client
        .head(r.url("/v2/t/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-type"), header(&get, "content-type"));
    assert_eq!(
        header(&head, "content-length"),
        header(&get, "content-length")
    );
    assert!(head.bytes().await.unwrap().is_empty());
    r.stop().await;
}

// --- 8. A killed registry leaves nothing behind after a purge ----------------------------------

#[tokio::test]
async fn purger_aborts_the_multipart_upload_of_a_killed_registry() {
    let Some(swift) = common::swift_or_skip() else {
        return;
    };
    let target = swift.target();
    let bucket = common::unique_bucket_name("killed");
    swift.create_bucket(&bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /hardening\n    chunksize: 5242880\nhttp:\n  addr: 127.0.0.1:0\n",
        target.access_key, target.secret_key, target.region, target.endpoint
    );
    let config = dir.path().join("config.yml");
    std::fs::write(&config, yaml).unwrap();
    let mut serve = ServeProcess::start(&config).await;
    let c = client();
    let resp = c
        .post(format!("{}/v2/killed/blobs/uploads/", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let loc = header(&resp, "location");
    // A PATCH of 12 MiB, killed after 7 MiB: one 5 MiB part is stored.
    let mut conn = RawConn::connect(&serve.base).await;
    conn.send_head(
        "PATCH",
        &loc,
        &[("Content-Type", "application/octet-stream")],
        Some(12 * MIB),
    )
    .await;
    conn.send(&data(7 * MIB, 9)).await;
    let driver = s3_driver(&target, &bucket, &[]);
    let s3 = driver.inner().client().clone();
    let prefix = "hardening/";
    let mut parts = 0;
    for _ in 0..600 {
        let uploads = s3
            .list_multipart_uploads(prefix, None, None)
            .await
            .unwrap()
            .uploads;
        if let Some(u) = uploads.first() {
            parts = s3.list_all_parts(&u.key, &u.upload_id).await.unwrap().len();
            if parts > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(parts > 0, "no part was stored before the kill");
    serve.kill();
    drop(conn);
    let uploads = s3
        .list_multipart_uploads(prefix, None, None)
        .await
        .unwrap()
        .uploads;
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    let cutoff = std::time::SystemTime::now() + Duration::from_secs(60);
    let dry = s3driver::server::purge_uploads(driver.as_ref(), cutoff, true).await;
    assert!(dry.errors.is_empty(), "{dry:?}");
    assert_eq!(dry.deleted.len(), 1, "{dry:?}");
    assert_eq!(dry.incomplete_writes.len(), 1, "{dry:?}");
    assert!(dry.incomplete_writes[0].contains("/_uploads/"), "{dry:?}");
    assert_eq!(
        s3.list_multipart_uploads(prefix, None, None)
            .await
            .unwrap()
            .uploads
            .len(),
        1,
        "a dry run changes nothing"
    );
    let report = s3driver::server::purge_uploads(driver.as_ref(), cutoff, false).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.incomplete_writes, dry.incomplete_writes);
    assert!(s3
        .list_multipart_uploads(prefix, None, None)
        .await
        .unwrap()
        .uploads
        .is_empty());
    let left = driver
        .list("/docker/registry/v2/repositories/killed/_uploads")
        .await
        .map(|l| l.len())
        .unwrap_or(0);
    assert_eq!(left, 0, "the _uploads directory is gone");
}
