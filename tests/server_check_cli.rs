//! `s3driver check --config FILE` on an S3 configuration: the binary validates the
//! registry:2 file, then probes the bucket's permissions on a signature-verifying server.
#![cfg(feature = "server")]

mod common;

fn config(target: &common::S3Target, bucket: &str, secret: &str) -> String {
    format!(
        "version: 0.1\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{secret}\"\n    region: us-east-1\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /checked\n",
        target.access_key, target.endpoint
    )
}

async fn run_check(yaml: &str) -> (bool, String) {
    run_check_with(yaml, &[]).await
}

async fn run_check_with(yaml: &str, flags: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yml");
    std::fs::write(&path, yaml).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_s3driver"))
        .arg("check")
        .args(flags)
        .arg("--config")
        .arg(&path)
        .env_remove("REGISTRY_CONFIGURATION_PATH")
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_granted_permissions() {
    let server = common::S3sServer::start().await;
    server.create_bucket("checkcli");
    let target = server.target();
    let (ok, text) = run_check(&config(&target, "checkcli", &target.secret_key)).await;
    assert!(ok, "{text}");
    assert!(text.contains("configuration OK"), "{text}");
    assert!(
        text.contains("s3:PutObject") && text.contains("granted"),
        "{text}"
    );
    assert!(
        text.contains("all permissions the driver needs are granted"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_on_a_wrong_secret_without_printing_it() {
    let server = common::S3sServer::start().await;
    server.create_bucket("checkcli");
    let target = server.target();
    let (ok, text) = run_check(&config(&target, "checkcli", "wrong-Secret-Value")).await;
    assert!(!ok, "{text}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(
        !text.contains("wrong-Secret-Value"),
        "secret printed: {text}"
    );
}

/// A pull-only host (read-only registry, a user with the seeds' pull-only policy on Ceph RGW):
/// `check` probes what pulling needs, succeeds and says the writes were not checked;
/// `check --writes` fails and prints only the push part of the policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_a_pull_only_host() {
    let Some(ceph) = common::ceph_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("pullcli");
    ceph.create_bucket(&bucket).await;
    let reader = ceph.pull_only_reader(&bucket).await;
    let yaml = config(&reader, &bucket, &reader.secret_key)
        + "  maintenance:\n    readonly:\n      enabled: true\n";
    let (ok, text) = run_check_with(&yaml, &[]).await;
    assert!(ok, "{text}");
    assert!(text.contains("were not checked"), "{text}");
    assert!(
        !text.contains("s3:PutObject                     "),
        "{text}"
    );
    let (ok, text) = run_check_with(&yaml, &["--writes"]).await;
    assert!(!ok, "{text}");
    assert!(text.contains("push (hosts that push"), "{text}");
    assert!(!text.contains("pull (every registry host)"), "{text}");
    // Without read-only mode the same host fails the check (pushing is what it lacks).
    let (ok, text) = run_check_with(&config(&reader, &bucket, &reader.secret_key), &[]).await;
    assert!(!ok, "{text}");
    assert!(text.contains("pushing also needs"), "{text}");
}
