//! Fuzzes `transport::framing::FramedReader`, the parser every stream-framed
//! backend (pipe, uds, tcp, interprocess, tokio) runs on bytes from its peer.
//!
//! Input: byte 0 picks the mode and the read-chunk pattern, bytes 1..5 the
//! maximum frame size, the rest is the stream. Mode "parse" feeds the stream
//! as is; mode "round trip" cuts it into messages, frames them with
//! `FramedWriter` and checks they come back identical. Checked: no panic;
//! every frame is at most the maximum and lies within the bytes received;
//! the end is `Disconnected` (clean) or `Corrupt` (inside a frame), never
//! another error; and no allocation is much larger than the input, whatever
//! a header claims.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use libfuzzer_sys::fuzz_target;
use transport::RecvError;
use transport::framing::{FramedReader, FramedWriter, HEADER_LEN};

/// Records the largest single allocation, to catch a reader that reserves
/// what a header claims instead of what arrived.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Relaxed);
        // SAFETY: same layout, same contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Relaxed);
        // SAFETY: same contract as `GlobalAlloc::realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The reader's first buffer (framing's `INITIAL_BUFFER`).
const INITIAL_BUFFER: usize = 128 * 1024;

/// A byte stream that hands out at most `chunk` bytes per read, like a pipe
/// delivering a frame in pieces, and sometimes reports `Interrupted`.
struct Trickle<'a> {
    data: &'a [u8],
    pos: usize,
    chunk: usize,
    interrupt_every: usize,
    reads: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.interrupt_every > 0 && self.reads.is_multiple_of(self.interrupt_every) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let Some((max_bytes, stream)) = rest.split_at_checked(4) else {
        return;
    };
    let max = u32::from_le_bytes(max_bytes.try_into().unwrap_or([0; 4])) as usize;
    let chunk = match mode & 0x0f {
        0 => usize::MAX,
        c => usize::from(c),
    };
    // Never every read: a stream that is always interrupted never progresses.
    let interrupt_every = [0, 2, 3, 5][usize::from((mode >> 4) & 0x3)];
    LARGEST.store(0, Relaxed);

    if mode & 0x80 == 0 {
        parse(stream, max, chunk, interrupt_every);
    } else {
        round_trip(stream, max, chunk);
    }

    let largest = LARGEST.load(Relaxed);
    assert!(
        largest <= 2 * INITIAL_BUFFER + 32 * input.len(),
        "an allocation of {largest} bytes for {} input bytes",
        input.len()
    );
});

fn parse(stream: &[u8], max: usize, chunk: usize, interrupt_every: usize) {
    let src = Trickle {
        data: stream,
        pos: 0,
        chunk,
        interrupt_every,
        reads: 0,
    };
    let mut r = FramedReader::new(src, max);
    let mut consumed = 0usize;
    loop {
        match r.recv() {
            Ok(frame) => {
                assert!(frame.len() <= max, "frame of {} > max {max}", frame.len());
                consumed += HEADER_LEN + frame.len();
                assert!(consumed <= stream.len(), "frames exceed the bytes sent");
                // The frame is exactly the bytes after its header.
                assert_eq!(frame, &stream[consumed - frame.len()..consumed]);
            }
            Err(RecvError::Disconnected) => {
                assert_eq!(consumed, stream.len(), "clean end with bytes left over");
                return;
            }
            Err(RecvError::Corrupt(why)) => {
                assert!(!why.is_empty());
                return;
            }
            Err(e) => panic!("unexpected error from an in-memory stream: {e}"),
        }
    }
}

fn round_trip(stream: &[u8], max: usize, chunk: usize) {
    // Cut the stream into messages at each 0xFF byte.
    let msgs: Vec<&[u8]> = stream.split(|&b| b == 0xff).collect();
    let mut w = FramedWriter::new(Vec::new(), max);
    let mut sent = Vec::new();
    for m in &msgs {
        match w.send(m) {
            Ok(()) => sent.push(*m),
            Err(transport::SendError::TooLarge { size, max: m_max }) => {
                assert!(size > max && m_max == max);
            }
            Err(e) => panic!("send to a Vec: {e}"),
        }
    }
    let wire = w.get_ref().clone();
    let src = Trickle {
        data: &wire,
        pos: 0,
        chunk,
        interrupt_every: 0,
        reads: 0,
    };
    let mut r = FramedReader::new(src, max);
    for m in sent {
        let got = r.recv().expect("a frame we wrote");
        assert_eq!(got, m);
    }
    assert!(matches!(r.recv(), Err(RecvError::Disconnected)));
}
