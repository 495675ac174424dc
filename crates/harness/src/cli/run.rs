//! `ipcbench run`: a selection of the benchmark matrix, checked before any
//! process starts, then run and written as results JSON or a summary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use codec::Codec;
use report::schema::SCHEMA_VERSION;
use report::{Results, RunConfig};

use super::Usage;
use super::floors::measure_floors;
use super::io::{emit, write_json};
use super::parse::{
    number_in, parse_names, parse_percent, parse_placements, parse_sizes, parse_transports,
};
use crate::bench::{self, Plan};
use crate::registry::{self, Backend};
use crate::sizes;
use crate::supervisor::Limits;
use crate::workload;

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Transports, comma-separated (default: all; see `ipcbench list`).
    #[arg(long, value_delimiter = ',')]
    transport: Vec<String>,
    /// Codecs for the seed workload, comma-separated (other workloads send raw bytes).
    #[arg(long, value_delimiter = ',', default_value = "raw")]
    codec: Vec<String>,
    /// Workloads, comma-separated: seed, pingpong, stream, fanout (= fanout1,fanout2,fanout4;
    /// fanoutN: N workers, a channel each), fanoutq (= fanoutq1,fanoutq2,fanoutq4; fanoutqN: N
    /// workers sharing one queue, on transports that can share one), paced (= paced50,paced80; pacedP: P% of the stream rate, needs stream).
    #[arg(long, value_delimiter = ',', default_value = "seed,pingpong,stream")]
    workload: Vec<String>,
    /// Payload sizes: int64 element counts (100) or bytes with a unit (8B, 4KiB, 1MiB, 6.4KB).
    /// Default: the notebook's ten sizes, 100..51200 elements (800 B .. 409.6 KB).
    #[arg(long)]
    sizes: Option<String>,
    /// Where producer and consumer run: split (cores 0 and 1), same (both on core 0), none (unpinned).
    #[arg(long, value_delimiter = ',', default_value = "split")]
    placement: Vec<String>,
    /// Independent trials per headline cell (placement split, codec raw); each starts fresh
    /// processes. Intervals need at least 3.
    #[arg(long, default_value_t = 10, allow_hyphen_values = true, value_parser = number_in(1u32, 1000))]
    trials: u32,
    /// Trials of the other cells (other codecs and placements); default: as many as --trials.
    #[arg(long, allow_hyphen_values = true, value_parser = number_in(1u32, 1000))]
    secondary_trials: Option<u32>,
    /// Adaptive stopping: give headline cells more trials, up to this many, until every size's
    /// median interval is within --precision (default: --trials, i.e. off).
    #[arg(long, allow_hyphen_values = true, value_parser = number_in(1u32, 1000))]
    max_trials: Option<u32>,
    /// Goal of the adaptive rule: the 95% interval's half-width as a percentage of the median.
    #[arg(long, default_value_t = 5.0, value_parser = parse_percent)]
    precision: f64,
    /// Wall time, in seconds, the adaptive rule's extra trials may take in all.
    #[arg(long, default_value_t = 120, allow_hyphen_values = true, value_parser = number_in(0u64, 86_400))]
    adaptive_budget: u64,
    /// The command to record in the results instead of this one (bench-all records itself).
    #[arg(long, hide = true)]
    record_as: Option<String>,
    /// Allow fewer than 3 trials: cells then carry no intervals and no verdict names a winner.
    #[arg(long)]
    no_intervals: bool,
    /// Measured messages per trial and size (stream sends 4x as many).
    #[arg(long, default_value_t = 1000, allow_hyphen_values = true, value_parser = number_in(1u32, 10_000_000))]
    messages: u32,
    /// Messages for one workload family instead of --messages, as FAMILY=N (repeatable;
    /// families: seed, pingpong, stream, fanout, fanoutq, paced). Example: --messages-for pingpong=300
    #[arg(long, value_name = "FAMILY=N")]
    messages_for: Vec<String>,
    /// Sizes for one workload family instead of --sizes, as FAMILY=SIZES (repeatable).
    /// Example: --sizes-for fanout=100,6400,51200
    #[arg(long, value_name = "FAMILY=SIZES")]
    sizes_for: Vec<String>,
    /// Each stream size runs for at least this many milliseconds (paced loads are fractions of
    /// that rate, so the full matrix keeps the default).
    #[arg(long, default_value_t = crate::workload::stream::DEFAULT_MIN_MS, allow_hyphen_values = true, value_parser = number_in(1u64, 60_000))]
    stream_min_ms: u64,
    /// Warm-up per trial and size, milliseconds (at least 10 messages).
    #[arg(long, default_value_t = 50, allow_hyphen_values = true, value_parser = number_in(0u64, 60_000))]
    warmup_ms: u64,
    /// Kill a pair that finishes no size within this many seconds.
    #[arg(long, default_value_t = 60, allow_hyphen_values = true, value_parser = number_in(1u64, 86_400))]
    stall_timeout: u64,
    /// Write results JSON here (atomically). The per-cell summary is then not printed: the file
    /// holds everything, and `ipcbench report FILE` renders it.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Skip measuring the machine floors.
    #[arg(long)]
    no_floors: bool,
    /// Record a failed cell and go on (exit status is still 1).
    #[arg(long)]
    keep_going: bool,
    /// No progress bar or summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// The command as the results record it: the program as `ipcbench` and
/// paths relative to the working directory, so committed results name no
/// directory of the machine that measured them.
pub(super) fn command_line() -> String {
    let cwd = std::env::current_dir().ok();
    std::iter::once("ipcbench".to_owned())
        .chain(std::env::args().skip(1).map(|a| {
            cwd.as_deref()
                .and_then(|d| Path::new(&a).strip_prefix(d).ok())
                .map_or(a.clone(), |rel| rel.display().to_string())
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn run(args: RunArgs) -> Result<()> {
    let transports = parse_transports(&args.transport)?;
    let workloads = workload::parse_list(&args.workload).map_err(Usage)?;
    let codecs = parse_names(&args.codec, |n| {
        Codec::from_name(n).ok_or_else(|| {
            let names: Vec<_> = codec::ALL.iter().map(|c| c.name()).collect();
            format!("unknown codec {n:?}; valid codecs: {}", names.join(", "))
        })
    })?;
    if workloads.is_empty() || codecs.is_empty() {
        bail!(Usage("no workload or codec given".into()));
    }
    check_shareable(&transports, &workloads)?;
    let placements = parse_placements(&args.placement)?;
    let sizes = parse_sizes(args.sizes.as_deref())?;
    let min = report::bootstrap::MIN_TRIALS as u32;
    let fewest = args
        .trials
        .min(args.secondary_trials.unwrap_or(args.trials));
    if fewest < min && !args.no_intervals {
        bail!(Usage(format!(
            "{fewest} trial(s) per cell: a confidence interval needs at least {min} independent \
             trials; pass --trials {min} or more (and --secondary-trials {min} or more), or \
             --no-intervals to run without intervals"
        )));
    }
    let per_workload = parse_per_workload(&args.messages_for, &args.sizes_for)?;
    let exe = std::env::current_exe().context("locating the ipcbench binary")?;
    let plan = Plan {
        transports,
        workloads,
        codecs,
        placements,
        sizes,
        trials: args.trials as usize,
        secondary_trials: args.secondary_trials.unwrap_or(args.trials) as usize,
        adaptive: bench::Adaptive {
            max_trials: args.max_trials.unwrap_or(args.trials) as usize,
            precision: args.precision,
            budget: Duration::from_secs(args.adaptive_budget),
        },
        messages: args.messages as usize,
        per_workload,
        stream_min_ms: args.stream_min_ms,
        warmup_ms: args.warmup_ms,
        limits: Limits {
            stall: Duration::from_secs(args.stall_timeout),
            ..Limits::default()
        },
        keep_going: args.keep_going,
        quiet: args.quiet,
    };
    let clock = crate::clock::overhead_ns();
    let floors = if args.no_floors {
        Vec::new()
    } else {
        if !args.quiet {
            eprintln!("measuring machine floors ...");
        }
        measure_floors(&plan.placements, &plan.sizes)?
    };
    // Taken before the run: the commit and date describe the code that was
    // built and when it started, even if the tree changes meanwhile.
    let environment =
        crate::env::collect(args.record_as.clone().unwrap_or_else(command_line), clock);
    let skipped = skipped_cells(&plan, args.quiet);
    let mut outcome = bench::execute(&plan, &exe)?;
    if !outcome.cells.iter().any(|c| c.status == report::Status::Ok) {
        bail!(
            "nothing was measured: {}",
            if outcome.failures.is_empty() {
                "every size is above the chosen transports' maximum message size".to_owned()
            } else {
                outcome.failures.join("; ")
            }
        );
    }
    outcome.cells.extend(skipped);
    let results = Results {
        schema_version: SCHEMA_VERSION,
        environment,
        config: RunConfig {
            trials: plan.trials,
            messages: plan.messages,
            warmup_ms: plan.warmup_ms,
            placements: plan
                .placements
                .iter()
                .map(|p| p.name().to_owned())
                .collect(),
            secondary_trials: (plan.secondary_trials < plan.trials)
                .then_some(plan.secondary_trials),
            interval_method: report::bootstrap::method(),
        },
        floors,
        cells: outcome.cells,
        targets: crate::targets::declared(),
        transports: crate::registry::describe(&plan.transports),
    };
    match &args.json {
        Some(path) => write_json(path, &results)?,
        None if args.quiet => {}
        None => print_summary(&results)?,
    }
    if !outcome.failures.is_empty() {
        bail!(
            "{} configuration(s) failed:\n  {}",
            outcome.failures.len(),
            outcome.failures.join("\n  ")
        );
    }
    Ok(())
}

/// A shared-queue workload (`fanoutqN`) runs only on transports whose
/// receivers can share an endpoint; others are not scheduled for it. Asking
/// for one with none that can is an error naming the transports that can.
fn check_shareable(
    transports: &[&'static Backend],
    workloads: &[workload::Workload],
) -> Result<()> {
    for &w in workloads.iter().filter(|w| w.shared_queue()) {
        if !transports.iter().any(|b| bench::runs(b, w)) {
            let valid: Vec<String> = registry::BACKENDS
                .iter()
                .filter(|b| bench::runs(b, w))
                .map(|b| b.name.to_owned())
                .collect();
            let given: Vec<&str> = transports.iter().map(|b| b.name).collect();
            bail!(Usage(format!(
                "workload {w} has its {} workers pull from one shared queue, and none of the \
                 given transports ({}) can share one endpoint among {} receivers; valid \
                 transports for {w}: {}",
                w.consumers(),
                given.join(", "),
                w.consumers(),
                if valid.is_empty() {
                    "none".to_owned()
                } else {
                    valid.join(", ")
                }
            )));
        }
    }
    Ok(())
}

/// `--messages-for` and `--sizes-for`: FAMILY=VALUE pairs.
fn parse_per_workload(messages: &[String], sizes: &[String]) -> Result<bench::PerWorkload> {
    const FAMILIES: [&str; 6] = ["seed", "pingpong", "stream", "fanout", "fanoutq", "paced"];
    let split = |item: &str| -> Result<(String, String)> {
        let (family, value) = item.split_once('=').ok_or_else(|| {
            Usage(format!(
                "{item:?} is not FAMILY=VALUE; families: {}",
                FAMILIES.join(", ")
            ))
        })?;
        let family = family.trim();
        if !FAMILIES.contains(&family) {
            bail!(Usage(format!(
                "unknown workload family {family:?} in {item:?}; families: {}",
                FAMILIES.join(", ")
            )));
        }
        Ok((family.to_owned(), value.trim().to_owned()))
    };
    let mut out = bench::PerWorkload::default();
    for item in messages {
        let (family, value) = split(item)?;
        let n = number_in(1u32, 10_000_000)(&value)
            .map_err(|e| Usage(format!("--messages-for {item}: {e}")))?;
        out.messages.insert(family, n as usize);
    }
    for item in sizes {
        let (family, value) = split(item)?;
        out.sizes.insert(family, parse_sizes(Some(&value))?);
    }
    Ok(out)
}

/// Cells for the sizes a transport cannot carry, named on stderr and kept in
/// the results as not run (never silently dropped).
fn skipped_cells(plan: &Plan, quiet: bool) -> Vec<report::Cell> {
    let mut out = Vec::new();
    for b in &plan.transports {
        let max = (b.capabilities)().max_message_size as u64;
        let mut named = std::collections::BTreeSet::new();
        for &workload in plan.workloads.iter().filter(|&&w| bench::runs(b, w)) {
            for &size in plan
                .sizes_of(workload)
                .iter()
                .filter(|&&s| !bench::fits(s, max))
            {
                let why = format!(
                    "not run: {} is above this transport's maximum of {}",
                    sizes::human(size),
                    sizes::human(max)
                );
                if !quiet && named.insert(size) {
                    eprintln!("note: {}: {why}", b.name);
                }
                for &placement in &plan.placements {
                    out.push(report::Cell {
                        transport: b.name.to_owned(),
                        codec: Codec::Raw.name().to_owned(),
                        workload: workload.name().to_owned(),
                        placement: placement.name().to_owned(),
                        size_bytes: size,
                        metric: String::new(),
                        status: report::Status::Failed,
                        error: Some(why.clone()),
                        ..report::Cell::default()
                    });
                }
            }
        }
    }
    out
}

fn print_summary(results: &Results) -> Result<()> {
    use std::fmt::Write;
    let mut o = String::new();
    for c in &results.cells {
        // Which cell: the same columns on every line.
        let who = format!(
            "{:<14} {:<9} {:<8} {:<6} {:>10}",
            c.transport,
            c.workload,
            c.codec,
            c.placement,
            sizes::human(c.size_bytes)
        );
        if c.metric == "throughput" {
            let _ = writeln!(
                o,
                "{who} {:<10} {:>12.0} msg/s {:>8.3} GB/s",
                c.metric,
                c.msgs_per_s.unwrap_or(0.0),
                c.bytes_per_s.unwrap_or(0.0) / 1e9
            );
        } else if c.status == report::Status::Ok {
            let ci = c.median_ci().map_or_else(
                || "no interval".to_owned(),
                |(lo, hi)| format!("{lo:.0}–{hi:.0}"),
            );
            let _ = writeln!(
                o,
                "{who} {:<10} median {:>10.0} ns ({ci})  p99 {:>10.0} ns  mean {:>10.0} ns",
                c.metric,
                c.median(),
                c.summary.p99_ns,
                c.summary.mean_ns
            );
        } else {
            let _ = writeln!(o, "{who} {}", c.error.as_deref().unwrap_or("failed"));
        }
    }
    emit(&o)
}
