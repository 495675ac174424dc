//! Machine floors, measured in the same run as the transports so every figure
//! can be read against what the hardware and kernel allow: a cache line
//! bouncing between two pinned processes (the bound for any shared-memory
//! handoff), a bare 8-byte pipe round trip (the bound for the `pipe` backend,
//! without framing or harness), memcpy at each size (the bound for moving the
//! bytes once), and the clock read itself.
//!
//! The two round-trip floors are timed two ways in the same pair of processes:
//! per round trip (a clock read on each side of every round trip, like the
//! transports' `rtt`) and batch-timed (a run of round trips between two clock
//! reads, divided by their number; the median over [`BATCHES`] runs), which
//! leaves the clock and the recording out of the figure.
//!
//! The two-process floors use `fork` so that nothing but the measured loop runs
//! in the child: it pins itself, loops on raw system calls or atomics, and
//! leaves with `_exit`, never touching the allocator or locks inherited from
//! the parent.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use report::{Floors, MemcpyFloor, Summary};

use crate::clock::now_ns;
use crate::placement::{Placement, Role};
use crate::stats::{Recorder, summarize};

/// Batch-timed runs per floor; the reported figure is their median.
const BATCHES: u64 = 9;

/// One floor timed both ways: per round trip, and ns per round trip of the
/// median batch.
struct Timed {
    per_rtt: Summary,
    batch_ns: f64,
}

/// Measures every floor for one placement.
pub fn measure(placement: Placement, sizes: &[u64], rounds: u64) -> Result<Floors> {
    let cacheline = if placement == Placement::Split {
        Some(cacheline_rtt(placement, rounds).context("cache-line ping-pong floor")?)
    } else {
        // Two spinners that may share a core hand over once per timeslice
        // (~ms): a measurement of the scheduler, not of the machine.
        None
    };
    let pipe = raw_pipe_rtt(placement, rounds / 5).context("raw pipe floor")?;
    Ok(Floors {
        placement,
        cacheline_rtt_batch_ns: cacheline.as_ref().map(|t| t.batch_ns),
        cacheline_rtt: cacheline.map(|t| t.per_rtt),
        raw_pipe_rtt_batch_ns: Some(pipe.batch_ns),
        raw_pipe_rtt: Some(pipe.per_rtt),
        memcpy: memcpy(sizes),
    })
}

fn pin(placement: Placement, role: Role) -> Result<()> {
    if let Some(core) = crate::placement::core_for(placement, role) {
        crate::placement::pin_current(core)?;
    }
    Ok(())
}

/// Runs `child` in a forked process pinned as the consumer, and `parent` here
/// pinned as the producer; reaps the child.
fn fork_pair<T>(
    placement: Placement,
    child: impl FnOnce() -> bool,
    parent: impl FnOnce() -> Result<T>,
) -> Result<T> {
    // SAFETY: the child runs only `child`, which performs atomics and raw
    // system calls, then `_exit`s; it never returns into Rust code that could
    // touch state (locks, allocator) another parent thread held at fork time.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork failed: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        let ok = crate::placement::core_for(placement, Role::Consumer).is_none_or(|c| {
            let mut set = rustix::thread::CpuSet::new();
            set.set(c);
            rustix::thread::sched_setaffinity(None, &set).is_ok()
        });
        let code = if ok && child() { 0 } else { 1 };
        // SAFETY: terminating the forked child without running destructors.
        unsafe { libc::_exit(code) };
    }
    // Pin only for the measurement, then give the supervisor back the CPUs
    // it had: it must not sit on a producer's core for the rest of the run.
    let saved = rustix::thread::sched_getaffinity(None).ok();
    let result = pin(placement, Role::Producer).and_then(|()| parent());
    let mut status = 0;
    // SAFETY: waiting for the child we just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if let Some(set) = saved {
        let _ = rustix::thread::sched_setaffinity(None, &set);
    }
    let summary = result?;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("floor child process failed (status {status})");
    }
    Ok(summary)
}

/// Round-trip counts of one floor: warm-up, per-round-trip timed, and the
/// length of each batch (at least one round trip).
#[derive(Clone, Copy)]
struct Rounds {
    warm: u64,
    timed: u64,
    batch: u64,
}

impl Rounds {
    fn new(rounds: u64) -> Self {
        // The batch phase is as long as the timed phase, split in BATCHES.
        Self {
            warm: rounds / 10,
            timed: rounds,
            batch: (rounds / BATCHES).max(1),
        }
    }

    fn total(self) -> u64 {
        self.warm + self.timed + BATCHES * self.batch
    }

    /// Times `one(i)` for every round trip both ways; `one` performs round
    /// trip `i` and fails on a bad reply.
    fn time(self, mut one: impl FnMut(u64) -> Result<()>) -> Result<Timed> {
        let mut rec = Recorder::new();
        for i in 0..self.warm + self.timed {
            let t0 = now_ns();
            one(i)?;
            let t1 = now_ns();
            if i >= self.warm {
                rec.record(t1 - t0);
            }
        }
        let mut next = self.warm + self.timed;
        let mut per_batch = Vec::with_capacity(BATCHES as usize);
        for _ in 0..BATCHES {
            let t0 = now_ns();
            for i in next..next + self.batch {
                one(i)?;
            }
            let t1 = now_ns();
            next += self.batch;
            per_batch.push((t1 - t0) as f64 / self.batch as f64);
        }
        per_batch.sort_by(f64::total_cmp);
        Ok(Timed {
            per_rtt: summarize(&[rec.to_trial()]),
            batch_ns: per_batch[per_batch.len() / 2],
        })
    }
}

/// Round trip of one cache line: the parent writes an odd value, the child
/// spins until it sees it and writes the next even value.
fn cacheline_rtt(placement: Placement, rounds: u64) -> Result<Timed> {
    let page = SharedPage::new()?;
    // One line per direction, each written by one side only and 256 bytes
    // apart (clear of the adjacent-line prefetcher): a round trip is then
    // exactly two line transfers, the least any shared-memory hand-over
    // can cost. One line written by both sides (the floor before) adds the
    // spinning reader's requests to every writer's ownership request and
    // measured about twice as slow as a ring that keeps its lines apart.
    let ping: &AtomicU64 = page.atomic(0);
    let pong: &AtomicU64 = page.atomic(256);
    let plan = Rounds::new(rounds);
    fork_pair(
        placement,
        || {
            for i in 0..plan.total() {
                while ping.load(Ordering::Acquire) != i + 1 {
                    std::hint::spin_loop();
                }
                pong.store(i + 1, Ordering::Release);
            }
            true
        },
        || {
            plan.time(|i| {
                ping.store(i + 1, Ordering::Release);
                while pong.load(Ordering::Acquire) != i + 1 {
                    std::hint::spin_loop();
                }
                Ok(())
            })
        },
    )
}

/// Round trip of a bare 8-byte write/read pair over two pipes. The reply is
/// checked inside the loop: one compare of a register, as cheap as the
/// cache-line floor's own spin condition.
fn raw_pipe_rtt(placement: Placement, rounds: u64) -> Result<Timed> {
    use rustix::pipe::{PipeFlags, pipe_with};
    let (a_r, a_w) = pipe_with(PipeFlags::CLOEXEC).context("pipe2")?;
    let (b_r, b_w) = pipe_with(PipeFlags::CLOEXEC).context("pipe2")?;
    let plan = Rounds::new(rounds);
    fork_pair(
        placement,
        || {
            let mut buf = [0u8; 8];
            for _ in 0..plan.total() {
                if !matches!(rustix::io::read(&a_r, &mut buf), Ok(8)) {
                    return false;
                }
                if !matches!(rustix::io::write(&b_w, &buf), Ok(8)) {
                    return false;
                }
            }
            true
        },
        || {
            let mut buf = [0u8; 8];
            plan.time(|i| {
                rustix::io::write(&a_w, &i.to_le_bytes()).context("write")?;
                let n = rustix::io::read(&b_r, &mut buf).context("read")?;
                if n != 8 || u64::from_le_bytes(buf) != i {
                    bail!("raw pipe floor: bad reply");
                }
                Ok(())
            })
        },
    )
}

/// Median time of one memcpy per size, and the bandwidth it implies.
pub fn memcpy(sizes: &[u64]) -> Vec<MemcpyFloor> {
    sizes
        .iter()
        .map(|&size| {
            let n = size as usize;
            let src = vec![0x5Au8; n];
            let mut dst = vec![0u8; n];
            // Batch small copies so each sample is well above clock overhead.
            let batch = (65_536 / n.max(1)).clamp(1, 1000) as u64;
            // Large sizes get fewer samples: about 1 GiB copied per size.
            let count = ((1u64 << 30) / (size.max(1) * batch)).clamp(11, 201);
            let mut samples: Vec<f64> = (0..count)
                .map(|_| {
                    let t0 = now_ns();
                    for _ in 0..batch {
                        dst.copy_from_slice(std::hint::black_box(&src));
                        std::hint::black_box(&mut dst);
                    }
                    (now_ns() - t0) as f64 / batch as f64
                })
                .collect();
            samples.sort_by(f64::total_cmp);
            let p50 = samples[samples.len() / 2];
            MemcpyFloor {
                size_bytes: size,
                p50_ns: p50,
                bytes_per_s: if p50 > 0.0 {
                    size as f64 * 1e9 / p50
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// One anonymous page shared with forked children.
struct SharedPage(*mut libc::c_void);

impl SharedPage {
    fn new() -> Result<Self> {
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            bail!("mmap: {}", std::io::Error::last_os_error());
        }
        Ok(Self(p))
    }

    /// The 64-bit word at `offset` bytes (a multiple of 8, below 4096).
    fn atomic(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= 4096,
            "offset {offset}"
        );
        // SAFETY: the page is 4096 zeroed, page-aligned bytes that live as long
        // as `self`; the offset was checked to be 8-aligned and in bounds.
        unsafe { &*self.0.cast::<u8>().add(offset).cast::<AtomicU64>() }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping created in `new`.
        unsafe { libc::munmap(self.0, 4096) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_measure_something_plausible() {
        let f = measure(Placement::Split, &[800, 409_600], 2000).expect("floors");
        let cl = f.cacheline_rtt.expect("cache line");
        assert_eq!(cl.n, 2000);
        assert!(cl.p50_ns > 0.0);
        let pipe = f.raw_pipe_rtt.expect("pipe");
        assert_eq!(pipe.n, 400);
        assert!(pipe.p50_ns > cl.min_ns);
        let cl_batch = f.cacheline_rtt_batch_ns.expect("batch-timed cache line");
        let pipe_batch = f.raw_pipe_rtt_batch_ns.expect("batch-timed pipe");
        assert!(cl_batch > 0.0 && cl_batch < cl.max_ns, "{cl_batch}");
        assert!(pipe_batch > cl_batch, "{pipe_batch} vs {cl_batch}");
        assert_eq!(f.memcpy.len(), 2);
        assert!(f.memcpy.iter().all(|m| m.bytes_per_s > 0.0));
    }

    #[test]
    fn same_core_has_no_spin_floor() {
        let f = measure(Placement::Same, &[8], 500).expect("floors");
        assert!(f.cacheline_rtt.is_none());
        assert!(f.cacheline_rtt_batch_ns.is_none());
        assert!(f.raw_pipe_rtt.is_some());
        assert!(f.raw_pipe_rtt_batch_ns.is_some_and(|ns| ns > 0.0));
    }
}
