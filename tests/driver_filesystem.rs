//! The conformance suite against the filesystem driver, rooted in a temporary
//! directory.

mod suite;

use std::sync::Arc;
use std::time::Duration;

use s3driver::driver::FilesystemDriver;
use s3driver::driver::FilesystemParameters;
use suite::{Harness, SuiteConfig};

async fn make() -> Harness {
    let dir = tempfile::tempdir().expect("temporary directory");
    let driver = FilesystemDriver::new(FilesystemParameters {
        // A root that does not exist yet: the first write must create it.
        root_directory: dir.path().join("registry"),
        ..FilesystemParameters::default()
    });
    let mut config = SuiteConfig::new("filesystem");
    // Linux file timestamps come from a coarse clock (one scheduler tick, up to
    // 10 ms); 100 ms keeps the "mod time strictly later" check meaningful.
    config.mod_time_sleep = Duration::from_millis(100);
    config.consistency_sleep = Duration::ZERO;
    Harness {
        driver: Arc::new(driver),
        config,
        guard: Some(Box::new(dir)),
    }
}

driver_suite!(make);
