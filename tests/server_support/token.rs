//! Docker token authentication for the tests: test tokens signed with the throw-away keys of
//! `tests/data/token/` (see its README), and a small token server that issues them through
//! the standard flow (`GET <realm>?service=...&scope=...`, Basic credentials optional).
//!
//! It needs `tests/common` (`mod common;` in the test), so it is not a module of
//! `server_support/mod.rs`: include it with `#[path = "server_support/token.rs"] mod token;`.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::common::fake_http::{serve_fake, FakeRequest, FakeResponse, RequestLog};

/// The test key material.
pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/token");

/// The libtrust key id (what registry:2 2.x token servers put in `kid`) of `rsa.pem`.
pub const RSA_KID: &str = "FJNL:YHYJ:H7QC:34PM:5OWN:MQLE:MRZP:ICO7:JZTV:FSO7:OXZT:CGKK";

/// The `service` (and `aud`) of the test registries.
pub const SERVICE: &str = "s3driver-test-registry";

/// The `issuer` (and `iss`) of the test tokens.
pub const ISSUER: &str = "s3driver-test-issuer";

/// base64url without padding.
pub fn b64url(v: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in v.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Signs a JWT of `header` and `claims` with the PKCS#8 key `<key>.key.pk8` of
/// [`DATA`] (`rsa`, `ec`, `leaf`, `jwks`, `other`): RS256 for RSA keys, ES256 for EC keys.
pub fn sign(header: &Value, claims: &Value, key: &str) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let pk8 = std::fs::read(format!("{DATA}/{key}.key.pk8")).expect("test key");
    let rng = ring::rand::SystemRandom::new();
    let sig = if let Ok(k) = ring::signature::RsaKeyPair::from_pkcs8(&pk8) {
        let mut s = vec![0; k.public().modulus_len()];
        k.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &rng,
            input.as_bytes(),
            &mut s,
        )
        .expect("RSA signature");
        s
    } else {
        ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pk8,
            &rng,
        )
        .expect("EC key")
        .sign(&rng, input.as_bytes())
        .expect("EC signature")
        .as_ref()
        .to_vec()
    };
    format!("{input}.{}", b64url(&sig))
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Claims of a token for `sub` with `access`, valid for five minutes.
pub fn claims(sub: &str, access: Value) -> Value {
    json!({
        "iss": ISSUER, "sub": sub, "aud": SERVICE,
        "exp": now() + 300, "nbf": now() - 10, "iat": now(),
        "jti": format!("{sub}-{}", now()), "access": access,
    })
}

/// The RS256 header naming the RSA test key by its libtrust id.
pub fn rs256() -> Value {
    json!({"typ": "JWT", "alg": "RS256", "kid": RSA_KID})
}

/// A token for `sub` with `access`, signed by the trusted RSA key.
pub fn token(sub: &str, access: Value) -> String {
    sign(&rs256(), &claims(sub, access), "rsa")
}

/// `auth.token` YAML for a registry trusting the test keys, its realm `realm`.
pub fn auth_yaml(realm: &str) -> String {
    format!(
        "auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {DATA}/bundle.pem\n"
    )
}

/// A token request the server received.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The Basic user, or empty (anonymous).
    pub account: String,
    /// The `service` parameter.
    pub service: String,
    /// The `scope` parameters, in order.
    pub scopes: Vec<String>,
}

/// A token server: users (name, password, the actions they may get on any repository; `*`
/// for everything, the catalog included); anonymous requests get tokens without access.
pub struct TokenServer {
    /// The realm to configure (`http://127.0.0.1:PORT/token`).
    pub realm: String,
    issued: Arc<Mutex<Vec<Issued>>>,
    _log: RequestLog,
}

fn percent_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn basic_user(req: &FakeRequest) -> Option<(String, String)> {
    let v = req.header("authorization")?;
    let b64 = v.strip_prefix("Basic ")?;
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in b64.trim_end_matches('=').bytes() {
        let v = T.iter().position(|t| *t == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    let text = String::from_utf8(out).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

impl TokenServer {
    /// Starts the server on 127.0.0.1.
    pub async fn start(users: &[(&str, &str, &[&str])]) -> TokenServer {
        let users: Vec<(String, String, Vec<String>)> = users
            .iter()
            .map(|(u, p, a)| {
                (
                    (*u).to_owned(),
                    (*p).to_owned(),
                    a.iter().map(|s| (*s).to_owned()).collect(),
                )
            })
            .collect();
        let issued: Arc<Mutex<Vec<Issued>>> = Arc::default();
        let record = Arc::clone(&issued);
        let (addr, log) = serve_fake(move |req| {
            let query = req.path.split_once('?').map_or("", |(_, q)| q);
            let mut service = String::new();
            let mut scopes = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                match k {
                    "service" => service = percent_decode(v),
                    "scope" => scopes.extend(percent_decode(v).split(' ').map(str::to_owned)),
                    _ => {}
                }
            }
            let (account, allowed) = match basic_user(req) {
                None => (String::new(), Vec::new()),
                Some((u, p)) => match users.iter().find(|(n, pw, _)| *n == u && *pw == p) {
                    Some((n, _, a)) => (n.clone(), a.clone()),
                    None => return FakeResponse::new(401, r#"{"details":"wrong credentials"}"#),
                },
            };
            record.lock().unwrap().push(Issued {
                account: account.clone(),
                service: service.clone(),
                scopes: scopes.clone(),
            });
            let mut access = Vec::new();
            for scope in &scopes {
                let mut parts = scope.rsplitn(2, ':');
                let (Some(actions), Some(rest)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let Some((kind, name)) = rest.split_once(':') else {
                    continue;
                };
                let granted: Vec<&str> = actions
                    .split(',')
                    .filter(|a| allowed.iter().any(|x| x == "*" || x == a))
                    .collect();
                if !granted.is_empty() {
                    access.push(json!({"type": kind, "name": name, "actions": granted}));
                }
            }
            let sub = if account.is_empty() {
                "anonymous"
            } else {
                &account
            };
            let t = token(sub, Value::Array(access));
            let body = json!({"token": t, "access_token": t, "expires_in": 300}).to_string();
            FakeResponse::new(200, body).header("Content-Type", "application/json")
        })
        .await;
        TokenServer {
            realm: format!("http://{addr}/token"),
            issued,
            _log: log,
        }
    }

    /// The token requests served so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.issued.lock().unwrap().clone()
    }
}
