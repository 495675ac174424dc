//! `ipcbench soak`: streams through every backend (or the chosen ones) for a
//! given total time with verification on, and watches the resident memory of
//! the producer and consumer processes while they run, so leaks and slow
//! corruption show up that a short benchmark would miss.
//!
//! Each backend gets an equal share of the time. A short calibration pair
//! measures its stream rate per size; then pairs of at most [`PAIR_MAX`]
//! stream the sizes for [`ROUNDS`] rounds each (the `stream` workload: every
//! message verified, loss, duplication and reordering detected) for the rest
//! of its share, while a sampler reads `VmRSS` of both role processes from
//! /proc every second. The first round allocates every buffer the largest
//! size needs, so memory is compared from the end of the first round to the
//! end of the pair: it must not grow by more than [`GROWTH_FACTOR`] plus
//! [`GROWTH_SLACK_KIB`]. Pairs are bounded because a pair keeps one result
//! (a histogram) per size and round until it ends, which is growth by design;
//! a fixed number of rounds keeps that small and the same for every pair.
//! Any failed pair or memory growth makes the exit status 1.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::cli::Usage;
use crate::placement::{Placement, Role};
use crate::registry::{self, Backend};
use crate::role::RoleSpec;
use crate::sizes;
use crate::supervisor::{Limits, run_pair};
use crate::workload::Workload;

/// Memory may grow by this factor between the end of the first round and the
/// end of the run ...
pub const GROWTH_FACTOR: f64 = 1.2;
/// ... plus this many KiB (allocator noise, lazily touched pages).
pub const GROWTH_SLACK_KIB: u64 = 8 * 1024;

/// The longest a soak pair runs; longer shares run several pairs.
pub const PAIR_MAX: Duration = Duration::from_secs(120);
/// Rounds through all sizes per pair.
pub const ROUNDS: usize = 4;
/// The shortest pair worth starting with what is left of a share.
const MIN_PAIR: Duration = Duration::from_secs(5);
/// Measured messages per size of the calibration pair.
const CALIBRATION_MESSAGES: usize = 200;
/// How often the sampler reads the role processes' memory.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// `ipcbench soak` arguments.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Total duration in minutes, shared equally by the transports (fractions allowed).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_minutes)]
    pub minutes: f64,
    /// Transports, comma-separated (default: all; see `ipcbench list`).
    #[arg(long, value_delimiter = ',')]
    pub transport: Vec<String>,
    /// Payload sizes streamed in turn (same syntax as `run --sizes`).
    #[arg(long, default_value = "100,800,6400,51200")]
    pub sizes: String,
    /// Where producer and consumer run: split, same or none.
    #[arg(long, default_value = "split")]
    pub placement: String,
    /// Kill a pair that finishes no size within this many seconds.
    #[arg(long, default_value_t = 60, allow_hyphen_values = true, value_parser = crate::cli::number_in(1u64, 86_400))]
    pub stall_timeout: u64,
}

fn parse_minutes(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0 && *v <= 10_080.0)
        .ok_or_else(|| {
            format!(
                "invalid duration {s:?}: minutes, more than 0 and at most 10080 minutes (a week), such as 10 or 0.5"
            )
        })
}

/// One reading of both role processes' resident memory, KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the soak pair started.
    pub at_s: f64,
    /// Producer `VmRSS`, if it was readable.
    pub producer_kib: Option<u64>,
    /// Consumer `VmRSS`, if it was readable.
    pub consumer_kib: Option<u64>,
}

/// The memory record of one soak pair.
#[derive(Debug, Clone, Default)]
pub struct PairMemory {
    /// Memory over time.
    pub samples: Vec<Sample>,
    /// Seconds after which memory counts as warmed up.
    pub warm_s: f64,
}

/// What one backend's soak did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Backend name.
    pub transport: &'static str,
    /// Wall time of the soak pairs.
    pub seconds: f64,
    /// Measured messages sent and verified (warm-up excluded).
    pub messages: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Failed pairs (calibration or soak); each message says why.
    pub errors: Vec<String>,
    /// One per soak pair.
    pub pairs: Vec<PairMemory>,
}

/// Memory at the end of the first round and at the end, per role, KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Growth {
    /// Reference reading, after the first round.
    pub first: u64,
    /// Last reading.
    pub last: u64,
    /// Largest reading.
    pub max: u64,
}

impl Growth {
    /// Whether the last reading stays within the allowed growth.
    pub fn flat(&self) -> bool {
        (self.last as f64) <= self.first as f64 * GROWTH_FACTOR + GROWTH_SLACK_KIB as f64
    }
}

/// The growth of one role's memory over `samples`, from the first reading at
/// or after `warm_s`; `None` with fewer than two readings to compare.
pub fn growth(samples: &[Sample], warm_s: f64, role: Role) -> Option<Growth> {
    let values: Vec<(f64, u64)> = samples
        .iter()
        .filter_map(|s| {
            let v = match role {
                Role::Producer => s.producer_kib,
                Role::Consumer => s.consumer_kib,
            };
            v.map(|v| (s.at_s, v))
        })
        .collect();
    let start = values.iter().position(|&(t, _)| t >= warm_s)?;
    let warm = &values[start..];
    if warm.len() < 2 {
        return None;
    }
    Some(Growth {
        first: warm[0].1,
        last: warm[warm.len() - 1].1,
        max: warm.iter().map(|&(_, v)| v).max().unwrap_or(0),
    })
}

impl Outcome {
    /// Each pair's growth for `role`, where there were enough readings.
    pub fn growths(&self, role: Role) -> Vec<Growth> {
        self.pairs
            .iter()
            .filter_map(|p| growth(&p.samples, p.warm_s, role))
            .collect()
    }

    /// The pair whose memory grew most (relative to the allowance).
    pub fn worst(&self, role: Role) -> Option<Growth> {
        let excess = |g: &Growth| g.last as f64 - g.first as f64 * GROWTH_FACTOR;
        self.growths(role)
            .into_iter()
            .max_by(|a, b| excess(a).total_cmp(&excess(b)))
    }

    /// No failed pair and flat memory in both roles of every pair.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
            && [Role::Producer, Role::Consumer]
                .into_iter()
                .all(|r| self.growths(r).iter().all(Growth::flat))
    }
}

/// Runs the soak and prints its record; fails if any backend failed.
pub fn run(args: SoakArgs) -> Result<()> {
    let backends = select(&args.transport)?;
    let placement: Placement = args.placement.parse().map_err(Usage)?;
    if !placement.supported(crate::env::online_cpus()) {
        bail!(Usage(format!(
            "placement {placement} needs 2 cores; this machine has {}",
            crate::env::online_cpus()
        )));
    }
    let sizes =
        sizes::parse_list(&args.sizes, sizes::machine_max()).map_err(|e| Usage(e.to_string()))?;
    let exe = std::env::current_exe().context("locating the ipcbench binary")?;
    let limits = Limits {
        stall: Duration::from_secs(args.stall_timeout),
        ..Limits::default()
    };
    let share = Duration::from_secs_f64(args.minutes * 60.0 / backends.len() as f64);
    let own_rss_start = rss_kib(std::process::id());
    eprintln!(
        "soak: {} transport(s), {:.0} s each, sizes {}, placement {placement}",
        backends.len(),
        share.as_secs_f64(),
        sizes
            .iter()
            .map(|&s| sizes::human(s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut outcomes = Vec::new();
    for b in backends {
        let sizes: Vec<u64> = sizes
            .iter()
            .copied()
            .filter(|&s| s + 64 <= (b.capabilities)().max_message_size as u64)
            .collect();
        let o = soak_one(&exe, b, &sizes, placement, share, limits);
        eprintln!("{}", line(&o));
        outcomes.push(o);
    }
    let own_rss_end = rss_kib(std::process::id());
    let mut text = table(&outcomes);
    if let (Some(a), Some(b)) = (own_rss_start, own_rss_end) {
        let _ = writeln!(text, "\nsupervisor (this process) RSS: {a} KiB -> {b} KiB");
    }
    crate::cli::emit(&text)?;
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.ok())
        .map(|o| o.transport)
        .collect();
    if !failed.is_empty() {
        bail!("soak failed for: {}", failed.join(", "));
    }
    Ok(())
}

fn select(given: &[String]) -> Result<Vec<&'static Backend>> {
    let names: Vec<&str> = given
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(registry::BACKENDS.iter().collect());
    }
    names
        .into_iter()
        .map(|n| {
            registry::find(n).ok_or_else(|| {
                Usage(format!(
                    "unknown transport {n:?}; valid transports: {}",
                    registry::names().join(", ")
                ))
                .into()
            })
        })
        .collect()
}

fn spec(
    b: &Backend,
    sizes: Vec<u64>,
    messages: usize,
    placement: Placement,
    limits: Limits,
) -> RoleSpec {
    RoleSpec {
        role: Role::Consumer,
        transport: b.name.to_owned(),
        workload: Workload::Stream,
        codec: "raw".to_owned(),
        sizes,
        messages,
        warmup_ms: 0,
        placement,
        tag: transport::Options::unique("ib").tag,
        endpoint: None,
        endpoints: Vec::new(),
        worker: 0,
        rates: Vec::new(),
        connect_timeout_ms: limits.connect.as_millis() as u64,
        stream_min_ms: crate::workload::stream::DEFAULT_MIN_MS,
    }
}

fn soak_one(
    exe: &Path,
    b: &'static Backend,
    sizes: &[u64],
    placement: Placement,
    share: Duration,
    limits: Limits,
) -> Outcome {
    let mut out = Outcome {
        transport: b.name,
        ..Outcome::default()
    };
    if sizes.is_empty() {
        out.errors.push("no size fits this transport".into());
        return out;
    }
    let started = Instant::now();
    // Calibration: messages per second at each size.
    let cal = spec(b, sizes.to_vec(), CALIBRATION_MESSAGES, placement, limits);
    let rates = match run_pair(exe, &cal, limits) {
        Ok((_, consumer)) => consumer
            .sizes
            .iter()
            .map(|s| s.msgs_per_s.unwrap_or(0.0))
            .collect::<Vec<f64>>(),
        Err(e) => {
            out.errors.push(format!("calibration: {e:#}"));
            return out;
        }
    };
    // Seconds one message of every size takes; refined after each pair
    // (the short calibration pair is a rough guide).
    let mut secs_per_message: f64 = rates.iter().map(|&r| 1.0 / r.max(1.0)).sum();
    loop {
        let left = share.saturating_sub(started.elapsed());
        let pair_len = left.min(PAIR_MAX).as_secs_f64().max(1.0);
        // Each round sends `messages` of every size.
        let round_s = pair_len / ROUNDS as f64;
        let messages = ((round_s / secs_per_message) as usize).clamp(20, 10_000_000);
        let all_sizes: Vec<u64> = sizes
            .iter()
            .copied()
            .cycle()
            .take(ROUNDS * sizes.len())
            .collect();
        let soak = spec(b, all_sizes, messages, placement, limits);
        let sampler = Sampler::start(soak.tag.clone());
        let t0 = Instant::now();
        let result = run_pair(exe, &soak, limits);
        let took = t0.elapsed().as_secs_f64();
        out.seconds += took;
        out.pairs.push(PairMemory {
            samples: sampler.stop(),
            // From the end of the first round, when every buffer the largest
            // size needs exists.
            warm_s: messages as f64 * secs_per_message + SAMPLE_EVERY.as_secs_f64(),
        });
        match result {
            Ok((_, consumer)) => {
                // Counted from what arrived: a size streams for at least
                // `stream::DEFAULT_MIN_MS`, so small sizes send more than asked.
                for s in &consumer.sizes {
                    out.messages += s.messages;
                    out.bytes += s.messages * s.size_bytes;
                }
                secs_per_message = took / (ROUNDS * messages) as f64;
            }
            Err(e) => {
                out.errors.push(format!("soak pair: {e:#}"));
                return out;
            }
        }
        if share.saturating_sub(started.elapsed()) < MIN_PAIR {
            return out;
        }
    }
}

/// Reads the role processes' memory in the background.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    fn start(tag: String) -> Self {
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

    fn stop(self) -> Vec<Sample> {
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
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn show(g: Option<Growth>) -> String {
    match g {
        Some(g) => format!(
            "{} -> {} KiB (max {}){}",
            g.first,
            g.last,
            g.max,
            if g.flat() { "" } else { " GREW" }
        ),
        None => "n/a (run too short)".to_owned(),
    }
}

fn line(o: &Outcome) -> String {
    format!(
        "soak {}: {:.0} s in {} pair(s), {} messages, {:.2} GB, {} error(s); producer RSS {}; consumer RSS {}{}",
        o.transport,
        o.seconds,
        o.pairs.len(),
        o.messages,
        o.bytes as f64 / 1e9,
        o.errors.len(),
        show(o.worst(Role::Producer)),
        show(o.worst(Role::Consumer)),
        o.errors
            .iter()
            .map(|e| format!("\n  error: {e}"))
            .collect::<String>()
    )
}

/// The record as a Markdown table (what docs/reliability.md quotes).
fn table(outcomes: &[Outcome]) -> String {
    let mut t = String::from(
        "| transport | seconds | pairs | messages | GB | errors | producer RSS KiB, worst pair (after round 1 -> end, max) | consumer RSS KiB, worst pair (after round 1 -> end, max) | verdict |\n|---|---:|---:|---:|---:|---:|---|---|---|\n",
    );
    for o in outcomes {
        let g = |r| match o.worst(r) {
            Some(g) => format!("{} -> {} ({})", g.first, g.last, g.max),
            None => "n/a".to_owned(),
        };
        let _ = writeln!(
            t,
            "| {} | {:.0} | {} | {} | {:.2} | {} | {} | {} | {} |",
            o.transport,
            o.seconds,
            o.pairs.len(),
            o.messages,
            o.bytes as f64 / 1e9,
            o.errors.len(),
            g(Role::Producer),
            g(Role::Consumer),
            if o.ok() { "ok" } else { "FAILED" }
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: &[(f64, u64)]) -> Vec<Sample> {
        values
            .iter()
            .map(|&(at_s, v)| Sample {
                at_s,
                producer_kib: Some(v),
                consumer_kib: Some(v),
            })
            .collect()
    }

    #[test]
    fn growth_counts_from_the_end_of_the_first_round() {
        let s = samples(&[(0.5, 1000), (2.5, 50_000), (3.5, 51_000), (9.0, 52_000)]);
        let g = growth(&s, 2.0, Role::Producer).expect("enough samples");
        assert_eq!((g.first, g.last, g.max), (50_000, 52_000, 52_000));
        assert!(g.flat());
        assert!(growth(&s, 5.0, Role::Consumer).is_none());
    }

    #[test]
    fn growth_beyond_the_allowance_is_not_flat() {
        let flat = Growth {
            first: 100_000,
            last: 120_000 + GROWTH_SLACK_KIB,
            max: 0,
        };
        assert!(flat.flat());
        let grew = Growth {
            last: flat.last + 1,
            ..flat
        };
        assert!(!grew.flat());
    }

    #[test]
    fn every_pair_must_stay_flat() {
        let flat = PairMemory {
            samples: samples(&[(1.0, 10_000), (2.0, 10_000), (3.0, 11_000)]),
            warm_s: 1.5,
        };
        let leaky = PairMemory {
            samples: samples(&[(1.0, 10_000), (2.0, 10_000), (3.0, 30_000)]),
            warm_s: 1.5,
        };
        let mut o = Outcome {
            pairs: vec![flat.clone(), flat],
            ..Outcome::default()
        };
        assert!(o.ok());
        o.pairs.push(leaky);
        assert!(!o.ok());
        assert_eq!(o.worst(Role::Consumer).map(|g| g.last), Some(30_000));
        o.pairs.pop();
        o.errors.push("soak pair: boom".into());
        assert!(!o.ok());
    }

    #[test]
    fn minutes_are_validated_with_the_range() {
        assert_eq!(parse_minutes("0.5"), Ok(0.5));
        for bad in ["0", "-1", "abc", "nan", "20000"] {
            let e = parse_minutes(bad).expect_err(bad);
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn own_memory_is_readable() {
        assert!(rss_kib(std::process::id()).is_some_and(|v| v > 0));
    }
}
