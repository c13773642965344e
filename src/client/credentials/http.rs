//! [`HttpClients`]: the HTTP clients the credential providers share.
//!
//! A provider used to build a `reqwest::Client` for every fetch, so every refresh paid for a
//! new connection pool (and, to STS or the SSO portal, a new TLS handshake). Providers now
//! take their client from an `HttpClients`: one per provider chain ([`DefaultChain`] and
//! [`ProfileProvider`] hand theirs to every provider they build; a provider made on its own
//! has its own), holding one client per setting that only a client can carry: the connect
//! timeout and whether proxies apply. Total timeouts are set on each request.
//!
//! A process-wide client would be shared across tokio runtimes, whose pooled connections die
//! with the runtime that opened them; a chain lives with the S3 client it serves.
//!
//! [`DefaultChain`]: super::DefaultChain
//! [`ProfileProvider`]: super::ProfileProvider

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::client::error::Error;

/// What a client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// STS and the SSO portal: AWS services, through the environment's proxy settings;
    /// redirects are not followed.
    Aws,
    /// The instance metadata service and the container credentials endpoint: link-local or
    /// loopback addresses, never through a proxy.
    Local,
}

/// Lazily built HTTP clients, one per [`Kind`] and connect timeout; clones share them.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpClients {
    clients: Arc<Mutex<HashMap<(Kind, Duration), reqwest::Client>>>,
}

impl HttpClients {
    /// An empty set; clients are built on first use.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The client for `kind` with `connect_timeout`, built on first use. Callers set the
    /// total timeout on each request.
    ///
    /// # Errors
    /// The client cannot be built (TLS back end initialisation); the error names `provider`.
    pub(crate) fn get(
        &self,
        kind: Kind,
        connect_timeout: Duration,
        provider: &'static str,
    ) -> Result<reqwest::Client, Error> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = clients.get(&(kind, connect_timeout)) {
            return Ok(c.clone());
        }
        let builder = reqwest::Client::builder().connect_timeout(connect_timeout);
        let builder = match kind {
            Kind::Aws => builder.redirect(reqwest::redirect::Policy::none()),
            Kind::Local => builder.no_proxy(),
        };
        let client = builder.build().map_err(|e| {
            Error::credentials_with_source(provider, "cannot build an HTTP client", e)
        })?;
        clients.insert((kind, connect_timeout), client.clone());
        Ok(client)
    }

    /// How many clients have been built (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// How a request failed, in a word for messages: "timed out", "could not connect" or
/// "failed".
pub(crate) fn failure_word(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_per_kind_and_connect_timeout() {
        let http = HttpClients::new();
        let shared = http.clone();
        http.get(Kind::Aws, Duration::from_secs(5), "sts").unwrap();
        shared
            .get(Kind::Aws, Duration::from_secs(5), "sso")
            .unwrap();
        assert_eq!(http.len(), 1, "clones share their clients");
        http.get(Kind::Local, Duration::from_secs(1), "imds")
            .unwrap();
        http.get(Kind::Local, Duration::from_secs(2), "container")
            .unwrap();
        http.get(Kind::Local, Duration::from_secs(1), "imds")
            .unwrap();
        assert_eq!(shared.len(), 3);
    }
}
