//! How a side waits for an event: raw_sync's busy wait, bounded to a few
//! microseconds, then `sched_yield`, then sleeps that grow to a millisecond,
//! checking between polls whether the peer has gone.

use std::os::fd::OwnedFd;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Acquire;
use std::thread;
use std::time::{Duration, Instant};

use crate::segment::Event;

/// How long raw_sync's busy wait may spin at the start of a wait: enough to
/// catch a reply from a peer on another core, short enough that a peer on
/// our own core is not kept off it for long. raw_sync's own `Infinite`
/// timeout would spin for ever, which starves a peer sharing the core.
pub const SPIN: Duration = Duration::from_micros(10);
/// `sched_yield`s after the spin: on a shared core each lets the peer run.
pub const YIELDS: u32 = 32;
/// First sleep after the yields; each next one doubles, up to [`MAX_SLEEP`].
/// Without a futex (raw_sync's busy event has none, and its blocking `Event`
/// is a process-shared pthread mutex that a killed peer can leave locked for
/// ever) a sleeping side only sees a signal when it wakes.
pub const MIN_SLEEP: Duration = Duration::from_micros(20);
/// Longest sleep: the worst added latency once a side has gone to sleep.
pub const MAX_SLEEP: Duration = Duration::from_millis(1);
/// Least time between two checks of the peer process.
pub const LIVENESS_PERIOD: Duration = Duration::from_millis(10);

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The event was set, and is now taken.
    Signaled,
    /// The peer closed its end or died, and the event is not set.
    Gone,
}

/// Waits until `ev` is set (and takes it), or until the peer has set
/// `closed` or died without setting it.
pub fn wait(ev: &Event, closed: &AtomicU32, peer: &Peer) -> Woke {
    if ev.take(SPIN) {
        return Woke::Signaled;
    }
    let mut yields = 0;
    let mut sleep = MIN_SLEEP;
    let mut checked = Instant::now();
    loop {
        if yields < YIELDS {
            yields += 1;
            thread::yield_now();
        } else {
            thread::sleep(sleep);
            sleep = (sleep * 2).min(MAX_SLEEP);
        }
        if ev.take(Duration::ZERO) {
            return Woke::Signaled;
        }
        // Acquire: whatever the peer signalled before closing is visible, so
        // the last look at the event below cannot miss it.
        let mut gone = closed.load(Acquire) != 0;
        if !gone && checked.elapsed() >= LIVENESS_PERIOD {
            checked = Instant::now();
            gone = !peer.alive();
        }
        if gone {
            return if ev.take(Duration::ZERO) {
                Woke::Signaled
            } else {
                Woke::Gone
            };
        }
    }
}

/// The peer process, for liveness checks.
#[derive(Debug)]
pub struct Peer {
    pid: u32,
    /// The very process we connected with (immune to pid reuse); readable
    /// once it has exited, even as an unreaped zombie. Close-on-exec: the
    /// kernel opens every pidfd so.
    pidfd: Option<OwnedFd>,
}

impl Peer {
    /// The process `pid`, pinned by a pidfd if the kernel allows.
    pub fn new(pid: u32) -> Self {
        let pidfd = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .and_then(|p| {
                rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
            });
        Self { pid, pidfd }
    }

    /// Whether the peer process still exists.
    pub fn alive(&self) -> bool {
        if let Some(fd) = &self.pidfd {
            let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
            let zero = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // An error means "cannot tell": alive, the next check may know.
            return !matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0);
        }
        let Some(pid) = i32::try_from(self.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        rustix::process::test_kill_process(pid) != Err(rustix::io::Errno::SRCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_is_not_alive() {
        assert!(Peer::new(std::process::id()).alive());
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let peer = Peer::new(child.id());
        child.wait().expect("reap");
        assert!(!peer.alive());
        assert!(!Peer::new(0).alive());
    }
}
