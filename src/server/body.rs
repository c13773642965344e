//! Response bodies: empty, in-memory, or streamed from a driver reader.

use bytes::{Bytes, BytesMut};
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
        let mut buf = BytesMut::zeroed(want);
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("storage ended {left} bytes before the expected length"),
            ));
        }
        buf.truncate(n);
        Ok(Some((Frame::data(buf.freeze()), (reader, left - n as u64))))
    });
    StreamBody::new(stream).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(b: Body) -> Result<Bytes, std::io::Error> {
        b.collect().await.map(http_body_util::Collected::to_bytes)
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
