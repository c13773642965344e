//! Streaming request bodies: exact-length plain bodies, and aws-chunked framing with per-chunk
//! SigV4 signatures.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::s3::StreamPayload;
use crate::sign::chunked::{self, ChunkSigner};

/// Payload bytes per aws-chunked chunk (64 KiB, as the AWS SDKs use).
pub(super) const CHUNK_SIZE: usize = 64 * 1024;

type BoxStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

struct State {
    input: BoxStream,
    buf: BytesMut,
    signer: Arc<Mutex<Option<ChunkSigner>>>,
    input_done: bool,
    finished: bool,
    sent: u64,
    length: u64,
}

/// Wraps `input` (exactly `length` bytes) in aws-chunked framing. The returned payload
/// description receives the chunk signer when the request headers are signed; the body signs
/// each 64 KiB chunk as it is sent, then the final empty chunk.
pub(super) fn aws_chunked<S>(input: S, length: u64) -> (reqwest::Body, StreamPayload)
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let signer = Arc::new(Mutex::new(None));
    let state = State {
        input: Box::pin(input),
        buf: BytesMut::new(),
        signer: Arc::clone(&signer),
        input_done: false,
        finished: false,
        sent: 0,
        length,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        if st.finished {
            return None;
        }
        while !st.input_done && st.buf.len() < CHUNK_SIZE {
            match st.input.next().await {
                Some(Ok(bytes)) => st.buf.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    st.finished = true;
                    return Some((Err(e), st));
                }
                None => st.input_done = true,
            }
        }
        let take = st.buf.len().min(CHUNK_SIZE);
        let data = st.buf.split_to(take).freeze();
        st.sent += data.len() as u64;
        if st.sent > st.length || (st.input_done && st.buf.is_empty() && st.sent != st.length) {
            st.finished = true;
            let e = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the body stream gave {} bytes but its declared length is {}",
                    st.sent, st.length
                ),
            );
            return Some((Err(e), st));
        }
        let mut guard = st.signer.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(signer) = guard.as_mut() else {
            drop(guard);
            st.finished = true;
            let e = std::io::Error::other("aws-chunked body polled before the request was signed");
            return Some((Err(e), st));
        };
        let mut out = Vec::new();
        if !data.is_empty() {
            out = signer.encode_chunk(&data);
        }
        if st.input_done && st.buf.is_empty() {
            out.extend_from_slice(signer.final_chunk().as_bytes());
            drop(guard);
            st.finished = true;
        } else {
            drop(guard);
        }
        Some((Ok(Bytes::from(out)), st))
    });
    let payload = StreamPayload::Chunked {
        signer_seed: signer,
        encoded_length: chunked::encoded_length(length, CHUNK_SIZE as u64, None),
        decoded_length: length,
    };
    (reqwest::Body::wrap_stream(stream), payload)
}

struct Exact {
    input: BoxStream,
    sent: u64,
    length: u64,
    done: bool,
}

fn length_error(sent: u64, length: u64, more: bool) -> std::io::Error {
    let what = if more { "more than" } else { "only" };
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("the body stream gave {what} {sent} bytes but its declared length is {length}"),
    )
}

/// Checks that `input` holds no bytes (a declared length of 0 sent without streaming).
pub(super) async fn ensure_empty<S>(input: S) -> std::io::Result<()>
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let checked = exact_stream(input, 0);
    futures_util::pin_mut!(checked);
    while let Some(piece) = checked.next().await {
        piece?;
    }
    Ok(())
}

/// A plain (not chunk-signed) body of exactly `length` bytes from `input`.
///
/// A stream that ends early or runs long fails the request *before* its last byte is sent: the
/// chunk that completes `length` is held back until the stream has ended, so a server never
/// receives a complete body (and stores an object) for a stream that turned out too long.
pub(super) fn exact_length<S>(input: S, length: u64) -> reqwest::Body
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    reqwest::Body::wrap_stream(exact_stream(input, length))
}

fn exact_stream<S>(input: S, length: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let state = Exact {
        input: Box::pin(input),
        sent: 0,
        length,
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            match st.input.next().await {
                Some(Ok(bytes)) if bytes.is_empty() => continue,
                Some(Ok(bytes)) => {
                    st.sent += bytes.len() as u64;
                    if st.sent > st.length {
                        st.done = true;
                        return Some((Err(length_error(st.sent, st.length, true)), st));
                    }
                    if st.sent < st.length {
                        return Some((Ok(bytes), st));
                    }
                    // The last bytes: send them only once the stream has really ended.
                    st.done = true;
                    loop {
                        match st.input.next().await {
                            None => return Some((Ok(bytes), st)),
                            Some(Ok(more)) if more.is_empty() => continue,
                            Some(Ok(_)) => {
                                return Some((Err(length_error(st.sent, st.length, true)), st))
                            }
                            Some(Err(e)) => return Some((Err(e), st)),
                        }
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    if st.sent < st.length {
                        return Some((Err(length_error(st.sent, st.length, false)), st));
                    }
                    return None;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(
        input: Vec<std::io::Result<Bytes>>,
        length: u64,
    ) -> Vec<Result<Bytes, String>> {
        let stream = exact_stream(futures_util::stream::iter(input), length);
        let mut stream = Box::pin(stream);
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            out.push(item.map_err(|e| e.to_string()));
        }
        out
    }

    fn b(s: &'static str) -> std::io::Result<Bytes> {
        Ok(Bytes::from_static(s.as_bytes()))
    }

    #[tokio::test]
    async fn an_empty_body_must_be_empty() {
        let s = |v: Vec<std::io::Result<Bytes>>| futures_util::stream::iter(v);
        ensure_empty(s(vec![])).await.unwrap();
        ensure_empty(s(vec![b(""), b("")])).await.unwrap();
        let e = ensure_empty(s(vec![b(""), b("x")])).await.unwrap_err();
        assert!(e.to_string().contains("declared length is 0"), "{e}");
        let e = ensure_empty(s(vec![Err(std::io::Error::other("broken"))]))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "broken");
    }

    #[tokio::test]
    async fn exact_length_passes_exact_streams_through() {
        let out = collect(vec![b("ab"), b(""), b("cd")], 4).await;
        let got: Vec<_> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(got, [Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]);
        assert!(collect(vec![], 0).await.is_empty());
        assert!(collect(vec![b("")], 0).await.is_empty());
    }

    #[tokio::test]
    async fn exact_length_holds_back_the_last_bytes_of_a_long_stream() {
        // "cd" completes the length but "e" follows: "cd" is never yielded.
        let out = collect(vec![b("ab"), b("cd"), b("e")], 4).await;
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].as_ref().unwrap(), &Bytes::from_static(b"ab"));
        assert!(
            out[1].as_ref().unwrap_err().contains("more than"),
            "{out:?}"
        );
        let out = collect(vec![b("abcde")], 4).await;
        assert_eq!(out.len(), 1);
        assert!(out[0].is_err());
        let out = collect(vec![b("x")], 0).await;
        assert!(out[0].is_err());
    }

    #[tokio::test]
    async fn exact_length_fails_short_and_failing_streams() {
        let out = collect(vec![b("ab")], 4).await;
        assert_eq!(out.len(), 2);
        assert!(out[1].as_ref().unwrap_err().contains("only 2"), "{out:?}");
        let out = collect(vec![b("ab"), Err(std::io::Error::other("disk"))], 4).await;
        assert!(out[1].as_ref().unwrap_err().contains("disk"), "{out:?}");
        // A failure after the last byte still fails the body.
        let out = collect(vec![b("abcd"), Err(std::io::Error::other("disk"))], 4).await;
        assert_eq!(out.len(), 1);
        assert!(out[0].is_err());
    }
}
