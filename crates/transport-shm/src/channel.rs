//! The halves handed to callers: a sender that turns messages into records
//! (chunking large ones) and waits for space, and a receiver that lends
//! records in place or reassembles chunks, both waiting per the strategy and
//! watching the peer while they wait.

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use transport::{RecvError, SendError};

use crate::ring::{Consumer, MemRing, Producer, Push, Record, kind};
use crate::segment::Segment;
use crate::wait::{self, Backoff, CLOSE_CHECK_EVERY, LIVENESS_PERIOD, Mode, Peer, Step};
use crate::{MAX_MESSAGE, Wait};

/// What both halves of one side share: the mapping and the peer's identity.
#[derive(Debug)]
pub(crate) struct Link {
    pub seg: Segment,
    pub peer: Peer,
    /// 0 for the listener, 1 for the connector: we send on ring `side` and
    /// receive on ring `1 - side`.
    pub side: usize,
    /// Whether the receiver checks the producer's published `tail` against
    /// its head while it waits: a broadcast's subscriber cannot, its
    /// control block's `tail` is unused (the publisher's is elsewhere).
    pub checks_tail: bool,
    /// A broadcast's subscriber: its slot in the table, whose fellow
    /// subscribers' CPU hints it reads too (`None` on a connection).
    pub subscriber: Option<usize>,
}

impl Link {
    /// Records the CPU we wait on and tells whether the peer (or, for a
    /// broadcast's subscriber, a fellow subscriber) last waited on the same
    /// one (adaptive mode only; a hint, may be stale). Whoever shares our
    /// CPU is kept off it while we spin: the publisher's next message waits
    /// for the fellow's acknowledgement, so we yield at once instead.
    fn same_core(&self, mode: Mode) -> bool {
        if mode != Mode::Adaptive {
            return false;
        }
        let me = wait::current_cpu();
        let hints = &self.seg.header().cpu;
        let mine = &hints[self.side & 1].0;
        // Relaxed throughout: a scheduling hint, nothing is published with it.
        // Written only when it changes, so the line stays shared in both caches.
        if mine.load(Relaxed) != me {
            mine.store(me, Relaxed);
        }
        hints[(self.side & 1) ^ 1].0.load(Relaxed) == me
            || self
                .subscriber
                .is_some_and(|i| self.seg.bcast_table().is_some_and(|t| t.fellow_on(i, me)))
    }

    /// Whether a liveness check of the peer is due, at most every
    /// [`LIVENESS_PERIOD`]; `last` is the time of the previous check of this
    /// wait (the first call only starts the clock, so a short wait costs no
    /// system call).
    fn check_due(last: &mut Option<Instant>) -> bool {
        let now = Instant::now();
        match *last {
            Some(t) if now.duration_since(t) < LIVENESS_PERIOD => false,
            Some(_) => {
                *last = Some(now);
                true
            }
            None => {
                *last = Some(now);
                false
            }
        }
    }
}

/// Splits a link into this side's sender and receiver.
pub(crate) fn halves<W: Wait>(link: Link) -> (ShmSender<W>, ShmReceiver<W>) {
    let link = Arc::new(link);
    let tx_ring = link.seg.ring(link.side);
    let rx_ring = link.seg.ring(link.side ^ 1);
    (
        ShmSender {
            prod: Producer::new(tx_ring),
            link: Arc::clone(&link),
            loan: None,
            _wait: PhantomData,
        },
        receiver_on(link, rx_ring),
    )
}

/// A receiver alone, reading `ring` (in `link`'s segment): a broadcast's
/// subscriber.
pub(crate) fn receiver<W: Wait>(link: Link, ring: MemRing) -> ShmReceiver<W> {
    receiver_on(Arc::new(link), ring)
}

fn receiver_on<W: Wait>(link: Arc<Link>, ring: MemRing) -> ShmReceiver<W> {
    ShmReceiver {
        cons: Consumer::new(ring, MAX_MESSAGE),
        link,
        buf: Vec::new(),
        poisoned: None,
        failure: None,
        waited: false,
        _wait: PhantomData,
    }
}

/// Sends messages into this side's outgoing ring.
#[derive(Debug)]
pub struct ShmSender<W> {
    pub(crate) prod: Producer<MemRing>,
    /// Keeps the mapping `prod` points into alive.
    pub(crate) link: Arc<Link>,
    /// The body size of the open loan's reserved record (see `loan.rs`).
    pub(crate) loan: Option<usize>,
    _wait: PhantomData<W>,
}

impl<W: Wait> ShmSender<W> {
    /// Wakes the consumer if it announced it sleeps.
    #[inline]
    pub(crate) fn notify(&self) {
        if W::MODE.notifies() && self.prod.consumer_sleeping() {
            wait::futex_wake(self.prod.peer_waiting_word());
        }
    }

    #[inline(always)]
    fn push(&mut self, kind: u32, len: u32, body: &[u8]) -> Result<(), SendError> {
        match self.prod.try_push(kind, len, body) {
            Ok(Push::Done) => {
                self.notify();
                Ok(())
            }
            other => self.push_other(other, kind, len, body),
        }
    }

    /// Anything but a record published at the first try: padding at the end
    /// of a lap (then retry), a full ring, or corruption. Out of line so the
    /// fast path has no loop to hoist values out of.
    #[cold]
    #[inline(never)]
    fn push_other(
        &mut self,
        mut got: Result<Push, crate::ring::Corrupt>,
        kind: u32,
        len: u32,
        body: &[u8],
    ) -> Result<(), SendError> {
        loop {
            match got {
                Ok(Push::Done) => {
                    self.notify();
                    return Ok(());
                }
                Ok(Push::Padded) => self.notify(),
                Ok(Push::Full) => return self.push_slow(kind, len, body),
                Err(c) => return Err(corrupt(c)),
            }
            got = self.prod.try_push(kind, len, body);
        }
    }

    /// The ring is full: wait for the consumer per the strategy.
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, kind: u32, len: u32, body: &[u8]) -> Result<(), SendError> {
        self.wait_for_room(|p| p.try_push(kind, len, body), true)
    }

    /// Repeats `attempt` (a push, or a loan's reservation) until it is
    /// `Done`, waiting for the consumer per the strategy while the ring is
    /// full and watching the peer. `publishes`: a `Done` attempt has
    /// published a record, so the consumer is woken.
    #[inline(always)]
    pub(crate) fn wait_for_room(
        &mut self,
        mut attempt: impl FnMut(&mut Producer<MemRing>) -> Result<Push, crate::ring::Corrupt>,
        publishes: bool,
    ) -> Result<(), SendError> {
        let mut backoff = Backoff::new(W::MODE, self.link.same_core(W::MODE));
        let mut last_check = None;
        loop {
            match attempt(&mut self.prod).map_err(corrupt)? {
                Push::Done => {
                    if publishes {
                        self.notify();
                    }
                    return Ok(());
                }
                Push::Padded => {
                    self.notify();
                    continue;
                }
                Push::Full => {}
            }
            let step = backoff.step();
            if (step != Step::Spin || backoff.polls().is_multiple_of(CLOSE_CHECK_EVERY))
                && (self.prod.consumer_closed()
                    || (Link::check_due(&mut last_check) && !self.link.peer.alive()))
            {
                return Err(SendError::Disconnected);
            }
            match step {
                Step::Spin => core::hint::spin_loop(),
                Step::Yield => rustix::thread::sched_yield(),
                Step::Sleep => {
                    self.prod.announce_sleep();
                    match attempt(&mut self.prod).map_err(corrupt)? {
                        Push::Full => {
                            wait::futex_wait(self.prod.waiting_word(), 1, wait::SLEEP_SLICE)
                        }
                        Push::Done => {
                            self.prod.cancel_sleep();
                            if publishes {
                                self.notify();
                            }
                            return Ok(());
                        }
                        Push::Padded => self.notify(),
                    }
                    self.prod.cancel_sleep();
                }
            }
        }
    }
}

pub(crate) fn corrupt(c: crate::ring::Corrupt) -> SendError {
    SendError::Backend(format!("corrupt ring from peer: {c}"))
}

impl<W: Wait> ShmSender<W> {
    /// A message above [`Producer::max_inline`]: checked against the maximum,
    /// then sent as `BEGIN` and chunks. Out of line so the one-record path of
    /// `send` stays small enough to inline the ring's fast path.
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
}

// `send` relies on it: whatever fits one record is within the maximum.
const _: () = assert!(crate::ring::MAX_SIZE / 2 <= MAX_MESSAGE);

impl<W: Wait> transport::Sender for ShmSender<W> {
    // Inlined into the caller's loop: the one-record path is a few dozen
    // instructions, everything else is out of line.
    #[inline(always)]
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        // `max_inline` is below half the largest ring, itself at most
        // MAX_MESSAGE (asserted above): a message sent whole needs no other
        // size check.
        if msg.len() > self.prod.max_inline() {
            return self.send_chunked(msg);
        }
        if self.prod.consumer_closed() {
            return Err(SendError::Disconnected);
        }
        // Fits the record's u32: at most half a ring of at most 1 GiB.
        self.push(kind::MSG, msg.len() as u32, msg)
    }

    // Loans: a record reserved in the ring, written in place (`loan.rs`).
    #[inline]
    fn max_loan(&self) -> usize {
        self.prod.max_inline()
    }

    #[inline]
    fn loan_begin(&mut self, len: usize) -> Result<(), SendError> {
        self.reserve(len)
    }

    #[inline]
    fn loan_bytes(&mut self) -> &mut [u8] {
        self.reserved_bytes()
    }

    #[inline]
    fn loan_publish(&mut self) -> Result<(), SendError> {
        self.publish_reserved()
    }

    #[inline]
    fn loan_abandon(&mut self) {
        // The reservation wrote nothing the consumer reads: forgetting it
        // gives the space back.
        self.loan = None;
    }
}

impl<W> Drop for ShmSender<W> {
    fn drop(&mut self) {
        self.prod.close();
        // Always check, whatever the mode: waking costs nothing at drop.
        if self.prod.consumer_sleeping() {
            wait::futex_wake(self.prod.peer_waiting_word());
        }
    }
}

/// Receives messages from this side's incoming ring.
#[derive(Debug)]
pub struct ShmReceiver<W> {
    cons: Consumer<MemRing>,
    /// Keeps the mapping `cons` points into alive.
    link: Arc<Link>,
    /// Reassembly buffer for chunked messages, reused across messages.
    buf: Vec<u8>,
    /// Set after corruption: the stream cannot be resynchronised.
    poisoned: Option<String>,
    /// The error of the last `recv_other` that returned `None`, taken by
    /// `recv` at once.
    failure: Option<RecvError>,
    /// The last `recv` polled more than once (the peer publishes after we
    /// start waiting, as in a round trip): the next one claims the line
    /// from its first poll ([`crate::ring::Consumer::try_pop_as`]).
    waited: bool,
    _wait: PhantomData<W>,
}

impl<W: Wait> ShmReceiver<W> {
    #[cold]
    #[inline(never)]
    fn poison(&mut self, why: String) -> RecvError {
        self.poisoned = Some(why.clone());
        RecvError::Corrupt(why)
    }

    /// Gives the records lent so far back to the producer, waking it if it
    /// sleeps on a full ring.
    #[inline]
    fn release(&mut self) {
        if self.cons.release() && W::MODE.notifies() && self.cons.producer_sleeping() {
            wait::futex_wake(self.cons.peer_waiting_word());
        }
    }

    #[inline(always)]
    fn pop(&mut self) -> Result<Record, RecvError> {
        match self.cons.try_pop() {
            Ok(Some(r)) => Ok(r),
            Ok(None) => self.pop_slow(0),
            Err(c) => Err(self.poison(c.0)),
        }
    }

    /// The ring is empty: wait for the producer per the strategy. `polls`
    /// empty polls were already made (by `recv`'s inline spin), so the close
    /// flag is still read every [`CLOSE_CHECK_EVERY`] polls of the whole wait.
    #[cold]
    #[inline(never)]
    fn pop_slow(&mut self, polls: u32) -> Result<Record, RecvError> {
        let mut backoff = Backoff::new(W::MODE, self.link.same_core(W::MODE)).after(polls);
        let mut last_check = None;
        loop {
            match self.cons.try_pop() {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(c) => return Err(self.poison(c.0)),
            }
            let step = backoff.step();
            if step != Step::Spin || backoff.polls().is_multiple_of(CLOSE_CHECK_EVERY) {
                let mut dead = false;
                if Link::check_due(&mut last_check) {
                    if self.link.checks_tail
                        && let Err(c) = self.cons.check_tail()
                    {
                        return Err(self.poison(c.0));
                    }
                    dead = !self.link.peer.alive();
                }
                if dead || self.cons.producer_closed() {
                    // Drain: records published before the close or the death
                    // are delivered first.
                    return match self.cons.try_pop() {
                        Ok(Some(r)) => Ok(r),
                        Ok(None) => Err(RecvError::Disconnected),
                        Err(c) => Err(self.poison(c.0)),
                    };
                }
            }
            match step {
                Step::Spin => core::hint::spin_loop(),
                Step::Yield => rustix::thread::sched_yield(),
                Step::Sleep => {
                    self.cons.announce_sleep();
                    match self.cons.try_pop() {
                        Ok(Some(r)) => {
                            self.cons.cancel_sleep();
                            return Ok(r);
                        }
                        Ok(None) => {
                            // The close flag is re-read after the announcement,
                            // so a close that raced with it is not slept through.
                            if !self.cons.producer_closed() {
                                wait::futex_wait(self.cons.waiting_word(), 1, wait::SLEEP_SLICE);
                            }
                        }
                        Err(c) => return Err(self.poison(c.0)),
                    }
                    self.cons.cancel_sleep();
                }
            }
        }
    }

    /// Out of line: its copies dwarf a call, and inlined it would crowd the
    /// one-record path of `recv`.
    #[inline(never)]
    fn reassemble(&mut self, total: usize) -> Result<&[u8], RecvError> {
        self.buf.clear();
        // Reserve what a ring's worth of chunks can prove, not what the header
        // claims: the rest grows as bytes actually arrive.
        let ring = self.link.seg.ring_size();
        self.buf.reserve(total.min(2 * ring));
        while self.buf.len() < total {
            self.release();
            let rec = self.pop()?;
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
        self.release();
        Ok(&self.buf)
    }
}

impl<W: Wait> ShmReceiver<W> {
    /// The error every call returns once the stream is corrupt.
    #[cold]
    #[inline(never)]
    fn poisoned_error(&self) -> RecvError {
        RecvError::Corrupt(self.poisoned.clone().unwrap_or_default())
    }

    /// Everything `recv` does not do inline: a poisoned stream (`got` is
    /// `None`), a wait that outlasted the inline polls, the start of a
    /// chunked message, a chunk out of place, corruption. The message comes
    /// back as its address and length, the error in `self.failure`: a
    /// 16-byte result travels in registers, where a `Result<&[u8],
    /// RecvError>` (32 bytes) went through memory, and the inlined `recv`
    /// then kept its own `Ok` in that memory too, a store and reload of the
    /// message's address between seeing the stamp and using the bytes.
    #[inline(never)]
    fn recv_other(
        &mut self,
        got: Option<Result<Option<Record>, crate::ring::Corrupt>>,
        polls: u32,
    ) -> Option<(NonNull<u8>, usize)> {
        let got = match got {
            Some(got) => self.recv_slow(got, polls),
            None => Err(self.poisoned_error()),
        };
        match got {
            Ok(msg) => Some((NonNull::from(msg).cast(), msg.len())),
            Err(e) => {
                self.failure = Some(e);
                None
            }
        }
    }

    /// [`Self::recv_other`] for a stream that is not poisoned.
    fn recv_slow(
        &mut self,
        got: Result<Option<Record>, crate::ring::Corrupt>,
        polls: u32,
    ) -> Result<&[u8], RecvError> {
        let rec = match got {
            Ok(Some(r)) => r,
            Ok(None) => self.pop_slow(polls)?,
            Err(c) => return Err(self.poison(c.0)),
        };
        match rec.kind {
            // SAFETY: as in `recv`.
            kind::MSG => Ok(unsafe { self.cons.mem().bytes(rec.off, rec.len) }),
            kind::BEGIN => self.reassemble(rec.len),
            k => Err(self.poison(format!("record kind {k} outside a chunked message"))),
        }
    }
}

impl<W: Wait> transport::Receiver for ShmReceiver<W> {
    // Inlined into the caller's loop: the one-record path is a few dozen
    // instructions, everything else is out of line.
    #[inline(always)]
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        let mut polls = 0;
        let got = if self.poisoned.is_some() {
            None
        } else {
            // The message lent by the previous call is given back only now.
            self.release();
            // Spin mode claims the line while it waits for a peer that
            // replies to us, but reads it when records are usually there
            // (a stream): see `Consumer::try_pop_as`.
            let mut claim = W::MODE == Mode::Spin && self.waited;
            Some(loop {
                match self.cons.try_pop_as(claim) {
                    Ok(Some(rec)) if rec.kind == kind::MSG => {
                        if W::MODE == Mode::Spin {
                            self.waited = polls > 0;
                        }
                        // SAFETY: the record stays reserved until the
                        // next `release`, which happens in the next call;
                        // the `&mut self` borrow keeps the caller from
                        // making that call while holding the slice.
                        return Ok(unsafe { self.cons.mem().bytes(rec.off, rec.len) });
                    }
                    // A spinning receiver that waits for its peer (every
                    // receive of a round trip) polls here, inline, until the
                    // close flag is due: the message is then handed over by
                    // the code that saw its stamp, not returned through
                    // `pop_slow` and `recv_other`, two calls whose results
                    // passed through memory on the critical path of every
                    // hop.
                    Ok(None) if W::MODE == Mode::Spin && polls < CLOSE_CHECK_EVERY - 1 => {
                        polls += 1;
                        claim = true;
                        core::hint::spin_loop();
                    }
                    other => break other,
                }
            })
        };
        // Waited past the inline polls (or a chunked message, or an error):
        // the next receive claims the line if its peer is that slow.
        if W::MODE == Mode::Spin {
            self.waited = polls > 0;
        }
        match self.recv_other(got, polls) {
            // SAFETY: `recv_other` returns the address and length of a
            // message it lent from the ring or assembled in `self.buf`; both
            // stay valid and unchanged until the next call, which the `&mut
            // self` borrow of the returned slice prevents.
            Some((at, len)) => Ok(unsafe { std::slice::from_raw_parts(at.as_ptr(), len) }),
            // `recv_other` stores an error whenever it returns `None`.
            None => Err(self.failure.take().unwrap_or(RecvError::Disconnected)),
        }
    }
}

impl<W> Drop for ShmReceiver<W> {
    fn drop(&mut self) {
        self.cons.close();
        if self.cons.producer_sleeping() {
            wait::futex_wake(self.cons.peer_waiting_word());
        }
    }
}
