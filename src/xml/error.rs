//! [`XmlError`], the one error type of the XML layer.

use std::fmt;

/// Longest piece of a bad value quoted back in an error message.
const MAX_QUOTED: usize = 64;

/// Why an S3 XML body could not be read, or a request body could not be written.
///
/// Every variant names the element or field at fault. Values quoted back from the input are
/// cut to a short prefix, so a hostile body cannot blow up log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum XmlError {
    /// The bytes are not well-formed XML (bad tag, mismatched end tag, unknown entity,
    /// invalid UTF-8, ...).
    Syntax {
        /// Byte offset in the body where the reader gave up.
        position: u64,
        /// What the XML reader reported.
        message: String,
    },
    /// The body ended before the named element was closed (a truncated response).
    UnexpectedEof {
        /// The innermost element still open, or `"document"` when no element was seen.
        element: String,
    },
    /// The body holds no element at all (empty, or only a declaration and comments).
    NoRootElement,
    /// The root element is not the one this shape expects.
    WrongRoot {
        /// The root element the caller asked for.
        expected: &'static str,
        /// The root element found in the body.
        found: String,
    },
    /// A required child element is absent.
    MissingField {
        /// The element that should contain it.
        parent: &'static str,
        /// The absent child element.
        field: &'static str,
    },
    /// A child element that may appear once appears more than once.
    DuplicateField {
        /// The element containing the duplicates.
        parent: &'static str,
        /// The repeated child element.
        field: &'static str,
    },
    /// A leaf element holds a value of the wrong form (a number that is not one, an unknown
    /// boolean, a bad timestamp, bad percent-encoding, an empty upload id, ...).
    InvalidValue {
        /// The element holding the value.
        field: &'static str,
        /// The value as found (cut to a short prefix).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Character data where only child elements may appear, or a child element inside a
    /// leaf that should hold only text.
    UnexpectedContent {
        /// The element with the unexpected content.
        element: String,
        /// What was found.
        found: String,
    },
    /// Something other than comments or whitespace follows the root element.
    TrailingContent,
    /// A request body cannot be written because a value holds a character that XML 1.0
    /// cannot carry at all, not even as a character reference.
    Unrepresentable {
        /// The element the value would have gone into.
        field: &'static str,
        /// The offending character.
        character: char,
    },
    /// A request body cannot be written because the request itself is invalid (no parts,
    /// duplicate part numbers, too many keys, ...).
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },
}

impl XmlError {
    /// Builds [`XmlError::InvalidValue`], quoting at most a short prefix of `value`.
    pub(crate) fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> Self {
        XmlError::InvalidValue {
            field,
            value: quote_prefix(value),
            reason: reason.into(),
        }
    }
}

/// Cuts `value` to at most [`MAX_QUOTED`] characters, marking the cut.
pub(crate) fn quote_prefix(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED) {
        None => value.to_owned(),
        Some((cut, _)) => format!("{}...", &value[..cut]),
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Syntax { position, message } => write!(
                f,
                "malformed XML at byte {position}: {message}; the server sent a body that is not well-formed XML"
            ),
            XmlError::UnexpectedEof { element } => write!(
                f,
                "XML body ends before <{element}> is closed; the response was truncated, retry the request"
            ),
            XmlError::NoRootElement => {
                f.write_str("XML body holds no element; expected an S3 XML document")
            }
            XmlError::WrongRoot { expected, found } => write!(
                f,
                "XML root element is <{found}>, expected <{expected}>; check that the response belongs to this request"
            ),
            XmlError::MissingField { parent, field } => {
                write!(f, "<{parent}> lacks the required element <{field}>")
            }
            XmlError::DuplicateField { parent, field } => {
                write!(f, "<{parent}> holds <{field}> more than once; it may appear only once")
            }
            XmlError::InvalidValue {
                field,
                value,
                reason,
            } => write!(f, "<{field}> holds {value:?}: {reason}"),
            XmlError::UnexpectedContent { element, found } => {
                write!(f, "<{element}> holds unexpected {found}")
            }
            XmlError::TrailingContent => {
                f.write_str("XML body has content after its root element; expected a single document")
            }
            XmlError::Unrepresentable { field, character } => write!(
                f,
                "<{field}> cannot carry the character U+{:04X}: XML 1.0 has no way to write it; \
                 handle this value without an XML body (for example DeleteObject instead of DeleteObjects)",
                u32::from(*character)
            ),
            XmlError::InvalidRequest { reason } => write!(f, "cannot write the request body: {reason}"),
        }
    }
}

impl std::error::Error for XmlError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(1000);
        let err = XmlError::invalid("Size", &long, "not a number");
        let text = err.to_string();
        assert!(text.len() < 200, "{text}");
        assert!(text.contains("<Size>"));
        assert!(text.contains("..."));
    }

    #[test]
    fn cut_respects_char_boundaries() {
        let s = "é".repeat(100);
        let q = quote_prefix(&s);
        assert_eq!(q.chars().count(), MAX_QUOTED + 3);
    }

    #[test]
    fn messages_name_the_field() {
        let err = XmlError::MissingField {
            parent: "Contents",
            field: "Key",
        };
        assert_eq!(
            err.to_string(),
            "<Contents> lacks the required element <Key>"
        );
        let err = XmlError::Unrepresentable {
            field: "Key",
            character: '\u{1}',
        };
        assert!(err.to_string().contains("U+0001"));
    }
}
