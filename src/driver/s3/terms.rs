//! The client's errors and warnings in the registry's words: the client names its own settings
//! (`endpoint`, `SignatureVersion::V4`, ...), which an operator configures as storage
//! parameters (`regionendpoint`, `v4auth: true`, ...).

use std::error::Error as StdError;
use std::fmt;

use crate::client::Error as ClientError;

/// The client's setting, as its messages name it, and the registry parameter that sets it
/// (`secure` has the same name in both).
const TERMS: [(&str, &str); 7] = [
    ("`SignatureVersion::V4`", "`v4auth: true`"),
    ("`SignatureVersion::V2`", "`v4auth: false`"),
    (
        "`AddressingStyle::VirtualHosted`",
        "`forcepathstyle: false`",
    ),
    ("`AddressingStyle::Path`", "`forcepathstyle: true`"),
    ("`endpoint`", "`regionendpoint`"),
    ("`dual_stack`", "`usedualstack`"),
    ("`static_credentials`", "`accesskey`/`secretkey`"),
];

/// `message` with the client's setting names replaced by the registry parameters.
pub(crate) fn in_registry_terms(message: &str) -> String {
    TERMS
        .iter()
        .fold(message.to_owned(), |m, (client, registry)| {
            m.replace(client, registry)
        })
}

/// A client error shown in the registry's words; its source is the client error.
#[derive(Debug)]
pub(crate) struct RegistryTerms(pub(crate) ClientError);

impl fmt::Display for RegistryTerms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&in_registry_terms(&self.0.to_string()))
    }
}

impl StdError for RegistryTerms {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::endpoint::{v2_allowed, v2_decision};

    #[test]
    fn client_words_become_parameters() {
        let e = v2_allowed("eu-central-1", None).unwrap_err().to_string();
        assert!(
            e.contains("`SignatureVersion::V4`") && !e.contains("v4auth"),
            "{e}"
        );
        let r = in_registry_terms(&e);
        assert!(
            r.contains("use `v4auth: true`") && !r.contains("SignatureVersion"),
            "{r}"
        );
        let w = v2_decision("us-east-1", None).unwrap().warning().unwrap();
        let r = in_registry_terms(&w);
        assert!(
            r.contains("(`v4auth: false`)") && r.contains("use `v4auth: true` to silence"),
            "{r}"
        );
        assert_eq!(
            in_registry_terms("set `endpoint`; use `AddressingStyle::Path`"),
            "set `regionendpoint`; use `forcepathstyle: true`"
        );
        // A request's error (here: a 400 without a body) through the driver.
        let e = crate::client::Error::service(crate::client::ServiceError {
            status: 400,
            ..Default::default()
        });
        assert!(e.to_string().contains("`endpoint`"), "{e}");
        let d = super::super::client_err(e).to_string();
        assert!(d.contains("check `region` and `regionendpoint`"), "{d}");
        // Words that are not setting names stay.
        assert_eq!(
            in_registry_terms("the endpoint `bucket`"),
            "the endpoint `bucket`"
        );
    }
}
