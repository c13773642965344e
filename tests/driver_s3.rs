//! The conformance suite against the S3 driver, on three signature-verifying servers:
//! in-process s3s-fs (SigV4), OpenStack Swift's s3api and Ceph RADOS Gateway (SigV4 and SigV2,
//! and on Ceph also with `encrypt: true`; both started by `.ci/run`, skipped locally when they
//! are not running). Chunk size 5 MiB, as Distribution runs its suite.

mod common;
mod suite;

use std::sync::Arc;
use std::time::Duration;

use s3driver::client::credentials::StaticProvider;
use s3driver::driver::{Parameters, S3Driver, S3Parameters, StorageDriver};
use suite::{Harness, SuiteConfig, WalkOrder};

fn suite_config() -> SuiteConfig {
    let mut config = SuiteConfig::new("s3aws");
    config.append_chunk_size = 5 << 20;
    config.expect_redirect = true;
    // Last-Modified has one-second resolution.
    config.mod_time_sleep = Duration::from_millis(1100);
    config.consistency_sleep = Duration::ZERO;
    config.walk_order = WalkOrder::S3Keys;
    config
}

/// A driver on `target`, bucket `bucket`, path style, chunk size 5 MiB.
fn driver(target: &common::S3Target, bucket: &str, v4: bool) -> Arc<dyn StorageDriver> {
    driver_with(target, bucket, v4, &[])
}

fn driver_with(
    target: &common::S3Target,
    bucket: &str,
    v4: bool,
    extra: &[(&str, &str)],
) -> Arc<dyn StorageDriver> {
    let mut params = Parameters::from_iter([
        ("region", target.region.as_str()),
        ("regionendpoint", target.endpoint.as_str()),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("chunksize", "5242880"),
        ("rootdirectory", "/registry-root"),
        ("v4auth", if v4 { "true" } else { "false" }),
        ("storageclass", "STANDARD"),
    ]);
    for (k, v) in extra {
        params = params.with(*k, *v);
    }
    let params = S3Parameters::from_parameters(&params).expect("driver parameters");
    let creds =
        StaticProvider::from_keys(target.access_key.clone(), target.secret_key.clone(), None);
    Arc::new(s3driver::driver::Base::new(
        S3Driver::with_credentials(params, Arc::new(creds)).expect("driver"),
    ))
}

mod s3s_fs {
    use super::*;

    async fn make() -> Harness {
        let server = common::S3sServer::start().await;
        server.create_bucket("registry");
        let driver = driver(&server.target(), "registry", true);
        Harness {
            driver,
            config: suite_config(),
            guard: Some(Box::new(server)),
        }
    }

    driver_suite!(make);
}

/// Four parts in flight per writer (`maxconcurrentparts`), on s3s-fs and Swift.
mod s3s_fs_concurrent_parts {
    use super::*;

    async fn make() -> Harness {
        let server = common::S3sServer::start().await;
        server.create_bucket("registry");
        let driver = driver_with(
            &server.target(),
            "registry",
            true,
            &[("maxconcurrentparts", "4")],
        );
        Harness {
            driver,
            config: suite_config(),
            guard: Some(Box::new(server)),
        }
    }

    driver_suite!(make);
}

mod swift_concurrent_parts {
    use super::*;

    async fn make() -> Option<Harness> {
        external(&common::SWIFT, true, &[("maxconcurrentparts", "4")]).await
    }

    driver_suite!(optional make);
}

mod swift_v4 {
    use super::*;

    async fn make() -> Option<Harness> {
        let swift = common::swift_or_skip()?;
        let bucket = common::unique_bucket_name("suite-v4");
        swift.create_bucket(&bucket).await;
        Some(Harness {
            driver: driver(&swift.target(), &bucket, true),
            config: suite_config(),
            guard: None,
        })
    }

    driver_suite!(optional make);
}

mod swift_v2 {
    use super::*;

    async fn make() -> Option<Harness> {
        let swift = common::swift_or_skip()?;
        let bucket = common::unique_bucket_name("suite-v2");
        swift.create_bucket(&bucket).await;
        Some(Harness {
            driver: driver(&swift.target(), &bucket, false),
            config: suite_config(),
            guard: None,
        })
    }

    driver_suite!(optional make);
}

/// The suite on an external server (Swift or Ceph), `None` when it is not running.
async fn external(
    spec: &'static common::external::ServerSpec,
    v4: bool,
    extra: &[(&str, &str)],
) -> Option<Harness> {
    let server = common::server_or_skip(spec)?;
    let bucket = common::unique_bucket_name("suite");
    server.create_bucket(&bucket).await;
    Some(Harness {
        driver: driver_with(&server.target(), &bucket, v4, extra),
        config: suite_config(),
        guard: None,
    })
}

mod ceph_v4 {
    use super::*;

    async fn make() -> Option<Harness> {
        external(&common::CEPH, true, &[]).await
    }

    driver_suite!(optional make);
}

mod ceph_v2 {
    use super::*;

    async fn make() -> Option<Harness> {
        external(&common::CEPH, false, &[]).await
    }

    driver_suite!(optional make);
}

/// `encrypt: true` (SSE-S3), the seeds' recommended setting: every write carries
/// `x-amz-server-side-encryption: AES256`, copies and multipart copies included.
mod ceph_v4_encrypted {
    use super::*;

    async fn make() -> Option<Harness> {
        external(&common::CEPH, true, &[("encrypt", "true")]).await
    }

    driver_suite!(optional make);
}
