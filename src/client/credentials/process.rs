use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{json::parse_rfc3339, Credentials, ProvideCredentials, SecretString};
use crate::client::error::Error;
use crate::client::json::{self, Value};

const PROVIDER: &str = "process";

/// How long the program may run by default.
pub(crate) const DEFAULT_PROCESS_TIMEOUT: Duration = Duration::from_secs(30);

/// Most bytes of standard output read (a credentials document is well under 4 KiB).
const MAX_STDOUT: usize = 1024 * 1024;
/// Bytes of standard error kept (the end).
const STDERR_TAIL: usize = 4096;
/// Characters of standard error quoted in an error.
const STDERR_QUOTED: usize = 300;

/// Credentials from an external program (`credential_process` in a profile).
///
/// The command line is split into words the way a POSIX shell would split it (whitespace,
/// `'single'` and `"double"` quotes, backslash escapes) and run **without a shell**: no
/// variables, globbing, pipes or redirections. The program inherits the environment, gets no
/// standard input, and must print within the timeout (30 s by default) the JSON document the
/// AWS CLI specifies:
///
/// ```json
/// {"Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
///  "SessionToken": "...", "Expiration": "2024-05-01T16:00:00Z"}
/// ```
///
/// `SessionToken` and `Expiration` are optional; without `Expiration` the credentials are
/// cached until the process ends (they are taken to be long-term keys). The program's standard
/// output holds secrets and never appears in a message or a log; when the program fails (exit
/// status, timeout), the end of its standard error (at most 300 characters) is quoted, since
/// that is where such programs explain themselves.
#[derive(Clone)]
pub struct ProcessProvider {
    command: String,
    timeout: Duration,
    origin: String,
}

impl std::fmt::Debug for ProcessProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The command line may carry secrets in its arguments: show the program only.
        let program = split_command(&self.command)
            .ok()
            .and_then(|w| w.into_iter().next())
            .unwrap_or_default();
        f.debug_struct("ProcessProvider")
            .field("program", &program)
            .field("timeout", &self.timeout)
            .field("origin", &self.origin)
            .finish()
    }
}

impl ProcessProvider {
    /// Runs `command` (a `credential_process` value) with the default 30 s timeout.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            timeout: DEFAULT_PROCESS_TIMEOUT,
            origin: "configuration".to_owned(),
        }
    }

    /// Kills the program when it has not finished after `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where the command came from, for messages (`profile "dev"`).
    #[must_use]
    pub(crate) fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }
}

/// Splits a command line into words like a POSIX shell, without any expansion.
///
/// Outside quotes, whitespace separates words and `\` makes the next character literal (a
/// `\` before a newline joins lines). Inside `'...'` everything is literal. Inside `"..."`,
/// `\` escapes only `"`, `\`, `$`, `` ` `` and newline. `""` and `''` make empty words.
///
/// # Errors
///
/// An unterminated quote or a trailing `\`, as a short description.
pub(crate) fn split_command(line: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
                None => return Err("the command line ends with a backslash"),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                        None => return Err("a single quote (') is not closed"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some('\n') => {}
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err("a double quote (\") is not closed"),
                        },
                        Some(n) => cur.push(n),
                        None => return Err("a double quote (\") is not closed"),
                    }
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// What the program did.
struct Outcome {
    status: Option<std::process::ExitStatus>,
    stdout: Result<Vec<u8>, &'static str>,
    stderr: Vec<u8>,
    timed_out: bool,
}

/// Reads all of `r` up to `max` bytes; `Err` when there is more.
fn read_capped(mut r: impl Read, max: usize) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                if out.len() + n > max {
                    // Drain the rest so the program is not blocked on a full pipe.
                    while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
                    return Err("the program printed more than 1 MiB");
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err("reading the program's output failed"),
        }
    }
}

/// Reads all of `r`, keeping the last `keep` bytes.
fn read_tail(mut r: impl Read, keep: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > keep {
                    out.drain(..out.len() - keep);
                }
            }
        }
    }
}

/// Runs `argv` to completion or until `timeout` (then kills it). Blocking: call it from
/// `spawn_blocking`.
fn run_blocking(argv: &[String], timeout: Duration) -> std::io::Result<Outcome> {
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + timeout;
    let (out_tx, out_rx) = mpsc::channel();
    let (err_tx, err_rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let _ = out_tx.send(read_capped(stdout, MAX_STDOUT));
        });
    }
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let _ = err_tx.send(read_tail(stderr, STDERR_TAIL));
        });
    }
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // A grandchild may hold the pipes open after the program exits: wait a little, no more.
    let grace = Duration::from_millis(500);
    let wait_until = deadline.max(Instant::now()) + grace;
    let left = || wait_until.saturating_duration_since(Instant::now());
    let stdout = out_rx
        .recv_timeout(left())
        .unwrap_or(Err("the program's output did not end"));
    let stderr = err_rx.recv_timeout(left()).unwrap_or_default();
    Ok(Outcome {
        status,
        stdout,
        stderr,
        timed_out,
    })
}

/// The end of the program's standard error, one line, at most [`STDERR_QUOTED`] characters.
fn stderr_quote(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let n = flat.chars().count();
    if n == 0 {
        return "nothing on stderr".to_owned();
    }
    if n > STDERR_QUOTED {
        let tail: String = flat.chars().skip(n - STDERR_QUOTED).collect();
        format!("stderr: ...{tail}")
    } else {
        format!("stderr: {flat}")
    }
}

/// Reads the credential document printed by the program. Errors never quote it.
pub(crate) fn parse_process_output(out: &[u8], what: &str) -> Result<Credentials, Error> {
    let bad = |why: String| {
        Error::credentials(
            PROVIDER,
            format!(
                "{what} printed {why}; it must print {{\"Version\": 1, \"AccessKeyId\": ..., \
                 \"SecretAccessKey\": ..., \"SessionToken\": ..., \"Expiration\": ...}}"
            ),
        )
    };
    let text = out.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(out);
    let doc = json::parse(text).map_err(|e| bad(format!("no valid JSON ({e})")))?;
    if !matches!(doc, Value::Object(_)) {
        return Err(bad(format!("{} instead of a JSON object", doc.type_name())));
    }
    match doc.get("Version") {
        Some(Value::Number(n)) if n == "1" => {}
        Some(Value::Number(n)) => return Err(bad(format!("Version {n}, which is not supported"))),
        Some(v) => return Err(bad(format!("a Version that is {}", v.type_name()))),
        None => return Err(bad("no Version".to_owned())),
    }
    let string = |key: &str| -> Result<Option<&str>, Error> {
        match doc.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim())),
            Some(v) => Err(bad(format!("a {key} that is {}", v.type_name()))),
        }
    };
    let id = string("AccessKeyId")?.ok_or_else(|| bad("no AccessKeyId".to_owned()))?;
    let secret = string("SecretAccessKey")?.ok_or_else(|| bad("no SecretAccessKey".to_owned()))?;
    let token = string("SessionToken")?.map(SecretString::from);
    let expires_at = match string("Expiration")? {
        Some(e) => Some(parse_rfc3339(e).ok_or_else(|| {
            bad(format!(
                "an Expiration that is not an RFC 3339 time like 2024-05-01T16:00:00Z ({e:?})"
            ))
        })?),
        None => None,
    };
    Ok(Credentials::new(id, secret, token, expires_at).with_provider(PROVIDER))
}

#[async_trait]
impl ProvideCredentials for ProcessProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        let argv = split_command(&self.command).map_err(|why| {
            Error::credentials(
                PROVIDER,
                format!(
                    "credential_process of {} cannot be split into words: {why}",
                    self.origin
                ),
            )
        })?;
        let Some(program) = argv.first().cloned() else {
            return Err(Error::credentials(
                PROVIDER,
                format!("credential_process of {} is empty", self.origin),
            ));
        };
        let what = format!("credential_process {program:?} of {}", self.origin);
        let timeout = self.timeout;
        let outcome = tokio::task::spawn_blocking(move || run_blocking(&argv, timeout))
            .await
            .map_err(|e| Error::credentials_with_source(PROVIDER, format!("{what} panicked"), e))?
            .map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::NotFound {
                    " (not found: give the full path, or put it on PATH)"
                } else if e.kind() == std::io::ErrorKind::PermissionDenied {
                    " (not executable)"
                } else {
                    ""
                };
                Error::credentials_with_source(PROVIDER, format!("cannot start {what}{hint}"), e)
            })?;
        if outcome.timed_out {
            return Err(Error::credentials(
                PROVIDER,
                format!(
                    "{what} did not finish within {timeout:?} and was killed ({})",
                    stderr_quote(&outcome.stderr)
                ),
            ));
        }
        match outcome.status {
            Some(s) if s.success() => {}
            Some(s) => {
                return Err(Error::credentials(
                    PROVIDER,
                    format!("{what} failed with {s} ({})", stderr_quote(&outcome.stderr)),
                ))
            }
            None => unreachable!("no status only after a timeout"),
        }
        let stdout = outcome
            .stdout
            .map_err(|why| Error::credentials(PROVIDER, format!("{what}: {why}")))?;
        let creds = parse_process_output(&stdout, &what)?;
        Ok(creds.with_description(format!("program {program:?} ({})", self.origin)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_like_a_shell() {
        let ok = |line: &str, want: &[&str]| {
            assert_eq!(split_command(line).unwrap(), want, "{line:?}");
        };
        ok("", &[]);
        ok("   ", &[]);
        ok(
            "/usr/bin/helper --profile x",
            &["/usr/bin/helper", "--profile", "x"],
        );
        ok("  a\t b\n c ", &["a", "b", "c"]);
        ok(
            "'/opt/my tools/helper' arg",
            &["/opt/my tools/helper", "arg"],
        );
        ok("\"a b\" 'c\"d' \"e'f\"", &["a b", "c\"d", "e'f"]);
        ok("a\\ b c\\\\d", &["a b", "c\\d"]);
        ok("\"x\\\"y\\$z\\n\"", &["x\"y$z\\n"]);
        ok("'' \"\" x", &["", "", "x"]);
        ok("pre'fix'\"ed\"", &["prefixed"]);
        ok(
            "$HOME `id` *.json | cat > f",
            &["$HOME", "`id`", "*.json", "|", "cat", ">", "f"],
        );
        ok("a \\\n b", &["a", "b"]);
        for bad in ["'open", "\"open", "trailing\\", "\"esc\\"] {
            assert!(split_command(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn output_document() {
        let c = parse_process_output(
            br#"{"Version": 1, "AccessKeyId": "ASIA1", "SecretAccessKey": "s3cr3t",
                "SessionToken": "tok", "Expiration": "2024-05-01T16:00:00Z", "Extra": [1, {}]}"#,
            "p",
        )
        .unwrap();
        assert_eq!(
            (c.access_key_id(), c.secret(), c.session_token()),
            ("ASIA1", "s3cr3t", Some("tok"))
        );
        assert_eq!(
            c.expires_at(),
            Some(std::time::UNIX_EPOCH + Duration::from_secs(1_714_579_200))
        );
        assert_eq!(c.provider(), "process");
        let c = parse_process_output(
            br#"{"Version":1,"AccessKeyId":"AKIA2","SecretAccessKey":"s","SessionToken":null}"#,
            "p",
        )
        .unwrap();
        assert_eq!((c.session_token(), c.expires_at()), (None, None));
        for (doc, want) in [
            (&br#"{"AccessKeyId":"A","SecretAccessKey":"topsecret"}"#[..], "no Version"),
            (br#"{"Version":2,"AccessKeyId":"A","SecretAccessKey":"topsecret"}"#, "Version 2"),
            (br#"{"Version":"1","AccessKeyId":"A","SecretAccessKey":"topsecret"}"#, "a string"),
            (br#"{"Version":1,"SecretAccessKey":"topsecret"}"#, "no AccessKeyId"),
            (br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":" "}"#, "no SecretAccessKey"),
            (br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":7}"#, "a number"),
            (
                br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"topsecret","Expiration":"soon"}"#,
                "RFC 3339",
            ),
            (br#"["topsecret"]"#, "an array instead"),
            (b"AccessKeyId=A topsecret", "no valid JSON"),
            (b"", "no valid JSON"),
        ] {
            let e = parse_process_output(doc, "credential_process \"h\"").unwrap_err();
            let text = e.to_string();
            assert!(text.contains(want), "{want}: {text}");
            assert!(!text.contains("topsecret"), "{text}");
            assert!(text.contains("\"Version\": 1"), "{text}");
        }
    }

    #[test]
    fn stderr_is_quoted_short_and_flat() {
        assert_eq!(stderr_quote(b""), "nothing on stderr");
        assert_eq!(
            stderr_quote(b"line one\n\tline two\n"),
            "stderr: line one line two"
        );
        let long = "x".repeat(1000) + "END";
        let q = stderr_quote(long.as_bytes());
        assert!(q.ends_with("END") && q.chars().count() < 320, "{q}");
    }

    #[test]
    fn debug_hides_arguments() {
        let p = ProcessProvider::new("/bin/helper --password hunter2");
        let d = format!("{p:?}");
        assert!(d.contains("/bin/helper") && !d.contains("hunter2"), "{d}");
    }
}
