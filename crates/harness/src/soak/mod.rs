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
//!
//! Layout: `args` the command line, `record` what a soak measured and the
//! memory rule, `pairs` one backend's share (calibration, then soak pairs),
//! `sampler` the memory readings, `render` the lines and table.

mod args;
mod pairs;
mod record;
mod render;
mod sampler;

pub use args::SoakArgs;
pub use pairs::{PAIR_MAX, ROUNDS};
pub use record::{GROWTH_FACTOR, GROWTH_SLACK_KIB, Growth, Outcome, PairMemory, Sample, growth};

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cli::Usage;
use crate::placement::Placement;
use crate::registry::{self, Backend};
use crate::sizes;
use crate::supervisor::Limits;

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
    let own_rss_start = sampler::rss_kib(std::process::id());
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
        let o = pairs::soak_one(&exe, b, &sizes, placement, share, limits);
        eprintln!("{}", render::line(&o));
        outcomes.push(o);
    }
    let own_rss_end = sampler::rss_kib(std::process::id());
    let mut text = render::table(&outcomes);
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
