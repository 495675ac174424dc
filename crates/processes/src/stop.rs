//! Waiting for processes with a limit, and stopping them: each gets its
//! first signal, then a grace period to exit on its own, then SIGKILL; every
//! one is reaped.

use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

/// How often a waited-for condition is checked.
const POLL: Duration = Duration::from_millis(10);

/// Checks `done` every few milliseconds until it returns true or `limit` has
/// passed; returns whether it did.
pub fn poll_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// Sends each child its first signal (`None`: it is left to exit on its
/// own), gives them all `grace` to exit, then kills whatever is left and
/// reaps every one. For processes known only by pid (a signal handler's
/// list); children held as [`Child`] use [`wait_or_kill`].
pub fn stop_with_grace(children: &[(u32, Option<Signal>)], grace: Duration) {
    let mut alive: Vec<Pid> = Vec::with_capacity(children.len());
    for &(pid, first) in children {
        let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            continue;
        };
        if let Some(sig) = first {
            // A child that is already gone is what we want.
            let _ = rustix::process::kill_process(pid, sig);
        }
        alive.push(pid);
    }
    poll_until(grace, || {
        alive.retain(|&pid| !reaped(pid));
        alive.is_empty()
    });
    for &pid in &alive {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
    }
    for pid in alive {
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
    }
}

/// Whether the child has exited (or is not ours to wait for); reaps it if so.
fn reaped(pid: Pid) -> bool {
    !matches!(
        rustix::process::waitpid(Some(pid), WaitOptions::NOHANG),
        Ok(None)
    )
}

/// Waits up to `limit` for `child` to exit and returns its status; past the
/// limit kills it, reaps it and returns `None`. Either way the child is
/// reaped.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let mut status = None;
    let exited = poll_until(limit, || {
        status = child.try_wait().unwrap_or(None);
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn stopped_children_are_reaped() {
        let mut child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        stop_with_grace(&[(child.id(), Some(Signal::TERM))], Duration::from_secs(5));
        // Reaped by stop_with_grace: nothing left to wait for.
        assert!(child.wait().is_err(), "child {} not reaped", child.id());
    }

    #[test]
    fn a_child_that_ignores_its_first_signal_is_killed_after_the_grace() {
        let mut child = Command::new("sh")
            .args(["-c", "trap '' TERM; exec sleep 30"])
            .spawn()
            .expect("spawn sh");
        // Let the shell set its trap before the signal.
        thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        stop_with_grace(
            &[(child.id(), Some(Signal::TERM))],
            Duration::from_millis(300),
        );
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "returned after {took:?}"
        );
        assert!(crate::state::stat(child.id()).expect("read").is_none());
        assert!(child.wait().is_err(), "child {} not reaped", child.id());
    }

    #[test]
    fn wait_or_kill_returns_the_status_or_kills_and_reaps() {
        let mut quick = Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .expect("spawn");
        let status = wait_or_kill(&mut quick, Duration::from_secs(10)).expect("exited");
        assert_eq!(status.code(), Some(3));

        let mut slow = Command::new("sleep").arg("30").spawn().expect("spawn");
        let pid = slow.id();
        assert_eq!(wait_or_kill(&mut slow, Duration::from_millis(50)), None);
        // Killed and reaped: /proc no longer lists it.
        assert!(crate::state::stat(pid).expect("read").is_none());
    }

    #[test]
    fn poll_until_stops_at_the_condition_or_the_limit() {
        let mut n = 0;
        assert!(poll_until(Duration::from_secs(10), || {
            n += 1;
            n == 3
        }));
        assert_eq!(n, 3);
        assert!(!poll_until(Duration::from_millis(30), || false));
    }
}
