//! Garbage collection and the catalog on S3, s3driver against registry:2 (Debian's
//! `docker-registry` 2.8.2), on the same buckets of one in-process s3s-fs server, in one run.
//!
//! ```text
//! cargo bench --features server --bench gc
//! ```
//!
//! *Garbage collection*: 250 repositories (`team<t>/app<a>`), each with 8 manifest revisions
//! (4 tagged, 4 left untagged by retags), every manifest with its own config and two own layers
//! plus one of 16 base layers shared across repositories, and 8 blobs per repository that no
//! manifest uses: 10 016 blobs, about 22 000 objects. Timed: a dry run, a dry run with
//! `--delete-untagged`, and a real collection with `--delete-untagged` (each on a fresh copy of
//! the bucket). s3driver runs in-process through the library (`gc::run`, what
//! `s3driver garbage-collect` calls) with its default concurrency; registry:2 is
//! `docker-registry garbage-collect`.
//!
//! *Catalog*: 2 000 repositories (one image each). Timed: the first page
//! (`GET /v2/_catalog`, 100 entries) and every repository (`?n=1000`, following `Link`), from
//! s3driver's registry (in-process) and `docker-registry serve`.
//!
//! The server is s3s-fs with ListObjects answered as an S3 index answers it
//! (`support/s3s_listing.rs`): stock s3s-fs walks the whole bucket for every listing without
//! a delimiter, which is how registry:2's S3 driver stats a path, so against stock s3s-fs
//! registry:2 spends its time in s3s-fs (hours at this size). The buckets are written straight
//! into s3s-fs's data directory (the objects a push leaves, byte for byte). s3driver runs `S3DRIVER_BENCH_REPS` times per case (default 3; the median is
//! shown), registry:2 once (`S3DRIVER_BENCH_REGISTRY2_REPS` to change it). Without
//! `docker-registry` installed only s3driver is measured. Nothing is asserted about times; the
//! eligible blob counts of both collectors are printed side by side.

#[path = "../tests/common/registry_layout.rs"]
mod registry_layout;
#[path = "support/s3s_listing.rs"]
mod s3s_listing;
#[path = "support/s3s_serve.rs"]
mod s3s_serve;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use s3driver::config::{build_driver, Config};
use s3driver::server::gc::{self, Options};
use s3driver::server::App;

use registry_layout as paths;

const ROOT: &str = "bench";
const ACCESS_KEY: &str = "AKIDS3DRIVERBENCH";
const SECRET_KEY: &str = "s3driver/Bench+Secret/Key+0123456789abcdefXYZ";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Writes one object of the bucket directory `bucket` (s3s-fs stores key `k` as file `k`).
fn put(bucket: &Path, path: &str, data: &[u8]) {
    let file = bucket.join(ROOT).join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, data).expect("write");
}

/// A blob, as a push leaves it: its data, and its `_layers` link in `repo` (not for manifests).
fn blob(bucket: &Path, repo: Option<&str>, data: &[u8]) -> String {
    let d = paths::sha256_digest(data);
    put(bucket, &paths::blob_data(&d), data);
    if let Some(repo) = repo {
        put(bucket, &paths::layer_link(repo, &d), d.as_bytes());
    }
    d
}

/// Stores an OCI image manifest in `repo` (revision link, and the tag's links if `tag`).
fn image(bucket: &Path, repo: &str, seed: &str, base: &str, tag: Option<&str>) {
    let config = blob(
        bucket,
        Some(repo),
        format!("{{\"config\":\"{seed}\"}}").as_bytes(),
    );
    let l1 = blob(bucket, Some(repo), format!("layer one {seed}").as_bytes());
    let l2 = blob(bucket, Some(repo), format!("layer two {seed}").as_bytes());
    put(bucket, &paths::layer_link(repo, base), base.as_bytes());
    let layer = |d: &str| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": 20});
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 20},
        "layers": [layer(base), layer(&l1), layer(&l2)],
    })
    .to_string()
    .into_bytes();
    let md = blob(bucket, None, &m);
    let link = md.clone();
    put(
        bucket,
        &paths::manifest_revision_link(repo, &md),
        link.as_bytes(),
    );
    if let Some(tag) = tag {
        put(bucket, &paths::tag_current_link(repo, tag), link.as_bytes());
        put(
            bucket,
            &paths::tag_index_link(repo, tag, &md),
            link.as_bytes(),
        );
    }
}

/// The garbage collection bucket (see the module documentation).
fn gc_bucket(bucket: &Path) {
    let bases: Vec<String> = (0..16)
        .map(|i| blob(bucket, None, format!("base layer {i}").as_bytes()))
        .collect();
    for t in 0..25 {
        for a in 0..10 {
            let repo = format!("team{t}/app{a}");
            let base = &bases[(t * 10 + a) % bases.len()];
            for m in 0..8 {
                // Revisions 0-3 were retagged by 4-7: the first four are untagged.
                let tag = format!("v{}", m % 4);
                let tag = (m >= 4).then_some(tag.as_str());
                image(bucket, &repo, &format!("{repo} {m}"), base, tag);
            }
            for o in 0..8 {
                blob(bucket, Some(&repo), format!("{repo} orphan {o}").as_bytes());
            }
        }
    }
}

/// The catalog bucket: 2 000 repositories with one image each.
fn catalog_bucket(bucket: &Path) {
    let base = blob(bucket, None, b"catalog base layer");
    for i in 0..2000 {
        let repo = format!("ns{}/repo{i:04}", i % 20);
        image(bucket, &repo, &repo, &base, Some("latest"));
    }
}

fn yaml(endpoint: &str, bucket: &str, addr: &str) -> String {
    format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {endpoint}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /{ROOT}\n  redirect:\n    disable: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n",
        ACCESS_KEY, SECRET_KEY, "us-east-1"
    )
}

fn reps(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn registry2_installed() -> bool {
    std::process::Command::new("docker-registry")
        .arg("--version")
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn docker_registry(args: &[&str], config: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("docker-registry");
    cmd.args(args).arg(config).env_remove("AWS_CA_BUNDLE");
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("REGISTRY_") || k.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Copies the bucket directory `from` to `to` (`cp -r`).
fn copy_bucket(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success(), "cp -r failed");
}

struct Bench {
    rt: tokio::runtime::Runtime,
    server: s3s_listing::Server,
    work: tempfile::TempDir,
    copies: usize,
}

impl Bench {
    /// A fresh bucket with the content of the template directory `template`.
    fn bucket(&mut self, template: &Path) -> String {
        self.copies += 1;
        let name = format!("gc{}", self.copies);
        copy_bucket(template, &self.server.data_dir().join(&name));
        name
    }

    fn config_file(&self, bucket: &str, addr: &str) -> (PathBuf, String) {
        let text = yaml(&self.server.endpoint(), bucket, addr);
        let path = self
            .work
            .path()
            .join(format!("{bucket}-{}.yml", addr.replace(':', "_")));
        std::fs::write(&path, &text).expect("config");
        (path, text)
    }

    /// s3driver's collection on `bucket`: time and blobs eligible (or deleted).
    fn ours(&self, bucket: &str, opts: Options) -> (Duration, usize) {
        let (_, text) = self.config_file(bucket, "127.0.0.1:0");
        let config = Config::from_yaml(&text, &[]).expect("config");
        self.rt.block_on(async {
            let driver = build_driver(&config.storage).expect("driver");
            let start = Instant::now();
            let report = gc::run(driver.as_ref(), opts).await.expect("s3driver gc");
            (start.elapsed(), report.blobs.len())
        })
    }

    /// registry:2's collection on `bucket`: time and blobs eligible (from its summary line).
    fn theirs(&self, bucket: &str, dry_run: bool, untagged: bool) -> (Duration, usize) {
        let (path, _) = self.config_file(bucket, "127.0.0.1:0");
        let mut args = vec!["garbage-collect"];
        if dry_run {
            args.push("--dry-run");
        }
        if untagged {
            args.push("-m");
        }
        self.rt.block_on(async {
            let start = Instant::now();
            let out = docker_registry(&args, &path)
                .stderr(Stdio::null())
                .output()
                .await
                .expect("docker-registry");
            let elapsed = start.elapsed();
            assert!(
                out.status.success(),
                "docker-registry garbage-collect failed"
            );
            let text = String::from_utf8_lossy(&out.stdout);
            // "N blobs marked, M blobs and K manifests eligible for deletion"
            let eligible = text
                .lines()
                .find(|l| l.contains("blobs marked"))
                .and_then(|l| l.split(", ").nth(1))
                .and_then(|l| l.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (elapsed, eligible)
        })
    }
}

fn row(case: &str, ours: &[Duration], theirs: &[Duration], counts: (usize, Option<usize>)) {
    let o = median(ours.to_vec());
    let t = (!theirs.is_empty()).then(|| median(theirs.to_vec()));
    let (t_text, ratio) = match t {
        Some(t) => (
            format!("{:.2} s", t.as_secs_f64()),
            format!("{:.1}x", t.as_secs_f64() / o.as_secs_f64()),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    };
    let counts = match counts.1 {
        Some(c) => format!("{} / {}", counts.0, c),
        None => counts.0.to_string(),
    };
    println!(
        "| {case} | {:.2} s | {t_text} | {ratio} | {counts} |",
        o.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(s3s_listing::Server::start(ACCESS_KEY, SECRET_KEY));
    let work = tempfile::tempdir().expect("temp dir");
    let mut bench = Bench {
        rt,
        server,
        work,
        copies: 0,
    };
    let ours_reps = reps("S3DRIVER_BENCH_REPS", 3);
    let theirs_reps = reps("S3DRIVER_BENCH_REGISTRY2_REPS", 1);
    let registry2 = registry2_installed();
    if !registry2 {
        println!(
            "docker-registry is not installed (apt-get install docker-registry): s3driver only"
        );
    }

    let template = bench.work.path().join("gc-template");
    let start = Instant::now();
    gc_bucket(&template);
    println!(
        "garbage collection bucket written in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    println!("\n| garbage collection, 10 016 blobs | s3driver | registry:2 2.8.2 | ratio | blobs eligible (s3driver / registry:2) |");
    println!("|---|---|---|---|---|");
    let bucket = bench.bucket(&template);
    for (case, untagged) in [("dry run", false), ("dry run, --delete-untagged", true)] {
        let opts = Options::default()
            .with_dry_run(true)
            .with_delete_untagged(untagged);
        let mut ours = Vec::new();
        let mut n = 0;
        for _ in 0..ours_reps {
            let (t, c) = bench.ours(&bucket, opts);
            ours.push(t);
            n = c;
        }
        let mut theirs = Vec::new();
        let mut m = None;
        if registry2 {
            for _ in 0..theirs_reps {
                let (t, c) = bench.theirs(&bucket, true, untagged);
                theirs.push(t);
                m = Some(c);
            }
        }
        row(case, &ours, &theirs, (n, m));
    }
    // Real collections, each on a fresh copy.
    let opts = Options::default().with_delete_untagged(true);
    let mut ours = Vec::new();
    let mut n = 0;
    for _ in 0..ours_reps {
        let bucket = bench.bucket(&template);
        let (t, c) = bench.ours(&bucket, opts);
        ours.push(t);
        n = c;
    }
    let mut theirs = Vec::new();
    let mut m = None;
    if registry2 {
        for _ in 0..theirs_reps {
            let bucket = bench.bucket(&template);
            let (t, _) = bench.theirs(&bucket, false, true);
            theirs.push(t);
            // What is left for a dry run of s3driver's to find: nothing, if both deleted the same.
            let (_, left) = bench.ours(
                &bucket,
                Options::default()
                    .with_dry_run(true)
                    .with_delete_untagged(true),
            );
            m = Some(n - left.min(n));
        }
    }
    row("collection, --delete-untagged", &ours, &theirs, (n, m));

    // The catalog.
    let template = bench.work.path().join("catalog-template");
    catalog_bucket(&template);
    let bucket = bench.bucket(&template);
    println!(
        "\n| catalog, 2 000 repositories | s3driver | registry:2 2.8.2 | ratio | repositories |"
    );
    println!("|---|---|---|---|---|");
    let (_, text) = bench.config_file(&bucket, "127.0.0.1:0");
    let config = Config::from_yaml(&text, &[]).expect("config");
    let client = reqwest::Client::new();
    let ours_base = bench.rt.block_on(async {
        let app = App::from_config(&config).expect("app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(app.serve(listener, std::future::pending()));
        base
    });
    let mut theirs_process = None;
    let theirs_base = if registry2 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let (path, _) = bench.config_file(&bucket, &format!("127.0.0.1:{port}"));
        let child = bench.rt.block_on(async {
            docker_registry(&["serve"], &path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("docker-registry serve")
        });
        theirs_process = Some(child);
        let base = format!("http://127.0.0.1:{port}");
        bench.rt.block_on(async {
            for _ in 0..300 {
                if client.get(format!("{base}/v2/")).send().await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("docker-registry serve did not start");
        });
        Some(base)
    } else {
        None
    };
    let catalog = |base: &str, n: Option<usize>| -> (Duration, usize) {
        bench.rt.block_on(async {
            let start = Instant::now();
            let mut url = match n {
                Some(n) => format!("{base}/v2/_catalog?n={n}"),
                None => format!("{base}/v2/_catalog"),
            };
            let mut count = 0;
            loop {
                let resp = client.get(&url).send().await.expect("catalog");
                assert!(resp.status().is_success(), "catalog: {}", resp.status());
                let link = resp
                    .headers()
                    .get("link")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let v: serde_json::Value =
                    serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json");
                count += v["repositories"].as_array().map_or(0, Vec::len);
                match (n, link) {
                    (Some(_), Some(l)) => {
                        let next = l.trim_start_matches('<').split('>').next().unwrap_or("");
                        url = format!("{base}{next}");
                    }
                    _ => break,
                }
            }
            (start.elapsed(), count)
        })
    };
    for (case, n) in [
        ("first page (100)", None),
        ("every repository (n=1000, 2 pages)", Some(1000)),
    ] {
        let mut ours = Vec::new();
        let mut count = 0;
        for _ in 0..ours_reps {
            let (t, c) = catalog(&ours_base, n);
            ours.push(t);
            count = c;
        }
        let mut theirs = Vec::new();
        let mut theirs_count = None;
        if let Some(base) = &theirs_base {
            for _ in 0..theirs_reps {
                let (t, c) = catalog(base, n);
                theirs.push(t);
                theirs_count = Some(c);
            }
        }
        row(case, &ours, &theirs, (count, theirs_count));
    }
    drop(theirs_process);
}
