//! Whether a peer process still runs: the liveness test every backend whose
//! waits the kernel cannot end by itself (shared memory, iceoryx2, a blocked
//! fragmented send) needs, so that no call waits forever on a dead peer.
//!
//! A pidfd is preferred: it names the very process (a reused pid cannot fool
//! it) and polls readable once that process has exited, even while it is an
//! unreaped zombie. Where `pidfd_open` is missing (kernels before 5.3, and
//! valgrind, under which the hot-path instruction counts run) the bare pid is
//! probed with signal 0, which reads a zombie, and a reused pid, as alive.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, pidfd_open};

/// Why a peer process could not be pinned down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PidError {
    /// The number is not a process id (0, or beyond `i32::MAX`).
    #[error("{0} is not a process id")]
    NotAPid(u32),
    /// `pidfd_open` failed for process `pid`.
    #[error("pidfd_open({pid}): {errno}")]
    Pidfd {
        /// The process.
        pid: u32,
        /// What the kernel said.
        errno: Errno,
    },
}

/// `pid` as a kernel process id, if it can be one.
#[inline]
pub fn as_pid(pid: u32) -> Option<Pid> {
    Pid::from_raw(i32::try_from(pid).ok()?)
}

/// A pidfd of process `pid` (close-on-exec, as the kernel opens every pidfd).
pub fn pidfd(pid: u32) -> Result<OwnedFd, PidError> {
    let p = as_pid(pid).ok_or(PidError::NotAPid(pid))?;
    pidfd_open(p, PidfdFlags::empty()).map_err(|errno| PidError::Pidfd { pid, errno })
}

/// Whether thread or process `id` may still exist, by a signal-0 probe (a
/// few hundred nanoseconds). Only "no such process" counts as gone: a zombie,
/// or a process we may not signal, reads as existing; a number that cannot
/// be a process id does not.
#[inline]
pub fn exists(id: u32) -> bool {
    as_pid(id).is_some_and(|p| rustix::process::test_kill_process(p) != Err(Errno::SRCH))
}

/// Whether process `pid` still runs: as [`exists`], but a zombie (exited or
/// killed, not yet reaped by its parent) counts as dead, as /proc says
/// ([`processes::ended`]). Errs on the side of "running" when /proc cannot
/// tell.
pub fn running(pid: u32) -> bool {
    exists(pid) && !processes::ended(pid)
}

/// A peer process, pinned by a pidfd where possible, for liveness checks.
#[derive(Debug)]
pub struct PeerProcess {
    pid: u32,
    /// Polls readable once the process has exited (zombie included).
    pidfd: Option<OwnedFd>,
}

impl PeerProcess {
    /// Process `pid` by a pidfd, or by its bare pid only where the kernel has
    /// no `pidfd_open` (`ENOSYS`). Any other failure (the process is already
    /// gone, no descriptors left) is an error.
    pub fn open(pid: u32) -> Result<Self, PidError> {
        match pidfd(pid) {
            Ok(fd) => Ok(Self {
                pid,
                pidfd: Some(fd),
            }),
            Err(PidError::Pidfd {
                errno: Errno::NOSYS,
                ..
            }) => Ok(Self { pid, pidfd: None }),
            Err(e) => Err(e),
        }
    }

    /// Process `pid` by a pidfd if one can be opened, else by its bare pid.
    /// Never fails: a process that has already exited then reads as dead
    /// (unless a new process took its pid), and a number that is no pid as
    /// dead.
    pub fn open_or_pid(pid: u32) -> Self {
        Self {
            pid,
            pidfd: pidfd(pid).ok(),
        }
    }

    /// The process id it was opened for.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfd, if there is one, to poll together with other descriptors
    /// (readable once the process has exited).
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// Whether the process still exists: false once it has exited (a zombie
    /// too, where there is a pidfd). A failing poll reads as alive, so it
    /// cannot fake a disconnect; the next check may know better.
    pub fn alive(&self) -> bool {
        match &self.pidfd {
            Some(fd) => {
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
                let zero = rustix::time::Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                !matches!(poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
            }
            None => exists(self.pid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn me() -> u32 {
        std::process::id()
    }

    /// A child that has exited and been reaped, and its pid.
    fn reaped_child() -> u32 {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("reap");
        pid
    }

    #[test]
    fn this_process_is_alive_by_every_test() {
        assert!(exists(me()));
        assert!(running(me()));
        assert!(PeerProcess::open(me()).expect("open").alive());
        assert!(PeerProcess::open_or_pid(me()).alive());
        assert_eq!(PeerProcess::open(me()).expect("open").pid(), me());
    }

    #[test]
    fn numbers_that_are_no_pid_are_refused_or_dead() {
        for bad in [0, u32::MAX, 1 << 31] {
            assert!(!exists(bad));
            assert!(!running(bad));
            assert_eq!(PeerProcess::open(bad).err(), Some(PidError::NotAPid(bad)));
            assert!(!PeerProcess::open_or_pid(bad).alive());
        }
        assert_eq!(PidError::NotAPid(0).to_string(), "0 is not a process id");
    }

    #[test]
    fn a_reaped_child_is_dead_and_cannot_be_opened() {
        let pid = reaped_child();
        // The pid could be reused within the test; that is vanishingly rare
        // and would read as alive, so only the pidfd-based claims are firm.
        match PeerProcess::open(pid) {
            Err(PidError::Pidfd { pid: p, errno }) => {
                assert_eq!((p, errno), (pid, Errno::SRCH));
            }
            // A kernel without pidfd_open: the bare pid, dead unless reused.
            Ok(peer) if peer.pidfd().is_none() => assert_eq!(peer.alive(), exists(pid)),
            other => assert!(exists(pid), "opened a reaped child: {other:?}"),
        }
        assert_eq!(PeerProcess::open_or_pid(pid).alive(), exists(pid));
    }

    #[test]
    fn an_unreaped_child_is_not_running_and_a_reaped_one_does_not_exist() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        // Once it has exited, unreaped (a zombie), it no longer runs; give a
        // loaded machine time to run it.
        let until = Instant::now() + Duration::from_secs(10);
        while running(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        let stat = processes::stat(pid);
        assert!(!running(pid), "zombie {pid} reported running: {stat:?}");
        assert!(exists(pid), "a zombie still exists for signal 0");
        child.wait().expect("reap");
        assert!(!running(pid));
    }

    #[test]
    fn a_child_dies_under_an_open_pidfd_even_unreaped() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let peer = PeerProcess::open(child.id()).expect("open");
        if peer.pidfd().is_some() {
            let until = Instant::now() + Duration::from_secs(10);
            while peer.alive() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            // A zombie now: the pidfd and /proc say dead, signal 0 alive.
            assert!(!peer.alive());
            assert!(!running(child.id()));
            assert!(exists(child.id()));
        }
        child.wait().expect("reap");
        assert!(!peer.alive());
    }
}
