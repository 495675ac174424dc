//! How many of one backend's connections the suite holds at once. libtest
//! runs tests on as many threads as it likes; a backend whose connections
//! are charged to a per-user kernel quota (POSIX queues and
//! `RLIMIT_MSGQUEUE`) declares `Capabilities::max_concurrent`, and each
//! test takes that many slots before it sets up, waiting for others to end.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, PoisonError};

use transport::Transport;

/// Slots in use, per backend name.
static IN_USE: Mutex<Option<HashMap<&'static str, usize>>> = Mutex::new(None);
static FREED: Condvar = Condvar::new();

/// Held slots, given back when dropped.
#[must_use = "the slots are held only while the guard lives"]
pub(crate) struct Slots {
    backend: &'static str,
    n: usize,
}

/// Takes `n` slots of backend `T` (connections the test will hold at once),
/// waiting while that would pass its declared limit. A test that needs more
/// than the limit runs alone.
pub(crate) fn take<T: Transport>(n: usize) -> Slots {
    take_named(T::NAME, T::capabilities().max_concurrent, n)
}

pub(crate) fn take_named(backend: &'static str, max: usize, n: usize) -> Slots {
    if max == 0 {
        return Slots { backend, n: 0 };
    }
    let n = n.clamp(1, max);
    let mut guard = IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let used = guard
            .get_or_insert_with(HashMap::new)
            .entry(backend)
            .or_insert(0);
        if *used + n <= max {
            *used += n;
            return Slots { backend, n };
        }
        guard = FREED.wait(guard).unwrap_or_else(PoisonError::into_inner);
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        if self.n == 0 {
            return;
        }
        let mut guard = IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(used) = guard.get_or_insert_with(HashMap::new).get_mut(self.backend) {
            *used -= self.n;
        }
        FREED.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn no_more_than_the_limit_at_once_and_everyone_gets_a_turn() {
        let (now, peak, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (now, peak, done) = (now.clone(), peak.clone(), done.clone());
                std::thread::spawn(move || {
                    // Every third test holds two connections (an intruder case).
                    let want = if i % 3 == 0 { 2 } else { 1 };
                    let _s = take_named("slots-test", 3, want);
                    let held = now.fetch_add(want, Ordering::SeqCst) + want;
                    peak.fetch_max(held, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    now.fetch_sub(want, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(done.load(Ordering::SeqCst), 8);
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak {peak} with a limit of 3");
        // No limit: no waiting, nothing counted.
        let a = take_named("slots-free", 0, 5);
        let b = take_named("slots-free", 0, 5);
        assert_eq!((a.n, b.n), (0, 0));
        // More than the limit: clamped, so the test runs alone.
        assert_eq!(take_named("slots-big", 2, 9).n, 2);
    }
}
