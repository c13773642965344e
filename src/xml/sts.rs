//! AWS STS answers (Query API, XML): the results of `AssumeRole` and
//! `AssumeRoleWithWebIdentity`, and STS's `<ErrorResponse>`.
//!
//! STS is not S3, but its answers are XML of the same kind, read with the same strict walker
//! and the same rules (see the [module docs](super)).

use std::fmt;

use super::de::{required, set_once, Deserializer};
use super::error::XmlError;
use super::time::Timestamp;

/// Temporary credentials from STS (`<Credentials>`).
///
/// `Debug` shows the access key id only: the secret key and session token are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct StsCredentials {
    /// `AccessKeyId` (required, not empty).
    pub access_key_id: String,
    /// `SecretAccessKey` (required, not empty). Never print it.
    pub secret_access_key: String,
    /// `SessionToken` (required, not empty). Never print it.
    pub session_token: String,
    /// `Expiration` (required).
    pub expiration: Timestamp,
}

impl fmt::Debug for StsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration.raw)
            .finish()
    }
}

/// The answer to `AssumeRole` ([api]) or `AssumeRoleWithWebIdentity` ([api-wi]):
/// `<AssumeRoleResponse><AssumeRoleResult><Credentials/><AssumedRoleUser/>...</AssumeRoleResult>
/// <ResponseMetadata><RequestId/></ResponseMetadata></AssumeRoleResponse>`.
///
/// Required: the result element and its `Credentials` with all four fields. Everything else
/// (`PackedPolicySize`, `SourceIdentity`, `Audience`, ...) is skipped.
///
/// [api]: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
/// [api-wi]: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleResponse {
    /// The temporary credentials.
    pub credentials: StsCredentials,
    /// `AssumedRoleUser/Arn`: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub assumed_role_arn: Option<String>,
    /// `ResponseMetadata/RequestId`.
    pub request_id: Option<String>,
}

impl AssumeRoleResponse {
    /// Parses the answer to `AssumeRole` (root `<AssumeRoleResponse>`).
    ///
    /// # Errors
    ///
    /// [`XmlError`] when the body is malformed, has another root (an `<ErrorResponse>` gives
    /// [`XmlError::WrongRoot`]), or lacks a required field. No
    /// error quotes the secret key or the session token.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        parse_assume(body, "AssumeRoleResponse", "AssumeRoleResult")
    }

    /// Parses the answer to `AssumeRoleWithWebIdentity` (root
    /// `<AssumeRoleWithWebIdentityResponse>`).
    ///
    /// # Errors
    ///
    /// As [`AssumeRoleResponse::parse`].
    pub fn parse_web_identity(body: &[u8]) -> Result<Self, XmlError> {
        parse_assume(
            body,
            "AssumeRoleWithWebIdentityResponse",
            "AssumeRoleWithWebIdentityResult",
        )
    }
}

fn parse_assume(
    body: &[u8],
    root: &'static str,
    result: &'static str,
) -> Result<AssumeRoleResponse, XmlError> {
    let mut de = Deserializer::new(body);
    let empty = de.expect_root(root)?;
    let mut credentials = None;
    let mut assumed_role_arn = None;
    let mut request_id = None;
    let mut seen_result = false;
    de.children(root, empty, |de, name, empty| {
        match name {
            n if n == result => {
                if seen_result {
                    return Err(XmlError::DuplicateField {
                        parent: root,
                        field: result,
                    });
                }
                seen_result = true;
                de.children(result, empty, |de, name, empty| {
                    match name {
                        "Credentials" => {
                            let c = read_credentials(de, empty)?;
                            set_once(&mut credentials, c, result, "Credentials")?;
                        }
                        "AssumedRoleUser" => {
                            de.children("AssumedRoleUser", empty, |de, name, empty| {
                                if name != "Arn" {
                                    return Ok(false);
                                }
                                de.string_into(
                                    &mut assumed_role_arn,
                                    "AssumedRoleUser",
                                    "Arn",
                                    empty,
                                )?;
                                Ok(true)
                            })?;
                        }
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
            }
            "ResponseMetadata" => read_request_id(de, empty, "ResponseMetadata", &mut request_id)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    de.finish()?;
    if !seen_result {
        return Err(XmlError::MissingField {
            parent: root,
            field: result,
        });
    }
    Ok(AssumeRoleResponse {
        credentials: required(credentials, result, "Credentials")?,
        assumed_role_arn,
        request_id,
    })
}

fn read_credentials(de: &mut Deserializer<'_>, empty: bool) -> Result<StsCredentials, XmlError> {
    const PARENT: &str = "Credentials";
    let (mut id, mut secret, mut token, mut expiration) = (None, None, None, None);
    de.children(PARENT, empty, |de, name, empty| {
        match name {
            "AccessKeyId" => de.string_into(&mut id, PARENT, "AccessKeyId", empty)?,
            "SecretAccessKey" => de.string_into(&mut secret, PARENT, "SecretAccessKey", empty)?,
            "SessionToken" => de.string_into(&mut token, PARENT, "SessionToken", empty)?,
            "Expiration" => de.time_into(&mut expiration, PARENT, "Expiration", empty)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // An empty value is as useless as a missing one (and never quoted back: it may be secret).
    let non_empty = |v: Option<String>, field: &'static str| match v {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(XmlError::MissingField {
            parent: PARENT,
            field,
        }),
    };
    Ok(StsCredentials {
        access_key_id: non_empty(id, "AccessKeyId")?,
        secret_access_key: non_empty(secret, "SecretAccessKey")?,
        session_token: non_empty(token, "SessionToken")?,
        expiration: required(expiration, PARENT, "Expiration")?,
    })
}

fn read_request_id(
    de: &mut Deserializer<'_>,
    empty: bool,
    parent: &'static str,
    slot: &mut Option<String>,
) -> Result<(), XmlError> {
    de.children(parent, empty, |de, name, empty| {
        if name != "RequestId" {
            return Ok(false);
        }
        de.string_into(slot, parent, "RequestId", empty)?;
        Ok(true)
    })
}

/// An STS error answer ([api]):
/// `<ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`.
///
/// Also read: the `<Errors><Error>...</Error></Errors>` wrapping that moto writes (the first
/// `<Error>` counts), and a bare `<Error>` root with a `RequestId` inside.
///
/// [api]: https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct StsErrorResponse {
    /// `Code`, e.g. `AccessDenied`, `ExpiredTokenException`, `InvalidIdentityToken`
    /// (empty when the body has none).
    pub code: String,
    /// `Message` (empty when absent).
    pub message: String,
    /// `Type`: `Sender` or `Receiver`.
    pub error_type: Option<String>,
    /// `RequestId`.
    pub request_id: Option<String>,
}

impl fmt::Display for StsErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.code.is_empty() {
            "(no code)"
        } else {
            &self.code
        })?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// Returns the error an STS answer carries when its root is `<ErrorResponse>` (or `<Error>`),
/// else `None`. Lenient like [`parse_error_body`](super::parse_error_body): a damaged body
/// keeps the fields read before the damage.
#[must_use]
pub(crate) fn parse_sts_error(body: &[u8]) -> Option<StsErrorResponse> {
    let mut de = Deserializer::new(body);
    let (root, empty) = de.root().ok()?;
    let mut out = StsErrorResponse::default();
    match root.as_str() {
        "ErrorResponse" => {
            let _ = read_error_response(&mut de, empty, &mut out);
        }
        "Error" => {
            let _ = read_error(&mut de, empty, &mut out);
        }
        _ => return None,
    }
    Some(out)
}

fn read_error_response(
    de: &mut Deserializer<'_>,
    empty: bool,
    out: &mut StsErrorResponse,
) -> Result<(), XmlError> {
    let mut seen_error = false;
    de.children("ErrorResponse", empty, |de, name, empty| {
        match name {
            "Error" if !seen_error => {
                seen_error = true;
                read_error(de, empty, out)?;
            }
            "Errors" => {
                de.children("Errors", empty, |de, name, empty| {
                    if name != "Error" || seen_error {
                        return Ok(false);
                    }
                    seen_error = true;
                    read_error(de, empty, out)?;
                    Ok(true)
                })?;
            }
            "RequestId" if out.request_id.is_none() => {
                out.request_id = Some(de.text("RequestId", empty)?);
            }
            "ResponseMetadata" => {
                let mut id = None;
                read_request_id(de, empty, "ResponseMetadata", &mut id)?;
                if out.request_id.is_none() {
                    out.request_id = id;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    })
}

fn read_error(
    de: &mut Deserializer<'_>,
    empty: bool,
    out: &mut StsErrorResponse,
) -> Result<(), XmlError> {
    de.children("Error", empty, |de, name, empty| {
        match name {
            "Code" => out.code = de.text("Code", empty)?.trim().to_owned(),
            "Message" => out.message = de.text("Message", empty)?,
            "Type" => out.error_type = Some(de.text("Type", empty)?.trim().to_owned()),
            "RequestId" => out.request_id = Some(de.text("RequestId", empty)?),
            _ => return Ok(false),
        }
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the STS API reference (AssumeRole), trimmed.
    const ASSUME_ROLE: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
  <SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>
       AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW
      </SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#;

    #[test]
    fn assume_role_example() {
        let r = AssumeRoleResponse::parse(ASSUME_ROLE.as_bytes()).unwrap();
        assert_eq!(r.credentials.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            r.credentials.secret_access_key,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        );
        assert_eq!(
            r.credentials.session_token,
            "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW",
            "surrounding whitespace is trimmed"
        );
        assert_eq!(r.credentials.expiration.unix_seconds, 1_573_306_481);
        assert_eq!(
            r.assumed_role_arn.as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/demo/TestAR")
        );
        assert_eq!(
            r.request_id.as_deref(),
            Some("c6104cbe-af31-11e0-8154-cbc7ccf896c7")
        );
        let debug = format!("{r:?}");
        assert!(!debug.contains("wJalrXUtnFEMI"), "{debug}");
        assert!(!debug.contains("AQoDYXdzEPT"), "{debug}");
        assert!(debug.contains("ASIAIOSFODNN7EXAMPLE"), "{debug}");
        // The other operation's root is refused.
        assert!(matches!(
            AssumeRoleResponse::parse_web_identity(ASSUME_ROLE.as_bytes()),
            Err(XmlError::WrongRoot { .. })
        ));
    }

    #[test]
    fn web_identity_example_and_moto_fractions() {
        // As moto answers (microsecond fraction, no whitespace).
        let body = "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
            <AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>amzn1.account</SubjectFromWebIdentityToken>\
            <Audience>client.5498841531868486423.1548@apps.example.com</Audience>\
            <Credentials><AccessKeyId>ASIARZPUZDIKKYEOLJYJ</AccessKeyId><SecretAccessKey>S/+</SecretAccessKey>\
            <SessionToken>FQoGZXIvYXdz</SessionToken><Expiration>2026-12-03T08:30:35.297543Z</Expiration></Credentials>\
            <AssumedRoleUser><AssumedRoleId>ARO123EXAMPLE123:web</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/reg/web</Arn></AssumedRoleUser>\
            <PackedPolicySize>6</PackedPolicySize><Provider>www.amazon.com</Provider></AssumeRoleWithWebIdentityResult>\
            <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>";
        let r = AssumeRoleResponse::parse_web_identity(body.as_bytes()).unwrap();
        assert_eq!(r.credentials.access_key_id, "ASIARZPUZDIKKYEOLJYJ");
        assert_eq!(r.credentials.secret_access_key, "S/+");
        assert_eq!(r.credentials.expiration.nanos, 297_543_000);
        assert_eq!(r.request_id.as_deref(), Some("ad4156e9"));
    }

    #[test]
    fn missing_or_empty_fields_are_errors_without_secrets() {
        let cases = [
            ("<AssumeRoleResponse/>", "AssumeRoleResult"),
            (
                "<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>",
                "Credentials",
            ),
            (
                "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>\
                 <SecretAccessKey>topsecret</SecretAccessKey><Expiration>2019-11-09T13:34:41Z</Expiration>\
                 </Credentials></AssumeRoleResult></AssumeRoleResponse>",
                "SessionToken",
            ),
            (
                "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>\
                 <SecretAccessKey> </SecretAccessKey><SessionToken>t</SessionToken>\
                 <Expiration>2019-11-09T13:34:41Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>",
                "SecretAccessKey",
            ),
            (
                "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>\
                 <SecretAccessKey>topsecret</SecretAccessKey><SessionToken>t</SessionToken>\
                 </Credentials></AssumeRoleResult></AssumeRoleResponse>",
                "Expiration",
            ),
        ];
        for (body, field) in cases {
            let e = AssumeRoleResponse::parse(body.as_bytes()).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(field), "{body}: {text}");
            assert!(!text.contains("topsecret"), "{text}");
        }
        let e = AssumeRoleResponse::parse(
            b"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>\
              <SecretAccessKey>topsecret</SecretAccessKey><SessionToken>t</SessionToken>\
              <Expiration>tomorrow</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>",
        )
        .unwrap_err();
        assert!(e.to_string().contains("Expiration"), "{e}");
        assert!(!e.to_string().contains("topsecret"), "{e}");
        let dup = "<AssumeRoleResponse><AssumeRoleResult/><AssumeRoleResult/></AssumeRoleResponse>";
        assert!(matches!(
            AssumeRoleResponse::parse(dup.as_bytes()),
            Err(XmlError::DuplicateField { .. })
        ));
    }

    #[test]
    fn error_responses() {
        // AWS's form.
        let aws = b"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n\
            <Error><Type>Sender</Type><Code>ExpiredTokenException</Code>\
            <Message>Token expired: current date/time 1700000000 must be before the expiration date/time 1690000000</Message>\
            </Error><RequestId>4f0e1b7a-0000</RequestId></ErrorResponse>";
        let e = parse_sts_error(aws).unwrap();
        assert_eq!(e.code, "ExpiredTokenException");
        assert_eq!(e.error_type.as_deref(), Some("Sender"));
        assert_eq!(e.request_id.as_deref(), Some("4f0e1b7a-0000"));
        assert!(e
            .to_string()
            .starts_with("ExpiredTokenException: Token expired"));
        assert!(e.to_string().ends_with("(request id 4f0e1b7a-0000)"));
        // moto's form: <Errors> wrapper, no request id.
        let moto = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error>\
            <Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>\
            <Type>Sender</Type></Error></Errors></ErrorResponse>";
        let e = parse_sts_error(moto).unwrap();
        assert_eq!(e.code, "InvalidClientTokenId");
        assert_eq!(e.request_id, None);
        // Bare <Error> with a request id inside; truncated bodies keep what was read.
        let e =
            parse_sts_error(b"<Error><Code>AccessDenied</Code><RequestId>r1</RequestId></Error>")
                .unwrap();
        assert_eq!(
            (e.code.as_str(), e.request_id.as_deref()),
            ("AccessDenied", Some("r1"))
        );
        let e = parse_sts_error(b"<ErrorResponse><Error><Code>Throttling</Code><Mess").unwrap();
        assert_eq!(e.code, "Throttling");
        assert_eq!(StsErrorResponse::default().to_string(), "(no code)");
        assert!(parse_sts_error(b"").is_none());
        assert!(parse_sts_error(b"<html>oops</html>").is_none());
        assert!(parse_sts_error(ASSUME_ROLE.as_bytes()).is_none());
    }
}
