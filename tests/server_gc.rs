//! `s3driver garbage-collect` (`s3driver::server::gc`): what a collection keeps and deletes,
//! with and without `--delete-untagged`, on the in-memory, filesystem and S3 (s3s-fs) drivers;
//! the bad states it must survive (a revision whose blob is missing, a link file holding
//! garbage, a repository without manifests, a manifest that is not JSON, S3 errors while
//! marking and in the middle of the sweep), none of which may cost a referenced blob; the
//! command line (the refusal without read-only mode or `--no-writers`, `REGISTRY_*`
//! overrides, the parseable output); and the catalog's delimiter listing on S3.
//!
//! The comparison with registry:2's own garbage collector is in `server_gc_interop.rs`.
#![cfg(feature = "server")]

mod common;
mod server_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Fault, FaultPlan, FaultProxy, FaultRule, S3Target};
use s3driver::client::credentials::StaticProvider;
use s3driver::client::{ClientConfig, RetryConfig};
use s3driver::driver::{
    Base, FileInfo, Parameters, S3Driver, S3Parameters, StorageDriver, WalkControl, WalkOptions,
};
use s3driver::server::gc::{self, KeptBecause, Options, Report};
use server_support::registry_layout as paths;
use server_support::*;

/// Registries that allow deletes and serve blobs themselves.
const DELETES: &str =
    "storage:\n  inmemory:\n  delete:\n    enabled: true\n  redirect:\n    disable: true\n";

/// An S3 driver on `target`/`bucket` (root `/gc`) with a quick retry policy, so injected
/// faults fail fast.
fn s3_driver(target: &S3Target, bucket: &str) -> Arc<Base<S3Driver>> {
    let p = Parameters::from_iter([
        ("region", target.region.as_str()),
        ("regionendpoint", target.endpoint.as_str()),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("rootdirectory", "/gc"),
    ]);
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

fn opts(dry_run: bool, delete_untagged: bool) -> Options {
    Options::default()
        .with_dry_run(dry_run)
        .with_delete_untagged(delete_untagged)
        .with_concurrency(8)
}

/// Every blob digest stored under `blobs/`.
async fn stored_blobs(driver: &dyn StorageDriver) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let root = format!("{}/blobs", paths::ROOT);
    let mut visit = |fi: &FileInfo| {
        if !fi.is_dir && fi.path.ends_with("/data") {
            let parts: Vec<&str> = fi.path.rsplit('/').take(4).collect();
            // data, <hex>, <hex[0:2]>, <alg>
            out.insert(format!("{}:{}", parts[3], parts[1]));
        }
        Ok(WalkControl::Continue)
    };
    match driver.walk(&root, &mut visit, WalkOptions::default()).await {
        Ok(()) => {}
        Err(e) if e.is_path_not_found() => {}
        Err(e) => panic!("walking {root}: {e}"),
    }
    out
}

fn eligible(report: &Report) -> BTreeSet<String> {
    report.blobs.iter().map(|(d, _)| d.to_string()).collect()
}

/// Pushes `blobs` to `repo` and an OCI image manifest referencing the first as config and the
/// rest as layers (plus `subject`), by `reference` (a tag, or "" to push by digest). Returns
/// the manifest digest and the manifest.
async fn push_image(
    r: &Registry,
    repo: &str,
    reference: &str,
    blobs: &[&[u8]],
    subject: Option<(&str, usize)>,
) -> (String, Vec<u8>) {
    let mut ds = Vec::new();
    for b in blobs {
        ds.push(push_blob(r, repo, b).await);
    }
    let layers: Vec<serde_json::Value> = blobs[1..]
        .iter()
        .zip(&ds[1..])
        .map(|(b, d)| {
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": b.len()})
        })
        .collect();
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ds[0], "size": blobs[0].len()},
        "layers": layers,
    });
    if let Some((d, size)) = subject {
        m["subject"] = serde_json::json!({"mediaType": OCI_MANIFEST, "digest": d, "size": size});
        m["artifactType"] = serde_json::json!("application/vnd.example.signature");
    }
    let body = m.to_string().into_bytes();
    let digest = sha256(&body);
    let reference = if reference.is_empty() {
        digest.as_str()
    } else {
        reference
    };
    let resp = put_manifest(r, repo, reference, OCI_MANIFEST, &body).await;
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    (digest, body)
}

/// Pushes an OCI index of `children` (digest, size) tagged `tag`; returns its digest.
async fn push_index(r: &Registry, repo: &str, tag: &str, children: &[(String, usize)]) -> String {
    let ms: Vec<serde_json::Value> = children
        .iter()
        .zip(["amd64", "arm64", "s390x"])
        .map(|((d, size), arch)| {
            serde_json::json!({"mediaType": OCI_MANIFEST, "digest": d, "size": size,
                "platform": {"os": "linux", "architecture": arch}})
        })
        .collect();
    let body = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": ms})
        .to_string()
        .into_bytes();
    let resp = put_manifest(r, repo, tag, OCI_INDEX, &body).await;
    assert_eq!(resp.status(), 201);
    sha256(&body)
}

/// What the history of [`build_history`] should leave to a collection.
struct Expect {
    /// Blobs every collection keeps.
    kept: BTreeSet<String>,
    /// Blobs only a collection with `delete_untagged` deletes.
    untagged: BTreeSet<String>,
    /// Blobs every collection deletes.
    garbage: BTreeSet<String>,
    /// The manifest deleted with `delete_untagged`.
    untagged_manifest: (String, String),
    /// The untagged manifests kept with `delete_untagged`.
    kept_untagged: Vec<(String, String, KeptBecause)>,
    /// (repository, tag, manifest digest) of every tag after the history.
    tags: Vec<(String, String, String)>,
}

/// A history through the registry's API: shared layers between repositories, a retag that
/// leaves a manifest untagged, a multi-platform index, an untagged referrer, a manifest
/// deleted by digest, a blob no manifest uses.
async fn build_history(r: &Registry, seed: &str) -> Expect {
    let b = |s: &str| format!("{seed} {s}").into_bytes();
    let (base, c1, l1, c2, l2, c3, l3) = (
        b("shared base layer"),
        b("config 1"),
        b("layer 1"),
        b("config 2"),
        b("layer 2"),
        b("config 3"),
        b("layer 3"),
    );
    // a/app:v1, then v1 retagged to a second image (the first is now untagged), latest too.
    let (m1, _) = push_image(r, "a/app", "v1", &[&c1, &base, &l1], None).await;
    let (m2, m2_body) = push_image(r, "a/app", "v1", &[&c2, &base, &l2], None).await;
    push_image(r, "a/app", "latest", &[&c2, &base, &l2], None).await;
    // b/app shares the base layer.
    let (m3, _) = push_image(r, "b/app", "v1", &[&c3, &base, &l3], None).await;
    // A multi-platform index whose platform manifests have no tag.
    let (cp1, lp1, cp2, lp2) = (
        b("platform config 1"),
        b("platform layer 1"),
        b("platform config 2"),
        b("platform layer 2"),
    );
    let (p1, p1_body) = push_image(r, "multi", "", &[&cp1, &base, &lp1], None).await;
    let (p2, p2_body) = push_image(r, "multi", "", &[&cp2, &lp2], None).await;
    let idx = push_index(
        r,
        "multi",
        "v1",
        &[(p1.clone(), p1_body.len()), (p2.clone(), p2_body.len())],
    )
    .await;
    // A signature of a/app:v1 pushed without a tag (OCI 1.1 referrers).
    let (csig, lsig) = (b("signature config"), b("signature layer"));
    let (sig, _) = push_image(r, "a/app", "", &[&csig, &lsig], Some((&m2, m2_body.len()))).await;
    // A manifest deleted by digest, and a blob without a manifest.
    let (c4, l4, orphan) = (b("config 4"), b("layer 4"), b("orphan"));
    let (m4, _) = push_image(r, "b/app", "old", &[&c4, &l4], None).await;
    let resp = r
        .client
        .delete(r.url(&format!("/v2/b/app/manifests/{m4}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    push_blob(r, "b/app", &orphan).await;

    let set = |items: &[&[u8]]| -> BTreeSet<String> { items.iter().map(|i| sha256(i)).collect() };
    let mut kept = set(&[
        &c2, &base, &l2, &c3, &l3, &cp1, &lp1, &cp2, &lp2, &csig, &lsig,
    ]);
    kept.extend([m2.clone(), m3, p1.clone(), p2.clone(), idx, sig.clone()]);
    let mut untagged = set(&[&c1, &l1]);
    untagged.insert(m1.clone());
    let mut garbage = set(&[&c4, &l4, &orphan]);
    garbage.insert(m4);
    Expect {
        kept,
        untagged,
        garbage,
        untagged_manifest: ("a/app".into(), m1),
        kept_untagged: vec![
            ("a/app".into(), sig, KeptBecause::Referrer),
            ("multi".into(), p1, KeptBecause::IndexChild),
            ("multi".into(), p2, KeptBecause::IndexChild),
        ],
        tags: vec![
            ("a/app".into(), "latest".into(), m2.clone()),
            ("a/app".into(), "v1".into(), m2),
        ],
    }
}

/// Everything the history keeps is still served: the tags, every kept blob through a
/// repository that has it, and the index's platform manifests.
async fn assert_serves(r: &Registry, expect: &Expect) {
    for (repo, tag, digest) in &expect.tags {
        let resp = get_manifest(r, repo, tag).await;
        assert_eq!(resp.status(), 200, "{repo}:{tag}");
        assert_eq!(header(&resp, "docker-content-digest"), *digest);
    }
    for (repo, d, _) in &expect.kept_untagged {
        assert_eq!(get_manifest(r, repo, d).await.status(), 200, "{repo}@{d}");
    }
    let stored = stored_blobs(r.driver().as_ref()).await;
    let missing: Vec<_> = expect.kept.difference(&stored).collect();
    assert!(missing.is_empty(), "kept blobs deleted: {missing:?}");
}

async fn semantics_on(r: &Registry) {
    let expect = build_history(r, &format!("{:?}", r.driver().name())).await;
    let driver = r.driver().as_ref();
    let before = stored_blobs(driver).await;
    assert_eq!(
        before.len(),
        expect.kept.len() + expect.untagged.len() + expect.garbage.len()
    );

    // Dry runs change nothing and list exactly what a run deletes.
    let dry = gc::run(driver, opts(true, false)).await.unwrap();
    assert_eq!(eligible(&dry), expect.garbage);
    assert!(dry.manifests.is_empty() && dry.kept_untagged.is_empty());
    assert!(dry.warnings.is_empty(), "{:?}", dry.warnings);
    assert_eq!(dry.repositories, 3);
    let dry_m = gc::run(driver, opts(true, true)).await.unwrap();
    let want: BTreeSet<String> = expect.garbage.union(&expect.untagged).cloned().collect();
    assert_eq!(eligible(&dry_m), want);
    let m = &expect.untagged_manifest;
    assert_eq!(
        dry_m
            .manifests
            .iter()
            .map(|(r, d)| (r.clone(), d.to_string()))
            .collect::<Vec<_>>(),
        std::slice::from_ref(m)
    );
    let kept: BTreeSet<_> = dry_m
        .kept_untagged
        .iter()
        .map(|(r, d, w)| (r.clone(), d.to_string(), *w))
        .collect();
    assert_eq!(kept, expect.kept_untagged.iter().cloned().collect());
    for d in &expect.kept {
        assert!(
            dry_m.marked.keys().any(|m| m.to_string() == *d),
            "{d} not marked"
        );
    }
    let bytes: u64 = dry_m.blobs.iter().map(|b| b.1).sum();
    assert_eq!(dry_m.bytes, bytes);
    assert!(bytes > 0);
    assert!(dry_m.links.iter().any(|(r, _)| r == "b/app"));
    assert_eq!(
        stored_blobs(driver).await,
        before,
        "a dry run deleted something"
    );
    assert_eq!(get_manifest(r, &m.0, &m.1).await.status(), 200);

    // A collection without -m deletes the garbage only.
    let run = gc::run(driver, opts(false, false)).await.unwrap();
    assert_eq!(eligible(&run), expect.garbage);
    let after = stored_blobs(driver).await;
    let want: BTreeSet<String> = before.difference(&expect.garbage).cloned().collect();
    assert_eq!(after, want);
    assert_serves(r, &expect).await;
    // The `_layers` links of deleted blobs are gone: the repository no longer has them.
    let orphan = expect
        .garbage
        .iter()
        .find(|d| {
            run.links
                .iter()
                .any(|(r, l)| r == "b/app" && l.to_string() == **d)
        })
        .expect("a removed link");
    let resp = r
        .client
        .head(r.url(&format!("/v2/b/app/blobs/{orphan}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(r
        .driver()
        .stat(&paths::layer_link("b/app", orphan))
        .await
        .is_err());

    // With -m: the untagged manifest and its own blobs go; the index's platform manifests and
    // the referrer stay.
    let run = gc::run(driver, opts(false, true)).await.unwrap();
    assert_eq!(eligible(&run), expect.untagged);
    assert_eq!(run.manifests.len(), 1);
    assert_eq!(get_manifest(r, &m.0, &m.1).await.status(), 404);
    assert_serves(r, &expect).await;
    assert_eq!(stored_blobs(driver).await, expect.kept);
    // Nothing is left to collect.
    let again = gc::run(driver, opts(false, true)).await.unwrap();
    assert!(again.blobs.is_empty() && again.manifests.is_empty());
    assert_eq!(again.marked.len(), run.marked.len());
}

#[tokio::test]
async fn keeps_what_manifests_use_and_deletes_the_rest_in_memory_and_on_filesystem() {
    for backend in BACKENDS {
        let r = start(backend, DELETES).await;
        semantics_on(&r).await;
        r.stop().await;
    }
}

#[tokio::test]
async fn keeps_what_manifests_use_and_deletes_the_rest_on_s3() {
    let server = common::S3sServer::start().await;
    server.create_bucket("gcsem");
    let r = start_with(&config(DELETES), s3_driver(&server.target(), "gcsem")).await;
    semantics_on(&r).await;
    r.stop().await;
}

async fn semantics_on_external(spec: &'static common::external::ServerSpec) {
    let Some(server) = common::server_or_skip(spec) else {
        return;
    };
    let bucket = common::unique_bucket_name("gc");
    server.create_bucket(&bucket).await;
    let r = start_with(&config(DELETES), s3_driver(&server.target(), &bucket)).await;
    semantics_on(&r).await;
    r.stop().await;
}

#[tokio::test]
async fn keeps_what_manifests_use_and_deletes_the_rest_on_swift() {
    semantics_on_external(&common::SWIFT).await;
}

#[tokio::test]
async fn keeps_what_manifests_use_and_deletes_the_rest_on_ceph() {
    semantics_on_external(&common::CEPH).await;
}

// --- 6. Bad states ----------------------------------------------------------------------------

/// Two tagged images sharing a base layer in `good`, and a blob no manifest uses in `good`.
/// Returns (every blob digest of the images, the unused blob).
async fn two_images(r: &Registry, seed: &str) -> (BTreeSet<String>, String) {
    let b = |s: &str| format!("{seed} {s}").into_bytes();
    let (base, c1, l1, c2, l2) = (b("base"), b("c1"), b("l1"), b("c2"), b("l2"));
    let (m1, _) = push_image(r, "good", "one", &[&c1, &base, &l1], None).await;
    let (m2, _) = push_image(r, "good", "two", &[&c2, &base, &l2], None).await;
    let mut used: BTreeSet<String> = [&base, &c1, &l1, &c2, &l2]
        .iter()
        .map(|x| sha256(x))
        .collect();
    used.extend([m1, m2]);
    let orphan = push_blob(r, "good", &b("orphan")).await;
    (used, orphan)
}

#[tokio::test]
async fn a_revision_whose_blob_is_missing_is_reported_and_skipped() {
    for backend in BACKENDS {
        let r = start(backend, DELETES).await;
        let (used, orphan) = two_images(&r, "missing").await;
        let driver = r.driver().as_ref();
        // A third manifest, tagged, whose blob is then lost; its layers are the base and l1,
        // also used by the first image.
        let c = b"missing c3".to_vec();
        let base = b"missing base".to_vec();
        let (lost, _) = push_image(&r, "good", "lost", &[&c, &base], None).await;
        driver.delete(&paths::blob_data(&lost)).await.unwrap();
        let report = gc::run(driver, opts(false, true)).await.unwrap();
        let warning = report
            .warnings
            .iter()
            .find(|w| w.contains(&lost))
            .unwrap_or_else(|| panic!("{:?}", report.warnings));
        assert!(warning.contains("blob is missing"), "{warning}");
        // Its config (used by nothing else) goes, the shared base stays; the revision link
        // is left alone.
        assert_eq!(eligible(&report), BTreeSet::from([orphan, sha256(&c)]));
        assert!(used.is_subset(&stored_blobs(driver).await));
        assert!(driver
            .stat(&paths::manifest_revision_link("good", &lost))
            .await
            .is_ok());
        r.stop().await;
    }
}

#[tokio::test]
async fn a_link_file_holding_garbage_stops_the_run_before_anything_is_deleted() {
    for backend in BACKENDS {
        let r = start(backend, DELETES).await;
        let (used, orphan) = two_images(&r, "garbage").await;
        let driver = r.driver().as_ref();
        let before = stored_blobs(driver).await;
        // A revision link with garbage in it.
        let revs = driver
            .list(&paths::manifest_revisions("good"))
            .await
            .unwrap();
        let alg_dir = &revs[0];
        let hex_dir = &driver.list(alg_dir).await.unwrap()[0];
        let link = format!("{hex_dir}/link");
        driver
            .put_content(&link, Bytes::from_static(b"not a digest \x00\xff"))
            .await
            .unwrap();
        for delete_untagged in [false, true] {
            let e = gc::run(driver, opts(false, delete_untagged))
                .await
                .unwrap_err();
            assert!(e.message.contains(&link), "{}", e.message);
            assert!(e.message.contains("Nothing was deleted"), "{}", e.message);
            assert!(e.report.blobs.is_empty() && e.report.manifests.is_empty());
            assert_eq!(stored_blobs(driver).await, before);
        }
        // Repaired, the run goes through and only the orphan goes.
        let target = format!("sha256:{}", hex_dir.rsplit('/').next().unwrap());
        driver
            .put_content(&link, Bytes::from(target))
            .await
            .unwrap();
        // A tag's current link with garbage matters only with -m.
        let current = paths::tag_current_link("good", "one");
        let saved = driver.get_content(&current).await.unwrap();
        driver
            .put_content(&current, Bytes::from_static(b"sha256:nope"))
            .await
            .unwrap();
        let e = gc::run(driver, opts(false, true)).await.unwrap_err();
        assert!(e.message.contains(&current), "{}", e.message);
        assert_eq!(stored_blobs(driver).await, before);
        let dry = gc::run(driver, opts(true, false)).await.unwrap();
        assert_eq!(eligible(&dry), BTreeSet::from([orphan.clone()]));
        driver.put_content(&current, saved).await.unwrap();
        let report = gc::run(driver, opts(false, true)).await.unwrap();
        assert_eq!(eligible(&report), BTreeSet::from([orphan]));
        assert!(used.is_subset(&stored_blobs(driver).await));
        r.stop().await;
    }
}

#[tokio::test]
async fn a_manifest_that_is_not_json_stops_the_run_before_anything_is_deleted() {
    let r = start(Backend::InMemory, DELETES).await;
    let (_used, _orphan) = two_images(&r, "json").await;
    let driver = r.driver().as_ref();
    let before = stored_blobs(driver).await;
    // A revision linking to a blob that is not a manifest.
    let junk = Bytes::from_static(b"\x1f\x8b not json");
    let d = sha256(&junk);
    driver
        .put_content(&paths::blob_data(&d), junk)
        .await
        .unwrap();
    driver
        .put_content(
            &paths::manifest_revision_link("good", &d),
            Bytes::from(d.clone()),
        )
        .await
        .unwrap();
    let e = gc::run(driver, opts(false, false)).await.unwrap_err();
    assert!(e.message.contains(&d), "{}", e.message);
    assert!(e.message.contains("good"), "{}", e.message);
    assert!(e.message.contains("Nothing was deleted"), "{}", e.message);
    let mut want = before.clone();
    want.insert(d);
    assert_eq!(stored_blobs(driver).await, want);
    r.stop().await;
}

#[tokio::test]
async fn a_repository_without_manifests_is_reported_and_its_blobs_swept() {
    for backend in BACKENDS {
        let r = start(backend, DELETES).await;
        let (used, orphan) = two_images(&r, "empty").await;
        let driver = r.driver().as_ref();
        // `empty` has only `_layers` (and an upload in progress); `lonely` has a blob that
        // `good` also uses.
        let own = push_blob(&r, "empty", b"only in empty").await;
        r.client
            .post(r.url("/v2/empty/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        let shared = used.iter().next().unwrap().clone();
        let data = driver
            .get_content(&paths::blob_data(&shared))
            .await
            .unwrap();
        push_blob(&r, "lonely", &data).await;
        let report = gc::run(driver, opts(false, false)).await.unwrap();
        for repo in ["empty", "lonely"] {
            assert!(
                report
                    .warnings
                    .iter()
                    .any(|w| w.contains(&format!("repository {repo} has no manifests"))),
                "{:?}",
                report.warnings
            );
        }
        assert_eq!(eligible(&report), BTreeSet::from([orphan, own]));
        assert!(used.is_subset(&stored_blobs(driver).await));
        assert_eq!(report.repositories, 3);
        r.stop().await;
    }
}

#[tokio::test]
async fn stray_objects_under_blobs_are_reported_and_left_alone() {
    let server = common::S3sServer::start().await;
    server.create_bucket("gcstray");
    let s3 = start_with(&config(DELETES), s3_driver(&server.target(), "gcstray")).await;
    let mut registries = vec![s3];
    for backend in BACKENDS {
        registries.push(start(backend, DELETES).await);
    }
    for r in registries {
        let (used, orphan) = two_images(&r, "stray").await;
        let driver = r.driver().as_ref();
        let blobs = format!("{}/blobs", paths::ROOT);
        let hex = &orphan["sha256:".len()..];
        // Another object in the orphan's directory goes with it.
        let extra = format!("{blobs}/sha256/{}/{hex}/extra", &hex[..2]);
        // A blob directory without data, a misplaced blob, an unknown algorithm, a stray file.
        let nodata_hex = "ab".repeat(32);
        let nodata = format!("{blobs}/sha256/ab/{nodata_hex}/partial");
        let misplaced = format!("{blobs}/sha256/00/{nodata_hex}/data");
        let md5 = format!("{blobs}/md5/00/0011/data");
        let stray = format!("{blobs}/sha256/README");
        for p in [&extra, &nodata, &misplaced, &md5, &stray] {
            driver
                .put_content(p, Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        let report = gc::run(driver, opts(false, true)).await.unwrap();
        assert_eq!(eligible(&report), BTreeSet::from([orphan.clone()]));
        for p in [&nodata, &misplaced, &md5, &stray] {
            assert!(
                report.warnings.iter().any(|w| w.contains(p.as_str())
                    || (p == &nodata && w.contains(&nodata_hex))
                    || (p == &md5 && w.contains("/blobs/md5"))),
                "{p}: {:?}",
                report.warnings
            );
            assert!(driver.stat(p).await.is_ok(), "{p} was deleted");
        }
        assert!(driver.stat(&extra).await.is_err(), "{}", driver.name());
        assert!(used.is_subset(&stored_blobs(driver).await));
        r.stop().await;
    }
}

#[tokio::test]
async fn a_layer_referenced_by_its_sha512_digest_keeps_the_stored_blob() {
    for backend in BACKENDS {
        let r = start(backend, DELETES).await;
        let config_blob = b"{\"sha512\":true}".to_vec();
        let config_digest = push_blob(&r, "s512", &config_blob).await;
        // The layer is uploaded under its sha512 digest: stored under sha256, linked under both.
        let layer = b"a layer known by its sha512 digest".to_vec();
        let d512 = paths::sha512_digest(&layer);
        let loc = start_upload(&r, "s512").await;
        let resp = r
            .client
            .put(r.url(&format!("{loc}?digest={d512}")))
            .body(layer.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_blob.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d512, "size": layer.len()}],
        })
        .to_string()
        .into_bytes();
        let resp = put_manifest(&r, "s512", "v1", OCI_MANIFEST, &m).await;
        assert_eq!(resp.status(), 201);
        let driver = r.driver().as_ref();
        for delete_untagged in [false, true] {
            let report = gc::run(driver, opts(false, delete_untagged)).await.unwrap();
            assert!(report.blobs.is_empty(), "{:?}", report.blobs);
            let marked: BTreeSet<String> = report.marked.keys().map(|d| d.to_string()).collect();
            assert!(marked.contains(&sha256(&layer)), "{marked:?}");
            assert!(marked.contains(&d512));
        }
        let got = r
            .client
            .get(r.url(&format!("/v2/s512/blobs/{d512}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap(), layer);
        r.stop().await;
    }
}

/// `n` blobs no manifest uses, written straight to storage as a push leaves them.
async fn orphans(driver: &dyn StorageDriver, n: usize, seed: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let items: Vec<Bytes> = (0..n)
        .map(|i| Bytes::from(format!("{seed} orphan {i}")))
        .collect();
    let puts = items.iter().map(|data| async move {
        let d = sha256(data);
        driver
            .put_content(&paths::blob_data(&d), data.clone())
            .await
            .unwrap();
        driver
            .put_content(&paths::layer_link("junk", &d), Bytes::from(d.clone()))
            .await
            .unwrap();
        d
    });
    let mut stream = futures_util::stream::iter(puts).buffer_unordered(32);
    use futures_util::StreamExt;
    while let Some(d) = stream.next().await {
        out.insert(d);
    }
    out
}

#[tokio::test]
async fn an_s3_error_mid_sweep_stops_the_run_and_a_second_run_finishes() {
    let server = common::S3sServer::start().await;
    server.create_bucket("gcsweep");
    let r = start_with(&config(DELETES), s3_driver(&server.target(), "gcsweep")).await;
    let (used, orphan) = two_images(&r, "sweep").await;
    let mut garbage = orphans(r.driver().as_ref(), 1200, "sweep").await;
    garbage.insert(orphan);
    // The collector's S3 requests go through a proxy: the first DeleteObjects passes, every
    // later one is refused.
    let proxy = FaultProxy::start(
        server.addr(),
        FaultPlan::new()
            .rule(
                FaultRule::new(Fault::Delay(Duration::ZERO))
                    .method("POST")
                    .path_contains("delete"),
            )
            .rule(
                FaultRule::new(Fault::status(403, "AccessDenied", "Access Denied"))
                    .method("POST")
                    .path_contains("delete")
                    .times(usize::MAX),
            ),
    )
    .await;
    let via = s3_driver(&server.target().via(&proxy.endpoint()), "gcsweep");
    let e = gc::run(via.as_ref(), opts(false, false)).await.unwrap_err();
    assert!(e.message.contains("deleting blobs failed"), "{}", e.message);
    assert!(e.message.contains("AccessDenied"), "{}", e.message);
    assert!(
        e.message.contains("run garbage-collect again"),
        "{}",
        e.message
    );
    // One batch went through: exactly what the report lists is gone, nothing else.
    let deleted = eligible(&e.report);
    assert!(
        deleted.len() == 1000 || deleted.len() == garbage.len() - 1000,
        "{} deleted",
        deleted.len()
    );
    assert!(deleted.is_subset(&garbage));
    let stored = stored_blobs(r.driver().as_ref()).await;
    assert!(used.is_subset(&stored), "a referenced blob was deleted");
    assert!(stored.is_disjoint(&deleted));
    assert_eq!(stored.len(), used.len() + garbage.len() - deleted.len());
    assert!(e.report.links.is_empty(), "links go after every blob");
    // Without the fault, a second run deletes the rest.
    proxy.clear_rules();
    let report = gc::run(via.as_ref(), opts(false, false)).await.unwrap();
    let rest: BTreeSet<String> = garbage.difference(&deleted).cloned().collect();
    assert_eq!(eligible(&report), rest);
    assert_eq!(stored_blobs(r.driver().as_ref()).await, used);
    // The links of every deleted blob are gone, those of the first run's too.
    assert_eq!(report.links.len(), garbage.len());
    r.stop().await;
}

#[tokio::test]
async fn an_s3_error_while_marking_stops_the_run_before_anything_is_deleted() {
    let server = common::S3sServer::start().await;
    server.create_bucket("gcmark");
    let r = start_with(&config(DELETES), s3_driver(&server.target(), "gcmark")).await;
    let (_used, _orphan) = two_images(&r, "mark").await;
    let before = stored_blobs(r.driver().as_ref()).await;
    for target in ["_manifests%2Frevisions", "%2Fblobs%2F", "/current/link"] {
        let proxy = FaultProxy::start(
            server.addr(),
            FaultPlan::new().rule(
                FaultRule::new(Fault::status(403, "AccessDenied", "Access Denied"))
                    .path_contains(target)
                    .times(usize::MAX),
            ),
        )
        .await;
        let via = s3_driver(&server.target().via(&proxy.endpoint()), "gcmark");
        let e = gc::run(via.as_ref(), opts(false, true)).await.unwrap_err();
        assert!(
            e.message.contains("AccessDenied"),
            "{target}: {}",
            e.message
        );
        assert!(e.message.contains("Nothing was deleted"), "{}", e.message);
        assert!(proxy.faults_injected() > 0, "{target}");
        let writes: Vec<_> = proxy
            .log()
            .into_iter()
            .filter(|l| l.method != "GET" && l.method != "HEAD")
            .collect();
        assert!(writes.is_empty(), "{writes:?}");
        assert_eq!(stored_blobs(r.driver().as_ref()).await, before);
    }
    r.stop().await;
}

// --- 5. The catalog lists directories --------------------------------------------------------

#[tokio::test]
async fn the_catalog_lists_directories_not_objects_on_s3() {
    let server = common::S3sServer::start().await;
    server.create_bucket("catalog");
    let proxy = FaultProxy::start(server.addr(), FaultPlan::new()).await;
    // No upload purger either: only the catalog lists.
    let cfg = format!("{DELETES}  maintenance:\n    uploadpurging:\n      enabled: false\n");
    let r = start_with(
        &config(&cfg),
        s3_driver(&server.target().via(&proxy.endpoint()), "catalog"),
    )
    .await;
    let names = ["a", "a/sub", "a-b", "b", "c/d/e", "c/d/f", "z"];
    for name in names {
        push_image(&r, name, "v1", &[name.as_bytes(), &b"layer"[..]], None).await;
    }
    let seen = proxy.requests_seen();
    let resp = r
        .client
        .get(r.url("/v2/_catalog?n=3&last=a-b"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&resp, "link"),
        "</v2/_catalog?last=c%2Fd%2Ff&n=3>; rel=\"next\""
    );
    assert_eq!(
        resp.json_value().await["repositories"],
        serde_json::json!(["b", "c/d/e", "c/d/f"])
    );
    let first_page_requests = proxy.requests_seen() - seen;
    let all = r.client.get(r.url("/v2/_catalog")).send().await.unwrap();
    assert_eq!(
        all.json_value().await["repositories"],
        serde_json::json!(names)
    );
    let lists: Vec<_> = proxy.log().into_iter().skip(seen).collect();
    assert!(!lists.is_empty());
    for l in &lists {
        assert_eq!(l.method, "GET", "{l:?}");
        assert!(l.target.contains("list-type=2"), "{l:?}");
        assert!(
            l.target.contains("delimiter=%2F"),
            "not a delimiter listing: {l:?}"
        );
        // Never below a repository's own directories.
        assert!(!l.target.contains("%2F_"), "{l:?}");
    }
    // The first page (after a-b) did not list `a` or `a/sub`: they sort before it.
    let first_page = &lists[..first_page_requests];
    assert!(
        first_page
            .iter()
            .all(|l| !l.target.contains("repositories%2Fa%2F")),
        "{first_page:?}"
    );
    assert!(lists[first_page_requests..]
        .iter()
        .any(|l| l.target.contains("repositories%2Fa%2F")));
    r.stop().await;
}

// --- 1, 2. The command line -------------------------------------------------------------------

fn gc_command(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_s3driver"));
    cmd.arg("garbage-collect").args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("REGISTRY_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[tokio::test]
async fn the_command_refuses_without_read_only_mode_or_no_writers_and_prints_records() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let driver: Arc<dyn StorageDriver> = Arc::new(s3driver::driver::Base::new(
        s3driver::driver::FilesystemDriver::new(s3driver::driver::FilesystemParameters::new(
            root.clone(),
        )),
    ));
    let r = start_with(&config(DELETES), Arc::clone(&driver)).await;
    let (used, orphan) = two_images(&r, "cli").await;
    r.stop().await;
    let cfg = dir.path().join("config.yml");
    // The file names another directory; REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY points at
    // the registry's.
    std::fs::write(
        &cfg,
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /nonexistent/elsewhere\n",
    )
    .unwrap();
    let env_root = (
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
        root.as_os_str(),
    );

    let out = gc_command(&[cfg.to_str().unwrap()])
        .env(env_root.0, env_root.1)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refuses"), "{err}");
    assert!(
        err.contains("storage.maintenance.readonly.enabled"),
        "{err}"
    );
    assert!(err.contains("--no-writers"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(stored_blobs(driver.as_ref()).await.contains(&orphan));

    // A dry run needs neither, changes nothing and prints the records.
    let out = gc_command(&["--dry-run", "--config", cfg.to_str().unwrap()])
        .env(env_root.0, env_root.1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let marks: BTreeSet<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("mark good "))
        .map(str::to_owned)
        .collect();
    assert_eq!(marks, used);
    let blob_lines: Vec<Vec<&str>> = lines
        .iter()
        .filter(|l| l.starts_with("blob "))
        .map(|l| l.split(' ').collect())
        .collect();
    assert_eq!(blob_lines.len(), 1, "{text}");
    assert_eq!(blob_lines[0][1], orphan);
    assert_eq!(blob_lines[0][2], "10"); // "cli orphan"
    assert_eq!(blob_lines[0][3], "eligible");
    assert_eq!(
        lines.last().copied(),
        Some("total repositories=1 marked=7 manifests=0 blobs=1 bytes=10 links=1 warnings=0 dry-run=true")
    );
    assert!(stored_blobs(driver.as_ref()).await.contains(&orphan));

    // Read-only mode in the configuration (here through the environment) lets it delete.
    let out = gc_command(&[cfg.to_str().unwrap()])
        .env(env_root.0, env_root.1)
        .env("REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("blob {orphan} 10 deleted\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("link good {orphan} deleted\n")),
        "{text}"
    );
    assert!(text.ends_with("dry-run=false\n"), "{text}");
    assert_eq!(stored_blobs(driver.as_ref()).await, used);

    // So does --no-writers (nothing left to delete now); -m is accepted.
    let out = gc_command(&["-m", "--no-writers", cfg.to_str().unwrap()])
        .env(env_root.0, env_root.1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.ends_with("manifests=0 blobs=0 bytes=0 links=0 warnings=0 dry-run=false\n"),
        "{text}"
    );

    // The help says why it refuses.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_s3driver"))
        .arg("help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("garbage-collect [--dry-run] [--delete-untagged] [--no-writers]"));
    assert!(
        help.contains("registry:2 documents the same race"),
        "{help}"
    );
}

#[tokio::test]
async fn the_command_stops_with_a_clear_message_on_a_garbage_link() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let driver: Arc<dyn StorageDriver> = Arc::new(s3driver::driver::Base::new(
        s3driver::driver::FilesystemDriver::new(s3driver::driver::FilesystemParameters::new(
            root.clone(),
        )),
    ));
    let r = start_with(&config(DELETES), Arc::clone(&driver)).await;
    let (_used, orphan) = two_images(&r, "cli garbage").await;
    r.stop().await;
    let current = paths::tag_current_link("good", "one");
    driver
        .put_content(&current, Bytes::from_static(b"garbage"))
        .await
        .unwrap();
    let cfg = dir.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    readonly:\n      enabled: true\n",
            root.display()
        ),
    )
    .unwrap();
    let out = gc_command(&["--delete-untagged", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("garbage-collect stopped"), "{err}");
    assert!(err.contains(&current), "{err}");
    assert!(err.contains("\"garbage\""), "{err}");
    assert!(err.contains("Nothing was deleted"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("blobs=0 bytes=0"), "{text}");
    assert!(stored_blobs(driver.as_ref()).await.contains(&orphan));
}
