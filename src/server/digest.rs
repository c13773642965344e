//! Content digests (`sha256:<hex>`), parsed and checked the way
//! `github.com/opencontainers/go-digest` does, and the hashers that compute them.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// A digest algorithm the registry can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `sha256`, the canonical algorithm: blobs are stored under it.
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
}

impl Algorithm {
    /// The name used in digest strings and storage paths.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Length of the hex encoding.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }

    /// A fresh hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        match self {
            Self::Sha256 => Hasher::Sha256(Sha256::new()),
            Self::Sha384 => Hasher::Sha384(Sha384::new()),
            Self::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// The digest of `data` under this algorithm.
    pub fn digest(self, data: &[u8]) -> Digest {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// A validated content digest: a supported algorithm and its lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// Why a string is not a usable digest (go-digest's `ErrDigestInvalidFormat`,
/// `ErrDigestUnsupported`, `ErrDigestInvalidLength`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestError {
    /// Not of the form `algorithm:encoded`.
    InvalidFormat,
    /// A well-formed digest with an algorithm the registry does not know.
    Unsupported,
    /// The encoded part has the wrong length or is not lower-case hex.
    InvalidLength,
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidFormat => "invalid checksum digest format",
            Self::Unsupported => "unsupported digest algorithm",
            Self::InvalidLength => "invalid checksum digest length",
        })
    }
}

impl std::error::Error for DigestError {}

impl Digest {
    /// The canonical (sha256) digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Self {
        Algorithm::Sha256.digest(data)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lower-case hex encoding.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    /// go-digest's `Parse`: the grammar
    /// `[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`, then a known algorithm,
    /// then lower-case hex of the algorithm's length.
    fn from_str(s: &str) -> Result<Self, DigestError> {
        let (alg, enc) = s.split_once(':').ok_or(DigestError::InvalidFormat)?;
        if !is_algorithm_grammar(alg)
            || enc.is_empty()
            || !enc
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(DigestError::InvalidFormat);
        }
        let algorithm = Algorithm::from_name(alg).ok_or(DigestError::Unsupported)?;
        if enc.len() != algorithm.hex_len() {
            return Err(DigestError::InvalidLength);
        }
        if !enc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::InvalidFormat);
        }
        Ok(Self {
            algorithm,
            hex: enc.to_owned(),
        })
    }
}

fn is_algorithm_grammar(alg: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    !alg.is_empty() && alg.split(['+', '.', '_', '-']).all(component)
}

/// An incremental hasher for one [`Algorithm`]; `Clone` so that the state of an
/// upload can be kept between requests.
#[derive(Clone)]
pub enum Hasher {
    /// sha256 state.
    Sha256(Sha256),
    /// sha384 state.
    Sha384(Sha384),
    /// sha512 state.
    Sha512(Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Hasher").field(&self.algorithm()).finish()
    }
}

impl Hasher {
    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Sha256(_) => Algorithm::Sha256,
            Self::Sha384(_) => Algorithm::Sha384,
            Self::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let algorithm = self.algorithm();
        let bytes = match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        };
        Digest {
            algorithm,
            hex: to_hex(&bytes),
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints_go_digest_forms() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(Digest::sha256_of(b""), d);
        let s512 = Algorithm::Sha512.digest(b"abc");
        assert_eq!(s512.hex().len(), 128);
        assert_eq!(s512.to_string().parse::<Digest>().unwrap(), s512);
        assert!(s512.hex().starts_with("ddaf35a193617aba"));
        let s384 = Algorithm::Sha384.digest(b"abc");
        assert!(s384.hex().starts_with("cb00753f45a35e8b"));
    }

    #[test]
    fn rejects_like_go_digest() {
        assert_eq!("sha256".parse::<Digest>(), Err(DigestError::InvalidFormat));
        assert_eq!("sha256:".parse::<Digest>(), Err(DigestError::InvalidFormat));
        assert_eq!(
            "SHA256:abc".parse::<Digest>(),
            Err(DigestError::InvalidFormat)
        );
        assert_eq!("md5:abc".parse::<Digest>(), Err(DigestError::Unsupported));
        assert_eq!(
            "sha256:abc".parse::<Digest>(),
            Err(DigestError::InvalidLength)
        );
        let upper = EMPTY.to_uppercase().replacen("SHA256", "sha256", 1);
        assert_eq!(upper.parse::<Digest>(), Err(DigestError::InvalidFormat));
        assert_eq!(
            "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564".parse::<Digest>(),
            Err(DigestError::Unsupported)
        );
        assert_eq!(
            "sha256:../../../../etc/passwd".parse::<Digest>(),
            Err(DigestError::InvalidFormat)
        );
    }

    #[test]
    fn hasher_state_can_be_cloned_mid_stream() {
        let mut a = Algorithm::Sha256.hasher();
        a.update(b"hello ");
        let mut b = a.clone();
        a.update(b"world");
        b.update(b"world");
        assert_eq!(a.finish(), b.finish());
        assert_eq!(
            format!("{:?}", Algorithm::Sha512.hasher()),
            "Hasher(Sha512)"
        );
    }
}
