//! The producing end of a ring: free-space accounting, padding at the end of
//! the area, publishing a record and zeroing stamp words ahead.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use crate::sync::{AtomicU32, fence};

use super::layout::{
    Corrupt, HEADER, Rounding, STAMP_GUARD, ZERO_AHEAD, kind, meta, stamp, too_large,
};
use super::memory::RingMem;

/// Result of one attempt to publish a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// The record is published.
    Done,
    /// Only a padding record fitted; try again (the record goes to offset 0).
    Padded,
    /// Not enough free space; the consumer must release some first.
    Full,
}

/// The producing end of a ring. Exactly one may exist per ring.
#[derive(Debug)]
pub struct Producer<M> {
    mem: M,
    size: usize,
    /// Authoritative end of what we have published (the ring's tests read it).
    pub(super) tail: u64,
    /// Last value of the consumer's `head` we read; refreshed only when the
    /// ring looks full, so the steady state never touches the consumer's line.
    head_cache: u64,
    /// Every record-aligned stamp word in `[tail, zeroed)` is zero.
    zeroed: u64,
    /// [`RingMem::record_align`], read once.
    align: usize,
    /// Record sizes for that alignment.
    rounding: Rounding,
    /// [`Self::max_inline`], worked out once.
    max_inline: usize,
}

impl<M: RingMem> Producer<M> {
    /// Takes over the producing end of a ring in its initial (all-zero) state.
    pub fn new(mem: M) -> Self {
        let size = mem.size();
        let align = mem.record_align();
        Self {
            mem,
            size,
            tail: 0,
            head_cache: 0,
            zeroed: 0,
            align,
            rounding: Rounding::new(align),
            max_inline: size / 2 - HEADER,
        }
    }

    /// The memory this producer writes.
    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// End of what we have published.
    #[inline]
    pub fn tail(&self) -> u64 {
        self.tail
    }

    /// Largest body that goes in a single record (and is lent in place).
    #[inline]
    pub fn max_inline(&self) -> usize {
        self.max_inline
    }

    /// Body size of each chunk of a message larger than [`Self::max_inline`]:
    /// a quarter of the ring, so several chunks are in flight at once.
    pub fn chunk_payload(&self) -> usize {
        self.size / 4 - HEADER
    }

    /// Whether `need` bytes are free, re-reading the consumer's head only if
    /// the cached one says no.
    #[inline]
    fn has_free(&mut self, need: usize) -> Result<bool, Corrupt> {
        let used = (self.tail - self.head_cache) as usize;
        if self.size - used >= need {
            return Ok(true);
        }
        self.refresh_head(need)
    }

    /// The cached head says the ring is full: read the consumer's `head`
    /// (once per lap in a stream, so out of line).
    #[cold]
    #[inline(never)]
    fn refresh_head(&mut self, need: usize) -> Result<bool, Corrupt> {
        // Acquire: pairs with the consumer's Release store of `head`, so its
        // reads of the bytes it released happen before we overwrite them.
        let head = self.mem.ctrl().head.0.load(Acquire);
        if head < self.head_cache || head > self.tail {
            return Err(Corrupt(format!(
                "consumer head {head} outside [{}, {}]",
                self.head_cache, self.tail
            )));
        }
        self.head_cache = head;
        Ok(self.size - (self.tail - head) as usize >= need)
    }

    /// Tries to publish one record with the given kind, meta length and body.
    /// `body` must fit in one record (at most [`Self::max_inline`] bytes).
    #[inline(always)]
    pub fn try_push(&mut self, kind: u32, len: u32, body: &[u8]) -> Result<Push, Corrupt> {
        // The same test as the sender's `len <= max_inline`, so it folds
        // into it once inlined. A record is `HEADER + len` rounded up to the
        // alignment, and half the ring is a multiple of it, so this is "the
        // record is at most half the ring"; and no overflow below.
        if body.len() > self.max_inline() {
            return Err(too_large(body.len()));
        }
        let rec = self.rounding.record(body.len());
        let off = (self.tail as usize) & (self.size - 1);
        if off + rec > self.size {
            return self.push_pad(off);
        }
        if !self.has_free(rec + STAMP_GUARD)? {
            return Ok(Push::Full);
        }
        // SAFETY: `off + rec <= size` and the range is free (checked above),
        // so the consumer no longer reads it and nobody else writes it.
        unsafe { self.mem.write(off + HEADER, body) };
        self.publish(off, rec, kind, len);
        Ok(Push::Done)
    }

    /// Tries to reserve the next record for a body of `len` bytes (at most
    /// [`Self::max_inline`]) that the caller writes in place, at
    /// [`Self::reserved_body`], and then publishes with
    /// [`Self::publish_reserved`]: a loan. `Done` means reserved, nothing is
    /// published; `Padded` and `Full` as for [`Self::try_push`]. Reserving
    /// writes nothing the consumer reads, so a reservation that is never
    /// published needs no undoing.
    #[inline(always)]
    pub fn try_reserve(&mut self, len: usize) -> Result<Push, Corrupt> {
        if len > self.max_inline() {
            return Err(too_large(len));
        }
        let rec = self.rounding.record(len);
        let off = (self.tail as usize) & (self.size - 1);
        if off + rec > self.size {
            return self.push_pad(off);
        }
        if !self.has_free(rec + STAMP_GUARD)? {
            return Ok(Push::Full);
        }
        Ok(Push::Done)
    }

    /// Offset in the data area of the body of the record [`Self::try_reserve`]
    /// reserved (the record at `tail`).
    #[inline]
    pub fn reserved_body(&self) -> usize {
        ((self.tail as usize) & (self.size - 1)) + HEADER
    }

    /// Publishes the record reserved by [`Self::try_reserve`]`(len)`, whose
    /// body the caller has written, as `kind`. Re-checks the reservation
    /// (from the cached head, so it costs no shared read), so a call without
    /// one is refused instead of overwriting unreleased records.
    #[inline]
    pub fn publish_reserved(&mut self, kind: u32, len: usize) -> Result<(), Corrupt> {
        if len > self.max_inline() {
            return Err(too_large(len));
        }
        let rec = self.rounding.record(len);
        let off = (self.tail as usize) & (self.size - 1);
        let used = (self.tail - self.head_cache) as usize;
        if off + rec > self.size || self.size - used < rec + STAMP_GUARD {
            return Err(Corrupt(format!(
                "internal: publishing {len} bytes at offset {off} that were not reserved"
            )));
        }
        // Fits the record's u32: at most half a ring of at most 1 GiB.
        self.publish(off, rec, kind, len as u32);
        Ok(())
    }

    /// The next record does not fit before the end of the area: fill the rest
    /// with a `PAD` record (once per lap, so out of line).
    #[cold]
    #[inline(never)]
    fn push_pad(&mut self, off: usize) -> Result<Push, Corrupt> {
        let pad = self.size - off;
        if !self.has_free(pad + STAMP_GUARD)? {
            return Ok(Push::Full);
        }
        self.publish(off, pad, kind::PAD, (pad - HEADER) as u32);
        Ok(Push::Padded)
    }

    /// Publishes the record of `rec` bytes at `off`, whose body is written.
    /// `off` is `tail` masked (so record-aligned: `tail` only ever moves by
    /// record sizes, and padding ends exactly at the end of the area) and
    /// `off + rec <= size`.
    #[inline]
    fn publish(&mut self, off: usize, rec: usize, kind: u32, len: u32) {
        debug_assert!(off.is_multiple_of(self.align) && off + rec <= self.size && rec >= HEADER);
        let pos = self.tail;
        let next = pos + rec as u64;
        self.tail = next;
        let mem = &self.mem;
        // Relaxed: made visible by the Release store of the stamp below.
        // SAFETY: `off` is 16-aligned and `off + 8 < off + rec <= size`.
        unsafe { mem.word_at(off + 8) }.store(meta(kind, len), Relaxed);
        let mut zeroed = self.zeroed;
        if zeroed < next + self.align as u64 {
            // The next record's stamp word may hold stale body bytes; it must
            // read as zero before this record is visible. Usually `zero_ahead`
            // has done this already, off the critical path: on x86 the stamp
            // store cannot become visible before this one, and this one often
            // lands on a line not touched for a whole lap.
            // Relaxed: the consumer reads that word only after acquiring this
            // record's stamp, which orders this zero before that read.
            mem.word(off + rec).store(0, Relaxed);
            zeroed = next + self.align as u64;
            self.zeroed = zeroed;
        }
        // Relaxed: also ordered before the stamp, so a consumer that has seen
        // the stamp never sees a tail behind its head.
        mem.ctrl().tail.0.store(next, Relaxed);
        // Release: publishes body, meta, next-stamp zero and tail together.
        // SAFETY: `off` is 16-aligned and below `off + rec <= size`.
        unsafe { mem.word_at(off) }.store(stamp(pos), Release);
        // Locals, not fields: no reload after the Release store.
        if zeroed < next + ZERO_AHEAD / 2 {
            self.zero_ahead();
        }
    }

    /// Zeroes the stamp words of free space up to `ZERO_AHEAD` bytes past
    /// `tail`, after the current record is already visible: the next records
    /// then find their successor's stamp word zeroed and its line already
    /// owned. Only free space is touched (the consumer has released it), and
    /// the next record's Release store publishes these zeros too.
    #[cold]
    fn zero_ahead(&mut self) {
        let limit = (self.tail + ZERO_AHEAD).min(self.head_cache + self.size as u64);
        let mut q = self.zeroed.max(self.tail);
        while q + 8 <= limit {
            // Relaxed: ordered before the next stamp's Release store.
            self.mem.word(q as usize).store(0, Relaxed);
            q += self.align as u64;
        }
        self.zeroed = self.zeroed.max(q);
    }

    /// After publishing: whether the consumer announced it is asleep (the
    /// announcement is consumed; the caller must wake it).
    #[inline]
    pub fn consumer_sleeping(&self) -> bool {
        let f = &self.mem.ctrl().flags.0;
        // SeqCst fence: orders our stamp store before the flag load; pairs
        // with the fence in `Consumer::announce_sleep` (Dekker).
        fence(SeqCst);
        // Relaxed: the fence supplies the ordering; the swap makes exactly one
        // waker responsible for the futex wake.
        f.cons_waiting.load(Relaxed) != 0 && f.cons_waiting.swap(0, Relaxed) != 0
    }

    /// Announces that the producer is about to sleep on
    /// [`Self::waiting_word`]; the caller must re-check for space afterwards.
    pub fn announce_sleep(&self) {
        // Relaxed store + SeqCst fence: the fence orders this store before the
        // caller's re-read of `head`; pairs with `Consumer::producer_sleeping`.
        self.mem.ctrl().flags.0.prod_waiting.store(1, Relaxed);
        fence(SeqCst);
    }

    /// Withdraws a sleep announcement.
    pub fn cancel_sleep(&self) {
        // Relaxed: only suppresses a useless wake-up, orders nothing.
        self.mem.ctrl().flags.0.prod_waiting.store(0, Relaxed);
    }

    /// The word the producer sleeps on.
    pub fn waiting_word(&self) -> &AtomicU32 {
        &self.mem.ctrl().flags.0.prod_waiting
    }

    /// The consumer's sleep word (to wake it).
    pub fn peer_waiting_word(&self) -> &AtomicU32 {
        &self.mem.ctrl().flags.0.cons_waiting
    }

    /// Whether the consumer has closed its end.
    #[inline]
    pub fn consumer_closed(&self) -> bool {
        // Relaxed: a hint that sends are pointless; nothing is read after it.
        self.mem.ctrl().flags.0.cons_closed.load(Relaxed) != 0
    }

    /// Marks the producing end closed. The caller then wakes the consumer if
    /// [`Self::consumer_sleeping`] says so.
    pub fn close(&self) {
        // Release: a consumer that acquires the flag also sees every record
        // published before it, so it drains them before reporting the end.
        self.mem.ctrl().flags.0.prod_closed.store(1, Release);
    }
}
