//! The `s3driver` binary with its output going to a reader that went away
//! (`s3driver check | head -1`): no command panics. A closed standard output ends the command
//! with status 141, silently; a closed standard error loses the messages and changes nothing
//! else (`serve` keeps serving).
#![cfg(all(unix, feature = "server"))]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_s3driver");

/// The write end of a pipe whose read end is already closed: the stdin of a child that has
/// exited. The first write to it fails with EPIPE, whenever it happens.
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn true");
    let writer = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Stdio::from(writer)
}

fn s3driver(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("REGISTRY_CONFIGURATION_PATH")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    cmd
}

/// Runs with stdout connected to a closed pipe; returns (exit code, stderr).
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let out = s3driver(args)
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs with stderr connected to a closed pipe.
fn with_closed_stderr(args: &[&str]) -> Output {
    s3driver(args)
        .stdout(Stdio::piped())
        .stderr(closed_pipe())
        .output()
        .unwrap()
}

/// A filesystem configuration listening on 127.0.0.1:0; `http_extra` lines go under `http:`.
fn write_config(dir: &Path, http_extra: &str) -> String {
    let path = dir.join("config.yml");
    std::fs::write(
        &path,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:0\n{http_extra}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn version_and_help_stop_quietly_on_a_closed_stdout() {
    for args in [
        &["--version"][..],
        &["version"],
        &["-v"],
        &["help"],
        &["--help"],
        &[],
    ] {
        let (code, stderr) = with_closed_stdout(args);
        assert_eq!(code, Some(141), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}: nothing on stderr, no panic message");
    }
}

#[test]
fn check_stops_quietly_on_a_closed_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let (code, stderr) = with_closed_stdout(&["check", "--config", &config]);
    assert_eq!(code, Some(141), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn messages_to_a_closed_stderr_keep_the_exit_status() {
    // A usage error: the message is lost, the status is still 2.
    let out = with_closed_stderr(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // A configuration error: status 1.
    let out = with_closed_stderr(&["check", "--config", "/nonexistent/s3driver.yml"]);
    assert_eq!(out.status.code(), Some(1));
    // Warnings go to stderr; check still succeeds and prints its result.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "  secret: x\n");
    let out = with_closed_stderr(&["check", "--config", &config]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("configuration OK"));
    // Both closed.
    let out = s3driver(&["frobnicate"])
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(2));
}

/// `s3driver check --config s3.yml | head -1` on a real (s3s-fs) bucket: the first line is
/// read, then the reader goes away while the permission probes run; the report then hits the
/// closed pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_on_s3_piped_into_head() {
    let server = common::S3sServer::start().await;
    server.create_bucket("pipecheck");
    let target = server.target();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yml");
    std::fs::write(
        &path,
        format!(
            "version: 0.1\nstorage:\n  s3:\n    accesskey: \"{}\"\n    secretkey: \"{}\"\n    region: us-east-1\n    regionendpoint: {}\n    forcepathstyle: true\n    bucket: pipecheck\n",
            target.access_key, target.secret_key, target.endpoint
        ),
    )
    .unwrap();
    let path = path.to_str().unwrap().to_owned();
    let status = tokio::task::spawn_blocking(move || {
        let mut child = s3driver(&["check", "--config", &path])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.starts_with("configuration OK"), "{first}");
        drop(stdout); // `head -1` exits
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (child.wait().unwrap().code(), stderr)
    })
    .await
    .unwrap();
    let (code, stderr) = status;
    assert!(!stderr.contains("panicked"), "{stderr}");
    // 141 when the report met the closed pipe; 0 only if the (fast) probes finished and the
    // report fitted into the pipe before the reader was dropped.
    assert!(matches!(code, Some(141) | Some(0)), "{code:?}: {stderr}");
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn get(addr: &str, path: &str) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = conn.read_to_string(&mut response);
    response
}

/// `s3driver serve 2>&1 | head -1`: the log reader goes away after the first lines; every
/// later log line (access log) meets a closed pipe. The registry keeps serving.
#[test]
fn serve_keeps_serving_when_its_log_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let mut child = s3driver(&["serve", "--config", &config])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let mut line = String::new();
        if log.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
            kill(child);
            panic!("serve exited or never said where it listens");
        }
        if let Some(rest) = line.split("addr=").nth(1) {
            if line.contains("listening") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        }
    };
    drop(log); // the reader goes away
    for _ in 0..5 {
        let response = get(&addr, "/v2/");
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "after the log pipe closed: {response:?}"
        );
    }
    let exited = child.try_wait().unwrap();
    kill(child);
    assert_eq!(exited, None, "serve must still be running");
}
