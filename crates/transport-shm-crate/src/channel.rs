//! The sending and receiving halves: one slot per direction, filled by the
//! writer after `empty` is signalled and copied out by the reader after
//! `full`; a message larger than the slot goes through it in chunks.

use std::sync::Arc;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::fence;

use transport::process::PeerProcess;
use transport::{RecvError, SendError};

use crate::MAX_MESSAGE;
use crate::segment::{Error, Event, Segment, Which};
use crate::wait::{self, Woke};

/// What both halves of one side share.
#[derive(Debug)]
pub struct Link {
    pub seg: Segment,
    pub peer: PeerProcess,
}

/// Sends into direction `dir`'s slot.
#[derive(Debug)]
pub struct ShmCrateSender {
    full: Event,
    empty: Event,
    dir: usize,
    link: Arc<Link>,
}

/// Receives from direction `dir`'s slot into a private buffer.
#[derive(Debug)]
pub struct ShmCrateReceiver {
    full: Event,
    empty: Event,
    dir: usize,
    buf: Vec<u8>,
    /// Set once the peer wrote something inconsistent: the slot protocol is
    /// then in an unknown state, so every later call fails the same way.
    poisoned: Option<String>,
    link: Arc<Link>,
}

/// The two halves of side `side` (0: listener, which sends on direction 0).
pub fn halves(link: Link, side: usize) -> Result<(ShmCrateSender, ShmCrateReceiver), Error> {
    let link = Arc::new(link);
    let (out, back) = (side & 1, 1 - (side & 1));
    let seg = &link.seg;
    let tx = ShmCrateSender {
        full: seg.event(out, Which::Full)?,
        empty: seg.event(out, Which::Empty)?,
        dir: out,
        link: Arc::clone(&link),
    };
    let rx = ShmCrateReceiver {
        full: seg.event(back, Which::Full)?,
        empty: seg.event(back, Which::Empty)?,
        dir: back,
        buf: Vec::new(),
        poisoned: None,
        link,
    };
    Ok((tx, rx))
}

impl transport::Sender for ShmCrateSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > MAX_MESSAGE {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: MAX_MESSAGE,
            });
        }
        let seg = &self.link.seg;
        let ctrl = seg.ctrl(self.dir);
        if ctrl.reader_closed.load(Acquire) != 0 {
            return Err(SendError::Disconnected);
        }
        let slot = seg.slot_size();
        let mut off = 0;
        loop {
            let len = (msg.len() - off).min(slot);
            if wait::wait(&self.empty, &ctrl.reader_closed, &self.link.peer) == Woke::Gone {
                return Err(SendError::Disconnected);
            }
            // Acquire: pairs with the reader's Release fence before it set
            // `empty` (raw_sync's events are Relaxed), so its copy is done.
            fence(Acquire);
            // Relaxed: published by the Release fence below.
            ctrl.total.store(msg.len() as u64, Relaxed);
            ctrl.len.store(len as u64, Relaxed);
            // SAFETY: `off + len <= msg.len()` and `len <= slot_size`, the
            // slot's size; the taken `empty` event gives us the slot until we
            // set `full` (a hostile reader writing it anyway only changes
            // bytes it will receive).
            unsafe {
                std::ptr::copy_nonoverlapping(msg.as_ptr().add(off), seg.slot(self.dir), len);
            }
            // Release: the chunk and its lengths before `full` is seen.
            fence(Release);
            self.full.signal().map_err(SendError::Backend)?;
            off += len;
            if off == msg.len() {
                return Ok(());
            }
        }
    }
}

impl Drop for ShmCrateSender {
    fn drop(&mut self) {
        // Release: the last chunk's `full` is visible to a reader that sees
        // the flag.
        self.link.seg.ctrl(self.dir).writer_closed.store(1, Release);
    }
}

/// Checks a chunk's lengths against the slot, the maximum and the message
/// it continues (`expected`, with `got` bytes so far).
fn check_chunk(
    total: u64,
    len: u64,
    slot: usize,
    expected: Option<u64>,
    got: usize,
) -> Result<(), String> {
    if total > MAX_MESSAGE as u64 {
        return Err(format!(
            "header claims a message of {total} bytes, the maximum is {MAX_MESSAGE}"
        ));
    }
    if len > slot as u64 {
        return Err(format!(
            "header claims a chunk of {len} bytes in a slot of {slot}"
        ));
    }
    if expected.is_some_and(|t| t != total) {
        return Err(format!(
            "message length changed from {} to {total} mid-message",
            expected.unwrap_or_default()
        ));
    }
    let left = total.saturating_sub(got as u64);
    if len > left || (len == 0 && left > 0) {
        return Err(format!(
            "chunk of {len} bytes where {left} of {total} remain"
        ));
    }
    Ok(())
}

impl transport::Receiver for ShmCrateReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        if let Some(why) = &self.poisoned {
            return Err(RecvError::Corrupt(why.clone()));
        }
        let seg = &self.link.seg;
        let ctrl = seg.ctrl(self.dir);
        self.buf.clear();
        let mut expected = None;
        loop {
            if wait::wait(&self.full, &ctrl.writer_closed, &self.link.peer) == Woke::Gone {
                // A partial message is dropped: only whole ones are handed out.
                return Err(RecvError::Disconnected);
            }
            // Acquire: pairs with the writer's Release fence before `full`.
            fence(Acquire);
            let (total, len) = (ctrl.total.load(Relaxed), ctrl.len.load(Relaxed));
            if let Err(why) = check_chunk(total, len, seg.slot_size(), expected, self.buf.len()) {
                self.poisoned = Some(why.clone());
                return Err(RecvError::Corrupt(why));
            }
            // Checked above: `len <= slot_size`.
            let len = len as usize;
            let old = self.buf.len();
            self.buf.reserve(len);
            // SAFETY: the source is inside the slot (`len <= slot_size`), the
            // destination has `len` bytes reserved after `old`, and every
            // byte value is a valid `u8`; the taken `full` event gives us the
            // slot until we set `empty`.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    seg.slot(self.dir),
                    self.buf.as_mut_ptr().add(old),
                    len,
                );
                self.buf.set_len(old + len);
            }
            // Release: our copy is done before the writer reuses the slot.
            fence(Release);
            self.empty.signal().map_err(RecvError::Backend)?;
            if self.buf.len() as u64 == total {
                return Ok(&self.buf);
            }
            expected = Some(total);
        }
    }
}

impl Drop for ShmCrateReceiver {
    fn drop(&mut self) {
        self.link.seg.ctrl(self.dir).reader_closed.store(1, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_lengths_are_checked() {
        let slot = 1 << 16;
        assert!(check_chunk(0, 0, slot, None, 0).is_ok());
        assert!(check_chunk(100, 100, slot, None, 0).is_ok());
        assert!(check_chunk(1 << 20, slot as u64, slot, Some(1 << 20), slot).is_ok());
        let bad = [
            (u64::MAX, 1, None, 0),
            (MAX_MESSAGE as u64 + 1, 1, None, 0),
            (1 << 20, slot as u64 + 1, None, 0),
            (100, 101, None, 0),
            (100, 10, Some(200), 0),
            (100, 0, None, 0),
            (100, 60, Some(100), 50),
        ];
        for (total, len, expected, got) in bad {
            assert!(
                check_chunk(total, len, slot, expected, got).is_err(),
                "{total} {len} {expected:?} {got} accepted"
            );
        }
    }
}
