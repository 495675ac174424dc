//! Futex sleeps and wake-ups on words in shared memory, and the liveness
//! tests (from [`transport::process`]) that decide whether a claim's owner
//! is dead.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::thread::futex;

/// Sleeps while `word` holds `expected`, at most `timeout`. Spurious returns
/// are fine: every caller re-checks its condition.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = futex::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    // Not FUTEX_PRIVATE: the word is shared with other processes. EAGAIN,
    // EINTR and ETIMEDOUT all mean "look again".
    let _ = futex::wait(word, futex::Flags::empty(), expected, Some(&ts));
}

/// Wakes up to `n` sleepers on `word`.
pub fn futex_wake(word: &AtomicU32, n: u32) {
    let _ = futex::wake(word, futex::Flags::empty(), n);
}

/// This process's pid, as stored in claims.
pub fn my_pid() -> u32 {
    rustix::process::getpid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs()
}

/// Whether process `pid` still runs. A zombie (killed, not yet reaped by its
/// parent) counts as dead: it will never release a claim. Errs on the side
/// of "alive" when it cannot tell, which only delays a reclaim.
pub use transport::process::running as alive;
