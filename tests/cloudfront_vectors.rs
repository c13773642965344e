//! The cross-SDK CloudFront signer vectors (aws-cli `tests/functional/cloudfront/testdata`,
//! see signing-vectors/PROVENANCE.md §6), run data-driven against `middleware::cloudfront`.
//!
//! * RSA cases: policy JSON, signature and every query parameter / cookie byte-exact.
//! * ECDSA cases (`verifyCryptographically`): the policy JSON is still checked byte-exact, and
//!   signing must fail with `UnsupportedKeyType("ECDSA")`: this crate signs with RSA only.
//! * Error cases: mapped by id to the error this API gives for the same intent (aws-cli's
//!   return codes and flag names are CLI specifics and are not compared).
#![cfg(feature = "cloudfront")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3driver::middleware::cloudfront::{Error, HashAlgorithm, Policy, Signer};
use serde_json::Value;

/// CloudFront's URL-safe base64, stated here on its own: standard padded base64 with `+`, `=`
/// and `/` replaced by `-`, `_` and `~`.
fn cloudfront_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .replace('+', "-")
        .replace('=', "_")
        .replace('/', "~")
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("signing-vectors/cloudfront")
}

fn load(name: &str) -> Vec<Value> {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("vector file {} is missing: {e}", path.display()));
    match serde_json::from_str(&text).unwrap() {
        Value::Array(cases) => cases,
        _ => panic!("{name}: not a JSON array"),
    }
}

fn at(v: &Value) -> Option<SystemTime> {
    v.as_u64().map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// What one case's input asks for.
struct Input<'a> {
    resource: &'a str,
    key_pair_id: &'a str,
    key_file: &'a str,
    expires: Option<SystemTime>,
    active: Option<SystemTime>,
    ip_range: Option<&'a str>,
    hash: HashAlgorithm,
}

fn input(case: &Value) -> Input<'_> {
    let i = &case["input"];
    Input {
        resource: s(i, "resource").unwrap(),
        key_pair_id: s(i, "keyPairId").unwrap(),
        key_file: s(i, "privateKeyFile").unwrap(),
        expires: at(&i["expirationDate"]),
        active: at(&i["activeDate"]),
        ip_range: s(i, "ipRange"),
        hash: match s(i, "hashAlgorithm") {
            None | Some("SHA1") => HashAlgorithm::Sha1,
            Some("SHA256") => HashAlgorithm::Sha256,
            Some(other) => panic!("unknown hashAlgorithm {other}"),
        },
    }
}

fn policy(inp: &Input<'_>) -> Result<Policy, Error> {
    let mut b = Policy::builder(inp.resource);
    if let Some(t) = inp.expires {
        b = b.date_less_than(t);
    }
    if let Some(t) = inp.active {
        b = b.date_greater_than(t);
    }
    if let Some(r) = inp.ip_range {
        b = b.ip_address(r);
    }
    b.build()
}

fn signer(inp: &Input<'_>) -> Result<Signer, Error> {
    Ok(
        Signer::from_pem_file(&dir().join(inp.key_file), inp.key_pair_id)?
            .with_hash_algorithm(inp.hash),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Url,
    Cookies,
}

/// Signs as the case asks; returns the policy JSON and the emitted parameters / cookies.
fn run(case: &Value, mode: Mode) -> Result<(String, BTreeMap<String, String>), Error> {
    let inp = input(case);
    let apply_to = s(&case["expected"], "applyTo");
    let custom = inp.active.is_some() || inp.ip_range.is_some() || apply_to.is_some();
    let policy = policy(&inp)?;
    let signer = signer(&inp)?;
    let pairs: Vec<(&str, String)> = match (mode, custom) {
        (Mode::Url, false) => {
            let url = signer.sign_url_canned(inp.resource, inp.expires.unwrap())?;
            return Ok((policy.to_json(), query_of(&url, inp.resource)));
        }
        (Mode::Url, true) => {
            let target = apply_to.unwrap_or(inp.resource);
            let url = signer.sign_url_custom(target, &policy)?;
            return Ok((policy.to_json(), query_of(&url, target)));
        }
        (Mode::Cookies, false) => {
            signer.signed_cookies_canned(inp.resource, inp.expires.unwrap())?
        }
        (Mode::Cookies, true) => signer.signed_cookies_custom(&policy)?,
    };
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        assert!(map.insert(k.to_owned(), v).is_none(), "{k} emitted twice");
    }
    Ok((policy.to_json(), map))
}

/// All query parameters of a signed URL, after checking it starts with the unsigned URL.
fn query_of(signed: &str, unsigned: &str) -> BTreeMap<String, String> {
    assert!(
        signed.starts_with(unsigned),
        "{signed} does not extend {unsigned}"
    );
    let (_, query) = signed.split_once('?').expect("a query");
    let mut map = BTreeMap::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        assert!(
            map.insert(k.to_owned(), v.to_owned()).is_none(),
            "{k} twice in {signed}"
        );
    }
    map
}

fn expected_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// The error this API gives for each negative case's intent.
fn check_error(id: &str, e: &Error) {
    let ok = match id {
        "error-missing-expiration" => {
            matches!(
                e,
                Error::InvalidPolicy {
                    field: "DateLessThan",
                    ..
                }
            )
        }
        "error-active-after-expiration" => {
            matches!(
                e,
                Error::InvalidPolicy {
                    field: "DateGreaterThan",
                    ..
                }
            )
        }
        "error-unsupported-key-type" => {
            matches!(e, Error::UnsupportedKeyType { found } if found == "DSA")
        }
        "json-injection-resource-url-reject" => {
            matches!(
                e,
                Error::InvalidPolicy {
                    field: "Resource",
                    ..
                }
            )
        }
        "json-injection-ip-range-reject" => {
            matches!(
                e,
                Error::InvalidPolicy {
                    field: "IpAddress",
                    ..
                }
            )
        }
        // ECDSA is rejected as a key type before the hash is considered.
        "ecdsa-canned-policy-url-sha1-reject" => {
            matches!(e, Error::UnsupportedKeyType { found } if found == "ECDSA")
        }
        other => panic!("error case {other} has no mapping in this harness; add one"),
    };
    assert!(ok, "{id}: unexpected error {e:?}");
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    rsa_exact: usize,
    ecdsa_unsupported: usize,
    errors: usize,
}

fn run_file(name: &str, mode: Mode) -> Counts {
    let mut counts = Counts::default();
    for case in load(name) {
        let id = s(&case, "id").unwrap();
        let expected = &case["expected"];
        let result = run(&case, mode);
        if expected["error"].as_bool() == Some(true) {
            let e = result.expect_err(id);
            check_error(id, &e);
            // The words of aws-cli's messages that are not CLI flags should appear in ours too,
            // except where our reason differs (ECDSA refused as a key type, not for its hash).
            if !id.starts_with("ecdsa-") {
                let msg = e.to_string().to_lowercase();
                for word in expected["errorContains"].as_array().unwrap() {
                    let word = word.as_str().unwrap();
                    if !word.starts_with("--") {
                        assert!(
                            msg.contains(&word.to_lowercase()),
                            "{id}: {msg:?} lacks {word:?}"
                        );
                    }
                }
            }
            counts.errors += 1;
            continue;
        }
        let want_policy = s(expected, "policyJson").unwrap();
        if expected["verifyCryptographically"].as_bool() == Some(true) {
            assert_eq!(
                s(expected, "signatureAlgorithm"),
                Some("ECDSA-SHA256"),
                "{id}"
            );
            let inp = input(&case);
            assert_eq!(
                policy(&inp).unwrap().to_json(),
                want_policy,
                "{id}: policy JSON"
            );
            match result {
                Err(Error::UnsupportedKeyType { found }) if found == "ECDSA" => {}
                other => panic!("{id}: ECDSA must be reported as unsupported, got {other:?}"),
            }
            counts.ecdsa_unsupported += 1;
            continue;
        }
        let (policy_json, got) = result.unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(policy_json, want_policy, "{id}: policy JSON");
        let mut want = expected_map(
            &expected[if mode == Mode::Url {
                "queryParams"
            } else {
                "cookies"
            }],
        );
        let custom = !want.contains_key("Expires") && !want.contains_key("CloudFront-Expires");
        match mode {
            Mode::Url => {
                // The vectors list every parameter but the signature (and the policy).
                want.insert("Signature".into(), s(expected, "signature").unwrap().into());
                if custom {
                    want.insert("Policy".into(), cloudfront_base64(want_policy.as_bytes()));
                }
            }
            Mode::Cookies => {
                if custom {
                    assert_eq!(
                        want["CloudFront-Policy"],
                        cloudfront_base64(want_policy.as_bytes()),
                        "{id}: vector's policy cookie"
                    );
                }
            }
        }
        assert_eq!(got, want, "{id}: parameters");
        counts.rsa_exact += 1;
    }
    counts
}

#[test]
fn signed_url_vectors() {
    let c = run_file("sign-test-cases.json", Mode::Url);
    println!(
        "sign-test-cases.json: {} RSA byte-exact, {} ECDSA reported unsupported, {} error cases",
        c.rsa_exact, c.ecdsa_unsupported, c.errors
    );
    assert_eq!(
        c,
        Counts {
            rsa_exact: 11,
            ecdsa_unsupported: 2,
            errors: 6
        }
    );
}

#[test]
fn signed_cookie_vectors() {
    let c = run_file("sign-cookies-test-cases.json", Mode::Cookies);
    println!(
        "sign-cookies-test-cases.json: {} RSA byte-exact, {} ECDSA reported unsupported, {} error cases",
        c.rsa_exact, c.ecdsa_unsupported, c.errors
    );
    assert_eq!(
        c,
        Counts {
            rsa_exact: 4,
            ecdsa_unsupported: 1,
            errors: 6
        }
    );
}

/// The PKCS#8 and PKCS#1 files hold the same key (Distribution accepts only the latter).
#[test]
fn both_rsa_key_encodings_sign_identically() {
    let a = Signer::from_pem_file(&dir().join("test-rsa-key.pem"), "K1TESTKEY").unwrap();
    let b = Signer::from_pem_file(&dir().join("test-rsa-key-pkcs1.pem"), "K1TESTKEY").unwrap();
    assert_eq!(a.sign(b"{}").unwrap(), b.sign(b"{}").unwrap());
    let e = Signer::from_pem_file(&dir().join("test-ecdsa-key-public.pem"), "K").unwrap_err();
    assert!(matches!(e, Error::Key { .. }), "{e}");
}
