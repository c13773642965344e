//! AssumeRole against Ceph RADOS Gateway's STS (`rgw s3 auth use sts`), and the S3 driver with
//! the temporary credentials it issues.
//!
//! The Ceph cluster is the one `.ci/ceph-rgw-start.sh` runs (`S3DRIVER_CEPH_ENDPOINT`, state
//! dir `S3DRIVER_CEPH_STATE`, default `/tmp/s3driver-ceph`). Its gateway has STS off, and
//! turning it on needs a restart, so these tests start a second gateway on the same cluster,
//! `client.rgw.sts`, with STS on, on a free port (once; later runs reuse it while it is alive).
//! Its pid file is `STATE/run/client.rgw.sts.pid`, so `.ci/ceph-rgw-stop.sh` stops it together
//! with the cluster. The roles live in the cluster (`radosgw-admin role create`):
//! `s3driver-registry` (s3:*, trusting the test user `ceph-test`) and `s3driver-untrusted`
//! (trusting a user that does not exist).
//!
//! RGW checks the SigV4 signature of AssumeRole and of every S3 request made with the
//! temporary credentials, and their session token.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use s3driver::client::credentials::{
    AssumeRoleProvider, Credentials, Env, ProvideCredentials, StaticProvider,
};
use s3driver::driver::{Base, Parameters, S3Driver, S3Parameters, StorageDriver};

const ROLE: &str = "s3driver-registry";
const UNTRUSTED_ROLE: &str = "s3driver-untrusted";
const NAME: &str = "client.rgw.sts";
/// RGW's STS key: exactly 16 bytes (AES-128). Test value.
const STS_KEY: &str = "s3drvTestStsKey1";

#[derive(Debug)]
struct StsGateway {
    endpoint: String,
    server: common::ExternalServer,
}

impl StsGateway {
    fn role_arn(&self, role: &str) -> String {
        format!("arn:aws:iam:::role/{role}")
    }
}

static GATEWAY: tokio::sync::OnceCell<Result<StsGateway, String>> =
    tokio::sync::OnceCell::const_new();

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn pid_alive(pid_file: &Path) -> bool {
    std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

async fn answers(endpoint: &str) -> bool {
    common::http_client()
        .get(format!("{endpoint}/"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn start_gateway(server: common::ExternalServer) -> Result<StsGateway, String> {
    let state = PathBuf::from(
        std::env::var("S3DRIVER_CEPH_STATE").unwrap_or_else(|_| "/tmp/s3driver-ceph".to_owned()),
    );
    let conf = state.join("ceph.conf");
    if !conf.exists() {
        return Err(format!(
            "{} does not exist (set S3DRIVER_CEPH_STATE to the state dir of .ci/ceph-rgw-start.sh)",
            conf.display()
        ));
    }
    let pid_file = state.join(format!("run/{NAME}.pid"));
    let port_file = state.join(format!("run/{NAME}.port"));
    let reuse = pid_alive(&pid_file)
        .then(|| std::fs::read_to_string(&port_file).ok())
        .flatten()
        .map(|p| format!("http://127.0.0.1:{}", p.trim()));
    let endpoint = match reuse {
        Some(ep) if answers(&ep).await => ep,
        _ => {
            let keyring = state.join(format!("{NAME}.keyring"));
            run(Command::new("ceph")
                .arg("-c")
                .arg(&conf)
                .args(["--connect-timeout", "15", "auth", "get-or-create", NAME])
                .args(["mon", "allow rw", "osd", "allow rwx", "-o"])
                .arg(&keyring))?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            // Daemonizes; pid, log and admin socket paths come from ceph.conf ($name).
            run(Command::new("radosgw")
                .arg("-c")
                .arg(&conf)
                .args(["-n", NAME, "--keyring"])
                .arg(&keyring)
                .arg(format!("--rgw-frontends=beast endpoint=127.0.0.1:{port}"))
                .args([
                    "--rgw-s3-auth-use-sts=true",
                    &format!("--rgw-sts-key={STS_KEY}"),
                ])
                .args(["--rgw-dns-name=localhost", "--rgw-crypt-require-ssl=false"]))?;
            std::fs::write(&port_file, port.to_string()).map_err(|e| e.to_string())?;
            let endpoint = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(60);
            while !answers(&endpoint).await {
                if Instant::now() > deadline {
                    return Err(format!(
                        "the STS gateway did not answer on {endpoint} within 60 s (log: {})",
                        state.join(format!("log/{NAME}.log")).display()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            endpoint
        }
    };
    let admin = |args: &[&str]| {
        run(Command::new("radosgw-admin")
            .arg("-c")
            .arg(&conf)
            .args(args))
    };
    for (role, principal) in [
        (ROLE, "arn:aws:iam:::user/ceph-test"),
        (UNTRUSTED_ROLE, "arn:aws:iam:::user/nobody"),
    ] {
        if admin(&["role", "get", &format!("--role-name={role}")]).is_err() {
            let trust = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": [principal]},
                               "Action": ["sts:AssumeRole"]}]
            });
            admin(&[
                "role",
                "create",
                &format!("--role-name={role}"),
                &format!("--assume-role-policy-doc={trust}"),
            ])?;
        }
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]
        });
        admin(&[
            "role-policy",
            "put",
            &format!("--role-name={role}"),
            "--policy-name=s3",
            &format!("--policy-doc={policy}"),
        ])?;
    }
    Ok(StsGateway { endpoint, server })
}

/// The STS gateway, or `None` when Ceph is not running (a failure when
/// `S3DRIVER_REQUIRE_CEPH=1`, or when Ceph runs but the gateway cannot be started).
async fn gateway_or_skip() -> Option<&'static StsGateway> {
    let server = common::ceph_or_skip()?;
    match GATEWAY.get_or_init(|| start_gateway(server)).await {
        Ok(g) => Some(g),
        Err(e) => panic!("Ceph runs but its STS gateway could not be set up: {e}"),
    }
}

fn env(pairs: &[(&str, &str)]) -> Arc<dyn Env> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<String, String>>(),
    )
}

fn driver(endpoint: &str, bucket: &str, creds: Arc<dyn ProvideCredentials>) -> Base<S3Driver> {
    let params = S3Parameters::from_parameters(&Parameters::from_iter([
        ("region", "us-east-1"),
        ("regionendpoint", endpoint),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("rootdirectory", "/sts"),
    ]))
    .unwrap();
    let mut config =
        s3driver::client::ClientConfig::new(params.endpoint.clone(), params.bucket.clone());
    config.retry = s3driver::client::RetryConfig::disabled();
    s3driver::driver::Base::new(S3Driver::with_client_config(params, config, creds).unwrap())
}

#[tokio::test]
async fn assume_role_on_ceph_rgw_and_the_driver_uses_the_credentials() {
    let Some(gw) = gateway_or_skip().await else {
        return;
    };
    let bucket = common::unique_bucket_name("ceph-sts");
    gw.server
        .target()
        .via(&gw.endpoint)
        .create_bucket(&bucket)
        .await;
    // A profile whose role takes its source credentials from the environment.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        format!(
            "[profile registry]\nrole_arn = {}\ncredential_source = Environment\nduration_seconds = 900\n",
            gw.role_arn(ROLE)
        ),
    )
    .unwrap();
    // The profile provider itself: in the default chain the environment keys would be taken
    // as they are, before any profile.
    let profile = s3driver::client::credentials::ProfileProvider::new(env(&[
        ("HOME", home.path().to_str().unwrap()),
        ("AWS_PROFILE", "registry"),
        ("AWS_ACCESS_KEY_ID", gw.server.access_key()),
        ("AWS_SECRET_ACCESS_KEY", gw.server.secret_key()),
        ("AWS_ENDPOINT_URL_STS", &gw.endpoint),
    ]));
    let c = profile.provide_credentials().await.unwrap();
    assert_eq!(c.provider(), "assume-role");
    assert_ne!(c.access_key_id(), gw.server.access_key());
    assert!(c.session_token().is_some());
    let left = c
        .expires_at()
        .unwrap()
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(
        left <= Duration::from_secs(900) && left > Duration::from_secs(800),
        "{left:?}"
    );
    assert!(c.source().contains("from environment"), "{}", c.source());

    let d = driver(
        &gw.endpoint,
        &bucket,
        Arc::new(s3driver::client::CachingProvider::new(profile)),
    );
    d.put_content("/repo/blob", Bytes::from_static(b"from ceph sts"))
        .await
        .unwrap();
    assert_eq!(
        &d.get_content("/repo/blob").await.unwrap()[..],
        b"from ceph sts"
    );
    assert_eq!(d.list("/repo").await.unwrap(), ["/repo/blob"]);

    // The credentials `c` exactly (the control), then with a session token that is not the
    // one issued with them: refused.
    let with_token = |token: String| {
        driver(
            &gw.endpoint,
            &bucket,
            Arc::new(StaticProvider::new(Credentials::new(
                c.access_key_id(),
                c.secret().to_owned(),
                Some(token.into()),
                None,
            ))),
        )
    };
    let token = c.session_token().unwrap();
    assert_eq!(
        &with_token(token.to_owned())
            .get_content("/repo/blob")
            .await
            .unwrap()[..],
        b"from ceph sts"
    );
    let wrong = format!("{}AAAA", &token[..token.len() - 4]);
    let e = with_token(wrong)
        .get_content("/repo/blob")
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("HTTP 403 AccessDenied"), "{text}");
    assert!(!text.contains(c.secret()));
}

#[tokio::test]
async fn ceph_sts_refusals_map_to_clear_errors() {
    let Some(gw) = gateway_or_skip().await else {
        return;
    };
    let sts = env(&[("AWS_ENDPOINT_URL_STS", &gw.endpoint)]);
    let source = || {
        StaticProvider::from_keys(
            gw.server.access_key().to_owned(),
            gw.server.secret_key().to_owned(),
            None,
        )
    };
    let e = AssumeRoleProvider::new(source(), gw.role_arn(UNTRUSTED_ROLE), sts.clone())
        .provide_credentials()
        .await
        .unwrap_err();
    let text = e.to_string();
    let svc = e
        .credentials_service_error()
        .unwrap_or_else(|| panic!("no STS answer kept: {text}"));
    assert_eq!(svc.status, 403, "{text}");
    assert_eq!(svc.code.as_deref(), Some("AccessDenied"), "{text}");
    assert!(
        text.contains("trust policy of arn:aws:iam:::role/s3driver-untrusted"),
        "{text}"
    );

    // Our SigV4 signature is checked by RGW's STS: a wrong secret is refused.
    let e = AssumeRoleProvider::new(
        StaticProvider::from_keys(gw.server.access_key().to_owned(), "wrong-secret", None),
        gw.role_arn(ROLE),
        sts,
    )
    .provide_credentials()
    .await
    .unwrap_err();
    let text = e.to_string();
    let svc = e
        .credentials_service_error()
        .unwrap_or_else(|| panic!("no STS answer kept: {text}"));
    assert_eq!(svc.status, 403, "{text}");
    // RGW answers a bad signature with AccessDenied (AWS and moto: SignatureDoesNotMatch).
    assert_eq!(svc.code.as_deref(), Some("AccessDenied"), "{text}");
    assert!(text.contains("the source secret key is right"), "{text}");
    assert!(
        !text.contains("wrong-secret") && !text.contains(gw.server.secret_key()),
        "{text}"
    );
}
