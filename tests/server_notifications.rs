//! `notifications.endpoints`: registry:2's webhook events, received by endpoints written here
//! (`tests/common/fake_http.rs`): what a skopeo push and pull send, the same envelopes as
//! Debian's `docker-registry` (registry:2 2.8.2) sends for the same requests, delivery to an
//! endpoint that fails before it succeeds, and pushes that do not wait for an endpoint that
//! hangs.
#![cfg(feature = "server")]

mod common;
mod server_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::fake_http::{serve_fake, FakeRequest, FakeResponse, RequestLog};
use serde_json::Value;
use server_support::process::{registry2_available, Registry2, ServeProcess};
use server_support::*;

/// A failure guard for waiting on deliveries (not a timing assertion).
const DELIVERY_GUARD: Duration = Duration::from_secs(60);

const EVENTS_TYPE: &str = "application/vnd.docker.distribution.events.v1+json";

/// The single event of each envelope `log` received, in arrival order.
fn events(log: &RequestLog) -> Vec<Value> {
    log.lock()
        .unwrap()
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(&r.body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body));
            let list = v["events"].as_array().expect("events").clone();
            assert_eq!(list.len(), 1, "one event per envelope, as registry:2: {v}");
            list[0].clone()
        })
        .collect()
}

/// Waits until `pred` holds for the events `log` received.
async fn wait_for(log: &RequestLog, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + DELIVERY_GUARD;
    loop {
        let ev = events(log);
        if pred(&ev) {
            return ev;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not delivered within {DELIVERY_GUARD:?}; got {ev:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn count(ev: &[Value], action: &str) -> usize {
    ev.iter().filter(|e| e["action"] == action).count()
}

fn endpoint_yaml(name: &str, url: &str, extra: &str) -> String {
    format!("    - name: {name}\n      url: {url}\n{extra}")
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars()
            .enumerate()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'))
}

#[tokio::test]
async fn a_skopeo_push_and_pull_send_registry2_events() {
    if !skopeo::available() {
        return;
    }
    let (hook, log) = serve_fake(|_| FakeResponse::new(200, "")).await;
    let work = tempfile::tempdir().unwrap();
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
            "auth:\n  htpasswd:\n    realm: r\n    path: {}\nnotifications:\n  endpoints:\n{}",
            htpasswd.display(),
            endpoint_yaml(
                "hook",
                &format!("http://{hook}/events"),
                "      headers:\n        Authorization: [Bearer hook-secret]\n        X-Registry: [s3driver]\n"
            )
        ),
    );
    let mut r = start_with(&cfg, driver).await;
    r.dir = dir;
    let host = r.base.trim_start_matches("http://").to_owned();
    let src = work.path().join("src");
    let image = layout::image(&src, "notifications");
    skopeo::run(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        "pusher:pw",
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/notes/app:v1"),
    ])
    .await;
    let ev = wait_for(&log, "the push events", |ev| count(ev, "push") >= 4).await;
    for req in log.lock().unwrap().iter() {
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/events");
        assert_eq!(req.header("content-type"), Some(EVENTS_TYPE));
        assert_eq!(req.header("authorization"), Some("Bearer hook-secret"));
        assert_eq!(req.header("x-registry"), Some("s3driver"));
    }
    let pushes: Vec<&Value> = ev.iter().filter(|e| e["action"] == "push").collect();
    assert_eq!(pushes.len(), 4, "three blobs and the manifest: {ev:#?}");
    let mut ids = std::collections::HashSet::new();
    let instance = ev[0]["source"]["instanceID"].as_str().unwrap().to_owned();
    assert!(is_uuid(&instance), "{instance}");
    for e in &ev {
        assert!(
            ids.insert(e["id"].as_str().unwrap().to_owned()),
            "ids are unique"
        );
        assert!(is_uuid(e["id"].as_str().unwrap()), "{e}");
        let ts = e["timestamp"].as_str().unwrap();
        assert!(is_rfc3339_utc(ts), "{ts}");
        assert_eq!(e["actor"]["name"], "pusher", "{e}");
        let req = &e["request"];
        assert!(is_uuid(req["id"].as_str().unwrap()), "{req}");
        assert!(
            req["addr"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{req}"
        );
        assert_eq!(req["host"], host.as_str());
        assert!(!req["useragent"].as_str().unwrap().is_empty(), "{req}");
        assert_eq!(e["source"]["instanceID"], instance.as_str());
        assert!(
            e["source"]["addr"].as_str().unwrap().ends_with(":5000"),
            "the configured port (http.addr :5000): {e}"
        );
        assert_eq!(e["target"]["repository"], "notes/app");
    }
    let mut blobs: Vec<(String, usize)> = image.layers.clone();
    blobs.push(image.config.clone());
    for (digest, size) in &blobs {
        let e = pushes
            .iter()
            .find(|e| e["target"]["digest"] == digest.as_str())
            .unwrap_or_else(|| panic!("no push event for blob {digest}: {ev:#?}"));
        let t = &e["target"];
        assert_eq!(t["mediaType"], "application/octet-stream");
        assert_eq!(t["size"], *size);
        assert_eq!(t["length"], *size);
        assert_eq!(t["url"], format!("{}/v2/notes/app/blobs/{digest}", r.base));
        assert!(t.get("tag").is_none());
        assert_eq!(
            e["request"]["method"], "PUT",
            "the upload's last request: {e}"
        );
    }
    let m = pushes.last().unwrap();
    assert_eq!(
        m["target"],
        serde_json::json!({
            "mediaType": OCI_MANIFEST,
            "size": image.manifest.len(),
            "digest": image.digest,
            "length": image.manifest.len(),
            "repository": "notes/app",
            "url": format!("{}/v2/notes/app/manifests/{}", r.base, image.digest),
            "tag": "v1",
        }),
        "the manifest push comes last, with its tag"
    );
    assert_eq!(m["request"]["method"], "PUT");

    // A pull: the manifest by tag, then the config and the layers.
    let dst = work.path().join("dst");
    skopeo::run(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        "pusher:pw",
        &format!("docker://{host}/notes/app:v1"),
        &format!("oci:{}:v1", dst.display()),
    ])
    .await;
    let ev = wait_for(&log, "the pull events", |ev| count(ev, "pull") >= 4).await;
    let pulls: Vec<&Value> = ev.iter().filter(|e| e["action"] == "pull").collect();
    let manifest_pull = pulls
        .iter()
        .find(|e| e["target"]["mediaType"] == OCI_MANIFEST)
        .expect("a manifest pull");
    assert_eq!(manifest_pull["target"]["tag"], "v1");
    assert_eq!(manifest_pull["target"]["digest"], image.digest.as_str());
    for (digest, size) in &blobs {
        let e = pulls
            .iter()
            .find(|e| e["target"]["digest"] == digest.as_str())
            .unwrap_or_else(|| panic!("no pull event for {digest}"));
        assert_eq!(e["target"]["size"], *size);
        assert_eq!(e["request"]["method"], "GET");
    }

    // A delete by digest: the revision, then the tag that pointed at it.
    let resp = r
        .client
        .delete(r.url(&format!("/v2/notes/app/manifests/{}", image.digest)))
        .basic_auth("pusher", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let ev = wait_for(&log, "the delete events", |ev| count(ev, "delete") >= 2).await;
    let deletes: Vec<&Value> = ev.iter().filter(|e| e["action"] == "delete").collect();
    assert_eq!(
        deletes[0]["target"],
        serde_json::json!({"digest": image.digest, "repository": "notes/app"})
    );
    assert_eq!(
        deletes[1]["target"],
        serde_json::json!({"repository": "notes/app", "tag": "v1"})
    );
    r.stop().await;
}

/// Pushes (upload then PUT, as registry:2 2.8.2 needs), pulls, a mount and deletes, sent the
/// same way to `base`.
async fn request_sequence(client: &reqwest::Client, base: &str) {
    let auth = |rb: reqwest::RequestBuilder| rb.basic_auth("alice", Some("pw"));
    let mut digests = Vec::new();
    for data in [
        &b"{\"architecture\":\"amd64\",\"os\":\"linux\"}"[..],
        b"layer-one",
    ] {
        let d = sha256(data);
        let resp = auth(client.post(format!("{base}/v2/foo/blobs/uploads/")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "{base}");
        let loc = header(&resp, "location");
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("{base}{loc}")
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let resp = auth(client.put(format!("{loc}{sep}digest={d}")))
            .header("Content-Type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{base}");
        digests.push((d, data.len()));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digests[0].0, "size": digests[0].1},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digests[1].0, "size": digests[1].1}],
    })
    .to_string();
    let md = sha256(manifest.as_bytes());
    let layer = &digests[1].0;
    let steps: Vec<(reqwest::Method, String, Option<&str>, u16)> = vec![
        (
            reqwest::Method::PUT,
            "/v2/foo/manifests/v1".into(),
            Some(&manifest),
            201,
        ),
        (
            reqwest::Method::GET,
            "/v2/foo/manifests/v1".into(),
            None,
            200,
        ),
        (
            reqwest::Method::HEAD,
            format!("/v2/foo/manifests/{md}"),
            None,
            200,
        ),
        (
            reqwest::Method::GET,
            format!("/v2/foo/blobs/{layer}"),
            None,
            200,
        ),
        (
            reqwest::Method::HEAD,
            format!("/v2/foo/blobs/{layer}"),
            None,
            200,
        ),
        (
            reqwest::Method::POST,
            format!("/v2/bar/blobs/uploads/?mount={layer}&from=foo"),
            None,
            201,
        ),
        (
            reqwest::Method::DELETE,
            format!("/v2/foo/blobs/{layer}"),
            None,
            202,
        ),
        (
            reqwest::Method::DELETE,
            format!("/v2/foo/manifests/{md}"),
            None,
            202,
        ),
    ];
    for (method, path, body, want) in steps {
        let mut rb = auth(client.request(method.clone(), format!("{base}{path}")))
            .header("Accept", OCI_MANIFEST);
        if let Some(b) = body {
            rb = rb.header("Content-Type", OCI_MANIFEST).body(b.to_owned());
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), want, "{method} {path} on {base}");
    }
}

/// An event with what differs between two registries and two runs made comparable.
fn normalized(mut e: Value, base: &str) -> Value {
    let o = e.as_object_mut().unwrap();
    for k in ["id", "timestamp", "source"] {
        assert!(o.remove(k).is_some(), "{k} missing");
    }
    let req = o.get_mut("request").unwrap().as_object_mut().unwrap();
    for k in ["id", "addr", "host"] {
        assert!(!req.remove(k).unwrap().as_str().unwrap().is_empty(), "{k}");
    }
    if let Some(url) = o.get_mut("target").and_then(|t| t.get_mut("url")) {
        *url = Value::String(url.as_str().unwrap().replace(base, "BASE"));
    }
    e
}

#[tokio::test]
async fn events_are_the_ones_registry2_sends_for_the_same_requests() {
    if !registry2_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let htpasswd = work.path().join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("alice:{}\n", bcrypt::hash("pw", 5).unwrap()),
    )
    .unwrap();
    let (ours_hook, ours_log) = serve_fake(|_| FakeResponse::new(200, "")).await;
    let (theirs_hook, theirs_log) = serve_fake(|_| FakeResponse::new(200, "")).await;
    let yaml = |hook: std::net::SocketAddr| {
        format!(
            "storage:\n  inmemory:\n  delete:\n    enabled: true\nauth:\n  htpasswd:\n    realm: r\n    path: {}\nnotifications:\n  endpoints:\n{}",
            htpasswd.display(),
            endpoint_yaml("hook", &format!("http://{hook}/"), "      timeout: 5s\n")
        )
    };
    let ours = start_with(
        &config(&yaml(ours_hook)),
        Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .await;
    let theirs = Registry2::start(&format!("version: 0.1\n{}", yaml(theirs_hook)), "").await;
    let client = reqwest::Client::new();
    request_sequence(&client, &ours.base).await;
    request_sequence(&client, &theirs.base).await;
    // Two blob pushes, the manifest push, two manifest pulls, two blob pulls, the mount, the
    // blob delete, the manifest delete and its tag's.
    let n = 11;
    let a = wait_for(&ours_log, "our events", |ev| ev.len() >= n).await;
    let b = wait_for(&theirs_log, "registry:2's events", |ev| ev.len() >= n).await;
    let a: Vec<Value> = a.into_iter().map(|e| normalized(e, &ours.base)).collect();
    let b: Vec<Value> = b.into_iter().map(|e| normalized(e, &theirs.base)).collect();
    assert_eq!(a.len(), b.len(), "ours {a:#?}\nregistry:2 {b:#?}");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "event {i}: ours\n{x:#}\nregistry:2\n{y:#}");
    }
    // The envelope's bytes have registry:2's layout too (MarshalIndent, three spaces).
    let body = ours_log.lock().unwrap()[0].body.clone();
    assert!(
        body.starts_with("{\n   \"events\": [\n      {\n         \"id\": \""),
        "{body}"
    );
    ours.stop().await;
}

/// An endpoint that answers the first two POSTs with 500: everything arrives once, in order,
/// retried with the configured threshold and backoff; the metrics count the failures.
#[tokio::test]
async fn an_endpoint_that_fails_twice_then_succeeds_gets_everything_once_in_order() {
    let posts = Arc::new(AtomicUsize::new(0));
    let accepted: Arc<Mutex<Vec<Value>>> = Arc::default();
    let (p, acc) = (Arc::clone(&posts), Arc::clone(&accepted));
    let (hook, _log) = serve_fake(move |req: &FakeRequest| {
        if p.fetch_add(1, Ordering::SeqCst) < 2 {
            return FakeResponse::new(500, "not yet");
        }
        let v: Value = serde_json::from_str(&req.body).unwrap();
        acc.lock().unwrap().push(v["events"][0].clone());
        FakeResponse::new(202, "")
    })
    .await;
    let work = tempfile::tempdir().unwrap();
    let yaml = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  inmemory:\nhttp:\n  addr: 127.0.0.1:0\n  debug:\n    addr: 127.0.0.1:0\n    prometheus:\n      enabled: true\nnotifications:\n  endpoints:\n{}",
        endpoint_yaml(
            "flaky",
            &format!("http://{hook}/"),
            "      timeout: 5s\n      threshold: 1\n      backoff: 100ms\n"
        )
    );
    let cfg_path = work.path().join("config.yml");
    std::fs::write(&cfg_path, yaml).unwrap();
    let serve = ServeProcess::start(&cfg_path).await;
    let client = reqwest::Client::new();
    let mut pushed = Vec::new();
    for i in 0..6 {
        let data = format!("blob number {i}").into_bytes();
        let d = sha256(&data);
        let resp = client
            .post(format!(
                "{}/v2/flaky/r/blobs/uploads/?digest={d}",
                serve.base
            ))
            .body(data)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        pushed.push(d);
    }
    let deadline = Instant::now() + DELIVERY_GUARD;
    while accepted.lock().unwrap().len() < pushed.len() {
        assert!(Instant::now() < deadline, "not all events were delivered");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let got: Vec<String> = accepted
        .lock()
        .unwrap()
        .iter()
        .map(|e| e["target"]["digest"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, pushed, "each event once, in the order of the pushes");
    assert_eq!(posts.load(Ordering::SeqCst), pushed.len() + 2);
    let debug = serve.debug_base.clone().expect("debug listener");
    let metrics = client
        .get(format!("{debug}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"registry_notifications_events_total{type="Events",endpoint="flaky"} 6"#,
        r#"registry_notifications_events_total{type="Successes",endpoint="flaky"} 6"#,
        r#"registry_notifications_events_total{type="Failures",endpoint="flaky"} 2"#,
        r#"registry_notifications_events_total{type="Errors",endpoint="flaky"} 0"#,
        r#"registry_notifications_status_total{code="500 Internal Server Error",endpoint="flaky"} 2"#,
        r#"registry_notifications_status_total{code="202 Accepted",endpoint="flaky"} 6"#,
        r#"registry_notifications_pending{endpoint="flaky"} 0"#,
        r#"registry_notifications_dropped_total{endpoint="flaky"} 0"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing in\n{metrics}"
        );
    }
    let vars: Value = serde_json::from_str(
        &client
            .get(format!("{debug}/debug/vars"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let ep = &vars["notifications"]["endpoints"][0];
    assert_eq!(ep["name"], "flaky");
    assert_eq!(ep["Metrics"]["Failures"], 2);
    assert_eq!(ep["Metrics"]["Statuses"]["202 Accepted"], 6);
    let log = serve.log();
    assert!(
        log.contains("notification not delivered (answered 500 Internal Server Error)"),
        "{log}"
    );
}

/// An endpoint that accepts the connection and never answers: pushes complete while it is
/// still hung (it has the first event and no retry), and another endpoint gets every event.
#[tokio::test]
async fn a_hanging_endpoint_does_not_hold_up_pushes() {
    if !skopeo::available() {
        return;
    }
    let (hung, hung_log) =
        serve_fake(|_| FakeResponse::new(200, "").delayed(Duration::from_secs(3600))).await;
    let (ok, ok_log) = serve_fake(|_| FakeResponse::new(200, "")).await;
    let cfg = config(&format!(
        "http:\n  draintimeout: 1s\nnotifications:\n  endpoints:\n{}{}",
        endpoint_yaml("hung", &format!("http://{hung}/"), "      timeout: 1h\n"),
        endpoint_yaml("ok", &format!("http://{ok}/"), "")
    ));
    let r = start_with(
        &cfg,
        Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .await;
    let host = r.base.trim_start_matches("http://").to_owned();
    let work = tempfile::tempdir().unwrap();
    for (i, repo) in ["hang/one", "hang/two"].iter().enumerate() {
        let src = work.path().join(format!("src{i}"));
        layout::image(&src, repo);
        skopeo::run(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", src.display()),
            &format!("docker://{host}/{repo}:v1"),
        ])
        .await;
    }
    // Both pushes are done; the hung endpoint still holds the first event.
    assert_eq!(
        hung_log.lock().unwrap().len(),
        1,
        "the hung endpoint got one POST and no answer (no retry yet)"
    );
    let ev = wait_for(&ok_log, "the other endpoint's events", |ev| {
        count(ev, "push") >= 8
    })
    .await;
    let manifests: Vec<&str> = ev
        .iter()
        .filter(|e| e["target"]["mediaType"] == OCI_MANIFEST)
        .map(|e| e["target"]["repository"].as_str().unwrap())
        .collect();
    assert_eq!(manifests, ["hang/one", "hang/two"]);
    // Shutdown is bounded by http.draintimeout, not held by the hung endpoint.
    r.stop().await;
    assert_eq!(hung_log.lock().unwrap().len(), 1);
}
