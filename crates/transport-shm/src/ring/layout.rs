//! The record format and the shared control block: sizes, record kinds,
//! stamps, and the cache-line-padded indices and flags.

use crate::sync::{AtomicU32, AtomicU64};

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

/// Bytes a record with a body of `len` bytes occupies in a ring whose records
/// are aligned to `align` (a power of two).
#[inline]
pub fn record_size(len: usize, align: usize) -> Option<usize> {
    len.checked_add(HEADER + align - 1)
        .map(|n| n & !(align - 1))
}

/// [`record_size`] for one ring, with the alignment's constants worked out
/// once, so the hot path only adds and masks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rounding {
    /// `HEADER + align - 1`.
    add: usize,
    /// `!(align - 1)`.
    mask: usize,
}

impl Rounding {
    pub(super) fn new(align: usize) -> Self {
        Self {
            add: HEADER + align - 1,
            mask: !(align - 1),
        }
    }

    /// The size of a record with a body of `len` bytes; `len` is at most
    /// half the ring (checked by every caller), so nothing overflows.
    #[inline(always)]
    pub(super) fn record(self, len: usize) -> usize {
        (len + self.add) & self.mask
    }
}

#[inline]
pub(super) fn stamp(pos: u64) -> u64 {
    // +1 so that the all-zero initial memory never looks like a record at 0.
    pos.wrapping_add(1)
}

#[inline]
pub(super) fn meta(kind: u32, len: u32) -> u64 {
    (u64::from(kind) << 32) | u64::from(len)
}

/// The error for a body that cannot go in one record (a caller's bug: the
/// sender chunks anything above [`Producer::max_inline`]).
#[cold]
#[inline(never)]
pub(super) fn too_large(len: usize) -> Corrupt {
    Corrupt(format!(
        "internal: record body of {len} bytes exceeds half the ring"
    ))
}
