//! The conformance suite against the S3 driver, on two signature-verifying servers:
//! in-process s3s-fs (SigV4) and OpenStack Swift's s3api (SigV4 and SigV2; started by
//! `.ci/run`, skipped locally when it is not running). Chunk size 5 MiB, as Distribution
//! runs its suite.

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
    let params = Parameters::from_iter([
        ("region", target.region.as_str()),
        ("regionendpoint", target.endpoint.as_str()),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("chunksize", "5242880"),
        ("rootdirectory", "/registry-root"),
        ("v4auth", if v4 { "true" } else { "false" }),
        ("storageclass", "STANDARD"),
    ]);
    let params = S3Parameters::from_parameters(&params).expect("driver parameters");
    let creds =
        StaticProvider::from_keys(target.access_key.clone(), target.secret_key.clone(), None);
    Arc::new(S3Driver::with_credentials(params, Arc::new(creds)).expect("driver"))
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
