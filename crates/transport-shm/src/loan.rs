//! Loans on the ring: a record reserved at the producer's tail whose body
//! the caller writes in place, then published like any other one-record
//! message (and lent in place to the receiver), so a message travels with no
//! copy at all. The largest loan is the largest one-record body, half the
//! ring ([`crate::ring::Producer::max_inline`]); the ring is sized from
//! `Options::expected_max_message` so a loan of that size fits
//! ([`crate::ring_size_for`]).

use transport::SendError;

use crate::Wait;
use crate::channel::{ShmSender, corrupt};
use crate::ring::{Push, kind};

impl<W: Wait> ShmSender<W> {
    /// Reserves a record for a body of `len` bytes (`len <= max_inline`,
    /// checked by `transport::Sender::loan`), waiting for room as `send`
    /// does. Nothing the consumer reads is written.
    #[inline]
    pub(crate) fn reserve(&mut self, len: usize) -> Result<(), SendError> {
        if self.prod.consumer_closed() {
            return Err(SendError::Disconnected);
        }
        match self.prod.try_reserve(len) {
            Ok(Push::Done) => {}
            Err(c) => return Err(corrupt(c)),
            Ok(_) => self.wait_for_room(|p| p.try_reserve(len), false)?,
        }
        self.loan = Some(len);
        Ok(())
    }

    /// The open loan's body (empty when none is open).
    #[inline]
    pub(crate) fn reserved_bytes(&mut self) -> &mut [u8] {
        let Some(len) = self.loan else {
            return &mut [];
        };
        let off = self.prod.reserved_body();
        // SAFETY: `reserve` reserved `[off, off + len)` at the tail and
        // nothing has moved the tail since (a loan borrows the sender
        // mutably, so no send or second loan can run); the consumer does
        // not read it before it is published, and the `&mut self` borrow
        // keeps a second slice from existing while this one lives.
        unsafe { self.prod.mem().bytes_mut(off, len) }
    }

    /// Publishes the open loan as one message and wakes the consumer.
    #[inline]
    pub(crate) fn publish_reserved(&mut self) -> Result<(), SendError> {
        let Some(len) = self.loan.take() else {
            return Err(SendError::Backend("no loan is open".into()));
        };
        if self.prod.consumer_closed() {
            return Err(SendError::Disconnected);
        }
        self.prod
            .publish_reserved(kind::MSG, len)
            .map_err(corrupt)?;
        self.notify();
        Ok(())
    }
}
