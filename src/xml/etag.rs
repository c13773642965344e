//! [`ETag`]: the one place that knows about ETag quoting.

use std::fmt;

/// An entity tag exactly as the server sent it, quotes included.
///
/// S3 sends ETags quoted (`"fba9dede5f27731c9771645a39863328"`, or with a `-N` suffix for
/// multipart objects), but some compatible servers send them bare. The value is never
/// rewritten: `CompleteMultipartUpload` must echo each part's ETag as `UploadPart` or
/// `UploadPartCopy` returned it. Compare ETags from different sources with
/// [`ETag::matches`], which ignores the quoting (and a weak `W/` prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ETag(String);

impl ETag {
    /// Wraps an ETag as received (from an `ETag` header or an XML body).
    #[must_use]
    pub fn new(raw: impl Into<String>) -> Self {
        ETag(raw.into())
    }

    /// The ETag exactly as received.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ETag without a weak `W/` prefix and without one pair of surrounding double
    /// quotes: `"abc-2"` gives `abc-2`; a bare `abc` stays `abc`.
    #[must_use]
    pub fn unquoted(&self) -> &str {
        let trimmed = self.0.trim();
        let strong = trimmed.strip_prefix("W/").unwrap_or(trimmed);
        strong
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(strong)
    }

    /// True when both ETags name the same entity, ignoring quoting (see [`ETag::unquoted`]).
    #[must_use]
    pub fn matches(&self, other: &ETag) -> bool {
        self.unquoted() == other.unquoted()
    }

    /// The ETag as received, consuming the wrapper.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for ETag {
    fn from(raw: String) -> Self {
        ETag(raw)
    }
}

impl From<&str> for ETag {
    fn from(raw: &str) -> Self {
        ETag(raw.to_owned())
    }
}

impl AsRef<str> for ETag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_raw_form() {
        let tag = ETag::new("\"3858f62230ac3c915f300c664312c11f-9\"");
        assert_eq!(tag.as_str(), "\"3858f62230ac3c915f300c664312c11f-9\"");
        assert_eq!(tag.to_string(), tag.as_str());
        assert_eq!(tag.unquoted(), "3858f62230ac3c915f300c664312c11f-9");
    }

    #[test]
    fn unquoting_edge_cases() {
        for (raw, want) in [
            ("abc", "abc"),
            ("\"abc\"", "abc"),
            (" \"abc\" ", "abc"),
            ("W/\"abc\"", "abc"),
            ("\"\"", ""),
            ("\"", "\""),
            ("\"abc", "\"abc"),
            ("", ""),
        ] {
            assert_eq!(ETag::new(raw).unquoted(), want, "{raw:?}");
        }
    }

    #[test]
    fn matching_ignores_quotes_only() {
        let quoted = ETag::new("\"d41d8cd98f00b204e9800998ecf8427e\"");
        let bare = ETag::new("d41d8cd98f00b204e9800998ecf8427e");
        assert!(quoted.matches(&bare));
        assert_ne!(quoted, bare);
        assert!(!quoted.matches(&ETag::new("\"d41d8cd98f00b204e9800998ecf8427f\"")));
        assert!(!quoted.matches(&ETag::new("\"D41D8CD98F00B204E9800998ECF8427E\"")));
    }
}
