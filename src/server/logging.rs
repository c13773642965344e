use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::time::{format_clf, format_rfc3339_nanos};
use crate::config::duration::format_go_duration;

/// Logs as `registry:2` writes them, so that log pipelines keep working:
///
/// * [`RegistryJson`]: `log.formatter: json` writes one JSON object per line with logrus's
///   keys — `time` (RFC 3339 with nanoseconds), `level` (`debug`, `info`, `warning`,
///   `error`), `msg` — plus `log.fields` and the event's fields, keys sorted as logrus sorts
///   them. Fields with an empty value are left out.
/// * one `response completed` line per request (level `error` with
///   `response completed with error` and `err.code`, `err.message`, `err.detail` when the
///   answer is an API error), with registry:2's field names: `http.request.host`,
///   `http.request.id`, `http.request.method`, `http.request.remoteaddr`,
///   `http.request.uri`, `http.request.useragent`, `http.response.contenttype`,
///   `http.response.duration` (Go duration syntax), `http.response.status`,
///   `http.response.written`, `vars.name`, `vars.reference`, `vars.digest`, `vars.uuid`.
/// * the Apache combined-format access log line registry:2 writes to
///   standard output for every request, unless `log.accesslog.disabled`.
#[derive(Debug, Clone)]
pub struct RegistryJson {
    fields: Vec<(String, String)>,
}

impl RegistryJson {
    /// A format adding `fields` (`log.fields`) to every line.
    pub fn new(fields: Vec<(String, String)>) -> Self {
        Self { fields }
    }
}

/// logrus's level names.
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warning",
        Level::ERROR => "error",
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if value.as_str().is_some_and(str::is_empty) {
            return;
        }
        let name = match field.name() {
            "message" => "msg",
            n => n,
        };
        self.0.insert(name.to_owned(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

impl<S, N> FormatEvent<S, N> for RegistryJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", json_line(&self.fields, event))
    }
}

/// One event as a JSON object (keys sorted: serde_json's map is ordered by key).
fn json_line(fields: &[(String, String)], event: &Event<'_>) -> String {
    let mut map = Map::new();
    for (k, v) in fields {
        map.insert(k.clone(), Value::from(v.as_str()));
    }
    event.record(&mut JsonVisitor(&mut map));
    map.insert(
        "level".to_owned(),
        Value::from(level_name(event.metadata().level())),
    );
    map.insert(
        "time".to_owned(),
        Value::from(format_rfc3339_nanos(SystemTime::now())),
    );
    map.entry("msg").or_insert_with(|| Value::from(""));
    Value::Object(map).to_string()
}

/// What a finished request did, for [`request_completed`] and [`access_line`].
#[derive(Debug, Default)]
pub(super) struct RequestLog<'a> {
    pub id: &'a str,
    pub host: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub version: &'a str,
    pub remote: String,
    pub user_agent: &'a str,
    pub referer: &'a str,
    pub status: u16,
    pub content_type: &'a str,
    pub written: u64,
    pub duration: Duration,
    pub name: &'a str,
    pub reference: &'a str,
    pub digest: &'a str,
    pub uuid: &'a str,
    /// The first API error of the answer: code, message, detail.
    pub error: Option<(&'a str, &'a str, String)>,
}

/// Logs registry:2's `response completed` line for `r`.
pub(super) fn request_completed(r: &RequestLog<'_>) {
    let duration = format_go_duration(r.duration);
    // registry:2's fields, at `error` with the error's or `info` without.
    macro_rules! completed {
        ($level:ident, $($more:tt)*) => {
            tracing::$level!(
                http.request.host = r.host,
                http.request.id = r.id,
                http.request.method = r.method,
                http.request.remoteaddr = r.remote.as_str(),
                http.request.uri = r.uri,
                http.request.useragent = r.user_agent,
                http.response.contenttype = r.content_type,
                http.response.duration = duration.as_str(),
                http.response.status = r.status,
                http.response.written = r.written,
                vars.name = r.name,
                vars.reference = r.reference,
                vars.digest = r.digest,
                vars.uuid = r.uuid,
                $($more)*
            )
        };
    }
    match &r.error {
        Some((code, message, detail)) => completed!(
            error,
            err.code = *code,
            err.message = *message,
            err.detail = detail.as_str(),
            "response completed with error"
        ),
        None => completed!(info, "response completed"),
    }
}

/// The Apache combined-format line registry:2's access log writes for `r`.
pub(super) fn access_line(r: &RequestLog<'_>) -> String {
    let ip = r
        .remote
        .rsplit_once(':')
        .map_or(r.remote.as_str(), |(ip, _)| ip)
        .trim_start_matches('[')
        .trim_end_matches(']');
    format!(
        "{ip} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
        format_clf(SystemTime::now()),
        r.method,
        r.uri,
        r.version,
        r.status,
        r.written,
        r.referer.replace('"', "\\\""),
        r.user_agent.replace('"', "\\\"")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let buf = Buf::default();
        let sub = tracing_subscriber::fmt()
            .with_writer(buf.clone())
            .event_format(RegistryJson::new(vec![(
                "service".into(),
                "registry".into(),
            )]))
            .finish();
        tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn json_lines_have_logrus_keys_and_registry2_request_fields() {
        let lines = capture(|| {
            tracing::warn!(count = 3, "something odd");
            request_completed(&RequestLog {
                id: "rid",
                host: "localhost:5000",
                method: "GET",
                uri: "/v2/foo/manifests/latest",
                remote: "127.0.0.1:42480".into(),
                status: 404,
                written: 96,
                duration: Duration::from_nanos(1_041_722),
                name: "foo",
                reference: "latest",
                error: Some(("MANIFEST_UNKNOWN", "manifest unknown", "unknown tag".into())),
                ..RequestLog::default()
            });
        });
        assert_eq!(lines[0]["level"], "warning");
        assert_eq!(lines[0]["msg"], "something odd");
        assert_eq!(lines[0]["count"], 3);
        assert_eq!(lines[0]["service"], "registry");
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
        let r = &lines[1];
        assert_eq!(r["level"], "error");
        assert_eq!(r["msg"], "response completed with error");
        assert_eq!(r["http.request.method"], "GET");
        assert_eq!(r["http.request.uri"], "/v2/foo/manifests/latest");
        assert_eq!(r["http.request.remoteaddr"], "127.0.0.1:42480");
        assert_eq!(r["http.response.status"], 404);
        assert_eq!(r["http.response.written"], 96);
        assert_eq!(r["http.response.duration"], "1.041722ms");
        assert_eq!(r["vars.name"], "foo");
        assert_eq!(r["vars.reference"], "latest");
        assert_eq!(r["err.code"], "MANIFEST_UNKNOWN");
        assert!(r.get("vars.digest").is_none(), "empty fields are left out");
        // Keys in logrus's (sorted) order.
        let text = r.to_string();
        assert!(text.find("\"err.code\"") < text.find("\"http.request.host\""));
    }

    #[test]
    fn combined_access_line() {
        let line = access_line(&RequestLog {
            method: "GET",
            uri: "/v2/",
            version: "HTTP/1.1",
            remote: "[::1]:5555".into(),
            status: 200,
            written: 2,
            user_agent: "curl/7.88.1",
            ..RequestLog::default()
        });
        assert!(line.starts_with("::1 - - ["), "{line}");
        assert!(
            line.ends_with("] \"GET /v2/ HTTP/1.1\" 200 2 \"\" \"curl/7.88.1\""),
            "{line}"
        );
    }
}
