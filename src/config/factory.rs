//! From configuration to a driver: [`build_driver`] picks the storage driver
//! named in `storage:` and wraps it in the `middleware.storage` entries, in
//! order (Distribution's `factory.Create` + `storagemiddleware.Get`).
//!
//! Adding a driver or a middleware means adding one match arm here.

use std::sync::Arc;

use super::{ConfigError, MiddlewareConfig, StorageConfig};
use crate::driver::{FilesystemDriver, InMemoryDriver, ParameterError, StorageDriver};

/// The storage driver names `storage:` accepts.
pub const STORAGE_DRIVERS: &[&str] = &["filesystem", "inmemory", "s3"];

/// The storage middleware names `middleware.storage[].name` accepts.
pub const MIDDLEWARES: &[&str] = &["cloudfront"];

/// Builds the configured storage driver and applies its middleware.
///
/// # Errors
/// An unknown driver or middleware name (the message lists the allowed ones), a
/// driver or middleware that is not part of this build, or a parameter the
/// driver refuses (the message names the parameter).
pub fn build_driver(cfg: &StorageConfig) -> Result<Arc<dyn StorageDriver>, ConfigError> {
    let params = cfg.parameters();
    let param_error = |driver: &str| {
        let driver = driver.to_owned();
        move |e: ParameterError| {
            ConfigError::new(
                format!("storage.{driver}.{}", e.key),
                format!("storage.{driver}.{}: {e}", e.key),
            )
        }
    };
    let driver: Arc<dyn StorageDriver> = match cfg.driver.as_str() {
        "filesystem" => {
            Arc::new(FilesystemDriver::from_parameters(&params).map_err(param_error("filesystem"))?)
        }
        "inmemory" => Arc::new(InMemoryDriver::new()),
        "s3" | "s3aws" => {
            return Err(ConfigError::new(
                format!("storage.{}", cfg.driver),
                "the s3 storage driver is not available in this build",
            ))
        }
        other => {
            return Err(ConfigError::new(
                format!("storage.{other}"),
                format!(
                    "storage: unknown storage driver {other:?}; allowed values: {}",
                    STORAGE_DRIVERS.join(", ")
                ),
            ))
        }
    };
    apply_middleware(driver, &cfg.middleware)
}

/// Wraps `driver` in each middleware of `middleware`, first entry innermost.
///
/// # Errors
/// An unknown middleware name, or one that is not part of this build.
pub fn apply_middleware(
    driver: Arc<dyn StorageDriver>,
    middleware: &[MiddlewareConfig],
) -> Result<Arc<dyn StorageDriver>, ConfigError> {
    let mut driver = driver;
    for (i, mw) in middleware.iter().enumerate() {
        driver = wrap(driver, i, mw)?;
    }
    Ok(driver)
}

/// Wraps `driver` in middleware entry `index`.
fn wrap(
    driver: Arc<dyn StorageDriver>,
    index: usize,
    mw: &MiddlewareConfig,
) -> Result<Arc<dyn StorageDriver>, ConfigError> {
    let key = format!("middleware.storage[{index}].name");
    tracing::debug!(driver = driver.name(), middleware = %mw.name, "applying storage middleware");
    match mw.name.as_str() {
        "cloudfront" => Err(ConfigError::new(
            key,
            "the cloudfront storage middleware is not available in this build",
        )),
        other => Err(ConfigError::new(
            key.clone(),
            format!(
                "{key}: unknown storage middleware {other:?}; allowed values: {}",
                MIDDLEWARES.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn storage(yaml: &str) -> StorageConfig {
        Config::from_yaml(yaml, &[]).unwrap().storage
    }

    #[test]
    fn builds_the_local_drivers() {
        let d = build_driver(&storage("version: 0.1\nstorage: inmemory\n")).unwrap();
        assert_eq!(d.name(), "inmemory");
        let d = build_driver(&storage(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\n",
        ))
        .unwrap();
        assert_eq!(d.name(), "filesystem");
    }

    #[test]
    fn names_bad_drivers_and_parameters() {
        let e = build_driver(&storage("version: 0.1\nstorage:\n  gcs: {}\n")).unwrap_err();
        assert_eq!(e.key(), "storage.gcs");
        assert!(
            e.to_string().contains(
                "unknown storage driver \"gcs\"; allowed values: filesystem, inmemory, s3"
            ),
            "{e}"
        );
        let e = build_driver(&storage(
            "version: 0.1\nstorage:\n  filesystem:\n    maxthreads: lots\n",
        ))
        .unwrap_err();
        assert_eq!(e.key(), "storage.filesystem.maxthreads");
        let e = build_driver(&storage(
            "version: 0.1\nstorage: inmemory\nmiddleware:\n  storage:\n    - name: redirect\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("allowed values: cloudfront"), "{e}");
        let s = storage(
            "version: 0.1\nstorage: inmemory\nmiddleware:\n  storage:\n    - name: cloudfront\n      disabled: true\n",
        );
        assert!(s.middleware.is_empty());
        assert!(build_driver(&s).is_ok());
    }
}
