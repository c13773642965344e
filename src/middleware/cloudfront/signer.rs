//! The CloudFront URL and cookie signer: RSA PKCS#1 v1.5 over SHA-1 (CloudFront's default, what
//! Distribution uses) or SHA-256 (`Hash-Algorithm=SHA256`), CloudFront base64, and the query
//! parameters / cookies CloudFront expects. Pure: the caller passes every time.

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, ObjectIdentifier, PrivateKeyInfoRef, SecretDocument};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PrivateKey};
use sha1::Digest as _;
use zeroize::Zeroizing;

use super::error::Error;
use super::policy::{check_resource, cloudfront_base64, Policy};

/// The digest signed with the RSA key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1: CloudFront's default and the only one Distribution uses; adds no parameter.
    #[default]
    Sha1,
    /// SHA-256: adds `Hash-Algorithm=SHA256` (`CloudFront-Hash-Algorithm` cookie).
    Sha256,
}

impl HashAlgorithm {
    /// The value CloudFront expects in `Hash-Algorithm` (`"SHA1"` or `"SHA256"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// DER `DigestInfo` prefix (RFC 8017 §9.2, note 1) and digest length.
    fn padding(self) -> Pkcs1v15Sign {
        const SHA1_PREFIX: [u8; 15] = [
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ];
        const SHA256_PREFIX: [u8; 19] = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        let (prefix, len): (&[u8], usize) = match self {
            Self::Sha1 => (&SHA1_PREFIX, 20),
            Self::Sha256 => (&SHA256_PREFIX, 32),
        };
        Pkcs1v15Sign {
            hash_len: Some(len),
            prefix: prefix.into(),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }
}

/// Signs CloudFront URLs and cookies with one key pair.
///
/// `Debug` shows the key-pair id, hash and key size, never the key.
pub struct Signer {
    key: PrivateKey,
    key_pair_id: String,
    hash: HashAlgorithm,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_pair_id", &self.key_pair_id)
            .field("hash", &self.hash)
            .field("key_bits", &(self.key.size() * 8))
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// A query parameter or cookie name and its value, in the order they are emitted.
pub(crate) type Pair = (&'static str, String);

const ID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// The query parameters a URL must not already carry.
const RESERVED_PARAMS: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// Cuts the first PEM block out of `text` (like Go's `pem.Decode`, text around it is ignored).
fn first_pem_block(text: &str) -> Option<(&str, &str)> {
    let begin = text.find("-----BEGIN ")?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label = &rest[..rest.find("-----")?];
    let end_marker = format!("-----END {label}-----");
    let end = begin + text[begin..].find(&end_marker)? + end_marker.len();
    Some((label, &text[begin..end]))
}

fn decode_key(pem: &str, origin: &str) -> Result<PrivateKey, Error> {
    let (label, block) = first_pem_block(pem)
        .ok_or_else(|| Error::key(format!("no PEM block found in {origin}"), None))?;
    let unsupported = |found: &str| Error::UnsupportedKeyType {
        found: found.to_owned(),
    };
    let der = |block: &str| {
        SecretDocument::from_pem(block).map(|(_, doc)| doc).map_err(|e| {
            Error::key(
                format!("the {label} PEM block in {origin} does not decode (an encrypted key with Proc-Type headers must be decrypted first, e.g. `openssl rsa -in key.pem -out plain.pem`)"),
                Some(Box::new(e)),
            )
        })
    };
    let malformed = |e: Box<dyn std::error::Error + Send + Sync>| {
        Error::key(
            format!("the {label} in {origin} is not a valid RSA private key"),
            Some(e),
        )
    };
    match label {
        "RSA PRIVATE KEY" => {
            let doc = der(block)?;
            PrivateKey::from_pkcs1_der(doc.as_bytes()).map_err(|e| malformed(Box::new(e)))
        }
        "PRIVATE KEY" => {
            let doc = der(block)?;
            let info = PrivateKeyInfoRef::try_from(doc.as_bytes())
                .map_err(|e| malformed(Box::new(e)))?;
            match info.algorithm.oid {
                ID_RSA_ENCRYPTION => PrivateKey::from_pkcs8_der(doc.as_bytes())
                    .map_err(|e| malformed(Box::new(e))),
                ID_EC_PUBLIC_KEY => Err(unsupported("ECDSA")),
                ID_DSA => Err(unsupported("DSA")),
                ID_ED25519 => Err(unsupported("Ed25519")),
                ID_ED448 => Err(unsupported("Ed448")),
                ID_RSASSA_PSS => Err(unsupported("RSASSA-PSS")),
                other => Err(unsupported(&format!("with algorithm OID {other}"))),
            }
        }
        "EC PRIVATE KEY" => Err(unsupported("ECDSA")),
        "DSA PRIVATE KEY" => Err(unsupported("DSA")),
        "ENCRYPTED PRIVATE KEY" => Err(Error::key(
            format!("{origin} holds an encrypted PKCS#8 key; decrypt it first (`openssl pkcs8 -in key.pem -out plain.pem`)"),
            None,
        )),
        "OPENSSH PRIVATE KEY" => Err(Error::key(
            format!("{origin} holds an OpenSSH-format key; convert it to PEM first (`ssh-keygen -p -m PEM -f key`)"),
            None,
        )),
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => Err(Error::key(
            format!("{origin} holds a {label}, not a private key; point `privatekey` at the private half of the key pair"),
            None,
        )),
        other => Err(Error::key(
            format!("{origin} holds a PEM block of type {other:?}, not a private key"),
            None,
        )),
    }
}

/// Percent-decodes a query key (enough to spot `Expir%65s`); invalid escapes stay as they are.
fn decode_query_key(key: &str) -> String {
    let b = key.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                #[allow(clippy::cast_possible_truncation)]
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks that `url` can carry a signature and returns the separator to append with.
fn check_url(url: &str) -> Result<&'static str, Error> {
    check_resource(url).map_err(|_| {
        Error::url(format!(
            "{url:?} must be printable ASCII without '\"' or '\\' (percent-encode other characters)"
        ))
    })?;
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(Error::url(format!(
            "{url:?} must start with http:// or https://"
        )));
    }
    if url.contains('#') {
        return Err(Error::url(format!(
            "{url:?} has a fragment ('#'); the signature would not reach CloudFront"
        )));
    }
    let Some((_, query)) = url.split_once('?') else {
        return Ok("?");
    };
    for pair in query.split('&') {
        let key = decode_query_key(pair.split_once('=').map_or(pair, |(k, _)| k));
        if RESERVED_PARAMS.contains(&key.as_str()) {
            return Err(Error::url(format!(
                "{url:?} already has a {key} parameter; sign the URL without CloudFront's signing parameters"
            )));
        }
    }
    Ok(if query.is_empty() || query.ends_with('&') {
        ""
    } else {
        "&"
    })
}

fn check_key_pair_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    {
        return Err(Error::invalid_option(
            "keypairid",
            format!("{id:?} is not a CloudFront key id (letters and digits, e.g. K2JCJMDEHXQW5F)"),
        ));
    }
    Ok(())
}

impl Signer {
    /// A signer from a PEM private key: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what Distribution
    /// accepts) or unencrypted PKCS#8 (`BEGIN PRIVATE KEY`) holding an RSA key. Text around the
    /// first PEM block is ignored.
    ///
    /// # Errors
    /// [`Error::Key`] for missing/undecodable PEM, encrypted or public keys;
    /// [`Error::UnsupportedKeyType`] for ECDSA, DSA, Ed25519, … keys;
    /// [`Error::InvalidOption`] (`keypairid`) for an empty or non-alphanumeric key id.
    pub fn from_pem(pem: &str, key_pair_id: &str) -> Result<Self, Error> {
        Self::from_pem_named(pem, "the PEM text", key_pair_id)
    }

    /// [`Signer::from_pem`] on the contents of the file at `path`.
    ///
    /// # Errors
    /// As [`Signer::from_pem`], plus [`Error::Key`] when the file cannot be read.
    pub fn from_pem_file(path: &Path, key_pair_id: &str) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| {
                Error::key(
                    format!("cannot read private key file {}", path.display()),
                    Some(Box::new(e)),
                )
            })?;
        Self::from_pem_named(&text, &path.display().to_string(), key_pair_id)
    }

    fn from_pem_named(pem: &str, origin: &str, key_pair_id: &str) -> Result<Self, Error> {
        check_key_pair_id(key_pair_id)?;
        Ok(Self {
            key: decode_key(pem, origin)?,
            key_pair_id: key_pair_id.to_owned(),
            hash: HashAlgorithm::Sha1,
        })
    }

    /// Uses `hash` instead of the default SHA-1.
    #[must_use]
    pub fn with_hash_algorithm(mut self, hash: HashAlgorithm) -> Self {
        self.hash = hash;
        self
    }

    /// The CloudFront key id (`Key-Pair-Id`).
    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    /// The digest in use.
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash
    }

    /// The RSA public key, e.g. to verify signatures in tests.
    pub fn public_key(&self) -> &rsa::PublicKey {
        self.key.as_ref()
    }

    /// The CloudFront-base64 RSA PKCS#1 v1.5 signature of `policy_json`.
    ///
    /// # Errors
    /// [`Error::Sign`] when the RSA operation fails (key too small for the digest).
    pub fn sign(&self, policy_json: &[u8]) -> Result<String, Error> {
        let digest = self.hash.digest(policy_json);
        let sig = self
            .key
            .sign(self.hash.padding(), &digest)
            .map_err(|e| Error::Sign {
                source: Box::new(e),
            })?;
        Ok(cloudfront_base64(&sig))
    }

    fn tail(&self, mut out: Vec<Pair>, signature: String, prefix: bool) -> Vec<Pair> {
        let name = |q: &'static str, c: &'static str| if prefix { c } else { q };
        out.push((name("Signature", "CloudFront-Signature"), signature));
        out.push((
            name("Key-Pair-Id", "CloudFront-Key-Pair-Id"),
            self.key_pair_id.clone(),
        ));
        if self.hash != HashAlgorithm::Sha1 {
            out.push((
                name("Hash-Algorithm", "CloudFront-Hash-Algorithm"),
                self.hash.as_str().to_owned(),
            ));
        }
        out
    }

    fn canned_pairs(
        &self,
        resource: &str,
        expires: SystemTime,
        cookies: bool,
    ) -> Result<Vec<Pair>, Error> {
        let policy = Policy::canned(resource, expires)?;
        let signature = self.sign(policy.to_json().as_bytes())?;
        let expires = policy.expires_epoch().to_string();
        let first = if cookies {
            "CloudFront-Expires"
        } else {
            "Expires"
        };
        Ok(self.tail(vec![(first, expires)], signature, cookies))
    }

    fn custom_pairs(&self, policy: &Policy, cookies: bool) -> Result<Vec<Pair>, Error> {
        let json = policy.to_json();
        let signature = self.sign(json.as_bytes())?;
        let first = if cookies {
            "CloudFront-Policy"
        } else {
            "Policy"
        };
        Ok(self.tail(
            vec![(first, cloudfront_base64(json.as_bytes()))],
            signature,
            cookies,
        ))
    }

    /// The query parameters of a canned-policy signed URL for `url`, in emission order:
    /// `Expires`, `Signature`, `Key-Pair-Id`, then `Hash-Algorithm` unless SHA-1.
    ///
    /// # Errors
    /// As [`Signer::sign_url_canned`].
    pub fn canned_query(
        &self,
        url: &str,
        expires: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        check_url(url)?;
        self.canned_pairs(url, expires, false)
    }

    /// Signs `url` with the canned policy (`Resource` = `url`, expiry `expires`): the URL with
    /// `Expires`, `Signature`, `Key-Pair-Id` (and `Hash-Algorithm` unless SHA-1) appended.
    /// This is what Distribution's middleware does.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when `url` is not http(s), has a fragment, is not printable ASCII
    /// without `"`/`\`, or already carries `Expires`, `Policy`, `Signature`, `Key-Pair-Id` or
    /// `Hash-Algorithm`; [`Error::InvalidPolicy`] for an expiry before 1970; [`Error::Sign`].
    pub fn sign_url_canned(&self, url: &str, expires: SystemTime) -> Result<String, Error> {
        let sep = check_url(url)?;
        Ok(append(url, sep, &self.canned_pairs(url, expires, false)?))
    }

    /// The query parameters of a custom-policy signed URL: `Policy`, `Signature`,
    /// `Key-Pair-Id`, then `Hash-Algorithm` unless SHA-1.
    ///
    /// # Errors
    /// As [`Signer::sign_url_custom`].
    pub fn custom_query(
        &self,
        url: &str,
        policy: &Policy,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        check_url(url)?;
        self.custom_pairs(policy, false)
    }

    /// Signs `url` with a custom `policy` (whose resource may be a wildcard pattern covering
    /// `url`): the URL with `Policy`, `Signature`, `Key-Pair-Id` (and `Hash-Algorithm`) appended.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] as for [`Signer::sign_url_canned`]; [`Error::Sign`].
    pub fn sign_url_custom(&self, url: &str, policy: &Policy) -> Result<String, Error> {
        let sep = check_url(url)?;
        Ok(append(url, sep, &self.custom_pairs(policy, false)?))
    }

    /// Signed cookies for a canned policy: `CloudFront-Expires`, `CloudFront-Signature`,
    /// `CloudFront-Key-Pair-Id` (and `CloudFront-Hash-Algorithm` unless SHA-1).
    ///
    /// # Errors
    /// [`Error::InvalidPolicy`] for a bad resource or expiry; [`Error::Sign`].
    pub fn signed_cookies_canned(
        &self,
        resource: &str,
        expires: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        self.canned_pairs(resource, expires, true)
    }

    /// Signed cookies for a custom policy: `CloudFront-Policy`, `CloudFront-Signature`,
    /// `CloudFront-Key-Pair-Id` (and `CloudFront-Hash-Algorithm` unless SHA-1).
    ///
    /// # Errors
    /// [`Error::Sign`].
    pub fn signed_cookies_custom(
        &self,
        policy: &Policy,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        self.custom_pairs(policy, true)
    }
}

fn append(url: &str, sep: &str, pairs: &[Pair]) -> String {
    let mut out = String::with_capacity(url.len() + sep.len());
    out.push_str(url);
    out.push_str(sep);
    // Values are CloudFront base64, digits or the checked key id: nothing to escape.
    crate::sign::encode::join_pairs_into(&mut out, pairs);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const PKCS1: &str = include_str!("../../../signing-vectors/cloudfront/test-rsa-key-pkcs1.pem");
    const PKCS8: &str = include_str!("../../../signing-vectors/cloudfront/test-rsa-key.pem");
    const PUBLIC: &str =
        include_str!("../../../signing-vectors/cloudfront/test-rsa-key-public.pem");
    const EC_PKCS8: &str = include_str!("../../../signing-vectors/cloudfront/test-ecdsa-key.pem");
    const EC_SEC1: &str =
        include_str!("../../../signing-vectors/cloudfront/test-ecdsa-key-sec1.pem");
    const DSA: &str = include_str!("../../../signing-vectors/cloudfront/test-dsa-key.pem");

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn signer() -> Signer {
        Signer::from_pem(PKCS1, "K1TESTKEY").unwrap()
    }

    #[test]
    fn digest_info_prefixes_match_the_rsa_crate() {
        let ours = HashAlgorithm::Sha256.padding();
        let theirs = Pkcs1v15Sign::new::<rsa::sha2::Sha256>();
        assert_eq!(ours.prefix, theirs.prefix);
        assert_eq!(ours.hash_len, theirs.hash_len);
        assert_eq!(HashAlgorithm::Sha1.padding().hash_len, Some(20));
        assert_eq!(HashAlgorithm::default(), HashAlgorithm::Sha1);
        assert_eq!(HashAlgorithm::Sha256.as_str(), "SHA256");
    }

    #[test]
    fn pkcs1_and_pkcs8_load_the_same_key() {
        let a = signer();
        let b =
            Signer::from_pem(&format!("junk before\n{PKCS8}\njunk after"), "K1TESTKEY").unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.sign(b"x").unwrap(), b.sign(b"x").unwrap());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = format!("{:?}", signer());
        assert!(
            s.contains("K1TESTKEY") && s.contains("<redacted>") && s.contains("key_bits"),
            "{s}"
        );
        assert!(
            !s.contains("pubkey_components") && !s.contains("primes"),
            "{s}"
        );
    }

    #[test]
    fn key_errors() {
        let kind = |pem: &str| match Signer::from_pem(pem, "K1TESTKEY").unwrap_err() {
            Error::UnsupportedKeyType { found } => found,
            Error::Key { message, .. } => format!("Key: {message}"),
            e => panic!("{e}"),
        };
        assert_eq!(kind(EC_PKCS8), "ECDSA");
        assert_eq!(kind(EC_SEC1), "ECDSA");
        assert_eq!(kind(DSA), "DSA");
        assert!(kind("").contains("no PEM block"));
        assert!(kind(PUBLIC).contains("not a private key"));
        assert!(kind(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
        )
        .contains("openssl pkcs8"));
        assert!(kind(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
        )
        .contains("ssh-keygen"));
        assert!(
            kind("-----BEGIN RSA PRIVATE KEY-----\n!!!!\n-----END RSA PRIVATE KEY-----\n")
                .contains("does not decode")
        );
        assert!(
            kind("-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n")
                .contains("not a valid RSA")
        );
        assert!(kind("-----BEGIN X-----\nMAA=\n-----END X-----\n").contains("\"X\""));
        let missing = Signer::from_pem_file(Path::new("/nonexistent/cf.pem"), "K1").unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/cf.pem"),
            "{missing}"
        );
        for id in ["", "K 1", "K1\"", "K\u{e9}"] {
            let e = Signer::from_pem(PKCS1, id).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "keypairid",
                        ..
                    }
                ),
                "{id:?}"
            );
        }
    }

    #[test]
    fn signatures_verify() {
        let s = signer().with_hash_algorithm(HashAlgorithm::Sha256);
        let sig = s.sign(b"policy").unwrap();
        let raw: Vec<u8> = {
            // Undo the CloudFront alphabet and decode standard base64.
            let std: String = sig
                .chars()
                .map(|c| match c {
                    '-' => '+',
                    '_' => '=',
                    '~' => '/',
                    c => c,
                })
                .collect();
            use base64::{engine::general_purpose::STANDARD, Engine as _};
            STANDARD.decode(std).unwrap()
        };
        let digest = HashAlgorithm::Sha256.digest(b"policy");
        s.public_key()
            .verify(HashAlgorithm::Sha256.padding(), &digest, &raw)
            .unwrap();
        assert!(s
            .public_key()
            .verify(
                HashAlgorithm::Sha256.padding(),
                &HashAlgorithm::Sha256.digest(b"other"),
                &raw
            )
            .is_err());
    }

    #[test]
    fn url_separators_and_layout() {
        let s = signer();
        let t = at(1_767_290_400);
        let u = s.sign_url_canned("https://d.example/a.jpg", t).unwrap();
        let (base, q) = u.split_once('?').unwrap();
        assert_eq!(base, "https://d.example/a.jpg");
        let keys: Vec<&str> = q.split('&').map(|p| p.split_once('=').unwrap().0).collect();
        assert_eq!(keys, ["Expires", "Signature", "Key-Pair-Id"]);
        assert!(q.starts_with("Expires=1767290400&Signature="));
        assert!(q.ends_with("&Key-Pair-Id=K1TESTKEY"));
        for (url, sep) in [
            ("https://d.example/a?x=1", "&"),
            ("https://d.example/a?", ""),
            ("https://d.example/a?x=1&", ""),
            ("HTTP://d.example/a", "?"),
        ] {
            let signed = s.sign_url_canned(url, t).unwrap();
            assert!(
                signed.starts_with(&format!("{url}{sep}Expires=")),
                "{signed}"
            );
        }
        let s256 = signer().with_hash_algorithm(HashAlgorithm::Sha256);
        assert!(s256
            .sign_url_canned("https://d.example/a", t)
            .unwrap()
            .ends_with("&Key-Pair-Id=K1TESTKEY&Hash-Algorithm=SHA256"));
        let p = Policy::builder("https://d.example/*")
            .date_less_than(t)
            .build()
            .unwrap();
        let custom = s.sign_url_custom("https://d.example/a", &p).unwrap();
        assert!(
            custom.starts_with("https://d.example/a?Policy=eyJTdGF0ZW1lbnQi"),
            "{custom}"
        );
        let q = s.custom_query("https://d.example/a", &p).unwrap();
        assert_eq!(
            q.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["Policy", "Signature", "Key-Pair-Id"]
        );
    }

    #[test]
    fn url_rejections() {
        let s = signer();
        let t = at(1_767_290_400);
        for url in [
            "https://d.example/a?Expires=1",
            "https://d.example/a?x=1&Signature",
            "https://d.example/a?Key-Pair-Id=K",
            "https://d.example/a?Policy=x",
            "https://d.example/a?Hash-Algorithm=SHA1",
            "https://d.example/a?Expir%65s=1",
            "https://d.example/a#frag",
            "ftp://d.example/a",
            "d.example/a",
            "https://d.example/\"a",
            "https://d.example/caf\u{e9}",
        ] {
            let e = s.sign_url_canned(url, t).unwrap_err();
            assert!(matches!(e, Error::InvalidUrl { .. }), "{url}: {e}");
            let p = Policy::builder("https://d.example/*")
                .date_less_than(t)
                .build()
                .unwrap();
            assert!(s.sign_url_custom(url, &p).is_err(), "{url}");
        }
        // Similar names are fine.
        assert!(s
            .sign_url_canned("https://d.example/a?Expiresx=1&xSignature=2", t)
            .is_ok());
    }

    #[test]
    fn cookies() {
        let s = signer();
        let t = at(1_767_290_400);
        let c = s.signed_cookies_canned("https://d.example/a", t).unwrap();
        let names: Vec<&str> = c.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "CloudFront-Expires",
                "CloudFront-Signature",
                "CloudFront-Key-Pair-Id"
            ]
        );
        let u = s.canned_query("https://d.example/a", t).unwrap();
        assert_eq!(c[1].1, u[1].1, "same signature as the URL");
        let p = Policy::builder("https://d.example/*")
            .date_less_than(t)
            .ip_address("10.0.0.0/8")
            .build()
            .unwrap();
        let c = s
            .with_hash_algorithm(HashAlgorithm::Sha256)
            .signed_cookies_custom(&p)
            .unwrap();
        let names: Vec<&str> = c.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "CloudFront-Policy",
                "CloudFront-Signature",
                "CloudFront-Key-Pair-Id",
                "CloudFront-Hash-Algorithm"
            ]
        );
        assert_eq!(c[0].1, cloudfront_base64(p.to_json().as_bytes()));
    }
}
