//! `s3driver garbage-collect` against registry:2's own garbage collector (Debian's
//! `docker-registry` 2.8.2) on one bucket.
//!
//! A history is pushed with skopeo through `s3driver serve`'s registry on a signature-verifying
//! S3 server (in-process s3s-fs; Ceph RGW too when it runs): images sharing a base layer across
//! repositories, a retag that leaves a manifest untagged, a manifest deleted by digest, a
//! multi-platform index, a tag deleted (another untagged manifest), an untagged OCI referrer
//! and a blob no manifest uses. Then both collectors run in dry-run mode on the same bucket with
//! the same registry:2 configuration file:
//!
//! - without `--delete-untagged` they must find exactly the same blobs eligible;
//! - with it, registry:2 2.8.2 also finds the configs and layers of the index's platform
//!   manifests eligible (it treats them as untagged: a multi-platform image no longer pulls
//!   after its collection) and the untagged referrer with its blobs. s3driver follows
//!   Distribution v3 for the index and keeps referrers of kept manifests. The test pins exactly
//!   that difference, computed from the history, and every other blob must agree.
//!
//! Then s3driver collects for real (with `--delete-untagged`), every remaining tag must still
//! pull byte for byte with skopeo through s3driver and through `docker-registry serve`, and
//! registry:2's collector must find nothing more to delete.
//!
//! Needs `docker-registry` and `skopeo`; without them the test prints a skip line, unless
//! `S3DRIVER_REQUIRE_DOCKER_REGISTRY=1` / `S3DRIVER_REQUIRE_SKOPEO=1` (CI sets both).
#![cfg(feature = "server")]

mod common;
mod server_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::S3Target;
use server_support::*;

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// Whether `program --version` runs; panics instead of skipping when `require_var` is set.
fn available(program: &str, require_var: &str, install: &str) -> bool {
    let ok = Command::new(program)
        .arg("--version")
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !required(require_var),
            "{require_var}=1 but {program} is not installed ({install})"
        );
        println!("skipping the registry:2 garbage-collect interop test: {program} is not installed ({install})");
    }
    ok
}

fn tools_available() -> bool {
    available(
        "docker-registry",
        "S3DRIVER_REQUIRE_DOCKER_REGISTRY",
        "apt-get install -y docker-registry",
    ) && available(
        "skopeo",
        "S3DRIVER_REQUIRE_SKOPEO",
        "apt-get install -y skopeo",
    )
}

// --- OCI layouts ------------------------------------------------------------------------------

/// An OCI image layout directory with several named images.
struct Layout {
    dir: PathBuf,
    refs: Vec<serde_json::Value>,
}

/// A manifest in a layout: digest, size, and the digests of everything it references.
#[derive(Debug, Clone)]
struct Pushed {
    digest: String,
    size: usize,
    blobs: Vec<String>,
}

impl Layout {
    fn new(dir: PathBuf) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir,
            refs: Vec::new(),
        }
    }

    fn blob(&self, data: &[u8]) -> String {
        let d = sha256(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
        d
    }

    /// An image of `layers` (file contents) with a config unique to `name`.
    fn image(&self, name: &str, layers: &[&[u8]], arch: &str) -> Pushed {
        let mut blobs = Vec::new();
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let t = server_support::images::tar(&[(&format!("file{i}"), l.to_vec())]);
            let d = self.blob(&t);
            diff_ids.push(d.clone());
            descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": t.len()}));
            blobs.push(d);
        }
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Labels": {"image": name}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        })
        .to_string()
        .into_bytes();
        let cd = self.blob(&config);
        blobs.insert(0, cd.clone());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": descs,
        })
        .to_string()
        .into_bytes();
        Pushed {
            digest: self.blob(&manifest),
            size: manifest.len(),
            blobs,
        }
    }

    /// Names `m` (of `media_type`) `name` in `index.json`.
    fn name(&mut self, name: &str, media_type: &str, m: &Pushed) {
        self.refs.push(serde_json::json!({
            "mediaType": media_type, "digest": m.digest, "size": m.size,
            "annotations": {"org.opencontainers.image.ref.name": name}}));
        let index = serde_json::json!({"schemaVersion": 2, "manifests": self.refs});
        std::fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }

    /// An image index of `children` (amd64, arm64).
    fn index(&self, children: &[&Pushed]) -> Pushed {
        let ms: Vec<serde_json::Value> = children
            .iter()
            .zip(["amd64", "arm64"])
            .map(|(c, arch)| {
                serde_json::json!({"mediaType": OCI_MANIFEST, "digest": c.digest, "size": c.size,
                    "platform": {"os": "linux", "architecture": arch}})
            })
            .collect();
        let body = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": ms})
            .to_string()
            .into_bytes();
        Pushed {
            digest: self.blob(&body),
            size: body.len(),
            blobs: children.iter().map(|c| c.digest.clone()).collect(),
        }
    }

    fn reference(&self, name: &str) -> String {
        format!("oci:{}:{name}", self.dir.display())
    }
}

// --- processes --------------------------------------------------------------------------------

async fn skopeo(args: &[&str]) -> String {
    let out = tokio::process::Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .await
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker-registry` with a clean environment: without AWS_CA_BUNDLE (it panics at start when
/// it is set) and without REGISTRY_* overrides.
fn docker_registry(args: &[&str], config: &Path) -> Command {
    let mut cmd = Command::new("docker-registry");
    cmd.args(args).arg(config).env_remove("AWS_CA_BUNDLE");
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("REGISTRY_") || k.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn s3driver(args: &[&str], config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3driver"));
    cmd.args(args).arg(config);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("REGISTRY_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

async fn run(cmd: Command) -> String {
    let shown = format!("{cmd:?}");
    let out = tokio::process::Command::from(cmd)
        .output()
        .await
        .expect("start the command");
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a dry run found eligible: blobs and manifests.
#[derive(Debug, Default, PartialEq, Eq)]
struct Eligible {
    blobs: BTreeSet<String>,
    manifests: BTreeSet<String>,
}

/// `docker-registry garbage-collect --dry-run [-m]`.
async fn registry2_dry_run(config: &Path, untagged: bool) -> Eligible {
    let mut args = vec!["garbage-collect", "--dry-run"];
    if untagged {
        args.push("-m");
    }
    let out = run(docker_registry(&args, config)).await;
    let mut e = Eligible::default();
    for line in out.lines() {
        if let Some(d) = line.strip_prefix("blob eligible for deletion: ") {
            e.blobs.insert(d.trim().to_owned());
        } else if let Some(d) = line.strip_prefix("manifest eligible for deletion: ") {
            e.manifests.insert(d.trim().to_owned());
        }
    }
    assert!(
        out.contains("blobs marked"),
        "registry:2 printed no summary:\n{out}"
    );
    e
}

/// `s3driver garbage-collect --dry-run [-m]`.
async fn s3driver_dry_run(config: &Path, untagged: bool) -> Eligible {
    let mut args = vec!["garbage-collect", "--dry-run"];
    if untagged {
        args.push("--delete-untagged");
    }
    let out = run(s3driver(&args, config)).await;
    let mut e = Eligible::default();
    for line in out.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[..] {
            ["blob", d, _, "eligible"] => {
                e.blobs.insert(d.to_owned());
            }
            ["manifest", _, d, "eligible"] => {
                e.manifests.insert(d.to_owned());
            }
            _ => {}
        }
    }
    assert!(out.contains("dry-run=true"), "{out}");
    e
}

/// `docker-registry serve` on 127.0.0.1: killed when dropped.
struct Registry2 {
    child: std::process::Child,
    host: String,
}

impl Registry2 {
    async fn start(yaml: &str, dir: &Path) -> Registry2 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let cfg = dir.join("registry2-serve.yml");
        std::fs::write(
            &cfg,
            yaml.replace("addr: 127.0.0.1:0", &format!("addr: {host}")),
        )
        .unwrap();
        let child = docker_registry(&["serve"], &cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry serve");
        let r = Registry2 { child, host };
        let client = common::http_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(resp) = client.get(format!("http://{}/v2/", r.host)).send().await {
                if resp.status() == 200 {
                    return r;
                }
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry serve did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Registry2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- the history ------------------------------------------------------------------------------

/// The registry:2 configuration of the bucket: read by both collectors and both registries.
fn yaml(target: &S3Target, bucket: &str) -> String {
    format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: {}\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: {bucket}\n    rootdirectory: /interop\n  delete:\n    enabled: true\n  redirect:\n    disable: true\nhttp:\n  addr: 127.0.0.1:0\n",
        target.access_key, target.secret_key, target.region, target.endpoint
    )
}

/// The tags left after the history: repository, tag, layout name of the image and whether it
/// is an index.
const TAGS: &[(&str, &str, &str, bool)] = &[
    ("app/one", "v1", "b", false),
    ("app/two", "v1", "b", false),
    ("app/multi", "v1", "multi", true),
];

async fn interop_on(target: S3Target, bucket: &str) {
    let work = tempfile::tempdir().unwrap();
    let yaml = yaml(&target, bucket);
    let cfg_path = work.path().join("config.yml");
    std::fs::write(&cfg_path, &yaml).unwrap();

    // The images, in one OCI layout.
    let mut layout = Layout::new(work.path().join("src"));
    let base: &[u8] = b"the base layer shared by every image";
    let a = layout.image("a", &[base, b"layer of a"], "amd64");
    let b = layout.image("b", &[base, b"layer of b"], "amd64");
    let c = layout.image("c", &[base, b"layer of c"], "amd64");
    let d = layout.image("d", &[b"layer of d"], "amd64");
    let p1 = layout.image("p1", &[base, b"layer of p1"], "amd64");
    let p2 = layout.image("p2", &[b"layer of p2"], "arm64");
    let multi = layout.index(&[&p1, &p2]);
    for (name, m) in [("a", &a), ("b", &b), ("c", &c), ("d", &d)] {
        layout.name(name, OCI_MANIFEST, m);
    }
    layout.name("multi", OCI_INDEX, &multi);

    // The history, through s3driver's registry on the bucket.
    let cfg = s3driver::config::Config::from_yaml(&yaml, &[]).unwrap();
    let r = start_app(s3driver::server::App::from_config(&cfg).unwrap()).await;
    let host = r.base.trim_start_matches("http://").to_owned();
    let push = |name: &str, dest: &str, all: bool| {
        let src = layout.reference(name);
        let dst = format!("docker://{host}/{dest}");
        async move {
            let mut args = vec!["copy", "--preserve-digests", "--dest-tls-verify=false"];
            if all {
                args.push("--all");
            }
            args.extend([src.as_str(), dst.as_str()]);
            skopeo(&args).await;
        }
    };
    push("a", "app/one:v1", false).await;
    // Retag: app/one:v1 now b, a is untagged; b shares everything with app/two.
    push("b", "app/one:v1", false).await;
    push("b", "app/two:v1", false).await;
    // Pushed and deleted by digest.
    push("c", "app/one:old", false).await;
    skopeo(&[
        "delete",
        "--tls-verify=false",
        &format!("docker://{host}/app/one:old"),
    ])
    .await;
    push("multi", "app/multi:v1", true).await;
    // Tagged, then the tag deleted: d is untagged.
    push("d", "app/two:tmp", false).await;
    let resp = r
        .client
        .delete(r.url("/v2/app/two/manifests/tmp"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    // A signature of b in app/one, without a tag (OCI 1.1 referrers).
    let sig_config = push_blob(&r, "app/one", b"{\"signature\":true}").await;
    let sig_layer = push_blob(&r, "app/one", b"signature bytes").await;
    let sig = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sig_config, "size": 18},
        "layers": [{"mediaType": "application/vnd.example.sig", "digest": sig_layer, "size": 15}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": b.digest, "size": b.size},
    })
    .to_string()
    .into_bytes();
    let sig_digest = sha256(&sig);
    let resp = put_manifest(&r, "app/one", &sig_digest, OCI_MANIFEST, &sig).await;
    assert_eq!(resp.status(), 201);
    // A blob no manifest uses.
    let orphan = push_blob(&r, "app/two", b"an orphan blob").await;
    r.stop().await;

    // Both collectors, dry runs, same bucket, same configuration file.
    let theirs = registry2_dry_run(&cfg_path, false).await;
    let ours = s3driver_dry_run(&cfg_path, false).await;
    let mut want: BTreeSet<String> = c.blobs[..1].iter().cloned().collect(); // c's config
    want.insert(c.blobs[2].clone()); // c's own layer (the base is shared)
    want.insert(c.digest.clone());
    want.insert(orphan.clone());
    assert_eq!(ours.blobs, want, "s3driver, without -m");
    assert_eq!(
        theirs.blobs, ours.blobs,
        "registry:2 and s3driver, without -m"
    );
    assert!(theirs.manifests.is_empty() && ours.manifests.is_empty());

    let theirs = registry2_dry_run(&cfg_path, true).await;
    let ours = s3driver_dry_run(&cfg_path, true).await;
    // Both: the untagged a and d with their own blobs.
    let mut untagged = want.clone();
    for m in [&a, &d] {
        untagged.insert(m.digest.clone());
        untagged.extend(m.blobs.iter().filter(|x| **x != b.blobs[1]).cloned());
    }
    assert_eq!(ours.blobs, untagged, "s3driver, with -m");
    // registry:2 2.8.2 also: the configs and own layers of the index's platform manifests
    // (not the manifests themselves, which the index references), and the referrer with its
    // blobs.
    let mut only_theirs: BTreeSet<String> = BTreeSet::new();
    for p in [&p1, &p2] {
        only_theirs.extend(p.blobs.iter().filter(|x| **x != b.blobs[1]).cloned());
    }
    only_theirs.extend([sig_digest.clone(), sig_config, sig_layer]);
    let diff: BTreeSet<String> = theirs.blobs.difference(&ours.blobs).cloned().collect();
    assert_eq!(
        diff, only_theirs,
        "registry:2 2.8.2 should differ from s3driver exactly by the platform manifests' blobs and the referrer"
    );
    assert!(
        ours.blobs.is_subset(&theirs.blobs),
        "s3driver deletes something registry:2 keeps: {:?}",
        ours.blobs.difference(&theirs.blobs).collect::<Vec<_>>()
    );
    assert_eq!(
        ours.manifests,
        BTreeSet::from([a.digest.clone(), d.digest.clone()])
    );
    let mut theirs_manifests = ours.manifests.clone();
    theirs_manifests.extend([p1.digest.clone(), p2.digest.clone(), sig_digest.clone()]);
    assert_eq!(theirs.manifests, theirs_manifests);

    // Collect for real.
    let out = run(s3driver(
        &["garbage-collect", "--delete-untagged", "--no-writers"],
        &cfg_path,
    ))
    .await;
    let deleted: BTreeSet<String> = out
        .lines()
        .filter_map(|l| match l.split(' ').collect::<Vec<_>>()[..] {
            ["blob", d, _, "deleted"] => Some(d.to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, untagged, "{out}");

    // Every remaining tag pulls byte for byte, through s3driver and through registry:2.
    let ours = start_app(s3driver::server::App::from_config(&cfg).unwrap()).await;
    let ours_host = ours.base.trim_start_matches("http://").to_owned();
    let theirs = Registry2::start(&yaml, work.path()).await;
    let src_blobs = layout.dir.join("blobs/sha256");
    let expected: BTreeMap<&str, &Pushed> = [("b", &b), ("multi", &multi)].into();
    for (i, (registry, host)) in [("s3driver", &ours_host), ("registry:2", &theirs.host)]
        .into_iter()
        .enumerate()
    {
        for (j, (repo, tag, name, index)) in TAGS.iter().enumerate() {
            let dst = work.path().join(format!("pull-{i}-{j}"));
            let mut args = vec!["copy", "--preserve-digests", "--src-tls-verify=false"];
            if *index {
                args.push("--all");
            }
            let src = format!("docker://{host}/{repo}:{tag}");
            let dst_ref = format!("oci:{}:{tag}", dst.display());
            args.extend([src.as_str(), dst_ref.as_str()]);
            skopeo(&args).await;
            let pulled: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dst.join("index.json")).unwrap()).unwrap();
            assert_eq!(
                pulled["manifests"][0]["digest"], expected[name].digest,
                "{registry}: {repo}:{tag}"
            );
            let mut files = 0;
            for entry in std::fs::read_dir(dst.join("blobs/sha256")).unwrap() {
                let entry = entry.unwrap();
                let got = std::fs::read(entry.path()).unwrap();
                let want = std::fs::read(src_blobs.join(entry.file_name())).unwrap();
                assert!(
                    got == want,
                    "{registry}: {repo}:{tag}: blob {:?} differs",
                    entry.file_name()
                );
                files += 1;
            }
            // Manifest, config and two layers; the index, and both platforms' manifest, config
            // and layers.
            assert_eq!(
                files,
                if *index { 8 } else { 4 },
                "{registry}: {repo}:{tag}"
            );
        }
    }
    drop(theirs);
    ours.stop().await;

    // registry:2's collector finds nothing more to delete.
    let theirs = registry2_dry_run(&cfg_path, false).await;
    assert!(theirs.blobs.is_empty(), "{:?}", theirs.blobs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_blobs_as_registry2_garbage_collect_on_s3s_fs() {
    if !tools_available() {
        return;
    }
    let server = common::S3sServer::start().await;
    server.create_bucket("interop");
    interop_on(server.target(), "interop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_blobs_as_registry2_garbage_collect_on_ceph() {
    if !tools_available() {
        return;
    }
    let Some(ceph) = common::ceph_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("gc-interop");
    ceph.create_bucket(&bucket).await;
    interop_on(ceph.target(), &bucket).await;
}
