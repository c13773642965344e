//! The conformance suite against the in-memory driver.

mod suite;

use std::sync::Arc;
use std::time::Duration;

use s3driver::driver::InMemoryDriver;
use suite::{Harness, SuiteConfig};

async fn make() -> Harness {
    let mut config = SuiteConfig::new("inmemory");
    // Mod times are SystemTime::now() at commit: a few milliseconds apart is enough.
    config.mod_time_sleep = Duration::from_millis(10);
    config.consistency_sleep = Duration::ZERO;
    Harness {
        driver: Arc::new(s3driver::driver::Base::new(InMemoryDriver::new())),
        config,
        guard: None,
    }
}

driver_suite!(make);
