//! `s3driver serve` next to Debian's `docker-registry` (Distribution 2.8.2), the registry it
//! replaces: the same request gives the same JSON log line (logrus keys, registry:2's request
//! fields), and with a shared `http.secret` an upload started on one is finished on the other,
//! both ways, on one S3 bucket (Swift).
#![cfg(feature = "server")]

mod common;
mod server_support;

use server_support::process::{registry2_available, Registry2, ServeProcess};
use server_support::*;

/// The `response completed` lines (JSON) of a log, for the test's requests.
fn completed(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("response completed"))
                && v["http.request.useragent"] == "parity-test/1.0"
        })
        .collect()
}

#[tokio::test]
async fn request_log_lines_match_registry2() {
    if !registry2_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let storage = |sub: &str| {
        format!(
            "version: 0.1\nlog:\n  level: info\n  formatter: json\n  fields:\n    service: registry\nstorage:\n  filesystem:\n    rootdirectory: {}\n",
            dir.path().join(sub).display()
        )
    };
    let theirs = Registry2::start(&storage("theirs"), "").await;
    let ours_cfg = dir.path().join("ours.yml");
    std::fs::write(
        &ours_cfg,
        format!("{}http:\n  addr: 127.0.0.1:0\n", storage("ours")),
    )
    .unwrap();
    let ours = ServeProcess::start(&ours_cfg).await;
    let c = client();
    for base in [&theirs.base, &ours.base] {
        for path in ["/v2/", "/v2/foo/bar/manifests/latest"] {
            c.get(format!("{base}{path}"))
                .header("User-Agent", "parity-test/1.0")
                .send()
                .await
                .unwrap();
        }
    }
    // Give both loggers a moment to flush their last line.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (t, o) = (completed(&theirs.log()), completed(&ours.log()));
    assert_eq!(t.len(), 2, "{}", theirs.log());
    assert_eq!(o.len(), 2, "{}", ours.log());
    for (t, o) in t.iter().zip(&o) {
        // Every key registry:2 writes is there (but its Go runtime and instance facts).
        for key in t.as_object().unwrap().keys() {
            if ["go.version", "instance.id", "version"].contains(&key.as_str()) {
                continue;
            }
            assert!(
                o.get(key).is_some(),
                "{key} missing:\nours   {o}\ntheirs {t}"
            );
        }
        // With the same values where they describe the same thing.
        for key in [
            "level",
            "msg",
            "http.request.method",
            "http.request.uri",
            "http.request.useragent",
            "http.response.status",
            "http.response.contenttype",
            "vars.name",
            "vars.reference",
            "err.code",
            "err.message",
        ] {
            assert_eq!(o.get(key), t.get(key), "{key}:\nours   {o}\ntheirs {t}");
        }
        assert!(t["http.response.duration"].is_string() && o["http.response.duration"].is_string());
        // log.fields are on our request lines too (registry:2 puts them on its other lines).
        assert_eq!(o["service"], "registry");
        assert!(o["time"].as_str().unwrap().ends_with('Z'));
    }
}

/// The path and query of a `Location` (registry:2 answers absolute URLs).
fn path_of(location: &str) -> String {
    match location.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or("/".to_owned(), |i| rest[i..].to_owned()),
        None => location.to_owned(),
    }
}

async fn patch(base: &str, location: &str, offset: usize, data: &[u8]) -> String {
    let resp = client()
        .patch(format!("{base}{}", path_of(location)))
        .header("Content-Type", "application/octet-stream")
        .header(
            "Content-Range",
            format!("{offset}-{}", offset + data.len() - 1),
        )
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let loc = header(&resp, "location");
    assert_eq!(
        status,
        202,
        "PATCH {base}: {}",
        resp.text().await.unwrap_or_default()
    );
    loc
}

async fn finish(base: &str, location: &str, digest: &str) {
    let path = path_of(location);
    let sep = if path.contains('?') { '&' } else { '?' };
    let resp = client()
        .put(format!("{base}{path}{sep}digest={digest}"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(
        status,
        201,
        "PUT {base}: {}",
        resp.text().await.unwrap_or_default()
    );
}

async fn blob(base: &str, repo: &str, digest: &str) -> Vec<u8> {
    let resp = client()
        .get(format!("{base}/v2/{repo}/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "GET blob from {base}");
    resp.bytes().await.unwrap().to_vec()
}

/// Behind one load balancer with a shared `http.secret`: an upload started on one registry is
/// continued and finished on the other, both ways, the blob then served by both; a `_state`
/// signed with another secret is refused.
#[tokio::test]
async fn mixed_fleet_uploads_move_between_registries() {
    if !registry2_available() {
        return;
    }
    let Some(swift) = common::swift_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("mixed");
    swift.create_bucket(&bucket).await;
    let t = swift.target();
    let storage = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /mixed\n    chunksize: 5242880\n  redirect:\n    disable: true\n",
        t.access_key, t.secret_key, t.region, t.endpoint
    );
    let secret = "  secret: a-secret-both-registries-share\n";
    let theirs = Registry2::start(&storage, secret).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ours.yml");
    std::fs::write(
        &cfg,
        format!("{storage}http:\n  addr: 127.0.0.1:0\n{secret}"),
    )
    .unwrap();
    let ours = ServeProcess::start(&cfg).await;
    let mib = 1 << 20;
    for (first, second, repo) in [
        (&ours.base, &theirs.base, "fleet/ours-then-theirs"),
        (&theirs.base, &ours.base, "fleet/theirs-then-ours"),
    ] {
        let content: Vec<u8> = (0..7 * mib).map(|i| (i * 31 % 251) as u8).collect();
        let d = sha256(&content);
        let resp = client()
            .post(format!("{first}/v2/{repo}/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        let loc = header(&resp, "location");
        assert!(loc.contains("_state="), "{loc}");
        let loc = patch(first, &loc, 0, &content[..6 * mib]).await;
        let loc = patch(second, &loc, 6 * mib, &content[6 * mib..]).await;
        finish(second, &loc, &d).await;
        assert_eq!(blob(first, repo, &d).await, content, "{repo} on the first");
        assert_eq!(
            blob(second, repo, &d).await,
            content,
            "{repo} on the second"
        );
    }
    // A state signed with another secret (or tampered with) is refused.
    let resp = client()
        .post(format!("{}/v2/fleet/x/blobs/uploads/", ours.base))
        .send()
        .await
        .unwrap();
    let loc = header(&resp, "location");
    let (path, _) = loc.split_once("?_state=").unwrap();
    let forged = format!("{path}?_state=AAAA{}", &loc[loc.len() - 8..]);
    let resp = client()
        .get(format!("{}{forged}", ours.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_INVALID"]);
}
