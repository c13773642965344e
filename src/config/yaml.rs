//! A YAML document as a plain tree, with scalars resolved the way Go's
//! `gopkg.in/yaml.v2` (which `registry:2` uses) resolves them into
//! `interface{}`: YAML 1.1 booleans (`yes`, `off`, ...), integers with
//! `0x`/`0o`/`0b`/leading-zero octal and `_` separators, floats, null. Quoted
//! scalars are always strings. Anchors, aliases and `<<` merge keys work.
//!
//! [`go_sprint`] renders a value as Go's `fmt.Sprint` would, which is how
//! Distribution's drivers read their parameters.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::driver::parameters::parse_uint_base0;

/// A resolved scalar value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string (quoted, or plain text that is nothing else).
    Str,
    /// `true`/`false` and the YAML 1.1 forms.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An integer above `i64::MAX`.
    Uint(u64),
    /// A floating-point number.
    Float(f64),
    /// `null`, `~` or nothing.
    Null,
}

/// A node of the configuration tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A scalar: its source text and its resolved value.
    Scalar {
        /// The text as written (without quotes).
        raw: String,
        /// What Go resolves it to.
        value: Value,
    },
    /// A sequence.
    List(Vec<Node>),
    /// A mapping, keys in document order (a later duplicate replaces an earlier one).
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The null scalar.
    pub(crate) fn null() -> Self {
        Self::Scalar {
            raw: String::new(),
            value: Value::Null,
        }
    }

    /// True for a null scalar.
    pub(crate) fn is_null(&self) -> bool {
        matches!(
            self,
            Self::Scalar {
                value: Value::Null,
                ..
            }
        )
    }

    /// The value of `key` in a mapping (exact match).
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of node this is, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Scalar {
                value: Value::Null, ..
            } => "null",
            Self::Scalar { .. } => "a scalar",
            Self::List(_) => "a list",
            Self::Map(_) => "a mapping",
        }
    }
}

/// Inserts or replaces `key` in `entries`.
pub(crate) fn map_set(entries: &mut Vec<(String, Node)>, key: String, value: Node) {
    if let Some(slot) = entries.iter_mut().find(|(k, _)| *k == key) {
        slot.1 = value;
    } else {
        entries.push((key, value));
    }
}

/// A YAML syntax error, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError(pub(crate) String);

/// Parses the first document of `text`. An empty document is a null node.
pub(crate) fn parse(text: &str) -> Result<Node, YamlError> {
    let mut b = Builder {
        parser: Parser::new_from_str(text),
        anchors: Vec::new(),
    };
    loop {
        let (ev, mark) = b.next()?;
        match ev {
            Event::StreamStart | Event::DocumentStart | Event::Nothing => {}
            Event::StreamEnd | Event::DocumentEnd => return Ok(Node::null()),
            other => return b.node(other, mark),
        }
    }
}

struct Builder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    anchors: Vec<(usize, Node)>,
}

impl Builder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), YamlError> {
        self.parser
            .next_token()
            .map_err(|e| YamlError(e.to_string()))
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
    }

    fn node(&mut self, ev: Event, mark: Marker) -> Result<Node, YamlError> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let explicit_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == TScalarStyle::Plain && !explicit_str {
                    resolve_plain(&text)
                } else {
                    Value::Str
                };
                let n = Node::Scalar { raw: text, value };
                self.remember(anchor, &n);
                Ok(n)
            }
            Event::Alias(id) => self
                .anchors
                .iter()
                .rev()
                .find(|(a, _)| *a == id)
                .map(|(_, n)| n.clone())
                .ok_or_else(|| {
                    YamlError(format!(
                        "unknown anchor at line {} column {}",
                        mark.line(),
                        mark.col() + 1
                    ))
                }),
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, m) = self.next()?;
                    if ev == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(ev, m)?);
                }
                let n = Node::List(items);
                self.remember(anchor, &n);
                Ok(n)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(String, Node)> = Vec::new();
                let mut merged: Vec<(String, Node)> = Vec::new();
                loop {
                    let (ev, m) = self.next()?;
                    if ev == Event::MappingEnd {
                        break;
                    }
                    let key = self.node(ev, m)?;
                    let (kev, km) = self.next()?;
                    let value = self.node(kev, km)?;
                    let key_text = match key {
                        Node::Scalar { raw, value: v } => {
                            if raw == "<<" && v == Value::Str {
                                collect_merge(&value, &mut merged, m)?;
                                continue;
                            }
                            raw
                        }
                        other => {
                            return Err(YamlError(format!(
                                "mapping keys must be scalars, found {} at line {} column {}",
                                other.kind(),
                                m.line(),
                                m.col() + 1
                            )))
                        }
                    };
                    map_set(&mut entries, key_text, value);
                }
                for (k, v) in merged {
                    if !entries.iter().any(|(e, _)| *e == k) {
                        entries.push((k, v));
                    }
                }
                let n = Node::Map(entries);
                self.remember(anchor, &n);
                Ok(n)
            }
            other => Err(YamlError(format!(
                "unexpected YAML event {other:?} at line {} column {}",
                mark.line(),
                mark.col() + 1
            ))),
        }
    }
}

fn collect_merge(
    value: &Node,
    merged: &mut Vec<(String, Node)>,
    m: Marker,
) -> Result<(), YamlError> {
    match value {
        Node::Map(e) => {
            for (k, v) in e {
                if !merged.iter().any(|(x, _)| x == k) {
                    merged.push((k.clone(), v.clone()));
                }
            }
            Ok(())
        }
        Node::List(items) => items.iter().try_for_each(|i| collect_merge(i, merged, m)),
        _ => Err(YamlError(format!(
            "map merge requires a mapping or a list of mappings at line {}",
            m.line()
        ))),
    }
}

/// yaml.v2's `resolve` for an untagged plain scalar.
fn resolve_plain(s: &str) -> Value {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Value::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Value::Str;
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(v) = parse_go_int(&plain) {
        return v;
    }
    if is_yaml_float(s) {
        if let Ok(f) = plain.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint` for values
/// above `i64::MAX`.
fn parse_go_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = parse_uint_base0(body)?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some(Value::Int((mag as i64).wrapping_neg()))
        } else {
            None
        }
    } else if let Ok(v) = i64::try_from(mag) {
        Some(Value::Int(v))
    } else {
        Some(Value::Uint(mag))
    }
}

/// yaml.v2's float syntax: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `fmt.Sprint` of the value yaml.v2 decodes `node` into
/// (`map[k:v]` with sorted keys, `[a b]`, `<nil>`, `%v` floats).
pub(crate) fn go_sprint(node: &Node) -> String {
    match node {
        Node::Scalar { raw, value } => match value {
            Value::Str => raw.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Uint(u) => u.to_string(),
            Value::Float(f) => go_float(*f),
            Value::Null => "<nil>".to_owned(),
        },
        Node::List(items) => {
            let parts: Vec<String> = items.iter().map(go_sprint).collect();
            format!("[{}]", parts.join(" "))
        }
        Node::Map(entries) => {
            let mut parts: Vec<(&String, String)> =
                entries.iter().map(|(k, v)| (k, go_sprint(v))).collect();
            crate::sort::sort(&mut parts);
            let parts: Vec<String> = parts.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest
/// digits, exponent form when the decimal exponent is below -4 or at least 6,
/// the exponent written with a sign and at least two digits.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip mantissa, e.g. "1.234567e6".
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> Node {
        parse(&format!("k: {text}\n"))
            .unwrap()
            .get("k")
            .unwrap()
            .clone()
    }

    #[test]
    fn resolves_scalars_like_yaml_v2() {
        assert_eq!(go_sprint(&scalar("yes")), "true");
        assert_eq!(go_sprint(&scalar("Off")), "false");
        assert_eq!(go_sprint(&scalar("'yes'")), "yes");
        assert_eq!(go_sprint(&scalar("0x1F")), "31");
        assert_eq!(go_sprint(&scalar("0755")), "493");
        assert_eq!(go_sprint(&scalar("1_000")), "1000");
        assert_eq!(go_sprint(&scalar("-12")), "-12");
        assert_eq!(
            go_sprint(&scalar("18446744073709551615")),
            "18446744073709551615"
        );
        assert_eq!(go_sprint(&scalar("1.5")), "1.5");
        assert_eq!(go_sprint(&scalar("1e6")), "1e+06");
        assert_eq!(go_sprint(&scalar("1234567.0")), "1.234567e+06");
        assert_eq!(go_sprint(&scalar("123456.0")), "123456");
        assert_eq!(go_sprint(&scalar("0.00001")), "1e-05");
        assert_eq!(go_sprint(&scalar("0.0001")), "0.0001");
        assert_eq!(go_sprint(&scalar("~")), "<nil>");
        assert!(scalar("").is_null());
        assert_eq!(go_sprint(&scalar("10MB")), "10MB");
        assert_eq!(go_sprint(&scalar("!!str 12")), "12");
        assert_eq!(go_sprint(&scalar("2001-12-14")), "2001-12-14");
        assert_eq!(go_sprint(&scalar("\"0x10\"")), "0x10");
        assert_eq!(go_sprint(&scalar(".inf")), "+Inf");
        assert_eq!(go_sprint(&scalar("1.")), "1");
    }

    #[test]
    fn renders_collections_like_fmt_sprint() {
        let n = parse("k: {b: 1, a: [x, 2, true]}\n").unwrap();
        assert_eq!(go_sprint(n.get("k").unwrap()), "map[a:[x 2 true] b:1]");
    }

    #[test]
    fn anchors_aliases_and_merges() {
        let text = "base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  y: 3\nlist: [*b]\n";
        let n = parse(text).unwrap();
        let other = n.get("other").unwrap();
        assert_eq!(go_sprint(other.get("x").unwrap()), "1");
        assert_eq!(go_sprint(other.get("y").unwrap()), "3");
        assert_eq!(go_sprint(n.get("list").unwrap()), "[map[x:1 y:2]]");
    }

    #[test]
    fn later_duplicates_win_and_errors_have_positions() {
        let n = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(go_sprint(n.get("a").unwrap()), "2");
        let e = parse("a: [1, 2\n").unwrap_err();
        assert!(e.0.contains("line"), "{}", e.0);
        assert!(parse("").unwrap().is_null());
        assert!(parse("? [a]\n: 1\n").is_err());
    }
}
