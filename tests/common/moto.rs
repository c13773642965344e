//! moto's server (PyPI `moto[server]`) as a signature-verifying S3 and STS on 127.0.0.1, for
//! the credential tests: [`moto_or_skip`].
//!
//! One server per test binary, started on first use by `tests/common/moto_server.py` (which
//! ends with the test process and lets unsigned AssumeRoleWithWebIdentity through moto's
//! authentication, as AWS does). Before authentication is switched on (POST
//! `/moto-api/reset-auth` `0`), the bootstrap creates in IAM:
//!
//! * user `admin` with an access key and a policy allowing everything ([`Moto::admin`]);
//! * role `registry` (s3:*), trusting `admin` for sts:AssumeRole and an OIDC provider for
//!   sts:AssumeRoleWithWebIdentity ([`Moto::role_arn`]);
//! * role `registry-readonly` (s3:GetObject and s3:ListBucket only), trusting `admin`;
//! * role `untrusted`, trusting only a user that does not exist.
//!
//! From then on every S3 request and every signed STS request is checked by moto: the SigV4
//! signature against the IAM user's or the temporary credentials' secret, the session token
//! against the one STS issued, and the action against the identity's policies.
//!
//! Python: `S3DRIVER_MOTO_PYTHON` (default `python3`) must import `moto.server`. Without it the
//! tests print "skipped: moto not installed" and pass, unless `S3DRIVER_REQUIRE_MOTO=1` (set by
//! `.ci/run`), which makes them fail.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::RefCredentials;

/// The running moto server and what the bootstrap created.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The IAM user `admin` (allowed everything), region us-east-1.
    pub admin: RefCredentials,
    /// `arn:aws:iam::123456789012:user/admin`.
    pub admin_arn: String,
    /// Role `registry`: s3:*; AssumeRole by `admin`, AssumeRoleWithWebIdentity.
    pub role_arn: String,
    /// Role `registry-readonly`: s3:GetObject and s3:ListBucket; AssumeRole by `admin`.
    pub readonly_role_arn: String,
    /// Role `untrusted`: its trust policy names only a user that does not exist.
    pub untrusted_role_arn: String,
    /// Where moto's output goes.
    pub log_path: PathBuf,
    // Held open: moto_server.py exits when its stdin closes (when this process ends).
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

static MOTO: tokio::sync::OnceCell<Moto> = tokio::sync::OnceCell::const_new();

/// Whether `S3DRIVER_REQUIRE_MOTO` asks for moto ("1", "true" or "yes").
pub fn moto_required() -> bool {
    std::env::var("S3DRIVER_REQUIRE_MOTO")
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

fn python() -> String {
    std::env::var("S3DRIVER_MOTO_PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "python3".to_owned())
}

/// Whether the Python can import moto's server.
fn moto_installed() -> Result<(), String> {
    let py = python();
    match Command::new(&py)
        .args(["-c", "import moto.server, moto.core.authorization, flask"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "{py} cannot import moto's server: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Err(e) => Err(format!("cannot run {py}: {e}")),
    }
}

/// The moto server for a test that needs one; `None` (after printing "skipped") when moto is
/// not installed, a test failure instead when `S3DRIVER_REQUIRE_MOTO=1`.
pub async fn moto_or_skip() -> Option<&'static Moto> {
    if let Err(why) = moto_installed() {
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("this test");
        assert!(
            !moto_required(),
            "{test}: moto is required (S3DRIVER_REQUIRE_MOTO is set) but {why}; install it with \
             `pip install 'moto[server]'` (or set S3DRIVER_MOTO_PYTHON)"
        );
        let _ = writeln!(
            std::io::stderr(),
            "{test}: skipped: moto not installed ({why}; pip install 'moto[server]')"
        );
        return None;
    }
    Some(MOTO.get_or_init(start).await)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn start() -> Moto {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/common/moto_server.py");
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port();
        let log_path =
            std::env::temp_dir().join(format!("s3driver-moto-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(python())
            .arg(&script)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start moto_server.py");
        let stdin = child.stdin.take().unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = super::http_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut up = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if let Ok(r) = http.get(format!("{endpoint}/moto-api/")).send().await {
                if r.status().is_success() {
                    up = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !up {
            let _ = child.kill();
            let _ = child.wait();
            last_error = std::fs::read_to_string(&log_path).unwrap_or_default();
            continue;
        }
        return bootstrap(endpoint, log_path, stdin, child).await;
    }
    panic!("moto did not start in 3 tries; its output:\n{last_error}");
}

/// The text of `<tag>` in `xml` (first occurrence).
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

fn form(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

/// An IAM Query API call before authentication is on (moto routes it to IAM by the
/// credential scope of a placeholder Authorization header and checks nothing yet).
async fn iam(http: &reqwest::Client, endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let mut all = vec![("Version", "2010-05-08")];
    all.extend_from_slice(pairs);
    let resp = http
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=bootstrap/20260101/us-east-1/iam/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(form(&all))
        .send()
        .await
        .expect("moto IAM request");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "moto IAM {pairs:?}: {status} {text}");
    text
}

async fn bootstrap(endpoint: String, log_path: PathBuf, stdin: ChildStdin, child: Child) -> Moto {
    let http = super::http_client();
    let allow = |actions: serde_json::Value| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
        })
        .to_string()
    };
    iam(
        &http,
        &endpoint,
        &[("Action", "CreateUser"), ("UserName", "admin")],
    )
    .await;
    let key = iam(
        &http,
        &endpoint,
        &[("Action", "CreateAccessKey"), ("UserName", "admin")],
    )
    .await;
    let access_key = xml_text(&key, "AccessKeyId").expect("AccessKeyId");
    let secret_key = xml_text(&key, "SecretAccessKey").expect("SecretAccessKey");
    iam(
        &http,
        &endpoint,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "admin"),
            ("PolicyName", "everything"),
            ("PolicyDocument", &allow(serde_json::json!("*"))),
        ],
    )
    .await;
    let admin_arn = "arn:aws:iam::123456789012:user/admin".to_owned();
    let trust = |principal: &str, web_identity: bool| {
        let mut statements = vec![serde_json::json!({
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "sts:AssumeRole"
        })];
        if web_identity {
            statements.push(serde_json::json!({
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.example.test"},
                "Action": "sts:AssumeRoleWithWebIdentity"
            }));
        }
        serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    };
    let mut arns = Vec::new();
    for (name, principal, web, actions) in [
        (
            "registry",
            admin_arn.as_str(),
            true,
            serde_json::json!("s3:*"),
        ),
        (
            "registry-readonly",
            admin_arn.as_str(),
            false,
            serde_json::json!(["s3:GetObject", "s3:ListBucket"]),
        ),
        (
            "untrusted",
            "arn:aws:iam::123456789012:user/nobody",
            false,
            serde_json::json!("s3:*"),
        ),
    ] {
        let created = iam(
            &http,
            &endpoint,
            &[
                ("Action", "CreateRole"),
                ("RoleName", name),
                ("AssumeRolePolicyDocument", &trust(principal, web)),
            ],
        )
        .await;
        arns.push(xml_text(&created, "Arn").expect("role Arn"));
        iam(
            &http,
            &endpoint,
            &[
                ("Action", "PutRolePolicy"),
                ("RoleName", name),
                ("PolicyName", "s3"),
                ("PolicyDocument", &allow(actions)),
            ],
        )
        .await;
    }
    // Authentication on: from now on moto checks every request.
    let resp = http
        .post(format!("{endpoint}/moto-api/reset-auth"))
        .body("0")
        .send()
        .await
        .expect("moto reset-auth");
    assert!(
        resp.status().is_success(),
        "moto reset-auth: {}",
        resp.status()
    );
    let moto = Moto {
        endpoint,
        admin: RefCredentials::new(&access_key, &secret_key, "us-east-1"),
        admin_arn,
        role_arn: arns[0].clone(),
        readonly_role_arn: arns[1].clone(),
        untrusted_role_arn: arns[2].clone(),
        log_path,
        _stdin: Mutex::new(stdin),
        _child: Mutex::new(child),
    };
    // Proof that authentication is on: a listing signed with a key moto does not know is
    // refused. (An unsigned one gets HTTP 500 from moto's auth mode: it expects a signature.)
    let resp = super::refsign::send_v4(
        &http,
        "GET",
        &format!("{}/", moto.endpoint),
        &[],
        Vec::new(),
        &RefCredentials::new("AKIAUNKNOWNKEY000000", "not-a-secret", "us-east-1"),
    )
    .await;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert!(
        status == 403 && body.contains("InvalidAccessKeyId"),
        "moto must refuse unknown keys once authentication is on: {status} {body}"
    );
    moto
}

impl Moto {
    /// Creates `bucket` as `admin` (reference-signed).
    pub async fn create_bucket(&self, bucket: &str) {
        let resp = super::refsign::send_v4(
            &super::http_client(),
            "PUT",
            &format!("{}/{bucket}", self.endpoint),
            &[],
            Vec::new(),
            &self.admin,
        )
        .await;
        let status = resp.status();
        assert!(
            status.is_success(),
            "moto CreateBucket {bucket}: {status} {}",
            resp.text().await.unwrap_or_default()
        );
    }
}
