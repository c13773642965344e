//! `auth.token`: Docker's token authentication as registry:2 does it.
//!
//! A token server written here (tests/server_support/token.rs) issues tokens signed with the
//! test keys of `tests/data/token/`; `skopeo` pushes and pulls through the standard flow
//! against the real binary. The 401 answers and their challenges are compared with Debian's
//! `docker-registry` (registry:2 2.8.2) answering the same requests, when it is installed
//! (`S3DRIVER_REQUIRE_DOCKER_REGISTRY=1` in CI makes it required).
#![cfg(feature = "server")]

mod common;
mod server_support;
#[path = "server_support/token.rs"]
mod token;

use serde_json::{json, Value};
use server_support::process::{registry2_available, Registry2, ServeProcess};
use server_support::*;
use token::*;

/// An in-memory registry with token auth, deletes on, the realm `realm`.
async fn registry(realm: &str) -> Registry {
    let cfg = config_with_storage("  delete:\n    enabled: true\n", &auth_yaml(realm));
    start_with(
        &cfg,
        std::sync::Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .await
}

fn pull_push(name: &str) -> Value {
    json!([{"type": "repository", "name": name, "actions": ["pull", "push"]}])
}

/// The parts of a `Bearer` challenge, scopes and their actions sorted (registry:2 builds them
/// from Go maps, so its order varies from one answer to the next).
fn challenge_parts(header: &str) -> Vec<String> {
    let rest = header.strip_prefix("Bearer ").expect("a Bearer challenge");
    let mut parts = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        let (key, after) = s.split_once("=\"").expect("key=\"value\"");
        let end = after.find('"').expect("closing quote");
        let value = &after[..end];
        let value = if key == "scope" {
            let mut scopes: Vec<String> = value
                .split(' ')
                .map(|sc| {
                    let (res, actions) = sc.rsplit_once(':').unwrap();
                    let mut a: Vec<&str> = actions.split(',').collect();
                    a.sort_unstable();
                    format!("{res}:{}", a.join(","))
                })
                .collect();
            scopes.sort();
            scopes.join(" ")
        } else {
            value.to_owned()
        };
        parts.push(format!("{key}={value}"));
        s = after[end + 1..].trim_start_matches(',');
    }
    parts
}

#[tokio::test]
async fn skopeo_pushes_and_pulls_through_the_token_flow() {
    if !skopeo::available() {
        return;
    }
    let ts = TokenServer::start(&[
        ("pusher", "push-pw", &["pull", "push"]),
        ("puller", "pull-pw", &["pull"]),
    ])
    .await;
    let work = tempfile::tempdir().unwrap();
    // The binary, configured as an operator would, with a notification endpoint to see the
    // actor of the events.
    let (hook, hook_log) =
        common::fake_http::serve_fake(|_| common::fake_http::FakeResponse::new(200, "")).await;
    let yaml = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:0\n{}notifications:\n  endpoints:\n    - name: hook\n      url: http://{hook}/events\n",
        work.path().join("data").display(),
        auth_yaml(&ts.realm),
    );
    let cfg_path = work.path().join("config.yml");
    std::fs::write(&cfg_path, yaml).unwrap();
    let serve = ServeProcess::start(&cfg_path).await;
    assert!(
        !serve.log().contains("not supported"),
        "auth.token and notifications start without a refusal or warning:\n{}",
        serve.log()
    );
    let host = serve.base.trim_start_matches("http://").to_owned();
    let src = work.path().join("src");
    let image = layout::image(&src, "token flow");

    // Anonymous: the token server gives a token without access; the push is refused.
    let refused = skopeo::try_run(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/tok/app:v1"),
    ])
    .await
    .expect_err("an anonymous push must fail");
    assert!(
        refused.contains("denied")
            || refused.contains("unauthorized")
            || refused.contains("authentication required"),
        "{refused}"
    );

    // A user allowed only to pull cannot push either.
    let refused = skopeo::try_run(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "puller:pull-pw",
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/tok/app:v1"),
    ])
    .await
    .expect_err("a push with pull-only access must fail");
    assert!(
        refused.contains("denied")
            || refused.contains("unauthorized")
            || refused.contains("authentication required"),
        "{refused}"
    );
    assert!(
        !work
            .path()
            .join("data/docker/registry/v2/repositories/tok")
            .exists(),
        "nothing was stored by the refused pushes"
    );

    skopeo::run(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        "pusher:push-pw",
        &format!("oci:{}:v1", src.display()),
        &format!("docker://{host}/tok/app:v1"),
    ])
    .await;
    let dst = work.path().join("dst");
    skopeo::run(&[
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--src-creds",
        "puller:pull-pw",
        &format!("docker://{host}/tok/app:v1"),
        &format!("oci:{}:v1", dst.display()),
    ])
    .await;
    for (d, _) in image.layers.iter().chain([&image.config]) {
        let hex = &d["sha256:".len()..];
        assert_eq!(
            std::fs::read(src.join("blobs/sha256").join(hex)).unwrap(),
            std::fs::read(dst.join("blobs/sha256").join(hex)).unwrap(),
            "blob {d} round-trips"
        );
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(dst.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], image.digest.as_str());

    // The standard flow: the realm was asked for this service and the scopes skopeo needed.
    let issued = ts.issued();
    assert!(issued.iter().all(|i| i.service == SERVICE), "{issued:?}");
    assert!(
        issued.iter().any(|i| i.account == "pusher"
            && i.scopes.iter().any(|s| s == "repository:tok/app:pull,push")),
        "{issued:?}"
    );
    assert!(
        issued
            .iter()
            .any(|i| i.account == "puller"
                && i.scopes.iter().any(|s| s == "repository:tok/app:pull")),
        "{issued:?}"
    );

    // The events name the token's subject as the actor.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let events = loop {
        let events: Vec<Value> = hook_log
            .lock()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["events"][0].clone())
            .collect();
        let pulls = events.iter().filter(|e| e["action"] == "pull").count();
        if pulls >= 4 {
            break events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pull events did not arrive: {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let actor = |action: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["actor"]["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(!actor("push").is_empty());
    assert!(actor("push").iter().all(|a| a == "pusher"), "{events:?}");
    assert!(actor("pull").iter().all(|a| a == "puller"), "{events:?}");
}

/// Sends `method path` to `base` with an optional bearer token: status, challenge, body.
async fn send(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String, Value) {
    let mut req = client.request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = header(&resp, "www-authenticate");
    let text = resp.text().await.unwrap();
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// What anonymous requests need, in the challenge and in the body, exactly as registry:2
/// forms it.
#[tokio::test]
async fn anonymous_requests_get_the_challenges_registry2_sends() {
    let realm = "http://127.0.0.1:9/token";
    let r = registry(realm).await;
    let d = sha256(b"x");
    let cases: Vec<(&str, String, String)> = vec![
        ("GET", "/v2/".into(), String::new()),
        (
            "GET",
            "/v2/foo/bar/manifests/latest".into(),
            "repository:foo/bar:pull".into(),
        ),
        (
            "HEAD",
            format!("/v2/foo/blobs/{d}"),
            "repository:foo:pull".into(),
        ),
        (
            "POST",
            "/v2/foo/blobs/uploads/".into(),
            "repository:foo:pull,push".into(),
        ),
        (
            "POST",
            format!("/v2/foo/blobs/uploads/?mount={d}&from=other/repo"),
            "repository:foo:pull,push repository:other/repo:pull".into(),
        ),
        (
            "PUT",
            "/v2/foo/manifests/v1".into(),
            "repository:foo:pull,push".into(),
        ),
        (
            "DELETE",
            format!("/v2/foo/manifests/{d}"),
            "repository:foo:delete".into(),
        ),
        ("GET", "/v2/_catalog".into(), "registry:catalog:*".into()),
        (
            "GET",
            "/v2/foo/tags/list".into(),
            "repository:foo:pull".into(),
        ),
    ];
    let r2 = if registry2_available() {
        Some(
            Registry2::start(
                &format!(
                    "version: 0.1\nstorage:\n  inmemory: {{}}\n  delete:\n    enabled: true\n{}",
                    auth_yaml(realm)
                ),
                "",
            )
            .await,
        )
    } else {
        None
    };
    for (method, path, scope) in &cases {
        let (status, challenge, body) = send(&r.client, &r.base, method, path, None).await;
        assert_eq!(status, 401, "{method} {path}");
        let mut want = format!("Bearer realm=\"{realm}\",service=\"{SERVICE}\"");
        if !scope.is_empty() {
            want.push_str(&format!(",scope=\"{scope}\""));
        }
        assert_eq!(challenge, want, "{method} {path}");
        let head = *method == "HEAD";
        if !head {
            assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED", "{method} {path}");
        }
        if let Some(r2) = &r2 {
            let (s2, c2, b2) = send(&r.client, &r2.base, method, path, None).await;
            assert_eq!(s2, status, "{method} {path}");
            assert_eq!(
                challenge_parts(&challenge),
                challenge_parts(&c2),
                "{method} {path}: ours {challenge}, registry:2 {c2}"
            );
            if !head {
                assert_eq!(body, b2, "{method} {path}: the 401 body");
            }
        }
    }
    r.stop().await;
}

/// Tokens that must not be accepted, and one that must: answered as registry:2 answers them.
#[tokio::test]
async fn refused_tokens_get_the_error_registry2_gives() {
    let realm = "http://127.0.0.1:9/token";
    let r = registry(realm).await;
    let good = claims("alice", pull_push("foo"));
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let none_alg = format!(
        "{}.{}.",
        b64url(
            json!({"typ": "JWT", "alg": "none", "kid": RSA_KID})
                .to_string()
                .as_bytes()
        ),
        b64url(good.to_string().as_bytes())
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("valid", sign(&rs256(), &good, "rsa"), ""),
        (
            "expired",
            sign(&rs256(), &with("exp", (now() - 3600).into()), "rsa"),
            "invalid_token",
        ),
        (
            "another service",
            sign(&rs256(), &with("aud", "other-registry".into()), "rsa"),
            "invalid_token",
        ),
        (
            "another issuer",
            sign(&rs256(), &with("iss", "mallory".into()), "rsa"),
            "invalid_token",
        ),
        (
            "signed by another key",
            sign(&rs256(), &good, "other"),
            "invalid_token",
        ),
        ("alg: none", none_alg, "invalid_token"),
        (
            "missing push",
            sign(
                &rs256(),
                &with(
                    "access",
                    json!([{"type": "repository", "name": "foo", "actions": ["pull"]}]),
                ),
                "rsa",
            ),
            "insufficient_scope",
        ),
        (
            "another repository",
            sign(&rs256(), &with("access", pull_push("bar")), "rsa"),
            "insufficient_scope",
        ),
    ];
    let r2 = if registry2_available() {
        Some(
            Registry2::start(
                &format!(
                    "version: 0.1\nstorage:\n  inmemory: {{}}\n{}",
                    auth_yaml(realm)
                ),
                "",
            )
            .await,
        )
    } else {
        None
    };
    for (what, t, error) in &cases {
        let (status, challenge, body) = send(
            &r.client,
            &r.base,
            "POST",
            "/v2/foo/blobs/uploads/",
            Some(t),
        )
        .await;
        if error.is_empty() {
            assert_eq!(status, 202, "{what}: {body}");
        } else {
            assert_eq!(status, 401, "{what}: {body}");
            assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED", "{what}");
            assert_eq!(
                challenge,
                format!(
                    "Bearer realm=\"{realm}\",service=\"{SERVICE}\",scope=\"repository:foo:pull,push\",error=\"{error}\""
                ),
                "{what}"
            );
        }
        if let Some(r2) = &r2 {
            // registry:2 2.8.2 reads `aud` as a string and knows keys by their libtrust id,
            // so these tokens are valid for it too: the same verdict for each.
            let (s2, c2, _) = send(
                &r.client,
                &r2.base,
                "POST",
                "/v2/foo/blobs/uploads/",
                Some(t),
            )
            .await;
            assert_eq!(s2, status, "{what}: registry:2 answered {s2} {c2}");
            if !error.is_empty() {
                assert_eq!(challenge_parts(&challenge), challenge_parts(&c2), "{what}");
            }
        }
    }
    // A valid token with no access may see /v2/ only.
    let t = token("alice", json!([]));
    assert_eq!(
        send(&r.client, &r.base, "GET", "/v2/", Some(&t)).await.0,
        200
    );
    let (status, challenge, _) = send(&r.client, &r.base, "GET", "/v2/_catalog", Some(&t)).await;
    assert_eq!(status, 401);
    assert!(challenge.ends_with(",scope=\"registry:catalog:*\",error=\"insufficient_scope\""));
    let t = token(
        "alice",
        json!([{"type": "registry", "name": "catalog", "actions": ["*"]}]),
    );
    let (status, _, body) = send(&r.client, &r.base, "GET", "/v2/_catalog", Some(&t)).await;
    assert_eq!(status, 200, "{body}");
    r.stop().await;
}

/// The other ways registry:2 finds a token's key: a JWKS `kid` (3.x), an `x5c` chain to a
/// bundle certificate, an EC key named by its RFC 7638 thumbprint (3.x); and `delete` and `*`.
#[tokio::test]
async fn jwks_x5c_thumbprints_delete_and_star() {
    let realm = "http://127.0.0.1:9/token";
    let cfg = config_with_storage(
        "  delete:\n    enabled: true\n",
        &format!("{}    jwks: {DATA}/jwks.json\n", auth_yaml(realm)),
    );
    let r = start_with(
        &cfg,
        std::sync::Arc::new(s3driver::driver::Base::new(
            s3driver::driver::InMemoryDriver::new(),
        )),
    )
    .await;
    let all = json!([{"type": "repository", "name": "k/r", "actions": ["*"]}]);
    let leaf_pem = std::fs::read_to_string(format!("{DATA}/leaf.pem")).unwrap();
    let leaf_b64: String = leaf_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let tokens = [
        (
            "jwks kid",
            sign(
                &json!({"alg": "ES256", "kid": "s3driver-test-jwks-es256"}),
                &claims("j", all.clone()),
                "jwks",
            ),
        ),
        (
            "x5c",
            sign(
                &json!({"alg": "ES256", "x5c": [leaf_b64]}),
                &claims("x", all.clone()),
                "leaf",
            ),
        ),
        (
            "thumbprint",
            sign(
                &json!({"alg": "ES256", "kid": "Oa9T6ALUr6o3c7eSqLmj0fwwgXXp8EEnxQUgTN2YIGI"}),
                &claims("t", all.clone()),
                "ec",
            ),
        ),
    ];
    for (what, t) in &tokens {
        let resp = r
            .client
            .post(r.url(&format!(
                "/v2/k/r/blobs/uploads/?digest={}",
                sha256(what.as_bytes())
            )))
            .bearer_auth(t)
            .body(what.as_bytes().to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{what}: {}", resp.text().await.unwrap());
    }
    // Deleting needs `delete` (here through `*`); pull,push is not enough.
    let d = sha256(b"jwks kid");
    let pp = token(
        "p",
        json!([{"type": "repository", "name": "k/r", "actions": ["pull", "push"]}]),
    );
    let (status, challenge, _) = send(
        &r.client,
        &r.base,
        "DELETE",
        &format!("/v2/k/r/blobs/{d}"),
        Some(&pp),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("scope=\"repository:k/r:delete\",error=\"insufficient_scope\""),
        "{challenge}"
    );
    let (status, _, body) = send(
        &r.client,
        &r.base,
        "DELETE",
        &format!("/v2/k/r/blobs/{d}"),
        Some(&tokens[0].1),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    r.stop().await;
}

/// Configuration mistakes stop the binary with a message that names the key.
#[tokio::test]
async fn configuration_errors_name_the_key() {
    for (yaml, want) in [
        (
            "auth:\n  token:\n    realm: http://x/token\n    service: s\n    issuer: i\n"
                .to_owned(),
            "auth.token.rootcertbundle",
        ),
        (
            "auth:\n  token:\n    service: s\n    issuer: i\n    rootcertbundle: /x\n".to_owned(),
            "auth.token.realm must be set",
        ),
        (
            auth_yaml("http://x/token").replace("bundle.pem", "missing.pem"),
            "cannot read",
        ),
    ] {
        let cfg = s3driver::config::Config::from_yaml(
            &format!("version: 0.1\nstorage: inmemory\n{yaml}"),
            &[],
        );
        let e = match cfg {
            Err(e) => e.to_string(),
            Ok(c) => s3driver::server::App::from_config(&c)
                .unwrap_err()
                .to_string(),
        };
        assert!(e.contains(want), "{e}");
    }
}
