//! The credential sources of issue 15 against fake servers on 127.0.0.1 (STS, the SSO
//! portal, IMDS, container credentials) and programs and files written by the tests: web
//! identity, AssumeRole profile chains, credential_process, the SSO token cache, STS error
//! mapping, and the caching provider in front of them. tests/credentials_moto.rs runs the same
//! providers against moto's STS and S3 (signatures verified).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{serve_fake, FakeRequest, FakeResponse, RequestLog};
use s3driver::client::credentials::{
    default_provider, AssumeRoleProvider, CachingProvider, Clock, DefaultChain, Env,
    ProcessProvider, ProfileProvider, ProvideCredentials, StaticProvider, WebIdentityProvider,
    WebIdentitySettings,
};
use s3driver::client::ErrorKind;

const WEB_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IkVYQU1QTEUifQ.eyJzdWIiOiJzeXN0ZW0ifQ.SIGNATURE1";
const WEB_TOKEN_2: &str =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IkVYQU1QTEUifQ.eyJzdWIiOiJyb3RhdGVkIn0.SIGNATURE2";
const BASE_SECRET: &str = "baseSecretKeyEXAMPLE0123456789abcdefghij";
const SSO_TOKEN: &str = "aoaAAAAAGSsoAccessTokenEXAMPLE";
const ROLE: &str = "arn:aws:iam::123456789012:role/registry";

fn env(pairs: &[(&str, &str)]) -> Arc<dyn Env> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<String, String>>(),
    )
}

fn iso(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    s3driver::xml::Timestamp::from_unix(i64::try_from(secs).unwrap(), 0).raw
}

fn in_an_hour() -> String {
    iso(SystemTime::now() + Duration::from_secs(3600))
}

/// The session token STS hands out with access key `akid`.
fn token_of(akid: &str) -> String {
    format!("FwoGZXIvYXdzSESSION{akid}")
}

/// The secret STS hands out with access key `akid`.
fn secret_of(akid: &str) -> String {
    format!("tempSecret{akid}")
}

/// A successful STS answer for `op` (`AssumeRole` or `AssumeRoleWithWebIdentity`).
fn sts_ok(op: &str, akid: &str, expiration: &str) -> FakeResponse {
    FakeResponse::new(
        200,
        format!(
            "<{op}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{op}Result>\
             <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/x/y</Arn>\
             <AssumedRoleId>AROA:y</AssumedRoleId></AssumedRoleUser>\
             <Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
             <SessionToken>{}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
             </{op}Result><ResponseMetadata><RequestId>req-ok</RequestId></ResponseMetadata>\
             </{op}Response>",
            secret_of(akid),
            token_of(akid)
        ),
    )
    .header("content-type", "text/xml")
}

/// An STS error answer in AWS's format.
fn sts_error(status: u16, code: &str, message: &str, request_id: &str) -> FakeResponse {
    FakeResponse::new(
        status,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>{request_id}</RequestId></ErrorResponse>"
        ),
    )
    .header("content-type", "text/xml")
}

/// The access key id in a SigV4 `Authorization` header, and its scope's region and service.
fn signed_by(req: &FakeRequest) -> Option<(String, String, String)> {
    let auth = req.header("authorization")?;
    let cred = auth.split("Credential=").nth(1)?.split(',').next()?;
    let parts: Vec<&str> = cred.split('/').collect();
    Some((
        parts[0].to_owned(),
        parts[2].to_owned(),
        parts[3].to_owned(),
    ))
}

/// A fake STS: `AssumeRoleWithWebIdentity` issues `ASIAWEB<n>`; `AssumeRole` issues
/// `ASIA<ROLE NAME><n>` and requires a SigV4 header (401-like error otherwise).
async fn fake_sts(expiration: Arc<Mutex<String>>) -> (String, RequestLog) {
    let n = AtomicU32::new(0);
    let (addr, log) = serve_fake(move |req| {
        let form = req.form();
        let exp = expiration.lock().unwrap().clone();
        let k = n.fetch_add(1, Ordering::SeqCst) + 1;
        match form.get("Action").map(String::as_str) {
            Some("AssumeRoleWithWebIdentity") => {
                sts_ok("AssumeRoleWithWebIdentity", &format!("ASIAWEB{k}"), &exp)
            }
            Some("AssumeRole") => {
                if signed_by(req).is_none() {
                    return sts_error(403, "MissingAuthenticationToken", "no auth", "r");
                }
                let role = form["RoleArn"].rsplit('/').next().unwrap().to_uppercase();
                sts_ok("AssumeRole", &format!("ASIA{role}{k}"), &exp)
            }
            _ => sts_error(400, "InvalidAction", "unknown action", "r"),
        }
    })
    .await;
    (format!("http://{addr}"), log)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 1. Web identity.

#[tokio::test]
async fn web_identity_from_environment_is_unsigned_and_rereads_the_token_file() {
    let (sts, log) = fake_sts(Arc::new(Mutex::new(in_an_hour()))).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write(&token_file, &format!("{WEB_TOKEN}\n"));
    let e = env(&[
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_SESSION_NAME", "registry-pod"),
        ("AWS_ENDPOINT_URL_STS", &sts),
    ]);
    let p = WebIdentityProvider::new(e);
    let c = p.provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "ASIAWEB1");
    assert_eq!(c.secret(), secret_of("ASIAWEB1"));
    assert_eq!(c.session_token(), Some(token_of("ASIAWEB1").as_str()));
    assert_eq!(c.provider(), "web-identity");
    let exp = c
        .expires_at()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(exp > Duration::from_secs(3500), "{exp:?}");
    let source = c.source();
    assert!(
        source.contains(ROLE) && source.contains(token_file.to_str().unwrap()),
        "{source}"
    );
    assert!(!source.contains(WEB_TOKEN) && !format!("{c:?}{p:?}").contains(WEB_TOKEN));

    // Kubernetes rotates the token: the next call reads the file again.
    write(&token_file, WEB_TOKEN_2);
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAWEB2"
    );

    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    for (req, token) in log.iter().zip([WEB_TOKEN, WEB_TOKEN_2]) {
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/"));
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded; charset=utf-8")
        );
        assert!(
            req.header("authorization").is_none(),
            "AssumeRoleWithWebIdentity is unsigned"
        );
        assert!(req.header("x-amz-security-token").is_none());
        let form = req.form();
        assert_eq!(form["Action"], "AssumeRoleWithWebIdentity");
        assert_eq!(form["Version"], "2011-06-15");
        assert_eq!(form["RoleArn"], ROLE);
        assert_eq!(form["RoleSessionName"], "registry-pod");
        assert_eq!(form["WebIdentityToken"], token);
        assert!(!form.contains_key("DurationSeconds"));
    }
}

/// Settings built by code outside the crate (`WebIdentitySettings` is `#[non_exhaustive]`):
/// the constructor and setters reach STS with exactly those values.
#[tokio::test]
async fn web_identity_from_explicit_settings() {
    let (sts, log) = fake_sts(Arc::new(Mutex::new(in_an_hour()))).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write(&token_file, WEB_TOKEN);
    let settings = WebIdentitySettings::new(ROLE, &token_file)
        .with_session_name("explicit")
        .with_duration_seconds(900);
    let p = WebIdentityProvider::with_settings(env(&[("AWS_ENDPOINT_URL_STS", &sts)]), settings);
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAWEB1"
    );
    let log = log.lock().unwrap().clone();
    let form = log[0].form();
    assert_eq!(form["RoleArn"], ROLE);
    assert_eq!(form["RoleSessionName"], "explicit");
    assert_eq!(form["DurationSeconds"], "900");
    assert_eq!(form["WebIdentityToken"], WEB_TOKEN);

    // A missing token file names the setting it came from.
    let missing = WebIdentitySettings::new(ROLE, dir.path().join("absent"));
    let e = WebIdentityProvider::with_settings(env(&[("AWS_ENDPOINT_URL_STS", &sts)]), missing)
        .provide_credentials()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("absent"), "{e}");
}

#[derive(Debug)]
struct FakeClock(AtomicU64);
impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

/// The default chain finds IRSA's variables; the cache refreshes 5 minutes before expiry and
/// the refresh reads the rotated token.
#[tokio::test]
async fn web_identity_in_the_cached_default_chain_refreshes_ahead_of_expiry() {
    let expiry = 1_900_000_000u64;
    let expiration = Arc::new(Mutex::new(iso(UNIX_EPOCH + Duration::from_secs(expiry))));
    let (sts, log) = fake_sts(expiration.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write(&token_file, WEB_TOKEN);
    let home = tempfile::tempdir().unwrap();
    let e = env(&[
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ENDPOINT_URL_STS", &sts),
        ("HOME", home.path().to_str().unwrap()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let clock = Arc::new(FakeClock(AtomicU64::new(expiry - 3600)));
    let p = CachingProvider::new(DefaultChain::new(e)).with_clock(clock.clone());
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAWEB1"
    );
    clock.0.store(expiry - 301, Ordering::SeqCst);
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAWEB1"
    );
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "cached until 5 minutes before expiry"
    );
    write(&token_file, WEB_TOKEN_2);
    *expiration.lock().unwrap() = iso(UNIX_EPOCH + Duration::from_secs(expiry + 3600));
    clock.0.store(expiry - 299, Ordering::SeqCst);
    let c = p.provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "ASIAWEB2");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].form()["WebIdentityToken"], WEB_TOKEN_2);
    assert!(log[1].form()["RoleSessionName"].starts_with("s3driver-"));
}

/// 16 concurrent callers while STS takes 300 ms: one STS request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_refresh_is_single_flight() {
    let (addr, log) = serve_fake(|_| {
        sts_ok("AssumeRoleWithWebIdentity", "ASIAONCE", &in_an_hour())
            .delayed(Duration::from_millis(300))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write(&token_file, WEB_TOKEN);
    let e = env(&[
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ENDPOINT_URL_STS", &format!("http://{addr}")),
    ]);
    let p = Arc::new(default_provider(e));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.provide_credentials().await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().access_key_id(), "ASIAONCE");
    }
    assert_eq!(log.lock().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 5/6. STS errors.

async fn web_identity_error(resp: FakeResponse) -> (s3driver::client::Error, usize) {
    let (addr, log) = serve_fake(move |_| resp.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write(&token_file, WEB_TOKEN);
    let e = WebIdentityProvider::new(env(&[
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ENDPOINT_URL_STS", &format!("http://{addr}")),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    let n = log.lock().unwrap().len();
    (e, n)
}

#[tokio::test]
async fn sts_error_responses_map_to_clear_errors() {
    let cases = [
        (
            sts_error(
                400,
                "ExpiredTokenException",
                // STS quotes nothing secret, but a server that echoes the token must not leak it.
                &format!("Token expired: current date/time 1700000000 ({WEB_TOKEN})"),
                "req-expired",
            ),
            "ExpiredTokenException",
            400,
            "token file is read again",
            "req-expired",
        ),
        (
            sts_error(
                403,
                "AccessDenied",
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                "req-denied",
            ),
            "AccessDenied",
            403,
            "trust policy of arn:aws:iam::123456789012:role/registry",
            "req-denied",
        ),
        (
            sts_error(
                400,
                "InvalidIdentityToken",
                "Couldn't retrieve verification key from your identity provider",
                "req-invalid",
            ),
            "InvalidIdentityToken",
            400,
            "identity provider (its issuer URL) is registered in IAM",
            "req-invalid",
        ),
    ];
    for (resp, code, status, hint, request_id) in cases {
        let (e, requests) = web_identity_error(resp).await;
        assert_eq!(requests, 1, "{code}: not retried");
        assert!(!e.is_credentials_not_loaded());
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Credentials {
                    provider: "web-identity",
                    ..
                }
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.contains(hint), "{code}: {text}");
        assert!(
            text.contains(code) && text.contains(&format!("HTTP {status}")),
            "{text}"
        );
        assert!(
            text.contains("AssumeRoleWithWebIdentity of arn:aws:iam::123456789012:role/registry"),
            "{text}"
        );
        assert!(
            !text.contains(WEB_TOKEN) && !format!("{e:?}").contains(WEB_TOKEN),
            "{text}"
        );
        let svc = e
            .credentials_service_error()
            .expect("the STS answer is kept");
        assert_eq!(
            (svc.service, svc.operation, svc.status, svc.code.as_deref()),
            ("STS", "AssumeRoleWithWebIdentity", status, Some(code))
        );
        assert_eq!(svc.request_id.as_deref(), Some(request_id));
        assert!(
            text.contains(&format!("[request id {request_id}]")),
            "{text}"
        );
    }
}

#[tokio::test]
async fn sts_throttling_and_5xx_are_retried_then_reported() {
    // Throttled twice, then success: three requests, credentials.
    let n = Arc::new(AtomicU32::new(0));
    let n2 = n.clone();
    let (addr, log) = serve_fake(move |_| match n2.fetch_add(1, Ordering::SeqCst) {
        0 => sts_error(400, "Throttling", "Rate exceeded", "r1"),
        1 => FakeResponse::new(503, "<html>busy</html>"),
        _ => sts_ok("AssumeRoleWithWebIdentity", "ASIAAFTER", &in_an_hour()),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write(&token_file, WEB_TOKEN);
    let p = WebIdentityProvider::new(env(&[
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ENDPOINT_URL_STS", &format!("http://{addr}")),
    ]));
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "ASIAAFTER"
    );
    assert_eq!(log.lock().unwrap().len(), 3);

    // A proxy's HTML error page every time: three tries, then an error that quotes its start.
    let (e, requests) = web_identity_error(FakeResponse::new(
        502,
        "<html><body>Bad Gateway</body></html>",
    ))
    .await;
    assert_eq!(requests, 3);
    let text = e.to_string();
    assert!(
        text.contains("HTTP 502") && text.contains("non-STS answer"),
        "{text}"
    );
    assert!(text.contains("try again later"), "{text}");

    // A 200 that is not an AssumeRoleWithWebIdentityResponse.
    let (e, _) = web_identity_error(FakeResponse::new(200, "<AssumeRoleResponse/>")).await;
    assert!(
        e.to_string()
            .contains("not an AssumeRoleWithWebIdentityResponse"),
        "{e}"
    );

    // Nobody listening: an error naming the endpoint and the fix.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let start = Instant::now();
    let e = WebIdentityProvider::new(env(&[
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ENDPOINT_URL_STS", &format!("http://127.0.0.1:{port}")),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    let text = e.to_string();
    assert!(
        text.contains("could not connect after 3 attempts"),
        "{text}"
    );
    assert!(text.contains("AWS_ENDPOINT_URL_STS"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// 2. AssumeRole from profiles.

struct Profiles {
    home: tempfile::TempDir,
}

impl Profiles {
    fn new(config: &str, credentials: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        write(&home.path().join(".aws/config"), config);
        write(&home.path().join(".aws/credentials"), credentials);
        Self { home }
    }

    fn home(&self) -> &str {
        self.home.path().to_str().unwrap()
    }
}

const CHAIN_CONFIG: &str = "\
[profile base]
region = eu-west-1
[profile mid]
role_arn = arn:aws:iam::111111111111:role/mid
source_profile = base
external_id = ext-mid-1
duration_seconds = 1800
role_session_name = mid-session
[profile top]
role_arn = arn:aws:iam::222222222222:role/top
source_profile = mid
region = eu-central-1
[profile selfish]
role_arn = arn:aws:iam::333333333333:role/selfish
source_profile = selfish
aws_access_key_id = AKIASELF
aws_secret_access_key = selfsecret
[profile loop-a]
role_arn = arn:aws:iam::1:role/a
source_profile = loop-b
[profile loop-b]
role_arn = arn:aws:iam::1:role/b
source_profile = loop-a
[profile from-env]
role_arn = arn:aws:iam::444444444444:role/fromenv
credential_source = Environment
[profile from-imds]
role_arn = arn:aws:iam::444444444444:role/fromimds
credential_source = Ec2InstanceMetadata
[profile from-ecs]
role_arn = arn:aws:iam::444444444444:role/fromecs
credential_source = EcsContainer
[profile with-mfa]
role_arn = arn:aws:iam::1:role/mfa
source_profile = base
mfa_serial = arn:aws:iam::1:mfa/person
[profile both]
role_arn = arn:aws:iam::1:role/both
source_profile = base
credential_source = Environment
[profile neither]
role_arn = arn:aws:iam::1:role/neither
[profile dangling]
role_arn = arn:aws:iam::1:role/dangling
source_profile = missing
[profile bad-source]
role_arn = arn:aws:iam::1:role/x
credential_source = Ec2Instance
[profile bad-duration]
role_arn = arn:aws:iam::1:role/x
source_profile = base
duration_seconds = one hour
[profile short-duration]
role_arn = arn:aws:iam::1:role/x
source_profile = base
duration_seconds = 60
[profile empty-source]
role_arn = arn:aws:iam::1:role/x
source_profile = regiononly
[profile regiononly]
region = us-east-1
";

const CHAIN_CREDENTIALS: &str = "\
[base]
aws_access_key_id = AKIABASE
aws_secret_access_key = baseSecretKeyEXAMPLE0123456789abcdefghij
";

#[tokio::test]
async fn assume_role_chain_signs_each_step_with_the_previous_credentials() {
    let (sts, log) = fake_sts(Arc::new(Mutex::new(in_an_hour()))).await;
    let files = Profiles::new(CHAIN_CONFIG, CHAIN_CREDENTIALS);
    let p = ProfileProvider::new(env(&[
        ("HOME", files.home()),
        ("AWS_PROFILE", "top"),
        ("AWS_ENDPOINT_URL_STS", &sts),
    ]));
    let c = p.provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "ASIATOP2");
    assert_eq!(c.session_token(), Some(token_of("ASIATOP2").as_str()));
    assert_eq!(c.provider(), "assume-role");
    let source = c.source();
    for part in [
        "role arn:aws:iam::222222222222:role/top (profile \"top\")",
        "role arn:aws:iam::111111111111:role/mid (profile \"mid\")",
        "profile \"base\" (static keys",
    ] {
        assert!(source.contains(part), "{part} not in {source}");
    }
    assert!(!source.contains(BASE_SECRET));

    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    // First the inner role, signed with the base profile's static key (no token).
    let (akid, region, service) = signed_by(&log[0]).unwrap();
    assert_eq!((akid.as_str(), service.as_str()), ("AKIABASE", "sts"));
    assert_eq!(
        region, "eu-central-1",
        "the selected profile's region signs every step"
    );
    assert!(log[0].header("x-amz-security-token").is_none());
    let f = log[0].form();
    assert_eq!(f["Action"], "AssumeRole");
    assert_eq!(f["RoleArn"], "arn:aws:iam::111111111111:role/mid");
    assert_eq!(f["RoleSessionName"], "mid-session");
    assert_eq!(f["ExternalId"], "ext-mid-1");
    assert_eq!(f["DurationSeconds"], "1800");
    // Then the outer role, signed with the inner role's temporary credentials.
    let (akid, _, _) = signed_by(&log[1]).unwrap();
    assert_eq!(akid, "ASIAMID1");
    assert_eq!(
        log[1].header("x-amz-security-token"),
        Some(token_of("ASIAMID1").as_str())
    );
    let f = log[1].form();
    assert_eq!(f["RoleArn"], "arn:aws:iam::222222222222:role/top");
    assert!(f["RoleSessionName"].starts_with("s3driver-"));
    assert!(!f.contains_key("ExternalId") && !f.contains_key("DurationSeconds"));
    for req in &log {
        assert!(req.header("x-amz-date").is_some());
        let auth = req.header("authorization").unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential="), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date"),
            "{auth}"
        );
    }
}

#[tokio::test]
async fn assume_role_self_reference_and_credential_sources() {
    let (sts, log) = fake_sts(Arc::new(Mutex::new(in_an_hour()))).await;
    let files = Profiles::new(CHAIN_CONFIG, CHAIN_CREDENTIALS);
    let provider = |profile: &str, extra: &[(&str, &str)]| {
        let mut vars = vec![
            ("HOME", files.home()),
            ("AWS_PROFILE", profile),
            ("AWS_ENDPOINT_URL_STS", sts.as_str()),
        ];
        vars.extend_from_slice(extra);
        ProfileProvider::new(env(&vars))
    };
    // A profile that names itself uses its own static keys for its role.
    let c = provider("selfish", &[])
        .provide_credentials()
        .await
        .unwrap();
    assert!(c.access_key_id().starts_with("ASIASELFISH"));
    assert_eq!(signed_by(&log.lock().unwrap()[0]).unwrap().0, "AKIASELF");

    // credential_source = Environment.
    let c = provider(
        "from-env",
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "envtoken"),
        ],
    )
    .provide_credentials()
    .await
    .unwrap();
    assert!(c.access_key_id().starts_with("ASIAFROMENV"));
    {
        let log = log.lock().unwrap();
        let last = log.last().unwrap();
        assert_eq!(signed_by(last).unwrap().0, "AKIAENV");
        assert_eq!(last.header("x-amz-security-token"), Some("envtoken"));
    }
    let e = provider("from-env", &[])
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(!e.is_credentials_not_loaded());
    assert!(
        e.to_string().contains(
            "profile \"from-env\" has credential_source = Environment, but: AWS_ACCESS_KEY_ID"
        ),
        "{e}"
    );

    // credential_source = Ec2InstanceMetadata, with a fake IMDSv2.
    let (imds, imds_log) = serve_fake(|req| match (req.method.as_str(), req.path.as_str()) {
        ("PUT", "/latest/api/token") => FakeResponse::new(200, "imds-session-token"),
        (_, _) if req.header("x-aws-ec2-metadata-token") != Some("imds-session-token") => {
            FakeResponse::new(401, "")
        }
        ("GET", "/latest/meta-data/iam/security-credentials/") => FakeResponse::new(200, "instance-role\n"),
        ("GET", "/latest/meta-data/iam/security-credentials/instance-role") => FakeResponse::new(
            200,
            format!(
                r#"{{"Code":"Success","AccessKeyId":"ASIAINSTANCE","SecretAccessKey":"instsecret","Token":"insttoken","Expiration":"{}"}}"#,
                in_an_hour()
            ),
        ),
        _ => FakeResponse::new(404, ""),
    })
    .await;
    let imds_ep = format!("http://{imds}");
    let c = provider(
        "from-imds",
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds_ep)],
    )
    .provide_credentials()
    .await
    .unwrap();
    assert!(c.access_key_id().starts_with("ASIAFROMIMDS"));
    assert!(c.source().contains("from imds"), "{}", c.source());
    assert_eq!(imds_log.lock().unwrap().len(), 3);
    assert_eq!(
        signed_by(log.lock().unwrap().last().unwrap()).unwrap().0,
        "ASIAINSTANCE"
    );
    let e = provider("from-imds", &[("AWS_EC2_METADATA_DISABLED", "true")])
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(!e.is_credentials_not_loaded());
    assert!(
        e.to_string()
            .contains("credential_source = Ec2InstanceMetadata, but: disabled"),
        "{e}"
    );

    // credential_source = EcsContainer.
    let (ecs, _) = serve_fake(|_| {
        FakeResponse::new(
            200,
            format!(
                r#"{{"AccessKeyId":"ASIATASK","SecretAccessKey":"tasksecret","Token":"tasktoken","Expiration":"{}"}}"#,
                in_an_hour()
            ),
        )
    })
    .await;
    let c = provider(
        "from-ecs",
        &[(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("http://{ecs}/creds"),
        )],
    )
    .provide_credentials()
    .await
    .unwrap();
    assert!(c.access_key_id().starts_with("ASIAFROMECS"));
    assert_eq!(
        signed_by(log.lock().unwrap().last().unwrap()).unwrap().0,
        "ASIATASK"
    );
}

#[tokio::test]
async fn broken_role_profiles_are_refused_without_calling_sts() {
    let (sts, log) = fake_sts(Arc::new(Mutex::new(in_an_hour()))).await;
    let files = Profiles::new(CHAIN_CONFIG, CHAIN_CREDENTIALS);
    for (profile, want) in [
        (
            "loop-a",
            "the source_profile chain loops: loop-a -> loop-b -> loop-a",
        ),
        ("with-mfa", "sets mfa_serial"),
        ("both", "both source_profile and credential_source"),
        (
            "neither",
            "no source_profile, credential_source or web_identity_token_file",
        ),
        (
            "dangling",
            "source_profile = missing, but there is no profile \"missing\"",
        ),
        (
            "bad-source",
            "credential_source = Ec2Instance; use Environment, Ec2InstanceMetadata or EcsContainer",
        ),
        (
            "bad-duration",
            "duration_seconds of profile \"bad-duration\" is \"one hour\"",
        ),
        ("short-duration", "is 60; STS accepts 900 to 43200"),
        (
            "empty-source",
            "profile \"regiononly\" (source_profile of \"empty-source\") has no credentials",
        ),
    ] {
        let e = ProfileProvider::new(env(&[
            ("HOME", files.home()),
            ("AWS_PROFILE", profile),
            ("AWS_ENDPOINT_URL_STS", &sts),
        ]))
        .provide_credentials()
        .await
        .unwrap_err();
        assert!(!e.is_credentials_not_loaded(), "{profile}: {e}");
        assert!(e.to_string().contains(want), "{profile}: {e}");
    }
    assert!(
        log.lock().unwrap().is_empty(),
        "no STS request for broken profiles"
    );
}

#[tokio::test]
async fn assume_role_errors_name_the_role_and_keep_the_sts_answer() {
    let (addr, _log) = serve_fake(|req| {
        let f = req.form();
        if f["RoleArn"].ends_with("/mid") {
            sts_error(
                403,
                "AccessDenied",
                "User: arn:aws:iam::1:user/base is not authorized to perform: sts:AssumeRole",
                "req-ar-denied",
            )
        } else {
            sts_error(
                400,
                "ExpiredToken",
                "The security token included in the request is expired",
                "req-ar-exp",
            )
        }
    })
    .await;
    let files = Profiles::new(CHAIN_CONFIG, CHAIN_CREDENTIALS);
    let e = ProfileProvider::new(env(&[
        ("HOME", files.home()),
        ("AWS_PROFILE", "top"),
        ("AWS_ENDPOINT_URL_STS", &format!("http://{addr}")),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    let text = e.to_string();
    assert!(matches!(
        e.kind(),
        ErrorKind::Credentials {
            provider: "assume-role",
            ..
        }
    ));
    assert!(
        text.contains("AssumeRole of arn:aws:iam::111111111111:role/mid"),
        "{text}"
    );
    assert!(text.contains("signed by access key AKIABASE"), "{text}");
    assert!(
        text.contains("trust policy of arn:aws:iam::111111111111:role/mid"),
        "{text}"
    );
    assert!(
        text.contains("HTTP 403 AccessDenied") && text.contains("req-ar-denied"),
        "{text}"
    );
    assert!(!text.contains(BASE_SECRET));
    let svc = e.credentials_service_error().unwrap();
    assert_eq!((svc.operation, svc.status), ("AssumeRole", 403));

    // An expired source session token.
    let e = AssumeRoleProvider::new(
        StaticProvider::from_keys("ASIAOLD", "oldsecret", Some("old-session-token".into())),
        ROLE,
        env(&[("AWS_ENDPOINT_URL_STS", &format!("http://{addr}"))]),
    )
    .provide_credentials()
    .await
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("ExpiredToken") && text.contains("session token of the source credentials"),
        "{text}"
    );
    assert!(
        !text.contains("old-session-token") && !text.contains("oldsecret"),
        "{text}"
    );
}

#[tokio::test]
async fn profile_web_identity_and_sts_endpoint_settings() {
    let (sts, log) = fake_sts(Arc::new(Mutex::new(in_an_hour()))).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("k8s-token");
    write(&token_file, WEB_TOKEN);
    let config = format!(
        "[profile k8s]\nrole_arn = {ROLE}\nweb_identity_token_file = {}\nrole_session_name = from-profile\nregion = ap-southeast-2\nendpoint_url = {sts}\n\
         [profile k8s-chained]\nrole_arn = arn:aws:iam::555555555555:role/chained\nsource_profile = k8s\n\
         [profile wi-without-role]\nweb_identity_token_file = /x\n",
        token_file.display()
    );
    let files = Profiles::new(&config, "");
    let c = ProfileProvider::new(env(&[("HOME", files.home()), ("AWS_PROFILE", "k8s")]))
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(c.provider(), "web-identity");
    assert!(c.source().contains("profile \"k8s\""), "{}", c.source());
    assert_eq!(
        log.lock().unwrap()[0].form()["RoleSessionName"],
        "from-profile"
    );
    // A role chained on a web identity profile: AssumeRole signed with the web identity keys.
    // The profile's endpoint_url is not in the selected profile: AWS_ENDPOINT_URL is.
    let c = ProfileProvider::new(env(&[
        ("HOME", files.home()),
        ("AWS_PROFILE", "k8s-chained"),
        ("AWS_ENDPOINT_URL", &sts),
        ("AWS_REGION", "eu-north-1"),
    ]))
    .provide_credentials()
    .await
    .unwrap();
    assert!(c.access_key_id().starts_with("ASIACHAINED"));
    {
        let log = log.lock().unwrap();
        let (akid, region, _) = signed_by(log.last().unwrap()).unwrap();
        assert!(akid.starts_with("ASIAWEB"), "{akid}");
        assert_eq!(
            region, "eu-north-1",
            "AWS_REGION wins over the profile's region"
        );
    }
    let e = ProfileProvider::new(env(&[
        ("HOME", files.home()),
        ("AWS_PROFILE", "wi-without-role"),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("web_identity_token_file but no role_arn"),
        "{e}"
    );
    // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns the overrides off: the request would go to the
    // real regional endpoint, which this test must never reach, so it only checks the message
    // of a settings error raised before any request.
    let e = ProfileProvider::new(env(&[
        ("HOME", files.home()),
        ("AWS_PROFILE", "k8s"),
        ("AWS_STS_REGIONAL_ENDPOINTS", "sometimes"),
        ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("AWS_STS_REGIONAL_ENDPOINTS is \"sometimes\""),
        "{e}"
    );
}

/// IRSA's variables come after static environment keys and before the profile files.
#[tokio::test]
async fn default_chain_order_with_web_identity() {
    let (sts, _log) = fake_sts(Arc::new(Mutex::new(in_an_hour()))).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write(&token_file, WEB_TOKEN);
    let files = Profiles::new(
        "",
        "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n",
    );
    let token_path = token_file.to_str().unwrap().to_owned();
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", "AKIAENV"),
        ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path.as_str()),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
        ("HOME", files.home()),
    ];
    let key = |vars: &[(&str, &str)]| {
        let chain = DefaultChain::new(env(vars));
        async move {
            let c = chain.provide_credentials().await.unwrap();
            (c.access_key_id().to_owned(), c.provider())
        }
    };
    assert_eq!(key(&vars).await, ("AKIAENV".into(), "environment"));
    vars.drain(0..2);
    assert_eq!(key(&vars).await.1, "web-identity");
    vars.drain(0..2);
    assert_eq!(key(&vars).await, ("AKIAPROFILE".into(), "profile"));
}

// ---------------------------------------------------------------------------------------------
// 3. credential_process.

/// Writes an executable shell script (the program itself may use a shell; s3driver runs it
/// without one).
fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    write(&path, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn credential_process_runs_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let spaced = dir.path().join("my tools");
    std::fs::create_dir(&spaced).unwrap();
    let exp = in_an_hour();
    // Prints its first two arguments as the key id and the session token.
    let helper = script(
        &spaced,
        "helper",
        &format!(
            r#"printf '{{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "procSecretEXAMPLE", "SessionToken": "%s", "Expiration": "{exp}"}}' "$1" "$2""#
        ),
    );
    // Quoted path with a space; `$HOME` and `*` reach the program literally (no shell).
    let cmd = format!("'{helper}' '$HOME' \"a b*\"");
    let c = ProcessProvider::new(cmd)
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(c.access_key_id(), "$HOME");
    assert_eq!(c.session_token(), Some("a b*"));
    assert_eq!(c.secret(), "procSecretEXAMPLE");
    assert_eq!(c.provider(), "process");
    assert!(c.expires_at().is_some());
    assert!(!c.source().contains("procSecretEXAMPLE"));

    // Through a profile, as the source of an assumed role.
    let (sts, log) = fake_sts(Arc::new(Mutex::new(in_an_hour()))).await;
    let files = Profiles::new(
        &format!(
            "[profile proc]\ncredential_process = \"{helper}\" AKIAPROC tok\n\
             [profile role-on-proc]\nrole_arn = arn:aws:iam::1:role/onproc\nsource_profile = proc\n"
        ),
        "",
    );
    let c = ProfileProvider::new(env(&[("HOME", files.home()), ("AWS_PROFILE", "proc")]))
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!((c.access_key_id(), c.provider()), ("AKIAPROC", "process"));
    assert!(c.source().contains("profile \"proc\""), "{}", c.source());
    let c = ProfileProvider::new(env(&[
        ("HOME", files.home()),
        ("AWS_PROFILE", "role-on-proc"),
        ("AWS_ENDPOINT_URL_STS", &sts),
    ]))
    .provide_credentials()
    .await
    .unwrap();
    assert!(c.access_key_id().starts_with("ASIAONPROC"));
    assert_eq!(signed_by(&log.lock().unwrap()[0]).unwrap().0, "AKIAPROC");
}

#[tokio::test]
async fn credential_process_failures_never_show_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let leak = "LEAKEDprocessSECRET";
    let failing = script(
        dir.path(),
        "failing",
        &format!(
            "echo '{{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"{leak}\"}}'\necho 'token expired, run helper login' >&2\nexit 3"
        ),
    );
    let e = ProcessProvider::new(&failing)
        .provide_credentials()
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(
        text.contains("stderr: token expired, run helper login"),
        "{text}"
    );
    assert!(!text.contains(leak), "{text}");

    let garbage = script(dir.path(), "garbage", &format!("echo 'AccessKeyId={leak}'"));
    let e = ProcessProvider::new(&garbage)
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no valid JSON"), "{e}");
    assert!(!e.to_string().contains(leak), "{e}");

    let v2 = script(
        dir.path(),
        "v2",
        &format!("echo '{{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"{leak}\"}}'"),
    );
    let e = ProcessProvider::new(&v2)
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("Version 2, which is not supported"),
        "{e}"
    );

    let e = ProcessProvider::new("/nonexistent/helper --flag")
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("not found: give the full path"),
        "{e}"
    );
    let e = ProcessProvider::new("'unterminated")
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("single quote"), "{e}");
    let e = ProcessProvider::new("  ")
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is empty"), "{e}");
}

#[tokio::test]
async fn credential_process_timeout_kills_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let slow = script(
        dir.path(),
        "slow",
        &format!(
            "echo $$ > '{}'\necho 'waiting for the token service' >&2\nexec sleep 30",
            pid_file.display()
        ),
    );
    let start = Instant::now();
    let e = ProcessProvider::new(&slow)
        .with_timeout(Duration::from_millis(700))
        .provide_credentials()
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("did not finish within 700ms and was killed"),
        "{text}"
    );
    assert!(text.contains("waiting for the token service"), "{text}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let alive = Path::new(&format!("/proc/{}", pid.trim())).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
            .unwrap_or_default()
            .contains(") Z ");
    assert!(!alive, "the program {pid} must be killed");
}

#[tokio::test]
async fn credential_process_expiry_drives_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let expiry = 1_900_000_000u64;
    let helper = script(
        dir.path(),
        "counting",
        &format!(
            "n=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'\nprintf '{{\"Version\":1,\"AccessKeyId\":\"AKIAPROC%s\",\"SecretAccessKey\":\"s\",\"Expiration\":\"{}\"}}' $n",
            iso(UNIX_EPOCH + Duration::from_secs(expiry)),
            c = count.display()
        ),
    );
    let clock = Arc::new(FakeClock(AtomicU64::new(expiry - 1000)));
    let p = CachingProvider::new(ProcessProvider::new(&helper)).with_clock(clock.clone());
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "AKIAPROC1"
    );
    clock.0.store(expiry - 400, Ordering::SeqCst);
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "AKIAPROC1"
    );
    clock.0.store(expiry - 200, Ordering::SeqCst);
    assert_eq!(
        p.provide_credentials().await.unwrap().access_key_id(),
        "AKIAPROC2"
    );
    assert_eq!(std::fs::read_to_string(&count).unwrap().trim(), "2");
}

// ---------------------------------------------------------------------------------------------
// 4. SSO.

fn sso_cache(home: &str, key: &str, expires_at: &str) -> std::path::PathBuf {
    use sha1_name::hex_sha1;
    let path = Path::new(home)
        .join(".aws/sso/cache")
        .join(format!("{}.json", hex_sha1(key)));
    write(
        &path,
        &format!(
            r#"{{"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", "accessToken": "{SSO_TOKEN}", "expiresAt": "{expires_at}", "clientId": "c", "clientSecret": "cs", "refreshToken": "rt"}}"#
        ),
    );
    path
}

/// SHA-1 for cache file names, computed independently of the crate (by `sha1sum`).
mod sha1_name {
    pub fn hex_sha1(s: &str) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("sha1sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sha1sum");
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout).unwrap()[..40].to_owned()
    }
}

async fn fake_portal() -> (String, RequestLog) {
    let (addr, log) = serve_fake(|req| {
        if req.header("x-amz-sso_bearer_token") != Some(SSO_TOKEN) {
            return FakeResponse::new(401, r#"{"message":"Session token not found or invalid"}"#)
                .header("x-amzn-ErrorType", "UnauthorizedException:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/")
                .header("x-amzn-RequestId", "sso-req-401");
        }
        let q = req.query();
        if q.get("role_name").map(String::as_str) == Some("Forbidden") {
            return FakeResponse::new(403, r#"{"message":"No access"}"#)
                .header("x-amzn-ErrorType", "ForbiddenException")
                .header("x-amzn-RequestId", "sso-req-403");
        }
        let ms = (SystemTime::now() + Duration::from_secs(3600))
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        FakeResponse::new(
            200,
            format!(
                r#"{{"roleCredentials":{{"accessKeyId":"ASIASSO{}","secretAccessKey":"ssoSecret","sessionToken":"ssoSession","expiration":{ms}}}}}"#,
                q["account_id"]
            ),
        )
    })
    .await;
    (format!("http://{addr}"), log)
}

const SSO_CONFIG: &str = "\
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
[profile dev]
sso_session = corp
sso_account_id = 123456789011
sso_role_name = RegistryWriter
[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 210987654321
sso_role_name = RegistryWriter
[profile forbidden]
sso_session = corp
sso_account_id = 123456789011
sso_role_name = Forbidden
[profile incomplete]
sso_session = corp
sso_account_id = 123456789011
[profile nosession]
sso_session = other
sso_account_id = 1
sso_role_name = r
[profile mismatch]
sso_session = corp
sso_region = us-west-2
sso_account_id = 1
sso_role_name = r
";

#[tokio::test]
async fn sso_profiles_use_the_cli_token_cache() {
    let (portal, log) = fake_portal().await;
    let files = Profiles::new(SSO_CONFIG, "");
    let future = in_an_hour();
    sso_cache(files.home(), "corp", &future);
    let provider = |profile: &str| {
        ProfileProvider::new(env(&[
            ("HOME", files.home()),
            ("AWS_PROFILE", profile),
            ("AWS_ENDPOINT_URL_SSO", &portal),
        ]))
    };
    let c = provider("dev").provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "ASIASSO123456789011");
    assert_eq!(
        (c.secret(), c.session_token()),
        ("ssoSecret", Some("ssoSession"))
    );
    assert_eq!(c.provider(), "sso");
    let left = c
        .expires_at()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        left > Duration::from_secs(3500) && left <= Duration::from_secs(3600),
        "{left:?}"
    );
    assert!(
        c.source()
            .contains("account 123456789011 role RegistryWriter"),
        "{}",
        c.source()
    );
    {
        let log = log.lock().unwrap();
        assert_eq!(log[0].method, "GET");
        assert_eq!(
            log[0].path,
            "/federation/credentials?account_id=123456789011&role_name=RegistryWriter"
        );
        assert_eq!(log[0].header("x-amz-sso_bearer_token"), Some(SSO_TOKEN));
    }
    // The legacy form: cache keyed by the start URL; the CLI v1 "UTC" suffix.
    let legacy_expiry = future.replace(".000Z", "UTC");
    sso_cache(
        files.home(),
        "https://legacy.awsapps.com/start",
        &legacy_expiry,
    );
    let c = provider("legacy").provide_credentials().await.unwrap();
    assert_eq!(c.access_key_id(), "ASIASSO210987654321");

    // The portal refuses the role: the error names the settings and keeps the answer.
    let e = provider("forbidden")
        .provide_credentials()
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("check sso_account_id and sso_role_name"),
        "{text}"
    );
    assert!(
        text.contains("SSO GetRoleCredentials returned HTTP 403 ForbiddenException"),
        "{text}"
    );
    let svc = e.credentials_service_error().unwrap();
    assert_eq!(
        (svc.status, svc.request_id.as_deref()),
        (403, Some("sso-req-403"))
    );
    assert!(!text.contains(SSO_TOKEN));
}

#[tokio::test]
async fn sso_missing_or_expired_login_says_run_aws_sso_login() {
    let (portal, log) = fake_portal().await;
    let files = Profiles::new(SSO_CONFIG, "");
    let provider = |profile: &str| {
        ProfileProvider::new(env(&[
            ("HOME", files.home()),
            ("AWS_PROFILE", profile),
            ("AWS_ENDPOINT_URL_SSO", &portal),
        ]))
    };
    // No cache file.
    let e = provider("dev").provide_credentials().await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("no cached SSO token")
            && text.contains("run `aws sso login --sso-session corp`"),
        "{text}"
    );
    let e = provider("legacy").provide_credentials().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("run `aws sso login --profile legacy`"),
        "{e}"
    );
    // Expired.
    sso_cache(files.home(), "corp", "2020-01-01T00:00:00Z");
    let e = provider("dev").provide_credentials().await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("expired at 2020-01-01T00:00:00")
            && text.contains("aws sso login --sso-session corp"),
        "{text}"
    );
    assert!(
        log.lock().unwrap().is_empty(),
        "no request with a missing or expired token"
    );
    // Cached but revoked: the portal answers 401.
    let path = sso_cache(files.home(), "corp", &in_an_hour());
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(SSO_TOKEN, "revoked-token");
    std::fs::write(&path, text).unwrap();
    let e = provider("dev").provide_credentials().await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("refused the cached token")
            && text.contains("aws sso login --sso-session corp"),
        "{text}"
    );
    let svc = e.credentials_service_error().unwrap();
    assert_eq!(
        (svc.status, svc.code.as_deref(), svc.request_id.as_deref()),
        (401, Some("UnauthorizedException"), Some("sso-req-401"))
    );
    assert!(!text.contains("revoked-token"));
    // A broken cache file.
    std::fs::write(&path, "{not json").unwrap();
    let e = provider("dev").provide_credentials().await.unwrap_err();
    assert!(
        e.to_string().contains("not valid JSON") && e.to_string().contains("aws sso login"),
        "{e}"
    );
}

#[tokio::test]
async fn sso_profile_settings_are_checked() {
    let files = Profiles::new(SSO_CONFIG, "");
    for (profile, want) in [
        ("incomplete", "uses SSO but lacks sso_role_name"),
        ("nosession", "has sso_session = other, but"),
        (
            "mismatch",
            "has sso_region = us-west-2, but its [sso-session corp] has sso_region = eu-west-1",
        ),
    ] {
        let e = ProfileProvider::new(env(&[("HOME", files.home()), ("AWS_PROFILE", profile)]))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(e.to_string().contains(want), "{profile}: {e}");
    }
}
