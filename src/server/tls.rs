//! `http.tls`: HTTPS with rustls (ring provider, TLS 1.2 and 1.3, or 1.3 only
//! with `minimumtls: tls1.3`). PEM certificate chain and private key (PKCS#8,
//! PKCS#1 or SEC1).

use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::{ConfigError, TlsConfig};

/// Builds the acceptor for `cfg`.
///
/// # Errors
/// The certificate or key cannot be read or parsed, or they do not match.
pub(super) fn acceptor(cfg: &TlsConfig, http2: bool) -> Result<TlsAcceptor, ConfigError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.certificate)
        .and_then(Iterator::collect)
        .map_err(|e| {
            ConfigError::new(
                "http.tls.certificate",
                format!(
                    "http.tls.certificate: cannot read PEM certificates from {}: {e}",
                    cfg.certificate.display()
                ),
            )
        })?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            "http.tls.certificate",
            format!(
                "http.tls.certificate: {} contains no PEM certificate",
                cfg.certificate.display()
            ),
        ));
    }
    // The key file's content is never echoed.
    let key = PrivateKeyDer::from_pem_file(&cfg.key).map_err(|e| {
        ConfigError::new(
            "http.tls.key",
            format!(
                "http.tls.key: cannot read a PEM private key from {}: {e}",
                cfg.key.display()
            ),
        )
    })?;
    let versions: &[&rustls::SupportedProtocolVersion] = if cfg.minimum_tls13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(versions)
        .map_err(|e| ConfigError::new("http.tls", format!("http.tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ConfigError::new(
                "http.tls.key",
                format!("http.tls: the certificate and key cannot be used together: {e}"),
            )
        })?;
    // HTTP/2 is offered first, as registry:2 (Go's net/http) does, unless `http.http2.disabled`.
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let cfg = TlsConfig {
            certificate: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
            minimum_tls13: false,
        };
        let Err(e) = acceptor(&cfg, true) else {
            panic!("a missing certificate was accepted")
        };
        assert_eq!(e.key(), "http.tls.certificate");
        assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
    }
}
