//! An OCI image layout made on disk for `skopeo` to push (see `skopeo.rs` to run it), for
//! the auth and notification tests.

use std::path::Path;

use super::images::tar;
use super::{sha256, OCI_MANIFEST};

fn write_blob(layout: &Path, data: &[u8]) -> String {
    let d = sha256(data);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&d["sha256:".len()..]), data).unwrap();
    d
}

/// An image made on disk by [`image`].
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// `sha256:` of the manifest.
    pub digest: String,
    /// The config's digest and size.
    pub config: (String, usize),
    /// The layers' digests and sizes, in order.
    pub layers: Vec<(String, usize)>,
}

/// Writes an OCI image layout at `layout` with one image of two uncompressed layers tagged
/// `v1` (`seed` makes its content unique).
pub fn image(layout: &Path, seed: &str) -> Image {
    let layers = [
        tar(&[("etc/seed.txt", format!("{seed}\n").into_bytes())]),
        tar(&[(
            "usr/share/data.bin",
            format!("{seed} data").repeat(1000).into_bytes(),
        )]),
    ];
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    let mut blobs = Vec::new();
    for l in &layers {
        let d = write_blob(layout, l);
        diff_ids.push(d.clone());
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": l.len()}));
        blobs.push((d, l.len()));
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes();
    let cd = write_blob(layout, &config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": descs,
    })
    .to_string()
    .into_bytes();
    let md = write_blob(layout, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": md, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    Image {
        manifest,
        digest: md,
        config: (cd, config.len()),
        layers: blobs,
    }
}
