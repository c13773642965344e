//! The on-storage layout, identical to Distribution's `registry/storage/paths.go`
//! so that a bucket written by `registry:2` can be served as is, and the other
//! way round.
//!
//! ```text
//! /docker/registry/v2/
//!   blobs/<alg>/<hex[0:2]>/<hex>/data
//!   repositories/<name>/
//!     _layers/<alg>/<hex>/link                      -> "<alg>:<hex>" of the blob
//!     _manifests/revisions/<alg>/<hex>/link         -> "<alg>:<hex>" of the manifest blob
//!     _manifests/tags/<tag>/current/link            -> digest the tag points to
//!     _manifests/tags/<tag>/index/<alg>/<hex>/link  -> every digest the tag pointed to
//!     _uploads/<id>/data                            upload content
//!     _uploads/<id>/startedat                       RFC 3339 UTC start time
//!     _uploads/<id>/hashstates/<alg>/<offset>       (Distribution only; never written here)
//! ```
//!
//! Link files contain the exact digest string, nothing else.

use super::digest::Digest;

/// Root of everything the registry stores.
pub const ROOT: &str = "/docker/registry/v2";

/// `<root>/repositories`.
pub(crate) fn repositories_root() -> String {
    format!("{ROOT}/repositories")
}

/// `<root>/repositories/<name>`.
pub fn repository(name: &str) -> String {
    format!("{ROOT}/repositories/{name}")
}

/// `<root>/blobs/<alg>/<hex[0:2]>/<hex>/data`: the content of a blob.
pub fn blob_data(d: &Digest) -> String {
    format!(
        "{ROOT}/blobs/{}/{}/{}/data",
        d.algorithm().name(),
        &d.hex()[..2],
        d.hex()
    )
}

/// `.../_layers/<alg>/<hex>/link`: membership of a blob in a repository.
pub fn layer_link(name: &str, d: &Digest) -> String {
    format!(
        "{}/_layers/{}/{}/link",
        repository(name),
        d.algorithm().name(),
        d.hex()
    )
}

/// `.../_manifests/revisions`: the directory of every manifest revision.
pub fn manifest_revisions(name: &str) -> String {
    format!("{}/_manifests/revisions", repository(name))
}

/// `.../_manifests/revisions/<alg>/<hex>/link`.
pub fn manifest_revision_link(name: &str, d: &Digest) -> String {
    format!(
        "{}/{}/{}/link",
        manifest_revisions(name),
        d.algorithm().name(),
        d.hex()
    )
}

/// `.../_manifests/tags`.
pub fn tags(name: &str) -> String {
    format!("{}/_manifests/tags", repository(name))
}

/// `.../_manifests/tags/<tag>`.
pub fn tag(name: &str, tag: &str) -> String {
    format!("{}/{tag}", tags(name))
}

/// `.../_manifests/tags/<tag>/current/link`.
pub fn tag_current_link(name: &str, t: &str) -> String {
    format!("{}/current/link", tag(name, t))
}

/// `.../_manifests/tags/<tag>/index/<alg>/<hex>/link`.
pub fn tag_index_link(name: &str, t: &str, d: &Digest) -> String {
    format!(
        "{}/index/{}/{}/link",
        tag(name, t),
        d.algorithm().name(),
        d.hex()
    )
}

/// `.../_uploads/<id>`: everything that belongs to one upload.
pub fn upload(name: &str, id: &str) -> String {
    format!("{}/_uploads/{id}", repository(name))
}

/// `.../_uploads/<id>/data`.
pub fn upload_data(name: &str, id: &str) -> String {
    format!("{}/data", upload(name, id))
}

/// `.../_uploads/<id>/startedat`.
pub fn upload_started_at(name: &str, id: &str) -> String {
    format!("{}/startedat", upload(name, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_distribution_paths_go() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
        let hex = d.hex();
        assert_eq!(
            blob_data(&d),
            format!("/docker/registry/v2/blobs/sha256/e3/{hex}/data")
        );
        assert_eq!(
            layer_link("a/b", &d),
            format!("/docker/registry/v2/repositories/a/b/_layers/sha256/{hex}/link")
        );
        assert_eq!(
            manifest_revision_link("r", &d),
            format!("/docker/registry/v2/repositories/r/_manifests/revisions/sha256/{hex}/link")
        );
        assert_eq!(
            tag_current_link("r", "v1"),
            "/docker/registry/v2/repositories/r/_manifests/tags/v1/current/link"
        );
        assert_eq!(
            tag_index_link("r", "v1", &d),
            format!(
                "/docker/registry/v2/repositories/r/_manifests/tags/v1/index/sha256/{hex}/link"
            )
        );
        assert_eq!(
            upload_data("r", "u"),
            "/docker/registry/v2/repositories/r/_uploads/u/data"
        );
        assert_eq!(
            upload_started_at("r", "u"),
            "/docker/registry/v2/repositories/r/_uploads/u/startedat"
        );
        assert!(crate::driver::is_valid_path(&blob_data(&d)));
    }
}
