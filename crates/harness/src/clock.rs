//! The one clock every measurement reads: `CLOCK_MONOTONIC` in nanoseconds.
//!
//! It is system-wide on Linux, so a timestamp taken by the producer can be
//! subtracted from one taken by the consumer in another process. The read goes
//! through the vDSO (no system call); its measured cost is reported with
//! every run.

use rustix::time::{ClockId, clock_gettime};

/// Nanoseconds since an arbitrary, machine-wide fixed point.
#[inline(always)]
pub fn now_ns() -> u64 {
    let ts = clock_gettime(ClockId::Monotonic);
    // CLOCK_MONOTONIC never goes negative; the cast cannot lose information.
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// Median cost of one clock read, from batches of back-to-back reads.
pub fn overhead_ns() -> f64 {
    const BATCH: u64 = 1000;
    let mut per_call: Vec<f64> = (0..200)
        .map(|_| {
            let start = now_ns();
            let mut last = start;
            for _ in 0..BATCH {
                last = std::hint::black_box(now_ns());
            }
            (last - start) as f64 / BATCH as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call[per_call.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_monotonic() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
    }

    #[test]
    fn overhead_is_positive_and_finite() {
        let o = overhead_ns();
        assert!(o > 0.0 && o.is_finite(), "{o}");
    }
}
