//! Watchdogs: a hang fails a test within [`WATCHDOG`] instead of stalling
//! CI, in the test process ([`with_watchdog`]) and in a peer process
//! ([`arm_process_watchdog`]). Public for the backends' own multi-process
//! tests.

use std::sync::mpsc;
use std::thread;

use crate::WATCHDOG;

/// Runs `f` on a thread and fails, naming `what`, if it has not finished
/// within [`WATCHDOG`]; a panic in `f` is passed on as it is.
pub fn with_watchdog(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let body = thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(()) => body.join().expect("test body"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = body.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no progress within {WATCHDOG:?}"),
    }
}

/// In a peer process: exits (status 101) after [`WATCHDOG`], so the peer
/// never outlives a hung test.
pub fn arm_process_watchdog() {
    thread::spawn(|| {
        thread::sleep(WATCHDOG);
        eprintln!("peer watchdog: no progress within {WATCHDOG:?}");
        std::process::exit(101);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_body_passes_and_a_panic_is_passed_on() {
        with_watchdog("quick", || {});
        let err = std::panic::catch_unwind(|| with_watchdog("boom", || panic!("inner failure")))
            .expect_err("the body's panic");
        assert_eq!(crate::process::panic_text(err), "inner failure");
    }
}
