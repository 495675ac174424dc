//! The ring core: one single-producer single-consumer ring of variable-size
//! records, written against an abstract memory region so the very same code
//! runs on a shared-memory segment, on heap memory under Miri and on loom's
//! modelled atomics.
//!
//! # Records
//!
//! The data area is `size` bytes (a power of two). Positions are byte counts
//! that only grow (`u64`, never wrap in practice); the offset of a position is
//! `pos & (size - 1)`. A record starts at an offset aligned to
//! [`RingMem::record_align`] (a cache line, [`LINE`], in production) and is
//!
//! ```text
//! +0  stamp  u64   position of this record + 1: written last, with Release
//! +8  meta   u64   kind << 32 | len
//! +16 body   len bytes (MSG, CHUNK), nothing (BEGIN, PAD)
//! ```
//!
//! padded to a multiple of that alignment. Line alignment keeps a small
//! message (body up to 48 bytes) on exactly one cache line: the stamp the
//! consumer spins on, the meta word and the body arrive in one transfer, and
//! the producer's stores after publishing never land on the line the consumer
//! is spinning on next (see docs/shm.md, "cache-line budget"). A record never
//! wraps: when the next record does
//! not fit before the end of the area, the producer writes a `PAD` record that
//! covers the rest of the area and starts again at offset 0. So every body is
//! contiguous and can be lent in place. Records are at most `size / 2` bytes,
//! which bounds the padding and guarantees progress; larger messages are sent
//! as `BEGIN` (len = total size) followed by `CHUNK`s of at most
//! [`Producer::chunk_payload`] bytes.
//!
//! # Publication
//!
//! The consumer learns that a record is complete from its stamp alone: the
//! stamp shares a cache line with a small message's body, so a one-way hop
//! costs one cache-line transfer, not two (a separate tail index would add a
//! second, dependent miss). Because the word at the consumer's next offset may
//! hold stale body bytes from an earlier lap, which could happen to equal the
//! expected stamp, the producer zeroes the stamp word of the *next* record
//! before it publishes the current one. The consumer reads that word only
//! after acquiring the current stamp, so it sees the zero or the real stamp.
//! A record therefore needs its size plus 8 bytes of free space. To keep that
//! store off the critical path (on x86 the stamp cannot become visible before
//! it, and it often hits a line untouched for a lap), the producer zeroes the
//! stamp words of free space a few lines ahead right after each publish.
//!
//! The consumer owns `head` (where it has released space up to), the producer
//! owns `tail`; each keeps the authoritative value locally and only publishes
//! it, so a peer scribbling over shared indices cannot make either side
//! address memory outside the region. Everything read from shared memory is
//! validated before use.
//!
//! # Sleeping
//!
//! A side that wants to sleep in the kernel announces it in a flag word
//! (`cons_waiting` / `prod_waiting`), issues a `SeqCst` fence, re-checks the
//! ring, and only then waits on the flag word (futex). The other side, after
//! publishing, issues a `SeqCst` fence and reads the flag. The two fences form
//! a Dekker pair: either the sleeper sees the new data, or the publisher sees
//! the flag and wakes it. No wake-up is lost, and a publisher whose peer is
//! not sleeping pays one fence and one load of a line that is rarely written.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use crate::sync::{AtomicU32, AtomicU64, fence};

/// Size of a record header.
pub const HEADER: usize = 16;
/// Smallest record alignment a ring may use (the header's size).
pub const ALIGN: usize = 16;
/// A cache line: the record alignment of production rings.
pub const LINE: usize = 64;
/// Free space a record needs beyond its own size: the next record's stamp.
pub const STAMP_GUARD: usize = 8;
/// How far ahead of `tail` the producer keeps stamp words zeroed (bytes).
pub const ZERO_AHEAD: u64 = 256;
/// Smallest data area the core accepts (tests use tiny rings; a ring must
/// also be at least four times its record alignment).
pub const MIN_SIZE: usize = 64;
/// Largest data area: record lengths are `u32`.
pub const MAX_SIZE: usize = 1 << 30;

/// Record kinds, the high half of the meta word.
pub mod kind {
    /// A whole message in one record.
    pub const MSG: u32 = 1;
    /// Filler up to the end of the data area.
    pub const PAD: u32 = 2;
    /// Start of a chunked message; `len` is the total message size.
    pub const BEGIN: u32 = 3;
    /// A piece of a chunked message.
    pub const CHUNK: u32 = 4;
}

/// Keeps its content on its own pair of cache lines: 128 bytes, because
/// Intel's adjacent-line prefetcher pulls lines in pairs, so two hot words 64
/// bytes apart still false-share.
#[repr(C, align(128))]
#[derive(Debug, Default)]
pub struct Padded<T>(pub T);

/// The shared control block of one ring. All-zero bytes are its initial state,
/// so a freshly created shared-memory segment needs no initialisation.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RingCtrl {
    /// End of the last published record. Written by the producer, read by the
    /// consumer only to detect an inconsistent producer.
    pub tail: Padded<AtomicU64>,
    /// Everything before `head` has been read and may be overwritten. Written
    /// by the consumer, read by the producer only when its cached copy says
    /// the ring is full.
    pub head: Padded<AtomicU64>,
    /// Sleep announcements and close flags: written rarely, read often, so
    /// they stay in both caches.
    pub flags: Padded<Flags>,
}

/// Words on the rarely-written line of a ring.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Flags {
    /// 1 while the consumer sleeps (or is about to) on this word.
    pub cons_waiting: AtomicU32,
    /// 1 while the producer sleeps (or is about to) on this word.
    pub prod_waiting: AtomicU32,
    /// Set once the producer will publish nothing more.
    pub prod_closed: AtomicU32,
    /// Set once the consumer will read nothing more.
    pub cons_closed: AtomicU32,
}

/// Something the peer wrote that the protocol forbids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub String);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Memory one ring lives in: a control block and a data area.
///
/// # Safety
///
/// `size()` must be a power of two in `MIN_SIZE..=MAX_SIZE` and constant;
/// `record_align()` must be constant, a power of two in `ALIGN..=LINE` and at
/// most `size() / 4`;
/// `word(off)` must return the same atomic for the same offset and must be
/// sound for any `off` (implementations mask it into the area); `write` must
/// store exactly the given bytes at `[off, off + len)` of the area.
pub unsafe trait RingMem {
    /// The control block.
    fn ctrl(&self) -> &RingCtrl;
    /// Bytes in the data area.
    fn size(&self) -> usize;
    /// The 8-byte word at `off` (rounded down to 8, masked into the area).
    fn word(&self, off: usize) -> &AtomicU64;
    /// The 8-byte word at `off`, which the caller has already placed in the
    /// area: the hot path's stamp and meta words, whose offsets come from our
    /// own masked, record-aligned index, skip the masking [`Self::word`] does.
    ///
    /// # Safety
    ///
    /// `off` is a multiple of 8 and less than [`Self::size`].
    #[inline]
    unsafe fn word_at(&self, off: usize) -> &AtomicU64 {
        self.word(off)
    }
    /// Alignment of every record; both ends of a ring must agree.
    fn record_align(&self) -> usize {
        LINE
    }
    /// Copies `bytes` to `[off, off + bytes.len())`.
    ///
    /// # Safety
    ///
    /// The range lies inside the data area and belongs to the caller: the
    /// consumer has released it and nobody else writes it.
    unsafe fn write(&self, off: usize, bytes: &[u8]);
}

/// Bytes a record with a body of `len` bytes occupies in a ring whose records
/// are aligned to `align` (a power of two).
#[inline]
pub fn record_size(len: usize, align: usize) -> Option<usize> {
    len.checked_add(HEADER + align - 1)
        .map(|n| n & !(align - 1))
}

/// [`record_size`] for one ring, with the alignment's constants worked out
/// once: two instructions on the hot path instead of five.
#[derive(Debug, Clone, Copy)]
struct Rounding {
    /// `HEADER + align - 1`.
    add: usize,
    /// `!(align - 1)`.
    mask: usize,
}

impl Rounding {
    fn new(align: usize) -> Self {
        Self {
            add: HEADER + align - 1,
            mask: !(align - 1),
        }
    }

    /// The size of a record with a body of `len` bytes; `len` is at most
    /// half the ring (checked by every caller), so nothing overflows.
    #[inline(always)]
    fn record(self, len: usize) -> usize {
        (len + self.add) & self.mask
    }
}

#[inline]
fn stamp(pos: u64) -> u64 {
    // +1 so that the all-zero initial memory never looks like a record at 0.
    pos.wrapping_add(1)
}

#[inline]
fn meta(kind: u32, len: u32) -> u64 {
    (u64::from(kind) << 32) | u64::from(len)
}

/// The error for a body that cannot go in one record (a caller's bug: the
/// sender chunks anything above [`Producer::max_inline`]).
#[cold]
#[inline(never)]
fn too_large(len: usize) -> Corrupt {
    Corrupt(format!(
        "internal: record body of {len} bytes exceeds half the ring"
    ))
}

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
    /// Authoritative end of what we have published.
    tail: u64,
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

/// One record handed out by [`Consumer::try_pop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// One of [`kind`]'s values except `PAD`.
    pub kind: u32,
    /// Body length (`MSG`, `CHUNK`) or total message length (`BEGIN`).
    pub len: usize,
    /// Offset of the body in the data area; the body is contiguous.
    pub off: usize,
}

/// The consuming end of a ring. Exactly one may exist per ring.
#[derive(Debug)]
pub struct Consumer<M> {
    mem: M,
    size: usize,
    /// Authoritative position of the next record to read.
    head: u64,
    /// Last `head` published to the producer.
    released: u64,
    /// Largest message length a record may claim.
    max_message: usize,
    /// Largest valid body of one record: `max_message`, or less if a record
    /// of that size would exceed half the ring. A record's size rounds
    /// `HEADER + len` up to the alignment, and half the ring and the room
    /// before the end are multiples of it, so "record fits" is
    /// "`HEADER + len` fits".
    body_limit: usize,
    /// [`RingMem::record_align`], read once.
    align: usize,
    /// Record sizes for that alignment.
    rounding: Rounding,
}

impl<M: RingMem> Consumer<M> {
    /// Takes over the consuming end of a ring in its initial state; records
    /// claiming more than `max_message` bytes are corrupt.
    pub fn new(mem: M, max_message: usize) -> Self {
        let size = mem.size();
        let align = mem.record_align();
        Self {
            mem,
            size,
            head: 0,
            released: 0,
            max_message,
            body_limit: max_message.min(size / 2 - HEADER),
            align,
            rounding: Rounding::new(align),
        }
    }

    /// The memory this consumer reads.
    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// Gives every record handed out so far back to the producer. Returns
    /// whether anything new was released.
    #[inline]
    pub fn release(&mut self) -> bool {
        if self.released == self.head {
            return false;
        }
        // Release: our reads of the released bytes happen before the
        // producer, acquiring this value, overwrites them.
        self.mem.ctrl().head.0.store(self.head, Release);
        self.released = self.head;
        true
    }

    /// Takes the next record if one is published. The record stays reserved
    /// (its body may be read) until the next [`Self::release`].
    #[inline(always)]
    pub fn try_pop(&mut self) -> Result<Option<Record>, Corrupt> {
        self.try_pop_as(false)
    }

    /// [`Self::try_pop`], polling the stamp with a compare-exchange that
    /// never changes it (`claim`) instead of a load: for a consumer that
    /// waits for the record (a round trip's every hop). The compare-exchange
    /// takes the line exclusive, as a spinning reader of `shm-crate`'s busy
    /// flag does: the producer's stores then take the line from one owner
    /// instead of upgrading a shared copy while the reader keeps re-reading
    /// it, and the 8-byte round trip measured ~20 ns shorter per round trip
    /// and ~10 ns batch-timed (docs/shm.md, "Polling for ownership"). Not
    /// for a record that is usually there already: every line the consumer
    /// claims ends dirty in its cache, and an 8-byte stream whose consumer
    /// claimed every record ran at two thirds of its rate.
    #[inline(always)]
    pub fn try_pop_as(&mut self, claim: bool) -> Result<Option<Record>, Corrupt> {
        loop {
            // `off` is record-aligned (head only moves by record sizes, and a
            // padding record ends exactly at the end of the area), so at least
            // one aligned header fits before the end: both words are inside.
            let head = self.head;
            let off = (head as usize) & (self.size - 1);
            // Both words are located before the Acquire load: the compiler
            // may not move our own field reads across it, so reading them
            // after it would cost reloads.
            // SAFETY: `off` is 16-aligned and `off + 8 < off + HEADER <= size`.
            let (stamp_word, meta_word) =
                unsafe { (self.mem.word_at(off), self.mem.word_at(off + 8)) };
            // The common record, a valid `MSG`, is checked in one comparison
            // below: the subtraction leaves its length (any other kind ends
            // up above 2^32); `body_limit` covers both half the ring and the
            // largest message, and `size - off - HEADER` the end of the
            // area. Worked out before the Acquire load, like the words.
            let limit = self.body_limit.min(self.size - off - HEADER);
            // Acquire: pairs with the producer's Release store of the stamp,
            // making the meta word and the body visible (a compare-exchange
            // that succeeds reads the stamp with Acquire and writes back the
            // same value; one that fails writes nothing).
            let want = stamp(head);
            let seen = if claim {
                stamp_word
                    .compare_exchange(want, want, Acquire, Relaxed)
                    .is_ok()
            } else {
                stamp_word.load(Acquire) == want
            };
            if !seen {
                return Ok(None);
            }
            // Relaxed: ordered by the stamp's Acquire above.
            let meta = meta_word.load(Relaxed);
            let len = meta.wrapping_sub(u64::from(kind::MSG) << 32);
            if len <= limit as u64 {
                let len = len as usize;
                // No overflow: `len` is at most half the ring.
                self.head = head + self.rounding.record(len) as u64;
                return Ok(Some(Record {
                    kind: kind::MSG,
                    len,
                    off: off + HEADER,
                }));
            }
            let kind = (meta >> 32) as u32;
            let len = (meta & u64::from(u32::MAX)) as usize;
            if let Some(r) = self.pop_other(off, kind, len)? {
                return Ok(Some(r));
            }
        }
    }

    /// Everything but a valid `MSG`: chunks (only in messages larger than
    /// half the ring, where a call is nothing), padding (skipped, `None`),
    /// `BEGIN`, and every corrupt header with its diagnosis.
    #[cold]
    #[inline(never)]
    fn pop_other(&mut self, off: usize, kind: u32, len: usize) -> Result<Option<Record>, Corrupt> {
        let room = self.size - off;
        match kind {
            kind::PAD => {
                if len != room - HEADER {
                    return Err(Corrupt(format!(
                        "padding record of {len} bytes at offset {off} does not reach the end of the {} byte ring",
                        self.size
                    )));
                }
                self.head += room as u64;
                Ok(None)
            }
            kind::MSG | kind::CHUNK => {
                let rec = record_size(len, self.align).unwrap_or(usize::MAX);
                if rec > self.size / 2 || rec > room {
                    return Err(Corrupt(format!(
                        "record of {len} bytes at offset {off} does not fit a {} byte ring",
                        self.size
                    )));
                }
                if len > self.max_message {
                    return Err(Corrupt(format!(
                        "record claims {len} bytes, more than the maximum of {}",
                        self.max_message
                    )));
                }
                self.head += rec as u64;
                Ok(Some(Record {
                    kind,
                    len,
                    off: off + HEADER,
                }))
            }
            kind::BEGIN => {
                if len > self.max_message {
                    return Err(Corrupt(format!(
                        "message claims {len} bytes, more than the maximum of {}",
                        self.max_message
                    )));
                }
                // A header-only record, padded like any other.
                self.head += self.align as u64;
                Ok(Some(Record { kind, len, off: 0 }))
            }
            other => Err(Corrupt(format!(
                "unknown record kind {other:#x} at offset {off}"
            ))),
        }
    }

    /// Checks the producer's published tail against what we have consumed:
    /// a cheap consistency test for the slow path.
    pub fn check_tail(&self) -> Result<(), Corrupt> {
        // Relaxed: every record we consumed was acquired after the producer
        // stored a tail covering it, so coherence gives tail >= head.
        let tail = self.mem.ctrl().tail.0.load(Relaxed);
        if tail < self.head || tail - self.head > self.size as u64 {
            return Err(Corrupt(format!(
                "producer tail {tail} inconsistent with consumer head {} in a {} byte ring",
                self.head, self.size
            )));
        }
        Ok(())
    }

    /// After releasing: whether the producer announced it is asleep (the
    /// announcement is consumed; the caller must wake it).
    #[inline]
    pub fn producer_sleeping(&self) -> bool {
        let f = &self.mem.ctrl().flags.0;
        // SeqCst fence: orders our head store before the flag load; pairs with
        // the fence in `Producer::announce_sleep` (Dekker).
        fence(SeqCst);
        // Relaxed: ordered by the fence; the swap elects one waker.
        f.prod_waiting.load(Relaxed) != 0 && f.prod_waiting.swap(0, Relaxed) != 0
    }

    /// Announces that the consumer is about to sleep on
    /// [`Self::waiting_word`]; the caller must re-check the ring afterwards.
    pub fn announce_sleep(&self) {
        // Relaxed store + SeqCst fence: the fence orders this store before the
        // caller's re-read of the stamp; pairs with `Producer::consumer_sleeping`.
        self.mem.ctrl().flags.0.cons_waiting.store(1, Relaxed);
        fence(SeqCst);
    }

    /// Withdraws a sleep announcement.
    pub fn cancel_sleep(&self) {
        // Relaxed: only suppresses a useless wake-up, orders nothing.
        self.mem.ctrl().flags.0.cons_waiting.store(0, Relaxed);
    }

    /// The word the consumer sleeps on.
    pub fn waiting_word(&self) -> &AtomicU32 {
        &self.mem.ctrl().flags.0.cons_waiting
    }

    /// The producer's sleep word (to wake it).
    pub fn peer_waiting_word(&self) -> &AtomicU32 {
        &self.mem.ctrl().flags.0.prod_waiting
    }

    /// Whether the producer has closed its end. Once true, a final
    /// [`Self::try_pop`] finds every record it published.
    pub fn producer_closed(&self) -> bool {
        // Acquire: pairs with `Producer::close`.
        self.mem.ctrl().flags.0.prod_closed.load(Acquire) != 0
    }

    /// Marks the consuming end closed. The caller then wakes the producer if
    /// [`Self::producer_sleeping`] says so.
    pub fn close(&self) {
        // Release: orders our last reads before the producer's reaction.
        self.mem.ctrl().flags.0.cons_closed.store(1, Release);
    }
}

#[cfg(not(loom))]
pub use mem::MemRing;

#[cfg(not(loom))]
mod mem {
    //! A ring in ordinary memory addressed by raw pointers: the shared-memory
    //! segment in production, a heap allocation in tests.

    use std::ptr::NonNull;
    use std::sync::atomic::AtomicU64;

    use super::{ALIGN, LINE, MAX_SIZE, MIN_SIZE, RingCtrl, RingMem};

    /// A control block and a data area at fixed addresses.
    #[derive(Debug, Clone, Copy)]
    pub struct MemRing {
        ctrl: NonNull<RingCtrl>,
        data: NonNull<u8>,
        size: usize,
        align: usize,
    }

    // SAFETY: the pointers refer to memory that outlives the `MemRing` (the
    // constructor's contract) and every shared access goes through atomics
    // or through ranges the SPSC protocol hands to one side at a time.
    unsafe impl Send for MemRing {}

    impl MemRing {
        /// # Safety
        ///
        /// `ctrl` points to a `RingCtrl` and `data` to `size` bytes aligned to
        /// 16, both valid for reads and writes (possibly by another process)
        /// for as long as this value or a copy is used; `size` is a power of
        /// two in `MIN_SIZE..=MAX_SIZE`; at most one producer and one consumer
        /// use the ring.
        pub unsafe fn new(ctrl: NonNull<RingCtrl>, data: NonNull<u8>, size: usize) -> Self {
            debug_assert!(size.is_power_of_two() && (MIN_SIZE..=MAX_SIZE).contains(&size));
            debug_assert!((data.as_ptr() as usize).is_multiple_of(16));
            Self {
                ctrl,
                data,
                size,
                align: LINE.min(size / 4),
            }
        }

        /// The same ring with records aligned to `align` instead of a cache
        /// line: tests use 16 to pack tiny rings. Both ends must use the same.
        ///
        /// # Panics
        ///
        /// If `align` is not a power of two in `ALIGN..=LINE` or exceeds a
        /// quarter of the ring (a programming error, not an input).
        pub fn with_record_align(self, align: usize) -> Self {
            assert!(
                align.is_power_of_two()
                    && (ALIGN..=LINE).contains(&align)
                    && align <= self.size / 4,
                "record alignment {align} must be a power of two in {ALIGN}..={LINE} and at most a quarter of the {} byte ring",
                self.size
            );
            Self { align, ..self }
        }

        /// Lends the body of a record handed out by the consumer.
        ///
        /// # Safety
        ///
        /// `[off, off + len)` lies in the data area and has not been released
        /// to the producer; the slice must not outlive that.
        #[inline]
        pub unsafe fn bytes<'a>(&self, off: usize, len: usize) -> &'a [u8] {
            debug_assert!(off + len <= self.size);
            // SAFETY: per the caller's contract the range is inside the area
            // and the producer does not write it until it is released.
            unsafe { std::slice::from_raw_parts(self.data.as_ptr().add(off), len) }
        }
    }

    // SAFETY: `size` is fixed and valid per `new`; `word` masks its offset
    // into the area and aligns it to 8; `write` copies to the given range.
    unsafe impl RingMem for MemRing {
        #[inline]
        fn ctrl(&self) -> &RingCtrl {
            // SAFETY: valid per `new`; all fields are atomics.
            unsafe { self.ctrl.as_ref() }
        }

        #[inline]
        fn size(&self) -> usize {
            self.size
        }

        #[inline]
        fn record_align(&self) -> usize {
            self.align
        }

        #[inline]
        fn word(&self, off: usize) -> &AtomicU64 {
            let off = off & (self.size - 1) & !7;
            // SAFETY: in bounds and 8-aligned (the area is 16-aligned); the
            // memory is only ever accessed atomically while it can be shared.
            unsafe { AtomicU64::from_ptr(self.data.as_ptr().add(off).cast()) }
        }

        #[inline]
        unsafe fn word_at(&self, off: usize) -> &AtomicU64 {
            debug_assert!(off < self.size && off.is_multiple_of(8));
            // SAFETY: in bounds and 8-aligned per the caller's contract (the
            // area is 16-aligned); accessed only atomically while shared.
            unsafe { AtomicU64::from_ptr(self.data.as_ptr().add(off).cast()) }
        }

        #[inline]
        unsafe fn write(&self, off: usize, bytes: &[u8]) {
            debug_assert!(off + bytes.len() <= self.size);
            // SAFETY: per the caller's contract the range is in the area and
            // owned by the producer; `bytes` cannot overlap it (it is ours).
            unsafe { copy_body(self.data.as_ptr().add(off), bytes) }
        }
    }

    /// Copies `src` to `dst`. Bodies up to 32 bytes (the harness's small
    /// messages: 16 bytes of header and a few of payload) are copied inline
    /// as two possibly overlapping loads and stores of a power-of-two width:
    /// a call into libc's `memcpy` costs ~25 instructions at 8 bytes, more
    /// than the rest of the publish.
    ///
    /// # Safety
    ///
    /// `dst` is valid for writes of `src.len()` bytes that nobody else
    /// accesses meanwhile, and does not overlap `src`.
    #[inline(always)]
    unsafe fn copy_body(dst: *mut u8, src: &[u8]) {
        let n = src.len();
        let s = src.as_ptr();
        // SAFETY: every access below lies in `src[..n]` or `dst[..n]`: each
        // branch's width is at most `n`, so `n - width` does not underflow.
        unsafe {
            if n > 32 {
                std::ptr::copy_nonoverlapping(s, dst, n);
            } else if n >= 16 {
                two_words::<16>(s, dst, n);
            } else if n >= 8 {
                two_words::<8>(s, dst, n);
            } else if n >= 4 {
                two_words::<4>(s, dst, n);
            } else if n > 0 {
                // 1..=3 bytes: first, middle and last cover them all.
                *dst = *s;
                *dst.add(n / 2) = *s.add(n / 2);
                *dst.add(n - 1) = *s.add(n - 1);
            }
        }
    }

    /// Copies `n` bytes, `W <= n <= 2 * W`, as the first and the last `W`.
    ///
    /// # Safety
    ///
    /// As [`copy_body`], with `W <= n`.
    #[inline(always)]
    unsafe fn two_words<const W: usize>(s: *const u8, d: *mut u8, n: usize) {
        // SAFETY: `[0, W)` and `[n - W, n)` lie in both ranges (`W <= n`);
        // unaligned accesses of a byte array are always allowed.
        unsafe {
            let head = s.cast::<[u8; W]>().read_unaligned();
            let tail = s.add(n - W).cast::<[u8; W]>().read_unaligned();
            d.cast::<[u8; W]>().write_unaligned(head);
            d.add(n - W).cast::<[u8; W]>().write_unaligned(tail);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! In-process tests on heap memory; they also run under Miri:
    //! `MIRIFLAGS=-Zmiri-disable-weak-memory-emulation cargo +nightly miri test -p transport-shm --lib ring`.

    use super::*;
    use std::ptr::NonNull;
    use std::sync::Arc;

    /// Two words on a 16-byte boundary, so the data area is aligned like a
    /// record.
    #[repr(C, align(16))]
    struct Pair([AtomicU64; 2]);

    /// A ring on the heap: control block and data area.
    struct Heap {
        ctrl: Box<RingCtrl>,
        data: Box<[Pair]>,
    }

    impl Heap {
        fn new(size: usize) -> Arc<Self> {
            Arc::new(Self {
                ctrl: Box::default(),
                data: (0..size / 16)
                    .map(|_| Pair([AtomicU64::new(0), AtomicU64::new(0)]))
                    .collect(),
            })
        }

        fn word(&self, off: usize) -> &AtomicU64 {
            &self.data[off / 16].0[(off / 8) % 2]
        }

        /// The ring with 16-byte records, so tiny rings hold several.
        fn ring(&self) -> MemRing {
            self.line_ring().with_record_align(ALIGN)
        }

        /// The ring as production uses it: cache-line aligned records.
        fn line_ring(&self) -> MemRing {
            let size = self.data.len() * 16;
            // SAFETY: both allocations outlive every use in these tests (each
            // test keeps the Arc), the area is 16-aligned and a power of two.
            unsafe {
                MemRing::new(
                    NonNull::from(&*self.ctrl),
                    NonNull::new(self.data.as_ptr() as *mut u8).expect("non-null"),
                    size,
                )
            }
        }
    }

    fn pair(size: usize) -> (Arc<Heap>, Producer<MemRing>, Consumer<MemRing>) {
        let heap = Heap::new(size);
        let p = Producer::new(heap.ring());
        let c = Consumer::new(heap.ring(), 1 << 20);
        (heap, p, c)
    }

    fn body(c: &Consumer<MemRing>, r: Record) -> Vec<u8> {
        // SAFETY: the record was just popped and not yet released.
        unsafe { c.mem().bytes(r.off, r.len) }.to_vec()
    }

    #[test]
    fn ring_round_trip_and_wrap_with_padding() {
        let (_h, mut p, mut c) = pair(256);
        let mut seq = 0u8;
        for round in 0..50 {
            let len = (round * 7) % 100;
            let msg: Vec<u8> = (0..len).map(|i| seq.wrapping_add(i as u8)).collect();
            loop {
                match p.try_push(kind::MSG, len as u32, &msg).expect("push") {
                    Push::Done => break,
                    Push::Padded => {}
                    Push::Full => panic!("ring must have room after each pop"),
                }
            }
            let r = c.try_pop().expect("pop").expect("a record");
            assert_eq!(r.kind, kind::MSG);
            assert_eq!(body(&c, r), msg);
            assert!(c.try_pop().expect("pop").is_none());
            c.release();
            c.check_tail().expect("consistent tail");
            seq = seq.wrapping_add(1);
        }
    }

    #[test]
    fn ring_full_until_released() {
        let (_h, mut p, mut c) = pair(256);
        let msg = [1u8; 48]; // 64-byte records
        let mut pushed = 0;
        while p.try_push(kind::MSG, 48, &msg).expect("push") == Push::Done {
            pushed += 1;
        }
        // 256 bytes minus the 8-byte guard: three 64-byte records fit.
        assert_eq!(pushed, 3);
        let r = c.try_pop().expect("pop").expect("record");
        assert_eq!(r.len, 48);
        // Not yet released: still full.
        assert_eq!(p.try_push(kind::MSG, 48, &msg).expect("push"), Push::Full);
        c.release();
        assert_ne!(p.try_push(kind::MSG, 48, &msg).expect("push"), Push::Full);
    }

    #[test]
    fn ring_record_larger_than_half_is_refused() {
        let (_h, mut p, _c) = pair(256);
        assert!(p.try_push(kind::MSG, 200, &[0u8; 200]).is_err());
        assert_eq!(p.max_inline(), 112);
        assert!(p.try_push(kind::MSG, 112, &[0u8; 112]).is_ok());
    }

    fn forge(heap: &Heap, off: usize, stamp_pos: u64, kind: u32, len: u32) {
        heap.word(off).store(stamp(stamp_pos), Relaxed);
        heap.word(off + 8).store(meta(kind, len), Relaxed);
    }

    #[test]
    fn ring_corrupt_headers_are_rejected() {
        let cases: [(u32, u32, &str); 8] = [
            // Kind 0 makes `meta - (MSG << 32)` wrap: still refused.
            (0, 0, "kind 0"),
            (0, 8, "kind 0 with a length"),
            (kind::MSG, u32::MAX, "huge length"),
            (kind::MSG, 200, "longer than half the ring"),
            (kind::CHUNK, 129, "longer than half the ring"),
            (kind::PAD, 16, "padding not reaching the end"),
            (kind::BEGIN, (1 << 20) + 1, "total above the maximum"),
            (0xdead, 0, "unknown kind"),
        ];
        for (k, len, what) in cases {
            for claim in [false, true] {
                let (heap, _p, mut c) = pair(256);
                forge(&heap, 0, 0, k, len);
                let err = c.try_pop_as(claim).expect_err(what);
                assert!(!err.0.is_empty(), "{what}");
            }
        }
    }

    #[test]
    fn ring_claiming_polls_take_the_same_records_and_change_nothing() {
        let (heap, mut p, mut c) = pair(256);
        let words = |h: &Heap| {
            (0..256)
                .step_by(8)
                .map(|o| h.word(o).load(Relaxed))
                .collect::<Vec<_>>()
        };
        for round in 0..50u8 {
            let len = (usize::from(round) * 7) % 100;
            let msg: Vec<u8> = (0..len).map(|i| round.wrapping_add(i as u8)).collect();
            let before = words(&heap);
            assert!(c.try_pop_as(true).expect("empty poll").is_none());
            assert_eq!(words(&heap), before, "an empty claiming poll wrote");
            loop {
                match p.try_push(kind::MSG, len as u32, &msg).expect("push") {
                    Push::Done => break,
                    Push::Padded => {}
                    Push::Full => panic!("ring must have room after each pop"),
                }
            }
            let before = words(&heap);
            let r = c.try_pop_as(true).expect("pop").expect("a record");
            assert_eq!(words(&heap), before, "a successful claiming poll wrote");
            assert_eq!((r.kind, body(&c, r)), (kind::MSG, msg));
            c.release();
        }
    }

    /// The one-comparison check of a whole message accepts exactly the
    /// lengths the separate checks did: up to half the ring minus a header,
    /// and up to the maximum message size when that is smaller.
    #[test]
    fn ring_message_length_limits_are_exact() {
        for (max_message, limit) in [(1 << 20, 128 - HEADER), (100, 100)] {
            for (len, ok) in [(limit, true), (limit + 1, false)] {
                let heap = Heap::new(256);
                let mut c = Consumer::new(heap.ring(), max_message);
                forge(&heap, 0, 0, kind::MSG, len as u32);
                match c.try_pop() {
                    Ok(Some(r)) => {
                        assert!(ok, "{len} accepted (max {max_message})");
                        assert_eq!((r.kind, r.len, r.off), (kind::MSG, len, HEADER));
                    }
                    Ok(None) => panic!("{len}: record not seen"),
                    Err(e) => assert!(!ok, "{len} refused (max {max_message}): {}", e.0),
                }
            }
        }
    }

    #[test]
    fn ring_record_crossing_the_end_is_rejected() {
        let (heap, mut p, mut c) = pair(256);
        // Move both sides to offset 192 legitimately.
        for _ in 0..3 {
            assert_eq!(
                p.try_push(kind::MSG, 48, &[0; 48]).expect("push"),
                Push::Done
            );
            c.try_pop().expect("pop").expect("record");
            c.release();
        }
        // A 112-byte body at offset 192 would run 64 bytes past the end.
        forge(&heap, 192, 192, kind::MSG, 100);
        assert!(c.try_pop().is_err());
    }

    #[test]
    fn ring_stale_body_bytes_are_not_mistaken_for_a_stamp() {
        let (_heap, mut p, mut c) = pair(256);
        // Records: 128 bytes at 0, 64 at 128, 64 at 192, then 64 at 0 (the
        // second lap, position 256). The consumer then expects position 320
        // at offset 64, which the first record's body covered: plant exactly
        // that stamp value there.
        let mut big = [0u8; 112];
        big[48..56].copy_from_slice(&stamp(320).to_le_bytes());
        assert_eq!(p.try_push(kind::MSG, 112, &big).expect("push"), Push::Done);
        for _ in 0..3 {
            c.try_pop().expect("pop").expect("record");
            c.release();
            assert_eq!(
                p.try_push(kind::MSG, 48, &[9; 48]).expect("push"),
                Push::Done
            );
        }
        c.try_pop().expect("pop").expect("record");
        c.release();
        // The producer zeroed the planted value when it published the record
        // before it.
        assert!(c.try_pop().expect("pop").is_none());
    }

    #[test]
    fn ring_hostile_head_is_detected_by_producer() {
        let (heap, mut p, _c) = pair(256);
        heap.ctrl.head.0.store(1000, Relaxed);
        // Fill until the producer must look at head.
        let err = loop {
            match p.try_push(kind::MSG, 48, &[0; 48]) {
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(err.0.contains("head"));
    }

    #[test]
    fn ring_hostile_tail_is_detected_by_consumer() {
        let (heap, _p, c) = pair(256);
        c.check_tail().expect("initial state is consistent");
        heap.ctrl.tail.0.store(10_000, Relaxed);
        assert!(c.check_tail().is_err());
    }

    /// A ring that logs which data-area lines (64-byte, relative to the area)
    /// each access touches.
    struct Traced {
        ring: MemRing,
        lines: std::cell::RefCell<Vec<usize>>,
    }

    impl Traced {
        fn take(&self) -> Vec<usize> {
            let mut v = self.lines.take();
            v.sort_unstable();
            v.dedup();
            v
        }
    }

    // SAFETY: delegates everything to a valid `MemRing`.
    unsafe impl RingMem for Traced {
        fn ctrl(&self) -> &RingCtrl {
            self.ring.ctrl()
        }
        fn size(&self) -> usize {
            self.ring.size()
        }
        fn record_align(&self) -> usize {
            self.ring.record_align()
        }
        fn word(&self, off: usize) -> &AtomicU64 {
            self.lines
                .borrow_mut()
                .push((off & (self.size() - 1)) / LINE);
            self.ring.word(off)
        }
        unsafe fn write(&self, off: usize, bytes: &[u8]) {
            if !bytes.is_empty() {
                let mut l = self.lines.borrow_mut();
                l.extend(off / LINE..=(off + bytes.len() - 1) / LINE);
            }
            // SAFETY: the caller's contract is passed on unchanged.
            unsafe { self.ring.write(off, bytes) }
        }
    }

    /// The cache-line budget of ping-pong messages of `body` bytes, in
    /// lockstep over `laps` laps of a 4 KiB ring: (lines the consumer touches
    /// per message, averaged; messages whose producer touched the line of the
    /// *next* record, the one the consumer polls while it waits).
    fn line_budget(align: usize, len: usize, laps: usize) -> (f64, usize) {
        let heap = Heap::new(4096);
        let traced = |ring: MemRing| Traced {
            ring: ring.with_record_align(align),
            lines: Default::default(),
        };
        let mut p = Producer::new(traced(heap.line_ring()));
        let mut c = Consumer::new(traced(heap.line_ring()), 1 << 20);
        let msg = vec![7u8; len];
        let mut consumer_lines = 0;
        let mut touched_next = 0;
        let rec = record_size(len, align).expect("small");
        let n = laps * 4096 / rec;
        for k in 0..n {
            while p.try_push(kind::MSG, len as u32, &msg).expect("push") != Push::Done {}
            let produced = p.mem().take();
            let r = c.try_pop().expect("pop").expect("record");
            // SAFETY: the record was just popped and not yet released.
            assert_eq!(unsafe { c.mem().ring.bytes(r.off, r.len) }, msg);
            c.mem()
                .lines
                .borrow_mut()
                .extend(r.off / LINE..=(r.off + r.len - 1) / LINE);
            c.release();
            consumer_lines += c.mem().take().len();
            // The consumer's next poll: the line of the next record's stamp.
            let next_line = (p.tail as usize & 4095) / LINE;
            if k > 0 && produced.contains(&next_line) {
                touched_next += 1;
            }
        }
        (consumer_lines as f64 / n as f64, touched_next)
    }

    /// docs/shm.md's cache-line budget, asserted: the harness's 8-byte
    /// message (24 bytes on the wire) costs one line on each side with
    /// line-aligned records, and the producer's stores after publishing stay
    /// off the line the consumer polls next except when the zeroing frontier
    /// is held back by a stale head at a lap's end. 16-byte alignment (the
    /// layout before) splits half the records over two lines.
    #[test]
    fn ring_small_message_costs_one_line() {
        let (lines, touched) = line_budget(LINE, 24, 4);
        assert_eq!(lines, 1.0);
        assert!(
            touched <= 4,
            "{touched} messages touched the polled line in 4 laps"
        );
        let (lines16, _) = line_budget(ALIGN, 24, 4);
        assert!(lines16 > 1.4, "{lines16}");
        // Up to 48 bytes of body still fit one line.
        assert_eq!(line_budget(LINE, 48, 2).0, 1.0);
    }

    /// Round trips through a line-aligned ring: every size up to chunking,
    /// with wrap-around padding.
    #[test]
    fn ring_line_aligned_round_trip() {
        let heap = Heap::new(1024);
        let mut p = Producer::new(heap.line_ring());
        let mut c = Consumer::new(heap.line_ring(), 1 << 20);
        for i in 0..2000usize {
            let len = (i * 13) % (p.max_inline() + 1);
            let msg: Vec<u8> = (0..len).map(|j| (i ^ j) as u8).collect();
            while p.try_push(kind::MSG, len as u32, &msg).expect("push") != Push::Done {}
            let r = c.try_pop().expect("pop").expect("record");
            assert_eq!(r.off % LINE, HEADER);
            assert_eq!(body(&c, r), msg);
            c.release();
        }
        c.check_tail().expect("consistent tail");
    }

    /// Producer and consumer on two threads, records of many sizes, some
    /// chunked; Miri checks the accesses for data races.
    #[test]
    fn ring_two_threads_stream() {
        let heap = Heap::new(512);
        let count: usize = if cfg!(miri) { 60 } else { 5000 };
        let mut p = Producer::new(heap.ring());
        let mut c = Consumer::new(heap.ring(), 1 << 20);
        let keep = Arc::clone(&heap);
        let producer = std::thread::spawn(move || {
            let _keep = keep;
            for i in 0..count {
                let len = (i * 37) % 300;
                let msg: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
                let pieces: Vec<(u32, u32, &[u8])> = if len <= p.max_inline() {
                    vec![(kind::MSG, len as u32, &msg[..])]
                } else {
                    let mut v = vec![(kind::BEGIN, len as u32, &[][..])];
                    v.extend(
                        msg.chunks(p.chunk_payload())
                            .map(|ch| (kind::CHUNK, ch.len() as u32, ch)),
                    );
                    v
                };
                for (k, l, b) in pieces {
                    loop {
                        match p.try_push(k, l, b).expect("push") {
                            Push::Done => break,
                            Push::Padded => {}
                            Push::Full => std::thread::yield_now(),
                        }
                    }
                }
            }
            p.close();
        });
        let mut got = 0;
        let mut assembling: Option<(usize, Vec<u8>)> = None;
        loop {
            c.release();
            match c.try_pop().expect("pop") {
                Some(r) => {
                    let msg = match r.kind {
                        kind::MSG => body(&c, r),
                        kind::BEGIN => {
                            assembling = Some((r.len, Vec::new()));
                            continue;
                        }
                        kind::CHUNK => {
                            let (total, mut buf) = assembling.take().expect("begin first");
                            buf.extend_from_slice(&body(&c, r));
                            if buf.len() < total {
                                assembling = Some((total, buf));
                                continue;
                            }
                            buf
                        }
                        k => panic!("kind {k}"),
                    };
                    let len = (got * 37) % 300;
                    assert_eq!(msg.len(), len, "message {got}");
                    assert!(msg.iter().enumerate().all(|(j, &b)| b == (got + j) as u8));
                    got += 1;
                }
                None if c.producer_closed() => {
                    if c.try_pop().expect("pop").is_none() {
                        break;
                    }
                    panic!("record appeared after close was seen");
                }
                None => std::thread::yield_now(),
            }
        }
        producer.join().expect("producer thread");
        assert_eq!(got, count);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model checks of the index and wake-up protocols:
    //! `RUSTFLAGS="--cfg loom" cargo test -p transport-shm --release --lib loom`.
    //! Bodies live in loom atomics (written Relaxed), so a missing
    //! Release/Acquire pair shows up as a stale body, and a lost wake-up as a
    //! deadlock.

    use super::*;
    use loom::sync::atomic::AtomicU64 as LAtomicU64;
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    struct Inner {
        ctrl: RingCtrl,
        words: Vec<LAtomicU64>,
    }

    #[derive(Clone)]
    struct LoomMem(Arc<Inner>);

    impl LoomMem {
        fn new(size: usize) -> Self {
            Self(Arc::new(Inner {
                ctrl: RingCtrl::default(),
                words: (0..size / 8).map(|_| LAtomicU64::new(0)).collect(),
            }))
        }

        fn read(&self, off: usize, len: usize) -> Vec<u8> {
            let mut out = Vec::with_capacity(len);
            let mut o = off;
            while out.len() < len {
                let w = self.0.words[o / 8].load(Relaxed).to_le_bytes();
                let take = (len - out.len()).min(8);
                out.extend_from_slice(&w[..take]);
                o += 8;
            }
            out
        }
    }

    // SAFETY: size fixed power of two; word masks; write stores the bytes.
    unsafe impl RingMem for LoomMem {
        fn ctrl(&self) -> &RingCtrl {
            &self.0.ctrl
        }
        fn size(&self) -> usize {
            self.0.words.len() * 8
        }
        fn word(&self, off: usize) -> &LAtomicU64 {
            &self.0.words[(off & (self.size() - 1)) / 8]
        }
        fn record_align(&self) -> usize {
            // The orderings do not depend on the alignment; 16 keeps the
            // modelled ring (and loom's state space) small.
            super::ALIGN
        }
        unsafe fn write(&self, off: usize, bytes: &[u8]) {
            // Bodies start 16-aligned; whole words are ours up to the record end.
            for (i, ch) in bytes.chunks(8).enumerate() {
                let mut w = [0u8; 8];
                w[..ch.len()].copy_from_slice(ch);
                self.0.words[off / 8 + i].store(u64::from_le_bytes(w), Relaxed);
            }
        }
    }

    /// A futex over a loom atomic: `wait` sleeps only if the word still holds
    /// `expected`, checked under the lock that `wake` takes, as the kernel does.
    #[derive(Default)]
    struct Futex {
        lock: Mutex<()>,
        cond: Condvar,
    }

    impl Futex {
        fn wait(&self, word: &AtomicU32, expected: u32) {
            let guard = self.lock.lock().expect("lock");
            if word.load(Relaxed) == expected {
                drop(self.cond.wait(guard).expect("wait"));
            }
        }
        fn wake(&self) {
            let _guard = self.lock.lock().expect("lock");
            self.cond.notify_all();
        }
    }

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(f);
    }

    /// Three records through a 64-byte ring (padding and wrap included):
    /// contents and order survive every interleaving.
    #[test]
    fn loom_index_protocol() {
        index_protocol(false);
    }

    /// The same with the consumer's claiming polls (a compare-exchange that
    /// never changes the stamp), which a waiting `shm-spin` receiver uses.
    #[test]
    fn loom_index_protocol_claiming() {
        index_protocol(true);
    }

    fn index_protocol(claim: bool) {
        model(move || {
            let mem = LoomMem::new(64);
            let mut p = Producer::new(mem.clone());
            let mut c = Consumer::new(mem.clone(), 1 << 20);
            // 32 + 16 bytes, then a 32-byte record that does not fit the last
            // 16 bytes: padding, then offset 0.
            let sizes = [8usize, 0, 16];
            let t = thread::spawn(move || {
                for (i, &len) in sizes.iter().enumerate() {
                    let msg = vec![i as u8 + 1; len];
                    loop {
                        match p.try_push(kind::MSG, len as u32, &msg).expect("push") {
                            Push::Done => break,
                            Push::Padded => {}
                            Push::Full => thread::yield_now(),
                        }
                    }
                }
            });
            for (i, &len) in sizes.iter().enumerate() {
                let r = loop {
                    c.release();
                    match c.try_pop_as(claim).expect("no corruption") {
                        Some(r) => break r,
                        None => thread::yield_now(),
                    }
                };
                assert_eq!(r.len, len);
                assert_eq!(mem.read(r.off, r.len), vec![i as u8 + 1; len]);
            }
            t.join().expect("producer");
        });
    }

    /// The consumer sleeps when the ring is empty; the producer's publish
    /// must always wake it (no lost wake-up = no deadlock).
    #[test]
    fn loom_consumer_wakeup() {
        model(|| {
            let mem = LoomMem::new(64);
            let futex = Arc::new(Futex::default());
            let mut p = Producer::new(mem.clone());
            let mut c = Consumer::new(mem.clone(), 1 << 20);
            let f2 = Arc::clone(&futex);
            let t = thread::spawn(move || {
                assert_eq!(p.try_push(kind::MSG, 8, &[7; 8]).expect("push"), Push::Done);
                if p.consumer_sleeping() {
                    f2.wake();
                }
            });
            let r = loop {
                if let Some(r) = c.try_pop().expect("pop") {
                    break r;
                }
                c.announce_sleep();
                if let Some(r) = c.try_pop().expect("pop") {
                    c.cancel_sleep();
                    break r;
                }
                futex.wait(c.waiting_word(), 1);
            };
            assert_eq!(mem.read(r.off, r.len), vec![7; 8]);
            t.join().expect("producer");
        });
    }

    /// The producer sleeps on a full ring; the consumer's release must wake
    /// it.
    #[test]
    fn loom_producer_wakeup() {
        model(|| {
            let mem = LoomMem::new(64);
            let futex = Arc::new(Futex::default());
            let mut p = Producer::new(mem.clone());
            let mut c = Consumer::new(mem.clone(), 1 << 20);
            // 32-byte records: one fits (32 + 8 guard), the second needs the
            // first released.
            assert_eq!(
                p.try_push(kind::MSG, 16, &[1; 16]).expect("push"),
                Push::Done
            );
            let f2 = Arc::clone(&futex);
            let t = thread::spawn(move || {
                loop {
                    match p.try_push(kind::MSG, 16, &[2; 16]).expect("push") {
                        Push::Done => break,
                        Push::Padded => continue,
                        Push::Full => {}
                    }
                    p.announce_sleep();
                    match p.try_push(kind::MSG, 16, &[2; 16]).expect("push") {
                        Push::Done => {
                            p.cancel_sleep();
                            break;
                        }
                        Push::Padded => {
                            p.cancel_sleep();
                            continue;
                        }
                        Push::Full => f2.wait(p.waiting_word(), 1),
                    }
                }
            });
            let r = c.try_pop().expect("pop").expect("first record");
            assert_eq!(mem.read(r.off, r.len), vec![1; 16]);
            c.release();
            if c.producer_sleeping() {
                futex.wake();
            }
            t.join().expect("producer");
        });
    }

    /// A producer that closes after publishing: a consumer that sees the
    /// close also sees the record.
    #[test]
    fn loom_close_after_publish_drains() {
        model(|| {
            let mem = LoomMem::new(64);
            let mut p = Producer::new(mem.clone());
            let mut c = Consumer::new(mem.clone(), 1 << 20);
            let t = thread::spawn(move || {
                assert_eq!(p.try_push(kind::MSG, 8, &[3; 8]).expect("push"), Push::Done);
                p.close();
            });
            loop {
                if c.try_pop().expect("pop").is_some() {
                    break;
                }
                if c.producer_closed() {
                    assert!(c.try_pop().expect("pop").is_some(), "record lost at close");
                    break;
                }
                thread::yield_now();
            }
            t.join().expect("producer");
        });
    }
}
