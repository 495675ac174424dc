//! `shm-line`'s sender: a message of at most [`BODY`] bytes goes into this
//! side's slot of the shared line when the peer has taken the previous one,
//! anything else into the ring (chunked above half the ring), exactly as
//! `shm-spin` sends it.

use std::sync::Arc;
use std::sync::atomic::Ordering::Acquire;

use transport::SendError;

use super::slot::{BODY, LineTx};
use super::{Shared, check_due};
use crate::MAX_MESSAGE;
use crate::ring::{Corrupt, MemRing, Producer, Push, kind};
use crate::wait::CLOSE_CHECK_EVERY;

/// Sends this side's messages: small ones through the line, the rest
/// through the ring.
#[derive(Debug)]
pub struct ShmLineSender {
    prod: Producer<MemRing>,
    line: LineTx,
    /// Ring messages sent so far (a chunked message counts once).
    ring_sent: u64,
    /// The mapping, the peer, and what our receiver has taken from the line.
    shared: Arc<Shared>,
}

impl ShmLineSender {
    pub(super) fn new(prod: Producer<MemRing>, line: LineTx, shared: Arc<Shared>) -> Self {
        Self {
            prod,
            line,
            ring_sent: 0,
            shared,
        }
    }

    /// A message for the ring: one record, or `BEGIN` and chunks.
    #[inline(always)]
    fn send_ring(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > self.prod.max_inline() {
            self.send_chunked(msg)?;
        } else {
            if self.prod.consumer_closed() {
                return Err(SendError::Disconnected);
            }
            // Fits the record's u32: at most half a ring of at most 1 GiB.
            match self.prod.try_push(kind::MSG, msg.len() as u32, msg) {
                Ok(Push::Done) => {}
                other => self.push_other(other, kind::MSG, msg.len() as u32, msg)?,
            }
        }
        self.ring_sent += 1;
        // A reply through the ring still acknowledges what we took from the
        // line, so the peer's next small message can use it again.
        let taken = self.shared.line_taken.load(Acquire);
        if taken != self.line.acked() {
            self.line.publish_ack(taken);
        }
        Ok(())
    }

    /// Anything but a record published at the first try: padding at the end
    /// of a lap (then retry), a full ring (wait, spinning), or corruption.
    #[cold]
    #[inline(never)]
    fn push_other(
        &mut self,
        mut got: Result<Push, Corrupt>,
        kind: u32,
        len: u32,
        body: &[u8],
    ) -> Result<(), SendError> {
        let mut polls: u32 = 0;
        let mut last_check = None;
        loop {
            match got {
                Ok(Push::Done) => return Ok(()),
                Ok(Push::Padded) => {}
                Ok(Push::Full) => {
                    polls = polls.wrapping_add(1);
                    if polls.is_multiple_of(CLOSE_CHECK_EVERY)
                        && (self.prod.consumer_closed()
                            || (check_due(&mut last_check) && !self.shared.link.peer.alive()))
                    {
                        return Err(SendError::Disconnected);
                    }
                    core::hint::spin_loop();
                }
                Err(c) => return Err(corrupt(c)),
            }
            got = self.prod.try_push(kind, len, body);
        }
    }

    /// A message above the ring's one-record limit, as in `shm-spin`.
    #[inline(never)]
    fn send_chunked(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > MAX_MESSAGE {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: MAX_MESSAGE,
            });
        }
        if self.prod.consumer_closed() {
            return Err(SendError::Disconnected);
        }
        // MAX_MESSAGE < 2^32, so the length fits the record's u32.
        self.push(kind::BEGIN, msg.len() as u32, &[])?;
        for chunk in msg.chunks(self.prod.chunk_payload()) {
            self.push(kind::CHUNK, chunk.len() as u32, chunk)?;
        }
        Ok(())
    }

    fn push(&mut self, kind: u32, len: u32, body: &[u8]) -> Result<(), SendError> {
        let got = self.prod.try_push(kind, len, body);
        self.push_other(got, kind, len, body)
    }
}

fn corrupt(c: Corrupt) -> SendError {
    SendError::Backend(format!("corrupt ring from peer: {c}"))
}

impl transport::Sender for ShmLineSender {
    #[inline(always)]
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() <= BODY && self.line.free() {
            if self.prod.consumer_closed() {
                return Err(SendError::Disconnected);
            }
            // Acquire: pairs with our receiver's Release store; its reads of
            // the peer's slot happen before the peer learns it may reuse it.
            let taken = self.shared.line_taken.load(Acquire);
            self.line.publish(msg, taken, self.ring_sent);
            return Ok(());
        }
        self.send_ring(msg)
    }
}

impl Drop for ShmLineSender {
    fn drop(&mut self) {
        // The ring's close flag covers the line too: the receiver drains
        // both before it reports the end.
        self.prod.close();
    }
}
