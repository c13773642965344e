//! registry:2 configuration: keys, defaults, `REGISTRY_*` overrides, errors,
//! secrets, and the `s3driver` binary's handling of them.
#![cfg(feature = "server")]

use std::process::{Command, Stdio};
use std::time::Duration;

use s3driver::config::{build_driver, AuthConfig, Config, LogFormat, LogLevel, DEFAULT_CONFIG};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn err(yaml: &str, env_pairs: &[(&str, &str)]) -> String {
    match Config::from_yaml(yaml, &env(env_pairs)) {
        Ok(c) => match build_driver(&c.storage) {
            Ok(_) => panic!("accepted:\n{yaml}"),
            Err(e) => e.to_string(),
        },
        Err(e) => e.to_string(),
    }
}

const FULL: &str = r#"
version: 0.1
log:
  level: debug
  formatter: json
  accesslog:
    disabled: true
storage:
  s3:
    region: us-east-1
    bucket: my-bucket
    secure: yes
    chunksize: 0x500000
    secretkey: SuperSecretValue123
    accesskey: AKIDEXAMPLE
  cache:
    blobdescriptor: redis
  delete:
    enabled: true
  redirect:
    disable: true
  maintenance:
    uploadpurging:
      enabled: true
      age: 48h
      interval: 1h30m
      dryrun: true
middleware:
  storage:
    - name: cloudfront
      options:
        baseurl: https://d111111abcdef8.cloudfront.net/
        privatekey: /etc/docker/cloudfront/pk.pem
        keypairid: KEYPAIRID
        duration: 3000s
http:
  addr: 127.0.0.1:5001
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: basic-realm
    path: /auth/htpasswd
health:
  storagedriver:
    enabled: true
    interval: 5s
notifications:
  endpoints:
    - name: alistener
      url: https://my.listener.com/event
"#;

#[test]
fn reads_every_supported_key() {
    let c = Config::from_yaml(FULL, &[]).unwrap();
    assert_eq!(c.log.level, LogLevel::Debug);
    assert_eq!(c.log.format, LogFormat::Json);
    assert!(c.log.access_log_disabled);
    assert_eq!(c.storage.driver, "s3");
    let p = c.storage.parameters();
    assert_eq!(p.get("bucket"), Some("my-bucket"));
    // YAML values reach the driver as Go's fmt.Sprint renders them.
    assert_eq!(p.get("secure"), Some("true"));
    assert_eq!(p.get("chunksize"), Some("5242880"));
    assert!(c.storage.delete_enabled);
    assert!(c.storage.redirect_disabled);
    let up = c.storage.upload_purging;
    assert!(up.enabled && up.dry_run);
    assert_eq!(up.age, Duration::from_secs(48 * 3600));
    assert_eq!(up.interval, Duration::from_secs(5400));
    assert_eq!(c.storage.middleware.len(), 1);
    assert_eq!(c.storage.middleware[0].name, "cloudfront");
    assert_eq!(
        c.storage.middleware[0].parameters().get("keypairid"),
        Some("KEYPAIRID")
    );
    assert_eq!(c.http.addr, "127.0.0.1:5001");
    assert_eq!(
        c.http.headers,
        vec![(
            "X-Content-Type-Options".to_owned(),
            vec!["nosniff".to_owned()]
        )]
    );
    assert_eq!(
        c.auth,
        Some(AuthConfig::Htpasswd {
            realm: "basic-realm".into(),
            path: "/auth/htpasswd".into()
        })
    );
    let h = c.health.unwrap();
    assert_eq!((h.interval, h.threshold), (Duration::from_secs(5), 3));
    let warnings = c.warnings.join("\n");
    assert!(warnings.contains("redis"), "{warnings}");
    assert!(!warnings.contains("notifications"), "{warnings}");
    let ep = &c.notifications.endpoints[0];
    assert_eq!(
        (ep.name.as_str(), ep.url.as_str()),
        ("alistener", "https://my.listener.com/event")
    );
    assert_eq!(
        (ep.timeout, ep.threshold, ep.backoff),
        (Duration::from_secs(1), 10, Duration::from_secs(1)),
        "registry:2's defaults"
    );
}

#[test]
fn defaults_without_a_file() {
    let c = Config::from_yaml(DEFAULT_CONFIG, &[]).unwrap();
    assert_eq!(c.http.addr, ":5000");
    assert_eq!(c.storage.driver, "filesystem");
    assert_eq!(c.storage.parameters().get("rootdirectory"), Some("./data"));
    assert_eq!(c.log.level, LogLevel::Info);
    assert!(!c.storage.delete_enabled && !c.storage.redirect_disabled);
    assert_eq!(
        c.storage.upload_purging.age,
        Duration::from_secs(168 * 3600)
    );
    assert_eq!(
        c.storage.upload_purging.interval,
        Duration::from_secs(24 * 3600)
    );
    assert!(c.health.is_none() && c.auth.is_none() && c.http.tls.is_none());
    assert_eq!(c.http.drain_timeout, Duration::from_secs(10));
    assert_eq!(c.catalog_max_entries, 1000);
    assert_eq!(build_driver(&c.storage).unwrap().name(), "filesystem");
    let c = Config::from_yaml("version: 0.1\nstorage: inmemory\n", &[]).unwrap();
    assert_eq!(c.storage.driver, "inmemory");
}

#[test]
fn registry_environment_overrides() {
    let c = Config::from_yaml(
        DEFAULT_CONFIG,
        &env(&[
            ("REGISTRY_HTTP_ADDR", "127.0.0.1:6000"),
            ("REGISTRY_LOG_LEVEL", "warn"),
            ("REGISTRY_STORAGE", "s3"),
            ("REGISTRY_STORAGE_S3_BUCKET", "env-bucket"),
            ("REGISTRY_STORAGE_S3_REGION", "eu-west-1"),
            ("REGISTRY_STORAGE_S3_FORCEPATHSTYLE", "true"),
            ("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
            ("REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE", "2h"),
            ("REGISTRY_HEALTH_STORAGEDRIVER_ENABLED", "true"),
            ("REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD", "7"),
            ("REGISTRY_AUTH_HTPASSWD_REALM", "env realm"),
            ("REGISTRY_AUTH_HTPASSWD_PATH", "/etc/htpasswd"),
            ("REGISTRY_MIDDLEWARE_STORAGE_0_NAME", "cloudfront"),
            (
                "REGISTRY_MIDDLEWARE_STORAGE_0_OPTIONS_BASEURL",
                "https://cdn.example.com/",
            ),
            ("REGISTRY_HTTP_BOGUS", "1"),
            ("PATH", "/usr/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(c.http.addr, "127.0.0.1:6000");
    assert_eq!(c.log.level, LogLevel::Warn);
    assert_eq!(c.storage.driver, "s3");
    let p = c.storage.parameters();
    assert_eq!(p.get("bucket"), Some("env-bucket"));
    assert_eq!(p.get("region"), Some("eu-west-1"));
    assert_eq!(p.get("forcepathstyle"), Some("true"));
    assert!(
        p.get("rootdirectory").is_none(),
        "REGISTRY_STORAGE replaced the section"
    );
    assert!(c.storage.delete_enabled);
    assert_eq!(c.storage.upload_purging.age, Duration::from_secs(7200));
    assert_eq!(c.health.unwrap().threshold, 7);
    assert!(matches!(c.auth, Some(AuthConfig::Htpasswd { ref realm, .. }) if realm == "env realm"));
    assert_eq!(
        c.storage.middleware[0].parameters().get("baseurl"),
        Some("https://cdn.example.com/")
    );
    assert!(
        c.warnings.iter().any(|w| w.contains("REGISTRY_HTTP_BOGUS")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn errors_name_the_key_and_the_allowed_values() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("version: 0.2\nstorage: inmemory\n", &[], "unsupported version \"0.2\""),
        ("storage: inmemory\n", &[], "version is missing"),
        ("version: 0.1\n", &[], "storage is missing"),
        ("version: 0.1\nstorage:\n  inmemory:\n  filesystem:\n", &[], "found inmemory, filesystem"),
        ("version: 0.1\nstorage:\n  delete:\n    enabled: true\n", &[], "none is configured"),
        ("version: 0.1\nstorage:\n  gcs: {}\n", &[], "unknown storage driver \"gcs\"; allowed values: filesystem, inmemory, s3"),
        ("version: 0.1\nstorage: inmemory\nlog:\n  level: loud\n", &[], "log.level must be one of error, warn, info, debug, trace"),
        ("version: 0.1\nstorage: inmemory\nlog:\n  formatter: xml\n", &[], "log.formatter must be one of text, json, logstash"),
        ("version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: sometimes\n", &[], "storage.delete.enabled must be a boolean"),
        ("version: 0.1\nstorage:\n  inmemory:\n  maintenance:\n    uploadpurging:\n      age: forever\n", &[], "storage.maintenance.uploadpurging.age must be a duration"),
        ("version: 0.1\nstorage: inmemory\nauth:\n  token:\n    realm: x\n", &[], "auth.token.service must be set for the token access controller"),
        ("version: 0.1\nstorage: inmemory\nauth:\n  silly:\n    realm: x\n", &[], "auth.silly is not supported by this build; the supported access controllers are htpasswd and token"),
        ("version: 0.1\nstorage: inmemory\nnotifications:\n  endpoints:\n    - name: a\n      url: ftp://x/\n", &[], "notifications.endpoints[0].url must be an http:// or https:// URL"),
        ("version: 0.1\nstorage: inmemory\nnotifications:\n  endpoints:\n    - url: http://x/\n", &[], "notifications.endpoints[0].name is missing"),
        ("version: 0.1\nstorage: inmemory\nnotifications:\n  endpoints:\n    - name: a\n      url: http://x/\n      ignore:\n        actions: [pul]\n", &[], "ignore.actions must list actions among pull, push, mount, delete"),
        ("version: 0.1\nstorage: inmemory\nnotifications:\n  endpoints:\n    - name: a\n      url: http://x/\n      headers:\n        Authorization: \"Bearer s3cr3t\\n\"\n", &[], "notifications.endpoints[0].headers.Authorization is not a valid HTTP header name and value"),
        ("version: 0.1\nstorage: inmemory\nauth:\n  htpasswd:\n    path: /x\n", &[], "auth.htpasswd.realm must be set"),
        ("version: 0.1\nstorage: inmemory\nhttp:\n  tls:\n    certificate: /c\n", &[], "http.tls.key is missing"),
        ("version: 0.1\nstorage: inmemory\nhttp:\n  tls:\n    certificate: /c\n    key: /k\n    clientcas: [/ca]\n", &[], "http.tls.clientcas is not supported"),
        ("version: 0.1\nstorage: inmemory\nhttp:\n  tls:\n    minimumtls: tls1.0\n", &[], "http.tls.minimumtls must be one of tls1.2, tls1.3"),
        ("version: 0.1\nstorage: inmemory\nhttp:\n  net: unix\n", &[], "http.net must be tcp"),
        ("version: 0.1\nstorage: inmemory\nproxy:\n  remoteurl: ftp://registry-1.docker.io\n", &[], "proxy.remoteurl must be the upstream registry's URL"),
        ("version: 0.1\nstorage: inmemory\nmiddleware:\n  storage:\n    - name: rewrite\n", &[], "unknown storage middleware \"rewrite\"; allowed values: cloudfront"),
        ("version: 0.1\nstorage:\n  filesystem:\n    maxthreads: many\n", &[], "maxthreads"),
        ("version: 0.1\nstorage: inmemory\nhealth:\n  storagedriver:\n    enabled: true\n    threshold: -1\n", &[], "health.storagedriver.threshold"),
        ("version: 0.1\nstorage: [a]\n", &[], "storage must be a mapping"),
        ("version: 0.1\nstorage: inmemory\ncatalog:\n  maxentries: 0\n", &[], "catalog.maxentries must be a positive integer"),
        ("version: 0.1\nstorage: inmemory\nhttp:\n  headers:\n    \"Bad Header\": x\n", &[], "http.headers.Bad Header"),
        ("version: 0.1\nstorage: inmemory\n  bad indentation: [\n", &[], "not valid YAML"),
        (DEFAULT_CONFIG, &[("REGISTRY_STORAGE_S3_BUCKET", "b")], "found filesystem, s3"),
        (DEFAULT_CONFIG, &[("REGISTRY_MIDDLEWARE_STORAGE_1_NAME", "x")], "undefined list index 1"),
    ];
    for (yaml, e, want) in cases {
        let got = err(yaml, e);
        assert!(
            got.contains(want),
            "for\n{yaml}\nwant {want:?}\ngot  {got:?}"
        );
        assert!(got.starts_with("configuration error: "), "{got}");
    }
}

#[test]
fn s3_and_cloudfront_errors_name_the_key() {
    let c = Config::from_yaml("version: 0.1\nstorage:\n  s3:\n    bucket: b\n", &[]).unwrap();
    let e = build_driver(&c.storage).unwrap_err();
    assert_eq!(e.key(), "storage.s3.region");
    assert!(
        e.to_string().contains("no region parameter provided"),
        "{e}"
    );
    let c = Config::from_yaml(
        "version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: b\n    chunksize: 1024\n",
        &[],
    )
    .unwrap();
    let e = build_driver(&c.storage).unwrap_err();
    assert_eq!(e.key(), "storage.s3.chunksize");
    assert!(
        e.to_string().contains("between 5242880 and 5368709120"),
        "{e}"
    );
    // SigV2 is refused on AWS with a message that says what to set.
    let c = Config::from_yaml(
        "version: 0.1\nstorage:\n  s3:\n    region: eu-central-1\n    bucket: b\n    v4auth: false\n",
        &[],
    )
    .unwrap();
    let e = build_driver(&c.storage).unwrap_err();
    assert_eq!(e.key(), "storage.s3");
    assert!(e.to_string().contains("v4auth"), "{e}");
    let c = Config::from_yaml(
        "version: 0.1\nstorage: inmemory\nmiddleware:\n  storage:\n    - name: cloudfront\n",
        &[],
    )
    .unwrap();
    let e = build_driver(&c.storage).unwrap_err();
    let text = e.to_string();
    if cfg!(feature = "cloudfront") {
        assert!(e.key().starts_with("middleware.storage[0]"), "{e}");
        assert!(text.contains("baseurl"), "{text}");
    } else {
        assert!(
            text.contains("cloudfront storage middleware is not part of this build"),
            "{text}"
        );
    }
}

#[test]
fn secrets_never_appear_in_errors_warnings_or_debug() {
    let secret = "SuperSecretValue123";
    let c = Config::from_yaml(FULL, &[]).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains(secret), "{dbg}");
    assert!(!dbg.contains("AKIDEXAMPLE"), "{dbg}");
    assert!(dbg.contains("my-bucket"));
    assert!(!c.storage.describe().contains(secret));
    assert!(!c.warnings.join(" ").contains(secret));
    // A secret with invalid YAML in the environment, and one in a bad section.
    let e = err(
        DEFAULT_CONFIG,
        &[("REGISTRY_STORAGE_S3_SECRETKEY", "[SuperSecretValue123")],
    );
    assert!(
        e.contains("REGISTRY_STORAGE_S3_SECRETKEY") && !e.contains(secret),
        "{e}"
    );
    let e = err(
        "version: 0.1\nstorage:\n  s3: SuperSecretValue123\n  inmemory:\n",
        &[],
    );
    assert!(!e.contains(secret), "{e}");
    let e = err(
        "version: 0.1\nstorage:\n  s3:\n    secretkey: SuperSecretValue123\n    region: [x\n",
        &[],
    );
    assert!(!e.contains(secret), "{e}");
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_s3driver"))
}

#[test]
fn binary_check_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, "version: 0.1\nstorage: inmemory\n").unwrap();
    let out = binary()
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK: storage inmemory"));
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "version: 0.1\nstorage: inmemory\nlog:\n  level: chatty\n",
    )
    .unwrap();
    let out = binary().arg("check").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("log.level must be one of error, warn, info, debug"),
        "{stderr}"
    );
    let out = binary().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: s3driver"));
    let out = binary().arg("version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("s3driver "));
    let out = binary()
        .args(["check", "--config", "/nonexistent/config.yml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot read configuration file /nonexistent/config.yml"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn binary_serves_with_defaults_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = binary()
        .arg("serve")
        .current_dir(dir.path())
        .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("REGISTRY_LOG_LEVEL", "info")
        .env_remove("REGISTRY_CONFIGURATION_PATH")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let ok = rt.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("{base}/v2/")).send().await {
                return r.status() == 200;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    assert!(ok, "the registry did not come up");
    // Default storage: the filesystem under ./data.
    rt.block_on(async {
        let d = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let r = reqwest::Client::new()
            .post(format!("{base}/v2/x/blobs/uploads/?digest={d}"))
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    });
    assert!(dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824/data")
        .exists());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("listening"), "{log}");
}

/// registry:2's operations keys are read, not warned about: the debug listener with
/// Prometheus, log fields, the upload-state secret, HTTP/2. The secret never shows in `Debug`.
#[test]
fn operations_keys_are_read_without_warnings() {
    let c = Config::from_yaml(
        "version: 0.1\nlog:\n  formatter: json\n  fields:\n    service: registry\n    environment: prod\nstorage: inmemory\nhttp:\n  addr: :5000\n  secret: the-shared-secret\n  http2:\n    disabled: true\n  debug:\n    addr: 127.0.0.1:5001\n    prometheus:\n      enabled: true\n      path: /prom\n",
        &[],
    )
    .unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        c.log.fields,
        [
            ("service".to_owned(), "registry".to_owned()),
            ("environment".to_owned(), "prod".to_owned())
        ]
    );
    let debug = c.http.debug.as_ref().unwrap();
    assert_eq!(debug.addr, "127.0.0.1:5001");
    assert_eq!(debug.prometheus_path.as_deref(), Some("/prom"));
    assert!(c.http.http2_disabled);
    assert_eq!(c.http.secret.as_deref(), Some("the-shared-secret"));
    assert!(!format!("{c:?}").contains("the-shared-secret"));
    // Prometheus off: no metrics path; the default path is /metrics.
    let c = Config::from_yaml(
        "version: 0.1\nstorage: inmemory\nhttp:\n  debug:\n    addr: :5001\n",
        &[(
            "REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED".into(),
            "true".into(),
        )],
    )
    .unwrap();
    assert_eq!(
        c.http.debug.unwrap().prometheus_path.as_deref(),
        Some("/metrics")
    );
    let e = Config::from_yaml(
        "version: 0.1\nstorage: inmemory\nhttp:\n  debug:\n    addr: :5001\n    prometheus:\n      enabled: true\n      path: metrics\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key(), "http.debug.prometheus.path");
}
