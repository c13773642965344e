//! [`Parameters`]: a driver's configuration map (`storage.<driver>.*` in the
//! registry configuration) with typed getters whose error messages name the
//! parameter the way Distribution's drivers do.

use std::collections::HashMap;
use std::fmt;

/// A configuration value that could not be used. The message names the
/// parameter and says what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterError {
    /// The parameter's key (`"chunksize"`).
    pub key: String,
    message: String,
}

impl ParameterError {
    /// An error about parameter `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ParameterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParameterError {}

/// A driver's parameters: string keys to string values, as read from the
/// configuration file (YAML scalars are passed as their text).
///
/// ```
/// use s3driver::driver::Parameters;
/// let p = Parameters::from_iter([("chunksize", "1024"), ("secure", "false")]);
/// assert_eq!(p.bool("secure", true).unwrap(), false);
/// let err = p.int("chunksize", 10 << 20, 5 << 20, 5 << 30).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "the chunksize 1024 parameter should be a number between 5242880 and 5368709120 (inclusive)"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters {
    values: HashMap<String, String>,
}

impl Parameters {
    /// Empty parameters (every getter returns its default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, returning the parameters (builder style).
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// The raw value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value of `key`, or `default` if unset.
    pub fn string_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_owned()
    }

    /// `key` as a boolean (Go's `strconv.ParseBool`: `1 t T TRUE true True`,
    /// `0 f F FALSE false False`), `default` if unset.
    ///
    /// # Errors
    /// `"the <key> parameter should be a boolean"`.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ParameterError> {
        self.bool_named(key, key, default)
    }

    /// Like [`bool`](Self::bool) but names the parameter `label` in the error
    /// (Distribution's S3 driver writes e.g. `forcePathStyle`, `skipVerify`).
    ///
    /// # Errors
    /// `"the <label> parameter should be a boolean"`.
    pub fn bool_named(
        &self,
        key: &str,
        label: &str,
        default: bool,
    ) -> Result<bool, ParameterError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_go_bool(v).ok_or_else(|| {
                ParameterError::new(key, format!("the {label} parameter should be a boolean"))
            }),
        }
    }

    /// `key` as an integer in `min..=max`, `default` if unset (Distribution's
    /// `getParameterAsInteger`; the default is range-checked too).
    ///
    /// # Errors
    /// `"<key> parameter must be an integer, <value> invalid"` or
    /// `"the <key> <value> parameter should be a number between <min> and <max> (inclusive)"`.
    pub fn int(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, ParameterError> {
        let value = match self.get(key) {
            None => default,
            Some(raw) => parse_decimal(raw).ok_or_else(|| {
                ParameterError::new(
                    key,
                    format!("{key} parameter must be an integer, {raw} invalid"),
                )
            })?,
        };
        if value < min || value > max {
            return Err(ParameterError::new(
                key,
                format!(
                    "the {key} {value} parameter should be a number between {min} and {max} (inclusive)"
                ),
            ));
        }
        Ok(value)
    }

    /// `key` as a concurrency limit (Distribution's `base.GetLimitFromParameter`):
    /// an unsigned integer (decimal, or with a `0x`/`0o`/`0b`/`0` prefix),
    /// `default` if unset, raised to `min` if smaller.
    ///
    /// # Errors
    /// `"parameter must be an integer, '<value>' invalid"`.
    pub fn limit(&self, key: &str, min: u64, default: u64) -> Result<u64, ParameterError> {
        let value = match self.get(key) {
            None => default,
            Some(raw) => parse_uint_base0(raw).ok_or_else(|| {
                ParameterError::new(
                    key,
                    format!("parameter must be an integer, '{raw}' invalid"),
                )
            })?,
        };
        Ok(value.max(min))
    }
}

impl From<HashMap<String, String>> for Parameters {
    fn from(values: HashMap<String, String>) -> Self {
        Self { values }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Parameters {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            values: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A decimal integer with an optional sign, surrounding blanks ignored.
fn parse_decimal(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.ParseUint(s, 0, 64)` without underscores: decimal, or `0x`/`0o`/`0b`/`0`
/// (octal) prefixed, any case; no sign. The one Go-integer parser (the configuration's YAML
/// reader uses it for `strconv.ParseInt` too).
pub(crate) fn parse_uint_base0(raw: &str) -> Option<u64> {
    let lower = raw.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_follows_go_parse_bool() {
        let p = Parameters::from_iter([("a", "True"), ("b", "0"), ("c", "yes")]);
        assert_eq!(p.bool("a", false), Ok(true));
        assert_eq!(p.bool("b", true), Ok(false));
        assert_eq!(p.bool("missing", true), Ok(true));
        assert_eq!(
            p.bool("c", false).unwrap_err().to_string(),
            "the c parameter should be a boolean"
        );
        assert_eq!(
            p.bool_named("c", "forcePathStyle", false)
                .unwrap_err()
                .to_string(),
            "the forcePathStyle parameter should be a boolean"
        );
    }

    #[test]
    fn int_checks_syntax_and_range() {
        let p = Parameters::from_iter([("chunksize", "10MB"), ("n", " 42 "), ("neg", "-1")]);
        assert_eq!(
            p.int("chunksize", 0, 0, 10).unwrap_err().to_string(),
            "chunksize parameter must be an integer, 10MB invalid"
        );
        assert_eq!(p.int("n", 0, 0, 100), Ok(42));
        assert_eq!(p.int("unset", 7, 0, 100), Ok(7));
        let e = p.int("neg", 0, 0, 100).unwrap_err();
        assert_eq!(e.key, "neg");
        assert_eq!(
            e.to_string(),
            "the neg -1 parameter should be a number between 0 and 100 (inclusive)"
        );
    }

    #[test]
    fn limit_is_raised_to_min() {
        let p = Parameters::from_iter([("maxthreads", "5"), ("hex", "0x40"), ("bad", "many")]);
        assert_eq!(p.limit("maxthreads", 25, 100), Ok(25));
        assert_eq!(p.limit("hex", 25, 100), Ok(64));
        assert_eq!(p.limit("unset", 25, 100), Ok(100));
        assert_eq!(
            p.limit("bad", 25, 100).unwrap_err().to_string(),
            "parameter must be an integer, 'many' invalid"
        );
        assert_eq!(parse_uint_base0("010"), Some(8));
        assert_eq!(parse_uint_base0("0"), Some(0));
        assert_eq!(parse_uint_base0("-3"), None);
    }
}
