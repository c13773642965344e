//! `auth.token`: Docker's token authentication, as registry:2 implements it
//! (`registry/auth/token`).
//!
//! A client without a token gets `401 UNAUTHORIZED` with the challenge
//! `Bearer realm="<realm>",service="<service>",scope="repository:<name>:pull,push"` (the scope
//! the request needs; none for `/v2/`), fetches a token from the realm and sends it as
//! `Authorization: Bearer <JWT>`. A token is accepted when
//!
//! * its signature verifies (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA; `alg: none`
//!   and the HMAC algorithms are refused) with a trusted key, found as registry:2 finds it:
//!   - an `x5c` header: the chain must lead to a certificate of `rootcertbundle`, and its leaf
//!     key signs the token;
//!   - a `jwk` header: the key must be a trusted one (same key material, or its `kid` names
//!     one), or carry an `x5c` chain as above;
//!   - a `kid` header: the key of that id. The ids of a `rootcertbundle` certificate's key
//!     are its libtrust fingerprint (registry:2 2.x, what token servers written for it send)
//!     and its RFC 7638 JWK thumbprint (registry:2 3.x); a `jwks` key's id is its `kid`;
//! * `iss` is `issuer` and `aud` (a string or a list) names `service`;
//! * it is not expired and already valid (`exp` required, `nbf` optional, integers), with
//!   registry:2's 60 s leeway for clock skew;
//! * its `access` claim grants every action the request needs: `pull` to read, `pull` and
//!   `push` to write, `delete` to delete, on `repository:<name>` (`pull` on the source of a
//!   cross-repository mount too), `*` on `registry:catalog` for the catalog; the action `*`
//!   grants every action.
//!
//! Refusals are `401 UNAUTHORIZED` with the challenge plus `error="invalid_token"` (bad
//! signature, untrusted key, wrong issuer or audience, expired, malformed) or
//! `error="insufficient_scope"` (valid, but the access is not granted), as registry:2 answers.
//! Why a token was refused is logged at info level; tokens themselves never are.
//!
//! The token (JWS compact serialization: base64url header, claims and signature) and its
//! JWKs are read here with `serde_json`, signatures are checked with `ring` (the crypto rustls
//! already brings), certificates parsed and chains validated with `rustls-webpki`, and the
//! claims checked here (strictly typed: a string `exp` is malformed, not absent). RSA keys
//! need at least 2048 bits; P-521 keys are not supported.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hyper::header::AUTHORIZATION;
use hyper::HeaderMap;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use spki::der::{Decode, Reader, SliceReader};

use super::auth::{Access, Denied};
use crate::config::{ConfigError, TokenConfig};

/// registry:2's allowance for clock skew on `exp` and `nbf`.
pub(super) const LEEWAY_SECS: i64 = 60;

/// Claims values longer than this are cut in log lines.
const LOG_VALUE_MAX: usize = 100;

/// A JWS signature algorithm this registry verifies (the asymmetric ones of RFC 7518 but
/// ES512; the names are the `alg` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// The algorithms accepted when `signingalgorithms` is not set: every asymmetric one.
const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A public key tokens may be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed point (`04 || x || y`).
    Ec { curve: Curve, point: Vec<u8> },
    /// The 32 raw bytes.
    Ed25519(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

impl PublicKey {
    /// Whether `alg` is a signature algorithm of this kind of key.
    fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (
                Self::Rsa { .. },
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ) | (
                Self::Ec {
                    curve: Curve::P256,
                    ..
                },
                Algorithm::ES256
            ) | (
                Self::Ec {
                    curve: Curve::P384,
                    ..
                },
                Algorithm::ES384
            ) | (Self::Ed25519(_), Algorithm::EdDSA)
        )
    }

    /// Whether `signature` is this key's signature of `msg` with `alg` (which [`Self::fits`]).
    fn verify(&self, alg: Algorithm, msg: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        if !self.fits(alg) {
            return false;
        }
        let rsa: &'static sig::RsaParameters = match alg {
            Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            Algorithm::ES256 => {
                return self.verify_raw(&sig::ECDSA_P256_SHA256_FIXED, msg, signature)
            }
            Algorithm::ES384 => {
                return self.verify_raw(&sig::ECDSA_P384_SHA384_FIXED, msg, signature)
            }
            Algorithm::EdDSA => return self.verify_raw(&sig::ED25519, msg, signature),
        };
        match self {
            Self::Rsa { n, e } => sig::RsaPublicKeyComponents { n, e }
                .verify(rsa, msg, signature)
                .is_ok(),
            _ => false,
        }
    }

    /// Whether `signature` is this EC or Ed25519 key's signature of `msg` with `algorithm`.
    fn verify_raw(
        &self,
        algorithm: &'static dyn ring::signature::VerificationAlgorithm,
        msg: &[u8],
        signature: &[u8],
    ) -> bool {
        match self {
            Self::Ec { point: raw, .. } | Self::Ed25519(raw) => {
                ring::signature::UnparsedPublicKey::new(algorithm, raw)
                    .verify(msg, signature)
                    .is_ok()
            }
            Self::Rsa { .. } => false,
        }
    }

    /// The key of a DER SubjectPublicKeyInfo.
    fn from_spki(der: &[u8]) -> Result<Self, String> {
        const RSA: spki::ObjectIdentifier =
            spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
        const EC: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
        const P256: spki::ObjectIdentifier =
            spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
        const P384: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.132.0.34");
        const ED25519: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.101.112");
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("not a valid public key ({e})"))?;
        let bits = info
            .subject_public_key
            .as_bytes()
            .ok_or("not a valid public key (partial bit string)")?;
        let (oid, param) = info
            .algorithm
            .oids()
            .map_err(|e| format!("not a valid public key algorithm ({e})"))?;
        if oid == RSA {
            let mut r = SliceReader::new(bits).map_err(|e| e.to_string())?;
            let (n, e) = r
                .sequence(|r| {
                    let n = spki::der::asn1::UintRef::decode(r)?;
                    let e = spki::der::asn1::UintRef::decode(r)?;
                    Ok::<_, spki::der::Error>((n.as_bytes().to_vec(), e.as_bytes().to_vec()))
                })
                .map_err(|e| format!("not a valid RSA public key ({e})"))?;
            r.finish()
                .map_err(|e| format!("not a valid RSA public key ({e})"))?;
            Ok(Self::Rsa { n, e })
        } else if oid == EC {
            let curve = match param {
                Some(c) if c == P256 => Curve::P256,
                Some(c) if c == P384 => Curve::P384,
                _ => return Err("an EC key on a curve other than P-256 and P-384".to_owned()),
            };
            if bits.len() != 1 + 2 * curve.coordinate_len() || bits[0] != 4 {
                return Err(format!(
                    "not a valid {} public key (a compressed point?)",
                    curve.name()
                ));
            }
            Ok(Self::Ec {
                curve,
                point: bits.to_vec(),
            })
        } else if oid == ED25519 {
            Ok(Self::Ed25519(bits.to_vec()))
        } else {
            Err(format!(
                "a {oid} key; supported are RSA, EC P-256/P-384 and Ed25519"
            ))
        }
    }

    /// The key of a JWK (its parameters only; `kid`, `x5c` are the caller's).
    fn from_jwk(jwk: &Map<String, Value>) -> Result<Self, String> {
        let text = |name: &str| match jwk.get(name) {
            Some(Value::String(s)) => Ok(s.as_str()),
            None | Some(Value::Null) => Err(format!("a key without {name}")),
            Some(_) => Err(format!("not a valid key ({name} is not a string)")),
        };
        let b64 = |name: &str| {
            URL_SAFE_NO_PAD
                .decode(text(name)?.trim_end_matches('='))
                .map_err(|_| format!("{name} is not base64url"))
        };
        match text("kty")? {
            "RSA" => Ok(Self::Rsa {
                n: strip_zeros(b64("n")?),
                e: strip_zeros(b64("e")?),
            }),
            "EC" => {
                let curve = match text("crv")? {
                    "P-256" => Curve::P256,
                    "P-384" => Curve::P384,
                    _ => return Err("an EC key on a curve other than P-256 and P-384".to_owned()),
                };
                let (x, y) = (b64("x")?, b64("y")?);
                let len = curve.coordinate_len();
                if x.len() > len || y.len() > len {
                    return Err(format!("not a valid {} key", curve.name()));
                }
                let mut point = vec![4u8];
                for c in [x, y] {
                    point.resize(point.len() + len - c.len(), 0);
                    point.extend_from_slice(&c);
                }
                Ok(Self::Ec { curve, point })
            }
            "OKP" if text("crv")? == "Ed25519" => Ok(Self::Ed25519(b64("x")?)),
            "oct" => {
                Err("a symmetric (oct) key; token signing keys must be public keys".to_owned())
            }
            _ => Err("an unsupported key type".to_owned()),
        }
    }

    /// RFC 7638 thumbprints (SHA-256, base64url) of the key: registry:2 3.x's ids of certificate
    /// keys. For EC keys also the form Go's `big.Int.Bytes` gives coordinates with a leading
    /// zero byte (registry:2 3.x hashes those unpadded).
    fn thumbprints(&self) -> Vec<String> {
        let b = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        let hash = |json: String| URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes()));
        match self {
            Self::Rsa { n, e } => vec![hash(format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b(e),
                b(n)
            ))],
            Self::Ec { curve, point } => {
                let len = curve.coordinate_len();
                let (x, y) = point[1..].split_at(len);
                let mut out = vec![hash(format!(
                    r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                    curve.name(),
                    b(x),
                    b(y)
                ))];
                let (xs, ys) = (strip_zeros(x.to_vec()), strip_zeros(y.to_vec()));
                if xs.len() != len || ys.len() != len {
                    out.push(hash(format!(
                        r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                        curve.name(),
                        b(&xs),
                        b(&ys)
                    )));
                }
                out
            }
            Self::Ed25519(x) => vec![hash(format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                b(x)
            ))],
        }
    }
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros.min(v.len().saturating_sub(1)));
    v
}

/// libtrust's key id (what registry:2 2.x calls a key's `kid`): the SHA-256 of the DER
/// SubjectPublicKeyInfo, cut to 240 bits, in base32 as twelve groups of four joined by `:`.
fn libtrust_key_id(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(spki_der);
    let mut s = String::with_capacity(48);
    for chunk in digest[..30].chunks(5) {
        let v = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        for i in (0..8).rev() {
            s.push(char::from(ALPHABET[((v >> (i * 5)) & 31) as usize]));
        }
    }
    let groups: Vec<&str> = (0..12).map(|i| &s[i * 4..i * 4 + 4]).collect();
    groups.join(":")
}

/// The token access controller.
pub(super) struct TokenAuth {
    realm: String,
    service: String,
    issuer: String,
    auto_redirect: Option<String>,
    /// The `rootcertbundle` certificates, as anchors for `x5c` chains.
    anchors: Vec<TrustAnchor<'static>>,
    /// Trusted keys by id (libtrust fingerprint, RFC 7638 thumbprint, JWKS `kid`).
    keys: HashMap<String, Arc<PublicKey>>,
    /// Every trusted key by thumbprint, to recognise a `jwk` header that is one of them.
    thumbprints: HashMap<String, Arc<PublicKey>>,
    algorithms: Vec<Algorithm>,
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuth")
            .field("realm", &self.realm)
            .field("service", &self.service)
            .field("issuer", &self.issuer)
            .field("anchors", &self.anchors.len())
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No bearer token: a plain challenge.
    Required,
    /// A bad token (`error="invalid_token"`); the reason is for the log.
    Invalid(String),
    /// A good token without the access needed (`error="insufficient_scope"`).
    InsufficientScope,
}

fn config_error(key: &str, message: String) -> ConfigError {
    ConfigError::new(format!("auth.token.{key}"), message)
}

impl TokenAuth {
    /// Reads the certificate bundle and the JWKS file of `cfg`.
    ///
    /// # Errors
    /// A file cannot be read or holds no usable key, or `signingalgorithms` names an
    /// algorithm that is not supported.
    pub(super) fn load(cfg: &TokenConfig) -> Result<Self, ConfigError> {
        let mut auth = Self {
            realm: cfg.realm.clone(),
            service: cfg.service.clone(),
            issuer: cfg.issuer.clone(),
            auto_redirect: cfg.auto_redirect.clone(),
            anchors: Vec::new(),
            keys: HashMap::new(),
            thumbprints: HashMap::new(),
            algorithms: Vec::new(),
        };
        if let Some(path) = &cfg.root_cert_bundle {
            auth.load_bundle(path)?;
        }
        if let Some(path) = &cfg.jwks {
            auth.load_jwks(path)?;
        }
        if auth.keys.is_empty() {
            return Err(config_error(
                "rootcertbundle",
                "auth.token: neither auth.token.rootcertbundle nor auth.token.jwks holds a usable token signing key".to_owned(),
            ));
        }
        for name in &cfg.signing_algorithms {
            let alg = DEFAULT_ALGORITHMS
                .iter()
                .find(|a| a.name() == name)
                .ok_or_else(|| {
                    config_error(
                        "signingalgorithms",
                        format!(
                            "auth.token.signingalgorithms: {name:?} is not supported; supported are RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"
                        ),
                    )
                })?;
            auth.algorithms.push(*alg);
        }
        if auth.algorithms.is_empty() {
            auth.algorithms = DEFAULT_ALGORITHMS.to_vec();
        }
        Ok(auth)
    }

    fn load_bundle(&mut self, path: &std::path::Path) -> Result<(), ConfigError> {
        let key = "rootcertbundle";
        let shown = path.display();
        let pem = std::fs::read(path).map_err(|e| {
            config_error(
                key,
                format!("auth.token.rootcertbundle: cannot read {shown}: {e}"),
            )
        })?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| {
                config_error(
                    key,
                    format!(
                        "auth.token.rootcertbundle: {shown} is not a PEM certificate bundle: {e}"
                    ),
                )
            })?;
        if certs.is_empty() {
            return Err(config_error(
                key,
                format!("auth.token.rootcertbundle: {shown} holds no certificate (PEM `CERTIFICATE` blocks); token auth needs at least one token signing certificate"),
            ));
        }
        for (i, der) in certs.iter().enumerate() {
            let anchor = webpki::anchor_from_trusted_cert(der).map_err(|e| {
                config_error(
                    key,
                    format!("auth.token.rootcertbundle: certificate {} of {shown} cannot be parsed: {e:?}", i + 1),
                )
            })?;
            let spki = webpki::spki_for_anchor(&anchor);
            self.anchors.push(anchor.to_owned());
            let public = PublicKey::from_spki(&spki).map_err(|e| {
                config_error(
                    key,
                    format!(
                        "auth.token.rootcertbundle: certificate {} of {shown} has {e}",
                        i + 1
                    ),
                )
            })?;
            let public = Arc::new(public);
            self.keys
                .insert(libtrust_key_id(&spki), Arc::clone(&public));
            for t in public.thumbprints() {
                self.keys.insert(t.clone(), Arc::clone(&public));
                self.thumbprints.insert(t, Arc::clone(&public));
            }
        }
        Ok(())
    }

    fn load_jwks(&mut self, path: &std::path::Path) -> Result<(), ConfigError> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| {
            config_error("jwks", format!("auth.token.jwks: cannot read {shown}: {e}"))
        })?;
        let not_a_set = |e: String| {
            config_error(
                "jwks",
                format!(
                    "auth.token.jwks: {shown} is not a JSON Web Key Set ({{\"keys\": [...]}}): {e}"
                ),
            )
        };
        let set: Value =
            serde_json::from_slice(text.as_bytes()).map_err(|e| not_a_set(e.to_string()))?;
        let Some(Value::Array(keys)) = set.get("keys") else {
            return Err(not_a_set("no \"keys\" list".to_owned()));
        };
        for (i, jwk) in keys.iter().enumerate() {
            let jwk = jwk
                .as_object()
                .ok_or_else(|| not_a_set(format!("key {} is not an object", i + 1)))?;
            let kid = match jwk.get("kid") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => String::new(),
                Some(_) => {
                    return Err(not_a_set(format!(
                        "the kid of key {} is not a string",
                        i + 1
                    )))
                }
            };
            let public = PublicKey::from_jwk(jwk).map_err(|e| {
                config_error(
                    "jwks",
                    format!("auth.token.jwks: key {} ({kid:?}) of {shown} is {e}", i + 1),
                )
            })?;
            let public = Arc::new(public);
            for t in public.thumbprints() {
                self.thumbprints.insert(t, Arc::clone(&public));
            }
            if kid.is_empty() {
                tracing::warn!(path = %shown, key = i + 1, "auth.token.jwks: a key without a kid can only match a token's jwk header");
            } else {
                self.keys.insert(kid, public);
            }
        }
        Ok(())
    }

    /// The `WWW-Authenticate` value registry:2 answers with: realm (or the auto-redirect realm
    /// on `host`), service, the scope `access` needs and the error of `refusal`.
    pub(super) fn challenge(&self, host: &str, access: &[Access], refusal: &Refusal) -> String {
        let realm = match &self.auto_redirect {
            Some(path) => format!("https://{host}{path}"),
            None => self.realm.clone(),
        };
        let mut s = format!(
            "Bearer realm={},service={}",
            go_quote(&realm),
            go_quote(&self.service)
        );
        let scope = scope_param(access);
        if !scope.is_empty() {
            s.push_str(",scope=");
            s.push_str(&go_quote(&scope));
        }
        match refusal {
            Refusal::Required => {}
            Refusal::Invalid(_) => s.push_str(",error=\"invalid_token\""),
            Refusal::InsufficientScope => s.push_str(",error=\"insufficient_scope\""),
        }
        s
    }

    /// Checks the request's bearer token for `access`; the token's subject when granted.
    pub(super) fn authorize(
        &self,
        headers: &HeaderMap,
        host: &str,
        access: &[Access],
    ) -> Result<String, Denied> {
        self.check(headers, access).map_err(|refusal| {
            if let Refusal::Invalid(reason) = &refusal {
                tracing::info!(reason = %reason, "bearer token refused");
            }
            Denied::Challenge(self.challenge(host, access, &refusal))
        })
    }

    /// [`TokenAuth::authorize`] without the challenge.
    pub(super) fn check(&self, headers: &HeaderMap, access: &[Access]) -> Result<String, Refusal> {
        let raw = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .map(|(_, token)| token.trim())
            .ok_or(Refusal::Required)?;
        let claims = self.verify(raw, now_secs())?;
        let granted = access_claim(&claims)?;
        for a in access {
            let ok = granted.iter().any(|(kind, name, actions)| {
                kind == a.kind
                    && *name == a.name
                    && actions.iter().any(|x| x == "*" || x == a.action)
            });
            if !ok {
                return Err(Refusal::InsufficientScope);
            }
        }
        Ok(claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned())
    }

    /// Verifies `raw`'s signature and registered claims at time `now` (seconds since the
    /// epoch); its claims when valid.
    fn verify(&self, raw: &str, now: f64) -> Result<serde_json::Map<String, Value>, Refusal> {
        let invalid = |why: String| Refusal::Invalid(why);
        let malformed = |why: &str| invalid(format!("malformed token ({why})"));
        let mut parts = raw.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not three dot-separated parts"));
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| malformed(&format!("the {what} is not base64url")))
        };
        let json = |part: &str, what: &str| match serde_json::from_slice(&decode(part, what)?) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => Err(malformed(&format!("the {what} is not a JSON object"))),
            Err(e) => Err(malformed(&format!("the {what} is not JSON: {e}"))),
        };
        let header = json(header, "header")?;
        let alg = match header.get("alg") {
            Some(Value::String(name)) => name.as_str(),
            _ => return Err(malformed("no alg header")),
        };
        let Some(alg) = self.algorithms.iter().copied().find(|a| a.name() == alg) else {
            return Err(invalid(
                if SYMMETRIC_ALGORITHMS.contains(&alg)
                    || DEFAULT_ALGORITHMS.iter().any(|a| a.name() == alg)
                {
                    format!("signing algorithm {alg} is not accepted")
                } else {
                    format!("malformed token (unknown signing algorithm {:?})", cut(alg))
                },
            ));
        };
        let key = self.signing_key(&header)?;
        if !key.fits(alg) {
            return Err(invalid(format!(
                "signing algorithm {alg:?} does not fit the signing key"
            )));
        }
        let signed = &raw[..header_len(raw)];
        if !key.verify(alg, signed.as_bytes(), &decode(signature, "signature")?) {
            return Err(invalid("bad signature".to_owned()));
        }
        let claims = json(payload, "claims")?;
        let text = |name: &str| -> Result<Option<&str>, Refusal> {
            match claims.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(invalid(format!("malformed token ({name} is not a string)"))),
            }
        };
        let int = |name: &str| -> Result<Option<i64>, Refusal> {
            match claims.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| invalid(format!("malformed token ({name} is not an integer)"))),
            }
        };
        let iss = text("iss")?.unwrap_or_default();
        if iss != self.issuer {
            return Err(invalid(format!(
                "token from untrusted issuer {:?}",
                cut(iss)
            )));
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().ok_or_else(|| {
                        invalid("malformed token (aud is not a list of strings)".to_owned())
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(invalid(
                    "malformed token (aud is not a string or a list)".to_owned(),
                ))
            }
        };
        if !audiences.contains(&self.service.as_str()) {
            let shown: Vec<&str> = audiences.iter().map(|a| cut(a)).collect();
            return Err(invalid(format!(
                "token intended for another audience {shown:?}"
            )));
        }
        // Missing: 0, as registry:2 reads it (expired long ago).
        let exp = int("exp")?.unwrap_or(0);
        if now > (exp.saturating_add(LEEWAY_SECS)) as f64 {
            return Err(invalid(format!("token expired at {exp}")));
        }
        let nbf = int("nbf")?.unwrap_or(0);
        if now < (nbf.saturating_sub(LEEWAY_SECS)) as f64 {
            return Err(invalid(format!("token not valid before {nbf}")));
        }
        int("iat")?;
        text("sub")?;
        Ok(claims)
    }

    /// The trusted key that signed a token with `header` (see the module documentation).
    fn signing_key(&self, header: &Map<String, Value>) -> Result<Arc<PublicKey>, Refusal> {
        let invalid = |why: String| Refusal::Invalid(why);
        if let Some(x5c) = x5c(header, "x5c header")?.filter(|c| !c.is_empty()) {
            return self.chain_key(&x5c).map(Arc::new).map_err(invalid);
        }
        match header.get("jwk") {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => return Err(invalid("malformed token (jwk is not an object)".to_owned())),
        }
        if let Some(jwk) = header.get("jwk").and_then(Value::as_object) {
            if let Some(x5c) = x5c(jwk, "jwk header's x5c")?.filter(|c| !c.is_empty()) {
                return self.chain_key(&x5c).map(Arc::new).map_err(invalid);
            }
            let public =
                PublicKey::from_jwk(jwk).map_err(|e| invalid(format!("the jwk header is {e}")))?;
            let by_material = public
                .thumbprints()
                .iter()
                .find_map(|t| self.thumbprints.get(t))
                .cloned();
            let by_id = jwk
                .get("kid")
                .and_then(Value::as_str)
                .and_then(|kid| self.keys.get(kid))
                .cloned();
            return by_material
                .or(by_id)
                .ok_or_else(|| invalid("untrusted JWK with no certificate chain".to_owned()));
        }
        let kid = match header.get("kid") {
            Some(Value::String(s)) => s.as_str(),
            None | Some(Value::Null) => "",
            Some(_) => return Err(invalid("malformed token (kid is not a string)".to_owned())),
        };
        if !kid.is_empty() {
            return self.keys.get(kid).cloned().ok_or_else(|| {
                invalid(format!(
                    "token signed by untrusted key with ID {:?}",
                    cut(kid)
                ))
            });
        }
        Err(invalid(
            "the token names no signing key (no x5c, jwk or kid header)".to_owned(),
        ))
    }

    /// The leaf key of an `x5c` chain that leads to a `rootcertbundle` certificate.
    fn chain_key(&self, x5c: &[&str]) -> Result<PublicKey, String> {
        let certs: Vec<CertificateDer<'static>> = x5c
            .iter()
            .map(|c| STANDARD.decode(c).map(CertificateDer::from))
            .collect::<Result<_, _>>()
            .map_err(|_| "the x5c header is not base64".to_owned())?;
        let leaf = webpki::EndEntityCert::try_from(&certs[0])
            .map_err(|e| format!("the x5c leaf certificate cannot be parsed ({e:?})"))?;
        leaf.verify_for_usage(
            CHAIN_ALGORITHMS,
            &self.anchors,
            &certs[1..],
            UnixTime::now(),
            AnyUsage,
            None,
            None,
        )
        .map_err(|e| {
            format!("the x5c chain does not lead to a rootcertbundle certificate ({e:?})")
        })?;
        PublicKey::from_spki(&leaf.subject_public_key_info())
            .map_err(|e| format!("the x5c leaf certificate has {e}"))
    }
}

/// The signature algorithms accepted in `x5c` certificate chains.
const CHAIN_ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_3072_8192_SHA384,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Any extended key usage (Go's `x509.ExtKeyUsageAny`, what registry:2 asks of chains).
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

/// The token's `access` claim: (type, name, actions) entries.
fn access_claim(
    claims: &serde_json::Map<String, Value>,
) -> Result<Vec<(String, String, Vec<String>)>, Refusal> {
    let malformed = || Refusal::Invalid("malformed token (access claim)".to_owned());
    let items = match claims.get("access") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(malformed()),
    };
    let field = |o: &serde_json::Map<String, Value>, k: &str| match o.get(k) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(malformed()),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let o = item.as_object().ok_or_else(malformed)?;
        let actions = match o.get("actions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().map(str::to_owned).ok_or_else(malformed))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(malformed()),
        };
        field(o, "class")?;
        out.push((field(o, "type")?, field(o, "name")?, actions));
    }
    Ok(out)
}

/// The challenge's scope: `type:name:action,action` per resource, in the order the access
/// list first names them, space separated.
pub(super) fn scope_param(access: &[Access]) -> String {
    let mut resources: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for a in access {
        match resources
            .iter_mut()
            .find(|(k, n, _)| *k == a.kind && *n == a.name)
        {
            Some((_, _, actions)) => {
                if !actions.contains(&a.action) {
                    actions.push(a.action);
                }
            }
            None => resources.push((a.kind, &a.name, vec![a.action])),
        }
    }
    resources
        .iter()
        .map(|(k, n, actions)| format!("{k}:{n}:{}", actions.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` quoted as Go's `%q` quotes it.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// At most [`LOG_VALUE_MAX`] characters of an attacker-controlled value, for logs.
fn cut(s: &str) -> &str {
    match s.char_indices().nth(LOG_VALUE_MAX) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Algorithm {
    /// The JWS `alg` name.
    fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }
}

/// The HMAC algorithms: known, never accepted (a public key is no secret).
const SYMMETRIC_ALGORITHMS: [&str; 3] = ["HS256", "HS384", "HS512"];

/// The length of `raw`'s signing input (header and claims, without the last dot and the
/// signature); `raw` has three parts.
fn header_len(raw: &str) -> usize {
    raw.rfind('.').unwrap_or(raw.len())
}

/// An `x5c` member of `object` (a token header or a JWK): a list of base64 strings.
fn x5c<'a>(object: &'a Map<String, Value>, what: &str) -> Result<Option<Vec<&'a str>>, Refusal> {
    let malformed =
        || Refusal::Invalid(format!("malformed token ({what} is not a list of strings)"));
    match object.get("x5c") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| c.as_str().ok_or_else(malformed))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    /// Each key type checks the algorithms it fits, and nothing else: P-384 with ES384,
    /// Ed25519 with EdDSA (the end-to-end tests sign with RS256 and ES256).
    #[test]
    fn ec_p384_and_ed25519_signatures_verify_only_with_their_algorithm() {
        use ring::rand::SystemRandom;
        use ring::signature::{self as sig, KeyPair as _};
        let rng = SystemRandom::new();
        let msg = b"header.claims";

        let pkcs8 =
            sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
        let pair = sig::EcdsaKeyPair::from_pkcs8(
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        let ec = PublicKey::Ec {
            curve: Curve::P384,
            point: pair.public_key().as_ref().to_vec(),
        };
        let ec_sig = pair.sign(&rng, msg).unwrap();
        assert!(ec.verify(Algorithm::ES384, msg, ec_sig.as_ref()));
        assert!(!ec.verify(Algorithm::ES384, b"header.claimz", ec_sig.as_ref()));
        assert!(!ec.verify(Algorithm::ES256, msg, ec_sig.as_ref()));
        assert!(!ec.verify(Algorithm::EdDSA, msg, ec_sig.as_ref()));

        let pkcs8 = sig::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = sig::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let ed = PublicKey::Ed25519(pair.public_key().as_ref().to_vec());
        let ed_sig = pair.sign(msg);
        assert!(ed.verify(Algorithm::EdDSA, msg, ed_sig.as_ref()));
        assert!(!ed.verify(Algorithm::EdDSA, b"header.claimz", ed_sig.as_ref()));
        assert!(!ed.verify(Algorithm::ES384, msg, ed_sig.as_ref()));
        assert!(!ed.verify(Algorithm::RS256, msg, ed_sig.as_ref()));
    }

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/token");

    fn cfg() -> TokenConfig {
        TokenConfig {
            realm: "https://auth.example/token".into(),
            service: "registry.example".into(),
            issuer: "test-issuer".into(),
            root_cert_bundle: Some(format!("{DATA}/bundle.pem").into()),
            jwks: Some(format!("{DATA}/jwks.json").into()),
            auto_redirect: None,
            signing_algorithms: Vec::new(),
        }
    }

    fn b64(v: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DATA}/{name}")).unwrap()
    }

    /// Signs `header`.`claims` with a PKCS#8 key of the test data (`rsa`, `ec`, `leaf`,
    /// `jwks`, `other`), RS256 or ES256 by the key's kind.
    fn sign(header: &Value, claims: &Value, key: &str) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let pk8 = read(&format!("{key}.key.pk8"));
        let rng = ring::rand::SystemRandom::new();
        let sig = if let Ok(k) = ring::signature::RsaKeyPair::from_pkcs8(&pk8) {
            let mut s = vec![0; k.public().modulus_len()];
            k.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut s,
            )
            .unwrap();
            s
        } else {
            let k = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &pk8,
                &rng,
            )
            .unwrap();
            k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
        };
        format!("{input}.{}", b64(&sig))
    }

    fn now() -> i64 {
        now_secs() as i64
    }

    fn claims(access: Value) -> Value {
        serde_json::json!({
            "iss": "test-issuer", "sub": "alice", "aud": "registry.example",
            "exp": now() + 300, "nbf": now() - 10, "iat": now(), "jti": "j1",
            "access": access,
        })
    }

    fn pull_push(name: &str) -> Value {
        serde_json::json!([{"type": "repository", "name": name, "actions": ["pull", "push"]}])
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    fn repo(name: &str, action: &'static str) -> Access {
        Access {
            kind: "repository",
            name: name.into(),
            action,
        }
    }

    const RSA_KID: &str = "FJNL:YHYJ:H7QC:34PM:5OWN:MQLE:MRZP:ICO7:JZTV:FSO7:OXZT:CGKK";

    #[test]
    fn key_ids_are_libtrust_fingerprints_and_jwk_thumbprints() {
        // Computed independently (Python: sha256 of `openssl pkey -pubout -outform DER`,
        // base32; the RFC 7638 JSON by hand); the libtrust id of rsa.pem is also accepted by
        // registry:2 2.8.2 in tests/server_token_auth.rs.
        let a = TokenAuth::load(&cfg()).unwrap();
        for kid in [
            RSA_KID,
            "I2KE:CN5R:Q3UW:KMER:XBYE:TRAV:ZUGS:CNKY:CMHJ:HMFX:55S2:XFWS",
            "5TmwvChDtoLaU75XtwUIrKmov3YtI20ofx--4VpZzPQ",
            "Oa9T6ALUr6o3c7eSqLmj0fwwgXXp8EEnxQUgTN2YIGI",
            "s3driver-test-jwks-es256",
        ] {
            assert!(a.keys.contains_key(kid), "{kid} is not a trusted key id");
        }
        assert_eq!(a.anchors.len(), 3);
    }

    #[test]
    fn accepts_tokens_signed_by_trusted_keys() {
        let a = TokenAuth::load(&cfg()).unwrap();
        let access = [repo("a/b", "pull"), repo("a/b", "push")];
        let ok = |token: String| a.check(&bearer(&token), &access);
        // kid = libtrust fingerprint (registry:2 2.x token servers), RS256.
        let t = sign(
            &serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": RSA_KID}),
            &claims(pull_push("a/b")),
            "rsa",
        );
        assert_eq!(ok(t), Ok("alice".into()));
        // kid = RFC 7638 thumbprint (3.x), ES256.
        let t = sign(
            &serde_json::json!({"alg": "ES256", "kid": "Oa9T6ALUr6o3c7eSqLmj0fwwgXXp8EEnxQUgTN2YIGI"}),
            &claims(pull_push("a/b")),
            "ec",
        );
        assert_eq!(ok(t), Ok("alice".into()));
        // kid of the JWKS.
        let t = sign(
            &serde_json::json!({"alg": "ES256", "kid": "s3driver-test-jwks-es256"}),
            &claims(pull_push("a/b")),
            "jwks",
        );
        assert_eq!(ok(t), Ok("alice".into()));
        // An x5c chain to the CA of the bundle, signed by the leaf's key.
        let leaf = CertificateDer::from_pem_slice(&read("leaf.pem")).unwrap();
        let t = sign(
            &serde_json::json!({"alg": "ES256", "x5c": [STANDARD.encode(leaf.as_ref())]}),
            &claims(pull_push("a/b")),
            "leaf",
        );
        assert_eq!(ok(t), Ok("alice".into()));
        // A jwk header that is a trusted key (material equal to the JWKS key).
        let jwks: Value = serde_json::from_slice(&read("jwks.json")).unwrap();
        let mut jwk = jwks["keys"][0].clone();
        jwk.as_object_mut().unwrap().remove("kid");
        let t = sign(
            &serde_json::json!({"alg": "ES256", "jwk": jwk}),
            &claims(pull_push("a/b")),
            "jwks",
        );
        assert_eq!(ok(t), Ok("alice".into()));
        // aud as a list, the action "*".
        let mut c =
            claims(serde_json::json!([{"type": "repository", "name": "a/b", "actions": ["*"]}]));
        c["aud"] = serde_json::json!(["other", "registry.example"]);
        let t = sign(
            &serde_json::json!({"alg": "RS256", "kid": RSA_KID}),
            &c,
            "rsa",
        );
        assert_eq!(ok(t), Ok("alice".into()));
    }

    fn refusal(a: &TokenAuth, header: Value, claims: Value, key: &str) -> Refusal {
        let token = sign(&header, &claims, key);
        a.check(&bearer(&token), &[repo("a/b", "pull"), repo("a/b", "push")])
            .unwrap_err()
    }

    fn invalid(r: &Refusal) -> &str {
        match r {
            Refusal::Invalid(why) => why,
            other => panic!("not invalid_token: {other:?}"),
        }
    }

    #[test]
    fn refuses_bad_tokens_with_the_reason() {
        let a = TokenAuth::load(&cfg()).unwrap();
        let rs = serde_json::json!({"alg": "RS256", "kid": RSA_KID});
        let good = claims(pull_push("a/b"));
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            c
        };
        let cases = [
            (with("exp", (now() - LEEWAY_SECS - 5).into()), "expired"),
            (
                with("nbf", (now() + LEEWAY_SECS + 30).into()),
                "not valid before",
            ),
            (with("aud", "elsewhere".into()), "another audience"),
            (with("iss", "mallory".into()), "untrusted issuer"),
            (with("exp", "never".into()), "exp is not an integer"),
            (with("nbf", "99999999999".into()), "nbf is not an integer"),
            (with("access", "all".into()), "access claim"),
        ];
        for (c, want) in cases {
            let r = refusal(&a, rs.clone(), c, "rsa");
            assert!(invalid(&r).contains(want), "{r:?} should say {want}");
        }
        let mut no_exp = good.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(invalid(&refusal(&a, rs.clone(), no_exp, "rsa")).contains("expired"));
        // Within the leeway is fine, as in registry:2.
        let t = sign(&rs, &with("exp", (now() - 20).into()), "rsa");
        assert!(a.check(&bearer(&t), &[]).is_ok());
        // Another key under a trusted kid: bad signature.
        assert!(invalid(&refusal(&a, rs.clone(), good.clone(), "other")).contains("signature"));
        // An unknown kid.
        let r = refusal(
            &a,
            serde_json::json!({"alg": "RS256", "kid": "nope"}),
            good.clone(),
            "other",
        );
        assert!(invalid(&r).contains("untrusted key"));
        // No key named at all.
        let r = refusal(&a, serde_json::json!({"alg": "RS256"}), good.clone(), "rsa");
        assert!(invalid(&r).contains("names no signing key"));
        // An x5c chain that leads nowhere trusted (a self-signed certificate not in the bundle
        // stands for any attacker's).
        let mut h = serde_json::json!({"alg": "ES256"});
        let ec = CertificateDer::from_pem_slice(&read("ec.pem")).unwrap();
        let leaf = CertificateDer::from_pem_slice(&read("leaf.pem")).unwrap();
        h["x5c"] = serde_json::json!([STANDARD.encode(leaf.as_ref())]);
        let r = refusal(&a, h.clone(), good.clone(), "ec");
        assert!(invalid(&r).contains("signature"), "{r:?}");
        let dir = tempfile::tempdir().unwrap();
        let mut only_rsa = cfg();
        only_rsa.jwks = None;
        std::fs::write(dir.path().join("rsa-only.pem"), read("rsa.pem")).unwrap();
        only_rsa.root_cert_bundle = Some(dir.path().join("rsa-only.pem"));
        let strict = TokenAuth::load(&only_rsa).unwrap();
        let r = refusal(&strict, h, good.clone(), "leaf");
        assert!(invalid(&r).contains("x5c chain"), "{r:?}");
        h = serde_json::json!({"alg": "ES256", "x5c": [STANDARD.encode(ec.as_ref())]});
        let r = refusal(&strict, h, good.clone(), "ec");
        assert!(invalid(&r).contains("x5c"), "{r:?}");
        // A jwk header with an untrusted key.
        let r = refusal(
            &a,
            serde_json::json!({"alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256",
                "x": "bjndBiKxmnr3c7U3k1HcADv74bxzm3bmZWUnVOZjge4",
                "y": "AAAAJBr2nCAE4ADnECjK8vC1PE6FYBDRAM3D9j5kDVg"}}),
            good.clone(),
            "jwks",
        );
        assert!(invalid(&r).contains("untrusted JWK"), "{r:?}");
        // alg none, and HS256 with the public key as the secret (the classic confusion).
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","kid":"FJNL:YHYJ:H7QC:34PM:5OWN:MQLE:MRZP:ICO7:JZTV:FSO7:OXZT:CGKK"}"#),
            b64(good.to_string().as_bytes())
        );
        let r = a.check(&bearer(&none), &[]).unwrap_err();
        assert!(invalid(&r).contains("malformed"), "{r:?}");
        let hs = format!(
            "{}.{}.{}",
            b64(format!(r#"{{"alg":"HS256","kid":"{RSA_KID}"}}"#).as_bytes()),
            b64(good.to_string().as_bytes()),
            b64(&[0u8; 32])
        );
        let r = a.check(&bearer(&hs), &[]).unwrap_err();
        assert!(invalid(&r).contains("HS256"), "{r:?}");
        // ES256 claimed for an RSA key.
        let r = refusal(
            &a,
            serde_json::json!({"alg": "ES256", "kid": RSA_KID}),
            good.clone(),
            "rsa",
        );
        assert!(invalid(&r).contains("does not fit"), "{r:?}");
        // Garbage.
        for junk in ["a.b", "a.b.c", "Bearer"] {
            assert!(matches!(
                a.check(&bearer(junk), &[]),
                Err(Refusal::Invalid(_))
            ));
        }
        assert_eq!(a.check(&HeaderMap::new(), &[]), Err(Refusal::Required));
        let mut basic = HeaderMap::new();
        basic.insert(AUTHORIZATION, HeaderValue::from_static("Basic YTpi"));
        assert_eq!(a.check(&basic, &[]), Err(Refusal::Required));
    }

    #[test]
    fn access_must_cover_every_requested_action() {
        let a = TokenAuth::load(&cfg()).unwrap();
        let rs = serde_json::json!({"alg": "RS256", "kid": RSA_KID});
        let pull_only =
            serde_json::json!([{"type": "repository", "name": "a/b", "actions": ["pull"]}]);
        let t = sign(&rs, &claims(pull_only), "rsa");
        assert!(a.check(&bearer(&t), &[repo("a/b", "pull")]).is_ok());
        assert_eq!(
            a.check(&bearer(&t), &[repo("a/b", "pull"), repo("a/b", "push")]),
            Err(Refusal::InsufficientScope)
        );
        assert_eq!(
            a.check(&bearer(&t), &[repo("a/c", "pull")]),
            Err(Refusal::InsufficientScope)
        );
        let catalog = Access {
            kind: "registry",
            name: "catalog".into(),
            action: "*",
        };
        assert_eq!(
            a.check(&bearer(&t), std::slice::from_ref(&catalog)),
            Err(Refusal::InsufficientScope)
        );
        let t = sign(
            &rs,
            &claims(serde_json::json!([{"type": "registry", "name": "catalog", "actions": ["*"]}])),
            "rsa",
        );
        assert!(a.check(&bearer(&t), &[catalog]).is_ok());
        // No access claim: only requests that need none (`/v2/`).
        let mut c = claims(Value::Null);
        c.as_object_mut().unwrap().remove("access");
        let t = sign(&rs, &c, "rsa");
        assert!(a.check(&bearer(&t), &[]).is_ok());
        assert_eq!(
            a.check(&bearer(&t), &[repo("a/b", "pull")]),
            Err(Refusal::InsufficientScope)
        );
        // signingalgorithms narrows what is accepted.
        let mut only_es = cfg();
        only_es.signing_algorithms = vec!["ES256".into()];
        let es_only = TokenAuth::load(&only_es).unwrap();
        let t = sign(&rs, &claims(pull_push("a/b")), "rsa");
        assert!(invalid(&es_only.check(&bearer(&t), &[]).unwrap_err()).contains("not accepted"));
    }

    #[test]
    fn challenges_are_formed_as_registry2_forms_them() {
        let mut c = cfg();
        let a = TokenAuth::load(&c).unwrap();
        let access = [
            repo("foo", "pull"),
            repo("foo", "push"),
            repo("other/repo", "pull"),
        ];
        assert_eq!(
            a.challenge("h:5000", &access, &Refusal::Required),
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:foo:pull,push repository:other/repo:pull""#
        );
        assert_eq!(
            a.challenge("h:5000", &[], &Refusal::Invalid(String::new())),
            r#"Bearer realm="https://auth.example/token",service="registry.example",error="invalid_token""#
        );
        assert_eq!(
            a.challenge(
                "h",
                &[Access {
                    kind: "registry",
                    name: "catalog".into(),
                    action: "*"
                }],
                &Refusal::InsufficientScope
            ),
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="registry:catalog:*",error="insufficient_scope""#
        );
        c.auto_redirect = Some("/auth/token".into());
        let a = TokenAuth::load(&c).unwrap();
        assert!(a
            .challenge("reg.example:5000", &[], &Refusal::Required)
            .starts_with(r#"Bearer realm="https://reg.example:5000/auth/token","#));
        assert_eq!(go_quote("a\"b\\c\u{1}"), r#""a\"b\\c\x01""#);
    }

    #[test]
    fn configuration_errors_say_what_is_wrong() {
        let mut c = cfg();
        c.root_cert_bundle = Some("/nonexistent/bundle.pem".into());
        let e = TokenAuth::load(&c).unwrap_err().to_string();
        assert!(e.contains("cannot read /nonexistent/bundle.pem"), "{e}");
        let mut c = cfg();
        c.root_cert_bundle = Some(format!("{DATA}/jwks.json").into());
        let e = TokenAuth::load(&c).unwrap_err().to_string();
        assert!(e.contains("holds no certificate"), "{e}");
        let mut c = cfg();
        c.signing_algorithms = vec!["HS256".into()];
        let e = TokenAuth::load(&c).unwrap_err().to_string();
        assert!(e.contains("\"HS256\" is not supported"), "{e}");
    }
}
