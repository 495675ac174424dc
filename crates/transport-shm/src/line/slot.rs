//! The shared line of `shm-line`: one 64-byte cache line holding one small
//! message slot per direction, so a request and its reply travel in the same
//! line (the cheapest round-trip shape on the machines measured; see
//! docs/shm.md, "shm-line").
//!
//! ```text
//! word 0      ctl of side 0 (listener -> connector)
//! words 1..4  body of side 0's slot, up to 24 bytes
//! word 4      ctl of side 1 (connector -> listener)
//! words 5..8  body of side 1's slot
//! ```
//!
//! Each side writes only its own half. Its `ctl` word packs
//!
//! | bits | field | meaning |
//! |---|---|---|
//! | 0..12 | `count` | line messages this side has sent (mod 4096); the slot holds number `count` |
//! | 12..24 | `ack` | line messages of the peer this side has taken (mod 4096) |
//! | 24..29 | `len` | body length of the message in the slot, 0..=24 |
//! | 29..64 | `before` | ring messages this side sent before the one in the slot (mod 2^35) |
//!
//! A side writes a new message into its slot only when the peer's `ack`
//! equals its own `count` (the peer took the previous one), so each slot
//! holds at most one message the peer has not taken, and `count` moves by one
//! per message: the receiver takes the slot when `count` is the number it
//! expects next. `before` orders the line against the ring: the message in
//! the slot is the next one only once the receiver has taken exactly
//! `before` ring messages. Fewer ring messages than `2^35` can be in flight
//! at once (a record is at least 64 bytes of at most a 1 GiB ring), so
//! equality modulo `2^35` is exact.
//!
//! The peer's `ack` is written lazily: a side republishes its `ctl` with a
//! new `ack` when it sends (a reply carries it for free), never on receive,
//! so a one-way stream does not make the line bounce. A sender whose
//! previous line message is not yet acknowledged sends through the ring.

use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Largest body a line slot holds: the harness's 16-byte header and an
/// 8-byte payload.
pub const BODY: usize = 24;

const COUNT_BITS: u32 = 12;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const ACK_SHIFT: u32 = COUNT_BITS;
const LEN_SHIFT: u32 = 2 * COUNT_BITS;
const LEN_MASK: u64 = 0x1f;
const BEFORE_SHIFT: u32 = LEN_SHIFT + 5;
/// `before` is kept modulo `2^35`.
pub const BEFORE_MASK: u64 = (1 << (64 - BEFORE_SHIFT)) - 1;

// The length field holds every body length.
const _: () = assert!(BODY as u64 <= LEN_MASK);

/// A `ctl` word.
fn pack(count: u64, ack: u64, len: usize, before: u64) -> u64 {
    (count & COUNT_MASK)
        | (ack & COUNT_MASK) << ACK_SHIFT
        | (len as u64 & LEN_MASK) << LEN_SHIFT
        | (before & BEFORE_MASK) << BEFORE_SHIFT
}

fn count_of(ctl: u64) -> u64 {
    ctl & COUNT_MASK
}

fn ack_of(ctl: u64) -> u64 {
    (ctl >> ACK_SHIFT) & COUNT_MASK
}

fn len_of(ctl: u64) -> usize {
    ((ctl >> LEN_SHIFT) & LEN_MASK) as usize
}

fn before_of(ctl: u64) -> u64 {
    ctl >> BEFORE_SHIFT
}

/// The eight words of the line, wherever they live (the segment's header
/// page in production, the heap in tests).
#[derive(Debug, Clone, Copy)]
pub struct LineMem(NonNull<[AtomicU64; 8]>);

// SAFETY: the pointer refers to memory that outlives the value (the
// constructor's contract), and every access goes through atomics.
unsafe impl Send for LineMem {}

impl LineMem {
    /// # Safety
    ///
    /// `words` stays valid (possibly written by another process, through
    /// atomics only) for as long as this value or a copy is used, and each
    /// side's half is written by at most one [`LineTx`].
    pub unsafe fn new(words: NonNull<[AtomicU64; 8]>) -> Self {
        Self(words)
    }

    #[inline(always)]
    fn word(&self, i: usize) -> &AtomicU64 {
        // SAFETY: valid per `new`; `i & 7` is in bounds.
        unsafe { &self.0.as_ref()[i & 7] }
    }
}

/// The sending end of one side's slot.
#[derive(Debug)]
pub struct LineTx {
    mem: LineMem,
    /// Index of our `ctl` word (0 or 4).
    base: usize,
    /// Our `ctl` as last stored.
    ctl: u64,
}

impl LineTx {
    /// The slot of `side` (0: listener, 1: connector), in its initial
    /// (all-zero) state.
    pub fn new(mem: LineMem, side: usize) -> Self {
        Self {
            mem,
            base: (side & 1) * 4,
            ctl: 0,
        }
    }

    /// Whether the peer has taken our last line message, so the slot may
    /// take the next.
    #[inline(always)]
    pub fn free(&self) -> bool {
        // Acquire: pairs with the peer's Release store of its `ctl`, so its
        // reads of our previous body happen before we overwrite it.
        let peer = self.mem.word(self.base ^ 4).load(Acquire);
        ack_of(peer) == count_of(self.ctl)
    }

    /// The `ack` we last published.
    #[inline(always)]
    pub fn acked(&self) -> u64 {
        ack_of(self.ctl)
    }

    /// Puts `msg` (at most [`BODY`] bytes) in our slot, which must be
    /// [`Self::free`]: the message after `before` ring messages, with `ack`
    /// line messages of the peer taken.
    #[inline(always)]
    pub fn publish(&mut self, msg: &[u8], ack: u64, before: u64) {
        debug_assert!(msg.len() <= BODY);
        let mut body = [0u8; BODY];
        body[..msg.len()].copy_from_slice(msg);
        for (i, w) in body.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            // Relaxed: published by the Release store of `ctl` below.
            self.mem
                .word(self.base + 1 + i)
                .store(u64::from_ne_bytes(b), Relaxed);
        }
        self.ctl = pack(count_of(self.ctl) + 1, ack, msg.len(), before);
        // Release: makes the body visible with the new count.
        self.mem.word(self.base).store(self.ctl, Release);
    }

    /// Publishes a new `ack` and nothing else: the slot's message, if the
    /// peer has not taken it yet, stays as it is.
    #[cold]
    pub fn publish_ack(&mut self, ack: u64) {
        self.ctl = pack(
            count_of(self.ctl),
            ack,
            len_of(self.ctl),
            before_of(self.ctl),
        );
        // Release: our reads of the peer's bodies up to `ack` happen before
        // it overwrites them.
        self.mem.word(self.base).store(self.ctl, Release);
    }
}

/// The receiving end of the peer's slot.
#[derive(Debug)]
pub struct LineRx {
    mem: LineMem,
    /// Index of the peer's `ctl` word (4 or 0).
    base: usize,
    /// Line messages taken so far (mod 4096).
    taken: u64,
}

/// A message in the peer's slot is not one the protocol allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSlot(pub String);

impl LineRx {
    /// The peer's slot, seen from `side`, in its initial state.
    pub fn new(mem: LineMem, side: usize) -> Self {
        Self {
            mem,
            base: ((side & 1) ^ 1) * 4,
            taken: 0,
        }
    }

    /// Line messages of the peer taken so far (mod 4096): the `ack` to
    /// publish.
    #[inline(always)]
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// The peer's `ctl` if its slot holds the next message, given that
    /// `ring_taken` ring messages have been taken.
    #[inline(always)]
    pub fn poll(&self, ring_taken: u64) -> Option<u64> {
        // Acquire: pairs with the peer's Release store in `publish`.
        let ctl = self.mem.word(self.base).load(Acquire);
        let next = (self.taken + 1) & COUNT_MASK;
        (count_of(ctl) == next && before_of(ctl) == ring_taken & BEFORE_MASK).then_some(ctl)
    }

    /// Copies the message `poll` found into `out` and returns its length.
    #[inline(always)]
    pub fn take(&mut self, ctl: u64, out: &mut [u8; BODY]) -> Result<usize, BadSlot> {
        let len = len_of(ctl);
        if len > BODY {
            return Err(BadSlot(format!(
                "line slot claims {len} bytes, more than its {BODY}"
            )));
        }
        for (i, w) in out.chunks_exact_mut(8).enumerate() {
            // Relaxed: ordered by the Acquire load of `ctl` in `poll`.
            let v = self.mem.word(self.base + 1 + i).load(Relaxed);
            w.copy_from_slice(&v.to_ne_bytes());
        }
        self.taken = count_of(ctl);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> (Box<[AtomicU64; 8]>, LineMem) {
        let mut words = Box::new(std::array::from_fn(|_| AtomicU64::new(0)));
        // SAFETY: the box outlives every use in the test that holds it.
        let mem = unsafe { LineMem::new(NonNull::from(&mut *words)) };
        (words, mem)
    }

    #[test]
    fn ctl_fields_round_trip_and_wrap() {
        let c = pack(4097, 5, 24, (1 << 35) + 7);
        assert_eq!(
            (count_of(c), ack_of(c), len_of(c), before_of(c)),
            (1, 5, 24, 7)
        );
        let c = pack(COUNT_MASK, COUNT_MASK, 0, BEFORE_MASK);
        assert_eq!(
            (count_of(c), ack_of(c), len_of(c), before_of(c)),
            (COUNT_MASK, COUNT_MASK, 0, BEFORE_MASK)
        );
    }

    #[test]
    fn a_slot_takes_one_message_until_acknowledged() {
        let (_words, mem) = line();
        let mut a_tx = LineTx::new(mem, 0);
        let mut b_rx = LineRx::new(mem, 1);
        let mut b_tx = LineTx::new(mem, 1);
        let mut out = [0u8; BODY];
        assert!(b_rx.poll(0).is_none());
        assert!(a_tx.free());
        a_tx.publish(b"hello", 0, 0);
        assert!(!a_tx.free(), "not taken yet");
        let ctl = b_rx.poll(0).expect("the message");
        assert_eq!(b_rx.take(ctl, &mut out), Ok(5));
        assert_eq!(&out[..5], b"hello");
        assert!(b_rx.poll(0).is_none(), "taken once");
        assert!(!a_tx.free(), "taken but not acknowledged");
        // B acknowledges with its own message, or alone.
        b_tx.publish_ack(b_rx.taken());
        assert!(a_tx.free());
        assert!(
            LineRx::new(mem, 0).poll(0).is_none(),
            "an ack is no message"
        );
    }

    #[test]
    fn the_slot_waits_for_the_ring_messages_sent_before_it() {
        let (_words, mem) = line();
        let mut a_tx = LineTx::new(mem, 0);
        let b_rx = LineRx::new(mem, 1);
        a_tx.publish(&[7; BODY], 0, 3);
        assert!(b_rx.poll(2).is_none());
        assert!(b_rx.poll(4).is_none());
        assert!(b_rx.poll(3).is_some());
        assert!(b_rx.poll(3 + (1 << 35)).is_some(), "modulo 2^35");
    }

    #[test]
    fn counts_wrap_through_many_round_trips() {
        let (_words, mem) = line();
        let (mut a_tx, mut a_rx) = (LineTx::new(mem, 0), LineRx::new(mem, 0));
        let (mut b_tx, mut b_rx) = (LineTx::new(mem, 1), LineRx::new(mem, 1));
        let mut out = [0u8; BODY];
        for i in 0..10_000u64 {
            assert!(a_tx.free(), "round trip {i}");
            a_tx.publish(&i.to_le_bytes(), a_rx.taken(), 0);
            let c = b_rx.poll(0).expect("ping");
            assert_eq!(b_rx.take(c, &mut out), Ok(8));
            assert_eq!(out[..8], i.to_le_bytes());
            assert!(b_tx.free());
            b_tx.publish(&out[..8], b_rx.taken(), 0);
            let c = a_rx.poll(0).expect("pong");
            assert_eq!(a_rx.take(c, &mut out), Ok(8));
            assert_eq!(out[..8], i.to_le_bytes());
        }
    }

    #[test]
    fn a_slot_claiming_too_many_bytes_is_refused() {
        let (words, mem) = line();
        words[0].store(pack(1, 0, 31, 0), Release);
        let mut rx = LineRx::new(mem, 1);
        let ctl = rx.poll(0).expect("looks like the next");
        let mut out = [0u8; BODY];
        let err = rx.take(ctl, &mut out).expect_err("31 bytes");
        assert!(err.0.contains("31") && err.0.contains("24"), "{}", err.0);
    }
}
