//! Many registries on one bucket, as the seed deployment runs them (a registry on every
//! host): three `s3driver serve` processes, each with its own registry:2 configuration, on
//! one S3 bucket and root directory. One serves blobs by redirecting to presigned S3 URLs,
//! the other two serve them themselves.
//!
//! Through them, at the same time, three images sharing a ~6 MiB base layer are pushed the
//! way Docker pushes (HEAD, cross-repository mount, chunked PATCH uploads, monolithic
//! POSTs, manifest PUT by tag); then a fourth repository mounts the base and a tag is
//! overwritten through another registry. Every registry must then serve every manifest (by
//! tag and digest) and blob byte for byte, agree on the catalog and tags, and see deletes
//! made through another one. Finally an upload abandoned with a multipart upload in S3 is
//! purged by the library's upload purger against the same bucket, which must leave neither
//! `_uploads` objects nor (on Swift) multipart uploads behind.
//!
//! Runs on the in-process s3s-fs server and on Swift's s3api when it is running. s3s-fs
//! lacks ListMultipartUploads, so every upload stays on the registry that started it (a
//! registry resumes another's upload only through that listing), and the multipart checks
//! are made on Swift only.
#![cfg(feature = "server")]

mod common;
mod server_support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use common::S3Target;
use futures_util::future::join_all;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE};
use s3driver::driver::{
    Base, DriverError, FileInfo, Parameters, S3Driver, StorageDriver, WalkControl, WalkOptions,
};
use server_support::process::ServeProcess;
use server_support::{error_codes, header, sha256, JsonValue, OCI_MANIFEST};

const MIB: usize = 1 << 20;
/// `rootdirectory` of every registry of the fleet.
const ROOT: &str = "/fleet";
/// How many `s3driver serve` processes share the bucket.
const INSTANCES: usize = 3;
/// A failure guard for every request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// A chunk size meaning "the whole blob in one PATCH" (what Docker sends).
const WHOLE: usize = usize::MAX;
const OCTET_STREAM: &str = "application/octet-stream";

// --- the processes -----------------------------------------------------------------------------

/// One registry of the fleet.
struct Instance {
    /// Kept for its `Drop`, which kills the process.
    _process: ServeProcess,
    /// `http://127.0.0.1:PORT`.
    base: String,
    /// Whether blob GETs are answered with 307 redirects to presigned S3 URLs.
    redirects: bool,
}

impl Instance {
    async fn start(config: &Path, redirects: bool) -> Instance {
        let process = ServeProcess::start(config).await;
        Instance {
            base: process.base.clone(),
            _process: process,
            redirects,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A `Location` header as an absolute URL.
    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            self.url(location)
        }
    }
}

/// The registry:2 configuration of one registry of the fleet.
fn registry_yaml(target: &S3Target, bucket: &str, redirects: bool) -> String {
    format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: {ROOT}\n    chunksize: 5242880\n  delete:\n    enabled: true\n  redirect:\n    disable: {}\nhttp:\n  addr: 127.0.0.1:0\n",
        target.access_key,
        target.secret_key,
        target.region,
        target.endpoint,
        !redirects
    )
}

// --- test data ---------------------------------------------------------------------------------

/// SplitMix64: reproducible test bytes without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

#[derive(Debug, Clone)]
struct Blob {
    digest: String,
    data: Bytes,
}

impl Blob {
    fn new(data: impl Into<Bytes>) -> Blob {
        let data = data.into();
        Blob {
            digest: sha256(&data),
            data,
        }
    }
}

/// An OCI image: `layers[0]` is the shared base, `layers[1]` its own layer.
#[derive(Debug)]
struct Image {
    repo: String,
    tag: String,
    config: Blob,
    layers: Vec<Blob>,
    manifest: Bytes,
    digest: String,
}

impl Image {
    fn new(repo: &str, tag: &str, base: &Blob, rng: &mut Rng) -> Image {
        let extra = (rng.next_u64() % 4096) as usize;
        let own = Blob::new(rng.bytes(100 * 1024 + extra));
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"repo": repo, "tag": tag, "nonce": rng.next_u64().to_string()}},
            "rootfs": {"type": "layers", "diff_ids": [base.digest, own.digest]},
        });
        let config = Blob::new(config.to_string().into_bytes());
        let layers = vec![base.clone(), own];
        let descriptors: Vec<_> = layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": l.digest,
                    "size": l.data.len(),
                })
            })
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config.digest,
                "size": config.data.len(),
            },
            "layers": descriptors,
        });
        let manifest = Bytes::from(manifest.to_string().into_bytes());
        Image {
            repo: repo.to_owned(),
            tag: tag.to_owned(),
            digest: sha256(&manifest),
            config,
            layers,
            manifest,
        }
    }

    /// Base layer, own layer, config: the order [`Fleet::push_image`] pushes them in.
    fn blobs(&self) -> [&Blob; 3] {
        [&self.layers[0], &self.layers[1], &self.config]
    }
}

/// How a blob is uploaded (after a HEAD found it missing in the repository).
#[derive(Debug, Clone, Copy)]
enum How<'a> {
    /// `POST ?digest=` with the whole blob.
    Monolithic,
    /// `POST`, `PATCH`es of `chunk` bytes with `Content-Range`, then `PUT ?digest=`, whose
    /// body is the last chunk when `last_in_put` (empty otherwise).
    Chunked { chunk: usize, last_in_put: bool },
    /// `POST ?mount=<digest>&from=<from>`; when the registry cannot mount, it answers with a
    /// new upload, which is written in `chunk`s (as [`How::Chunked`] without `last_in_put`).
    Mount { from: &'a str, chunk: usize },
}

/// What a push of a blob came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pushed {
    /// The HEAD found it in the repository already.
    Existed,
    /// Mounted from another repository.
    Mounted,
    /// Uploaded.
    Uploaded,
}

// --- the fleet ---------------------------------------------------------------------------------

/// [`INSTANCES`] registries on one bucket, and the clients that talk to them.
struct Fleet {
    target: S3Target,
    bucket: String,
    instances: Vec<Instance>,
    /// Does not follow redirects.
    http: reqwest::Client,
    /// Follows presigned S3 URLs.
    plain: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Fleet {
    /// Starts the registries: the first one redirects blob GETs to S3, the others serve blobs
    /// themselves.
    async fn start(target: S3Target, bucket: &str) -> Fleet {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut instances = Vec::new();
        for i in 0..INSTANCES {
            let redirects = i == 0;
            let path = dir.path().join(format!("registry{i}.yml"));
            std::fs::write(&path, registry_yaml(&target, bucket, redirects)).unwrap();
            instances.push(Instance::start(&path, redirects).await);
        }
        Fleet {
            target,
            bucket: bucket.to_owned(),
            instances,
            http: common::http_client_builder()
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            plain: common::http_client_builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("client"),
            _dir: dir,
        }
    }

    /// The driver parameters of the registries' YAML.
    fn parameters(&self) -> Parameters {
        Parameters::from_iter([
            ("accesskey", self.target.access_key.as_str()),
            ("secretkey", self.target.secret_key.as_str()),
            ("region", self.target.region.as_str()),
            ("regionendpoint", self.target.endpoint.as_str()),
            ("forcepathstyle", "true"),
            ("bucket", self.bucket.as_str()),
            ("rootdirectory", ROOT),
            ("chunksize", "5242880"),
        ])
    }

    /// A driver on the fleet's bucket and root, as another process would build it.
    fn driver(&self) -> Base<S3Driver> {
        s3driver::driver::Base::new(
            S3Driver::from_parameters(&self.parameters()).expect("S3 driver"),
        )
    }

    /// HEAD of a blob in `repo`, as a client asks before uploading.
    async fn blob_exists(&self, i: usize, repo: &str, blob: &Blob) -> bool {
        let r = &self.instances[i];
        let resp = self
            .http
            .head(r.url(&format!("/v2/{repo}/blobs/{}", blob.digest)))
            .send()
            .await
            .expect("HEAD blob");
        match resp.status().as_u16() {
            200 => {
                assert!(!r.redirects, "{}: 200 instead of a redirect", r.base);
                assert_eq!(header(&resp, "content-length"), blob.data.len().to_string());
                assert_eq!(header(&resp, "docker-content-digest"), blob.digest);
                true
            }
            307 => {
                assert!(r.redirects, "{}: redirected although disabled", r.base);
                assert!(header(&resp, "location").starts_with(&self.target.endpoint));
                true
            }
            404 => false,
            s => panic!("{}: HEAD of {repo}@{}: {s}", r.base, blob.digest),
        }
    }

    /// `POST /v2/<repo>/blobs/uploads/`: a new upload's absolute location.
    async fn start_upload(&self, i: usize, repo: &str) -> String {
        let r = &self.instances[i];
        let resp = self
            .http
            .post(r.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send()
            .await
            .expect("start upload");
        assert_eq!(resp.status(), 202, "{}: starting an upload", r.base);
        assert_eq!(header(&resp, "range"), "0-0");
        r.absolute(&header(&resp, "location"))
    }

    /// `PATCH`es `data` from `offset` to the upload at `location`; returns the next location.
    async fn patch(&self, i: usize, location: &str, offset: usize, data: Bytes) -> String {
        let r = &self.instances[i];
        let end = offset + data.len() - 1;
        let resp = self
            .http
            .patch(location)
            .header(CONTENT_TYPE, OCTET_STREAM)
            .header(CONTENT_RANGE, format!("{offset}-{end}"))
            .body(data)
            .send()
            .await
            .expect("PATCH");
        let status = resp.status();
        let range = header(&resp, "range");
        let next = header(&resp, "location");
        assert_eq!(
            status,
            202,
            "{}: PATCH {offset}-{end} to {location}: {}",
            r.base,
            resp.text().await.unwrap_or_default()
        );
        assert_eq!(range, format!("0-{end}"), "{}: PATCH to {location}", r.base);
        r.absolute(&next)
    }

    /// Writes `blob` to the upload at `location` in chunks and completes it.
    async fn write_upload(
        &self,
        i: usize,
        repo: &str,
        mut location: String,
        blob: &Blob,
        chunk: usize,
        last_in_put: bool,
    ) {
        let len = blob.data.len();
        let put_from = if last_in_put {
            let last = match len % chunk {
                0 => chunk.min(len),
                n => n,
            };
            len - last
        } else {
            len
        };
        let mut offset = 0;
        while offset < put_from {
            let end = offset.saturating_add(chunk).min(put_from);
            location = self
                .patch(i, &location, offset, blob.data.slice(offset..end))
                .await;
            offset = end;
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let resp = self
            .http
            .put(format!("{location}{sep}digest={}", blob.digest))
            .header(CONTENT_TYPE, OCTET_STREAM)
            .body(blob.data.slice(put_from..))
            .send()
            .await
            .expect("PUT upload");
        self.expect_created(i, repo, blob, resp).await;
    }

    /// Checks the 201 that completes a blob upload or mount.
    async fn expect_created(&self, i: usize, repo: &str, blob: &Blob, resp: reqwest::Response) {
        let base = &self.instances[i].base;
        let status = resp.status();
        let digest = header(&resp, "docker-content-digest");
        let location = header(&resp, "location");
        assert_eq!(
            status,
            201,
            "{base}: completing {repo}@{}: {}",
            blob.digest,
            resp.text().await.unwrap_or_default()
        );
        assert_eq!(digest, blob.digest, "{base}");
        assert!(
            location.ends_with(&format!("/v2/{repo}/blobs/{}", blob.digest)),
            "{base}: {location}"
        );
    }

    /// Pushes `blob` to `repo` through registry `i` as a client does: HEAD first, then `how`.
    async fn push_blob(&self, i: usize, repo: &str, blob: &Blob, how: How<'_>) -> Pushed {
        if self.blob_exists(i, repo, blob).await {
            return Pushed::Existed;
        }
        let r = &self.instances[i];
        let pushed = match how {
            How::Monolithic => {
                let resp = self
                    .http
                    .post(r.url(&format!("/v2/{repo}/blobs/uploads/?digest={}", blob.digest)))
                    .header(CONTENT_TYPE, OCTET_STREAM)
                    .body(blob.data.clone())
                    .send()
                    .await
                    .expect("monolithic POST");
                self.expect_created(i, repo, blob, resp).await;
                Pushed::Uploaded
            }
            How::Chunked { chunk, last_in_put } => {
                let location = self.start_upload(i, repo).await;
                self.write_upload(i, repo, location, blob, chunk, last_in_put)
                    .await;
                Pushed::Uploaded
            }
            How::Mount { from, chunk } => {
                let resp = self
                    .http
                    .post(r.url(&format!(
                        "/v2/{repo}/blobs/uploads/?mount={}&from={from}",
                        blob.digest
                    )))
                    .send()
                    .await
                    .expect("mount");
                match resp.status().as_u16() {
                    201 => {
                        self.expect_created(i, repo, blob, resp).await;
                        Pushed::Mounted
                    }
                    202 => {
                        assert_eq!(header(&resp, "range"), "0-0");
                        let location = r.absolute(&header(&resp, "location"));
                        self.write_upload(i, repo, location, blob, chunk, false)
                            .await;
                        Pushed::Uploaded
                    }
                    s => panic!("{}: mount of {} from {from}: {s}", r.base, blob.digest),
                }
            }
        };
        assert!(
            self.blob_exists(i, repo, blob).await,
            "{}: {repo}@{} is missing right after its push",
            r.base,
            blob.digest
        );
        pushed
    }

    /// Pushes the blobs of `image` (base layer, own layer, config: each by its `How`), then
    /// its manifest by tag, all through registry `i`.
    async fn push_image(&self, i: usize, image: &Image, how: [How<'_>; 3]) -> [Pushed; 3] {
        let mut pushed = [Pushed::Existed; 3];
        for ((blob, how), p) in image.blobs().into_iter().zip(how).zip(&mut pushed) {
            *p = self.push_blob(i, &image.repo, blob, how).await;
        }
        let r = &self.instances[i];
        let resp = self
            .http
            .put(r.url(&format!("/v2/{}/manifests/{}", image.repo, image.tag)))
            .header(CONTENT_TYPE, OCI_MANIFEST)
            .body(image.manifest.clone())
            .send()
            .await
            .expect("PUT manifest");
        let status = resp.status();
        let digest = header(&resp, "docker-content-digest");
        let location = header(&resp, "location");
        assert_eq!(
            status,
            201,
            "{}: PUT {}:{}: {}",
            r.base,
            image.repo,
            image.tag,
            resp.text().await.unwrap_or_default()
        );
        assert_eq!(digest, image.digest);
        assert!(
            location.ends_with(&format!("/v2/{}/manifests/{}", image.repo, image.digest)),
            "{location}"
        );
        pushed
    }

    async fn get_manifest(&self, i: usize, repo: &str, reference: &str) -> reqwest::Response {
        self.http
            .get(self.instances[i].url(&format!("/v2/{repo}/manifests/{reference}")))
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .expect("GET manifest")
    }

    /// GET of `image`'s manifest by `reference` (its tag or digest) through registry `i`:
    /// exactly the pushed bytes.
    async fn check_manifest(&self, i: usize, image: &Image, reference: &str) {
        let base = &self.instances[i].base;
        let resp = self.get_manifest(i, &image.repo, reference).await;
        assert_eq!(resp.status(), 200, "{base}: GET {}:{reference}", image.repo);
        assert_eq!(header(&resp, "content-type"), OCI_MANIFEST);
        assert_eq!(
            header(&resp, "docker-content-digest"),
            image.digest,
            "{base}: {}:{reference} resolves to another manifest",
            image.repo
        );
        let body = resp.bytes().await.expect("manifest body");
        assert_eq!(sha256(&body), image.digest, "{base}");
        assert_eq!(body, image.manifest, "{base}");
    }

    /// GET of a blob through registry `i` (following its redirect to S3 if it sends one):
    /// exactly the pushed bytes.
    async fn pull_blob(&self, i: usize, repo: &str, blob: &Blob) {
        let r = &self.instances[i];
        let resp = self
            .http
            .get(r.url(&format!("/v2/{repo}/blobs/{}", blob.digest)))
            .send()
            .await
            .expect("GET blob");
        let resp = match resp.status().as_u16() {
            307 => {
                assert!(r.redirects, "{}: redirected although disabled", r.base);
                assert_eq!(header(&resp, "docker-content-digest"), blob.digest);
                let location = header(&resp, "location");
                assert!(
                    location.starts_with(&self.target.endpoint),
                    "{}: redirected elsewhere: {location}",
                    r.base
                );
                self.plain
                    .get(&location)
                    .send()
                    .await
                    .expect("GET presigned URL")
            }
            200 => {
                assert!(!r.redirects, "{}: 200 instead of a redirect", r.base);
                assert_eq!(header(&resp, "docker-content-digest"), blob.digest);
                resp
            }
            s => panic!("{}: GET {repo}@{}: {s}", r.base, blob.digest),
        };
        assert_eq!(resp.status(), 200, "{}: GET {repo}@{}", r.base, blob.digest);
        let body = resp.bytes().await.expect("blob body");
        assert_eq!(
            sha256(&body),
            blob.digest,
            "{}: {repo}@{} has other bytes ({} of {})",
            r.base,
            blob.digest,
            body.len(),
            blob.data.len()
        );
        assert!(body == blob.data, "{}: {repo}@{}", r.base, blob.digest);
    }

    /// Pulls `image` through registry `i`: the manifest by digest (and by tag when
    /// `tagged`), then every blob.
    async fn pull_image(&self, i: usize, image: &Image, tagged: bool) {
        if tagged {
            self.check_manifest(i, image, &image.tag).await;
        }
        self.check_manifest(i, image, &image.digest).await;
        for blob in image.blobs() {
            self.pull_blob(i, &image.repo, blob).await;
        }
    }

    /// `GET path` as JSON on every registry; all answers must be the same. Returns it.
    async fn agreed_json(&self, path: &str) -> (u16, serde_json::Value) {
        let mut answers = Vec::new();
        for r in &self.instances {
            let resp = self.http.get(r.url(path)).send().await.expect(path);
            answers.push((resp.status().as_u16(), resp.json_value().await));
        }
        for (r, a) in self.instances.iter().zip(&answers) {
            assert_eq!(
                a, &answers[0],
                "{} answers {path} differently from {}",
                r.base, self.instances[0].base
            );
        }
        answers.swap_remove(0)
    }

    /// The objects under the root whose key has an `_uploads` component.
    async fn upload_objects(&self, driver: &Base<S3Driver>) -> Vec<String> {
        let mut found = Vec::new();
        let walked = driver
            .walk(
                "/docker/registry/v2",
                &mut |fi: &FileInfo| -> Result<WalkControl, DriverError> {
                    if !fi.is_dir && fi.path.contains("/_uploads/") {
                        found.push(fi.path.clone());
                    }
                    Ok(WalkControl::Continue)
                },
                WalkOptions::default(),
            )
            .await;
        walked.expect("walk the registry's storage");
        found.sort();
        found
    }
}

// --- the scenario ------------------------------------------------------------------------------

async fn fleet_on_one_bucket(target: S3Target, bucket: &str) {
    let started = Instant::now();
    let name = target.name;
    let on_swift = name == "swift";
    let fleet = Fleet::start(target, bucket).await;
    let mut rng = Rng(0x5eed_f1ee_7000_0001);
    // More than one 5 MiB part.
    let base = Blob::new(rng.bytes(6 * MIB + 4321));
    let alpha = Image::new("fleet/alpha", "v1", &base, &mut rng);
    let beta = Image::new("fleet/beta", "v1", &base, &mut rng);
    let gamma = Image::new("fleet/gamma", "v1", &base, &mut rng);

    // 1. Three images at once through the three registries, all with the same base layer.
    let (a, b, g) = tokio::join!(
        fleet.push_image(
            0,
            &alpha,
            [
                How::Chunked {
                    chunk: 2 * MIB + 17,
                    last_in_put: true
                },
                How::Monolithic,
                How::Chunked {
                    chunk: 100,
                    last_in_put: false
                },
            ],
        ),
        fleet.push_image(
            1,
            &beta,
            [
                // Mounted if alpha's base is complete by then, uploaded otherwise.
                How::Mount {
                    from: "fleet/alpha",
                    chunk: WHOLE
                },
                How::Chunked {
                    chunk: 40_000,
                    last_in_put: true
                },
                How::Monolithic,
            ],
        ),
        fleet.push_image(
            2,
            &gamma,
            [
                How::Monolithic,
                How::Chunked {
                    chunk: WHOLE,
                    last_in_put: false
                },
                How::Chunked {
                    chunk: 64,
                    last_in_put: true
                },
            ],
        ),
    );
    assert_eq!(a, [Pushed::Uploaded; 3]);
    assert!(matches!(b[0], Pushed::Mounted | Pushed::Uploaded), "{b:?}");
    assert_eq!(b[1..], [Pushed::Uploaded; 2]);
    assert_eq!(g, [Pushed::Uploaded; 3]);

    // 2. A fourth repository mounts the base from another one, and alpha:v1 is overwritten
    //    through another registry than the one that pushed it.
    let delta = Image::new("fleet/delta", "v1", &base, &mut rng);
    let alpha2 = Image::new("fleet/alpha", "v1", &base, &mut rng);
    assert_ne!(alpha2.digest, alpha.digest);
    let (d, a2) = tokio::join!(
        fleet.push_image(
            1,
            &delta,
            [
                How::Mount {
                    from: "fleet/gamma",
                    chunk: WHOLE
                },
                How::Monolithic,
                How::Monolithic,
            ],
        ),
        fleet.push_image(
            2,
            &alpha2,
            [
                How::Monolithic,
                How::Chunked {
                    chunk: 30_000,
                    last_in_put: false
                },
                How::Monolithic,
            ],
        ),
    );
    assert_eq!(d, [Pushed::Mounted, Pushed::Uploaded, Pushed::Uploaded]);
    assert_eq!(a2, [Pushed::Existed, Pushed::Uploaded, Pushed::Uploaded]);
    for i in 0..INSTANCES {
        fleet.check_manifest(i, &alpha2, "v1").await;
    }

    // 3. Every registry serves every image (and the overwritten one by digest), byte for byte.
    let current = [&alpha2, &beta, &gamma, &delta];
    join_all((0..INSTANCES).map(|i| {
        let fleet = &fleet;
        let alpha = &alpha;
        async move {
            for image in current {
                fleet.pull_image(i, image, true).await;
            }
            fleet.pull_image(i, alpha, false).await;
        }
    }))
    .await;

    // 4. They agree on the catalog and the tags.
    let (status, catalog) = fleet.agreed_json("/v2/_catalog").await;
    assert_eq!(status, 200);
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["fleet/alpha", "fleet/beta", "fleet/delta", "fleet/gamma"])
    );
    for image in current {
        let (status, tags) = fleet
            .agreed_json(&format!("/v2/{}/tags/list", image.repo))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            tags,
            serde_json::json!({"name": image.repo, "tags": ["v1"]})
        );
    }

    // 5. Deletes made through one registry are seen by all.
    let resp = fleet
        .http
        .delete(fleet.instances[1].url(&format!("/v2/fleet/gamma/manifests/{}", gamma.digest)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "DELETE of gamma's manifest");
    for i in 0..INSTANCES {
        for reference in [gamma.digest.as_str(), "v1"] {
            let resp = fleet.get_manifest(i, "fleet/gamma", reference).await;
            assert_eq!(
                resp.status(),
                404,
                "{}: fleet/gamma:{reference} after its delete",
                fleet.instances[i].base
            );
            assert_eq!(error_codes(resp).await, ["MANIFEST_UNKNOWN"]);
        }
    }
    let (_, tags) = fleet.agreed_json("/v2/fleet/gamma/tags/list").await;
    assert!(!tags.to_string().contains("v1"), "{tags}");

    let resp = fleet
        .http
        .delete(fleet.instances[2].url(&format!("/v2/fleet/delta/blobs/{}", base.digest)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "DELETE of delta's base layer link");
    for i in 0..INSTANCES {
        assert!(!fleet.blob_exists(i, "fleet/delta", &base).await);
        let resp = fleet
            .http
            .get(fleet.instances[i].url(&format!("/v2/fleet/delta/blobs/{}", base.digest)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{}", fleet.instances[i].base);
        assert_eq!(error_codes(resp).await, ["BLOB_UNKNOWN"]);
        // Only the link is gone: the other repositories still serve the data.
        fleet.pull_blob(i, "fleet/alpha", &base).await;
    }

    // 6. An upload abandoned with a multipart upload in S3 (a 5 MiB part and a short one)...
    let owner = 1;
    let location = fleet.start_upload(owner, "fleet/abandoned").await;
    let location = fleet
        .patch(owner, &location, 0, Bytes::from(rng.bytes(6 * MIB)))
        .await;
    let id = location
        .split('?')
        .next()
        .and_then(|l| l.rsplit('/').next())
        .unwrap()
        .to_owned();
    let upload_dir = format!("/docker/registry/v2/repositories/fleet/abandoned/_uploads/{id}");
    // Where it stands, asked of its registry (and on Swift, where a registry finds another's
    // upload through ListMultipartUploads, of every registry).
    let upload_path = format!("/v2/{}", location.split_once("/v2/").unwrap().1);
    let askable = if on_swift {
        0..INSTANCES
    } else {
        owner..owner + 1
    };
    for i in askable {
        let r = &fleet.instances[i];
        let resp = fleet.http.get(r.url(&upload_path)).send().await.unwrap();
        assert_eq!(resp.status(), 204, "{}: GET {upload_path}", r.base);
        assert_eq!(header(&resp, "range"), format!("0-{}", 6 * MIB - 1));
    }

    // ...is removed by the upload purger run from another process on the same bucket.
    let driver = fleet.driver();
    let s3 = driver.inner().client();
    let prefix = format!("{}/", ROOT.trim_start_matches('/'));
    let left = fleet.upload_objects(&driver).await;
    assert!(
        !left.is_empty()
            && left
                .iter()
                .all(|p| p.starts_with(&format!("{upload_dir}/"))),
        "the completed uploads left objects behind: {left:?}"
    );
    let cutoff = SystemTime::now() + Duration::from_secs(60);
    let mut dry = None;
    if on_swift {
        let uploads = s3
            .list_multipart_uploads(&prefix, None, None)
            .await
            .expect("ListMultipartUploads")
            .uploads;
        assert_eq!(uploads.len(), 1, "only the abandoned upload: {uploads:?}");
        assert_eq!(
            uploads[0].key,
            format!("{}{upload_dir}/data", ROOT.trim_start_matches('/'))
        );
        let report = s3driver::server::purge_uploads(&driver, cutoff, true).await;
        assert!(report.errors.is_empty(), "{report:?}");
        assert_eq!(
            report.deleted,
            std::slice::from_ref(&upload_dir),
            "{report:?}"
        );
        assert_eq!(
            report.incomplete_writes,
            [format!("{upload_dir}/data")],
            "{report:?}"
        );
        assert_eq!(
            s3.list_multipart_uploads(&prefix, None, None)
                .await
                .unwrap()
                .uploads
                .len(),
            1,
            "a dry run aborts nothing"
        );
        assert_eq!(
            fleet.upload_objects(&driver).await,
            left,
            "a dry run deletes nothing"
        );
        dry = Some(report);
    }
    let report = s3driver::server::purge_uploads(&driver, cutoff, false).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(
        report.deleted,
        std::slice::from_ref(&upload_dir),
        "{report:?}"
    );
    match &dry {
        Some(dry) => assert_eq!(report.incomplete_writes, dry.incomplete_writes),
        // s3s-fs cannot list multipart uploads: there are none to report.
        None => assert!(report.incomplete_writes.is_empty(), "{report:?}"),
    }
    let left = fleet.upload_objects(&driver).await;
    assert!(left.is_empty(), "left after the purge: {left:?}");
    if on_swift {
        let uploads = s3
            .list_multipart_uploads(&prefix, None, None)
            .await
            .unwrap()
            .uploads;
        assert!(uploads.is_empty(), "left after the purge: {uploads:?}");
    }
    for r in &fleet.instances {
        let resp = fleet.http.get(r.url(&upload_path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{}: the purged upload", r.base);
        assert_eq!(error_codes(resp).await, ["BLOB_UPLOAD_UNKNOWN"]);
    }
    // The images are untouched by the purge.
    fleet.pull_image(2, &alpha2, true).await;

    println!(
        "{name}: {INSTANCES} registries on one bucket: scenario done in {:.1?} (beta's base layer: {:?})",
        started.elapsed(),
        b[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fleet_of_registries_on_one_bucket_over_s3s_fs() {
    let server = common::S3sServer::start().await;
    server.create_bucket("fleet");
    fleet_on_one_bucket(server.target(), "fleet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fleet_of_registries_on_one_bucket_over_swift() {
    let Some(swift) = common::swift_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("fleet");
    swift.create_bucket(&bucket).await;
    fleet_on_one_bucket(swift.target(), &bucket).await;
}
