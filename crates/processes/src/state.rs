//! What /proc says about a process, read through `procfs`: its state letter
//! and parent pid (`/proc/<pid>/stat`, whose command-name field may hold
//! spaces and parentheses, which `procfs` parses correctly), its command
//! line, and every process id.

use procfs::ProcError;
use procfs::process::Process;

/// The fields of `/proc/<pid>/stat` ipcbench uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The state letter: `R`, `S`, `D`, `T`, `Z` (zombie), `X` (dead)...
    pub state: char,
    /// The parent's pid (0 for the kernel's own roots).
    pub parent: u32,
}

impl Stat {
    /// Whether the process has ended: a zombie (exited or killed, not yet
    /// reaped by its parent) or dead.
    pub fn has_ended(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Process `pid`'s state: `Ok(None)` when there is no such process (or the
/// number cannot be a pid), an error when /proc could not tell.
pub fn stat(pid: u32) -> std::io::Result<Option<Stat>> {
    let Ok(raw) = i32::try_from(pid) else {
        return Ok(None);
    };
    if raw <= 0 {
        return Ok(None);
    }
    match Process::new(raw).and_then(|p| p.stat()) {
        Ok(s) => Ok(Some(Stat {
            state: s.state,
            parent: u32::try_from(s.ppid).unwrap_or(0),
        })),
        Err(ProcError::NotFound(_)) => Ok(None),
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// Whether process `pid` has ended: it does not exist, or it is a zombie.
/// When /proc cannot tell, it has not (callers use this to stop waiting, and
/// a wrong "ended" would be a false disconnect).
pub fn ended(pid: u32) -> bool {
    match stat(pid) {
        Ok(Some(s)) => s.has_ended(),
        Ok(None) => true,
        Err(_) => false,
    }
}

/// Every process id /proc lists now.
pub fn all_pids() -> Vec<u32> {
    procfs::process::all_processes()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|p| u32::try_from(p.pid()).ok())
        .collect()
}

/// The processes whose parent is `parent`, zombies included (a caller that
/// stops children must reap those too).
pub fn children_of(parent: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&pid| stat(pid).ok().flatten().is_some_and(|s| s.parent == parent))
        .collect()
}

/// Process `pid`'s command line, arguments joined by spaces; empty when it
/// is gone (or a zombie, whose command line the kernel no longer shows).
pub fn cmdline(pid: u32) -> String {
    i32::try_from(pid)
        .ok()
        .and_then(|p| Process::new(p).ok())
        .and_then(|p| p.cmdline().ok())
        .map(|args| args.join(" "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn this_process_runs_and_its_parent_is_known() {
        let me = stat(std::process::id()).expect("read").expect("exists");
        assert!(!me.has_ended());
        assert_eq!(me.parent, std::os::unix::process::parent_id());
        assert!(all_pids().contains(&std::process::id()));
        assert!(cmdline(std::process::id()).contains("processes"));
    }

    #[test]
    fn numbers_that_are_no_pid_have_ended() {
        for bad in [0, u32::MAX, 1 << 31] {
            assert_eq!(stat(bad).expect("no error"), None);
            assert!(ended(bad));
            assert_eq!(cmdline(bad), "");
        }
    }

    #[test]
    fn a_child_is_listed_then_a_zombie_then_gone() {
        // A child that outlives every check until it is killed: a short sleep
        // could exit (and lose its command line) on a loaded machine before
        // the checks ran.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn");
        let pid = child.id();
        assert!(children_of(std::process::id()).contains(&pid));
        // `spawn` returns once exec has closed the close-on-exec error pipe,
        // which the kernel does before it lays out the new program's
        // arguments: for a moment the command line reads empty.
        let until = Instant::now() + Duration::from_secs(10);
        while cmdline(pid).is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(cmdline(pid), "sleep 30");
        assert!(!ended(pid));
        child.kill().expect("kill");
        let until = Instant::now() + Duration::from_secs(10);
        while !ended(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Killed, not reaped: a zombie, still listed as our child.
        let s = stat(pid).expect("read").expect("zombie still listed");
        assert_eq!(s.state, 'Z');
        assert!(s.has_ended());
        child.wait().expect("reap");
        assert!(ended(pid));
    }
}
