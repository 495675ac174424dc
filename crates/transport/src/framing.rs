//! Length-prefixed framing for byte-stream transports (pipes, stream sockets).
//!
//! A frame is an 8-byte little-endian length followed by that many bytes. The
//! writer hands header and payload to the kernel in one vectored write, so a
//! small message costs one system call, like a bare `write`. The reader pulls
//! as much as the kernel has ready into one buffer and lends frames out of it,
//! so a small message also costs one `read`; this keeps framed backends within
//! a few percent of the raw-pipe floor.
//!
//! A hostile length is rejected against the maximum before anything is
//! reserved, and the buffer then grows only as bytes actually arrive, so a
//! peer that claims a gigabyte and sends ten bytes costs ten bytes.

use std::io::{self, IoSlice, Read, Write};

use crate::{RecvError, SendError};

/// Size of the length prefix.
pub const HEADER_LEN: usize = 8;

/// Initial receive buffer: large enough that the seed's sizes and the usual
/// kernel buffer (64 KiB) fit in one read.
const INITIAL_BUFFER: usize = 128 * 1024;

/// Writes frames to a byte stream.
#[derive(Debug)]
pub struct FramedWriter<W> {
    inner: W,
    max: usize,
}

impl<W: Write> FramedWriter<W> {
    /// Frames written through this writer may be at most `max` bytes.
    pub fn new(inner: W, max: usize) -> Self {
        Self { inner, max }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Writes one frame, retrying partial writes.
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > self.max {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: self.max,
            });
        }
        let header = (msg.len() as u64).to_le_bytes();
        let mut slices = [IoSlice::new(&header), IoSlice::new(msg)];
        let mut bufs: &mut [IoSlice<'_>] = &mut slices;
        while !bufs.is_empty() {
            match self.inner.write_vectored(bufs) {
                Ok(0) => return Err(SendError::Disconnected),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Reads frames from a byte stream and lends them out of one buffer.
#[derive(Debug)]
pub struct FramedReader<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    /// Start of unread bytes in `buf`.
    start: usize,
    /// End of valid bytes in `buf`.
    end: usize,
}

impl<R: Read> FramedReader<R> {
    /// Frames longer than `max` are reported as corrupt.
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Waits for the next frame and lends it until the next call.
    pub fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.fill_to(HEADER_LEN, true)?;
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.buf[self.start..self.start + HEADER_LEN]);
        let claimed = u64::from_le_bytes(header);
        let len = usize::try_from(claimed)
            .ok()
            .filter(|&l| l <= self.max)
            .ok_or_else(|| {
                RecvError::Corrupt(format!(
                    "frame header claims {claimed} bytes, more than the maximum of {} bytes",
                    self.max
                ))
            })?;
        self.fill_to(HEADER_LEN + len, false)?;
        let body = self.start + HEADER_LEN;
        self.start = body + len;
        Ok(&self.buf[body..body + len])
    }

    /// Ensures `need` unread bytes are buffered. A clean end of stream before
    /// any byte of a new frame is a disconnect; inside a frame it is a
    /// truncated frame, which is corruption.
    fn fill_to(&mut self, need: usize, at_frame_start: bool) -> Result<(), RecvError> {
        if self.end - self.start >= need {
            return Ok(());
        }
        if self.start > 0 {
            // Move the partial frame to the front so the buffer never grows
            // because of bytes that were already consumed.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < need {
            if self.end == self.buf.len() {
                // Grow with what has arrived, never with what was claimed.
                let grow = self.buf.len().min(need - self.end).max(1);
                self.buf.resize(self.buf.len() + grow, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) if at_frame_start && self.end == 0 => return Err(RecvError::Disconnected),
                Ok(0) => {
                    return Err(RecvError::Corrupt(format!(
                        "stream ended inside a frame: {} of {need} bytes received",
                        self.end
                    )));
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn frames(msgs: &[&[u8]]) -> Vec<u8> {
        let mut w = FramedWriter::new(Vec::new(), 1 << 20);
        for m in msgs {
            w.send(m).expect("send to Vec cannot fail");
        }
        w.inner
    }

    #[test]
    fn round_trip_keeps_boundaries() {
        let data = frames(&[b"", b"a", &[7u8; 300_000], b"end"]);
        let mut r = FramedReader::new(Cursor::new(data), 1 << 20);
        assert_eq!(r.recv().expect("frame"), b"");
        assert_eq!(r.recv().expect("frame"), b"a");
        assert_eq!(r.recv().expect("frame"), &[7u8; 300_000][..]);
        assert_eq!(r.recv().expect("frame"), b"end");
        assert!(matches!(r.recv(), Err(RecvError::Disconnected)));
    }

    #[test]
    fn absurd_length_is_corrupt_without_allocation() {
        let mut data = u64::MAX.to_le_bytes().to_vec();
        data.extend_from_slice(b"xyz");
        let mut r = FramedReader::new(Cursor::new(data), 1 << 20);
        let err = r.recv().expect_err("must reject");
        assert!(matches!(err, RecvError::Corrupt(_)), "{err}");
        assert!(r.buf.len() <= INITIAL_BUFFER);
    }

    #[test]
    fn claimed_length_within_max_grows_only_with_data() {
        let mut data = (1u64 << 29).to_le_bytes().to_vec();
        data.extend_from_slice(&[1u8; 1000]);
        let mut r = FramedReader::new(Cursor::new(data), 1 << 30);
        let err = r.recv().expect_err("truncated");
        assert!(matches!(err, RecvError::Corrupt(_)), "{err}");
        assert!(r.buf.len() <= 2 * INITIAL_BUFFER, "grew to {}", r.buf.len());
    }

    #[test]
    fn truncated_header_is_corrupt() {
        let mut r = FramedReader::new(Cursor::new(vec![1u8, 2, 3]), 1 << 20);
        assert!(matches!(r.recv(), Err(RecvError::Corrupt(_))));
    }

    #[test]
    fn too_large_send_sends_nothing() {
        let mut w = FramedWriter::new(Vec::new(), 4);
        let err = w.send(b"12345").expect_err("too large");
        assert!(matches!(err, SendError::TooLarge { size: 5, max: 4 }));
        assert!(w.inner.is_empty());
    }
}
