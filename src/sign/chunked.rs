//! aws-chunked streaming uploads signed chunk by chunk
//! (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`), optionally ending in a signed trailer
//! (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`).
//!
//! 1. Sign the request headers with [`PayloadHash::StreamingSigned`] (or
//!    `StreamingSignedTrailer`), `content-encoding: aws-chunked`,
//!    `x-amz-decoded-content-length: <body length>` and
//!    `content-length: `[`encoded_length`] (trailer variant: `x-amz-trailer: <names>`,
//!    length from [`encoded_length`] with the trailer).
//! 2. Build a [`ChunkSigner`] from the [`HeaderSignature`]; its signature is the seed.
//! 3. For every chunk send [`ChunkSigner::chunk_header`] + data + `\r\n`, then
//!    [`ChunkSigner::final_chunk`] (or [`ChunkSigner::final_chunk_with_trailer`]).
//!
//! ```text
//! chunk:   hex(size) ";chunk-signature=" sig CRLF data CRLF
//! final:   "0;chunk-signature=" sig CRLF CRLF
//! trailer: "0;chunk-signature=" sig CRLF (name ":" value CRLF)* "x-amz-trailer-signature:" sig CRLF CRLF
//! chunk string to sign:   "AWS4-HMAC-SHA256-PAYLOAD" \n date \n scope \n previous-sig \n hex(sha256("")) \n hex(sha256(data))
//! trailer string to sign: "AWS4-HMAC-SHA256-TRAILER" \n date \n scope \n previous-sig \n hex(sha256(name ":" value "\n" ...))
//! ```
//!
//! Spec: [sigv4-streaming][s], [sigv4-streaming-trailers][t].
//!
//! [s]: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
//! [t]: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
//!
//! [`PayloadHash::StreamingSigned`]: crate::sign::PayloadHash::StreamingSigned
//! [`HeaderSignature`]: crate::sign::v4::HeaderSignature

use std::fmt;

use crate::sign::crypto::{hex_encode_into, sha256, EMPTY_SHA256};
use crate::sign::v4::{lines, HeaderSignature, SigningKey};
use crate::sign::{is_token, SignError};

/// Bytes that follow every data chunk.
pub(crate) const CHUNK_TERMINATOR: &[u8] = b"\r\n";

const SIG_LEN: u64 = 64;
/// `;chunk-signature=`
const SIG_PREFIX: &str = ";chunk-signature=";
/// `x-amz-trailer-signature:`
const TRAILER_SIG_NAME: &str = "x-amz-trailer-signature";

fn hex_len(n: u64) -> u64 {
    if n == 0 {
        1
    } else {
        u64::from((64 - n.leading_zeros()).div_ceil(4))
    }
}

fn chunk_overhead(size: u64) -> u64 {
    hex_len(size) + SIG_PREFIX.len() as u64 + SIG_LEN + 2
}

fn data_chunks_length(content_length: u64, chunk_size: u64) -> u64 {
    let chunk_size = if chunk_size == 0 {
        content_length.max(1)
    } else {
        chunk_size
    };
    let full = content_length / chunk_size;
    let rest = content_length % chunk_size;
    let mut total = full.saturating_mul(chunk_overhead(chunk_size).saturating_add(chunk_size + 2));
    if rest > 0 {
        total = total.saturating_add(chunk_overhead(rest) + rest + 2);
    }
    // The final zero-length chunk header.
    total.saturating_add(chunk_overhead(0))
}

/// The `Content-Length` of an aws-chunked body carrying `content_length` payload bytes in
/// chunks of `chunk_size` (the last one shorter), including the final zero-length chunk
/// and, with `trailer`, the signed trailer of those `(name, value)` pairs (framed as by
/// [`ChunkSigner::final_chunk_with_trailer`]). A `chunk_size` of 0 means one chunk holding
/// everything. Saturates at `u64::MAX`.
pub fn encoded_length(
    content_length: u64,
    chunk_size: u64,
    trailer: Option<&[(&str, &str)]>,
) -> u64 {
    let data = data_chunks_length(content_length, chunk_size);
    let Some(trailers) = trailer else {
        return data.saturating_add(2);
    };
    let fields: u64 = trailers
        .iter()
        .map(|(n, v)| (n.len() + 1 + v.trim().len() + 2) as u64)
        .sum();
    let signature_line = (TRAILER_SIG_NAME.len() + 1) as u64 + SIG_LEN + 2;
    data.saturating_add(fields)
        .saturating_add(signature_line)
        .saturating_add(2)
}

/// Signs the chunks of one aws-chunked body, each signature chaining on the previous one.
#[derive(Clone)]
pub struct ChunkSigner {
    key: SigningKey,
    amz_date: String,
    scope: String,
    previous: String,
}

impl fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    /// Continues from the seed signature of the signed request headers.
    pub fn new(seed: &HeaderSignature) -> Self {
        Self::from_parts(
            seed.signing_key.clone(),
            &seed.amz_date,
            &seed.credential_scope,
            &seed.signature,
        )
    }

    /// Builds a signer from its parts: the signing key, the request's `x-amz-date`, its
    /// credential scope and the seed signature.
    pub fn from_parts(key: SigningKey, amz_date: &str, scope: &str, seed_signature: &str) -> Self {
        Self {
            key,
            amz_date: amz_date.to_owned(),
            scope: scope.to_owned(),
            previous: seed_signature.to_owned(),
        }
    }

    /// The signature the next chunk (or trailer) chains on.
    pub fn previous_signature(&self) -> &str {
        &self.previous
    }

    /// The string to sign for `data` as the next chunk (does not advance the chain).
    pub fn chunk_string_to_sign(&self, data: &[u8]) -> String {
        let mut s = self.prefix("AWS4-HMAC-SHA256-PAYLOAD", 2 * 65);
        s.push_str(EMPTY_SHA256);
        s.push('\n');
        hex_encode_into(&mut s, &sha256(data));
        s
    }

    /// Signs `data` as the next chunk and returns its signature.
    pub fn sign_chunk(&mut self, data: &[u8]) -> String {
        let sts = self.chunk_string_to_sign(data);
        self.previous = self.key.sign_hex(sts.as_bytes());
        self.previous.clone()
    }

    /// Signs `data` as the next chunk and returns the header line to send before it:
    /// `hex(len);chunk-signature=<sig>\r\n`. Send `\r\n` after the data.
    pub fn chunk_header(&mut self, data: &[u8]) -> String {
        let signature = self.sign_chunk(data);
        format_chunk_header(data.len() as u64, &signature)
    }

    /// Convenience: the fully framed chunk (header, data, CRLF) as one buffer.
    pub fn encode_chunk(&mut self, data: &[u8]) -> Vec<u8> {
        let header = self.chunk_header(data);
        let mut out = Vec::with_capacity(header.len() + data.len() + 2);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(CHUNK_TERMINATOR);
        out
    }

    /// Signs the final zero-length chunk and returns the bytes that end the body:
    /// `0;chunk-signature=<sig>\r\n\r\n`.
    pub fn final_chunk(&mut self) -> String {
        let mut s = self.chunk_header(b"");
        s.push_str("\r\n");
        s
    }

    /// The canonical trailer block `name:value\n...` (names lower-cased, values trimmed).
    ///
    /// # Errors
    /// [`SignError::InvalidTrailer`] for a name that is not a token or a value with CR/LF.
    pub fn canonical_trailers(trailers: &[(&str, &str)]) -> Result<String, SignError> {
        let mut out = String::new();
        for (name, value) in trailers {
            if !is_token(name) || value.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(SignError::InvalidTrailer);
            }
            out.push_str(&name.to_ascii_lowercase());
            out.push(':');
            out.push_str(value.trim());
            out.push('\n');
        }
        Ok(out)
    }

    /// The string to sign of a trailer after the final chunk (does not advance the chain).
    ///
    /// # Errors
    /// As [`ChunkSigner::canonical_trailers`].
    pub fn trailer_string_to_sign(&self, trailers: &[(&str, &str)]) -> Result<String, SignError> {
        let canonical = Self::canonical_trailers(trailers)?;
        let mut s = self.prefix("AWS4-HMAC-SHA256-TRAILER", 65);
        hex_encode_into(&mut s, &sha256(canonical.as_bytes()));
        Ok(s)
    }

    /// Signs the trailer (which must follow the final zero-length chunk) and returns the
    /// trailer signature.
    ///
    /// # Errors
    /// As [`ChunkSigner::canonical_trailers`].
    pub fn sign_trailer(&mut self, trailers: &[(&str, &str)]) -> Result<String, SignError> {
        let sts = self.trailer_string_to_sign(trailers)?;
        self.previous = self.key.sign_hex(sts.as_bytes());
        Ok(self.previous.clone())
    }

    /// Signs the final zero-length chunk and the trailer, and returns the bytes that end
    /// the body: `0;chunk-signature=<sig>\r\n`, each `name:value\r\n`,
    /// `x-amz-trailer-signature:<sig>\r\n`, `\r\n`.
    ///
    /// # Errors
    /// As [`ChunkSigner::canonical_trailers`]; nothing is signed then.
    pub fn final_chunk_with_trailer(
        &mut self,
        trailers: &[(&str, &str)],
    ) -> Result<String, SignError> {
        let canonical = Self::canonical_trailers(trailers)?;
        let mut out = self.chunk_header(b"");
        let trailer_signature = self.sign_trailer(trailers)?;
        for line in canonical.lines() {
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str(TRAILER_SIG_NAME);
        out.push(':');
        out.push_str(&trailer_signature);
        out.push_str("\r\n\r\n");
        Ok(out)
    }

    fn prefix(&self, algorithm: &str, extra: usize) -> String {
        lines(
            &[algorithm, &self.amz_date, &self.scope, &self.previous],
            extra,
        )
    }
}

/// `hex(size);chunk-signature=<signature>\r\n`.
pub(crate) fn format_chunk_header(size: u64, signature: &str) -> String {
    format!("{size:x}{SIG_PREFIX}{signature}\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_the_documented_example() {
        assert_eq!(encoded_length(66_560, 65_536, None), 66_824);
        assert_eq!(
            encoded_length(
                66_560,
                65_536,
                Some(&[("x-amz-checksum-crc32c", "sOO8/Q==")])
            ),
            66_946
        );
        assert_eq!(encoded_length(0, 65_536, None), 86);
        assert_eq!(encoded_length(10, 0, None), encoded_length(10, 10, None));
        assert_eq!(encoded_length(u64::MAX, 1, None), u64::MAX);
    }

    #[test]
    fn hex_lengths() {
        for n in [0u64, 1, 15, 16, 255, 256, 65_535, 65_536, u64::MAX] {
            assert_eq!(hex_len(n), format!("{n:x}").len() as u64, "{n}");
        }
    }

    #[test]
    fn trailer_validation() {
        assert!(ChunkSigner::canonical_trailers(&[("x-amz-checksum-crc32", "a\r\nb")]).is_err());
        assert!(ChunkSigner::canonical_trailers(&[("bad name", "x")]).is_err());
        assert_eq!(
            ChunkSigner::canonical_trailers(&[("X-Amz-Checksum-CRC32C", " sOO8/Q== ")]).unwrap(),
            "x-amz-checksum-crc32c:sOO8/Q==\n"
        );
    }
}
