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
use std::os::fd::{AsFd, OwnedFd};

use crate::{OpenError, RecvError, SendError};

/// Size of the length prefix.
pub const HEADER_LEN: usize = 8;

/// Initial receive buffer: large enough that the seed's sizes and the usual
/// kernel buffer (64 KiB) fit in one read.
const INITIAL_BUFFER: usize = 128 * 1024;

/// The header of a frame carrying `msg`, or `TooLarge` (nothing is sent)
/// if it exceeds `max`; shared by the blocking and async writers.
#[inline]
pub fn header(msg: &[u8], max: usize) -> Result<[u8; HEADER_LEN], SendError> {
    if msg.len() > max {
        return Err(SendError::TooLarge {
            size: msg.len(),
            max,
        });
    }
    Ok((msg.len() as u64).to_le_bytes())
}

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
        let header = header(msg, self.max)?;
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

/// A framed byte stream is a whole sending half: a stream backend names
/// `FramedWriter<its stream>` as its `Sender` and needs no wrapper.
impl<W: Write + Send + 'static> crate::Sender for FramedWriter<W> {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        FramedWriter::send(self, msg)
    }
}

/// The I/O-free part of reading frames, shared by [`FramedReader`] and the
/// async reader of `transport-tokio`: one buffer, the bytes in it, header
/// validation and the end-of-stream verdict. A reader asks [`Self::decode`]
/// for the next frame; when more bytes are needed it reads into
/// [`Self::spare`] and reports the count to [`Self::filled`]. Only who drives
/// the I/O differs between the blocking and async readers.
#[derive(Debug)]
pub struct FrameDecoder {
    max: usize,
    buf: Vec<u8>,
    /// Start of unread bytes in `buf`.
    start: usize,
    /// End of valid bytes in `buf`.
    end: usize,
}

/// What [`FrameDecoder::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole frame, consumed; its bytes are [`FrameDecoder::frame`] of this
    /// range until the next call.
    Frame(std::ops::Range<usize>),
    /// This many unread bytes must be buffered before the next frame is whole.
    Need(usize),
}

impl FrameDecoder {
    /// Frames longer than `max` are reported as corrupt.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
        }
    }

    /// The next whole frame if it is buffered, else how many bytes must be.
    /// A header claiming more than the maximum is `Corrupt` before anything
    /// is reserved for it.
    #[inline]
    pub fn decode(&mut self) -> Result<Decoded, RecvError> {
        let have = self.end - self.start;
        if have < HEADER_LEN {
            return Ok(Decoded::Need(HEADER_LEN));
        }
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
        if have < HEADER_LEN + len {
            return Ok(Decoded::Need(HEADER_LEN + len));
        }
        let body = self.start + HEADER_LEN;
        self.start = body + len;
        Ok(Decoded::Frame(body..body + len))
    }

    /// Room to read into on the way to `need` unread bytes. Moves a partial
    /// frame to the front, so consumed bytes never make the buffer grow, and
    /// grows only with what has arrived, never with what was claimed.
    #[inline]
    pub fn spare(&mut self, need: usize) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grow = self.buf.len().min(need - self.end).max(1);
            self.buf.resize(self.buf.len() + grow, 0);
        }
        &mut self.buf[self.end..]
    }

    /// Records `n` bytes read into [`Self::spare`] on the way to `need`. End
    /// of stream (`n == 0`) with nothing buffered is a disconnect; inside a
    /// frame it is a truncated frame, which is corruption.
    #[inline]
    pub fn filled(&mut self, n: usize, need: usize) -> Result<(), RecvError> {
        if n > 0 {
            self.end += n;
            return Ok(());
        }
        let have = self.end - self.start;
        if have == 0 {
            return Err(RecvError::Disconnected);
        }
        Err(RecvError::Corrupt(format!(
            "stream ended inside a frame: {have} of {need} bytes received"
        )))
    }

    /// The bytes of a frame [`Self::decode`] just returned.
    #[inline]
    pub fn frame(&self, range: std::ops::Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Bytes the buffer holds room for (tests check it stays bounded).
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }
}

/// Reads frames from a byte stream and lends them out of one buffer.
#[derive(Debug)]
pub struct FramedReader<R> {
    inner: R,
    dec: FrameDecoder,
}

impl<R: Read> FramedReader<R> {
    /// Frames longer than `max` are reported as corrupt.
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            dec: FrameDecoder::new(max),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Waits for the next frame and lends it until the next call.
    pub fn recv(&mut self) -> Result<&[u8], RecvError> {
        loop {
            match self.dec.decode()? {
                Decoded::Frame(range) => return Ok(self.dec.frame(range)),
                Decoded::Need(need) => loop {
                    match self.inner.read(self.dec.spare(need)) {
                        Ok(n) => break self.dec.filled(n, need)?,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                },
            }
        }
    }
}

/// A framed byte stream is a whole receiving half, like [`FramedWriter`].
impl<R: Read + Send + 'static> crate::Receiver for FramedReader<R> {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        FramedReader::recv(self)
    }
}

/// Both framed halves of one duplex stream (a connected socket): the writer
/// owns `stream`, the reader a duplicate of its descriptor (close-on-exec),
/// so each half can move to its own thread. Frames over `max` bytes are
/// refused by the writer and reported as corrupt by the reader.
pub fn duplex<S>(stream: S, max: usize) -> Result<(FramedWriter<S>, FramedReader<S>), OpenError>
where
    S: AsFd + From<OwnedFd> + Read + Write,
{
    let reader = stream
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| OpenError::io("dup socket", e))?;
    Ok((
        FramedWriter::new(stream, max),
        FramedReader::new(S::from(reader), max),
    ))
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
        assert!(r.dec.capacity() <= INITIAL_BUFFER);
    }

    #[test]
    fn claimed_length_within_max_grows_only_with_data() {
        let mut data = (1u64 << 29).to_le_bytes().to_vec();
        data.extend_from_slice(&[1u8; 1000]);
        let mut r = FramedReader::new(Cursor::new(data), 1 << 30);
        let err = r.recv().expect_err("truncated");
        assert!(matches!(err, RecvError::Corrupt(_)), "{err}");
        assert!(
            r.dec.capacity() <= 2 * INITIAL_BUFFER,
            "grew to {}",
            r.dec.capacity()
        );
    }

    #[test]
    fn truncated_header_is_corrupt() {
        let mut r = FramedReader::new(Cursor::new(vec![1u8, 2, 3]), 1 << 20);
        assert!(matches!(r.recv(), Err(RecvError::Corrupt(_))));
    }

    /// Hands out at most `chunk` bytes per read, like a pipe delivering a
    /// frame in pieces, and reports `Interrupted` on every third read.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        reads: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.reads.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn trickle(data: Vec<u8>, chunk: usize) -> Trickle {
        Trickle {
            data,
            pos: 0,
            chunk,
            reads: 0,
        }
    }

    #[test]
    fn truncated_body_is_corrupt_never_a_short_message() {
        // A sender killed mid-message: the header promises 100 bytes, 50 come.
        let mut data = frames(&[b"whole"]);
        data.extend_from_slice(&100u64.to_le_bytes());
        data.extend_from_slice(&[9u8; 50]);
        let mut r = FramedReader::new(Cursor::new(data), 1 << 20);
        assert_eq!(r.recv().expect("first frame"), b"whole");
        match r.recv() {
            Err(RecvError::Corrupt(why)) => assert!(why.contains("58 of 108"), "{why}"),
            other => panic!("expected Corrupt, got {:?}", other.map(<[u8]>::len)),
        }
    }

    #[test]
    fn length_is_checked_against_the_maximum_exactly() {
        let at_max = frames(&[&[1u8; 1000]]);
        let mut r = FramedReader::new(Cursor::new(at_max), 1000);
        assert_eq!(r.recv().expect("at the maximum").len(), 1000);

        let mut over = 1001u64.to_le_bytes().to_vec();
        over.extend_from_slice(&[1u8; 1001]);
        let mut r = FramedReader::new(Cursor::new(over), 1000);
        match r.recv() {
            Err(RecvError::Corrupt(why)) => assert!(why.contains("1001"), "{why}"),
            other => panic!("expected Corrupt, got {:?}", other.map(<[u8]>::len)),
        }
    }

    #[test]
    fn inconsistent_length_desynchronises_into_corrupt() {
        // The header claims 3 bytes but 16 follow: the 13 left over are read
        // as the next header (a huge length) and rejected, not delivered.
        let mut data = 3u64.to_le_bytes().to_vec();
        data.extend_from_slice(b"abc");
        data.extend_from_slice(&[0xEEu8; 13]);
        let mut r = FramedReader::new(Cursor::new(data), 1 << 20);
        assert_eq!(r.recv().expect("the claimed 3 bytes"), b"abc");
        assert!(matches!(r.recv(), Err(RecvError::Corrupt(_))));
    }

    #[test]
    fn huge_claim_trickling_in_allocates_nothing_extra() {
        // Each length up to the 1 GiB maximum, then a few bytes and the end.
        for claimed in [1u64 << 30, (1 << 30) - 1, 1 << 24, u64::from(u32::MAX)] {
            let mut data = claimed.to_le_bytes().to_vec();
            data.extend_from_slice(&[5u8; 300]);
            let mut r = FramedReader::new(trickle(data, 7), 1 << 30);
            let err = r.recv().expect_err("truncated or too large");
            assert!(matches!(err, RecvError::Corrupt(_)), "{claimed}: {err}");
            assert_eq!(r.dec.capacity(), INITIAL_BUFFER, "{claimed}: buffer grew");
        }
    }

    #[test]
    fn frames_split_across_reads_and_interrupts_keep_boundaries() {
        let big = vec![3u8; 3 * INITIAL_BUFFER];
        let msgs: [&[u8]; 5] = [b"", b"x", &big, b"", b"tail"];
        for chunk in [1, 5, 8, 9, 4096] {
            let data = frames(&msgs);
            let mut r = FramedReader::new(trickle(data, chunk), 1 << 20);
            for m in msgs {
                assert_eq!(r.recv().expect("frame"), m, "chunk {chunk}");
            }
            assert!(matches!(r.recv(), Err(RecvError::Disconnected)));
        }
    }

    #[test]
    fn too_large_send_sends_nothing() {
        let mut w = FramedWriter::new(Vec::new(), 4);
        let err = w.send(b"12345").expect_err("too large");
        assert!(matches!(err, SendError::TooLarge { size: 5, max: 4 }));
        assert!(w.inner.is_empty());
    }

    #[test]
    fn duplex_halves_of_a_socket_pair_talk_both_ways() {
        use std::os::unix::net::UnixStream;
        let (a, b) = UnixStream::pair().expect("socketpair");
        let (mut aw, mut ar) = duplex(a, 16).expect("duplex a");
        let (mut bw, mut br) = duplex(b, 16).expect("duplex b");
        aw.send(b"ping").expect("send");
        assert_eq!(br.recv().expect("recv"), b"ping");
        bw.send(b"pong").expect("send");
        assert_eq!(ar.recv().expect("recv"), b"pong");
        assert!(matches!(aw.send(&[0; 17]), Err(SendError::TooLarge { .. })));
        // The writer's descriptor closing alone is not the end: the reader's
        // duplicate keeps the socket open until both are gone.
        drop(bw);
        aw.send(b"late").expect("send");
        assert_eq!(br.recv().expect("recv"), b"late");
        drop(br);
        assert!(matches!(ar.recv(), Err(RecvError::Disconnected)));
    }
}
