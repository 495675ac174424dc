//! Async length-prefixed framing: the wire format and buffering of
//! `transport::framing`, driven by tokio's `AsyncRead`/`AsyncWrite`.
//!
//! A frame is an 8-byte little-endian length followed by that many bytes. The
//! writer hands header and payload to the kernel in one vectored write; the
//! reader pulls as much as is ready into one buffer and lends frames out of
//! it. The parsing, validation and buffering are the blocking reader's own
//! [`FrameDecoder`], so the two differ only in who drives the I/O (the
//! `framing_async` fuzz target checks they agree on every input).

use std::io::{self, IoSlice};
use std::ops::Range;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use transport::framing::{self, Decoded, FrameDecoder};
use transport::{RecvError, SendError};

/// Writes frames to an async byte stream.
#[derive(Debug)]
pub struct AsyncFramedWriter<W> {
    inner: W,
    max: usize,
}

impl<W: AsyncWrite + Unpin> AsyncFramedWriter<W> {
    /// Frames written through this writer may be at most `max` bytes.
    pub fn new(inner: W, max: usize) -> Self {
        Self { inner, max }
    }

    /// Writes one frame, retrying partial writes.
    pub async fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        let header = framing::header(msg, self.max)?;
        let mut slices = [IoSlice::new(&header), IoSlice::new(msg)];
        let mut bufs: &mut [IoSlice<'_>] = &mut slices;
        while !bufs.is_empty() {
            match self.inner.write_vectored(bufs).await {
                Ok(0) => return Err(SendError::Disconnected),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Reads frames from an async byte stream into one reused buffer: the
/// blocking reader's [`FrameDecoder`], fed by `AsyncRead`.
#[derive(Debug)]
pub struct AsyncFramedReader<R> {
    inner: R,
    dec: FrameDecoder,
}

impl<R: AsyncRead + Unpin> AsyncFramedReader<R> {
    /// Frames longer than `max` are reported as corrupt.
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            dec: FrameDecoder::new(max),
        }
    }

    /// Waits for the next frame and returns where it lies; the bytes are
    /// borrowed with [`Self::frame`], because a future cannot lend from the
    /// reader past its own completion.
    pub async fn next_frame(&mut self) -> Result<Range<usize>, RecvError> {
        loop {
            match self.dec.decode()? {
                Decoded::Frame(range) => return Ok(range),
                Decoded::Need(need) => loop {
                    match self.inner.read(self.dec.spare(need)).await {
                        Ok(n) => break self.dec.filled(n, need)?,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                },
            }
        }
    }

    /// The bytes of a frame `next_frame` just returned.
    pub fn frame(&self, range: Range<usize>) -> &[u8] {
        self.dec.frame(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoder's first buffer.
    const INITIAL_BUFFER: usize = 128 * 1024;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn frames(msgs: &[&[u8]]) -> Vec<u8> {
        block_on(async {
            let mut w = AsyncFramedWriter::new(Vec::new(), 1 << 20);
            for m in msgs {
                w.send(m).await.expect("send to Vec cannot fail");
            }
            w.inner
        })
    }

    fn read_all(data: Vec<u8>, max: usize) -> (Vec<Result<Vec<u8>, RecvError>>, usize) {
        block_on(async {
            let mut r = AsyncFramedReader::new(io::Cursor::new(data), max);
            let mut out = Vec::new();
            loop {
                let got = r.next_frame().await.map(|range| r.frame(range).to_vec());
                let stop = got.is_err();
                out.push(got);
                if stop {
                    return (out, r.dec.capacity());
                }
            }
        })
    }

    #[test]
    fn wire_format_matches_the_blocking_writer() {
        let mut blocking = transport::framing::FramedWriter::new(Vec::new(), 1 << 20);
        for m in [&b""[..], b"a", &[9u8; 5000]] {
            blocking.send(m).expect("send to Vec cannot fail");
        }
        assert_eq!(
            frames(&[b"", b"a", &[9u8; 5000]]),
            blocking.get_ref().as_slice()
        );
    }

    #[test]
    fn round_trip_keeps_boundaries() {
        let data = frames(&[b"", b"a", &[7u8; 300_000], b"end"]);
        let (got, _) = read_all(data, 1 << 20);
        assert_eq!(got.len(), 5);
        assert_eq!(got[0].as_ref().expect("frame"), b"");
        assert_eq!(got[1].as_ref().expect("frame"), b"a");
        assert_eq!(got[2].as_ref().expect("frame"), &[7u8; 300_000]);
        assert_eq!(got[3].as_ref().expect("frame"), b"end");
        assert!(matches!(got[4], Err(RecvError::Disconnected)));
    }

    #[test]
    fn absurd_length_is_corrupt_without_allocation() {
        let mut data = u64::MAX.to_le_bytes().to_vec();
        data.extend_from_slice(b"xyz");
        let (got, buf) = read_all(data, 1 << 20);
        assert!(matches!(got[0], Err(RecvError::Corrupt(_))));
        assert!(buf <= INITIAL_BUFFER);
    }

    #[test]
    fn claimed_length_within_max_grows_only_with_data() {
        let mut data = (1u64 << 29).to_le_bytes().to_vec();
        data.extend_from_slice(&[1u8; 1000]);
        let (got, buf) = read_all(data, 1 << 30);
        assert!(matches!(got[0], Err(RecvError::Corrupt(_))));
        assert!(buf <= 2 * INITIAL_BUFFER, "grew to {buf}");
    }

    #[test]
    fn truncated_header_is_corrupt() {
        let (got, _) = read_all(vec![1u8, 2, 3], 1 << 20);
        assert!(matches!(got[0], Err(RecvError::Corrupt(_))));
    }

    #[test]
    fn too_large_send_sends_nothing() {
        block_on(async {
            let mut w = AsyncFramedWriter::new(Vec::new(), 4);
            let err = w.send(b"12345").await.expect_err("too large");
            assert!(matches!(err, SendError::TooLarge { size: 5, max: 4 }));
            assert!(w.inner.is_empty());
        });
    }
}
