//! Response bodies: empty, in-memory, or streamed from a driver reader; and
//! reading request bodies with an idle timeout.

use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use tokio::io::AsyncReadExt;

use crate::driver::BoxedReader;

/// The body type of every response.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Size of the pieces a streamed body is read in.
const CHUNK: usize = 64 * 1024;

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body holding `data`.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body streaming at most `len` bytes of `reader`. A reader that ends early
/// ends the body with an error, so the client sees a truncated transfer rather
/// than a short, apparently complete one.
pub fn from_reader(reader: BoxedReader, len: u64) -> Body {
    let state = (reader, len);
    let stream = futures_util::stream::try_unfold(state, |(mut reader, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        // Fill a whole piece before sending it: an S3 object's body arrives in pieces of a
        // few KiB, and a frame (and a zeroed buffer) per piece cost more CPU than the copy.
        let mut buf = BytesMut::with_capacity(want);
        while buf.len() < want {
            let room = want - buf.len();
            if reader.read_buf(&mut (&mut buf).limit(room)).await? == 0 {
                break;
            }
        }
        let n = buf.len();
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("storage ended {left} bytes before the expected length"),
            ));
        }
        Ok(Some((Frame::data(buf.freeze()), (reader, left - n as u64))))
    });
    StreamBody::new(stream).boxed_unsync()
}

/// Why a request body could not be read.
#[derive(Debug)]
pub(super) enum ReadError {
    /// The body broke off or was malformed (client gone, truncated).
    Client(hyper::Error),
    /// Nothing arrived for the idle timeout.
    Idle(std::time::Duration),
    /// More than the limit arrived.
    TooLarge(usize),
}

tokio::task_local! {
    /// Whether the request being handled has had its body read to the end.
    static BODY_READ: std::cell::Cell<bool>;
}

/// Runs `handler` and tells whether it read its request's body to the end
/// (through [`next_frame`]). A connection whose request body was left unread
/// cannot carry another request, so the server then answers with
/// `Connection: close` instead of dropping the connection silently.
pub(super) async fn track_body_read<F: std::future::Future>(handler: F) -> (F::Output, bool) {
    BODY_READ
        .scope(std::cell::Cell::new(false), async {
            let out = handler.await;
            (out, BODY_READ.with(std::cell::Cell::get))
        })
        .await
}

/// The next frame of `body`, or an error when none comes within `idle`.
pub(super) async fn next_frame(
    body: &mut hyper::body::Incoming,
    idle: std::time::Duration,
) -> Result<Option<Frame<Bytes>>, ReadError> {
    match tokio::time::timeout(idle, body.frame()).await {
        Ok(Some(Ok(frame))) => Ok(Some(frame)),
        Ok(Some(Err(e))) => Err(ReadError::Client(e)),
        Ok(None) => {
            let _ = BODY_READ.try_with(|read| read.set(true));
            Ok(None)
        }
        Err(_) => Err(ReadError::Idle(idle)),
    }
}

/// Reads a whole request body of at most `limit` bytes.
pub(super) async fn read_to_limit(
    mut body: hyper::body::Incoming,
    limit: usize,
    idle: std::time::Duration,
) -> Result<Bytes, ReadError> {
    let mut out = BytesMut::new();
    while let Some(frame) = next_frame(&mut body, idle).await? {
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(ReadError::TooLarge(limit));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(b: Body) -> Result<Bytes, std::io::Error> {
        b.collect().await.map(http_body_util::Collected::to_bytes)
    }

    /// A reader handing over at most 1000 bytes per read, as an S3 body arrives.
    struct Dribble(std::io::Cursor<Vec<u8>>);

    impl tokio::io::AsyncRead for Dribble {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let mut piece = [0u8; 1000];
            let len = piece.len().min(buf.remaining());
            let mut small = tokio::io::ReadBuf::new(&mut piece[..len]);
            let r = std::pin::Pin::new(&mut self.0).poll_read(cx, &mut small);
            buf.put_slice(small.filled());
            r
        }
    }

    #[tokio::test]
    async fn small_reads_make_whole_frames() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut body = from_reader(
            Box::new(Dribble(std::io::Cursor::new(data.clone()))),
            200_000,
        );
        let mut sizes = Vec::new();
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            let chunk = frame.unwrap().into_data().unwrap();
            sizes.push(chunk.len());
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, data);
        assert_eq!(sizes, [CHUNK, CHUNK, CHUNK, 200_000 - 3 * CHUNK]);
    }

    #[tokio::test]
    async fn streams_exactly_len_bytes() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let r: BoxedReader = Box::new(std::io::Cursor::new(data.clone()));
        let got = collect(from_reader(r, 150_000)).await.unwrap();
        assert_eq!(&got[..], &data[..150_000]);
        let r: BoxedReader = Box::new(std::io::Cursor::new(data.clone()));
        assert!(collect(from_reader(r, 200_001)).await.is_err());
        assert!(collect(empty()).await.unwrap().is_empty());
        assert_eq!(collect(full("x")).await.unwrap(), "x");
    }
}
