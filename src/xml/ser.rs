//! The writer for request bodies: element nesting plus correct text escaping.

use super::error::XmlError;

/// The namespace S3 documents for its request and response bodies.
pub(crate) const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds one small XML document as a `String`.
#[derive(Debug)]
pub(crate) struct Writer {
    out: String,
}

impl Writer {
    /// Starts a document with an XML declaration and `<root xmlns="...S3 namespace...">`.
    pub(crate) fn new(root: &'static str) -> Self {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push_str(" xmlns=\"");
        out.push_str(S3_NAMESPACE);
        out.push_str("\">");
        Writer { out }
    }

    /// Opens a child element.
    pub(crate) fn open(&mut self, name: &'static str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Closes a child element.
    pub(crate) fn close(&mut self, name: &'static str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Writes `<name>value</name>` with `value` escaped.
    ///
    /// # Errors
    ///
    /// [`XmlError::Unrepresentable`] when `value` holds a character XML 1.0 cannot carry.
    pub(crate) fn leaf(&mut self, name: &'static str, value: &str) -> Result<(), XmlError> {
        self.open(name);
        escape_text_into(name, value, &mut self.out)?;
        self.close(name);
        Ok(())
    }

    /// Closes the root element and returns the document.
    pub(crate) fn finish(mut self, root: &'static str) -> String {
        self.close(root);
        self.out
    }
}

/// True for characters XML 1.0 allows in a document (production `Char`), minus nothing.
///
/// Rust `char`s are never surrogates, so the only exclusions left are the C0 controls other
/// than tab, line feed and carriage return, and U+FFFE and U+FFFF.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `value` to `out` escaped for element content.
///
/// `&`, `<` and `>` become entities. Tab, line feed and carriage return become character
/// references (`&#9;`, `&#10;`, `&#13;`) so that no XML parser's line-end normalisation can
/// change them: the AWS `DeleteObjects` documentation asks for `&#13;` for a key holding a
/// carriage return. Quotes are written as they are (legal in element content), so an ETag
/// keeps its visible quotes.
///
/// # Errors
///
/// [`XmlError::Unrepresentable`] for a character XML 1.0 forbids outright (U+0000..U+0008,
/// U+000B, U+000C, U+000E..U+001F, U+FFFE, U+FFFF): such characters are not allowed even as
/// character references, so there is no correct way to send them in an XML body.
pub(crate) fn escape_text_into(
    field: &'static str,
    value: &str,
    out: &mut String,
) -> Result<(), XmlError> {
    out.reserve(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            character => return Err(XmlError::Unrepresentable { field, character }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(value: &str) -> Result<String, XmlError> {
        let mut out = String::new();
        escape_text_into("Key", value, &mut out).map(|()| out)
    }

    #[test]
    fn escapes_markup_and_line_ends() {
        assert_eq!(escaped("a&b<c>d").unwrap(), "a&amp;b&lt;c&gt;d");
        assert_eq!(escaped("]]>").unwrap(), "]]&gt;");
        assert_eq!(escaped("\"q\" 'a'").unwrap(), "\"q\" 'a'");
        assert_eq!(escaped("x\r\ny\tz").unwrap(), "x&#13;&#10;y&#9;z");
        assert_eq!(escaped("é🦀\u{FFFD}\u{7F}").unwrap(), "é🦀\u{FFFD}\u{7F}");
    }

    #[test]
    fn refuses_characters_xml_cannot_carry() {
        for c in [
            '\u{0}', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{E}', '\u{1F}', '\u{FFFE}', '\u{FFFF}',
        ] {
            let err = escaped(&format!("a{c}b")).unwrap_err();
            assert_eq!(
                err,
                XmlError::Unrepresentable {
                    field: "Key",
                    character: c
                }
            );
        }
    }

    #[test]
    fn writer_builds_a_namespaced_document() {
        let mut w = Writer::new("Root");
        w.open("Item");
        w.leaf("Key", "a&b").unwrap();
        w.close("Item");
        assert_eq!(
            w.finish("Root"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Root xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Item><Key>a&amp;b</Key></Item></Root>"
        );
    }
}
