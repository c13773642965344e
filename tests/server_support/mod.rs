//! Shared helpers of the `server_*` tests: start a registry on 127.0.0.1:0 with
//! a configuration and a driver, and talk to it with reqwest.

#![allow(dead_code)]

pub mod front;
pub mod images;
pub mod layout;
pub mod process;
pub mod raw;
/// registry:2's storage layout, stated independently of the server's own.
#[path = "../common/registry_layout.rs"]
pub mod registry_layout;
pub mod skopeo;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use s3driver::config::Config;
use s3driver::driver::FilesystemParameters;
use s3driver::driver::{
    BoxedReader, DriverError, FileInfo, FileWriter, FilesystemDriver, InMemoryDriver,
    RedirectRequest, StorageDriver, WalkFn, WalkOptions,
};
use s3driver::server::App;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The storage backends every API test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    InMemory,
    Filesystem,
}

pub const BACKENDS: [Backend; 2] = [Backend::InMemory, Backend::Filesystem];

/// A running registry.
pub struct Registry {
    pub base: String,
    pub client: reqwest::Client,
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    pub dir: Option<tempfile::TempDir>,
}

impl Registry {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn driver(&self) -> &Arc<dyn StorageDriver> {
        self.app.driver()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("serve result");
        }
    }

    /// Completes the shutdown signal without waiting.
    pub fn signal_shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().expect("running")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A config from YAML, with `version: 0.1` and `storage: inmemory` added when
/// missing.
pub fn config(extra_yaml: &str) -> Config {
    let mut text = String::from("version: 0.1\n");
    if !extra_yaml.contains("storage:") {
        text.push_str("storage:\n  inmemory:\n");
    }
    text.push_str(extra_yaml);
    Config::from_yaml(&text, &[]).unwrap_or_else(|e| panic!("test config: {e}\n{text}"))
}

/// Merges `storage_settings` (lines indented under `storage:`) into a config.
pub fn config_with_storage(storage_settings: &str, extra_yaml: &str) -> Config {
    let text = format!("storage:\n  inmemory:\n{storage_settings}{extra_yaml}");
    config(&text)
}

/// A driver for `backend` (filesystem rooted in a new temporary directory).
pub fn driver_for(backend: Backend) -> (Arc<dyn StorageDriver>, Option<tempfile::TempDir>) {
    match backend {
        Backend::InMemory => (
            Arc::new(s3driver::driver::Base::new(InMemoryDriver::new())),
            None,
        ),
        Backend::Filesystem => {
            let dir = tempfile::tempdir().expect("temp dir");
            let d = s3driver::driver::Base::new(FilesystemDriver::new(FilesystemParameters::new(
                dir.path().join("registry"),
            )));
            (Arc::new(d), Some(dir))
        }
    }
}

/// Starts a registry with `config` on `driver`.
pub async fn start_with(config: &Config, driver: Arc<dyn StorageDriver>) -> Registry {
    let app = App::with_driver(config, driver).expect("app");
    start_app(app).await
}

/// Starts `app` on 127.0.0.1:0.
pub async fn start_app(app: App) -> Registry {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let scheme = if app.is_tls() { "https" } else { "http" };
    let handle = tokio::spawn(app.clone().serve(listener, async move {
        let _ = rx.await;
    }));
    Registry {
        base: format!("{scheme}://{addr}"),
        client: client(),
        app,
        shutdown: Some(tx),
        handle: Some(handle),
        dir: None,
    }
}

/// Starts a registry on `backend` with the extra configuration.
pub async fn start(backend: Backend, extra_yaml: &str) -> Registry {
    let (driver, dir) = driver_for(backend);
    let mut r = start_with(&config(extra_yaml), driver).await;
    r.dir = dir;
    r
}

/// A client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `"sha256:<hex>"` of `data`.
pub fn sha256(data: &[u8]) -> String {
    registry_layout::sha256_digest(data)
}

/// Whether `s` is an RFC 3339 UTC time as the registry writes it:
/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, upper-case `T` and `Z`, a real date and time.
pub fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z'
        && match &b[19..b.len() - 1] {
            [] => true,
            [b'.', frac @ ..] => !frac.is_empty() && frac.iter().all(u8::is_ascii_digit),
            _ => false,
        };
    // Calendar and clock ranges (month 13, February 30, hour 24 ...): the library's parser.
    shape && b[17..19] != *b"60" && s3driver::xml::Timestamp::parse(s).is_ok()
}

/// The `errors[].code` values of an error response.
pub async fn error_codes(resp: reqwest::Response) -> Vec<String> {
    let v: serde_json::Value = resp.json_value().await;
    v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array in {v}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// JSON bodies without reqwest's `json` feature.
#[async_trait]
pub trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

#[async_trait]
impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        let text = self.text().await.expect("body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

pub fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_owned())
        .unwrap_or_default()
}

/// Starts a blob upload in `repo` (`POST .../blobs/uploads/`, 202) and returns its location.
pub async fn start_upload(r: &Registry, repo: &str) -> String {
    let resp = r
        .client
        .post(r.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    header(&resp, "location")
}

/// Uploads `data` to `repo` monolithically and returns its digest.
pub async fn push_blob(r: &Registry, repo: &str, data: &[u8]) -> String {
    let d = sha256(data);
    let resp = r
        .client
        .post(r.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
        .body(data.to_vec())
        .send()
        .await
        .expect("push blob");
    assert_eq!(
        resp.status(),
        201,
        "push blob: {}",
        resp.text().await.unwrap_or_default()
    );
    d
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Pushes a config and two layers to `repo` and returns an OCI manifest
/// referencing them (`media_type` decides OCI or Docker flavour).
pub async fn image_manifest(r: &Registry, repo: &str, media_type: &str, seed: &str) -> Vec<u8> {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
    let l1 = format!("layer one {seed}").into_bytes();
    let l2 = format!("layer two {seed}").into_bytes();
    let c = push_blob(r, repo, config.as_bytes()).await;
    let d1 = push_blob(r, repo, &l1).await;
    let d2 = push_blob(r, repo, &l2).await;
    let (config_type, layer_type) = if media_type == DOCKER_MANIFEST {
        (
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    } else {
        (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar",
        )
    };
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": c, "size": config.len()},
        "layers": [
            {"mediaType": layer_type, "digest": d1, "size": l1.len()},
            {"mediaType": layer_type, "digest": d2, "size": l2.len()},
        ],
    })
    .to_string()
    .into_bytes()
}

pub async fn put_manifest(
    r: &Registry,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> reqwest::Response {
    r.client
        .put(r.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("Content-Type", media_type)
        .body(body.to_vec())
        .send()
        .await
        .expect("put manifest")
}

pub async fn get_manifest(r: &Registry, repo: &str, reference: &str) -> reqwest::Response {
    r.client
        .get(r.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("Accept", ACCEPT_ALL)
        .send()
        .await
        .expect("get manifest")
}

/// A driver wrapper for fault injection and redirects: `stat("/")` fails while
/// `fail_root_stat` is set; `redirect_url` answers `redirect_base + path` when
/// set; `list` waits `list_delay` first.
#[derive(Debug)]
pub struct TestDriver {
    pub inner: Arc<dyn StorageDriver>,
    pub fail_root_stat: AtomicBool,
    pub root_stat_not_found: AtomicBool,
    pub redirect_base: Option<String>,
    pub list_delay: std::time::Duration,
    /// Number of `reader` calls.
    pub readers: AtomicUsize,
    /// The paths `get_content` was called with, in order.
    pub contents_read: std::sync::Mutex<Vec<String>>,
}

impl TestDriver {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(s3driver::driver::Base::new(InMemoryDriver::new())),
            fail_root_stat: AtomicBool::new(false),
            root_stat_not_found: AtomicBool::new(false),
            redirect_base: None,
            list_delay: std::time::Duration::ZERO,
            readers: AtomicUsize::new(0),
            contents_read: std::sync::Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl StorageDriver for TestDriver {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn get_content(&self, path: &str) -> Result<Bytes, DriverError> {
        self.contents_read.lock().unwrap().push(path.to_owned());
        self.inner.get_content(path).await
    }
    async fn put_content(&self, path: &str, content: Bytes) -> Result<(), DriverError> {
        self.inner.put_content(path, content).await
    }
    async fn reader(&self, path: &str, offset: u64) -> Result<BoxedReader, DriverError> {
        self.readers.fetch_add(1, Ordering::SeqCst);
        self.inner.reader(path, offset).await
    }
    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>, DriverError> {
        self.inner.writer(path, append).await
    }
    fn append_needs_existing(&self) -> bool {
        self.inner.append_needs_existing()
    }
    async fn stat(&self, path: &str) -> Result<FileInfo, DriverError> {
        if path == "/" && self.fail_root_stat.load(Ordering::SeqCst) {
            return Err(DriverError::msg("backend unreachable").with_driver("inmemory"));
        }
        if path == "/" && self.root_stat_not_found.load(Ordering::SeqCst) {
            return Err(DriverError::path_not_found("/").with_driver("inmemory"));
        }
        self.inner.stat(path).await
    }
    async fn list(&self, path: &str) -> Result<Vec<String>, DriverError> {
        if !self.list_delay.is_zero() {
            tokio::time::sleep(self.list_delay).await;
        }
        self.inner.list(path).await
    }
    async fn move_to(&self, src: &str, dst: &str) -> Result<(), DriverError> {
        self.inner.move_to(src, dst).await
    }
    async fn delete(&self, path: &str) -> Result<(), DriverError> {
        self.inner.delete(path).await
    }
    async fn redirect_url(
        &self,
        req: &RedirectRequest,
        path: &str,
    ) -> Result<Option<String>, DriverError> {
        match &self.redirect_base {
            Some(base) if req.method == "GET" || req.method == "HEAD" => {
                Ok(Some(format!("{base}{path}")))
            }
            _ => Ok(None),
        }
    }
    async fn walk(
        &self,
        path: &str,
        f: &mut WalkFn<'_>,
        opts: WalkOptions,
    ) -> Result<(), DriverError> {
        self.inner.walk(path, f, opts).await
    }
}
