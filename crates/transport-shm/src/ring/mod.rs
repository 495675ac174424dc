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
//!
//! # Files
//!
//! [`layout`] holds the record format and the shared control block,
//! [`memory`] the memory a ring lives in (the [`RingMem`] trait and, outside
//! loom, [`MemRing`]), [`producer`] and [`consumer`] the two ends, and
//! [`readers`] the producer's view of several consumers of one ring (a
//! broadcast: each reader a `Consumer` with a control block of its own).

mod consumer;
mod layout;
#[cfg(not(loom))]
mod mem_ring;
mod memory;
mod producer;
mod readers;

pub use consumer::{Consumer, Record};
pub use layout::{
    ALIGN, Corrupt, Flags, HEADER, LINE, MAX_SIZE, MIN_SIZE, Padded, RingCtrl, STAMP_GUARD,
    ZERO_AHEAD, kind, record_size,
};
#[cfg(not(loom))]
pub use mem_ring::MemRing;
pub use memory::RingMem;
pub use producer::{Producer, Push};
pub use readers::{Readers, Slowest};

#[cfg(all(test, not(loom)))]
mod readers_tests;
#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_readers;
#[cfg(all(test, loom))]
mod loom_tests;
