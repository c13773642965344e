//! Test images made in memory: multi-layer OCI images (real gzip'd tar layers, without a
//! compression library) and image indexes, pushed to a registry over HTTP.

use super::sha256;

/// A ustar archive of regular files (what an uncompressed image layer is).
pub fn tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
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

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid gzip stream of `data` with stored (uncompressed) deflate blocks.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Pseudo-random bytes (not compressible), different per `seed`.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}

/// An image: its manifest and every blob it references.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// `application/vnd.oci.image.manifest.v1+json`.
    pub media_type: &'static str,
    /// Config first, then the layers: (digest, bytes).
    pub blobs: Vec<(String, Vec<u8>)>,
}

impl Image {
    /// The manifest's digest.
    pub fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    /// The layers' digests.
    pub fn layers(&self) -> Vec<String> {
        self.blobs[1..].iter().map(|(d, _)| d.clone()).collect()
    }
}

/// An OCI image of `arch` with gzip'd layers of about the `sizes` given (bytes of noise
/// in a file each), different per `seed`.
pub fn image(seed: &str, arch: &str, sizes: &[usize]) -> Image {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let n = u32::try_from(i).unwrap_or(0) + seed.bytes().map(u32::from).sum::<u32>() * 31;
        let t = tar(&[
            (
                &format!("layer{i}/{seed}.txt"),
                format!("{seed} {arch} {i}\n").into_bytes(),
            ),
            (&format!("layer{i}/data.bin"), noise(*size, n)),
        ]);
        diff_ids.push(sha256(&t));
        layers.push(gzip_stored(&t));
    }
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/true"], "Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes();
    let mut blobs = vec![(sha256(&config), config.clone())];
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(l), "size": l.len()})
        })
        .collect();
    blobs.extend(layers.into_iter().map(|l| (sha256(&l), l)));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": super::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blobs[0].0, "size": config.len()},
        "layers": descs,
    })
    .to_string()
    .into_bytes();
    Image {
        manifest,
        media_type: super::OCI_MANIFEST,
        blobs,
    }
}

/// An OCI index of `images` (their platforms from the config's architecture).
pub fn index(images: &[(&Image, &str)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|(i, arch)| {
            serde_json::json!({
                "mediaType": i.media_type, "digest": i.digest(), "size": i.manifest.len(),
                "platform": {"architecture": arch, "os": "linux"},
            })
        })
        .collect();
    serde_json::json!({"schemaVersion": 2, "mediaType": super::OCI_INDEX, "manifests": manifests})
        .to_string()
        .into_bytes()
}

/// A client for pushing to `base` with basic credentials.
pub struct Pusher {
    pub base: String,
    pub creds: Option<(String, String)>,
    pub client: reqwest::Client,
}

impl Pusher {
    pub fn new(base: &str, creds: Option<(&str, &str)>) -> Pusher {
        Pusher {
            base: base.to_owned(),
            creds: creds.map(|(u, p)| (u.to_owned(), p.to_owned())),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        }
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.creds {
            Some((u, p)) => rb.basic_auth(u, Some(p)),
            None => rb,
        }
    }

    /// Pushes one blob (monolithic upload).
    pub async fn blob(&self, repo: &str, data: &[u8]) {
        let d = sha256(data);
        let resp = self
            .auth(
                self.client
                    .post(format!("{}/v2/{repo}/blobs/uploads/?digest={d}", self.base)),
            )
            .body(data.to_vec())
            .send()
            .await
            .expect("push blob");
        assert_eq!(resp.status(), 201, "push blob {d}: {:?}", resp.text().await);
    }

    /// Pushes a manifest under `reference`.
    pub async fn manifest(&self, repo: &str, reference: &str, media_type: &str, body: &[u8]) {
        let resp = self
            .auth(
                self.client
                    .put(format!("{}/v2/{repo}/manifests/{reference}", self.base)),
            )
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .expect("push manifest");
        assert_eq!(resp.status(), 201, "push manifest: {:?}", resp.text().await);
    }

    /// Pushes `image` (blobs, then the manifest) tagged `tag`.
    pub async fn image(&self, repo: &str, tag: &str, image: &Image) {
        for (_, b) in &image.blobs {
            self.blob(repo, b).await;
        }
        self.manifest(repo, tag, image.media_type, &image.manifest)
            .await;
    }
}
