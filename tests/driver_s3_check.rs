//! The bucket permission check (`s3driver check`) against signature-verifying servers, with
//! denials injected by the fault proxy where the server has no IAM.

mod common;

use std::sync::Arc;

use s3driver::client::credentials::StaticProvider;
use s3driver::driver::s3::{Action, Outcome, Scope};
use s3driver::driver::{Parameters, S3Driver, S3Parameters, StorageDriver};

use common::{Fault, FaultPlan, FaultProxy, FaultRule};

fn driver(
    endpoint: &str,
    key: &str,
    secret: &str,
    bucket: &str,
) -> s3driver::driver::Base<S3Driver> {
    let params = S3Parameters::from_parameters(&Parameters::from_iter([
        ("region", "us-east-1"),
        ("regionendpoint", endpoint),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("rootdirectory", "/registry"),
    ]))
    .unwrap();
    let creds = StaticProvider::from_keys(key.to_owned(), secret.to_owned(), None);
    let mut config =
        s3driver::client::ClientConfig::new(params.endpoint.clone(), params.bucket.clone());
    config.retry = s3driver::client::RetryConfig::disabled();
    s3driver::driver::Base::new(
        S3Driver::with_client_config(params, config, Arc::new(creds)).unwrap(),
    )
}

fn outcome(report: &s3driver::driver::s3::PermissionReport, action: Action) -> &Outcome {
    &report.results.iter().find(|(a, _)| *a == action).unwrap().1
}

#[tokio::test]
async fn everything_granted_on_s3s_fs_and_probes_cleaned_up() {
    let server = common::S3sServer::start().await;
    server.create_bucket("checked");
    let d = driver(
        &server.endpoint(),
        server.access_key(),
        server.secret_key(),
        "checked",
    );
    let report = d.inner().check_permissions().await;
    println!("{report}");
    for action in Action::ALL {
        let expected = if action == Action::ListBucketMultipartUploads {
            Outcome::NotImplemented // s3s-fs has no ListMultipartUploads
        } else {
            Outcome::Granted
        };
        assert_eq!(outcome(&report, action), &expected, "{action:?}");
    }
    assert!(report.all_granted() && report.missing().is_empty());
    assert_eq!(report.bucket_region.as_deref(), Some("us-east-1"));
    assert!(!report.region_mismatch());
    assert!(report
        .to_string()
        .contains("all permissions the driver needs are granted"));
    assert!(
        d.list("/").await.unwrap().is_empty(),
        "the check left objects behind"
    );
}

#[tokio::test]
async fn denied_actions_are_reported_with_the_policy_that_grants_them() {
    let server = common::S3sServer::start().await;
    server.create_bucket("denied");
    let plan = FaultPlan::new()
        .rule(
            FaultRule::new(Fault::status(403, "AccessDenied", "Access Denied"))
                .method("DELETE")
                .path_contains("permission-check")
                .times(10),
        )
        .rule(
            FaultRule::new(Fault::status(403, "AccessDenied", "Access Denied"))
                .method("GET")
                .path_contains("location")
                .times(10),
        );
    let proxy = FaultProxy::start(server.addr(), plan).await;
    let d = driver(
        &proxy.endpoint(),
        server.access_key(),
        server.secret_key(),
        "denied",
    );
    let report = d.inner().check_permissions().await;
    let text = report.to_string();
    println!("{text}");
    assert_eq!(outcome(&report, Action::PutObject), &Outcome::Granted);
    assert_eq!(outcome(&report, Action::GetObject), &Outcome::Granted);
    assert_eq!(outcome(&report, Action::DeleteObject), &Outcome::Denied);
    assert_eq!(
        outcome(&report, Action::AbortMultipartUpload),
        &Outcome::Denied
    );
    assert_eq!(
        outcome(&report, Action::GetBucketLocation),
        &Outcome::Denied
    );
    assert_eq!(
        report.missing(),
        vec![
            Action::GetBucketLocation,
            Action::DeleteObject,
            Action::AbortMultipartUpload
        ]
    );
    assert!(!report.all_granted());
    let policy = report.policy_json(&report.missing());
    assert!(
        policy.contains(r#""Action": ["s3:GetBucketLocation"]"#),
        "{policy}"
    );
    assert!(
        policy.contains(r#""Resource": "arn:aws:s3:::denied""#),
        "{policy}"
    );
    assert!(
        policy.contains(r#""Action": ["s3:DeleteObject", "s3:AbortMultipartUpload"]"#),
        "{policy}"
    );
    assert!(
        policy.contains(r#""Resource": "arn:aws:s3:::denied/registry/*""#),
        "{policy}"
    );
    assert!(!policy.contains("s3:PutObject"), "{policy}");
    // Printed split: what pulling needs, and what pushing needs besides.
    let parts = report.policies();
    assert_eq!(parts.len(), 2, "{text}");
    assert_eq!(parts[0].1, [Action::GetBucketLocation]);
    assert_eq!(
        parts[1].1,
        [Action::DeleteObject, Action::AbortMultipartUpload]
    );
    assert!(text.contains("MISSING"));
    for (label, _, json) in &parts {
        assert!(
            text.contains(label) && text.contains(json.as_str()),
            "{text}"
        );
    }
}

#[tokio::test]
async fn wrong_secret_is_an_error_not_a_grant() {
    let server = common::S3sServer::start().await;
    server.create_bucket("wrongsecret");
    let d = driver(
        &server.endpoint(),
        server.access_key(),
        "not-the-secret",
        "wrongsecret",
    );
    let report = d.inner().check_permissions().await;
    let text = report.to_string();
    assert!(!report.all_granted());
    assert!(
        matches!(outcome(&report, Action::ListBucket), Outcome::Error(m) if m.contains("SignatureDoesNotMatch")),
        "{text}"
    );
    assert!(
        !text.contains("not-the-secret"),
        "the secret leaked: {text}"
    );
}

#[tokio::test]
async fn everything_granted_on_swift() {
    everything_granted_on(&common::SWIFT).await;
}

#[tokio::test]
async fn everything_granted_on_ceph() {
    everything_granted_on(&common::CEPH).await;
}

async fn everything_granted_on(spec: &'static common::external::ServerSpec) {
    let Some(swift) = common::server_or_skip(spec) else {
        return;
    };
    let bucket = common::unique_bucket_name("check");
    swift.create_bucket(&bucket).await;
    let d = driver(
        swift.endpoint(),
        swift.access_key(),
        swift.secret_key(),
        &bucket,
    );
    let report = d.inner().check_permissions().await;
    println!("{report}");
    for action in Action::ALL {
        assert_eq!(
            outcome(&report, action),
            &Outcome::Granted,
            "{action:?}\n{report}"
        );
    }
    assert!(d.list("/").await.unwrap().is_empty());
}

/// The statements of a policy document as (resource, actions) pairs.
fn statements(policy: &str) -> Vec<(String, Vec<String>)> {
    let v: serde_json::Value =
        serde_json::from_str(policy).unwrap_or_else(|e| panic!("{e}: {policy}"));
    assert_eq!(v["Version"], "2012-10-17");
    v["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow");
            let actions = s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            (s["Resource"].as_str().unwrap().to_owned(), actions)
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// A user with exactly the seeds' pull-only policy on a real server (Ceph RGW bucket policy):
/// the pull-only check finds everything granted without writing, and says the writes were not
/// checked; the full check finds the push actions missing and prints only the push policy.
#[tokio::test]
async fn pull_only_user_on_ceph() {
    let Some(ceph) = common::ceph_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("pullonly");
    ceph.create_bucket(&bucket).await;
    let reader = ceph.pull_only_reader(&bucket).await;
    let owner = ceph.target();
    let r = driver(
        &reader.endpoint,
        &reader.access_key,
        &reader.secret_key,
        &bucket,
    );

    // An empty registry: GetObject is probed with a key that cannot exist.
    let report = r.inner().check_permissions_for(Scope::Pull).await;
    let text = report.to_string();
    println!("{text}");
    assert_eq!(report.results.len(), 3, "{text}");
    for action in Action::PULL {
        assert_eq!(
            outcome(&report, action),
            &Outcome::Granted,
            "{action:?}\n{text}"
        );
    }
    assert!(report.all_granted(), "{text}");
    assert!(text.contains("were not checked"), "{text}");
    assert!(text.contains("all permissions a pull-only registry needs are granted"));

    // With content: one byte of an existing object.
    let o = driver(
        &owner.endpoint,
        &owner.access_key,
        &owner.secret_key,
        &bucket,
    );
    o.put_content(
        "/docker/registry/v2/blobs/x",
        bytes::Bytes::from_static(b"blob"),
    )
    .await
    .unwrap();
    let report = r.inner().check_permissions_for(Scope::Pull).await;
    assert!(report.all_granted(), "{report}");
    assert!(
        o.list("/").await.unwrap() == ["/docker"],
        "the pull-only check wrote something"
    );

    // The full check: the push actions are missing, and only they are in the policy.
    let report = r.inner().check_permissions_for(Scope::Full).await;
    let text = report.to_string();
    println!("{text}");
    assert!(!report.all_granted());
    for action in Action::PULL {
        assert_eq!(
            outcome(&report, action),
            &Outcome::Granted,
            "{action:?}\n{text}"
        );
    }
    assert_eq!(
        outcome(&report, Action::PutObject),
        &Outcome::Denied,
        "{text}"
    );
    for action in [
        Action::ListBucketMultipartUploads,
        Action::DeleteObject,
        Action::AbortMultipartUpload,
    ] {
        assert_eq!(
            outcome(&report, action),
            &Outcome::Denied,
            "{action:?}\n{text}"
        );
    }
    // RGW answers ListParts of an unknown upload 404 before checking the permission.
    assert!(
        matches!(
            outcome(&report, Action::ListMultipartUploadParts),
            Outcome::Denied | Outcome::Skipped(_)
        ),
        "{text}"
    );
    let policies = report.policies();
    assert_eq!(policies.len(), 1, "{text}");
    let (label, _, json) = &policies[0];
    assert!(label.starts_with("push"), "{label}");
    let mut got = statements(json);
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                format!("arn:aws:s3:::{bucket}"),
                strings(&["s3:ListBucketMultipartUploads"])
            ),
            (
                format!("arn:aws:s3:::{bucket}/registry/*"),
                strings(&["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"])
            ),
        ],
        "{text}"
    );
    assert!(text.contains("pushing also needs"), "{text}");
    o.delete("/docker").await.unwrap();
}

/// A user with no rights at all: the pull-only check prints the pull policy (bucket ARN for
/// the list and location actions, the root directory's objects for GetObject).
#[tokio::test]
async fn pull_only_check_prints_the_pull_policy_when_denied() {
    let Some(ceph) = common::ceph_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("nothing");
    ceph.create_bucket(&bucket).await;
    let (_, key, secret) = common::external::CEPH_READER;
    let r = driver(ceph.endpoint(), key, secret, &bucket);
    let report = r.inner().check_permissions_for(Scope::Pull).await;
    let text = report.to_string();
    println!("{text}");
    assert!(!report.all_granted());
    assert_eq!(outcome(&report, Action::ListBucket), &Outcome::Denied);
    assert_eq!(
        outcome(&report, Action::GetBucketLocation),
        &Outcome::Denied
    );
    let policies = report.policies();
    assert_eq!(policies.len(), 1, "{text}");
    assert!(policies[0].0.starts_with("pull"));
    let mut got = statements(&policies[0].2);
    got.sort();
    let mut want = vec![(
        format!("arn:aws:s3:::{bucket}"),
        strings(&["s3:ListBucket", "s3:GetBucketLocation"]),
    )];
    // Without ListBucket a missing key is answered 403 whatever GetObject says: RGW's
    // answer decides whether GetObject is reported missing or undecided.
    if outcome(&report, Action::GetObject) == &Outcome::Denied {
        want.push((
            format!("arn:aws:s3:::{bucket}/registry/*"),
            strings(&["s3:GetObject"]),
        ));
    }
    want.sort();
    assert_eq!(got, want, "{text}");
}

/// The pull-only check writes nothing: through a proxy that refuses every write, on s3s-fs.
#[tokio::test]
async fn pull_only_check_never_writes() {
    let server = common::S3sServer::start().await;
    server.create_bucket("readonly");
    let mut plan = FaultPlan::new();
    for method in ["PUT", "POST", "DELETE"] {
        plan = plan.rule(
            FaultRule::new(Fault::status(403, "AccessDenied", "Access Denied"))
                .method(method)
                .times(usize::MAX),
        );
    }
    let proxy = FaultProxy::start(server.addr(), plan).await;
    let d = driver(
        &proxy.endpoint(),
        server.access_key(),
        server.secret_key(),
        "readonly",
    );
    let report = d.inner().check_permissions_for(Scope::Pull).await;
    assert!(report.all_granted(), "{report}");
    assert_eq!(proxy.faults_injected(), 0, "{:?}", proxy.log());
    let full = d.inner().check_permissions_for(Scope::Full).await;
    assert_eq!(outcome(&full, Action::PutObject), &Outcome::Denied);
    assert!(proxy.faults_injected() > 0);
}
