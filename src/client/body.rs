//! Streaming request bodies: aws-chunked framing with per-chunk SigV4 signatures.

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
        encoded_length: chunked::encoded_length(length, CHUNK_SIZE as u64),
        decoded_length: length,
    };
    (reqwest::Body::wrap_stream(stream), payload)
}
