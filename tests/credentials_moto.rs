//! Temporary credentials from a real STS implementation, used by the S3 driver against an S3
//! that verifies them: moto's server in its IAM authentication mode (see tests/common/moto.rs).
//!
//! What moto checks here: the SigV4 signature of every S3 request and of every AssumeRole
//! request (against the IAM user's secret or the temporary credentials' secret), that the
//! `x-amz-security-token` of temporary credentials is the one STS issued with them, the trust
//! policy of the role for AssumeRole, and the role's policy for each S3 action. What it does
//! not check: the web identity token (any token is accepted) and expiry of temporary
//! credentials.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use s3driver::client::credentials::{
    default_provider, AssumeRoleProvider, Credentials, Env, ProvideCredentials, StaticProvider,
    WebIdentityProvider,
};
use s3driver::driver::{Base, Parameters, S3Driver, S3Parameters, StorageDriver};

use common::moto::{moto_or_skip, Moto};

fn env(pairs: &[(&str, &str)]) -> Arc<dyn Env> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<String, String>>(),
    )
}

fn driver(moto: &Moto, bucket: &str, creds: Arc<dyn ProvideCredentials>) -> Base<S3Driver> {
    let params = S3Parameters::from_parameters(&Parameters::from_iter([
        ("region", "us-east-1"),
        ("regionendpoint", moto.endpoint.as_str()),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("rootdirectory", "/registry"),
    ]))
    .unwrap();
    let mut config =
        s3driver::client::ClientConfig::new(params.endpoint.clone(), params.bucket.clone());
    config.retry = s3driver::client::RetryConfig::disabled();
    s3driver::driver::Base::new(S3Driver::with_client_config(params, config, creds).unwrap())
}

/// put, get and list through the driver.
async fn put_get_list(d: &Base<S3Driver>, path: &str, content: &'static [u8]) {
    d.put_content(path, Bytes::from_static(content))
        .await
        .unwrap_or_else(|e| panic!("put {path}: {e}"));
    assert_eq!(&d.get_content(path).await.unwrap()[..], content);
    let dir = path.rsplit_once('/').unwrap().0;
    let listed = d.list(dir).await.unwrap();
    assert!(listed.contains(&path.to_owned()), "{listed:?}");
}

fn home_with_admin_profile(moto: &Moto, config: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!(
            "[admin]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            moto.admin.access_key, moto.admin.secret_key
        ),
    )
    .unwrap();
    std::fs::write(home.path().join(".aws/config"), config).unwrap();
    home
}

#[tokio::test]
async fn assume_role_profile_credentials_work_with_the_s3_driver() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let bucket = common::unique_bucket_name("moto-ar");
    moto.create_bucket(&bucket).await;
    let home = home_with_admin_profile(
        moto,
        &format!(
            "[profile registry]\nrole_arn = {}\nsource_profile = admin\nrole_session_name = registry-test\nduration_seconds = 900\nregion = us-east-1\n\
             [profile readonly]\nrole_arn = {}\nsource_profile = admin\n",
            moto.role_arn, moto.readonly_role_arn
        ),
    );
    let e = env(&[
        ("HOME", home.path().to_str().unwrap()),
        ("AWS_PROFILE", "registry"),
        ("AWS_ENDPOINT_URL_STS", &moto.endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let provider = Arc::new(default_provider(e));
    let c = provider.provide_credentials().await.unwrap();
    assert_eq!(c.provider(), "assume-role");
    assert!(
        c.access_key_id().starts_with("ASIA"),
        "{}",
        c.access_key_id()
    );
    assert!(c.session_token().is_some());
    let left = c
        .expires_at()
        .unwrap()
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(
        left.as_secs() <= 900 && left.as_secs() > 800,
        "DurationSeconds=900: {left:?}"
    );
    assert!(c.source().contains(&moto.role_arn), "{}", c.source());
    let d = driver(moto, &bucket, provider);
    put_get_list(
        &d,
        "/docker/registry/v2/blobs/sha256/ab/abcd/data",
        b"layer bytes",
    )
    .await;

    // The temporary credentials carry the role's policy: the read-only role reads and lists,
    // and may not write.
    let ro = driver(
        moto,
        &bucket,
        Arc::new(default_provider(env(&[
            ("HOME", home.path().to_str().unwrap()),
            ("AWS_PROFILE", "readonly"),
            ("AWS_ENDPOINT_URL_STS", &moto.endpoint),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]))),
    );
    assert_eq!(
        &ro.get_content("/docker/registry/v2/blobs/sha256/ab/abcd/data")
            .await
            .unwrap()[..],
        b"layer bytes"
    );
    let e = ro
        .put_content("/docker/registry/v2/x", Bytes::from_static(b"no"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("AccessDenied"), "{e}");
}

#[tokio::test]
async fn web_identity_credentials_work_with_the_s3_driver() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let bucket = common::unique_bucket_name("moto-wi");
    moto.create_bucket(&bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(
        &token_file,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZWdpc3RyeSJ9.c2ln\n",
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let e = env(&[
        ("AWS_ROLE_ARN", &moto.role_arn),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_SESSION_NAME", "irsa-test"),
        ("AWS_ENDPOINT_URL_STS", &moto.endpoint),
        ("HOME", home.path().to_str().unwrap()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let provider = Arc::new(default_provider(e.clone()));
    let c = provider.provide_credentials().await.unwrap();
    assert_eq!(c.provider(), "web-identity");
    assert!(c.access_key_id().starts_with("ASIA"));
    let d = driver(moto, &bucket, provider.clone());
    put_get_list(
        &d,
        "/repo/_manifests/tags/latest/current/link",
        b"sha256:1234",
    )
    .await;

    // A rotated token: new credentials, and they work too.
    std::fs::write(
        &token_file,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyb3RhdGVkIn0.c2ln",
    )
    .unwrap();
    provider.invalidate().await;
    let c2 = provider.provide_credentials().await.unwrap();
    assert_ne!(c2.access_key_id(), c.access_key_id());
    put_get_list(&d, "/repo/_manifests/tags/v2/current/link", b"sha256:5678").await;
}

/// A session token that is not the one STS issued, a missing token and a wrong secret are all
/// refused by S3.
#[tokio::test]
async fn wrong_session_token_or_secret_is_refused() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let bucket = common::unique_bucket_name("moto-bad");
    moto.create_bucket(&bucket).await;
    let source = StaticProvider::from_keys(
        moto.admin.access_key.clone(),
        moto.admin.secret_key.clone(),
        None,
    );
    let c = AssumeRoleProvider::new(
        source,
        moto.role_arn.clone(),
        env(&[("AWS_ENDPOINT_URL_STS", &moto.endpoint)]),
    )
    .provide_credentials()
    .await
    .unwrap();
    let with = |token: Option<&str>, secret: &str| {
        let creds = Credentials::new(
            c.access_key_id(),
            secret.to_owned(),
            token.map(Into::into),
            None,
        );
        driver(moto, &bucket, Arc::new(StaticProvider::new(creds)))
    };
    // The control: exactly these credentials work.
    put_get_list(
        &with(c.session_token(), c.secret()),
        "/ok/file",
        b"accepted",
    )
    .await;
    let wrong_token = format!("{}x", c.session_token().unwrap());
    for (token, secret, code) in [
        (Some(wrong_token.as_str()), c.secret(), "InvalidToken"),
        (None, c.secret(), "InvalidAccessKeyId"),
        (c.session_token(), "wrong-secret", "SignatureDoesNotMatch"),
    ] {
        let e = with(token, secret)
            .get_content("/ok/file")
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains(code), "{code}: {text}");
        assert!(!text.contains(c.secret()) && !text.contains(c.session_token().unwrap()));
    }
}

#[tokio::test]
async fn sts_refusals_from_moto_map_to_clear_errors() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let sts = env(&[("AWS_ENDPOINT_URL_STS", &moto.endpoint)]);
    // The role's trust policy does not name the caller.
    let e = AssumeRoleProvider::new(
        StaticProvider::from_keys(
            moto.admin.access_key.clone(),
            moto.admin.secret_key.clone(),
            None,
        ),
        moto.untrusted_role_arn.clone(),
        sts.clone(),
    )
    .provide_credentials()
    .await
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("AccessDenied") && text.contains("HTTP 403"),
        "{text}"
    );
    assert!(
        text.contains(&format!("trust policy of {}", moto.untrusted_role_arn)),
        "{text}"
    );
    let svc = e.credentials_service_error().unwrap();
    assert_eq!(
        (svc.status, svc.code.as_deref()),
        (403, Some("AccessDenied"))
    );
    assert!(!text.contains(&moto.admin.secret_key));

    // Our SigV4 signature is checked: a wrong secret is refused by STS.
    let e = AssumeRoleProvider::new(
        StaticProvider::from_keys(moto.admin.access_key.clone(), "not-the-secret", None),
        moto.role_arn.clone(),
        sts.clone(),
    )
    .provide_credentials()
    .await
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(
        text.contains("STS does not accept the source credentials"),
        "{text}"
    );
    // An unknown key.
    let e = AssumeRoleProvider::new(
        StaticProvider::from_keys("AKIAUNKNOWNUNKNOWN00", "x", None),
        moto.role_arn.clone(),
        sts.clone(),
    )
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(e.to_string().contains("InvalidClientTokenId"), "{e}");

    // Web identity with moto: works unsigned; an unreadable token file never reaches STS.
    let e = WebIdentityProvider::new(env(&[
        ("AWS_ROLE_ARN", &moto.role_arn),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"),
        ("AWS_ENDPOINT_URL_STS", &moto.endpoint),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot read the web identity token file"),
        "{e}"
    );
}

/// `s3driver check --config CONFIG` with HOME set and no AWS_* or REGISTRY_* variable of this
/// process.
#[cfg(feature = "server")]
fn check_command(config: &std::path::Path, home: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_s3driver"));
    cmd.arg("check")
        .arg("--config")
        .arg(config)
        .env("HOME", home);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("AWS_") || k.starts_with("REGISTRY_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// `s3driver check` with IRSA's environment: the credentials come from STS and the report
/// says so.
#[cfg(feature = "server")]
#[tokio::test]
async fn check_cli_prints_the_credential_source() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let bucket = common::unique_bucket_name("moto-check");
    moto.create_bucket(&bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(
        &token_file,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaGVjayJ9.c2ln",
    )
    .unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /checked\n",
            moto.endpoint
        ),
    )
    .unwrap();
    let out = check_command(&config, dir.path())
        .env("AWS_ROLE_ARN", &moto.role_arn)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .env("AWS_ROLE_SESSION_NAME", "check-cli")
        .env("AWS_ENDPOINT_URL_STS", &moto.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("credentials:"))
        .unwrap_or_else(|| panic!("no credentials line:\n{text}"));
    assert!(
        line.contains("web-identity") && line.contains(&moto.role_arn),
        "{line}"
    );
    assert!(line.contains(token_file.to_str().unwrap()), "{line}");
    // The probes ran with the STS credentials (moto verified each signature).
    for action in [
        "s3:ListBucket",
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(action) && l.trim_end().ends_with("granted")),
            "{action}: {text}"
        );
    }
    assert!(
        !text.contains("eyJzdWIiOiJjaGVjayJ9"),
        "the token must not be printed: {text}"
    );

    // Without any credentials the line says what failed.
    let out = check_command(&config, dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ROLE_ARN", &moto.role_arn)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", dir.path().join("missing"))
        .env("AWS_ENDPOINT_URL_STS", &moto.endpoint)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("credentials:"))
        .unwrap_or_else(|| panic!("no credentials line:\n{text}"));
    assert!(
        line.contains("cannot read the web identity token file"),
        "{line}"
    );
}
