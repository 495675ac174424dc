//! The memory one ring lives in: the trait the producer and consumer are
//! written against, so the same code runs on shared memory, heap memory under
//! Miri and loom's modelled atomics.

use crate::sync::AtomicU64;

use super::layout::{LINE, RingCtrl};

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
