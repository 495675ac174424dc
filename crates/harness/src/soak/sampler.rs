//! Reads the resident memory of a pair's role processes from /proc while
//! the pair runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::Sample;
use crate::placement::Role;

/// How often the sampler reads the role processes' memory.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Reads the role processes' memory in the background.
pub(super) struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    pub(super) fn start(tag: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            let t0 = Instant::now();
            let mut samples = Vec::new();
            let mut pids: [Option<u32>; 2] = [None, None];
            while !flag.load(Ordering::Relaxed) {
                if pids.iter().any(Option::is_none) {
                    for (pid, role) in role_processes(&tag) {
                        pids[role as usize] = Some(pid);
                    }
                }
                let read = |r: Role| pids[r as usize].and_then(rss_kib);
                let s = Sample {
                    at_s: t0.elapsed().as_secs_f64(),
                    producer_kib: read(Role::Producer),
                    consumer_kib: read(Role::Consumer),
                };
                if s.producer_kib.is_some() || s.consumer_kib.is_some() {
                    samples.push(s);
                }
                // Sleep in small steps so `stop` is prompt.
                let until = Instant::now() + SAMPLE_EVERY;
                while Instant::now() < until && !flag.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(20));
                }
            }
            samples
        });
        Self { stop, handle }
    }

    pub(super) fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// Our children running a role of the pair tagged `tag`, as the supervisor
/// registered them.
fn role_processes(tag: &str) -> Vec<(u32, Role)> {
    crate::children::of_tag(tag)
}

/// `VmRSS` of a process, KiB.
pub(super) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_memory_is_readable() {
        assert!(rss_kib(std::process::id()).is_some_and(|v| v > 0));
    }
}
