//! Credential providers against fake IMDSv2 and container-credentials servers on 127.0.0.1,
//! shared-file profiles in temp dirs, and an injected environment (no process env mutation).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use s3driver::client::credentials::{
    CachingProvider, Clock, ContainerProvider, Credentials, DefaultChain, Env, EnvironmentProvider,
    InstanceMetadataProvider, ProfileProvider, ProvideCredentials, StaticProvider,
};
use s3driver::client::ErrorKind;

mod common;
use common::fake_http::{serve_fake, serve_fake_keep_alive, FakeResponse, RequestLog};
use tokio::net::TcpListener;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION: &str = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN";
const IMDS_TOKEN: &str = "AQAEAFakeImdsSessionToken==";
const AUTH_TOKEN: &str = "Bearer-container-auth-token-123";

// ---------------------------------------------------------------------------------------------
// The fake endpoints answer through `common::fake_http`.

fn resp(status: u16, body: impl Into<String>) -> FakeResponse {
    FakeResponse::new(status, body)
}

fn env(pairs: &[(&str, &str)]) -> Arc<dyn Env> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<String, String>>(),
    )
}

fn creds_json(n: u32, expiration: &str) -> String {
    format!(
        r#"{{
  "Code" : "Success",
  "LastUpdated" : "2024-05-01T10:00:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAKEY{n}",
  "SecretAccessKey" : "{SECRET}",
  "Token" : "{SESSION}",
  "Expiration" : "{expiration}"
}}"#
    )
}

fn assert_no_secrets(text: &str) {
    for s in [SECRET, SESSION, IMDS_TOKEN, AUTH_TOKEN] {
        assert!(!text.contains(s), "secret leaked: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Fake IMDSv2.

struct Imds {
    addr: SocketAddr,
    log: RequestLog,
    issued: Arc<AtomicU32>,
    expiration: Arc<Mutex<String>>,
}

impl Imds {
    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// `role`: the role listed (None → 404, no instance profile). `v2`: token endpoint supported;
/// when false, PUT answers 405 and GETs need no token (IMDSv1 only).
async fn fake_imds(role: Option<&'static str>, v2: bool) -> Imds {
    let issued = Arc::new(AtomicU32::new(0));
    let expiration = Arc::new(Mutex::new("2099-01-01T00:00:00Z".to_owned()));
    let (i2, e2) = (issued.clone(), expiration.clone());
    let (addr, log) = serve_fake(move |req| {
        if req.path == "/latest/api/token" {
            if !v2 {
                return resp(405, "");
            }
            if req.method != "PUT" {
                return resp(405, "");
            }
            return match req.headers.get("x-aws-ec2-metadata-token-ttl-seconds") {
                Some(ttl) if ttl.parse::<u32>().is_ok_and(|t| (1..=21600).contains(&t)) => {
                    resp(200, IMDS_TOKEN)
                }
                _ => resp(400, "missing or invalid ttl"),
            };
        }
        if v2
            && req
                .headers
                .get("x-aws-ec2-metadata-token")
                .map(String::as_str)
                != Some(IMDS_TOKEN)
        {
            return resp(401, "");
        }
        let base = "/latest/meta-data/iam/security-credentials/";
        match (req.method.as_str(), req.path.strip_prefix(base), role) {
            ("GET", Some(""), Some(r)) => resp(200, format!("{r}\n")),
            ("GET", Some(""), None) => resp(404, ""),
            ("GET", Some(r), Some(role)) if r == role => {
                let n = i2.fetch_add(1, Ordering::SeqCst) + 1;
                resp(200, creds_json(n, &e2.lock().unwrap()))
            }
            _ => resp(404, ""),
        }
    })
    .await;
    Imds {
        addr,
        log,
        issued,
        expiration,
    }
}

#[tokio::test]
async fn imds_token_flow_role_discovery_and_parse() {
    let imds = fake_imds(Some("my-instance-role"), true).await;
    let p = InstanceMetadataProvider::new(env(&[])).with_endpoint(imds.endpoint());
    let c = p.provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "ASIAKEY1");
    assert_eq!(c.secret(), SECRET);
    assert_eq!(c.session_token(), Some(SESSION));
    assert_eq!(c.provider(), "imds");
    assert_eq!(
        c.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(4_070_908_800))
    );
    let log = imds.log.lock().unwrap().clone();
    let calls: Vec<_> = log
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/meta-data/iam/security-credentials/"),
            (
                "GET",
                "/latest/meta-data/iam/security-credentials/my-instance-role"
            ),
        ]
    );
    assert_eq!(
        log[0].headers["x-aws-ec2-metadata-token-ttl-seconds"],
        "21600"
    );
    for r in &log[1..] {
        assert_eq!(r.headers["x-aws-ec2-metadata-token"], IMDS_TOKEN);
    }
    assert_no_secrets(&format!("{c:?} {p:?}"));
}

#[tokio::test]
async fn imds_endpoint_from_environment() {
    let imds = fake_imds(Some("r"), true).await;
    let p = InstanceMetadataProvider::new(env(&[(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        &format!("{}/", imds.endpoint()),
    )]));
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAKEY1"
    );
}

#[tokio::test]
async fn imds_fake_requires_token() {
    // The fake enforces IMDSv2: a GET without the token header is 401.
    let imds = fake_imds(Some("r"), true).await;
    let status = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!(
            "{}/latest/meta-data/iam/security-credentials/",
            imds.endpoint()
        ))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn imds_no_role_is_not_loaded() {
    let imds = fake_imds(None, true).await;
    let e = InstanceMetadataProvider::new(env(&[]))
        .with_endpoint(imds.endpoint())
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.is_credentials_not_loaded(), "{e}");
    assert!(e.to_string().contains("no IAM role"), "{e}");
}

#[tokio::test]
async fn imds_v1_only_needs_explicit_fallback() {
    let imds = fake_imds(Some("legacy-role"), false).await;
    let e = InstanceMetadataProvider::new(env(&[]))
        .with_endpoint(imds.endpoint())
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(!e.is_credentials_not_loaded());
    assert!(e.to_string().contains("405"), "{e}");
    let c = InstanceMetadataProvider::new(env(&[]))
        .with_endpoint(imds.endpoint())
        .with_imdsv1_fallback(true)
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(c.access_key_id(), "ASIAKEY1");
    let log = imds.log.lock().unwrap();
    assert!(log
        .iter()
        .filter(|r| r.method == "GET")
        .all(|r| !r.headers.contains_key("x-aws-ec2-metadata-token")));
}

#[tokio::test]
async fn imds_rejected_token_is_an_error() {
    // Token endpoint works but hands out a token the metadata paths reject.
    let (addr, _log) = serve_fake(|req| {
        if req.path == "/latest/api/token" {
            resp(200, "some-other-token")
        } else {
            resp(401, "")
        }
    })
    .await;
    let e = InstanceMetadataProvider::new(env(&[]))
        .with_endpoint(format!("http://{addr}"))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");
    assert!(!e.to_string().contains("some-other-token"));
}

#[tokio::test]
async fn imds_disabled_makes_no_request() {
    let imds = fake_imds(Some("r"), true).await;
    let e = InstanceMetadataProvider::new(env(&[("AWS_EC2_METADATA_DISABLED", "TRUE")]))
        .with_endpoint(imds.endpoint())
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.is_credentials_not_loaded());
    assert!(imds.log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn imds_closed_port_fails_fast() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let start = Instant::now();
    let e = InstanceMetadataProvider::new(env(&[]))
        .with_endpoint(format!("http://{addr}"))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(e.is_credentials_not_loaded(), "{e}");
    assert!(e.to_string().contains("not running on EC2"), "{e}");
}

#[tokio::test]
async fn imds_silent_listener_times_out_fast() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s); // accept, never answer
        }
    });
    let start = Instant::now();
    let e = InstanceMetadataProvider::new(env(&[(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        &format!("http://{addr}"),
    )]))
    .provide_credentials()
    .await
    .unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "should have waited for the timeout: {took:?}"
    );
    assert!(e.is_credentials_not_loaded(), "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
}

#[derive(Debug)]
struct FakeClock(AtomicU64);
impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

#[tokio::test]
async fn caching_provider_refreshes_imds_credentials_before_expiry() {
    let imds = fake_imds(Some("role"), true).await;
    // Credentials expire at 2024-05-01T16:00:00Z = 1_714_579_200.
    let expiry = 1_714_579_200u64;
    *imds.expiration.lock().unwrap() = "2024-05-01T16:00:00Z".into();
    let clock = Arc::new(FakeClock(AtomicU64::new(expiry - 3600)));
    let p = CachingProvider::new(
        InstanceMetadataProvider::new(env(&[])).with_endpoint(imds.endpoint()),
    )
    .with_clock(clock.clone());
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAKEY1"
    );
    clock.0.store(expiry - 301, Ordering::SeqCst);
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAKEY1"
    );
    assert_eq!(imds.issued.load(Ordering::SeqCst), 1);
    // Within 5 minutes of expiry: refreshed. The server now issues later-expiring credentials.
    *imds.expiration.lock().unwrap() = "2024-05-01T22:00:00Z".into();
    clock.0.store(expiry - 299, Ordering::SeqCst);
    let c = p.provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "ASIAKEY2");
    assert_eq!(
        c.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(expiry + 6 * 3600))
    );
    clock.0.store(expiry + 60, Ordering::SeqCst);
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAKEY2"
    );
    assert_eq!(imds.issued.load(Ordering::SeqCst), 2);
    assert_no_secrets(&format!("{p:?}"));
}

// ---------------------------------------------------------------------------------------------
// Container credentials.

async fn fake_container(expected_auth: Option<&'static str>) -> (SocketAddr, RequestLog) {
    let issued = AtomicU32::new(0);
    serve_fake(move |req| {
        if req.path != "/v2/credentials/task-uuid" && req.path != "/creds" {
            return resp(404, r#"{"code":"NotFound","message":"no such path"}"#);
        }
        if let Some(want) = expected_auth {
            if req.headers.get("authorization").map(String::as_str) != Some(want) {
                return resp(401, r#"{"code":"AccessDenied","message":"bad token"}"#);
            }
        }
        let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
        resp(200, creds_json(n, "2099-01-01T00:00:00Z"))
    })
    .await
}

#[tokio::test]
async fn container_relative_uri_with_auth_token() {
    let (addr, log) = fake_container(Some(AUTH_TOKEN)).await;
    let p = ContainerProvider::new(env(&[
        (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/task-uuid",
        ),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://10.1.1.1/ignored",
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN),
    ]))
    .with_relative_base(format!("http://{addr}"));
    let c = p.provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "ASIAKEY1");
    assert_eq!(c.session_token(), Some(SESSION));
    assert_eq!(c.provider(), "container");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/v2/credentials/task-uuid");
    assert_no_secrets(&format!("{c:?} {p:?}"));
}

#[tokio::test]
async fn container_full_uri_with_token_file_reread_each_time() {
    let (addr, log) = fake_container(None).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, "first-token\n").unwrap();
    let p = ContainerProvider::new(env(&[
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("http://127.0.0.1:{}/creds", addr.port()),
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-file-set"),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
    ]));
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAKEY1"
    );
    std::fs::write(&token_file, "rotated-token").unwrap();
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAKEY2"
    );
    let log = log.lock().unwrap();
    assert_eq!(log[0].headers["authorization"], "first-token");
    assert_eq!(log[1].headers["authorization"], "rotated-token");
}

#[tokio::test]
async fn container_wrong_token_and_bad_uris() {
    let (addr, _log) = fake_container(Some(AUTH_TOKEN)).await;
    let e = ContainerProvider::new(env(&[
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("http://localhost:{}/creds", addr.port()),
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token"),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(!e.is_credentials_not_loaded());
    let msg = e.to_string();
    assert!(
        msg.contains("401") && msg.contains("AUTHORIZATION_TOKEN"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-token"), "{msg}");

    // Plain http to a non-loopback host is refused before any request is made.
    let e = ContainerProvider::new(env(&[(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://192.0.2.10/creds",
    )]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(!e.is_credentials_not_loaded());
    assert!(e.to_string().contains("https"), "{e}");

    // Missing token file, and a token with a newline inside.
    let e = ContainerProvider::new(env(&[
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("http://127.0.0.1:{}/creds", addr.port()),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "/nonexistent/token",
        ),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("tok");
    std::fs::write(&f, "line1\nline2").unwrap();
    let e = ContainerProvider::new(env(&[
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("http://127.0.0.1:{}/creds", addr.port()),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            f.to_str().unwrap(),
        ),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(e.to_string().contains("control characters"), "{e}");

    // Nothing configured: not loaded.
    let e = ContainerProvider::new(env(&[]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.is_credentials_not_loaded());

    // Unreachable endpoint: an error that names it, quickly.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let start = Instant::now();
    let e = ContainerProvider::new(env(&[(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        &format!("http://127.0.0.1:{port}/creds"),
    )]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(e.to_string().contains("did not answer"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Shared credentials / config files.

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(credentials: Option<&str>, config: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        if let Some(c) = credentials {
            std::fs::write(dir.path().join(".aws/credentials"), c).unwrap();
        }
        if let Some(c) = config {
            std::fs::write(dir.path().join(".aws/config"), c).unwrap();
        }
        Self { dir }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

const CREDENTIALS_FILE: &str = "\
# managed by hand
[default]
aws_access_key_id = DEFAULTKEY
aws_secret_access_key = defaultsecret ; trailing comment

[prod]
AWS_ACCESS_KEY_ID=PRODKEY
aws_secret_access_key=prodsecret
aws_session_token = prodtoken
";

const CONFIG_FILE: &str = "\
[default]
region = us-east-1
[profile fromconfig]
aws_access_key_id = CONFIGKEY
aws_secret_access_key = configsecret
[profile prod]
aws_access_key_id = SHADOWED
region = eu-west-1
[profile assumer]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default
[profile regiononly]
region = eu-west-1
";

#[tokio::test]
async fn profile_default_and_named() {
    let home = Home::new(Some(CREDENTIALS_FILE), Some(CONFIG_FILE));
    let c = ProfileProvider::new(env(&[("HOME", home.path())]))
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(
        (c.access_key_id(), c.secret()),
        ("DEFAULTKEY", "defaultsecret")
    );
    assert_eq!(c.session_token(), None);
    assert_eq!(c.provider(), "profile");

    let c = ProfileProvider::new(env(&[("HOME", home.path()), ("AWS_PROFILE", "prod")]))
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(
        c.access_key_id(),
        "PRODKEY",
        "credentials file wins over config"
    );
    assert_eq!(c.session_token(), Some("prodtoken"));

    let c = ProfileProvider::new(env(&[
        ("HOME", home.path()),
        ("AWS_DEFAULT_PROFILE", "fromconfig"),
    ]))
    .provide_credentials()
    .await
    .unwrap();
    assert_eq!(
        (c.access_key_id(), c.secret()),
        ("CONFIGKEY", "configsecret")
    );

    let c = ProfileProvider::new(env(&[("HOME", home.path()), ("AWS_PROFILE", "prod")]))
        .with_profile("fromconfig")
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(c.access_key_id(), "CONFIGKEY");
}

#[tokio::test]
async fn profile_file_locations_from_env() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("my-creds");
    let config = dir.path().join("my-config");
    std::fs::write(
        &creds,
        "[ci]\naws_access_key_id=CIKEY\naws_secret_access_key=cisecret\n",
    )
    .unwrap();
    std::fs::write(
        &config,
        "[profile other]\naws_access_key_id=O\naws_secret_access_key=o\n",
    )
    .unwrap();
    let e = env(&[
        ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_PROFILE", "ci"),
    ]);
    let c = ProfileProvider::new(e).provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "CIKEY");
    // `~/` in the path is expanded with HOME.
    let home = Home::new(None, None);
    std::fs::write(
        home.dir.path().join("c"),
        "[default]\naws_access_key_id=T\naws_secret_access_key=t\n",
    )
    .unwrap();
    let c = ProfileProvider::new(env(&[
        ("HOME", home.path()),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/c"),
    ]))
    .provide_credentials()
    .await
    .unwrap();
    assert_eq!(c.access_key_id(), "T");
}

#[tokio::test]
async fn profile_missing_and_unsupported() {
    let home = Home::new(Some(CREDENTIALS_FILE), Some(CONFIG_FILE));
    // Explicit profile that does not exist: an error, not a silent fall-through.
    let e = ProfileProvider::new(env(&[("HOME", home.path()), ("AWS_PROFILE", "nope")]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(!e.is_credentials_not_loaded());
    assert!(e.to_string().contains("\"nope\" not found"), "{e}");
    // A role_arn profile calls STS (here: a closed port on 127.0.0.1; tests/credentials_sts.rs
    // has the real flows) and says which role and endpoint failed.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sts = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = ProfileProvider::new(env(&[
        ("HOME", home.path()),
        ("AWS_PROFILE", "assumer"),
        ("AWS_ENDPOINT_URL_STS", &sts),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("AssumeRole of arn:aws:iam::123456789012:role/x") && msg.contains(&sts),
        "{msg}"
    );
    assert!(msg.contains("could not connect"), "{msg}");
    assert!(!msg.contains("defaultsecret"), "{msg}");
    // A profile with only settings: nothing to load.
    let e = ProfileProvider::new(env(&[("HOME", home.path()), ("AWS_PROFILE", "regiononly")]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.is_credentials_not_loaded(), "{e}");
    // No files at all, or no home: not loaded.
    let empty = Home::new(None, None);
    let e = ProfileProvider::new(env(&[("HOME", empty.path())]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.is_credentials_not_loaded(), "{e}");
    let e = ProfileProvider::new(env(&[]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.is_credentials_not_loaded(), "{e}");
    // Half a key pair is broken configuration.
    let half = Home::new(Some("[default]\naws_access_key_id = ONLYID\n"), None);
    let e = ProfileProvider::new(env(&[("HOME", half.path())]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(!e.is_credentials_not_loaded());
    assert!(e.to_string().contains("no aws_secret_access_key"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Environment and the chain.

#[tokio::test]
async fn environment_provider_reads_injected_env() {
    let c = EnvironmentProvider::new(env(&[
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", SESSION),
    ]))
    .provide_credentials()
    .await
    .unwrap();
    assert_eq!(
        (c.access_key_id(), c.secret(), c.session_token()),
        ("ENVKEY", SECRET, Some(SESSION))
    );
    assert_no_secrets(&format!("{c:?}"));
}

/// Every source configured, each with a distinct key; removing sources one by one shows the order.
#[tokio::test]
async fn default_chain_ordering() {
    let imds = fake_imds(Some("role"), true).await;
    let (container, _log) = fake_container(None).await;
    let home = Home::new(Some(CREDENTIALS_FILE), None);
    let imds_ep = imds.endpoint();
    let container_uri = format!("http://127.0.0.1:{}/creds", container.port());
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ("HOME", home.path()),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", container_uri.as_str()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_ep.as_str()),
    ];
    let key = |vars: &[(&str, &str)]| {
        let chain = DefaultChain::new(env(vars));
        async move {
            let c = chain.provide_credentials().await.unwrap();
            (c.access_key_id().to_owned(), c.provider())
        }
    };
    assert_eq!(key(&vars).await, ("ENVKEY".into(), "environment"));
    vars.drain(0..2);
    assert_eq!(key(&vars).await, ("DEFAULTKEY".into(), "profile"));
    vars.remove(0);
    assert_eq!(key(&vars).await, ("ASIAKEY1".into(), "container"));
    vars.remove(0);
    assert_eq!(key(&vars).await, ("ASIAKEY1".into(), "imds"));
}

#[tokio::test]
async fn default_chain_nothing_found_lists_every_source() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let home = Home::new(None, None);
    let start = Instant::now();
    let e = DefaultChain::new(env(&[
        ("HOME", home.path()),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            &format!("http://{addr}"),
        ),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(e.is_credentials_not_loaded());
    let msg = e.to_string();
    for part in [
        "environment:",
        "web-identity:",
        "profile:",
        "container:",
        "imds:",
        "AWS_ACCESS_KEY_ID",
        "accesskey",
    ] {
        assert!(msg.contains(part), "{part} missing in {msg}");
    }
}

#[tokio::test]
async fn default_chain_stops_at_broken_source() {
    let imds = fake_imds(Some("role"), true).await;
    let e = DefaultChain::new(env(&[
        ("AWS_ACCESS_KEY_ID", "ONLYID"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.endpoint()),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Credentials {
                provider: "environment",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        imds.log.lock().unwrap().is_empty(),
        "later providers must not run"
    );
}

#[tokio::test]
async fn custom_chain_and_static_provider() {
    let chain = DefaultChain::with_providers(vec![
        Box::new(EnvironmentProvider::new(env(&[]))),
        Box::new(StaticProvider::from_keys(
            "STATICKEY",
            SECRET,
            Some(SESSION.into()),
        )),
        Box::new(StaticProvider::from_keys("NEVER", "x", None)),
    ]);
    let c = chain.provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "STATICKEY");
    assert_eq!(c.session_token(), Some(SESSION));
    assert_no_secrets(&format!("{c:?} {chain:?}"));
}

#[tokio::test]
async fn debug_output_never_contains_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("t");
    std::fs::write(&token_file, AUTH_TOKEN).unwrap();
    let e = env(&[
        ("AWS_ACCESS_KEY_ID", "K"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", SESSION),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
    ]);
    let chain = DefaultChain::new(e.clone());
    let caching = s3driver::client::credentials::default_provider(e.clone());
    let c = caching.provide_credentials().await.unwrap();
    assert_eq!(c.secret(), SECRET);
    let manual = Credentials::new("K", SECRET, Some(SESSION.into()), None);
    let all = format!(
        "{chain:?} {chain:#?} {caching:?} {c:?} {c:#?} {manual:?} {:?} {:?} {:?}",
        EnvironmentProvider::new(e.clone()),
        ContainerProvider::new(e.clone()),
        InstanceMetadataProvider::new(e),
    );
    assert_no_secrets(&all);
    assert!(all.contains("***"));
}

// ---------------------------------------------------------------------------------------------
// Connection reuse across fetches.

/// Two refreshes through the default chain share one HTTP client, so the second one reuses
/// the connection the first one opened. Two providers of their own open one each, which shows
/// the server tells the cases apart (a client built per fetch opened two connections).
#[tokio::test]
async fn refreshes_reuse_the_providers_connection() {
    let (addr, accepted, log) =
        serve_fake_keep_alive(|_| resp(200, creds_json(1, "2099-01-01T00:00:00Z"))).await;
    let home = Home::new(None, None);
    let uri = format!("http://{addr}/creds");
    let vars = [
        ("HOME", home.path()),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
    ];

    // Refreshes are minutes apart: a pause gives the client the moment it takes to put the
    // finished connection back in its pool (it does so on a task of its own).
    let pause = || tokio::time::sleep(Duration::from_millis(50));
    let chain = DefaultChain::new(env(&vars));
    for _ in 0..2 {
        let c = chain.provide_credentials().await.unwrap();
        assert_eq!(c.provider(), "container");
        pause().await;
    }
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the chain opened a second connection"
    );

    for _ in 0..2 {
        let c = ContainerProvider::new(env(&vars))
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(c.provider(), "container");
    }
    assert_eq!(log.lock().unwrap().len(), 4);
    assert_eq!(accepted.load(Ordering::SeqCst), 3);

    // IMDS: token, role list and role on one connection, the next refresh too.
    let (addr, accepted, log) = serve_fake_keep_alive(|req| match req.path.as_str() {
        "/latest/api/token" => resp(200, IMDS_TOKEN),
        "/latest/meta-data/iam/security-credentials/" => resp(200, "role"),
        "/latest/meta-data/iam/security-credentials/role" => {
            resp(200, creds_json(1, "2099-01-01T00:00:00Z"))
        }
        _ => resp(404, ""),
    })
    .await;
    let p = InstanceMetadataProvider::new(env(&[])).with_endpoint(format!("http://{addr}"));
    for _ in 0..2 {
        assert_eq!(p.provide_credentials().await.unwrap().provider(), "imds");
        pause().await;
    }
    assert_eq!(log.lock().unwrap().len(), 6);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "IMDS opened a second connection"
    );
}
