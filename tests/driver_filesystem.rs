//! The conformance suite against the filesystem driver, rooted in a temporary
//! directory.

mod suite;

use std::sync::Arc;
use std::time::Duration;

use s3driver::driver::FilesystemParameters;
use s3driver::driver::{Base, FilesystemDriver, Regulator};
use suite::{Harness, SuiteConfig};

async fn make() -> Harness {
    let dir = tempfile::tempdir().expect("temporary directory");
    // A root that does not exist yet: the first write must create it.
    let fs = FilesystemDriver::new(FilesystemParameters::new(dir.path().join("registry")));
    // Handed out as the registry does: Regulator of maxthreads, inside Base.
    let limit = fs.max_threads();
    let driver = Base::new(Regulator::new(fs, limit));
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
