//! Fuzz target `registry`: drives `s3driver serve`'s whole request path (hyper's HTTP/1.1
//! server, the router, the handlers, the in-memory driver) with sequences of up to eight
//! hostile requests over in-memory connections, on a fresh registry per input. Requests are
//! built from the API's shapes (uploads, blobs, manifests, tags, catalog, referrers) with
//! arbitrary names, ids, digests, query values, headers and bodies; a request may go to the
//! `Location` the previous response gave, name the digest of an earlier body, or carry a
//! manifest that references them, so uploads and manifests get far enough to be checked.
//!
//! Half the inputs run against a registry with token authentication (`rootcertbundle` and
//! `jwks` from the tests' throw-away keys), and a request may carry a bearer token built from
//! the input: any algorithm, `kid`, `jwk`, or an `x5c` chain of test certificates, mangled
//! ones or arbitrary bytes; raw header or claims; and either arbitrary signature bytes or a
//! valid ES256 signature by the `jwks.json` key, so expiry, audience, issuer and the `access`
//! claim are checked too.
//!
//! A finding is a panic, a response that never comes (libFuzzer's timeout), a 5xx status
//! (storage is in memory and cannot fail, so a server error means a handler failed on input
//! it should have refused with a 4xx), or a response that shows an internal storage path.
//!
//! Seed corpus: none needed (structured input), `.ci/fuzz.sh` starts it empty.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use s3driver::config::Config;
use s3driver::driver::{Base, InMemoryDriver};
use s3driver::server::App;

const CONFIG: &str = "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                      storage:\n  inmemory:\n  delete:\n    enabled: true\n\
                      http:\n  secret: fuzz-secret\n";

/// The throw-away token keys and certificates of the tests (`tests/data/token/README`).
const TOKEN_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/token");
const SERVICE: &str = "fuzz-registry";
const ISSUER: &str = "fuzz-issuer";
/// The `kid` of the EC key in `jwks.json`, whose private half (`jwks.key.pk8`) the harness
/// signs tokens with when the input asks for a valid signature.
const JWKS_KID: &str = "s3driver-test-jwks-es256";
/// The libtrust key id of `rsa.pem` (in `bundle.pem`).
const RSA_KID: &str = "FJNL:YHYJ:H7QC:34PM:5OWN:MQLE:MRZP:ICO7:JZTV:FSO7:OXZT:CGKK";
const ALGS: [&str; 8] = [
    "ES256", "RS256", "none", "HS256", "PS256", "ES384", "RS512", "EdDSA",
];
const CERTS: [&str; 4] = ["leaf.pem", "ca.pem", "rsa.pem", "ec.pem"];
const RESOURCE_TYPES: [&str; 3] = ["repository", "registry", "repository(plugin)"];
const ACTIONS: [&str; 5] = ["pull", "push", "delete", "*", ""];

const METHODS: [&str; 8] = [
    "GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE",
];
const REPOS: [&str; 4] = ["a", "library/ubuntu", "a/b/c", "x-y.z_0"];
const QUERY_KEYS: [&str; 8] = [
    "digest",
    "mount",
    "from",
    "n",
    "last",
    "_state",
    "artifactType",
    "x",
];
const HEADERS: [&str; 12] = [
    "Content-Type",
    "Content-Range",
    "Range",
    "Accept",
    "If-None-Match",
    "Authorization",
    "Expect",
    "Docker-Content-Digest",
    "Transfer-Encoding",
    "Connection",
    "X-Forwarded-Proto",
    "Host",
];
const MEDIA_TYPES: [&str; 6] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/octet-stream",
];

#[derive(Arbitrary, Debug)]
struct Input {
    /// Token authentication (`auth.token` with `rootcertbundle` and `jwks`) instead of none.
    token_auth: bool,
    requests: Vec<Req>,
}

#[derive(Arbitrary, Debug)]
struct Req {
    method: u8,
    target: Target,
    query: Vec<(u8, Value)>,
    headers: Vec<(u8, Value)>,
    token: Option<Token>,
    body: Body,
}

/// A bearer token (a JWS) to send in `Authorization`.
#[derive(Arbitrary, Debug)]
struct Token {
    alg: u8,
    key: KeyRef,
    claims: Claims,
    /// Signed with the `jwks.json` key (a valid signature, so the claims get checked), or
    /// this signature.
    signature: Option<Vec<u8>>,
    /// The header or the claims as these bytes instead of JSON built from the fields.
    raw_header: Option<Vec<u8>>,
    raw_claims: Option<Vec<u8>>,
}

#[derive(Arbitrary, Debug)]
enum KeyRef {
    None,
    JwksKid,
    BundleKid,
    Kid(String),
    X5c(Vec<Cert>),
    Jwk(String),
}

/// An `x5c` entry: a test certificate, one with some bytes changed, or arbitrary bytes.
#[derive(Arbitrary, Debug)]
enum Cert {
    Test(u8),
    Mangled { which: u8, at: u16, bytes: Vec<u8> },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Claims {
    iss: Option<String>,
    aud: Option<String>,
    sub: String,
    /// Seconds from now, or absent.
    exp: Option<i32>,
    nbf: Option<i32>,
    iat: Option<i32>,
    access: Vec<(u8, Value, Vec<u8>)>,
    extra: String,
}

#[derive(Arbitrary, Debug)]
enum Target {
    /// The `Location` of the last response that had one (else `/v2/`).
    Location,
    Base,
    Catalog,
    UploadStart {
        repo: u8,
    },
    /// A monolithic blob push (`POST .../blobs/uploads/?digest=` of the body), whatever
    /// the method drawn: what a manifest needs stored before it can be put.
    PushBlob {
        repo: u8,
    },
    Upload {
        repo: u8,
        id: String,
    },
    Blob {
        repo: u8,
        digest: Value,
    },
    Manifest {
        repo: u8,
        reference: Value,
    },
    Tags {
        repo: u8,
    },
    Referrers {
        repo: u8,
        digest: Value,
    },
    Raw(String),
}

/// A value: arbitrary text, the digest of an earlier request's body, or of this request's.
#[derive(Arbitrary, Debug)]
enum Value {
    Text(String),
    BodyDigest(u8),
    OwnDigest,
}

#[derive(Arbitrary, Debug)]
enum Body {
    Bytes(Vec<u8>),
    /// A manifest (or index) whose config and layers are earlier bodies' digests or text.
    Manifest {
        schema: u8,
        media: u8,
        /// Whether the request says the manifest's media type in `Content-Type`.
        typed: bool,
        config: Value,
        layers: Vec<(Value, u32)>,
        extra: String,
    },
}

/// The digests and sizes of the bodies sent so far, the last `Location`, and the digest of
/// the body being sent.
#[derive(Default)]
struct Seen {
    bodies: Vec<(String, usize)>,
    location: Option<String>,
    own: String,
}

impl Seen {
    fn value(&self, v: &Value) -> String {
        match v {
            Value::Text(t) => t.clone(),
            Value::BodyDigest(i) if self.bodies.is_empty() => format!("sha256:{i:064x}"),
            Value::BodyDigest(i) => self.bodies[*i as usize % self.bodies.len()].0.clone(),
            Value::OwnDigest => self.own.clone(),
        }
    }

    /// The size of the body `v` names, else `size`.
    fn size(&self, v: &Value, size: u32) -> u64 {
        match v {
            Value::BodyDigest(i) if !self.bodies.is_empty() => {
                self.bodies[*i as usize % self.bodies.len()].1 as u64
            }
            _ => u64::from(size),
        }
    }
}

/// `s` with everything but printable ASCII (and the characters that would end a path or a
/// query value early) percent-encoded, so the request line stays one line.
fn encode(s: &str, in_query: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let keep = b.is_ascii_graphic()
            && !matches!(b, b'#' | b'%' | b'?')
            && !(in_query && matches!(b, b'&' | b'=' | b'+'));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn header_value(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn manifest_body(
    seen: &Seen,
    schema: u8,
    media: &str,
    config: &Value,
    layers: &[(Value, u32)],
    extra: &str,
) -> Vec<u8> {
    let descriptor = |digest: &str, size: u64, media: &str| {
        format!(
            "{{\"mediaType\":{},\"digest\":{},\"size\":{size}}}",
            json_string(media),
            json_string(digest)
        )
    };
    let list: Vec<String> = layers
        .iter()
        .take(8)
        .map(|(d, size)| {
            let layer = "application/vnd.oci.image.layer.v1.tar";
            descriptor(&seen.value(d), seen.size(d, *size), layer)
        })
        .collect();
    let key = if media.contains("index") || media.contains("list") {
        "manifests"
    } else {
        "layers"
    };
    format!(
        "{{\"schemaVersion\":{},\"mediaType\":{},\"config\":{},\"{key}\":[{}],\"annotations\":{{\"x\":{}}}}}",
        // Mostly 2, the version every manifest of these media types has.
        if schema < 200 { 2 } else { schema % 4 },
        json_string(media),
        descriptor(
            &seen.value(config),
            seen.size(config, 2),
            "application/vnd.oci.image.config.v1+json"
        ),
        list.join(","),
        json_string(extra)
    )
    .into_bytes()
}

fn b64(data: &[u8], url: bool) -> String {
    use base64::Engine as _;
    if url {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
    } else {
        base64::engine::general_purpose::STANDARD.encode(data)
    }
}

/// The DER of test certificate `name`.
fn cert_der(name: &str) -> &'static [u8] {
    static DERS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    let ders = DERS.get_or_init(|| {
        use base64::Engine as _;
        CERTS
            .iter()
            .map(|n| {
                let pem =
                    std::fs::read_to_string(format!("{TOKEN_DATA}/{n}")).expect("a test cert");
                let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("PEM base64");
                ((*n).to_owned(), der)
            })
            .collect()
    });
    &ders
        .iter()
        .find(|(n, _)| n == name)
        .expect("a known cert")
        .1
}

fn jwks_key() -> &'static ring::signature::EcdsaKeyPair {
    static KEY: OnceLock<ring::signature::EcdsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let pk8 = std::fs::read(format!("{TOKEN_DATA}/jwks.key.pk8")).expect("the jwks test key");
        ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pk8,
            &ring::rand::SystemRandom::new(),
        )
        .expect("an EC P-256 key")
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The compact JWS of `t`.
fn token(seen: &Seen, t: &Token) -> String {
    let key = match &t.key {
        KeyRef::None => String::new(),
        KeyRef::JwksKid => format!(",\"kid\":{}", json_string(JWKS_KID)),
        KeyRef::BundleKid => format!(",\"kid\":{}", json_string(RSA_KID)),
        KeyRef::Kid(k) => format!(",\"kid\":{}", json_string(k)),
        KeyRef::X5c(certs) => {
            let list: Vec<String> = certs
                .iter()
                .take(4)
                .map(|c| {
                    let der = match c {
                        Cert::Test(i) => cert_der(CERTS[*i as usize % CERTS.len()]).to_vec(),
                        Cert::Mangled { which, at, bytes } => {
                            let mut der = cert_der(CERTS[*which as usize % CERTS.len()]).to_vec();
                            let at = *at as usize % der.len();
                            for (i, b) in bytes.iter().take(16).enumerate() {
                                if let Some(x) = der.get_mut(at + i) {
                                    *x ^= b;
                                }
                            }
                            der
                        }
                        Cert::Raw(b) => b.clone(),
                    };
                    json_string(&b64(&der, false))
                })
                .collect();
            format!(",\"x5c\":[{}]", list.join(","))
        }
        KeyRef::Jwk(j) => format!(",\"jwk\":{j}"),
    };
    let header = match &t.raw_header {
        Some(raw) => raw.clone(),
        None => format!(
            "{{\"typ\":\"JWT\",\"alg\":{}{key}}}",
            json_string(ALGS[t.alg as usize % ALGS.len()])
        )
        .into_bytes(),
    };
    let c = &t.claims;
    let now = now();
    let mut claims = format!(
        "{{\"iss\":{},\"aud\":{},\"sub\":{}",
        json_string(c.iss.as_deref().unwrap_or(ISSUER)),
        json_string(c.aud.as_deref().unwrap_or(SERVICE)),
        json_string(&c.sub)
    );
    for (name, v) in [("exp", c.exp), ("nbf", c.nbf), ("iat", c.iat)] {
        if let Some(v) = v {
            claims.push_str(&format!(",\"{name}\":{}", now + i64::from(v)));
        }
    }
    let access: Vec<String> = c
        .access
        .iter()
        .take(4)
        .map(|(kind, name, actions)| {
            let actions: Vec<String> = actions
                .iter()
                .take(4)
                .map(|a| json_string(ACTIONS[*a as usize % ACTIONS.len()]))
                .collect();
            let name = match name {
                Value::BodyDigest(i) => REPOS[*i as usize % REPOS.len()].to_owned(),
                v => seen.value(v),
            };
            format!(
                "{{\"type\":{},\"name\":{},\"actions\":[{}]}}",
                json_string(RESOURCE_TYPES[*kind as usize % RESOURCE_TYPES.len()]),
                json_string(&name),
                actions.join(",")
            )
        })
        .collect();
    claims.push_str(&format!(
        ",\"access\":[{}],\"x\":{}}}",
        access.join(","),
        json_string(&c.extra)
    ));
    let claims = t.raw_claims.clone().unwrap_or_else(|| claims.into_bytes());
    let input = format!("{}.{}", b64(&header, true), b64(&claims, true));
    let signature = match &t.signature {
        Some(sig) => sig.clone(),
        None => jwks_key()
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .expect("an ES256 signature")
            .as_ref()
            .to_vec(),
    };
    format!("{input}.{}", b64(&signature, true))
}

/// `s` as a JSON string, quoted and escaped by serde_json (what the registry parses with).
fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The request's bytes on the wire, and the digest and size of its body.
fn request(seen: &mut Seen, r: &Req) -> (Vec<u8>, (String, usize)) {
    let mut content_type = None;
    let body = match &r.body {
        Body::Bytes(b) => b.clone(),
        Body::Manifest {
            schema,
            media,
            typed,
            config,
            layers,
            extra,
        } => {
            let media = MEDIA_TYPES[*media as usize % MEDIA_TYPES.len()];
            content_type = typed.then_some(media);
            seen.own.clear();
            manifest_body(seen, *schema, media, config, layers, extra)
        }
    };
    seen.own = format!("sha256:{:x}", Sha256::digest(&body));
    let seen = &*seen;
    let repo = |i: &u8| REPOS[*i as usize % REPOS.len()];
    let path = match &r.target {
        Target::Location => seen.location.clone().unwrap_or_else(|| "/v2/".to_owned()),
        Target::Base => "/v2/".to_owned(),
        Target::Catalog => "/v2/_catalog".to_owned(),
        Target::UploadStart { repo: i } => format!("/v2/{}/blobs/uploads/", repo(i)),
        Target::PushBlob { repo: i } => {
            format!(
                "/v2/{}/blobs/uploads/?digest={}",
                repo(i),
                encode(&seen.own, true)
            )
        }
        Target::Upload { repo: i, id } => {
            format!("/v2/{}/blobs/uploads/{}", repo(i), encode(id, false))
        }
        Target::Blob { repo: i, digest } => {
            format!(
                "/v2/{}/blobs/{}",
                repo(i),
                encode(&seen.value(digest), false)
            )
        }
        Target::Manifest { repo: i, reference } => {
            format!(
                "/v2/{}/manifests/{}",
                repo(i),
                encode(&seen.value(reference), false)
            )
        }
        Target::Tags { repo: i } => format!("/v2/{}/tags/list", repo(i)),
        Target::Referrers { repo: i, digest } => {
            format!(
                "/v2/{}/referrers/{}",
                repo(i),
                encode(&seen.value(digest), false)
            )
        }
        Target::Raw(p) => format!("/{}", encode(p, false)),
    };
    let mut target = path;
    for (k, v) in r.query.iter().take(4) {
        let sep = if target.contains('?') { '&' } else { '?' };
        let key = QUERY_KEYS[*k as usize % QUERY_KEYS.len()];
        target.push_str(&format!("{sep}{key}={}", encode(&seen.value(v), true)));
    }
    let method = match r.target {
        Target::PushBlob { .. } => "POST",
        _ => METHODS[r.method as usize % METHODS.len()],
    };
    // `Connection: close`: the server closes once it has answered, which ends the exchange
    // (a client that half-closes first would have hyper drop the request).
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
    for (k, v) in r.headers.iter().take(6) {
        let name = HEADERS[*k as usize % HEADERS.len()];
        if matches!(name, "Host" | "Transfer-Encoding" | "Connection") {
            // Framing stays hyper's: these only get harmless values.
            head.push_str(&format!(
                "X-Fuzz-{name}: {}\r\n",
                header_value(&seen.value(v))
            ));
            continue;
        }
        head.push_str(&format!("{name}: {}\r\n", header_value(&seen.value(v))));
    }
    if let Some(t) = &r.token {
        head.push_str(&format!("Authorization: Bearer {}\r\n", token(seen, t)));
    }
    if let Some(media) = content_type {
        head.push_str(&format!("Content-Type: {media}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    (out, (seen.own.clone(), body.len()))
}

/// Status and headers of the final response in `raw` (after any `100 Continue`).
fn parse_response(raw: &[u8]) -> Option<(u16, Vec<(String, String)>)> {
    let mut rest = raw;
    loop {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        if status == 100 {
            rest = &rest[end + 4..];
            continue;
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        return Some((status, headers));
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fn config(token_auth: bool) -> &'static Config {
    static OPEN: OnceLock<Config> = OnceLock::new();
    static TOKEN: OnceLock<Config> = OnceLock::new();
    if !token_auth {
        return OPEN.get_or_init(|| Config::from_yaml(CONFIG, &[]).expect("the fuzz config"));
    }
    TOKEN.get_or_init(|| {
        let yaml = format!(
            "{CONFIG}auth:\n  token:\n    realm: http://127.0.0.1:1/token\n    service: \
             {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {TOKEN_DATA}/bundle.pem\n    \
             jwks: {TOKEN_DATA}/jwks.json\n"
        );
        Config::from_yaml(&yaml, &[]).expect("the fuzz config with token auth")
    })
}

async fn exchange(app: &App, wire: Vec<u8>) -> Vec<u8> {
    let (client, server) = tokio::io::duplex(1 << 16);
    let app = app.clone();
    let serve = tokio::spawn(async move {
        let _ = app.serve_io(server).await;
    });
    let (mut rd, mut wr) = tokio::io::split(client);
    let write = async move {
        let _ = wr.write_all(&wire).await;
        wr
    };
    let read = async move {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        out
    };
    let (_wr, out) = tokio::join!(write, read);
    let _ = serve.await;
    out
}

fuzz_target!(|input: Input| {
    runtime().block_on(async {
        let app = App::with_driver(
            config(input.token_auth),
            Arc::new(Base::new(InMemoryDriver::new())),
        )
        .expect("an app");
        let mut seen = Seen::default();
        for r in input.requests.iter().take(8) {
            let (wire, body) = request(&mut seen, r);
            // A response may echo what the request said (a tag, an id); only a storage path
            // the request did not contain is a leak.
            let asked = String::from_utf8_lossy(&wire).contains("registry/v2");
            let raw = exchange(&app, wire).await;
            seen.bodies.push(body);
            let text = String::from_utf8_lossy(&raw);
            assert!(
                asked || !text.contains("/docker/registry/v2"),
                "a response shows a storage path:\n{text}"
            );
            let Some((status, headers)) = parse_response(&raw) else {
                // hyper refused the request line or headers and closed the connection.
                continue;
            };
            assert!(status < 500, "server error for a request:\n{r:?}\n{text}");
            if let Some((_, loc)) = headers.iter().find(|(k, _)| k == "location") {
                seen.location = Some(loc.clone());
            }
        }
    });
});
