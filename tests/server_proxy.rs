//! The pull-through cache (`proxy.remoteurl`) end to end, everything on 127.0.0.1: the
//! upstream is `s3driver serve` (the binary) with htpasswd, holding a multi-layer image
//! and an image index, behind a recording front (tests/server_support/front.rs) that
//! counts what the cache asks for and can stand in for a token-authenticating registry,
//! corrupt content or stop. The cache is `s3driver serve` on the S3 driver (s3s-fs in
//! process, and Swift when running) configured by registry:2 YAML, pulled from with
//! skopeo and reqwest.
#![cfg(feature = "server")]

mod common;
mod server_support;

use std::path::Path;
use std::time::{Duration, Instant};

use server_support::front::{Front, FrontAuth};
use server_support::images::{image, index, Image, Pusher};
use server_support::process::ServeProcess;
use server_support::registry_layout as paths;
use server_support::*;

/// The upstream registry's user.
const USER: (&str, &str) = ("puller", "pullerpw");

/// A failure guard: no single request in these tests may take this long.
const GUARD: Duration = Duration::from_secs(120);

/// `s3driver serve` with htpasswd on the filesystem, as the upstream registry.
async fn upstream(dir: &Path) -> ServeProcess {
    let htpasswd = dir.join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("{}:{}\n", USER.0, bcrypt::hash(USER.1, 4).unwrap()),
    )
    .unwrap();
    let cfg = dir.join("upstream.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\nauth:\n  htpasswd:\n    realm: upstream\n    path: {}\n",
            dir.join("data").display(),
            htpasswd.display()
        ),
    )
    .unwrap();
    ServeProcess::start(&cfg).await
}

/// The cache's registry:2 YAML on S3 `target`/`bucket`, with the `proxy` lines given.
fn cache_yaml(target: &common::S3Target, bucket: &str, proxy: &str) -> String {
    format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /cache\n    chunksize: 5242880\nproxy:\n{proxy}http:\n  addr: 127.0.0.1:0\n",
        target.access_key, target.secret_key, target.region, target.endpoint
    )
}

/// The `proxy` lines for `front` with the upstream's user.
fn proxy_lines(front: &Front, extra: &str) -> String {
    format!(
        "  remoteurl: {}\n  username: {}\n  password: {}\n{extra}",
        front.base, USER.0, USER.1
    )
}

/// A cache registry (in process) from `yaml`.
async fn cache(yaml: &str) -> Registry {
    let cfg = s3driver::config::Config::from_yaml(yaml, &[]).expect("cache config");
    assert!(cfg.proxy.is_some());
    start_app(s3driver::server::App::from_config(&cfg).expect("cache app")).await
}

fn host(r: &Registry) -> String {
    r.base.trim_start_matches("http://").to_owned()
}

/// Checks an OCI layout skopeo wrote: `tag`'s manifest is `want` and every blob is
/// byte-identical.
fn check_layout(dir: &Path, want: &Image) {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(idx["manifests"][0]["digest"], want.digest().as_str());
    let blob = |d: &str| std::fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap();
    assert_eq!(blob(&want.digest()), want.manifest);
    for (d, data) in &want.blobs {
        assert!(blob(d) == *data, "blob {d} differs");
    }
}

/// Whether the cache's storage links `digest` into `repo` (the last step of caching it).
async fn linked(r: &Registry, repo: &str, digest: &str) -> bool {
    r.driver()
        .stat(&paths::layer_link(repo, digest))
        .await
        .is_ok()
}

/// Waits until `digest` is cached in `repo` (a client gets the last byte before the cache
/// has committed it).
async fn wait_linked(r: &Registry, repo: &str, digest: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !linked(r, repo, digest).await {
        assert!(
            Instant::now() < deadline,
            "{digest} was not cached in {repo}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the cache's storage holds `digest`'s data.
async fn stored(r: &Registry, digest: &str) -> bool {
    r.driver().stat(&paths::blob_data(digest)).await.is_ok()
}

/// GET from the cache, following a redirect to its storage.
async fn get(r: &Registry, path: &str) -> reqwest::Response {
    tokio::time::timeout(
        GUARD,
        common::http_client()
            .get(r.url(path))
            .header("Accept", ACCEPT_ALL)
            .send(),
    )
    .await
    .expect("the cache answers within the guard")
    .expect("request")
}

/// The upstream's content: `lib/app:v1` (four blobs, three layers) and `lib/multi:latest`
/// (an index of two images).
struct Content {
    app: Image,
    amd: Image,
    arm: Image,
    index: Vec<u8>,
}

async fn populate(upstream_base: &str) -> Content {
    let p = Pusher::new(upstream_base, Some(USER));
    let app = image("app", "amd64", &[300_000, 2_500_000, 40_000]);
    p.image("lib/app", "v1", &app).await;
    let amd = image("multi-amd", "amd64", &[150_000]);
    let arm = image("multi-arm", "arm64", &[170_000]);
    p.image("lib/multi", &amd.digest(), &amd).await;
    p.image("lib/multi", &arm.digest(), &arm).await;
    let idx = index(&[(&amd, "amd64"), (&arm, "arm64")]);
    p.manifest("lib/multi", "latest", OCI_INDEX, &idx).await;
    Content {
        app,
        amd,
        arm,
        index: idx,
    }
}

/// Point 1 and 3 of the cache on one S3 server: skopeo pulls by tag, by digest and of an
/// index are byte-identical; the first pull fetches each blob once, the second asks the
/// upstream nothing; pushes are refused; with the upstream stopped, cached content is
/// still pulled and the rest fails at once with 503; the schedule is stored in
/// registry:2's form.
async fn pull_through(target: common::S3Target, bucket: &str) {
    let work = tempfile::tempdir().unwrap();
    let mut up = upstream(work.path()).await;
    let content = populate(&up.base).await;
    let mut front = Front::start(&up.base, FrontAuth::Passthrough).await;
    let r = cache(&cache_yaml(
        &target,
        bucket,
        &proxy_lines(&front, "  ttl: 1h\n"),
    ))
    .await;
    let h = host(&r);
    let app = &content.app;

    // A cold pull by tag.
    let dst = work.path().join("tag");
    skopeo::run(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{h}/lib/app:v1"),
        &format!("oci:{}:v1", dst.display()),
    ])
    .await;
    check_layout(&dst, app);
    let raw = skopeo::run(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{h}/lib/app:v1"),
    ])
    .await;
    assert_eq!(
        raw.as_bytes(),
        &app.manifest[..],
        "the manifest byte for byte"
    );
    for (d, _) in &app.blobs {
        let gets: Vec<_> = front
            .blob_requests()
            .into_iter()
            .filter(|s| s.method == "GET" && s.path.ends_with(d.as_str()) && s.status == 200)
            .collect();
        assert_eq!(gets.len(), 1, "blob {d} fetched once: {:?}", front.log());
        wait_linked(&r, "lib/app", d).await;
        assert!(stored(&r, d).await, "blob {d} stored");
        let link = paths::layer_link("lib/app", d);
        assert_eq!(r.driver().get_content(&link).await.unwrap(), d.as_bytes());
    }
    let tag_link = r
        .driver()
        .get_content(&paths::tag_current_link("lib/app", "v1"))
        .await
        .unwrap();
    assert_eq!(tag_link, app.digest().as_bytes(), "registry:2's layout");

    // By digest, and the second pull by tag: nothing asked upstream.
    front.clear_log();
    let by_digest = work.path().join("digest");
    skopeo::run(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{h}/lib/app@{}", app.digest()),
        &format!("dir:{}", by_digest.display()),
    ])
    .await;
    assert_eq!(
        std::fs::read(by_digest.join("manifest.json")).unwrap(),
        app.manifest
    );
    for (d, data) in &app.blobs {
        assert!(
            std::fs::read(by_digest.join(&d[7..])).unwrap() == *data,
            "{d}"
        );
    }
    let again = work.path().join("again");
    skopeo::run(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{h}/lib/app:v1"),
        &format!("oci:{}:v1", again.display()),
    ])
    .await;
    check_layout(&again, app);
    assert!(
        front.blob_requests().is_empty(),
        "the second pull asked the upstream for blobs: {:?}",
        front.blob_requests()
    );
    assert!(
        front.manifest_requests().is_empty(),
        "a fresh tag and a digest are served without the upstream: {:?}",
        front.manifest_requests()
    );

    // The index, every platform.
    let multi = work.path().join("multi");
    skopeo::run(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        &format!("docker://{h}/lib/multi:latest"),
        &format!("oci:{}:latest", multi.display()),
    ])
    .await;
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(multi.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        idx["manifests"][0]["digest"],
        sha256(&content.index).as_str()
    );
    let blob = |d: &str| std::fs::read(multi.join("blobs/sha256").join(&d[7..])).unwrap();
    assert_eq!(blob(&sha256(&content.index)), content.index);
    for img in [&content.amd, &content.arm] {
        assert_eq!(blob(&img.digest()), img.manifest);
        for (d, data) in &img.blobs {
            assert!(blob(d) == *data, "{d}");
        }
    }

    // Pushes and deletes are refused as registry:2's cache refuses them.
    let resp = r
        .client
        .post(r.url("/v2/lib/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(error_codes(resp).await, ["UNSUPPORTED"]);
    let resp = put_manifest(&r, "lib/app", "v2", OCI_MANIFEST, &app.manifest).await;
    assert_eq!(resp.status(), 405);
    assert_eq!(error_codes(resp).await, ["UNSUPPORTED"]);
    let src = work.path().join("src");
    skopeo::run(&[
        "copy",
        &format!("oci:{}:v1", dst.display()),
        &format!("oci:{}:v1", src.display()),
    ])
    .await;
    let out = skopeo::output(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{h}/lib/pushed:v1"),
    ])
    .await;
    assert!(!out.status.success(), "a push through the cache must fail");

    // The upstream goes away: what is cached is still pulled, the rest fails at once.
    up.kill();
    front.stop();
    let offline = work.path().join("offline");
    skopeo::run(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{h}/lib/app:v1"),
        &format!("oci:{}:v1", offline.display()),
    ])
    .await;
    check_layout(&offline, app);
    let offline_digest = work.path().join("offline-digest");
    skopeo::run(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{h}/lib/multi@{}", sha256(&content.index)),
        &format!("oci:{}:x", offline_digest.display()),
    ])
    .await;
    for path in [
        "/v2/lib/other/manifests/v9".to_owned(),
        format!("/v2/lib/app/blobs/{}", sha256(b"never cached")),
    ] {
        let resp = get(&r, &path).await;
        assert_eq!(resp.status(), 503, "{path}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("UNAVAILABLE"), "{text}");
        assert!(
            !text.contains(&front.host()),
            "the upstream's address leaked: {text}"
        );
        assert!(!text.contains(USER.1), "the password leaked: {text}");
    }
    let driver = std::sync::Arc::clone(r.driver());
    r.stop().await;

    // The schedule, where and as registry:2 keeps it.
    let state: serde_json::Value =
        serde_json::from_slice(&driver.get_content("/scheduler-state.json").await.unwrap())
            .unwrap();
    for (d, kind) in app
        .blobs
        .iter()
        .map(|(d, _)| (d.clone(), 0))
        .chain([(app.digest(), 1)])
    {
        let key = format!("lib/app@{d}");
        let e = &state[&key];
        assert_eq!(e["Key"], key.as_str(), "{state}");
        assert_eq!(e["EntryType"], kind, "{state}");
        assert!(
            e["ExpiryData"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{state}"
        );
    }
}

#[tokio::test]
async fn pull_through_cache_on_s3s_fs() {
    if !skopeo::available() {
        return;
    }
    let server = common::S3sServer::start().await;
    server.create_bucket("cache");
    pull_through(server.target(), "cache").await;
}

#[tokio::test]
async fn pull_through_cache_on_swift() {
    if !skopeo::available() {
        return;
    }
    let Some(swift) = common::swift_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("cache");
    swift.create_bucket(&bucket).await;
    pull_through(swift.target(), &bucket).await;
}

/// A cache on s3s-fs in front of a fresh upstream with `lib/app:v1`; `proxy` lines after
/// `remoteurl` and the credentials.
async fn setup(
    proxy_extra: &str,
) -> (
    tempfile::TempDir,
    ServeProcess,
    Content,
    Front,
    Registry,
    common::S3sServer,
) {
    let work = tempfile::tempdir().unwrap();
    let up = upstream(work.path()).await;
    let content = populate(&up.base).await;
    let front = Front::start(&up.base, FrontAuth::Passthrough).await;
    let server = common::S3sServer::start().await;
    server.create_bucket("cache");
    let r = cache(&cache_yaml(
        &server.target(),
        "cache",
        &proxy_lines(&front, proxy_extra),
    ))
    .await;
    (work, up, content, front, r, server)
}

async fn manifest_digest(r: &Registry, path: &str) -> String {
    let resp = get(r, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    let d = header(&resp, "docker-content-digest");
    let body = resp.bytes().await.unwrap();
    assert_eq!(sha256(&body), d);
    d
}

/// A tag moved upstream is served as cached while it is fresh, and picked up once it is
/// older than `proxy.ttl`; content expires `ttl` after it was fetched.
#[tokio::test]
async fn a_moved_tag_is_picked_up_after_the_ttl() {
    let ttl = Duration::from_secs(3);
    let (_work, up, content, front, r, _s3) = setup("  ttl: 3s\n").await;
    let first = manifest_digest(&r, "/v2/lib/app/manifests/v1").await;
    let cached_at = Instant::now();
    assert_eq!(first, content.app.digest());
    let layer = content.app.layers()[0].clone();
    let resp = get(&r, &format!("/v2/lib/app/blobs/{layer}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(sha256(&resp.bytes().await.unwrap()), layer);
    wait_linked(&r, "lib/app", &layer).await;
    assert!(stored(&r, &layer).await);

    let moved = image("moved", "amd64", &[10_000]);
    Pusher::new(&up.base, Some(USER))
        .image("lib/app", "v1", &moved)
        .await;
    front.clear_log();
    let now = manifest_digest(&r, "/v2/lib/app/manifests/v1").await;
    if cached_at.elapsed() < ttl {
        // (Only meaningful while the tag is fresh; a very slow machine skips this check.)
        assert_eq!(now, content.app.digest(), "served as cached while fresh");
        assert!(front.manifest_requests().is_empty(), "{:?}", front.log());
    }
    tokio::time::sleep(ttl.saturating_sub(cached_at.elapsed()) + Duration::from_millis(1500)).await;
    let later = manifest_digest(&r, "/v2/lib/app/manifests/v1").await;
    assert_eq!(
        later,
        moved.digest(),
        "the moved tag is picked up after the TTL"
    );
    // The scheduler removes what was fetched `ttl` ago.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored(&r, &layer).await {
        assert!(
            Instant::now() < deadline,
            "the expired blob was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let link = paths::layer_link("lib/app", &layer);
    assert!(r.driver().stat(&link).await.is_err(), "its link went too");
    let revision = paths::manifest_revision_link("lib/app", &content.app.digest());
    while r.driver().stat(&revision).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the expired manifest was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Expired content is fetched again when asked for.
    let resp = get(&r, &format!("/v2/lib/app/blobs/{layer}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(sha256(&resp.bytes().await.unwrap()), layer);
    r.stop().await;
}

/// With `ttl: 0` nothing expires and every tag request asks the upstream (a HEAD; the
/// manifest is fetched only when the tag moved), as registry:2 2.8 does; no schedule is
/// kept.
#[tokio::test]
async fn with_ttl_0_tags_are_checked_every_time() {
    let (_work, up, content, front, r, _s3) = setup("  ttl: 0\n").await;
    assert_eq!(
        manifest_digest(&r, "/v2/lib/app/manifests/v1").await,
        content.app.digest()
    );
    front.clear_log();
    assert_eq!(
        manifest_digest(&r, "/v2/lib/app/manifests/v1").await,
        content.app.digest()
    );
    let asked = front.manifest_requests();
    assert!(
        !asked.is_empty() && asked.iter().all(|s| s.method == "HEAD"),
        "an unchanged tag costs a HEAD only: {asked:?}"
    );
    let moved = image("moved0", "amd64", &[1000]);
    Pusher::new(&up.base, Some(USER))
        .image("lib/app", "v1", &moved)
        .await;
    assert_eq!(
        manifest_digest(&r, "/v2/lib/app/manifests/v1").await,
        moved.digest()
    );
    // By digest: immutable, never asked again.
    front.clear_log();
    manifest_digest(
        &r,
        &format!("/v2/lib/app/manifests/{}", content.app.digest()),
    )
    .await;
    manifest_digest(
        &r,
        &format!("/v2/lib/app/manifests/{}", content.app.digest()),
    )
    .await;
    assert!(front.manifest_requests().is_empty(), "{:?}", front.log());
    let driver = std::sync::Arc::clone(r.driver());
    r.stop().await;
    assert!(driver.stat("/scheduler-state.json").await.is_err());
}

/// Point 3: a blob whose upstream bytes do not match its digest is never stored or served:
/// the client's transfer breaks off (never a complete-looking response), nothing stays in
/// storage, a second request fetches again and fails again; a wrong manifest is refused
/// with 502.
#[tokio::test]
async fn a_corrupted_upstream_blob_is_never_stored_or_served() {
    let (work, _up, content, front, r, _s3) = setup("  ttl: 1h\n").await;
    let layer = content.app.layers()[1].clone(); // 2.5 MB: streamed in many pieces
    front.corrupt(&layer);
    for attempt in 1..=2 {
        let resp = get(&r, &format!("/v2/lib/app/blobs/{layer}")).await;
        match resp.status().as_u16() {
            200 => {
                let body = resp.bytes().await;
                assert!(
                    body.is_err(),
                    "attempt {attempt}: the transfer must break off, got {:?} bytes",
                    body.map(|b| b.len())
                );
            }
            // (A request that finds a failed fetch answers with the error.)
            status => assert_eq!(status, 502, "attempt {attempt}"),
        }
        assert!(!stored(&r, &layer).await, "corrupt bytes stored");
        let link = paths::layer_link("lib/app", &layer);
        assert!(r.driver().stat(&link).await.is_err());
    }
    let fetched = front
        .blob_requests()
        .iter()
        .filter(|s| s.method == "GET" && s.path.ends_with(layer.as_str()) && s.status == 200)
        .count();
    assert_eq!(fetched, 2, "not served from a cache the second time");
    // Nothing is left of the uploads the fetches wrote to.
    let deadline = Instant::now() + Duration::from_secs(30);
    let uploads = "/docker/registry/v2/repositories/lib/app/_uploads";
    while r.driver().list(uploads).await.is_ok_and(|l| !l.is_empty()) {
        assert!(
            Instant::now() < deadline,
            "an upload of corrupt bytes was left behind"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if skopeo::available() {
        let out = skopeo::output(&[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{}/lib/app:v1", host(&r)),
            &format!("oci:{}:v1", work.path().join("bad").display()),
        ])
        .await;
        assert!(!out.status.success(), "skopeo must not get the image");
    }
    // Once the upstream is right again, the blob is fetched and served. A fetch of the
    // corrupt bytes that skopeo started may still be running (the cache finishes a fetch
    // after its client went away); requests that join it share its failure, so the first
    // answers after the heal may still be 502, never wrong bytes.
    front.heal(&layer);
    let deadline = Instant::now() + Duration::from_secs(30);
    let resp = loop {
        let resp = get(&r, &format!("/v2/lib/app/blobs/{layer}")).await;
        if resp.status() != 502 || Instant::now() > deadline {
            break resp;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(resp.status(), 200);
    assert_eq!(sha256(&resp.bytes().await.unwrap()), layer);
    wait_linked(&r, "lib/app", &layer).await;
    assert!(stored(&r, &layer).await);

    // A manifest by digest whose bytes do not match: 502, nothing stored.
    let d = content.amd.digest();
    front.corrupt(&d);
    let resp = get(&r, &format!("/v2/lib/multi/manifests/{d}")).await;
    assert_eq!(resp.status(), 502);
    assert!(resp.text().await.unwrap().contains("digest"));
    assert!(!stored(&r, &d).await);
    r.stop().await;
}

/// A blob cached through one repository is served to another only when the upstream
/// says that repository has it (a blob's digest is not a key to every repository), and
/// then from storage: linked, not fetched again.
#[tokio::test]
async fn a_blob_cached_through_another_repository_needs_the_upstreams_word() {
    let (_work, up, content, front, r, _s3) = setup("  ttl: 1h\n").await;
    Pusher::new(&up.base, Some(USER))
        .image("lib/copy", "v1", &content.app)
        .await;
    let layer = content.app.layers()[1].clone(); // 2.5 MB
    let resp = get(&r, &format!("/v2/lib/app/blobs/{layer}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(sha256(&resp.bytes().await.unwrap()), layer);
    wait_linked(&r, "lib/app", &layer).await;

    // `lib/multi` exists upstream but does not have the layer.
    front.clear_log();
    for head in [false, true] {
        let url = r.url(&format!("/v2/lib/multi/blobs/{layer}"));
        let client = common::http_client();
        let resp = if head {
            client.head(url)
        } else {
            client.get(url)
        }
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 404, "HEAD {head}");
        if !head {
            assert!(resp.text().await.unwrap().contains("BLOB_UNKNOWN"));
        }
    }
    assert!(
        !linked(&r, "lib/multi", &layer).await,
        "linked without the upstream's word"
    );
    assert!(stored(&r, &layer).await, "the cached blob stays");

    // `lib/copy` and `lib/copy2` have it upstream: a HEAD (in `lib/copy`) and a GET (in
    // `lib/copy2`) each take one upstream answer as the word, link, and serve from storage.
    let size = content
        .app
        .blobs
        .iter()
        .find(|(d, _)| *d == layer)
        .unwrap()
        .1
        .len();
    Pusher::new(&up.base, Some(USER))
        .image("lib/copy2", "v1", &content.app)
        .await;
    front.clear_log();
    let resp = common::http_client()
        .head(r.url(&format!("/v2/lib/copy/blobs/{layer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-length"), size.to_string());
    assert!(linked(&r, "lib/copy", &layer).await);
    let resp = get(&r, &format!("/v2/lib/copy2/blobs/{layer}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(sha256(&resp.bytes().await.unwrap()), layer);
    assert!(linked(&r, "lib/copy2", &layer).await);
    for repo in ["lib/copy", "lib/copy2"] {
        let resp = get(&r, &format!("/v2/{repo}/blobs/{layer}")).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(sha256(&resp.bytes().await.unwrap()), layer);
    }
    let asked = front.blob_requests();
    assert_eq!(
        asked.len(),
        2,
        "one word per repository, then storage: {asked:?}"
    );
    r.stop().await;
}

/// Point 1: the first client gets the blob's bytes before it is stored (streamed), and
/// concurrent requests for it make one upstream fetch.
#[tokio::test]
async fn concurrent_requests_fetch_a_blob_once_and_stream() {
    let work = tempfile::tempdir().unwrap();
    let up = upstream(work.path()).await;
    let big = image("big", "amd64", &[32 * 1024 * 1024]);
    Pusher::new(&up.base, Some(USER))
        .image("lib/big", "v1", &big)
        .await;
    let front = Front::start(&up.base, FrontAuth::Passthrough).await;
    let server = common::S3sServer::start().await;
    server.create_bucket("cache");
    let r = cache(&cache_yaml(
        &server.target(),
        "cache",
        &proxy_lines(&front, ""),
    ))
    .await;
    let layer = big.layers()[0].clone();
    let data = big.blobs[1].1.clone();
    let url = r.url(&format!("/v2/lib/big/blobs/{layer}"));
    let mut first = r.client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "content-length"), data.len().to_string());
    // The first bytes arrive while the blob is not stored yet: this client reads slower
    // than the upstream sends, so the fetch cannot have finished.
    let mut got = Vec::new();
    while got.len() < 1024 * 1024 {
        got.extend_from_slice(&first.chunk().await.unwrap().expect("more bytes"));
    }
    assert!(!stored(&r, &layer).await, "streamed before being stored");
    // Others ask meanwhile.
    let others: Vec<_> = (0..3)
        .map(|_| {
            let c = common::http_client(); // follows the redirect to the cache's storage
            let url = url.clone();
            tokio::spawn(async move {
                let resp = c.get(&url).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                resp.bytes().await.unwrap()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Some(c) = first.chunk().await.unwrap() {
        got.extend_from_slice(&c);
    }
    assert!(got == data, "the first client's bytes");
    for o in others {
        assert!(o.await.unwrap() == data, "a waiting client's bytes");
    }
    let gets = front
        .blob_requests()
        .iter()
        .filter(|s| s.method == "GET" && s.path.ends_with(layer.as_str()) && s.status == 200)
        .count();
    assert_eq!(gets, 1, "fetched once: {:?}", front.log());
    assert!(stored(&r, &layer).await);
    r.stop().await;
}

/// Point 2: Docker's token flow (a 401 with a Bearer challenge, a token for the
/// credentials, the request again), tokens cached, a revoked token replaced; anonymous
/// tokens; refused credentials give a clear error without the password.
#[tokio::test]
async fn token_authenticated_upstream() {
    let work = tempfile::tempdir().unwrap();
    let up = upstream(work.path()).await;
    let content = populate(&up.base).await;
    let behind = Some((USER.0.to_owned(), USER.1.to_owned()));
    let front = Front::start(
        &up.base,
        FrontAuth::Token {
            user: Some(("tokuser".to_owned(), "tokpass".to_owned())),
            behind: behind.clone(),
        },
    )
    .await;
    let server = common::S3sServer::start().await;
    server.create_bucket("cache");
    let yaml = |user: &str, pass: &str| {
        cache_yaml(
            &server.target(),
            "cache",
            &format!(
                "  remoteurl: {}\n  username: {user}\n  password: {pass}\n",
                front.base
            ),
        )
    };
    let later = image("later", "amd64", &[5000]);
    Pusher::new(&up.base, Some(USER))
        .image("lib/app", "v2", &later)
        .await;
    let r = cache(&yaml("tokuser", "tokpass")).await;
    if skopeo::available() {
        let dst = work.path().join("tok");
        skopeo::run(&[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{}/lib/app:v1", host(&r)),
            &format!("oci:{}:v1", dst.display()),
        ])
        .await;
        check_layout(&dst, &content.app);
    } else {
        assert_eq!(
            manifest_digest(&r, "/v2/lib/app/manifests/v1").await,
            content.app.digest()
        );
        for (d, data) in &content.app.blobs {
            let resp = get(&r, &format!("/v2/lib/app/blobs/{d}")).await;
            assert!(resp.bytes().await.unwrap() == *data);
        }
    }
    assert_eq!(
        front.token_requests().len(),
        1,
        "one token for the repository, reused: {:?}",
        front.log()
    );
    assert!(front
        .log()
        .iter()
        .filter(|s| s.path.starts_with("/v2/lib/app/") && s.status == 200)
        .all(|s| s.auth == "bearer"));
    // A token the upstream stops accepting is replaced.
    front.revoke_tokens();
    front.clear_log();
    assert_eq!(
        manifest_digest(&r, "/v2/lib/app/manifests/v2").await,
        later.digest()
    );
    let seen: Vec<(String, u16)> = front
        .log()
        .into_iter()
        .map(|s| {
            (
                s.path.split('?').next().unwrap_or_default().to_owned(),
                s.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("/v2/lib/app/manifests/v2".to_owned(), 401),
            ("/token".to_owned(), 200),
            ("/v2/lib/app/manifests/v2".to_owned(), 200),
        ]
    );
    r.stop().await;

    // Wrong credentials: a clear refusal, no password in it.
    let bad = cache(&yaml("tokuser", "wrong-secret-pw")).await;
    let resp = get(&bad, "/v2/lib/other/manifests/v1").await;
    assert_eq!(resp.status(), 404);
    let text = resp.text().await.unwrap();
    assert!(text.contains("refused the proxy's credentials"), "{text}");
    assert!(
        !text.contains("wrong-secret-pw") && !text.contains(&front.host()),
        "{text}"
    );
    bad.stop().await;

    // Anonymous tokens, no credentials configured.
    let anon_front = Front::start(&up.base, FrontAuth::Token { user: None, behind }).await;
    let anon = cache(&cache_yaml(
        &server.target(),
        "cache",
        &format!("  remoteurl: {}\n", anon_front.base),
    ))
    .await;
    assert_eq!(
        manifest_digest(
            &anon,
            &format!("/v2/lib/multi/manifests/{}", content.amd.digest())
        )
        .await,
        content.amd.digest()
    );
    assert_eq!(anon_front.token_requests().len(), 1);
    anon.stop().await;

    // Basic authentication without credentials configured: a clear error.
    let direct = cache(&cache_yaml(
        &server.target(),
        "cache",
        &format!("  remoteurl: {}\n", up.base),
    ))
    .await;
    let resp = get(&direct, "/v2/lib/other/manifests/v1").await;
    assert_eq!(resp.status(), 404);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("set proxy.username and proxy.password"),
        "{text}"
    );
    direct.stop().await;
}

/// Point 2: an upstream that never answers, or refuses connections, fails requests within
/// `proxy.timeout` with 503, never a hang.
#[tokio::test]
async fn an_unreachable_upstream_fails_fast() {
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole = blackhole.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = blackhole.accept().await {
            conns.push(s); // accepted, never answered
        }
    });
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for (addr, want) in [(hole, "timed out"), (refused, "could not connect")] {
        let r = start_with(
            &config(&format!(
                "proxy:\n  remoteurl: http://{addr}\n  timeout: 1s\n"
            )),
            std::sync::Arc::new(s3driver::driver::Base::new(
                s3driver::driver::InMemoryDriver::new(),
            )),
        )
        .await;
        for path in [
            "/v2/lib/app/manifests/v1".to_owned(),
            format!("/v2/lib/app/blobs/{}", sha256(b"x")),
        ] {
            let resp = get(&r, &path).await;
            assert_eq!(resp.status(), 503, "{path}");
            let text = resp.text().await.unwrap();
            assert!(text.contains(want), "{text}");
            assert!(!text.contains(&addr.to_string()), "{text}");
        }
        r.stop().await;
    }
    held.abort();
}

/// Point 1: the schedule survives a restart: content fetched by one cache process is
/// removed by the next one on the same bucket when its time comes.
#[tokio::test]
async fn expiry_survives_a_restart() {
    let ttl = Duration::from_secs(8);
    let (_work, _up, content, front, r, s3) = setup("  ttl: 8s\n").await;
    manifest_digest(&r, "/v2/lib/app/manifests/v1").await;
    let fetched_at = Instant::now();
    let layer = content.app.layers()[0].clone();
    let resp = get(&r, &format!("/v2/lib/app/blobs/{layer}")).await;
    assert_eq!(sha256(&resp.bytes().await.unwrap()), layer);
    wait_linked(&r, "lib/app", &layer).await;
    r.stop().await;
    let yaml = cache_yaml(&s3.target(), "cache", &proxy_lines(&front, "  ttl: 8s\n"));
    let next = cache(&yaml).await;
    let state: serde_json::Value = serde_json::from_slice(
        &next
            .driver()
            .get_content("/scheduler-state.json")
            .await
            .unwrap(),
    )
    .unwrap();
    if fetched_at.elapsed() < ttl {
        assert!(stored(&next, &layer).await, "still cached before its time");
        assert_eq!(state[format!("lib/app@{layer}")]["EntryType"], 0, "{state}");
        assert_eq!(
            state[format!("lib/app@{}", content.app.digest())]["EntryType"],
            1,
            "{state}"
        );
    }
    let deadline = Instant::now() + ttl + Duration::from_secs(60);
    while stored(&next, &layer).await {
        assert!(
            Instant::now() < deadline,
            "the restarted cache did not remove it"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let driver = std::sync::Arc::clone(next.driver());
    next.stop().await;
    let state: serde_json::Value =
        serde_json::from_slice(&driver.get_content("/scheduler-state.json").await.unwrap())
            .unwrap();
    assert!(state.get(format!("lib/app@{layer}")).is_none(), "{state}");
}

/// The cache shares a bucket with registry:2's own cache (Debian's docker-registry 2.8.2),
/// both ways: registry:2 reads this cache's schedule and removes what expired; this cache
/// serves what registry:2 cached without asking the upstream, and keeps registry:2's
/// schedule entries when it writes its own.
#[tokio::test]
async fn shares_a_bucket_with_registry2s_cache() {
    if !process::registry2_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let up = upstream(work.path()).await;
    let content = populate(&up.base).await;
    // registry:2 2.8 answers only token challenges upstream: a token front for both.
    let front = Front::start(
        &up.base,
        FrontAuth::Token {
            user: Some(("tokuser".to_owned(), "tokpass".to_owned())),
            behind: Some((USER.0.to_owned(), USER.1.to_owned())),
        },
    )
    .await;
    let server = common::S3sServer::start().await;
    server.create_bucket("shared");
    let target = server.target();
    let ours_yaml = |ttl: &str| {
        cache_yaml(
            &target,
            "shared",
            &format!(
                "  remoteurl: {}\n  username: tokuser\n  password: tokpass\n  ttl: {ttl}\n",
                front.base
            ),
        )
    };
    let registry2_yaml = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: shared\n    rootdirectory: /cache\n    v4auth: true\n  redirect:\n    disable: true\nproxy:\n  remoteurl: {}\n  username: tokuser\n  password: tokpass\n",
        target.access_key, target.secret_key, target.region, target.endpoint, front.base
    );

    // registry:2 caches lib/multi; this cache then serves it without the upstream.
    {
        let r2 = process::Registry2::start(&registry2_yaml, "").await;
        let c = client();
        let url = |p: &str| format!("{}{p}", r2.base);
        let resp = c
            .get(url("/v2/lib/multi/manifests/latest"))
            .header("Accept", ACCEPT_ALL)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", r2.log());
        for (d, data) in &content.amd.blobs {
            let resp = c
                .get(url(&format!("/v2/lib/multi/blobs/{d}")))
                .send()
                .await
                .unwrap();
            assert!(resp.bytes().await.unwrap() == *data);
        }
        let resp = c
            .get(url(&format!(
                "/v2/lib/multi/manifests/{}",
                content.amd.digest()
            )))
            .header("Accept", ACCEPT_ALL)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // registry:2 stores its blobs in the background: wait for them.
        let deadline = Instant::now() + Duration::from_secs(30);
        let probe = cache(&ours_yaml("1h")).await;
        for (d, _) in &content.amd.blobs {
            while !stored(&probe, d).await {
                assert!(Instant::now() < deadline, "registry:2 did not cache {d}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        probe.stop().await;
        // registry:2 writes its schedule every 5 s.
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    let ours = cache(&ours_yaml("1h")).await;
    let registry2_state: serde_json::Value = serde_json::from_slice(
        &ours
            .driver()
            .get_content("/scheduler-state.json")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        registry2_state
            .get(format!("lib/multi@{}", content.amd.blobs[1].0))
            .is_some(),
        "registry:2's schedule: {registry2_state}"
    );
    front.clear_log();
    for (d, data) in &content.amd.blobs {
        let resp = get(&ours, &format!("/v2/lib/multi/blobs/{d}")).await;
        assert_eq!(resp.status(), 200);
        assert!(resp.bytes().await.unwrap() == *data);
    }
    manifest_digest(
        &ours,
        &format!("/v2/lib/multi/manifests/{}", content.amd.digest()),
    )
    .await;
    assert!(front.blob_requests().is_empty(), "{:?}", front.log());
    assert!(front.manifest_requests().is_empty(), "{:?}", front.log());
    // Our own entries join registry:2's.
    manifest_digest(&ours, "/v2/lib/app/manifests/v1").await;
    let driver = std::sync::Arc::clone(ours.driver());
    ours.stop().await;
    let merged: serde_json::Value =
        serde_json::from_slice(&driver.get_content("/scheduler-state.json").await.unwrap())
            .unwrap();
    assert!(
        merged
            .get(format!("lib/app@{}", content.app.digest()))
            .is_some(),
        "{merged}"
    );
    for k in registry2_state.as_object().unwrap().keys() {
        assert!(
            merged.get(k).is_some(),
            "registry:2's {k} was dropped: {merged}"
        );
    }

    // registry:2 reads this cache's schedule: once an entry's time has passed (set back
    // here, rather than waiting), it removes the content.
    let layer = content.app.layers()[2].clone();
    let fetcher = cache(&ours_yaml("1h")).await;
    let resp = get(&fetcher, &format!("/v2/lib/app/blobs/{layer}")).await;
    assert_eq!(sha256(&resp.bytes().await.unwrap()), layer);
    wait_linked(&fetcher, "lib/app", &layer).await;
    fetcher.stop().await; // writes the schedule
    let key = format!("lib/app@{layer}");
    let mut state: serde_json::Value =
        serde_json::from_slice(&driver.get_content("/scheduler-state.json").await.unwrap())
            .unwrap();
    assert_eq!(state[&key]["EntryType"], 0, "{state}");
    state[&key]["ExpiryData"] = "2001-02-03T04:05:06.789Z".into();
    driver
        .put_content("/scheduler-state.json", state.to_string().into())
        .await
        .unwrap();
    let r2 = process::Registry2::start(&registry2_yaml, "").await;
    let probe = cache(&ours_yaml("1h")).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored(&probe, &layer).await {
        assert!(
            Instant::now() < deadline,
            "registry:2 did not remove the expired blob; its log:\n{}",
            r2.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let link = paths::layer_link("lib/app", &layer);
    assert!(probe.driver().stat(&link).await.is_err());
    probe.stop().await;
    drop(r2);
}
