//! Machine floors, measured in the same run as the transports so every figure
//! can be read against what the hardware and kernel allow: cache-line round
//! trips between two pinned processes in several shapes ([`probes`]: the
//! bound for any shared-memory handoff is the cheapest of them), a bare
//! 8-byte pipe round trip (the bound for the `pipe` backend, without framing
//! or harness), the shm-crate backend's plain example ([`plain`]: what the
//! backend is held against, not a floor), memcpy at each size (the bound for moving the bytes once),
//! and the clock read itself.
//!
//! The round-trip floors are timed two ways in the same pair of processes:
//! per round trip (a clock read on each side of every round trip, like the
//! transports' `rtt`) and batch-timed (a run of round trips between two clock
//! reads, divided by their number; the median over [`BATCHES`] runs), which
//! leaves the clock and the recording out of the figure.
//!
//! The two-process floors use `fork` so that nothing but the measured loop runs
//! in the child: it pins itself, loops on raw system calls or atomics, and is
//! killed when the parent is done, never touching the allocator or locks
//! inherited from the parent. A floor that cannot run (a core that does not
//! exist, pinning refused, a child that never starts, a machine too busy to
//! finish within the time cap) is "not measured" with the reason; it never
//! fails the run.

pub mod map;
pub mod plain;
pub mod probes;

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use results::{Floors, MemcpyFloor, ProbeFloor, Summary, cheapest_probes};

use crate::clock::now_ns;
use crate::placement::{Placement, Role};
use crate::stats::{Recorder, summarize};

pub use probes::{Probe, Shape};

/// Batch-timed runs per floor; the reported figure is their median.
pub const BATCHES: u32 = 9;

/// Round trips between two clock reads inside a batch: the time cap is
/// checked only there, so a batch reads the clock once per this many round
/// trips besides its start and end.
const CHUNK: u64 = 16_384;

/// How long the child may take to start and report its pinning.
const CHILD_START_NS: u64 = 5_000_000_000;

/// How many round trips each floor makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Round trips timed one by one (after a tenth as many for warm-up).
    pub rtt_rounds: u64,
    /// Round trips of each batch-timed run of a cache-line probe (there are
    /// [`BATCHES`] of them).
    pub batch_rounds: u64,
}

impl Counts {
    /// What `ipcbench run` and `ipcbench floors` measure: each probe makes
    /// 1.8 million batch-timed round trips.
    pub const DEFAULT: Self = Self {
        rtt_rounds: 50_000,
        batch_rounds: 200_000,
    };
}

/// One floor timed both ways: per round trip, and ns per round trip of the
/// median batch.
#[derive(Debug, Clone)]
pub struct Timed {
    /// Every round trip of the per-round-trip pass, each between two clock
    /// reads.
    pub per_rtt: Summary,
    /// Nanoseconds per round trip of the median batch.
    pub batch_ns: f64,
    /// Batches completed (fewer than [`BATCHES`] if the time cap ended the
    /// probe early).
    pub batches: u32,
    /// Round trips over all batches.
    pub batch_rounds: u64,
}

/// What a floor gives: its figures, or why it was not measured.
pub type Probed<T> = std::result::Result<T, String>;

/// Measures every floor for one placement, with every cache-line probe.
/// Nothing here fails the run: a floor that cannot run is recorded as not
/// measured.
pub fn measure(placement: Placement, sizes: &[u64], counts: Counts) -> (Floors, Vec<Probe>) {
    let probes = probes::measure_all(placement, counts);
    let recorded: Vec<ProbeFloor> = probes.iter().map(Probe::record).collect();
    let cheapest = cheapest_probes(&recorded);
    let (per_rtt, batch) = (cheapest.per_rtt, cheapest.batch);
    let pipe = raw_pipe_rtt(placement, counts.rtt_rounds / 5);
    let floors = Floors {
        placement,
        cacheline_shape: per_rtt.as_ref().map(|(label, _)| label.clone()),
        cacheline_rtt: per_rtt.map(|(_, s)| s),
        cacheline_batch_shape: batch.as_ref().map(|(label, _)| label.clone()),
        cacheline_rtt_batch_ns: batch.map(|(_, b)| b),
        raw_pipe_rtt_batch_ns: pipe.as_ref().ok().map(|t| t.batch_ns),
        raw_pipe_rtt: pipe.ok().map(|t| t.per_rtt),
        memcpy: memcpy(sizes),
        probes: recorded,
        plain_example: Some(plain::measure(placement, counts)),
        cpu_map: None,
        fill_verify: Vec::new(),
    };
    (floors, probes)
}

/// Why `core` cannot take a floor's process, if it cannot: not in this
/// process's CPU set (a one-CPU machine, a restricted container).
fn core_unavailable(core: usize) -> Option<String> {
    let set = rustix::thread::sched_getaffinity(None).ok()?;
    if core < rustix::thread::CpuSet::MAX_CPU && set.is_set(core) {
        return None;
    }
    Some(format!(
        "core {core} is not available to this process ({} CPU(s) in its set)",
        set.count()
    ))
}

/// Runs `child` in a forked process pinned as the consumer, and `parent` here
/// pinned as the producer; then kills and reaps the child. `child` never
/// returns: it loops until it is killed (or returns early, then exits).
fn fork_pair<T>(
    placement: Placement,
    child: impl FnOnce(),
    parent: impl FnOnce() -> Result<T>,
) -> Probed<T> {
    let cores = [Role::Producer, Role::Consumer].map(|r| crate::placement::core_for(placement, r));
    fork_pair_on(cores, child, parent)
}

/// [`fork_pair`] on explicit cores: the parent on `cores[0]`, the child on
/// `cores[1]` (`None`: not pinned).
fn fork_pair_on<T>(
    cores: [Option<usize>; 2],
    child: impl FnOnce(),
    parent: impl FnOnce() -> Result<T>,
) -> Probed<T> {
    if let Some(why) = cores.iter().flatten().find_map(|&c| core_unavailable(c)) {
        return Err(why);
    }
    let status_page = SharedPage::new().map_err(|e| format!("{e:#}"))?;
    // 0: starting; 1: pinned and running; 2 | errno << 8: pinning refused.
    let status = status_page.atomic(0);
    // SAFETY: the child runs only `child`, which performs atomics and raw
    // system calls, then `_exit`s (or is killed); it never returns into Rust
    // code that could touch state (locks, allocator) another parent thread
    // held at fork time.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let pinned = cores[1].map_or(Ok(()), |c| {
            let mut set = rustix::thread::CpuSet::new();
            set.set(c);
            rustix::thread::sched_setaffinity(None, &set)
        });
        match pinned {
            Ok(()) => {
                status.store(1, Ordering::Release);
                child();
            }
            Err(e) => status.store(2 | ((e.raw_os_error() as u64) << 8), Ordering::Release),
        }
        // SAFETY: terminating the forked child without running destructors.
        unsafe { libc::_exit(0) };
    }
    // Pin only for the measurement, then give the supervisor back the CPUs
    // it had: it must not sit on a producer's core for the rest of the run.
    let saved = rustix::thread::sched_getaffinity(None).ok();
    let result = wait_started(status, cores[1]).and_then(|()| {
        if let Some(core) = cores[0] {
            crate::placement::pin_current(core).map_err(|e| format!("{e:#}"))?;
        }
        parent().map_err(|e| format!("{e:#}"))
    });
    // SAFETY: killing and reaping the child we just forked; it is not reaped
    // before this, so its pid cannot have been reused.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    if let Some(set) = saved {
        let _ = rustix::thread::sched_setaffinity(None, &set);
    }
    result
}

/// Waits until the child says it is pinned (or that it could not be).
fn wait_started(status: &AtomicU64, core: Option<usize>) -> Probed<()> {
    let deadline = now_ns() + CHILD_START_NS;
    loop {
        // Acquire: pairs with the child's Release store of its status.
        match status.load(Ordering::Acquire) {
            0 if now_ns() < deadline => std::thread::sleep(std::time::Duration::from_micros(100)),
            0 => return Err("the floor's child process did not start within 5 s".into()),
            1 => return Ok(()),
            s => {
                let err = std::io::Error::from_raw_os_error((s >> 8) as i32);
                return Err(format!(
                    "pinning the child to core {} refused: {err}",
                    core.map_or("?".into(), |c| c.to_string())
                ));
            }
        }
    }
}

/// Round-trip counts of one floor: warm-up, per-round-trip timed, the
/// length of each batch (at least one round trip), and the time cap.
#[derive(Clone, Copy)]
struct Rounds {
    warm: u64,
    timed: u64,
    batch: u64,
    cap_ns: u64,
    /// Round trips between the clock checks of the cap inside a batch.
    chunk: u64,
}

impl Rounds {
    fn new(rtt_rounds: u64, batch: u64, cap_ns: u64) -> Self {
        Self {
            warm: rtt_rounds / 10,
            timed: rtt_rounds,
            batch: batch.max(1),
            cap_ns,
            chunk: CHUNK,
        }
    }

    /// Times `one(i)` for every round trip both ways; `one` performs round
    /// trip `i` (numbered from 0 across both passes) and fails on a bad
    /// reply. Both passes stop early once the time cap has passed, keeping
    /// what was measured; a probe with nothing measured is an error.
    fn time(self, mut one: impl FnMut(u64) -> Result<()>) -> Result<Timed> {
        let deadline = now_ns() + self.cap_ns;
        let mut rec = Recorder::new();
        let mut next = 0;
        while next < self.warm + self.timed {
            let t0 = now_ns();
            one(next)?;
            let t1 = now_ns();
            if next >= self.warm {
                rec.record(t1 - t0);
            }
            next += 1;
            if t1 >= deadline {
                break;
            }
        }
        if rec.is_empty() {
            bail!(
                "no round trip timed within the {:.1} s cap (machine busy?)",
                self.cap_ns as f64 / 1e9
            );
        }
        let mut per_batch = Vec::with_capacity(BATCHES as usize);
        let mut batch_rounds = 0;
        for _ in 0..BATCHES {
            let t0 = now_ns();
            let mut done = 0;
            let mut t1;
            loop {
                let n = self.chunk.min(self.batch - done);
                for i in next..next + n {
                    one(i)?;
                }
                next += n;
                done += n;
                t1 = now_ns();
                if done == self.batch || t1 >= deadline {
                    break;
                }
            }
            per_batch.push((t1 - t0) as f64 / done as f64);
            batch_rounds += done;
            if t1 >= deadline {
                break;
            }
        }
        per_batch.sort_by(f64::total_cmp);
        Ok(Timed {
            per_rtt: summarize(&[rec.to_trial()]),
            batch_ns: per_batch[per_batch.len() / 2],
            batches: per_batch.len() as u32,
            batch_rounds,
        })
    }
}

/// Round trip of a bare 8-byte write/read pair over two pipes. The reply is
/// checked inside the loop: one compare of a register, as cheap as the
/// cache-line probes' own spin condition.
fn raw_pipe_rtt(placement: Placement, rounds: u64) -> Probed<Timed> {
    use rustix::pipe::{PipeFlags, pipe_with};
    let pipes = || -> Result<_> {
        let a = pipe_with(PipeFlags::CLOEXEC).context("pipe2")?;
        let b = pipe_with(PipeFlags::CLOEXEC).context("pipe2")?;
        Ok((a, b))
    };
    let ((a_r, a_w), (b_r, b_w)) = pipes().map_err(|e| format!("{e:#}"))?;
    // The pipe's batch phase is as long as its timed phase, split in BATCHES.
    let plan = Rounds::new(rounds, rounds / u64::from(BATCHES), 5_000_000_000);
    fork_pair(
        placement,
        || {
            let mut buf = [0u8; 8];
            while matches!(rustix::io::read(&a_r, &mut buf), Ok(8))
                && matches!(rustix::io::write(&b_w, &buf), Ok(8))
            {}
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

    const SMALL: Counts = Counts {
        rtt_rounds: 2000,
        batch_rounds: 2000,
    };

    #[test]
    fn floors_measure_something_plausible() {
        let (f, probes) = measure(Placement::Split, &[800, 409_600], SMALL);
        assert_eq!(probes.len(), 8);
        let cl = f.cacheline_rtt.expect("cache line");
        assert!(cl.n > 0 && cl.n <= 2000, "{}", cl.n);
        assert!(cl.p50_ns > 0.0);
        let pipe = f.raw_pipe_rtt.expect("pipe");
        assert!(pipe.n > 0 && pipe.n <= 400, "{}", pipe.n);
        assert!(pipe.p50_ns > cl.min_ns);
        let cl_batch = f.cacheline_rtt_batch_ns.expect("batch-timed cache line");
        let pipe_batch = f.raw_pipe_rtt_batch_ns.expect("batch-timed pipe");
        assert!(cl_batch > 0.0 && cl_batch < cl.max_ns, "{cl_batch}");
        assert!(pipe_batch > 0.0, "{pipe_batch}");
        assert_eq!(f.memcpy.len(), 2);
        assert!(f.memcpy.iter().all(|m| m.bytes_per_s > 0.0));
    }

    #[test]
    fn same_core_has_no_spin_floor() {
        let (f, probes) = measure(
            Placement::Same,
            &[8],
            Counts {
                rtt_rounds: 500,
                batch_rounds: 100,
            },
        );
        assert!(probes.iter().all(|p| p.outcome.is_err()));
        assert!(f.cacheline_rtt.is_none());
        assert!(f.cacheline_rtt_batch_ns.is_none());
        assert!(f.raw_pipe_rtt.is_some());
        assert!(f.raw_pipe_rtt_batch_ns.is_some_and(|ns| ns > 0.0));
    }

    #[test]
    fn a_core_that_does_not_exist_is_a_reason_not_an_error() {
        let why = core_unavailable(rustix::thread::CpuSet::MAX_CPU - 1).expect("no such core");
        assert!(why.contains("not available"), "{why}");
        assert!(core_unavailable(0).is_none() || core_unavailable(1).is_none());
    }

    #[test]
    fn the_time_cap_keeps_what_was_measured() {
        let plan = Rounds {
            warm: 10,
            chunk: 10,
            ..Rounds::new(1_000_000, 1_000_000, 20_000_000)
        };
        // Each "round trip" takes at least 20 µs.
        let t = plan
            .time(|_| {
                let t0 = now_ns();
                while now_ns() < t0 + 20_000 {}
                Ok(())
            })
            .expect("some round trips");
        assert!(
            t.per_rtt.n > 0 && t.per_rtt.n < 1_000_000,
            "{}",
            t.per_rtt.n
        );
        let nothing = Rounds {
            chunk: 10,
            ..Rounds::new(1_000_000, 10, 1_000_000)
        }
        .time(|_| {
            let t0 = now_ns();
            while now_ns() < t0 + 20_000 {}
            Ok(())
        })
        .expect_err("the warm-up outlasts the cap");
        assert!(nothing.to_string().contains("cap"), "{nothing}");
        assert!(t.batches >= 1 && t.batches < BATCHES, "{}", t.batches);
        assert!(t.batch_ns >= 20_000.0, "{}", t.batch_ns);
    }
}
