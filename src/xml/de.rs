//! The strict reader layer: a thin event-driven walker over [`quick_xml::Reader`].
//!
//! Every shape parser follows the same pattern: [`Deserializer::expect_root`], then
//! [`Deserializer::children`] with a closure that matches child names and reads each one
//! with [`Deserializer::text`] (leaves) or a nested `children` call (containers), then
//! [`Deserializer::finish`]. The walker:
//!
//! * matches elements by their local name, so `s3:Key` and `Key` are the same, and ignores
//!   every attribute (`xmlns`, `xmlns:xsi`, ...) without parsing it;
//! * skips the XML declaration, comments and processing instructions, a UTF-8 byte-order
//!   mark, and whitespace before the root element (S3 pads slow `CompleteMultipartUpload`
//!   answers with whitespace to keep the connection alive);
//! * treats `<X/>` exactly like `<X></X>`;
//! * skips unknown elements whole, however deeply nested, without recursion;
//! * keeps leaf text exactly (no trimming: object keys may start or end with spaces),
//!   resolving the five predefined entities and character references (`&quot;`, `&#34;`,
//!   `&#x22;`, `&#13;`) and appending CDATA sections verbatim;
//! * rejects a DOCTYPE (S3 never sends one, and no entity is ever expanded), text between
//!   child elements, child elements inside leaves, unknown entities, truncation and
//!   anything after the root element.

use quick_xml::events::{BytesText, Event};
use quick_xml::Reader;

use super::error::XmlError;
use super::time::Timestamp;

/// Walks one XML document; see the module docs.
pub(crate) struct Deserializer<'a> {
    reader: Reader<&'a [u8]>,
}

impl std::fmt::Debug for Deserializer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deserializer")
            .field("position", &self.reader.buffer_position())
            .finish()
    }
}

/// True for character data made only of XML whitespace.
fn is_blank(text: &BytesText<'_>) -> bool {
    text.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// The local part of a possibly prefixed element name, as text.
fn local_name(qname: &[u8]) -> String {
    let local = match qname.iter().position(|&b| b == b':') {
        Some(colon) => &qname[colon + 1..],
        None => qname,
    };
    String::from_utf8_lossy(local).into_owned()
}

/// Drops a UTF-8 byte-order mark and leading XML whitespace.
fn strip_leading(mut input: &[u8]) -> &[u8] {
    if let Some(rest) = input.strip_prefix(b"\xEF\xBB\xBF") {
        input = rest;
    }
    let start = input
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(input.len());
    &input[start..]
}

impl<'a> Deserializer<'a> {
    /// Starts reading `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        let mut reader = Reader::from_reader(strip_leading(input));
        let config = reader.config_mut();
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Deserializer { reader }
    }

    fn syntax(&self, err: impl std::fmt::Display) -> XmlError {
        XmlError::Syntax {
            position: self.reader.error_position(),
            message: err.to_string(),
        }
    }

    fn read(&mut self) -> Result<Event<'a>, XmlError> {
        match self.reader.read_event() {
            Ok(event) => Ok(event),
            Err(err) => Err(self.syntax(err)),
        }
    }

    /// Reads up to the root element and returns its local name and whether it is `<X/>`.
    pub(crate) fn root(&mut self) -> Result<(String, bool), XmlError> {
        loop {
            match self.read()? {
                Event::Start(e) => return Ok((local_name(e.name().as_ref()), false)),
                Event::Empty(e) => return Ok((local_name(e.name().as_ref()), true)),
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if is_blank(&t) => {}
                Event::Text(_) | Event::CData(_) => {
                    return Err(XmlError::UnexpectedContent {
                        element: "document".into(),
                        found: "text before the root element".into(),
                    })
                }
                Event::DocType(_) => {
                    return Err(XmlError::UnexpectedContent {
                        element: "document".into(),
                        found: "a DOCTYPE declaration (S3 bodies never carry one)".into(),
                    })
                }
                Event::End(_) => {
                    return Err(XmlError::UnexpectedContent {
                        element: "document".into(),
                        found: "an end tag before the root element".into(),
                    })
                }
                Event::Eof => return Err(XmlError::NoRootElement),
            }
        }
    }

    /// Reads up to the root element and checks that it is `<expected>`; returns whether it is
    /// empty (`<X/>`).
    pub(crate) fn expect_root(&mut self, expected: &'static str) -> Result<bool, XmlError> {
        let (found, empty) = self.root()?;
        if found == expected {
            Ok(empty)
        } else {
            Err(XmlError::WrongRoot { expected, found })
        }
    }

    /// Walks the children of the element just opened (`parent`, `empty` as returned by the
    /// opening read) up to and including its end tag.
    ///
    /// `visit(self, name, empty)` is called for each child element with its local name; it
    /// must consume that child completely (with [`Self::text`], [`Self::skip`] or a nested
    /// `children`) and return `Ok(true)`, or consume nothing and return `Ok(false)`, in which
    /// case the child is skipped as unknown.
    pub(crate) fn children<F>(
        &mut self,
        parent: &str,
        empty: bool,
        mut visit: F,
    ) -> Result<(), XmlError>
    where
        F: FnMut(&mut Self, &str, bool) -> Result<bool, XmlError>,
    {
        if empty {
            return Ok(());
        }
        loop {
            match self.read()? {
                Event::Start(e) => {
                    let name = local_name(e.name().as_ref());
                    if !visit(self, &name, false)? {
                        self.skip(&name, false)?;
                    }
                }
                Event::Empty(e) => {
                    let name = local_name(e.name().as_ref());
                    visit(self, &name, true)?;
                }
                Event::End(_) => return Ok(()),
                Event::Text(t) if is_blank(&t) => {}
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(_) | Event::CData(_) => {
                    return Err(XmlError::UnexpectedContent {
                        element: parent.into(),
                        found: "text between its child elements".into(),
                    })
                }
                Event::Decl(_) | Event::DocType(_) => {
                    return Err(XmlError::UnexpectedContent {
                        element: parent.into(),
                        found: "a declaration".into(),
                    })
                }
                Event::Eof => {
                    return Err(XmlError::UnexpectedEof {
                        element: parent.into(),
                    })
                }
            }
        }
    }

    /// Reads the text of the leaf element just opened, up to and including its end tag.
    pub(crate) fn text(&mut self, element: &str, empty: bool) -> Result<String, XmlError> {
        let mut out = String::new();
        if empty {
            return Ok(out);
        }
        loop {
            match self.read()? {
                Event::Text(t) => match t.unescape() {
                    Ok(text) => out.push_str(&text),
                    Err(err) => return Err(self.syntax(err)),
                },
                Event::CData(c) => match std::str::from_utf8(&c) {
                    Ok(text) => out.push_str(text),
                    Err(err) => return Err(self.syntax(err)),
                },
                Event::End(_) => return Ok(out),
                Event::Comment(_) | Event::PI(_) => {}
                Event::Start(e) | Event::Empty(e) => {
                    return Err(XmlError::UnexpectedContent {
                        element: element.into(),
                        found: format!(
                            "child element <{}> where only text may appear",
                            local_name(e.name().as_ref())
                        ),
                    })
                }
                Event::Decl(_) | Event::DocType(_) => {
                    return Err(XmlError::UnexpectedContent {
                        element: element.into(),
                        found: "a declaration".into(),
                    })
                }
                Event::Eof => {
                    return Err(XmlError::UnexpectedEof {
                        element: element.into(),
                    })
                }
            }
        }
    }

    /// Skips the element just opened, with everything nested in it.
    pub(crate) fn skip(&mut self, element: &str, empty: bool) -> Result<(), XmlError> {
        if empty {
            return Ok(());
        }
        let mut depth = 1usize;
        loop {
            match self.read()? {
                Event::Start(_) => depth += 1,
                Event::End(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Event::Eof => {
                    return Err(XmlError::UnexpectedEof {
                        element: element.into(),
                    })
                }
                _ => {}
            }
        }
    }

    /// Reads the element just opened as text if it is a leaf; if it holds child elements,
    /// skips the rest of it and returns `None`.
    pub(crate) fn text_or_skip(
        &mut self,
        element: &str,
        empty: bool,
    ) -> Result<Option<String>, XmlError> {
        let mut out = String::new();
        if empty {
            return Ok(Some(out));
        }
        loop {
            match self.read()? {
                Event::Text(t) => match t.unescape() {
                    Ok(text) => out.push_str(&text),
                    Err(err) => return Err(self.syntax(err)),
                },
                Event::CData(c) => match std::str::from_utf8(&c) {
                    Ok(text) => out.push_str(text),
                    Err(err) => return Err(self.syntax(err)),
                },
                Event::End(_) => return Ok(Some(out)),
                Event::Start(_) => {
                    // The child and then the rest of this element.
                    self.skip(element, false)?;
                    self.skip(element, false)?;
                    return Ok(None);
                }
                Event::Empty(_) => {
                    self.skip(element, false)?;
                    return Ok(None);
                }
                Event::Eof => {
                    return Err(XmlError::UnexpectedEof {
                        element: element.into(),
                    })
                }
                _ => {}
            }
        }
    }

    /// Checks that only comments, processing instructions and whitespace follow the root.
    pub(crate) fn finish(&mut self) -> Result<(), XmlError> {
        loop {
            match self.read()? {
                Event::Eof => return Ok(()),
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if is_blank(&t) => {}
                _ => return Err(XmlError::TrailingContent),
            }
        }
    }

    // ---- leaf helpers: read one leaf into a slot that may be filled only once ----

    /// Reads a text leaf into `slot`; a second occurrence is [`XmlError::DuplicateField`].
    pub(crate) fn string_into(
        &mut self,
        slot: &mut Option<String>,
        parent: &'static str,
        field: &'static str,
        empty: bool,
    ) -> Result<(), XmlError> {
        let value = self.text(field, empty)?;
        set_once(slot, value, parent, field)
    }

    /// Reads an unsigned number leaf into `slot`; an empty element leaves the slot unset.
    pub(crate) fn u64_into(
        &mut self,
        slot: &mut Option<u64>,
        parent: &'static str,
        field: &'static str,
        empty: bool,
    ) -> Result<(), XmlError> {
        let text = self.text(field, empty)?;
        if slot.is_some() {
            return Err(XmlError::DuplicateField { parent, field });
        }
        if !text.trim_matches(is_xml_space).is_empty() {
            *slot = Some(parse_u64(field, &text)?);
        }
        Ok(())
    }

    /// Like [`Self::u64_into`] for numbers that must fit in 32 bits.
    pub(crate) fn u32_into(
        &mut self,
        slot: &mut Option<u32>,
        parent: &'static str,
        field: &'static str,
        empty: bool,
    ) -> Result<(), XmlError> {
        let mut wide = None;
        self.u64_into(&mut wide, parent, field, empty)?;
        if let Some(value) = wide {
            let narrow = u32::try_from(value).map_err(|_| {
                XmlError::invalid(field, &value.to_string(), "number does not fit in 32 bits")
            })?;
            set_once(slot, narrow, parent, field)?;
        } else if slot.is_some() {
            return Err(XmlError::DuplicateField { parent, field });
        }
        Ok(())
    }

    /// Reads a boolean leaf (`true`/`false`, or `1`/`0` as XML Schema allows) into `slot`.
    pub(crate) fn bool_into(
        &mut self,
        slot: &mut Option<bool>,
        parent: &'static str,
        field: &'static str,
        empty: bool,
    ) -> Result<(), XmlError> {
        let text = self.text(field, empty)?;
        let value = parse_bool(field, &text)?;
        set_once(slot, value, parent, field)
    }

    /// Reads an ISO-8601 timestamp leaf into `slot`.
    pub(crate) fn time_into(
        &mut self,
        slot: &mut Option<Timestamp>,
        parent: &'static str,
        field: &'static str,
        empty: bool,
    ) -> Result<(), XmlError> {
        let text = self.text(field, empty)?;
        let value = Timestamp::parse_field(field, &text)?;
        set_once(slot, value, parent, field)
    }
}

/// XML's whitespace characters (space, tab, line feed, carriage return).
pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Fills `slot`, or fails with [`XmlError::DuplicateField`] if it is already filled.
pub(crate) fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    parent: &'static str,
    field: &'static str,
) -> Result<(), XmlError> {
    if slot.is_some() {
        return Err(XmlError::DuplicateField { parent, field });
    }
    *slot = Some(value);
    Ok(())
}

/// Unwraps a required field or fails with [`XmlError::MissingField`].
pub(crate) fn required<T>(
    slot: Option<T>,
    parent: &'static str,
    field: &'static str,
) -> Result<T, XmlError> {
    slot.ok_or(XmlError::MissingField { parent, field })
}

/// Parses a decimal unsigned number, ignoring surrounding XML whitespace.
pub(crate) fn parse_u64(field: &'static str, text: &str) -> Result<u64, XmlError> {
    let digits = text.trim_matches(is_xml_space);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(XmlError::invalid(
            field,
            text,
            "expected an unsigned decimal number",
        ));
    }
    digits
        .parse::<u64>()
        .map_err(|_| XmlError::invalid(field, text, "number is too large"))
}

/// Parses `true`/`false` (any case) or `1`/`0`, ignoring surrounding XML whitespace.
pub(crate) fn parse_bool(field: &'static str, text: &str) -> Result<bool, XmlError> {
    let word = text.trim_matches(is_xml_space);
    if word.eq_ignore_ascii_case("true") || word == "1" {
        Ok(true)
    } else if word.eq_ignore_ascii_case("false") || word == "0" {
        Ok(false)
    } else {
        Err(XmlError::invalid(field, text, "expected true or false"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `<Root>` with leaves `A` (repeatable) and `N` (number), collecting `A` values.
    fn read_root(input: &str) -> Result<(Vec<String>, Option<u64>), XmlError> {
        let mut de = Deserializer::new(input.as_bytes());
        let empty = de.expect_root("Root")?;
        let mut a = Vec::new();
        let mut n = None;
        de.children("Root", empty, |de, name, empty| {
            match name {
                "A" => a.push(de.text("A", empty)?),
                "N" => de.u64_into(&mut n, "Root", "N", empty)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        de.finish()?;
        Ok((a, n))
    }

    #[test]
    fn text_keeps_spaces_and_resolves_references() {
        let (a, _) = read_root("<Root><A> x </A><A>&quot;&#34;&#x22;&amp;&lt;&gt;&apos;&#13;</A><A><![CDATA[<&>]]></A></Root>").unwrap();
        assert_eq!(a, vec![" x ", "\"\"\"&<>'\r", "<&>"]);
    }

    #[test]
    fn empty_elements_equal_open_close_pairs() {
        let (a, n) = read_root("<Root><A/><A></A><N/></Root>").unwrap();
        assert_eq!(a, vec!["", ""]);
        assert_eq!(n, None);
        let (a, _) = read_root("<Root/>").unwrap();
        assert!(a.is_empty());
    }

    #[test]
    fn namespaces_declaration_comments_and_padding_are_ignored() {
        let input = "\u{feff}\n\n  <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\
            <s3:Root xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\" xmlns=\"x\">\n\
            <s3:A>k</s3:A><!-- c --><?pi x?>\n<N>\n 7 \n</N></s3:Root>\n<!-- tail -->\n";
        let (a, n) = read_root(input).unwrap();
        assert_eq!(a, vec!["k"]);
        assert_eq!(n, Some(7));
    }

    #[test]
    fn unknown_elements_are_skipped_however_nested() {
        let (a, _) =
            read_root("<Root><X><A>no</A><X><X/><Y>t</Y></X></X><A>yes</A><Z/></Root>").unwrap();
        assert_eq!(a, vec!["yes"]);
    }

    #[test]
    fn deep_unknown_nesting_does_not_recurse() {
        let depth = 100_000;
        let input = format!(
            "<Root>{}{}<A>ok</A></Root>",
            "<X>".repeat(depth),
            "</X>".repeat(depth)
        );
        assert_eq!(read_root(&input).unwrap().0, vec!["ok"]);
    }

    #[test]
    fn duplicates_and_bad_numbers_are_errors() {
        assert_eq!(
            read_root("<Root><N>1</N><N>2</N></Root>").unwrap_err(),
            XmlError::DuplicateField {
                parent: "Root",
                field: "N"
            }
        );
        assert!(matches!(
            read_root("<Root><N>-1</N></Root>").unwrap_err(),
            XmlError::InvalidValue { field: "N", .. }
        ));
        assert!(matches!(
            read_root("<Root><N>99999999999999999999999</N></Root>").unwrap_err(),
            XmlError::InvalidValue { field: "N", .. }
        ));
    }

    #[test]
    fn malformed_documents_are_errors() {
        let cases = [
            ("", XmlError::NoRootElement),
            ("   <?xml version=\"1.0\"?>  ", XmlError::NoRootElement),
            (
                "<Other/>",
                XmlError::WrongRoot {
                    expected: "Root",
                    found: "Other".into(),
                },
            ),
            (
                "<Root><A>x</A>",
                XmlError::UnexpectedEof {
                    element: "Root".into(),
                },
            ),
            (
                "<Root><A>x",
                XmlError::UnexpectedEof {
                    element: "A".into(),
                },
            ),
            (
                "<Root><X><Y>",
                XmlError::UnexpectedEof {
                    element: "X".into(),
                },
            ),
            ("<Root/><Root/>", XmlError::TrailingContent),
            ("<Root/>junk", XmlError::TrailingContent),
        ];
        for (input, want) in cases {
            assert_eq!(read_root(input).unwrap_err(), want, "{input:?}");
        }
        for input in [
            "<Root><A>x</B></Root>",
            "<Root><A>&bogus;</A></Root>",
            "<Root><A>\u{0}</A></Root>\u{0}<",
            "<Root><A",
        ] {
            assert!(read_root(input).is_err(), "{input:?}");
        }
        assert!(matches!(
            read_root("<!DOCTYPE x [<!ENTITY a \"b\">]><Root/>").unwrap_err(),
            XmlError::UnexpectedContent { .. }
        ));
        assert!(matches!(
            read_root("<Root>text<A/></Root>").unwrap_err(),
            XmlError::UnexpectedContent { .. }
        ));
        assert!(matches!(
            read_root("<Root><A>t<B/></A></Root>").unwrap_err(),
            XmlError::UnexpectedContent { .. }
        ));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut de = Deserializer::new(b"<Root><A>\xff\xfe</A></Root>");
        let empty = de.expect_root("Root").unwrap();
        let result = de.children("Root", empty, |de, name, empty| {
            de.text(name, empty)?;
            Ok(true)
        });
        assert!(matches!(result, Err(XmlError::Syntax { .. })), "{result:?}");
    }

    #[test]
    fn booleans() {
        for (text, want) in [
            ("true", true),
            ("false", false),
            (" TRUE\n", true),
            ("1", true),
            ("0", false),
        ] {
            assert_eq!(parse_bool("B", text).unwrap(), want);
        }
        for text in ["", "yes", "tru", "2"] {
            assert!(parse_bool("B", text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("N", "0").unwrap(), 0);
        assert_eq!(parse_u64("N", "18446744073709551615").unwrap(), u64::MAX);
        for text in ["", "+1", "1.5", "0x10", "1e3", "18446744073709551616", " "] {
            assert!(parse_u64("N", text).is_err(), "{text:?}");
        }
    }
}
