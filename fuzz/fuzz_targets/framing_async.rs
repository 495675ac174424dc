//! Differential fuzzing of the two frame readers: the tokio backends'
//! `transport_tokio::AsyncFramedReader` must parse every byte stream exactly
//! as the blocking `transport::framing::FramedReader` does (same frames,
//! same end: `Disconnected` or `Corrupt`), whatever the read-chunk sizes.
//! The blocking reader's own properties are checked by the `framing` target.
//!
//! Input: byte 0 the read-chunk size (0 = unlimited), bytes 1..5 the maximum
//! frame size, the rest the stream.

#![no_main]

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, ReadBuf};
use transport::RecvError;
use transport::framing::FramedReader;
use transport_tokio::AsyncFramedReader;

/// Hands out at most `chunk` bytes per read, blocking or async.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Trickle<'_> {
    fn next_chunk(&mut self, room: usize) -> &[u8] {
        let n = room.min(self.chunk).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let got = self.next_chunk(buf.len());
        buf[..got.len()].copy_from_slice(got);
        Ok(got.len())
    }
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let got = self.next_chunk(buf.remaining());
        buf.put_slice(got);
        Poll::Ready(Ok(()))
    }
}

/// One reader's account of a stream: its frames, then how it ended.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Frame(Vec<u8>),
    Disconnected,
    Corrupt(String),
}

fn end(e: RecvError) -> Event {
    match e {
        RecvError::Disconnected => Event::Disconnected,
        RecvError::Corrupt(why) => Event::Corrupt(why),
        other => panic!("unexpected error from an in-memory stream: {other}"),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&chunk, rest)) = input.split_first() else {
        return;
    };
    let Some((max_bytes, stream)) = rest.split_at_checked(4) else {
        return;
    };
    let max = u32::from_le_bytes(max_bytes.try_into().unwrap_or([0; 4])) as usize;
    let chunk = if chunk == 0 {
        usize::MAX
    } else {
        usize::from(chunk)
    };

    let mut blocking = Vec::new();
    let mut r = FramedReader::new(
        Trickle {
            data: stream,
            chunk,
        },
        max,
    );
    loop {
        match r.recv() {
            Ok(f) => blocking.push(Event::Frame(f.to_vec())),
            Err(e) => {
                blocking.push(end(e));
                break;
            }
        }
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let asynchronous = rt.block_on(async {
        let mut events = Vec::new();
        let mut r = AsyncFramedReader::new(
            Trickle {
                data: stream,
                chunk,
            },
            max,
        );
        loop {
            match r.next_frame().await {
                Ok(range) => events.push(Event::Frame(r.frame(range).to_vec())),
                Err(e) => {
                    events.push(end(e));
                    break;
                }
            }
        }
        events
    });
    assert_eq!(blocking, asynchronous, "the two readers disagree");
});
