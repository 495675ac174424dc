//! Announced records: a producer about to spend a while writing a large
//! record (filling a loan, or copying a large message into its slot) says
//! so first, so that a consumer asleep on the queue wakes up during the fill and
//! polls until the record lands, instead of sleeping through the fill and
//! paying an idle core's wake-up after the publish (docs/zero-copy.md,
//! "Announced records").
//!
//! An announcement is a deadline on the monotonic clock (shared by every
//! process on the machine) in the queue's header: consumers poll instead of
//! sleeping until it passes. It expires on its own, so a producer killed
//! mid-fill leaves consumers polling for at most one hint, and nothing to
//! clean up.

use std::time::{Duration, Instant};

use rustix::time::{ClockId, clock_gettime};

/// Smallest record worth announcing: a smaller one is written well within a
/// waiting consumer's own spin ([`crate::SPIN`]).
pub const ANNOUNCE_MIN: usize = 256 << 10;
/// How long an announcement lasts per byte of the record: a fill at 1 GB/s,
/// slower than memory on any machine this runs on, so the hint outlasts the
/// fill it announces.
const NS_PER_BYTE: u64 = 1;
/// Shortest announcement.
const MIN_HINT: Duration = Duration::from_millis(1);
/// Longest announcement, and the longest a consumer polls on one hint (the
/// header is untrusted, so a hint further out is cut to this).
pub const MAX_HINT: Duration = Duration::from_millis(100);

/// How long an announcement of a `len`-byte record lasts, or `None` when the
/// record is too small to announce.
pub fn hint_for(len: usize) -> Option<Duration> {
    if len < ANNOUNCE_MIN {
        return None;
    }
    let ns = (len as u64).saturating_mul(NS_PER_BYTE);
    Some(Duration::from_nanos(ns).clamp(MIN_HINT, MAX_HINT))
}

/// Times another task has taken this thread's CPU from it (the kernel's
/// involuntary context switches of the thread: a yield that ran another
/// task, or a preemption); a poller that sees it grow shares its core.
pub fn switches_away() -> i64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the (zeroed, so valid) buffer.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()) } == 0;
    // SAFETY: zeroed at creation, possibly filled in by getrusage.
    let ru = unsafe { ru.assume_init() };
    if ok { ru.ru_nivcsw } else { 0 }
}

/// The monotonic clock in nanoseconds, as every process reads it.
pub fn now_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Until when a consumer that would sleep now should poll instead: the
/// announcement `until_ns` (monotonic nanoseconds, from the header), cut to
/// [`MAX_HINT`] from now and to the caller's `deadline`; `None` when
/// nothing is announced, or it has passed.
pub fn poll_until(until_ns: u64, deadline: Option<Instant>) -> Option<Instant> {
    let left = Duration::from_nanos(until_ns.checked_sub(now_ns())?).min(MAX_HINT);
    let until = Instant::now() + left;
    Some(deadline.map_or(until, |d| d.min(until))).filter(|&u| u > Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_records_are_not_announced_and_large_ones_are_bounded() {
        assert_eq!(hint_for(ANNOUNCE_MIN - 1), None);
        assert_eq!(hint_for(ANNOUNCE_MIN), Some(MIN_HINT));
        assert_eq!(hint_for(64 << 20), Some(Duration::from_nanos(64 << 20)));
        assert_eq!(hint_for(1 << 30), Some(MAX_HINT));
        assert_eq!(hint_for(usize::MAX), Some(MAX_HINT));
    }

    #[test]
    fn a_hint_is_followed_until_it_passes_and_no_further_than_its_bounds() {
        let now = now_ns();
        assert_eq!(poll_until(0, None), None, "nothing announced");
        assert_eq!(poll_until(now.saturating_sub(1), None), None, "passed");
        let until = poll_until(now + 50_000_000, None).expect("50 ms ahead");
        let left = until - Instant::now();
        assert!(left > Duration::from_millis(30) && left <= Duration::from_millis(50));
        let far = poll_until(u64::MAX, None).expect("a hostile hint");
        assert!(far - Instant::now() <= MAX_HINT, "cut to MAX_HINT");
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(
            poll_until(u64::MAX, Some(soon)),
            Some(soon),
            "cut to the deadline"
        );
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(poll_until(u64::MAX, Some(past)), None, "deadline passed");
    }
}
