//! A socket-level HTTP/1.1 client for the tests that need control reqwest does
//! not give: sending a request head and its body separately (interleaving
//! requests on several connections), `Expect: 100-continue`, stalling or
//! truncating a body, and seeing exactly when the server closes a connection.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any single read may wait before the test fails (a guard against a
/// hung server, not a timing assertion).
pub const READ_GUARD: Duration = Duration::from_secs(120);

/// One response: status, headers (names lower case) and body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `errors[].code` values of a JSON error body.
    pub fn error_codes(&self) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        v["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["code"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One client connection.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    /// Connects to `base` (`http://127.0.0.1:PORT`).
    pub async fn connect(base: &str) -> RawConn {
        let addr = base.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).await.expect("connect to registry");
        stream.set_nodelay(true).ok();
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends a request head: `method path`, `Host`, the given headers, and
    /// `Content-Length: len` when `len` is given.
    pub async fn send_head(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        len: Option<usize>,
    ) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: registry.test\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if let Some(len) = len {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        head.push_str("\r\n");
        self.send(head.as_bytes()).await;
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .expect("send to registry");
    }

    /// Sends `bytes`, tolerating a server that already closed the connection.
    pub async fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    /// Closes the sending side (the server sees the end of the stream).
    pub async fn shutdown_write(&mut self) {
        self.stream.shutdown().await.ok();
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(READ_GUARD, self.stream.read(&mut chunk))
            .await
            .expect("the registry answered nothing within the guard time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads the next response (an interim `100 Continue` counts as one).
    /// Panics when the connection closes first.
    pub async fn read_response(&mut self) -> RawResponse {
        self.try_read_response()
            .await
            .expect("the connection closed before a response")
    }

    /// The next response, or `None` when the server closed the connection
    /// without one.
    pub async fn try_read_response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.fill().await == 0 {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if status == 100 {
            return Some(RawResponse {
                status,
                headers,
                body: Vec::new(),
            });
        }
        while self.buf.len() < len {
            if self.fill().await == 0 {
                panic!("the connection closed inside a response body");
            }
        }
        let body = self.buf.drain(..len).collect();
        Some(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// Waits until the server closes the connection (reading and discarding
    /// anything it still sends); true when it did so within the guard time.
    pub async fn closed_by_server(&mut self) -> bool {
        loop {
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout(READ_GUARD, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
