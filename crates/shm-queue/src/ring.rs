//! The queue protocol over a block of memory: header, slots, and the
//! claim / publish / release transitions of a Vyukov-style bounded MPMC
//! queue whose claims are made on the slot's state word (not only on the
//! shared position), so a claim always names its owner's pid.
//!
//! The memory may be a shared mapping or, in tests and the fuzz target, a
//! heap buffer; every word read from it is untrusted and validated.

use std::ptr::NonNull;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};

use crate::sync::{AtomicU32, AtomicU64, fence};

use crate::Error;
use crate::state::{IDLE, LOST, READING, WRITING, dist, pack, unpack};

/// Bytes before the first slot (the header page). (Loom's atomics are
/// larger than the real ones; only its models use the larger layout.)
pub const HEADER_SIZE: usize = if cfg!(loom) { 16384 } else { 4096 };
/// Bytes of a slot's own header (state word, length), before its payload.
pub const SLOT_HEADER: usize = if cfg!(loom) { 256 } else { 64 };
/// Fewest slots: with one slot, "full at lap p" and "free at lap p+1" would
/// be the same state word.
pub const MIN_SLOTS: u64 = 2;
/// Most slots (far below the 2^31 that wrapping sequence numbers allow).
pub const MAX_SLOTS: u64 = 1 << 20;
/// Largest payload of one slot.
pub const MAX_SLOT_SIZE: u64 = 1 << 32;

const MAGIC: u64 = u64::from_le_bytes(*b"ipcbMPQ1");
const VERSION: u32 = 2;

/// One 128-byte block, so the positions producers and consumers hammer do
/// not share a cache line (nor an adjacent-line prefetch pair).
#[repr(C, align(128))]
#[derive(Debug, Default)]
pub struct Padded<T>(pub T);

/// Futex words and the counters beside them.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Wake {
    /// Bumped on every publish; consumers sleep on it.
    pub items: AtomicU32,
    /// Consumers asleep (or about to be) on `items`.
    pub consumers_waiting: AtomicU32,
    /// Bumped on every release; producers sleep on it.
    pub space: AtomicU32,
    /// Producers asleep (or about to be) on `space`.
    pub producers_waiting: AtomicU32,
    /// Until when a large record is announced (monotonic nanoseconds; see
    /// `soon`): consumers poll rather than sleep before then.
    pub soon_until: AtomicU64,
}

/// The header page.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Header {
    pub magic: AtomicU64,
    pub slots: AtomicU64,
    pub slot_size: AtomicU64,
    pub version: AtomicU32,
    pub creator_pid: AtomicU32,
    pub enqueue: Padded<AtomicU64>,
    pub dequeue: Padded<AtomicU64>,
    /// Records lost to dead processes.
    pub lost: Padded<AtomicU64>,
    pub wake: Padded<Wake>,
    /// Words for a protocol layered on top (the transport's handshake).
    pub aux: Padded<[AtomicU32; 16]>,
}

const _: () = assert!(size_of::<Header>() <= HEADER_SIZE);
const _: () = assert!(size_of::<SlotHead>() <= SLOT_HEADER);

/// A slot's header; the payload follows at `SLOT_HEADER`.
#[repr(C)]
#[derive(Debug)]
struct SlotHead {
    state: AtomicU64,
    len: AtomicU64,
}

/// Distance between two slots for a given payload size.
pub fn stride(slot_size: u64) -> Option<u64> {
    slot_size
        .checked_add(63)
        .map(|s| s & !63)
        .and_then(|s| s.checked_add(SLOT_HEADER as u64))
}

/// Total bytes of a queue's memory, or None when the geometry is invalid.
pub fn total_size(slots: u64, slot_size: u64) -> Option<usize> {
    if !(MIN_SLOTS..=MAX_SLOTS).contains(&slots) || slot_size > MAX_SLOT_SIZE {
        return None;
    }
    stride(slot_size)?
        .checked_mul(slots)?
        .checked_add(HEADER_SIZE as u64)
        .and_then(|t| usize::try_from(t).ok())
}

/// The outcome of one non-blocking attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt<T> {
    Done(T),
    /// Full (put) or empty (get) right now.
    Busy,
}

/// A slot claimed for writing ([`Ring::try_claim`]): whoever holds it
/// writes the payload, then publishes or abandons it, which consumes it. A
/// claim neither published nor abandoned stalls the queue's consumers at its
/// position until its process dies (then it is reclaimed as lost).
#[derive(Debug)]
#[must_use = "a claim must be published or abandoned, or consumers wait at its slot"]
pub struct Claim {
    pos: u64,
    seq: u32,
    len: usize,
}

impl Claim {
    /// The record's size.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the record is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A record taken and still held ([`Ring::try_hold`]): its slot stays
/// claimed by this process, so producers cannot reuse it, until the holder
/// [`Ring::release`]s it. Holding one record delays only the producer that
/// laps around to its slot; a holder that dies is reclaimed as a loss.
#[derive(Debug)]
#[must_use = "a held record must be released, or producers stop at its slot"]
pub struct Held {
    pos: u64,
    next_lap: u32,
    len: usize,
}

impl Held {
    /// The record's size.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the record is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A view of queue memory. Holds raw pointers: whoever owns the memory keeps
/// it alive and mapped while the view is used.
#[derive(Debug, Clone, Copy)]
pub struct Ring {
    base: NonNull<u8>,
    slots: u64,
    slot_size: u64,
    stride: u64,
}

// SAFETY: every shared word is an atomic; payload bytes are only touched by
// the holder of the slot's claim.
unsafe impl Send for Ring {}
// SAFETY: as above.
unsafe impl Sync for Ring {}

impl Ring {
    /// Initialises fresh (zeroed) memory as an empty queue.
    ///
    /// # Safety
    /// `base` points to `len` writable bytes, 128-byte aligned, that stay
    /// valid for as long as any view of them is used.
    pub unsafe fn init(
        base: NonNull<u8>,
        len: usize,
        slots: u64,
        slot_size: u64,
        creator_pid: u32,
    ) -> Result<Self, Error> {
        if total_size(slots, slot_size) != Some(len) {
            return Err(Error::Invalid(format!(
                "{slots} slots of {slot_size} bytes do not fit {len} bytes (slots must be in {MIN_SLOTS}..={MAX_SLOTS})"
            )));
        }
        let ring = Self {
            base,
            slots,
            slot_size,
            stride: stride(slot_size).unwrap_or(0),
        };
        // SAFETY: the memory is ours alone until the magic is published;
        // constructing the atomics in place (rather than trusting zeroed
        // bytes to be valid atomics) also suits loom's modelled ones.
        unsafe { base.cast::<Header>().as_ptr().write(Header::default()) };
        let h = ring.header();
        for i in 0..slots {
            let head = SlotHead {
                state: AtomicU64::new(pack(i as u32, IDLE, 0)),
                len: AtomicU64::new(0),
            };
            // SAFETY: slot `i`'s header lies inside the memory (checked by
            // `total_size`), aligned to 64, and nobody else sees it yet.
            unsafe { ring.slot_ptr(i).cast::<SlotHead>().as_ptr().write(head) };
        }
        h.slots.store(slots, Relaxed);
        h.slot_size.store(slot_size, Relaxed);
        h.version.store(VERSION, Relaxed);
        h.creator_pid.store(creator_pid, Relaxed);
        // Release: the magic is written last; `attach` checks it with Acquire.
        h.magic.store(MAGIC, Release);
        Ok(ring)
    }

    /// Validates memory initialised by `init` (possibly by another, possibly
    /// hostile, process) and returns a view of it.
    ///
    /// # Safety
    /// As for [`Ring::init`].
    pub unsafe fn attach(base: NonNull<u8>, len: usize) -> Result<Self, Error> {
        if len < HEADER_SIZE {
            return Err(Error::Invalid(format!(
                "{len} bytes is too small for a queue"
            )));
        }
        // SAFETY: at least a header's worth of bytes, aligned, all atomics.
        let h = unsafe { base.cast::<Header>().as_ref() };
        if h.magic.load(Acquire) != MAGIC {
            return Err(Error::Invalid("segment has no queue header".into()));
        }
        let version = h.version.load(Relaxed);
        if version != VERSION {
            return Err(Error::Invalid(format!(
                "queue layout version {version}, expected {VERSION}"
            )));
        }
        let (slots, slot_size) = (h.slots.load(Relaxed), h.slot_size.load(Relaxed));
        if total_size(slots, slot_size) != Some(len) {
            return Err(Error::Invalid(format!(
                "header claims {slots} slots of {slot_size} bytes, which does not match the segment's {len} bytes"
            )));
        }
        Ok(Self {
            base,
            slots,
            slot_size,
            stride: stride(slot_size).unwrap_or(0),
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        // SAFETY: `init`/`attach` checked the memory holds a header.
        unsafe { self.base.cast::<Header>().as_ref() }
    }

    /// Number of slots.
    pub fn slots(&self) -> u64 {
        self.slots
    }

    /// Largest record, in bytes.
    pub fn max_record(&self) -> usize {
        usize::try_from(self.slot_size).unwrap_or(usize::MAX)
    }

    fn slot_ptr(&self, i: u64) -> NonNull<u8> {
        let off = HEADER_SIZE as u64 + (i % self.slots) * self.stride;
        // SAFETY: `i % slots < slots` and the memory holds `slots` strides
        // after the header (checked by `total_size`).
        unsafe { self.base.add(off as usize) }
    }

    fn slot(&self, i: u64) -> &SlotHead {
        // SAFETY: in bounds (see `slot_ptr`), 64-byte aligned, all atomics.
        unsafe { self.slot_ptr(i).cast::<SlotHead>().as_ref() }
    }

    fn payload(&self, i: u64) -> *mut u8 {
        // SAFETY: the payload follows the slot header inside the stride.
        unsafe { self.slot_ptr(i).as_ptr().add(SLOT_HEADER) }
    }

    /// Records published and not yet taken (approximate while others work).
    pub fn len(&self) -> u64 {
        let h = self.header();
        let d = h.dequeue.0.load(Relaxed);
        let e = h.enqueue.0.load(Relaxed);
        e.saturating_sub(d).min(self.slots)
    }

    /// Whether `len()` is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records lost to processes that died holding them.
    pub fn lost(&self) -> u64 {
        self.header().lost.0.load(Relaxed)
    }

    /// Tries once to append a record of `len` bytes, filled by `fill` while
    /// this process holds the slot's claim. `me` is this process's pid;
    /// `alive` tells whether another pid still runs (for reclaiming).
    pub fn try_put(
        &self,
        len: usize,
        me: u32,
        alive: &dyn Fn(u32) -> bool,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Attempt<()>, Error> {
        Ok(match self.try_claim(len, me, alive)? {
            Attempt::Done(mut claim) => {
                fill(self.claimed(&mut claim));
                self.publish(claim);
                Attempt::Done(())
            }
            Attempt::Busy => Attempt::Busy,
        })
    }

    /// Tries once to claim the next slot for a record of `len` bytes, which
    /// the holder of the returned [`Claim`] writes in place
    /// ([`Self::claimed`]) and then [`Self::publish`]es, or
    /// [`Self::abandon`]s. Consumers take records in order, so they wait at
    /// this slot until then: hold a claim only while filling it.
    pub fn try_claim(
        &self,
        len: usize,
        me: u32,
        alive: &dyn Fn(u32) -> bool,
    ) -> Result<Attempt<Claim>, Error> {
        if len as u64 > self.slot_size {
            return Err(Error::TooLarge {
                size: len,
                max: self.max_record(),
            });
        }
        let enq = &self.header().enqueue.0;
        loop {
            let pos = enq.load(Relaxed);
            let slot = self.slot(pos);
            let word = slot.state.load(Acquire);
            let (seq, kind, pid) = unpack(word);
            match dist(seq, pos) {
                0 if kind == IDLE => {
                    // Acquire: the previous consumer's copy-out happens
                    // before our writes to the payload.
                    let claim = pack(seq, WRITING, me);
                    if slot
                        .state
                        .compare_exchange(word, claim, Acquire, Relaxed)
                        .is_err()
                    {
                        continue;
                    }
                    // Relaxed: only moves the hint forward; if we die here,
                    // whoever sees our claim moves it instead.
                    let _ = enq.compare_exchange(pos, pos.wrapping_add(1), Relaxed, Relaxed);
                    return Ok(Attempt::Done(Claim { pos, seq, len }));
                }
                // Claimed or published at this position: the shared position
                // is behind; help it on (its owner may have died before).
                0 | 1 => {
                    let _ = enq.compare_exchange(pos, pos.wrapping_add(1), Relaxed, Relaxed);
                }
                d if d < 0 => {
                    // Still in use from the previous lap: full, unless its
                    // owner died, or the position moved meanwhile.
                    if enq.load(Relaxed) != pos {
                        continue;
                    }
                    if self.reclaim_word(slot, word, seq, kind, pid, me, alive) {
                        continue;
                    }
                    return Ok(Attempt::Busy);
                }
                // The slot is already free for the next lap: position `pos`
                // is done (consumed, or a dead writer's slot reclaimed and
                // skipped before any producer moved the position past it):
                // help the position on. More than a lap ahead is impossible:
                // a hostile or corrupt segment, reported rather than walked.
                d if d as u64 <= self.slots => {
                    let _ = enq.compare_exchange(pos, pos.wrapping_add(1), Relaxed, Relaxed);
                }
                _ => {
                    if enq.load(Relaxed) == pos {
                        return Err(Error::Corrupt(format!(
                            "slot state {word:#x} is ahead of the put position {pos}"
                        )));
                    }
                }
            }
        }
    }

    /// The payload of a claimed slot, `claim.len()` bytes, to write in
    /// place.
    pub fn claimed<'c>(&self, claim: &'c mut Claim) -> &'c mut [u8] {
        // Re-checked (a claim made on another queue could be larger).
        let len = claim.len.min(self.max_record());
        // SAFETY: the claim (state WRITING, our pid) gives its holder this
        // payload exclusively until it publishes or abandons it, both of
        // which consume the `Claim`; the `&mut` borrow of the claim keeps a
        // second slice from existing meanwhile; `len <= slot_size`.
        unsafe { std::slice::from_raw_parts_mut(self.payload(claim.pos), len) }
    }

    /// Publishes a claimed slot as a record of `claim.len()` bytes.
    pub fn publish(&self, claim: Claim) {
        let slot = self.slot(claim.pos);
        let len = claim.len.min(self.max_record());
        slot.len.store(len as u64, Relaxed);
        // Release: payload and length before the full state.
        slot.state
            .store(pack(claim.seq.wrapping_add(1), IDLE, 0), Release);
        let w = &self.header().wake.0;
        self.notify(&w.items, &w.consumers_waiting, 1);
    }

    /// Gives a claimed slot up without a record: it is published as a slot
    /// consumers skip (as a dead writer's is, but not counted as a loss),
    /// since consumers already wait for this position in order.
    pub fn abandon(&self, claim: Claim) {
        let slot = self.slot(claim.pos);
        // Release: our (unused) writes to the payload happen before a
        // consumer frees the slot for the next producer.
        slot.state
            .store(pack(claim.seq.wrapping_add(1), LOST, 0), Release);
        let w = &self.header().wake.0;
        self.notify(&w.items, &w.consumers_waiting, 1);
    }

    /// Tries once to take the oldest record, lending its bytes to `take`
    /// while this process holds the slot's claim.
    pub fn try_get<R>(
        &self,
        me: u32,
        alive: &dyn Fn(u32) -> bool,
        take: &mut dyn FnMut(&[u8]) -> R,
    ) -> Result<Attempt<R>, Error> {
        Ok(match self.try_hold(me, alive)? {
            Attempt::Done(held) => {
                let out = take(self.held(&held));
                self.release(held);
                Attempt::Done(out)
            }
            Attempt::Busy => Attempt::Busy,
        })
    }

    /// The bytes of a held record, in place.
    pub fn held<'h>(&self, held: &'h Held) -> &'h [u8] {
        // Re-checked (a record held on another queue could be larger).
        let len = held.len.min(self.max_record());
        // SAFETY: the slot is claimed READING by this process until
        // `release` consumes the `Held`, which cannot happen while this
        // borrow of it lives; producers write a payload only after claiming
        // its slot from IDLE; `len <= slot_size`.
        unsafe { std::slice::from_raw_parts(self.payload(held.pos), len) }
    }

    /// Gives a held record's slot back to the producers.
    pub fn release(&self, held: Held) {
        // Release: our reads of the payload happen before a producer's next
        // write to it.
        self.slot(held.pos)
            .state
            .store(pack(held.next_lap, IDLE, 0), Release);
        let w = &self.header().wake.0;
        self.notify(&w.space, &w.producers_waiting, 1);
    }

    /// Tries once to take the oldest record and hold it in place: the
    /// caller reads it through [`Self::held`] and then [`Self::release`]s
    /// it.
    pub fn try_hold(&self, me: u32, alive: &dyn Fn(u32) -> bool) -> Result<Attempt<Held>, Error> {
        let deq = &self.header().dequeue.0;
        loop {
            let pos = deq.load(Relaxed);
            let slot = self.slot(pos);
            let word = slot.state.load(Acquire);
            let (seq, kind, pid) = unpack(word);
            let next_lap = seq.wrapping_add(self.slots as u32).wrapping_sub(1);
            match dist(seq, pos) {
                1 if kind == IDLE => {
                    // Acquire: the producer's payload is visible after this.
                    if slot
                        .state
                        .compare_exchange(word, pack(seq, READING, me), Acquire, Relaxed)
                        .is_err()
                    {
                        continue;
                    }
                    let _ = deq.compare_exchange(pos, pos.wrapping_add(1), Relaxed, Relaxed);
                    let len = slot.len.load(Relaxed);
                    let held = Held {
                        pos,
                        next_lap,
                        len: usize::try_from(len).unwrap_or(usize::MAX),
                    };
                    if len > self.slot_size {
                        self.release(held);
                        return Err(Error::Corrupt(format!(
                            "record at position {pos} claims {len} bytes, more than the slot's {} (dropped)",
                            self.slot_size
                        )));
                    }
                    return Ok(Attempt::Done(held));
                }
                // Skip a record whose producer died; it was counted when it
                // was marked lost. (If the exchange fails, someone else moved
                // the slot on: look again.)
                1 if kind == LOST => {
                    let free = pack(next_lap, IDLE, 0);
                    if slot
                        .state
                        .compare_exchange(word, free, Relaxed, Relaxed)
                        .is_ok()
                    {
                        let _ = deq.compare_exchange(pos, pos.wrapping_add(1), Relaxed, Relaxed);
                        let w = &self.header().wake.0;
                        self.notify(&w.space, &w.producers_waiting, 1);
                    }
                }
                1 if kind == READING => {
                    let _ = deq.compare_exchange(pos, pos.wrapping_add(1), Relaxed, Relaxed);
                }
                1 => {
                    return Err(Error::Corrupt(format!(
                        "slot state {word:#x} at position {pos} is impossible"
                    )));
                }
                d if d <= 0 => {
                    // Not published yet (free, being written, or still in use
                    // from the previous lap).
                    if deq.load(Relaxed) != pos {
                        continue;
                    }
                    if self.reclaim_word(slot, word, seq, kind, pid, me, alive) {
                        continue;
                    }
                    return Ok(Attempt::Busy);
                }
                // As in `try_put`: at most a lap ahead, help the position on;
                // beyond, corrupt.
                d if d as u64 <= self.slots => {
                    let _ = deq.compare_exchange(pos, pos.wrapping_add(1), Relaxed, Relaxed);
                }
                _ => {
                    if deq.load(Relaxed) == pos {
                        return Err(Error::Corrupt(format!(
                            "slot state {word:#x} is ahead of the get position {pos}"
                        )));
                    }
                }
            }
        }
    }

    /// If `word` is a claim by a dead process, undoes it (a dead writer's
    /// slot becomes LOST, a dead reader's slot becomes free) and counts the
    /// loss. Returns whether the state changed (the caller looks again).
    #[allow(clippy::too_many_arguments)]
    fn reclaim_word(
        &self,
        slot: &SlotHead,
        word: u64,
        seq: u32,
        kind: u32,
        pid: u32,
        me: u32,
        alive: &dyn Fn(u32) -> bool,
    ) -> bool {
        let to = match kind {
            WRITING => pack(seq.wrapping_add(1), LOST, 0),
            READING => pack(seq.wrapping_add(self.slots as u32).wrapping_sub(1), IDLE, 0),
            _ => return false,
        };
        if pid == me || alive(pid) {
            return false;
        }
        // Only one process wins the exchange, so the loss is counted once.
        if slot
            .state
            .compare_exchange(word, to, AcqRel, Relaxed)
            .is_ok()
        {
            self.header().lost.0.fetch_add(1, Relaxed);
            let w = &self.header().wake.0;
            self.notify(&w.items, &w.consumers_waiting, u32::MAX);
            self.notify(&w.space, &w.producers_waiting, u32::MAX);
        }
        true
    }

    /// Undoes every claim held by a dead process; returns how many.
    pub fn reclaim_dead(&self, me: u32, alive: &dyn Fn(u32) -> bool) -> u64 {
        let before = self.lost();
        for i in 0..self.slots {
            let slot = self.slot(i);
            let word = slot.state.load(Acquire);
            let (seq, kind, pid) = unpack(word);
            self.reclaim_word(slot, word, seq, kind, pid, me, alive);
        }
        self.lost().saturating_sub(before)
    }

    /// Announces a record until `until_ns` (monotonic nanoseconds) and wakes
    /// one sleeping consumer, which then polls for it (see `soon`).
    pub fn announce(&self, until_ns: u64) {
        let w = &self.header().wake.0;
        // Release: nothing to publish, but the hint is seen no earlier than
        // the wake-up below makes a sleeper look.
        w.soon_until.fetch_max(until_ns, Release);
        self.notify(&w.items, &w.consumers_waiting, 1);
    }

    /// The announcement in the header (monotonic nanoseconds, untrusted).
    pub fn announced_until(&self) -> u64 {
        self.header().wake.0.soon_until.load(Acquire)
    }

    /// Bumps a futex word and wakes up to `n` sleepers if any is registered.
    fn notify(&self, word: &AtomicU32, waiting: &AtomicU32, n: u32) {
        word.fetch_add(1, Release);
        // SeqCst fence: pairs with the waiter's fence between registering and
        // re-checking, so either it sees our publish or we see it waiting.
        fence(SeqCst);
        if waiting.load(Relaxed) > 0 {
            #[cfg(not(loom))]
            crate::wait::futex_wake(word, n);
            #[cfg(loom)]
            let _ = n;
        }
    }
}
