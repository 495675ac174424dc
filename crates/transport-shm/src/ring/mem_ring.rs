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
            align.is_power_of_two() && (ALIGN..=LINE).contains(&align) && align <= self.size / 4,
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

    /// Lends the body of a record the producer has reserved, to be written
    /// in place (a loan).
    ///
    /// # Safety
    ///
    /// `[off, off + len)` lies in the data area, is reserved by this ring's
    /// producer and not yet published, and no other reference to it exists
    /// while the slice lives.
    #[inline]
    pub unsafe fn bytes_mut<'a>(&self, off: usize, len: usize) -> &'a mut [u8] {
        debug_assert!(off + len <= self.size);
        // SAFETY: per the caller's contract the range is inside the area,
        // the consumer does not read it before it is published and nothing
        // else refers to it.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr().add(off), len) }
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
/// at these sizes a call into libc's `memcpy` costs more than the rest of
/// the publish (docs/design-figures.md).
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
