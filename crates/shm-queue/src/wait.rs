//! Futex sleeps and wake-ups on words in shared memory, and the liveness
//! tests (from [`transport::process`]) that decide whether a claim's owner
//! is dead.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU8, AtomicU32};
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

/// This process's pid, as stored in claims. Cached: `getpid` is a system
/// call, as costly as the rest of a small put (docs/design-figures.md), and
/// every put and get needs the pid. A fork handler clears the cache in
/// the child, so a forked process never claims under its parent's pid
/// (which would make its claims look alive after it died).
pub fn my_pid() -> u32 {
    let cached = PID.load(Relaxed);
    if cached != 0 {
        return cached;
    }
    let pid = rustix::process::getpid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs();
    // Cache only once the handler is registered in this process: a process
    // forked while another thread registers it (state left at REGISTERING in
    // the child) never caches, and stays correct.
    if FORK_HANDLER.load(Acquire) == REGISTERED
        || (FORK_HANDLER
            .compare_exchange(UNREGISTERED, REGISTERING, Acquire, Relaxed)
            .is_ok()
            && register_fork_handler())
    {
        PID.store(pid, Relaxed);
    }
    pid
}

/// The cached pid; 0 when not (yet) known in this process.
static PID: AtomicU32 = AtomicU32::new(0);
/// Whether [`forget_pid`] is registered to run in forked children.
static FORK_HANDLER: AtomicU8 = AtomicU8::new(UNREGISTERED);
const UNREGISTERED: u8 = 0;
const REGISTERING: u8 = 1;
const REGISTERED: u8 = 2;

/// Registers [`forget_pid`]; on failure the pid is never cached.
fn register_fork_handler() -> bool {
    // SAFETY: `forget_pid` is a plain `extern "C"` function that only
    // stores to an atomic, which is async-signal-safe as a fork child
    // handler must be.
    let ok = unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) } == 0;
    FORK_HANDLER.store(if ok { REGISTERED } else { REGISTERING }, Release);
    ok
}

/// Runs in the child of every `fork`: the parent's pid is not ours.
extern "C" fn forget_pid() {
    PID.store(0, Relaxed);
}

/// Whether process `pid` still runs. A zombie (killed, not yet reaped by its
/// parent) counts as dead: it will never release a claim. Errs on the side
/// of "alive" when it cannot tell, which only delays a reclaim.
pub use transport::process::running as alive;

#[cfg(test)]
mod tests {
    use super::my_pid;

    #[test]
    fn a_forked_child_sees_its_own_pid_not_the_cached_one() {
        let parent = my_pid();
        assert_eq!(parent, std::process::id());
        assert_eq!(my_pid(), parent, "cached");
        // SAFETY: the child only reads its pid and exits (no allocation, no
        // locks), which is allowed after fork in a multi-threaded process.
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork failed");
        if child == 0 {
            // SAFETY: getpid is async-signal-safe.
            let ok = my_pid() == unsafe { libc::getpid() }.unsigned_abs();
            // SAFETY: _exit is async-signal-safe; the child ends here.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        let waited = unsafe { libc::waitpid(child, &mut status, 0) };
        assert_eq!(waited, child);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child saw its parent's pid"
        );
        assert_eq!(my_pid(), parent);
    }
}
