//! S3Client against the in-process s3s-fs 0.14.1 server, which verifies SigV4 (header, presigned,
//! aws-chunked chunk signatures, payload hashes) and SigV2 (header, presigned).
//!
//! The matrix: every shared scenario of `client_support` × {SigV4, SigV2} × {path-style,
//! virtual-hosted} (one module per combination), then s3s-only tests: aws-chunked uploads, a
//! tampered chunk, SigV2 with the chunked setting. ListMultipartUploads is not implemented by
//! s3s-fs (501) and is tested on Swift only.

mod client_support;
mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use client_support::*;
use common::S3sServer;
use s3driver::client::{ErrorKind, PayloadSigning, SignatureVersion, WriteOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A fresh server with one bucket, and the matrix cell for it.
async fn cell(sig: SignatureVersion, style: Style) -> (S3sServer, Cell) {
    let server = S3sServer::start().await;
    let bucket = common::unique_bucket_name("client");
    server.create_bucket(&bucket);
    let cell = Cell {
        target: server.target(),
        kind: ServerKind::S3s,
        bucket,
        sig,
        style,
    };
    (server, cell)
}

macro_rules! s3s_matrix {
    ($name:ident, $sig:expr, $style:expr) => {
        mod $name {
            use super::*;

            async fn cell() -> (S3sServer, Cell) {
                super::cell($sig, $style).await
            }

            #[tokio::test]
            async fn wrong_secret_is_refused() {
                let (_server, cell) = cell().await;
                scenario_wrong_secret(&cell).await;
            }

            #[tokio::test]
            async fn put_get_head() {
                let (_server, cell) = cell().await;
                scenario_put_get_head(&cell).await;
            }

            #[tokio::test]
            async fn put_options() {
                let (_server, cell) = cell().await;
                scenario_put_options(&cell).await;
            }

            #[tokio::test]
            async fn put_stream_unsigned() {
                let (_server, cell) = cell().await;
                scenario_put_stream_unsigned(&cell).await;
            }

            #[tokio::test]
            async fn delete() {
                let (_server, cell) = cell().await;
                scenario_delete(&cell).await;
            }

            #[tokio::test]
            async fn copy() {
                let (_server, cell) = cell().await;
                scenario_copy(&cell).await;
            }

            #[tokio::test]
            async fn multipart() {
                let (_server, cell) = cell().await;
                scenario_multipart(&cell).await;
            }

            #[tokio::test]
            async fn list() {
                let (_server, cell) = cell().await;
                scenario_list(&cell).await;
            }

            #[tokio::test]
            async fn location() {
                let (_server, cell) = cell().await;
                scenario_location(&cell).await;
            }

            #[tokio::test]
            async fn presign() {
                let (_server, cell) = cell().await;
                scenario_presign(&cell).await;
            }
        }
    };
}

s3s_matrix!(v4_path, SignatureVersion::V4, Style::Path);
s3s_matrix!(v4_virtual, SignatureVersion::V4, Style::Virtual);
s3s_matrix!(v2_path, SignatureVersion::V2, Style::Path);
s3s_matrix!(v2_virtual, SignatureVersion::V2, Style::Virtual);

#[tokio::test]
async fn aws_chunked_v4_path() {
    let (_server, cell) = cell(SignatureVersion::V4, Style::Path).await;
    scenario_put_stream_chunked(&cell).await;
}

#[tokio::test]
async fn aws_chunked_v4_virtual() {
    let (_server, cell) = cell(SignatureVersion::V4, Style::Virtual).await;
    scenario_put_stream_chunked(&cell).await;
}

/// With SigV2 there is no aws-chunked: the chunked setting falls back to a plain streamed body.
#[tokio::test]
async fn chunked_setting_with_v2_streams_plainly() {
    let (_server, cell) = cell(SignatureVersion::V2, Style::Path).await;
    let c = cell.client_with_payload(PayloadSigning::SignedChunked);
    let body = data(100_000, 42);
    c.put_object_stream(
        "v2/stream",
        pieces(&body, 30_000),
        body.len() as u64,
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(get_bytes(&c, "v2/stream").await.unwrap(), body);
}

/// A TCP proxy that flips one byte of the first request's body at `offset` bytes after the end
/// of its head (when armed), and forwards everything else unchanged.
struct TamperProxy {
    addr: SocketAddr,
    armed: Arc<AtomicBool>,
    tampered: Arc<AtomicUsize>,
    /// The head of the first request of every connection, as received.
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TamperProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TamperProxy {
    async fn start(upstream: SocketAddr, offset: usize) -> TamperProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(true));
        let tampered = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (a, t, h) = (
            Arc::clone(&armed),
            Arc::clone(&tampered),
            Arc::clone(&heads),
        );
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let (a, t, h) = (Arc::clone(&a), Arc::clone(&t), Arc::clone(&h));
                        conns.spawn(async move {
                            let _ = relay(client, upstream, offset, &a, &t, &h).await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        TamperProxy {
            addr,
            armed,
            tampered,
            heads,
            task,
        }
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    offset: usize,
    armed: &AtomicBool,
    tampered: &AtomicUsize,
    heads: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let up = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = up.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut ur, &mut cw).await;
        let _ = cw.shutdown().await;
    });
    // Tamper only with the first request seen on an armed proxy.
    let mut active = armed.swap(false, Ordering::SeqCst);
    let mut head = Vec::new();
    let mut target: Option<usize> = None;
    let mut pos = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = cr.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let chunk = &mut buf[..n];
        if target.is_none() {
            head.extend_from_slice(chunk);
            if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                target = Some(i + 4 + offset);
                let text = String::from_utf8_lossy(&head[..i]).into_owned();
                heads.lock().unwrap().push(text);
            }
        }
        if active {
            if let Some(t) = target {
                if (pos..pos + n).contains(&t) {
                    chunk[t - pos] ^= 0x01;
                    tampered.fetch_add(1, Ordering::SeqCst);
                    active = false;
                }
            }
        }
        pos += n;
        uw.write_all(chunk).await?;
    }
    let _ = uw.shutdown().await;
    let _ = back.await;
    Ok(())
}

/// s3s-fs verifies every aws-chunked chunk signature: a body byte changed in transit (after the
/// first chunk header, inside its data) makes the upload fail and nothing is stored. The same
/// upload through the disarmed proxy succeeds, so the proxy itself is transparent.
#[tokio::test]
async fn aws_chunked_tampered_chunk_is_refused() {
    let (server, cell) = cell(SignatureVersion::V4, Style::Path).await;
    // Chunk header "10000;chunk-signature=<64 hex>\r\n" is 88 bytes: offset 500 is chunk data.
    let proxy = TamperProxy::start(server.addr(), 500).await;
    let via = Cell {
        target: cell.target.via(&format!("http://{}", proxy.addr)),
        ..cell.clone()
    };
    let c = via.client_with_payload(PayloadSigning::SignedChunked);
    let body = data(150_000, 77);
    let res = c
        .put_object_stream(
            "tamper/obj",
            pieces(&body, 8192),
            body.len() as u64,
            &WriteOptions::default(),
        )
        .await;
    assert_eq!(
        proxy.tampered.load(Ordering::SeqCst),
        1,
        "the proxy did not tamper"
    );
    let err = res.expect_err("a tampered chunk was accepted");
    // s3s-fs reports a bad chunk signature as a 500 (documented quirk), which would be
    // retried; the stream was sent once, so the client reports NotReplayable.
    assert!(
        matches!(err.kind(), ErrorKind::NotReplayable { .. }),
        "{err:?}"
    );
    let inner = inner_service(&err).expect("a service error inside");
    assert_eq!(inner.status(), Some(500), "{err:?}");
    let direct = cell.client();
    assert!(
        direct
            .head_object("tamper/obj")
            .await
            .unwrap_err()
            .is_not_found(),
        "the tampered upload was stored"
    );
    assert!(!server.object_path(&cell.bucket, "tamper/obj").exists());

    // Control: the same upload through the now disarmed proxy works.
    assert!(!proxy.armed.load(Ordering::SeqCst));
    c.put_object_stream(
        "tamper/obj",
        pieces(&body, 8192),
        body.len() as u64,
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(get_bytes(&direct, "tamper/obj").await.unwrap(), body);
    assert_eq!(proxy.tampered.load(Ordering::SeqCst), 1);
}

/// A tampered in-memory PUT body (payload hash signed) is refused as well.
#[tokio::test]
async fn signed_payload_tampered_body_is_refused() {
    let (server, cell) = cell(SignatureVersion::V4, Style::Path).await;
    let proxy = TamperProxy::start(server.addr(), 10).await;
    let via = Cell {
        target: cell.target.via(&format!("http://{}", proxy.addr)),
        ..cell.clone()
    };
    let mut cfg = via.config();
    cfg.retry = fast_retry(1);
    let c = via.client_with(cfg, &cell.target.secret_key);
    let body = Bytes::from(data(1000, 5));
    let err = c
        .put_object("tamper/signed", body.clone(), &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(proxy.tampered.load(Ordering::SeqCst), 1);
    assert!(err.status().is_some_and(|s| s >= 400), "{err:?}");
    assert!(cell
        .client()
        .head_object("tamper/signed")
        .await
        .unwrap_err()
        .is_not_found());
}

/// The aws-chunked request signs every `x-amz-*` header it sends (S3 refuses unsigned ones
/// with HeadersNotSigned, which s3s-fs does not check), its lengths included.
#[tokio::test]
async fn aws_chunked_request_signs_its_length_headers() {
    let (server, cell) = cell(SignatureVersion::V4, Style::Path).await;
    let proxy = TamperProxy::start(server.addr(), 0).await;
    proxy.armed.store(false, Ordering::SeqCst);
    let via = Cell {
        target: cell.target.via(&format!("http://{}", proxy.addr)),
        ..cell.clone()
    };
    let c = via.client_with_payload(PayloadSigning::SignedChunked);
    let body = data(70_000, 8);
    let opts = WriteOptions::default().with_storage_class("STANDARD");
    c.put_object_stream("signed/hdrs", pieces(&body, 9000), 70_000, &opts)
        .await
        .unwrap();
    let heads = proxy.heads.lock().unwrap().clone();
    let head = heads
        .iter()
        .find(|h| h.starts_with("PUT "))
        .expect("the PUT was seen");
    let lower = head.to_ascii_lowercase();
    let header = |name: &str| {
        lower
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {head}"))
            .to_owned()
    };
    let signed = header("authorization");
    let signed = signed
        .split("signedheaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("SignedHeaders")
        .to_owned();
    let signed: Vec<&str> = signed.split(';').collect();
    for line in lower.lines().skip(1) {
        let name = line.split(':').next().unwrap();
        if name.starts_with("x-amz-") {
            assert!(signed.contains(&name), "{name} is not signed: {head}");
        }
    }
    assert!(signed.contains(&"x-amz-decoded-content-length"), "{head}");
    assert!(signed.contains(&"content-encoding"), "{head}");
    assert_eq!(header("x-amz-decoded-content-length"), "70000");
    assert_eq!(
        header("x-amz-content-sha256"),
        "streaming-aws4-hmac-sha256-payload"
    );
    // 64 KiB chunk + 4464-byte chunk + final chunk, each with an 83-byte signature extension.
    let framing = |n: usize| format!("{n:x}").len() + 17 + 64 + 4 + n;
    assert_eq!(
        header("content-length"),
        (framing(65_536) + framing(70_000 - 65_536) + framing(0)).to_string()
    );
    assert_eq!(
        get_bytes(&cell.client(), "signed/hdrs").await.unwrap(),
        body
    );
}

/// s3s-fs does not implement ListMultipartUploads: a clear 501 NotImplemented, not retried
/// (the operation is covered on Swift).
#[tokio::test]
async fn list_multipart_uploads_is_not_implemented() {
    let (_server, cell) = cell(SignatureVersion::V4, Style::Path).await;
    let err = cell
        .client()
        .list_multipart_uploads("", None, None)
        .await
        .unwrap_err();
    assert_service(&err, 501, "NotImplemented", "s3s-fs");
    assert!(!err.is_retryable());
    assert_eq!(err.operation(), Some("ListMultipartUploads"));
}

/// A body stream that fails, or gives more or fewer bytes than declared, aborts the upload
/// (plain and aws-chunked): an error, nothing stored, one attempt.
#[tokio::test]
async fn bad_body_streams_abort_the_upload() {
    let (_server, cell) = cell(SignatureVersion::V4, Style::Path).await;
    let body = data(200_000, 9);
    let failing = || {
        let ok: Vec<std::io::Result<Bytes>> = body[..100_000]
            .chunks(10_000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .chain(std::iter::once(Err(std::io::Error::other(
                "disk read failed",
            ))))
            .collect();
        futures_util::stream::iter(ok)
    };
    for mode in [PayloadSigning::Signed, PayloadSigning::SignedChunked] {
        let c = cell.client_with_payload(mode);
        let key = format!("bad/{mode:?}");
        let cases: Vec<(&str, Result<_, _>)> = vec![
            (
                "failing",
                c.put_object_stream(&key, failing(), 200_000, &WriteOptions::default())
                    .await,
            ),
            (
                "long",
                c.put_object_stream(&key, pieces(&body, 7000), 150_000, &WriteOptions::default())
                    .await,
            ),
            (
                // The declared length ends exactly at a piece boundary, more pieces follow.
                "long at a piece boundary",
                c.put_object_stream(&key, pieces(&body, 7000), 140_000, &WriteOptions::default())
                    .await,
            ),
            (
                "short",
                c.put_object_stream(&key, pieces(&body, 7000), 250_000, &WriteOptions::default())
                    .await,
            ),
        ];
        for (what, res) in cases {
            let err = res.expect_err(what);
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::NotReplayable { .. } | ErrorKind::Transport { .. }
                ),
                "{mode:?} {what}: {err:?}"
            );
            assert!(
                c.head_object(&key).await.unwrap_err().is_not_found(),
                "{mode:?} {what}: stored"
            );
        }
    }
}
