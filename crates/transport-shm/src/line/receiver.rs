//! `shm-line`'s receiver: polls the peer's slot of the shared line and the
//! incoming ring, and hands out whichever holds the next message: the slot
//! when its `before` equals the ring messages taken so far, else the ring.
//! Slot messages are copied out (at most 24 bytes), ring messages are lent
//! in place or reassembled, as in `shm-spin`.
//!
//! Order. The sender puts a message in the slot only after every earlier
//! slot message was taken, and stamps it with the ring messages sent before
//! it, so a slot message whose `before` matches is always the next one. A
//! ring record found while the slot looked empty may still come after a slot
//! message whose store we had not yet seen: the record's Acquire makes
//! everything the sender stored before it visible, so the slot is read again
//! after every record, and if it now holds the next message the record is
//! held back (still reserved, not released) for the following call.

use std::sync::Arc;
use std::sync::atomic::Ordering::Release;

use transport::RecvError;

use super::slot::{BODY, BadSlot, LineRx};
use super::{Shared, check_due};
use crate::ring::{Consumer, Corrupt, MemRing, Record, kind};
use crate::wait::CLOSE_CHECK_EVERY;

/// What one poll found.
enum Got {
    /// The peer's slot holds the next message; its `ctl`.
    Line(u64),
    /// The next ring record.
    Ring(Record),
}

/// Receives this side's messages from the line and the ring.
#[derive(Debug)]
pub struct ShmLineReceiver {
    cons: Consumer<MemRing>,
    line: LineRx,
    /// Ring messages taken so far (a chunked message counts once).
    ring_taken: u64,
    /// A ring record popped after a slot message that came before it.
    held: Option<Record>,
    /// The last slot message, copied out of the line.
    small: [u8; BODY],
    /// Reassembly buffer for chunked messages, reused across messages.
    buf: Vec<u8>,
    /// Set after corruption: the stream cannot be resynchronised.
    poisoned: Option<String>,
    /// The last `recv` waited for its message: the next one polls the ring
    /// with a claiming poll, as `shm-spin` does.
    waited: bool,
    /// The mapping, the peer, and what we have taken from the line (for the
    /// sender's acknowledgements).
    shared: Arc<Shared>,
}

impl ShmLineReceiver {
    pub(super) fn new(cons: Consumer<MemRing>, line: LineRx, shared: Arc<Shared>) -> Self {
        Self {
            cons,
            line,
            ring_taken: 0,
            held: None,
            small: [0; BODY],
            buf: Vec::new(),
            poisoned: None,
            waited: false,
            shared,
        }
    }

    #[cold]
    #[inline(never)]
    fn poison(&mut self, why: String) -> RecvError {
        self.poisoned = Some(why.clone());
        RecvError::Corrupt(why)
    }

    /// Copies the slot message out and tells our sender it may acknowledge it.
    #[inline(always)]
    fn take_line(&mut self, ctl: u64) -> Result<&[u8], RecvError> {
        match self.line.take(ctl, &mut self.small) {
            Ok(len) => {
                // Release: our reads of the slot happen before our sender
                // publishes the acknowledgement (it loads this with Acquire).
                self.shared.line_taken.store(self.line.taken(), Release);
                Ok(&self.small[..len])
            }
            Err(BadSlot(why)) => Err(self.poison(why)),
        }
    }

    /// A ring record was found: the slot comes first if it now holds the
    /// next message (see the module docs), else the record is the message.
    #[inline(always)]
    fn take_ring(&mut self, rec: Record) -> Result<&[u8], RecvError> {
        if let Some(ctl) = self.line.poll(self.ring_taken) {
            self.held = Some(rec);
            return self.take_line(ctl);
        }
        self.deliver(rec)
    }

    /// Hands out a ring record as a message.
    #[inline(always)]
    fn deliver(&mut self, rec: Record) -> Result<&[u8], RecvError> {
        self.ring_taken += 1;
        match rec.kind {
            // SAFETY: the record stays reserved until the next `release`,
            // which happens in the next call (never while a record is
            // held); the `&mut self` borrow keeps the caller from making
            // that call while holding the slice.
            kind::MSG => Ok(unsafe { self.cons.mem().bytes(rec.off, rec.len) }),
            kind::BEGIN => self.reassemble(rec.len),
            k => Err(self.poison(format!("record kind {k} outside a chunked message"))),
        }
    }

    /// The calls `recv` does not handle inline: a poisoned stream, a held
    /// record.
    #[cold]
    #[inline(never)]
    fn recv_other(&mut self) -> Result<&[u8], RecvError> {
        if let Some(why) = &self.poisoned {
            return Err(RecvError::Corrupt(why.clone()));
        }
        match self.held.take() {
            Some(rec) => self.deliver(rec),
            None => Err(RecvError::Backend("no held record".into())),
        }
    }

    /// Waits for the next message after `polls` inline polls: the close
    /// flag every [`CLOSE_CHECK_EVERY`] polls, the peer's liveness and the
    /// ring's tail every 10 ms; on close or death, what was sent before is
    /// drained first.
    #[cold]
    #[inline(never)]
    fn wait(&mut self, mut polls: u32) -> Result<Got, RecvError> {
        let mut last_check = None;
        loop {
            if let Some(got) = self.poll(true)? {
                return Ok(got);
            }
            polls = polls.wrapping_add(1);
            if polls.is_multiple_of(CLOSE_CHECK_EVERY) {
                let mut dead = false;
                if check_due(&mut last_check) {
                    if let Err(c) = self.cons.check_tail() {
                        return Err(self.poison(c.0));
                    }
                    dead = !self.shared.link.peer.alive();
                }
                if dead || self.cons.producer_closed() {
                    return match self.poll(false)? {
                        Some(got) => Ok(got),
                        None => Err(RecvError::Disconnected),
                    };
                }
            }
            core::hint::spin_loop();
        }
    }

    /// One poll of the slot, then of the ring.
    #[inline(always)]
    fn poll(&mut self, claim: bool) -> Result<Option<Got>, RecvError> {
        if let Some(ctl) = self.line.poll(self.ring_taken) {
            return Ok(Some(Got::Line(ctl)));
        }
        match self.cons.try_pop_as(claim) {
            Ok(Some(rec)) => Ok(Some(Got::Ring(rec))),
            Ok(None) => Ok(None),
            Err(Corrupt(why)) => Err(self.poison(why)),
        }
    }

    /// Reassembles a chunked message of `total` bytes (its `BEGIN` taken).
    #[inline(never)]
    fn reassemble(&mut self, total: usize) -> Result<&[u8], RecvError> {
        self.buf.clear();
        // Reserve what a ring's worth of chunks can prove, not what the header
        // claims: the rest grows as bytes actually arrive.
        let ring = self.shared.link.seg.ring_size();
        self.buf.reserve(total.min(2 * ring));
        while self.buf.len() < total {
            self.cons.release();
            let rec = match self.cons.try_pop() {
                Ok(Some(r)) => r,
                Ok(None) => match self.wait_chunk()? {
                    Some(r) => r,
                    None => return Err(RecvError::Disconnected),
                },
                Err(c) => return Err(self.poison(c.0)),
            };
            let left = total - self.buf.len();
            if rec.kind != kind::CHUNK || rec.len == 0 || rec.len > left {
                return Err(self.poison(format!(
                    "expected a chunk of at most {left} bytes, got record kind {} of {} bytes",
                    rec.kind, rec.len
                )));
            }
            // SAFETY: the record was just handed out and is released only by
            // the next `release`, after this copy.
            let chunk = unsafe { self.cons.mem().bytes(rec.off, rec.len) };
            self.buf.extend_from_slice(chunk);
        }
        self.cons.release();
        Ok(&self.buf)
    }

    /// Waits for the next chunk (chunks only come through the ring).
    fn wait_chunk(&mut self) -> Result<Option<Record>, RecvError> {
        let mut last_check = None;
        let mut polls: u32 = 0;
        loop {
            match self.cons.try_pop() {
                Ok(Some(r)) => return Ok(Some(r)),
                Ok(None) => {}
                Err(c) => return Err(self.poison(c.0)),
            }
            polls = polls.wrapping_add(1);
            if polls.is_multiple_of(CLOSE_CHECK_EVERY)
                && (self.cons.producer_closed()
                    || (check_due(&mut last_check) && !self.shared.link.peer.alive()))
            {
                return self.cons.try_pop().map_err(|c| self.poison(c.0));
            }
            core::hint::spin_loop();
        }
    }
}

impl transport::Receiver for ShmLineReceiver {
    #[inline(always)]
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        if self.poisoned.is_some() || self.held.is_some() {
            return self.recv_other();
        }
        // The ring message lent by the previous call is given back only now.
        self.cons.release();
        let mut claim = self.waited;
        let mut polls: u32 = 0;
        let got = loop {
            match self.poll(claim) {
                Ok(Some(got)) => break Ok(got),
                Ok(None) if polls < CLOSE_CHECK_EVERY - 1 => {
                    polls += 1;
                    claim = true;
                    core::hint::spin_loop();
                }
                Ok(None) => break self.wait(polls),
                Err(e) => break Err(e),
            }
        };
        self.waited = polls > 0;
        match got? {
            Got::Line(ctl) => self.take_line(ctl),
            Got::Ring(rec) => self.take_ring(rec),
        }
    }
}

impl Drop for ShmLineReceiver {
    fn drop(&mut self) {
        self.cons.close();
    }
}
