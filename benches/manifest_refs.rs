//! The cost of a manifest PUT whose manifest references many blobs, on the S3 driver over an
//! in-process s3s-fs server: 3000 references that all exist (every one is looked up, 16 at a
//! time), and 3000 that are all missing (the check stops at the first).
//!
//! ```text
//! cargo bench --features server --bench manifest_refs -- --warm-up-time 1 --measurement-time 5
//! ```

#[path = "support/ours.rs"]
mod ours;
#[path = "../tests/common/registry_layout.rs"]
mod registry_layout;
#[path = "support/s3s_fs.rs"]
mod s3s_fs;
#[path = "support/s3s_serve.rs"]
mod s3s_serve;
#[path = "support/throughput.rs"]
mod throughput;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::{stream, StreamExt};

use s3driver::config::Config;
use s3driver::driver::StorageDriver;
use s3driver::server::App;

use registry_layout as paths;

const REFERENCES: usize = 3000;
const REPO: &str = "bench/refs";

fn manifest(config: &str, layers: &[String], seed: usize) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|d| {
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": 1})
        })
        .collect();
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": layers,
        "annotations": {"seed": seed.to_string()},
    })
    .to_string()
    .into_bytes()
}

/// Stores `content` as a blob linked into the bench repository, the way a push leaves it.
async fn store_blob(driver: &dyn StorageDriver, content: Bytes) -> String {
    let d = paths::sha256_digest(&content);
    driver
        .put_content(&paths::blob_data(&d), content)
        .await
        .expect("blob");
    driver
        .put_content(&paths::layer_link(REPO, &d), Bytes::from(d.clone()))
        .await
        .expect("link");
    d
}

fn bench(c: &mut Criterion) {
    let rt = throughput::runtime();
    let server = rt.block_on(s3s_fs::S3sFs::start(0));
    server.create_bucket("refs");
    let driver = {
        let _guard = rt.enter();
        ours::driver(
            &server.endpoint(),
            "refs",
            s3s_fs::ACCESS_KEY,
            s3s_fs::SECRET_KEY,
        )
    };
    let (config, present, base) = rt.block_on(async {
        let config = store_blob(driver.as_ref(), Bytes::from_static(b"{}")).await;
        let present: Vec<String> = stream::iter(0..REFERENCES)
            .map(|i| store_blob(driver.as_ref(), Bytes::from(format!("layer {i}"))))
            .buffer_unordered(32)
            .collect()
            .await;
        let cfg = Config::from_yaml("version: 0.1\nstorage: inmemory\n", &[]).expect("config");
        let app =
            App::with_driver(&cfg, Arc::clone(&driver) as Arc<dyn StorageDriver>).expect("app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(app.serve(listener, std::future::pending()));
        (config, present, base)
    });
    let missing: Vec<String> = (0..REFERENCES)
        .map(|i| paths::sha256_digest(format!("missing {i}").as_bytes()))
        .collect();
    let client = reqwest::Client::new();
    let mut seed = 0;
    let mut put = |layers: &[String], want: u16, iters: u64| -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            seed += 1;
            let body = manifest(&config, layers, seed);
            let url = format!("{base}/v2/{REPO}/manifests/t{seed}");
            let start = Instant::now();
            let status = rt.block_on(async {
                client
                    .put(&url)
                    .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                    .body(body)
                    .send()
                    .await
                    .expect("PUT manifest")
                    .status()
                    .as_u16()
            });
            total += start.elapsed();
            assert_eq!(status, want);
        }
        total
    };
    let mut g = c.benchmark_group("manifest PUT, S3 driver on s3s-fs");
    g.sample_size(10);
    g.bench_function("3000 references, all present", |b| {
        b.iter_custom(|iters| put(&present, 201, iters));
    });
    g.bench_function("3000 references, all missing", |b| {
        b.iter_custom(|iters| put(&missing, 400, iters));
    });
    g.finish();
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);
