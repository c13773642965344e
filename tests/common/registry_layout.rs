//! registry:2's on-storage layout (Distribution's `registry/storage/paths.go`), stated here
//! independently of the server's own `src/server/paths.rs` (which is crate-private), so that
//! the tests check the server against it rather than against itself.
//!
//! ```text
//! /docker/registry/v2/
//!   blobs/<alg>/<hex[0:2]>/<hex>/data
//!   repositories/<name>/
//!     _layers/<alg>/<hex>/link
//!     _manifests/revisions/<alg>/<hex>/link
//!     _manifests/tags/<tag>/current/link
//!     _manifests/tags/<tag>/index/<alg>/<hex>/link
//!     _uploads/<id>/data
//!     _uploads/<id>/startedat
//! ```
//!
//! Digests are strings `"<alg>:<hex>"` as they appear on the wire and in link files.
//! Only `std` and `sha2`: the file is included with `#[path]` by `tests/server_support/mod.rs`
//! (as `server_support::registry_layout`) and by the benches `gc`, `manifest_refs` and
//! `proxy`, each of which uses part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use sha2::{Digest as _, Sha256, Sha512};

/// Root of everything registry:2 stores.
pub const ROOT: &str = "/docker/registry/v2";

/// Splits `"<alg>:<hex>"`; panics (a test bug) on anything else.
fn split(digest: &str) -> (&str, &str) {
    match digest.split_once(':') {
        Some((alg, hex)) if !alg.is_empty() && hex.len() >= 2 => (alg, hex),
        _ => panic!("registry_layout: not a digest \"<alg>:<hex>\": {digest:?}"),
    }
}

/// `ROOT/repositories/<name>`.
pub fn repository(name: &str) -> String {
    format!("{ROOT}/repositories/{name}")
}

/// `ROOT/blobs/<alg>/<hex[0..2]>/<hex>/data`: the content of a blob.
pub fn blob_data(digest: &str) -> String {
    let (alg, hex) = split(digest);
    format!("{ROOT}/blobs/{alg}/{}/{hex}/data", &hex[..2])
}

/// `ROOT/repositories/<name>/_layers/<alg>/<hex>/link`: a blob's membership in a repository.
pub fn layer_link(name: &str, digest: &str) -> String {
    let (alg, hex) = split(digest);
    format!("{}/_layers/{alg}/{hex}/link", repository(name))
}

/// `ROOT/repositories/<name>/_manifests/revisions`.
pub fn manifest_revisions(name: &str) -> String {
    format!("{}/_manifests/revisions", repository(name))
}

/// `ROOT/repositories/<name>/_manifests/revisions/<alg>/<hex>/link`.
pub fn manifest_revision_link(name: &str, digest: &str) -> String {
    let (alg, hex) = split(digest);
    format!("{}/{alg}/{hex}/link", manifest_revisions(name))
}

/// `ROOT/repositories/<name>/_manifests/tags`.
pub fn tags(name: &str) -> String {
    format!("{}/_manifests/tags", repository(name))
}

/// `ROOT/repositories/<name>/_manifests/tags/<tag>`.
pub fn tag(name: &str, tag: &str) -> String {
    format!("{}/{tag}", tags(name))
}

/// `ROOT/repositories/<name>/_manifests/tags/<tag>/current/link`.
pub fn tag_current_link(name: &str, t: &str) -> String {
    format!("{}/current/link", tag(name, t))
}

/// `ROOT/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link`.
pub fn tag_index_link(name: &str, t: &str, digest: &str) -> String {
    let (alg, hex) = split(digest);
    format!("{}/index/{alg}/{hex}/link", tag(name, t))
}

/// `ROOT/repositories/<name>/_uploads/<id>`.
pub fn upload(name: &str, id: &str) -> String {
    format!("{}/_uploads/{id}", repository(name))
}

/// `ROOT/repositories/<name>/_uploads/<id>/data`.
pub fn upload_data(name: &str, id: &str) -> String {
    format!("{}/data", upload(name, id))
}

/// `ROOT/repositories/<name>/_uploads/<id>/startedat`.
pub fn upload_started_at(name: &str, id: &str) -> String {
    format!("{}/startedat", upload(name, id))
}

/// `"sha256:<hex>"` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

/// `"sha512:<hex>"` of `data`.
pub fn sha512_digest(data: &[u8]) -> String {
    format!("sha512:{}", hex(&Sha512::digest(data)))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
