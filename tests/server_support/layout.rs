//! An OCI image layout made on disk for `skopeo` to push, and running skopeo, for the auth
//! and notification tests (skopeo is required in CI through `S3DRIVER_REQUIRE_SKOPEO=1`).

use std::path::Path;

use super::{sha256, OCI_MANIFEST};

/// Whether skopeo can run; without it the test prints a skip line and passes, unless
/// `S3DRIVER_REQUIRE_SKOPEO=1`, which makes that a failure.
pub fn skopeo_available() -> bool {
    let ok = std::process::Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("S3DRIVER_REQUIRE_SKOPEO").as_deref() != Ok("1"),
            "S3DRIVER_REQUIRE_SKOPEO=1 but skopeo is not installed (apt-get install -y skopeo)"
        );
        println!("skipped: skopeo is not installed (apt-get install -y skopeo)");
    }
    ok
}

/// Runs `skopeo --insecure-policy <args>`: its stdout, or its stderr when it fails.
pub async fn skopeo(args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .await
        .expect("run skopeo");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// [`skopeo`], which must succeed.
pub async fn skopeo_ok(args: &[&str]) -> String {
    skopeo(args)
        .await
        .unwrap_or_else(|e| panic!("skopeo {} failed: {e}", args.join(" ")))
}

/// A ustar archive of regular files.
fn tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let mut field = |off: usize, len: usize, value: u64| {
            let s = format!("{value:0width$o}\0", width = len - 1);
            h[off..off + len].copy_from_slice(s.as_bytes());
        };
        field(100, 8, 0o644);
        field(108, 8, 0);
        field(116, 8, 0);
        field(124, 12, data.len() as u64);
        field(136, 12, 1_700_000_000);
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

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
