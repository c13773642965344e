//! The flat credential documents of IMDS and container endpoints (read with the client's one
//! JSON reader, [`crate::client::json`]), and an RFC 3339 timestamp parser for their
//! `Expiration` field.
//!
//! Only top-level string fields are kept; numbers, booleans, `null`, nested objects and arrays
//! are validated and skipped. Errors report a byte offset and what was expected, never the
//! input (which holds secrets).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::client::json::{self, JsonError, Value};
use crate::sign::time::{self, Rfc3339};

/// Parses a JSON object and returns its top-level string fields (later duplicates win;
/// members of other types are skipped). A UTF-8 byte-order mark is tolerated.
pub(crate) fn parse_flat_object(input: &str) -> Result<HashMap<String, String>, JsonError> {
    let body = input.strip_prefix('\u{feff}').unwrap_or(input);
    match json::parse(body.as_bytes())? {
        Value::Object(members) => Ok(members
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect()),
        _ => Err(JsonError {
            offset: 0,
            expected: "an object",
        }),
    }
}

/// Parses an RFC 3339 timestamp as the AWS SDKs do (`2024-05-01T16:00:00Z`, optional
/// fraction, `Z` or `±hh:mm`; also `t`/`z`, a space separator and a leap second). Returns
/// `None` for anything else, including times before 1970.
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    time::parse_rfc3339_system_time(s, Rfc3339::SDK)
        .ok()
        .filter(|t| *t >= UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn flat_object_strings_kept_others_skipped() {
        let m = parse_flat_object(
            r#" {"a":"x","n":-1.5e+3,"t":true,"f":false,"z":null,"o":{"k":[1,"s",{}]},"arr":[],"e":{},"b":"y"} "#,
        )
        .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"], "x");
        assert_eq!(m["b"], "y");
        assert!(parse_flat_object("{}").unwrap().is_empty());
        assert!(parse_flat_object("\u{feff}{}").unwrap().is_empty());
    }

    #[test]
    fn escapes() {
        let m =
            parse_flat_object(r#"{"k":"a\"b\\c\/d\n\t\r\b\f\u0041\u00e9\ud83d\ude00 é"}"#).unwrap();
        assert_eq!(m["k"], "a\"b\\c/d\n\t\r\u{8}\u{c}Aé😀 é");
        let m = parse_flat_object(r#"{"k":"x","k":"y"}"#).unwrap();
        assert_eq!(m["k"], "y", "later duplicate wins");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "[]",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":\"x\",}",
            "{\"a\":\"x\"} trailing",
            "{\"a\":\"unterminated}",
            "{\"a\":\"bad \\q escape\"}",
            "{\"a\":\"\\ud83d alone\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"raw\nnewline\"}",
            "{\"a\":tru}",
            "{\"a\":-}",
            "{\"a\":1.}",
            "{\"a\":1e}",
            "{a:\"x\"}",
            "{\"a\":[1,]}",
            "{\"a\":{\"b\" 1}}",
        ] {
            let e = parse_flat_object(bad).unwrap_err();
            assert!(e.to_string().contains("expected"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_flat_object(&deep).is_err());
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(20), "]".repeat(20));
        assert!(parse_flat_object(&ok).is_ok());
    }

    #[test]
    fn error_never_echoes_input() {
        let e = parse_flat_object(r#"{"SecretAccessKey":"topsecret" oops}"#).unwrap_err();
        assert!(!e.to_string().contains("topsecret"));
    }

    #[test]
    fn rfc3339() {
        let t = |s: &str| parse_rfc3339(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap());
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(Duration::ZERO));
        assert_eq!(
            t("2024-05-01T16:00:00Z"),
            Some(Duration::from_secs(1_714_579_200))
        );
        assert_eq!(
            t("2024-02-29T00:00:00Z"),
            Some(Duration::from_secs(1_709_164_800))
        );
        assert_eq!(
            t("2024-05-01T16:00:00.25Z"),
            Some(Duration::new(1_714_579_200, 250_000_000))
        );
        assert_eq!(
            t("2024-05-01T16:00:00.1234567891Z"),
            Some(Duration::new(1_714_579_200, 123_456_789))
        );
        assert_eq!(
            t("2024-05-01T18:00:00+02:00"),
            Some(Duration::from_secs(1_714_579_200))
        );
        assert_eq!(
            t("2024-05-01T15:30:00-00:30"),
            Some(Duration::from_secs(1_714_579_200))
        );
        assert_eq!(
            t("2024-05-01t16:00:00z"),
            Some(Duration::from_secs(1_714_579_200))
        );
        assert_eq!(
            t("2024-05-01 16:00:00Z"),
            Some(Duration::from_secs(1_714_579_200))
        );
        assert_eq!(
            t("2016-12-31T23:59:60Z"),
            Some(Duration::from_secs(1_483_228_800))
        );
        for bad in [
            "2024-05-01",
            "2024-05-01T16:00:00",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T16:00:00.Z",
            "2024-05-01T16:00:00+0200",
            "2024-05-01T16:00:00+25:00",
            "1969-12-31T23:59:59Z",
            "2024/05/01T16:00:00Z",
            "２024-05-01T16:00:00Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in "\\PC{0,200}", jsonish in r#"[{}\[\]",:.0-9a-fnrtu\\ +\-eE]{0,120}"#) {
            let _ = parse_flat_object(&input);
            let _ = parse_flat_object(&jsonish);
            let _ = parse_flat_object(&format!("{{\"k\":{jsonish}"));
            let _ = parse_rfc3339(&input);
        }

        #[test]
        fn string_fields_round_trip(fields in proptest::collection::hash_map("[A-Za-z]{1,8}", "\\PC{0,20}", 0..6)) {
            let body = fields
                .iter()
                .map(|(k, v)| {
                    let escaped: String = v
                        .chars()
                        .map(|c| match c {
                            '"' => "\\\"".to_owned(),
                            '\\' => "\\\\".to_owned(),
                            c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32),
                            c => c.to_string(),
                        })
                        .collect();
                    format!("\"{k}\": \"{escaped}\"")
                })
                .collect::<Vec<_>>()
                .join(",\n");
            let parsed = parse_flat_object(&format!("{{{body}}}")).unwrap();
            proptest::prop_assert_eq!(parsed, fields);
        }
    }
}
