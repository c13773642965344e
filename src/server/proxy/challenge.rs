//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1), as the upstream registry sends them:
//! `Basic realm="registry"` or
//! `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="..."`.

use std::collections::HashMap;

/// One challenge: its scheme (lower-cased) and parameters (names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Challenge {
    pub scheme: String,
    pub params: HashMap<String, String>,
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~/".contains(c)
}

/// Every challenge of one header value (a value may hold several, comma-separated).
pub(super) fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header;
    let token = |s: &str| -> usize { s.find(|c: char| !is_tchar(c)).unwrap_or(s.len()) };
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let n = token(rest);
        if n == 0 {
            // Not a token: skip one character and carry on (be liberal).
            rest = &rest[rest.chars().next().map_or(1, char::len_utf8)..];
            continue;
        }
        let word = &rest[..n];
        let after = rest[n..].trim_start_matches([' ', '\t']);
        if let (Some(ch), Some(last)) = (after.strip_prefix('='), out.last_mut()) {
            // A parameter of the current challenge.
            let ch = ch.trim_start_matches([' ', '\t']);
            let (value, remaining) = if let Some(q) = ch.strip_prefix('"') {
                let mut v = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                v.push(e);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => v.push(c),
                    }
                }
                (v, &q[end.min(q.len())..])
            } else {
                let m = token(ch);
                (ch[..m].to_owned(), &ch[m..])
            };
            last.params.insert(word.to_ascii_lowercase(), value);
            rest = remaining;
        } else {
            // A new challenge (its token68 form, `Scheme abc==`, keeps no parameters).
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: HashMap::new(),
            });
            rest = after;
            if after.starts_with(|c: char| is_tchar(c)) {
                let m = token(after);
                let next = after[m..].trim_start_matches([' ', '\t']);
                if !next.starts_with('=') || next.starts_with("==") {
                    // token68
                    rest = next.trim_start_matches('=');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_bearer() {
        let c = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.docker.io/token");
        assert_eq!(c[0].params["service"], "registry.docker.io");
        assert_eq!(c[0].params["scope"], "repository:library/ubuntu:pull");
    }

    #[test]
    fn basic_several_and_odd_spacing() {
        let c = parse(r#"Basic realm="my \"realm\"", charset="UTF-8""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].params["realm"], r#"my "realm""#);
        assert_eq!(c[0].params["charset"], "UTF-8");
        let c = parse(r#"Newauth realm="apps", type=1, title="Login", Basic realm="simple""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "newauth");
        assert_eq!(c[0].params["type"], "1");
        assert_eq!(c[1].scheme, "basic");
        assert_eq!(c[1].params["realm"], "simple");
        let c = parse("bearer realm = x , service=y");
        assert_eq!(c[0].params["realm"], "x");
        assert_eq!(c[0].params["service"], "y");
        let c = parse("Negotiate abc123==, Basic realm=r");
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].scheme, "basic");
        assert!(parse("").is_empty());
        assert_eq!(parse("Basic")[0].scheme, "basic");
        // Never panics on junk.
        for junk in [
            "=",
            "\"",
            "Basic realm=\"unterminated",
            "é=ü, \u{0}",
            ",,,",
            "a=b",
        ] {
            let _ = parse(junk);
        }
    }
}
