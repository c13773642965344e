//! From configuration to a driver: [`build_driver`] picks the storage driver
//! named in `storage:` and wraps it in the `middleware.storage` entries, in
//! order (Distribution's `factory.Create` + `storagemiddleware.Get`).
//!
//! Adding a driver or a middleware means adding one match arm here.

use std::sync::Arc;

use super::{ConfigError, MiddlewareConfig, StorageConfig};
use crate::driver::{
    Base, FilesystemDriver, InMemoryDriver, ParameterError, Regulator, S3Driver, S3Parameters,
    StorageDriver,
};

/// The storage driver names `storage:` accepts.
pub(crate) const STORAGE_DRIVERS: &[&str] = &["filesystem", "inmemory", "s3"];

/// The storage middleware names `middleware.storage[].name` accepts.
pub(crate) const MIDDLEWARES: &[&str] = &["cloudfront"];

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
            let fs =
                FilesystemDriver::from_parameters(&params).map_err(param_error("filesystem"))?;
            let limit = fs.max_threads();
            Arc::new(Base::new(Regulator::new(fs, limit)))
        }
        "inmemory" => Arc::new(Base::new(InMemoryDriver::new())),
        "s3" | "s3aws" => {
            let name = cfg.driver.as_str();
            let params = S3Parameters::from_parameters(&params).map_err(param_error(name))?;
            let driver = S3Driver::new(params).map_err(|e| {
                ConfigError::new(format!("storage.{name}"), format!("storage.{name}: {e}"))
            })?;
            Arc::new(Base::new(driver))
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

/// What the configured storage driver has to say about its parameters, as configuration
/// warnings (`storage.s3: Signature Version 2 was asked for (`v4auth: false`), but ...` when
/// SigV4 is used on AWS's own endpoint instead of the SigV2 that was asked for). Parameters
/// the driver refuses give no warning here: [`build_driver`] reports them as errors.
pub fn storage_warnings(cfg: &StorageConfig) -> Vec<String> {
    match cfg.driver.as_str() {
        "s3" | "s3aws" => S3Parameters::from_parameters(&cfg.parameters())
            .map(|p| p.warnings())
            .unwrap_or_default()
            .into_iter()
            .map(|w| format!("storage.{}: {w}", cfg.driver))
            .collect(),
        _ => Vec::new(),
    }
}

/// Wraps `driver` in each middleware of `middleware`, first entry innermost.
///
/// # Errors
/// An unknown middleware name, or one that is not part of this build.
pub(crate) fn apply_middleware(
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
        "cloudfront" => cloudfront(driver, index, mw),
        other => Err(ConfigError::new(
            key.clone(),
            format!(
                "{key}: unknown storage middleware {other:?}; allowed values: {}",
                MIDDLEWARES.join(", ")
            ),
        )),
    }
}

/// Wraps `driver` in the CloudFront middleware. The AWS IP ranges (with `ipfilteredby`) are
/// fetched in the background when a Tokio runtime is running; until they arrive every client
/// is sent to CloudFront, as in Distribution when the first fetch fails.
#[cfg(feature = "cloudfront")]
fn cloudfront(
    driver: Arc<dyn StorageDriver>,
    index: usize,
    mw: &MiddlewareConfig,
) -> Result<Arc<dyn StorageDriver>, ConfigError> {
    use crate::middleware::cloudfront::{
        CloudFrontMiddleware, CloudFrontRedirector, IpRanges, Options, Signer,
    };
    let prefix = format!("middleware.storage[{index}].options");
    let err = |e: crate::middleware::cloudfront::Error| {
        ConfigError::new(prefix.clone(), format!("{prefix}: {e}"))
    };
    let (options, warnings) = Options::from_params(mw.options.iter().cloned()).map_err(err)?;
    for w in warnings {
        tracing::warn!("{prefix}: {w}");
    }
    let signer = Signer::from_pem_file(&options.private_key, &options.key_pair_id).map_err(err)?;
    let ranges = if options.ip_filter.is_enabled() {
        Some(Arc::new(
            IpRanges::new(&options.ip_ranges_url, options.ip_filter.clone()).map_err(err)?,
        ))
    } else {
        None
    };
    let mut redirector = CloudFrontRedirector::new(&options, signer, ranges.clone());
    if let (Some(ranges), Ok(handle)) = (ranges, tokio::runtime::Handle::try_current()) {
        let first = Arc::clone(&ranges);
        handle.spawn(async move {
            if let Err(e) = first.try_update().await {
                tracing::warn!("cloudfront: cannot load the AWS IP ranges yet: {e}");
            }
        });
        let _guard = handle.enter();
        redirector =
            redirector.with_refresher(ranges.spawn_refresher(options.update_frequency, |result| {
                if let Err(e) = result {
                    tracing::warn!("cloudfront: refreshing the AWS IP ranges failed: {e}");
                }
            }));
    }
    Ok(Arc::new(CloudFrontMiddleware::new(driver, redirector)))
}

#[cfg(not(feature = "cloudfront"))]
fn cloudfront(
    _driver: Arc<dyn StorageDriver>,
    index: usize,
    _mw: &MiddlewareConfig,
) -> Result<Arc<dyn StorageDriver>, ConfigError> {
    Err(ConfigError::new(
        format!("middleware.storage[{index}].name"),
        "the cloudfront storage middleware is not part of this build: rebuild with \
         `--features server,cloudfront`",
    ))
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
        assert!(d.append_needs_existing());
        let d = build_driver(&storage(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\n",
        ))
        .unwrap();
        assert_eq!(d.name(), "filesystem");
        // Its append-writer creates a missing file (through Base and Regulator).
        assert!(!d.append_needs_existing());
    }

    #[test]
    fn v4auth_false_on_aws_starts_with_a_warning_where_aws_accepted_sigv2() {
        let yaml = |region: &str, extra: &str| {
            format!(
                "version: 0.1\nstorage:\n  s3:\n    region: {region}\n    bucket: b\n    \
                 accesskey: AKID\n    secretkey: s3cr3t\n    v4auth: false\n{extra}"
            )
        };
        for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
            let config = Config::from_yaml(&yaml(region, ""), &[]).unwrap();
            let warning = config
                .warnings
                .iter()
                .find(|w| {
                    w.starts_with("storage.s3: Signature Version 2 was asked for (`v4auth: false`)")
                })
                .unwrap_or_else(|| panic!("{region}: {:?}", config.warnings));
            assert!(
                warning.contains("Signature Version 4") && warning.contains(region),
                "{warning}"
            );
            assert!(!warning.contains("s3cr3t"));
            let d = build_driver(&config.storage).unwrap();
            assert_eq!(d.name(), "s3aws");
            assert!(d.append_needs_existing());
        }
        // The same key through the environment.
        let env = [("REGISTRY_STORAGE_S3_V4AUTH".to_owned(), "false".to_owned())];
        let config = Config::from_yaml(
            "version: 0.1\nstorage:\n  s3:\n    region: us-west-1\n    bucket: b\n",
            &env,
        )
        .unwrap();
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("(`v4auth: false`)")),
            "{:?}",
            config.warnings
        );
        // SigV4-only regions are refused, on AWS and on a custom endpoint alike.
        for extra in ["", "    regionendpoint: http://127.0.0.1:9000\n"] {
            let config = Config::from_yaml(&yaml("eu-central-1", extra), &[]).unwrap();
            assert!(
                !config.warnings.iter().any(|w| w.contains("v4auth")),
                "{:?}",
                config.warnings
            );
            let e = build_driver(&config.storage).unwrap_err().to_string();
            assert!(
                e.contains("eu-central-1") && e.contains("v4auth: true"),
                "{e}"
            );
        }
        // An S3-compatible server keeps SigV2, silently.
        let config = Config::from_yaml(
            &yaml("us-east-1", "    regionendpoint: http://127.0.0.1:9000\n"),
            &[],
        )
        .unwrap();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert!(build_driver(&config.storage).is_ok());
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
