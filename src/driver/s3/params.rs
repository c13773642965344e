//! The S3 driver's parameters, parsed from the registry configuration exactly as
//! Distribution's `FromParameters` does (same names, defaults, ranges and error texts).

use std::fmt;

use crate::client::credentials::SecretString;
use crate::client::endpoint::{parse_http_url, validate_region, EndpointConfig};
use crate::client::endpoint::{v2_decision, V2Decision, V2NotAllowed};
use crate::client::{ServerSideEncryption, SignatureVersion};
use crate::driver::{ParameterError, Parameters};

/// 5 MiB: the smallest S3 multipart part (and the smallest `chunksize`).
pub const MIN_CHUNK_SIZE: i64 = 5 << 20;
/// 5 GiB: the largest S3 part (and the largest `chunksize`).
pub const MAX_CHUNK_SIZE: i64 = 5 << 30;
/// Default `chunksize`: 10 MiB.
pub(crate) const DEFAULT_CHUNK_SIZE: i64 = 2 * MIN_CHUNK_SIZE;
/// Default `multipartcopychunksize`: 32 MiB.
pub const DEFAULT_MULTIPART_COPY_CHUNK_SIZE: i64 = 32 << 20;
/// Default `multipartcopymaxconcurrency`.
pub const DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY: i64 = 100;
/// Default `multipartcopythresholdsize`: 32 MiB.
pub const DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE: i64 = 32 << 20;

/// Default `maxbuffermemory`: 512 MiB (raised to twice `chunksize` when that is larger).
pub const DEFAULT_MAX_BUFFER_MEMORY: i64 = 512 << 20;
/// How long a writer waits for room in the write-buffer budget before it gives up with a
/// [`Busy`](crate::driver::Busy) error.
pub const DEFAULT_BUFFER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Storage classes accepted by `storageclass` (`NONE` omits the header), in the order the
/// error message lists them.
pub const STORAGE_CLASSES: [&str; 9] = [
    "NONE",
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "OUTPOSTS",
    "GLACIER_IR",
    "EXPRESS_ONEZONE",
];

/// The storage class of new objects (`storageclass`, the `x-amz-storage-class` header).
/// `storageclass: NONE` omits the header: [`S3Parameters::storage_class`] is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageClass {
    /// `STANDARD` (the default).
    Standard,
    /// `REDUCED_REDUNDANCY`.
    ReducedRedundancy,
    /// `STANDARD_IA`.
    StandardIa,
    /// `ONEZONE_IA`.
    OnezoneIa,
    /// `INTELLIGENT_TIERING`.
    IntelligentTiering,
    /// `OUTPOSTS`.
    Outposts,
    /// `GLACIER_IR`.
    GlacierIr,
    /// `EXPRESS_ONEZONE`.
    ExpressOnezone,
}

impl StorageClass {
    /// Every storage class, in the order the `storageclass` error message lists them.
    pub const ALL: [Self; 8] = [
        Self::Standard,
        Self::ReducedRedundancy,
        Self::StandardIa,
        Self::OnezoneIa,
        Self::IntelligentTiering,
        Self::Outposts,
        Self::GlacierIr,
        Self::ExpressOnezone,
    ];

    /// The name S3 knows it by, as sent in `x-amz-storage-class` (`"STANDARD_IA"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::ReducedRedundancy => "REDUCED_REDUNDANCY",
            Self::StandardIa => "STANDARD_IA",
            Self::OnezoneIa => "ONEZONE_IA",
            Self::IntelligentTiering => "INTELLIGENT_TIERING",
            Self::Outposts => "OUTPOSTS",
            Self::GlacierIr => "GLACIER_IR",
            Self::ExpressOnezone => "EXPRESS_ONEZONE",
        }
    }
}

impl fmt::Display for StorageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Server-side encryption of new objects (`encrypt` and `keyid`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// No `x-amz-server-side-encryption` header (`encrypt: false`, the default).
    #[default]
    None,
    /// SSE-S3: `x-amz-server-side-encryption: AES256` (`encrypt: true` without `keyid`).
    SseS3,
    /// SSE-KMS: `x-amz-server-side-encryption: aws:kms`, with
    /// `x-amz-server-side-encryption-aws-kms-key-id` when `key_id` is set (`encrypt: true`
    /// with `keyid`); without one the bucket's default KMS key is used.
    SseKms {
        /// The KMS key (id, ARN or alias).
        key_id: Option<String>,
    },
}

impl Encryption {
    /// What the configuration's `encrypt` and `keyid` ask for: nothing without `encrypt`
    /// (`keyid` is then ignored, as Distribution's documentation says; its code still sends
    /// the key id header alone, which S3 accepts only next to `aws:kms`), SSE-S3 with an
    /// empty `keyid`, SSE-KMS with that key otherwise.
    pub fn from_settings(encrypt: bool, key_id: &str) -> Self {
        match (encrypt, key_id) {
            (false, _) => Self::None,
            (true, "") => Self::SseS3,
            (true, key) => Self::SseKms {
                key_id: Some(key.to_owned()),
            },
        }
    }

    /// The client's request option for it; `None` sends no encryption headers.
    pub fn to_server_side_encryption(&self) -> Option<ServerSideEncryption> {
        match self {
            Self::None => None,
            Self::SseS3 => Some(ServerSideEncryption::Aes256),
            Self::SseKms { key_id } => Some(ServerSideEncryption::Kms(key_id.clone())),
        }
    }
}

/// Canned ACLs accepted by `objectacl`.
pub const OBJECT_ACLS: [&str; 7] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// The S3 driver's configuration.
#[derive(Clone)]
#[non_exhaustive]
pub struct S3Parameters {
    /// `accesskey`: with `secretkey`, static credentials; otherwise the default chain.
    pub access_key: String,
    /// `secretkey`.
    pub secret_key: SecretString,
    /// `sessiontoken` (read from the configuration, which Distribution forgets to do).
    pub session_token: Option<SecretString>,
    /// Endpoint settings: `region`, `regionendpoint`, `forcepathstyle`, `secure`, `skipverify`,
    /// `usedualstack`, `accelerate`, `useragent`.
    pub endpoint: EndpointConfig,
    /// `bucket` (required; must exist).
    pub bucket: String,
    /// `encrypt` and `keyid`: server-side encryption of new objects (default none).
    pub encryption: Encryption,
    /// `v4auth` (default true); false selects SigV2 for S3-compatible servers. On AWS's own
    /// endpoint it means SigV4 with a warning (regions that accepted SigV2) or an error
    /// (SigV4-only regions): see [`S3Parameters::signature_version`].
    pub v4_auth: bool,
    /// `chunksize`: multipart part size for writers.
    pub chunk_size: u64,
    /// `multipartcopychunksize`: part size of a multipart copy.
    pub multipart_copy_chunk_size: u64,
    /// `multipartcopymaxconcurrency`: parallel UploadPartCopy requests.
    pub multipart_copy_max_concurrency: u64,
    /// `multipartcopythresholdsize`: objects above this size are copied in parts.
    pub multipart_copy_threshold_size: u64,
    /// `rootdirectory`: key prefix of everything the driver stores.
    pub root_directory: String,
    /// `storageclass` (default `STANDARD`); `None` for `NONE` (no header).
    pub storage_class: Option<StorageClass>,
    /// `objectacl` (default `private`).
    pub object_acl: String,
    /// `redirectendpoint`: `scheme://host[:port]` that replaces the presigned URL's.
    pub redirect_endpoint: Option<String>,
    /// `maxbuffermemory`: the most memory all writers of this driver together hold in part
    /// buffers (each buffering writer reserves one `chunksize`, and one more per part in flight).
    /// At least twice `chunksize`.
    pub max_buffer_memory: u64,
    /// `maxconcurrentparts` (default 2, at most 64): parts a writer uploads at once while it
    /// fills the next, a `chunksize` buffer each. The default keeps a writer within three
    /// `chunksize` buffers and level with object_store's BufWriter (8 parts in flight); 1
    /// saves a buffer for about 15% of write speed, more trades memory for speed.
    pub max_concurrent_parts: usize,
    /// How long a writer waits for room in that budget before failing with a
    /// [`Busy`](crate::driver::Busy) error (default 30 s; not a configuration key).
    pub buffer_wait: std::time::Duration,
}

impl fmt::Debug for S3Parameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Parameters")
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key)
            .field("session_token", &self.session_token)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("encryption", &self.encryption)
            .field("v4_auth", &self.v4_auth)
            .field("chunk_size", &self.chunk_size)
            .field("max_buffer_memory", &self.max_buffer_memory)
            .field("root_directory", &self.root_directory)
            .field("storage_class", &self.storage_class)
            .finish_non_exhaustive()
    }
}

impl S3Parameters {
    /// Parses the driver's parameter map.
    ///
    /// # Errors
    /// A [`ParameterError`] naming the first bad parameter, worded as Distribution words it.
    pub fn from_parameters(p: &Parameters) -> Result<Self, ParameterError> {
        let string = |key: &str| p.get(key).map(str::trim).unwrap_or("").to_owned();
        let region_endpoint = string("regionendpoint");
        let region = string("region");
        if region.is_empty() && region_endpoint.is_empty() {
            return Err(ParameterError::new(
                "region",
                "no region parameter provided",
            ));
        }
        if region_endpoint.is_empty() && validate_region(&region).is_err() {
            return Err(ParameterError::new(
                "region",
                format!("invalid region provided: {region}"),
            ));
        }
        let bucket = string("bucket");
        if bucket.is_empty() {
            return Err(ParameterError::new(
                "bucket",
                "no bucket parameter provided",
            ));
        }
        let encrypt = p.bool("encrypt", false)?;
        let secure = p.bool("secure", true)?;
        let skip_verify = p.bool_named("skipverify", "skipVerify", false)?;
        let v4_auth = p.bool("v4auth", true)?;
        let force_path_style = p.bool_named("forcepathstyle", "forcePathStyle", false)?;
        let use_dual_stack = p.bool("usedualstack", false)?;
        let accelerate = p.bool("accelerate", false)?;
        let chunk_size = p.int(
            "chunksize",
            DEFAULT_CHUNK_SIZE,
            MIN_CHUNK_SIZE,
            MAX_CHUNK_SIZE,
        )?;
        let multipart_copy_chunk_size = p.int(
            "multipartcopychunksize",
            DEFAULT_MULTIPART_COPY_CHUNK_SIZE,
            MIN_CHUNK_SIZE,
            MAX_CHUNK_SIZE,
        )?;
        let multipart_copy_max_concurrency = p.int(
            "multipartcopymaxconcurrency",
            DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY,
            1,
            i64::MAX,
        )?;
        let multipart_copy_threshold_size = p.int(
            "multipartcopythresholdsize",
            DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE,
            0,
            MAX_CHUNK_SIZE,
        )?;
        let max_concurrent_parts = p.int("maxconcurrentparts", 2, 1, 64)?;
        let max_buffer_memory = match p.get("maxbuffermemory").map(str::trim) {
            // Room for every part in flight and the one filling.
            None | Some("") => {
                DEFAULT_MAX_BUFFER_MEMORY.max((max_concurrent_parts + 1) * chunk_size)
            }
            Some(_) => p.int("maxbuffermemory", 0, 2 * chunk_size, i64::MAX)?,
        };
        let storage_class = match p.get("storageclass").map(str::trim) {
            None | Some("") => Some(StorageClass::Standard),
            Some(v) => {
                let upper = v.to_ascii_uppercase();
                if upper == "NONE" {
                    None
                } else {
                    let class = StorageClass::ALL.into_iter().find(|c| c.as_str() == upper);
                    if class.is_none() {
                        return Err(ParameterError::new(
                            "storageclass",
                            format!(
                                "the storageclass parameter must be one of {}, {v} invalid",
                                STORAGE_CLASSES.join(", ")
                            ),
                        ));
                    }
                    class
                }
            }
        };
        let object_acl = match p.get("objectacl").map(str::trim) {
            None | Some("") => "private".to_owned(),
            Some(v) => {
                if !OBJECT_ACLS.contains(&v) {
                    return Err(ParameterError::new(
                        "objectacl",
                        format!(
                            "the objectacl parameter must be one of {}, {v} invalid",
                            OBJECT_ACLS.join(", ")
                        ),
                    ));
                }
                v.to_owned()
            }
        };
        let redirect_endpoint = match string("redirectendpoint") {
            s if s.is_empty() => None,
            s => Some(parse_redirect_endpoint(&s)?),
        };
        let session_token = Some(string("sessiontoken"))
            .filter(|s| !s.is_empty())
            .map(SecretString::new);
        let user_agent = string("useragent");
        Ok(Self {
            access_key: string("accesskey"),
            secret_key: SecretString::new(p.get("secretkey").unwrap_or("").trim()),
            session_token,
            endpoint: EndpointConfig {
                region,
                region_endpoint: Some(region_endpoint).filter(|s| !s.is_empty()),
                force_path_style,
                secure,
                use_dual_stack,
                accelerate,
                skip_verify,
                user_agent_suffix: Some(user_agent).filter(|s| !s.is_empty()),
            },
            bucket,
            encryption: Encryption::from_settings(encrypt, &string("keyid")),
            v4_auth,
            chunk_size: chunk_size.unsigned_abs(),
            multipart_copy_chunk_size: multipart_copy_chunk_size.unsigned_abs(),
            multipart_copy_max_concurrency: multipart_copy_max_concurrency.unsigned_abs(),
            multipart_copy_threshold_size: multipart_copy_threshold_size.unsigned_abs(),
            root_directory: string("rootdirectory"),
            storage_class,
            object_acl,
            redirect_endpoint,
            max_buffer_memory: max_buffer_memory.unsigned_abs(),
            max_concurrent_parts: usize::try_from(max_concurrent_parts).unwrap_or(1),
            buffer_wait: DEFAULT_BUFFER_WAIT,
        })
    }
}

impl S3Parameters {
    /// The signature the driver signs with: SigV4, or SigV2 for `v4auth: false` with an
    /// S3-compatible endpoint. `v4auth: false` on AWS's own endpoint in a region that accepted
    /// SigV2 gives SigV4 ([`S3Parameters::warnings`] says so); where SigV2 is refused
    /// this is SigV2 and the client refuses it with the error.
    pub fn signature_version(&self) -> SignatureVersion {
        if self.v4_auth {
            return SignatureVersion::V4;
        }
        match self.v2_decision() {
            Ok(V2Decision::SignV4Instead { .. }) => SignatureVersion::V4,
            Ok(V2Decision::SignV2) | Err(_) => SignatureVersion::V2,
        }
    }

    /// What the operator should be told about these parameters (the binary prints them with
    /// the configuration warnings): today only `v4auth: false` on AWS's own endpoint.
    pub fn warnings(&self) -> Vec<String> {
        if self.v4_auth {
            return Vec::new();
        }
        self.v2_decision()
            .ok()
            .and_then(|d| d.warning())
            .map(|w| super::terms::in_registry_terms(&w))
            .into_iter()
            .collect()
    }

    fn v2_decision(&self) -> Result<V2Decision, V2NotAllowed> {
        v2_decision(
            &self.endpoint.region,
            self.endpoint.region_endpoint.as_deref(),
        )
    }
}

/// `redirectendpoint` must be `scheme://host[:port]`: no path, query or fragment.
fn parse_redirect_endpoint(s: &str) -> Result<String, ParameterError> {
    let bad = |why: &str| {
        ParameterError::new(
            "redirectendpoint",
            format!("invalid redirectendpoint {s:?}: {why}; expected scheme://host[:port]"),
        )
    };
    let url = parse_http_url(s).map_err(bad)?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad("it must not have a path, query, fragment or user info"));
    }
    // Lower-cased host, no default port.
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Parameters {
        Parameters::from_iter([("region", "us-east-1"), ("bucket", "b")])
    }

    #[test]
    fn defaults_match_distribution() {
        let p = S3Parameters::from_parameters(&base()).unwrap();
        assert_eq!(p.chunk_size, 10 << 20);
        assert_eq!(p.multipart_copy_chunk_size, 32 << 20);
        assert_eq!(p.multipart_copy_max_concurrency, 100);
        assert_eq!(p.multipart_copy_threshold_size, 32 << 20);
        assert!(p.v4_auth && p.endpoint.secure && !p.endpoint.force_path_style);
        assert_eq!(p.encryption, Encryption::None);
        assert_eq!(p.storage_class, Some(StorageClass::Standard));
        assert_eq!(p.object_acl, "private");
        assert!(p.redirect_endpoint.is_none() && p.session_token.is_none());
        assert_eq!(p.max_buffer_memory, 512 << 20);
        assert_eq!(p.max_concurrent_parts, 2);
        let deep = S3Parameters::from_parameters(
            &base()
                .with("chunksize", "104857600")
                .with("maxconcurrentparts", "8"),
        )
        .unwrap();
        assert_eq!(deep.max_concurrent_parts, 8);
        assert_eq!(
            deep.max_buffer_memory,
            900 << 20,
            "room for 8 parts and one filling"
        );
        let e = S3Parameters::from_parameters(&base().with("maxconcurrentparts", "0")).unwrap_err();
        assert_eq!(e.key, "maxconcurrentparts");
        let big = S3Parameters::from_parameters(&base().with("chunksize", "1073741824")).unwrap();
        assert_eq!(
            big.max_buffer_memory,
            3 << 30,
            "room for the default two parts in flight and one filling"
        );
    }

    #[test]
    fn v4auth_false_on_aws_signs_v4_with_a_warning() {
        let v2 = |p: Parameters| S3Parameters::from_parameters(&p.with("v4auth", "false")).unwrap();
        let p = v2(base());
        assert_eq!(p.signature_version(), SignatureVersion::V4);
        let w = p.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("v4auth") && w[0].contains("us-east-1"),
            "{w:?}"
        );
        assert!(crate::driver::S3Driver::new(p).is_ok());
        // SigV4-only region: still SigV2, which the client refuses.
        let p = v2(base().with("region", "eu-central-1"));
        assert_eq!(p.signature_version(), SignatureVersion::V2);
        assert!(p.warnings().is_empty());
        let e = crate::driver::S3Driver::new(p).unwrap_err().to_string();
        assert!(
            e.contains("eu-central-1") && e.contains("v4auth: true"),
            "{e}"
        );
        // An S3-compatible server keeps SigV2 without a warning.
        let p = v2(base().with("regionendpoint", "http://127.0.0.1:9000"));
        assert_eq!(p.signature_version(), SignatureVersion::V2);
        assert!(p.warnings().is_empty());
        // v4auth: true never warns.
        let p = S3Parameters::from_parameters(&base()).unwrap();
        assert_eq!(p.signature_version(), SignatureVersion::V4);
        assert!(p.warnings().is_empty());
    }

    #[test]
    fn buffer_budget_holds_two_chunks() {
        let p = S3Parameters::from_parameters(&base().with("maxbuffermemory", "20971520")).unwrap();
        assert_eq!(p.max_buffer_memory, 20 << 20);
        let e =
            S3Parameters::from_parameters(&base().with("maxbuffermemory", "20971519")).unwrap_err();
        assert_eq!(e.key, "maxbuffermemory");
        assert!(e.to_string().contains("between 20971520 and"), "{e}");
    }

    #[test]
    fn required_parameters() {
        let e =
            S3Parameters::from_parameters(&Parameters::from_iter([("bucket", "b")])).unwrap_err();
        assert_eq!(e.to_string(), "no region parameter provided");
        let e = S3Parameters::from_parameters(&Parameters::from_iter([("region", "us-east-1")]))
            .unwrap_err();
        assert_eq!(e.to_string(), "no bucket parameter provided");
        let e = S3Parameters::from_parameters(&base().with("region", "mars-1")).unwrap_err();
        assert_eq!(e.to_string(), "invalid region provided: mars-1");
        // Any region name goes with a custom endpoint.
        let p = S3Parameters::from_parameters(&Parameters::from_iter([
            ("region", "garage"),
            ("bucket", "b"),
            ("regionendpoint", "http://127.0.0.1:9000"),
        ]))
        .unwrap();
        assert_eq!(
            p.endpoint.region_endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        // regionendpoint alone is enough.
        S3Parameters::from_parameters(&Parameters::from_iter([
            ("bucket", "b"),
            ("regionendpoint", "http://x"),
        ]))
        .unwrap();
    }

    #[test]
    fn ranges_and_enums() {
        let e = S3Parameters::from_parameters(&base().with("chunksize", "1024")).unwrap_err();
        assert_eq!(e.key, "chunksize");
        assert!(
            e.to_string().contains("between 5242880 and 5368709120"),
            "{e}"
        );
        let e = S3Parameters::from_parameters(&base().with("multipartcopymaxconcurrency", "0"))
            .unwrap_err();
        assert_eq!(e.key, "multipartcopymaxconcurrency");
        S3Parameters::from_parameters(&base().with("multipartcopythresholdsize", "0")).unwrap();
        let p = S3Parameters::from_parameters(&base().with("storageclass", "none")).unwrap();
        assert_eq!(p.storage_class, None);
        let p = S3Parameters::from_parameters(&base().with("storageclass", "glacier_ir")).unwrap();
        assert_eq!(p.storage_class, Some(StorageClass::GlacierIr));
        let e = S3Parameters::from_parameters(&base().with("storageclass", "GLACIER")).unwrap_err();
        assert_eq!(e.key, "storageclass");
        assert_eq!(
            e.to_string(),
            "the storageclass parameter must be one of NONE, STANDARD, REDUCED_REDUNDANCY, \
             STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, OUTPOSTS, GLACIER_IR, EXPRESS_ONEZONE, \
             GLACIER invalid"
        );
        // Every listed name but NONE is a class, and parses to it.
        assert_eq!(
            STORAGE_CLASSES[1..],
            StorageClass::ALL.map(StorageClass::as_str)
        );
        for class in StorageClass::ALL {
            let p = S3Parameters::from_parameters(&base().with("storageclass", class.as_str()))
                .unwrap();
            assert_eq!(p.storage_class, Some(class));
        }
        let e = S3Parameters::from_parameters(&base().with("objectacl", "public")).unwrap_err();
        assert_eq!(e.key, "objectacl");
        let e = S3Parameters::from_parameters(&base().with("secure", "maybe")).unwrap_err();
        assert_eq!(e.to_string(), "the secure parameter should be a boolean");
    }

    #[test]
    fn storage_class_accepts_only_distributions_names() {
        let class = |v: &str| S3Parameters::from_parameters(&base().with("storageclass", v));
        // Any case, surrounding blanks ignored; an empty value is the default.
        for (v, want) in [
            ("standard_ia", Some(StorageClass::StandardIa)),
            (
                "Intelligent_Tiering",
                Some(StorageClass::IntelligentTiering),
            ),
            (" OUTPOSTS ", Some(StorageClass::Outposts)),
            ("reduced_redundancy", Some(StorageClass::ReducedRedundancy)),
            ("express_onezone", Some(StorageClass::ExpressOnezone)),
            ("None", None),
            ("", Some(StorageClass::Standard)),
        ] {
            assert_eq!(class(v).unwrap().storage_class, want, "{v:?}");
        }
        // S3 classes Distribution does not offer (archive tiers), near misses and lists.
        for v in [
            "GLACIER",
            "DEEP_ARCHIVE",
            "STANDARD-IA",
            "STANDARD IA",
            "STANDARDIA",
            "STANDARD_",
            "NONE,STANDARD",
            "nothing",
            "0",
        ] {
            let e = class(v).unwrap_err();
            assert_eq!(e.key, "storageclass", "{v:?}");
            assert!(e.to_string().contains(v), "{v:?}: {e}");
        }
    }

    #[test]
    fn encryption_from_encrypt_and_keyid() {
        let enc = |pairs: &[(&str, &str)]| {
            let mut p = base();
            for &(k, v) in pairs {
                p = p.with(k, v);
            }
            S3Parameters::from_parameters(&p).unwrap().encryption
        };
        assert_eq!(enc(&[]), Encryption::None);
        assert_eq!(enc(&[("keyid", "k")]), Encryption::None, "keyid alone");
        assert_eq!(
            enc(&[("encrypt", "false"), ("keyid", "k")]),
            Encryption::None
        );
        assert_eq!(enc(&[("encrypt", "true")]), Encryption::SseS3);
        assert_eq!(
            enc(&[("encrypt", "true"), ("keyid", " ")]),
            Encryption::SseS3
        );
        assert_eq!(
            enc(&[("encrypt", "true"), ("keyid", "alias/registry")]),
            Encryption::SseKms {
                key_id: Some("alias/registry".to_owned())
            }
        );
        assert_eq!(Encryption::None.to_server_side_encryption(), None);
        assert_eq!(
            Encryption::SseS3.to_server_side_encryption(),
            Some(ServerSideEncryption::Aes256)
        );
        assert_eq!(
            Encryption::SseKms { key_id: None }.to_server_side_encryption(),
            Some(ServerSideEncryption::Kms(None))
        );
        let e = S3Parameters::from_parameters(&base().with("encrypt", "yes")).unwrap_err();
        assert_eq!(e.to_string(), "the encrypt parameter should be a boolean");
    }

    #[test]
    fn redirect_endpoint_is_scheme_and_host_only() {
        let p = S3Parameters::from_parameters(
            &base().with("redirectendpoint", "https://cdn.example.com/"),
        )
        .unwrap();
        assert_eq!(
            p.redirect_endpoint.as_deref(),
            Some("https://cdn.example.com")
        );
        let p = S3Parameters::from_parameters(
            &base().with("redirectendpoint", "HTTPS://CDN.Example.com:443"),
        )
        .unwrap();
        assert_eq!(
            p.redirect_endpoint.as_deref(),
            Some("https://cdn.example.com")
        );
        for bad in [
            "cdn.example.com",
            "https://cdn.example.com/path",
            "https://h?x=1",
            "ftp://h",
            "https://",
            "https:///h",
            "https://u@h",
            "https://h:0",
            "https://h\\x",
        ] {
            let e =
                S3Parameters::from_parameters(&base().with("redirectendpoint", bad)).unwrap_err();
            assert_eq!(e.key, "redirectendpoint", "{bad}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let p = S3Parameters::from_parameters(
            &base()
                .with("accesskey", "AK")
                .with("secretkey", "topsecret")
                .with("sessiontoken", "tok123"),
        )
        .unwrap();
        let s = format!("{p:?}");
        assert!(!s.contains("topsecret") && !s.contains("tok123"), "{s}");
        assert!(s.contains("AK"));
    }
}
