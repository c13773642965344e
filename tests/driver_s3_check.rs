//! The bucket permission check (`s3driver check`) against signature-verifying servers, with
//! denials injected by the fault proxy where the server has no IAM.

mod common;

use std::sync::Arc;

use s3driver::client::credentials::StaticProvider;
use s3driver::driver::s3::{Action, Outcome};
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
    S3Driver::with_client_config(params, config, Arc::new(creds)).unwrap()
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
    assert!(text.contains("MISSING") && text.contains(&policy));
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
