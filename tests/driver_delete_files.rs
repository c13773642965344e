//! `StorageDriver::delete_files`, the garbage collector's sweep: exact files, many per request
//! on S3 (DeleteObjects, 1000 keys each), missing paths count as deleted, siblings and
//! neighbours stay, directories left empty disappear on every driver (as on S3), and a failed
//! request is an error. On the in-memory and filesystem drivers, on s3s-fs, and on Swift and
//! Ceph RGW when they run.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{Fault, FaultPlan, FaultProxy, FaultRule, S3Target};
use s3driver::driver::FilesystemParameters;
use s3driver::driver::{
    DriverError, FilesystemDriver, InMemoryDriver, Parameters, S3Driver, StorageDriver,
};

fn s3(target: &S3Target, bucket: &str) -> Arc<dyn StorageDriver> {
    let params = Parameters::from_iter([
        ("region", target.region.as_str()),
        ("regionendpoint", target.endpoint.as_str()),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("accesskey", target.access_key.as_str()),
        ("secretkey", target.secret_key.as_str()),
        ("rootdirectory", "/delete-files"),
    ]);
    Arc::new(s3driver::driver::Base::new(
        S3Driver::from_parameters(&params).expect("driver"),
    ))
}

async fn put(d: &dyn StorageDriver, path: &str) {
    d.put_content(path, Bytes::from(path.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("put {path}: {e}"));
}

async fn exists(d: &dyn StorageDriver, path: &str) -> bool {
    match d.stat(path).await {
        Ok(_) => true,
        Err(e) if e.is_path_not_found() => false,
        Err(e) => panic!("stat {path}: {e}"),
    }
}

/// `many`: how many files one `delete_files` call deletes (above 1000 needs two requests).
async fn check(d: &dyn StorageDriver, many: usize) {
    let name = d.name().to_owned();
    for p in ["/t/a/b/1", "/t/a/b/2", "/t/a/c/3", "/t/ab/4", "/t/a/c3"] {
        put(d, p).await;
    }
    let failed = d
        .delete_files(&[
            "/t/a/b/1".to_owned(),
            "/t/a/b/missing".to_owned(),
            "/t/a/c/3".to_owned(),
        ])
        .await
        .unwrap();
    assert!(failed.is_empty(), "{name}: {failed:?}");
    assert!(!exists(d, "/t/a/b/1").await, "{name}");
    for p in ["/t/a/b/2", "/t/ab/4", "/t/a/c3"] {
        assert!(exists(d, p).await, "{name}: {p} was deleted");
    }
    // /t/a/c became empty: it is gone, as a directory is on S3.
    let mut listed = d.list("/t/a").await.unwrap();
    listed.sort();
    assert_eq!(listed, ["/t/a/b", "/t/a/c3"], "{name}");

    let many: Vec<String> = (0..many)
        .map(|i| format!("/t/many/{:02x}/{i}/data", i % 256))
        .collect();
    let puts = many.iter().map(|p| put(d, p));
    futures_util::future::join_all(puts).await;
    let failed = d.delete_files(&many).await.unwrap();
    assert!(failed.is_empty(), "{name}: {failed:?}");
    let e = d.list("/t/many").await.unwrap_err();
    assert!(e.is_path_not_found(), "{name}: {e}");
    assert!(d.delete_files(&[]).await.unwrap().is_empty());

    // Invalid paths are refused before anything is deleted.
    let e = d
        .delete_files(&["/t/a/b/2".to_owned(), "relative".to_owned()])
        .await
        .unwrap_err();
    assert!(matches!(e, DriverError::InvalidPath { .. }), "{name}: {e}");
    assert!(exists(d, "/t/a/b/2").await, "{name}");
}

#[tokio::test]
async fn delete_files_in_memory_and_on_filesystem() {
    check(&s3driver::driver::Base::new(InMemoryDriver::new()), 1500).await;
    let dir = tempfile::tempdir().unwrap();
    let fs = s3driver::driver::Base::new(FilesystemDriver::new(FilesystemParameters::new(
        dir.path().join("root"),
    )));
    check(&fs, 1500).await;
    // Empty directories are pruned up to, not including, the root directory.
    fs.delete_files(&[
        "/t/a/b/2".to_owned(),
        "/t/ab/4".to_owned(),
        "/t/a/c3".to_owned(),
    ])
    .await
    .unwrap();
    assert!(dir.path().join("root").is_dir());
    assert!(!dir.path().join("root/t").exists());
}

#[tokio::test]
async fn delete_files_on_s3s_fs_and_a_failed_request() {
    let server = common::S3sServer::start().await;
    server.create_bucket("deletefiles");
    // More than one DeleteObjects request's worth.
    check(s3(&server.target(), "deletefiles").as_ref(), 1500).await;

    let proxy = FaultProxy::start(
        server.addr(),
        FaultPlan::new().rule(
            FaultRule::new(Fault::status(403, "AccessDenied", "Access Denied"))
                .method("POST")
                .times(usize::MAX),
        ),
    )
    .await;
    let d = s3(&server.target().via(&proxy.endpoint()), "deletefiles");
    let e = d.delete_files(&["/t/a/b/2".to_owned()]).await.unwrap_err();
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    assert!(exists(d.as_ref(), "/t/a/b/2").await);
    // One request per 1000 paths.
    let paths: Vec<String> = (0..2001).map(|i| format!("/x/{i}")).collect();
    proxy.clear_rules();
    let before = proxy.requests_seen();
    assert!(d.delete_files(&paths).await.unwrap().is_empty());
    assert_eq!(proxy.requests_seen() - before, 3);
}

#[tokio::test]
async fn delete_files_on_swift() {
    let Some(server) = common::swift_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("delete-files");
    server.create_bucket(&bucket).await;
    // (Writing thousands of objects would take a minute here: s3s-fs covers the batching.)
    check(s3(&server.target(), &bucket).as_ref(), 50).await;
}

#[tokio::test]
async fn delete_files_on_ceph() {
    let Some(server) = common::ceph_or_skip() else {
        return;
    };
    let bucket = common::unique_bucket_name("delete-files");
    server.create_bucket(&bucket).await;
    // (Writing thousands of objects would take a minute here: s3s-fs covers the batching.)
    check(s3(&server.target(), &bucket).as_ref(), 50).await;
}
