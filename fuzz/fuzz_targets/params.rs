//! Fuzz target `params`: the S3 driver's configuration parsing
//! (`S3Parameters::from_parameters`, Distribution's `FromParameters`) on arbitrary key/value
//! maps, mostly over the keys the driver reads so values get exercised, plus arbitrary keys.
//! It must never panic; whatever it accepts must respect the documented ranges, parse the
//! same way twice, and resolve to an endpoint (or a clean error) without panicking.
//!
//! Seed corpus: none needed (structured input), `.ci/fuzz.sh` starts it empty.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

use s3driver::driver::s3::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, OBJECT_ACLS, STORAGE_CLASSES};
use s3driver::driver::{Parameters, S3Parameters};

/// Every key `S3Parameters::from_parameters` reads.
const KEYS: [&str; 25] = [
    "region",
    "regionendpoint",
    "bucket",
    "encrypt",
    "keyid",
    "secure",
    "skipverify",
    "skipVerify",
    "v4auth",
    "forcepathstyle",
    "forcePathStyle",
    "usedualstack",
    "accelerate",
    "chunksize",
    "multipartcopychunksize",
    "multipartcopymaxconcurrency",
    "multipartcopythresholdsize",
    "rootdirectory",
    "storageclass",
    "objectacl",
    "redirectendpoint",
    "sessiontoken",
    "useragent",
    "accesskey",
    "secretkey",
];

#[derive(Debug, Arbitrary)]
enum Key {
    Known(u8),
    Other(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    entries: Vec<(Key, String)>,
}

fuzz_target!(|input: Input| {
    let params = Parameters::from_iter(input.entries.into_iter().map(|(k, v)| {
        let key = match k {
            Key::Known(i) => KEYS[usize::from(i) % KEYS.len()].to_owned(),
            Key::Other(s) => s,
        };
        (key, v)
    }));

    let first = S3Parameters::from_parameters(&params);
    let second = S3Parameters::from_parameters(&params);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("from_parameters is not deterministic"),
    }

    match first {
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error without a message");
            assert!(!e.key.is_empty(), "an error naming no parameter");
        }
        Ok(p) => {
            let chunk = |v: u64| {
                (MIN_CHUNK_SIZE.unsigned_abs()..=MAX_CHUNK_SIZE.unsigned_abs()).contains(&v)
            };
            assert!(
                chunk(p.chunk_size),
                "chunksize out of range: {}",
                p.chunk_size
            );
            assert!(chunk(p.multipart_copy_chunk_size));
            assert!(p.multipart_copy_max_concurrency >= 1);
            assert!(p.multipart_copy_threshold_size <= MAX_CHUNK_SIZE.unsigned_abs());
            assert!(!p.bucket.is_empty(), "accepted without a bucket");
            assert!(
                !p.endpoint.region.is_empty() || p.endpoint.region_endpoint.is_some(),
                "accepted without region or regionendpoint"
            );
            if let Some(class) = &p.storage_class {
                assert!(STORAGE_CLASSES.contains(&class.as_str()) && class.as_str() != "NONE");
            }
            assert!(OBJECT_ACLS.contains(&p.object_acl.as_str()));
            if let Some(redirect) = &p.redirect_endpoint {
                assert!(redirect.starts_with("http://") || redirect.starts_with("https://"));
            }
            // What the driver does next with them: resolve the endpoint for the bucket.
            if let Err(e) = p.endpoint.__fuzz_resolve(&p.bucket) {
                assert!(!e.to_string().is_empty());
            }
        }
    }
});
