//! `ipcbench run`: a selection of the benchmark matrix, checked before any
//! process starts, then run and written as results JSON or a summary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser};
use codec::Codec;
use results::schema::SCHEMA_VERSION;
use results::{Results, RunConfig};

use super::Usage;
use super::extra::{ExtraPass, pass_args as extra_pass_args};
use super::floors::{add_fill_verify, measure_floors, merge_floors, size_floors};
use super::io::{emit, write_json};
use super::parse::{
    number_in, parse_names, parse_percent, parse_placements, parse_sizes, parse_transports,
};
use crate::bench::{self, Plan};
use crate::preset::{self, Preset};
use crate::registry::{self, Backend};
use crate::sizes;
use crate::supervisor::Limits;
use crate::workload;

#[derive(Debug, Clone, Args)]
pub(super) struct RunArgs {
    /// Run one of bench-all's matrices: default, quick or full (docs/methodology.md tables
    /// them). A preset stands for its exact `run` arguments; a flag given alongside replaces
    /// every value the preset gives that flag. The default preset also runs an extra pass,
    /// pingpong with both processes on one core, into the same results.
    #[arg(long, value_name = "PRESET", value_parser = str::parse::<Preset>)]
    preset: Option<Preset>,
    /// Record in the results' environment how long the whole bench-all took: from this moment,
    /// in Unix seconds (a decimal such as 1764430000.25; `date +%s.%N` gives one), to the end
    /// of this run. Needs --preset (the entry names its matrix).
    #[arg(long, value_name = "UNIX_SECONDS", requires = "preset", value_parser = parse_unix_seconds)]
    wall_time_since: Option<f64>,
    /// Transports, comma-separated (default: all; `default`: those of the default run, which
    /// leaves out the backends `ipcbench list` marks full-only; see `ipcbench list`).
    #[arg(long, value_delimiter = ',')]
    pub(super) transport: Vec<String>,
    /// Codecs for the seed workload, comma-separated (other workloads send raw bytes).
    #[arg(long, value_delimiter = ',', default_value = "raw")]
    codec: Vec<String>,
    /// Workloads, comma-separated: seed, pingpong, stream, fanout (= fanout1,fanout2,fanout4;
    /// fanoutN: N workers, a channel each), fanoutq (= fanoutq1,fanoutq2,fanoutq4; fanoutqN: N
    /// workers sharing one queue, on transports that can share one), bcast (= bcast2,bcast4; bcastN:
    /// one publisher, N subscribers each receiving every message), gather (= gather2,gather4;
    /// gatherN: N producers into one consumer), paced (= paced50,paced80; pacedP: P% of the stream rate, needs stream),
    /// handover and inplace-stream (the producer produces each message in place: in a loan of
    /// the transport's memory where it lends, else its own buffer and send).
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
    /// families: seed, pingpong, stream, fanout, fanoutq, paced, bcast, gather). Example: --messages-for pingpong=300
    #[arg(long, value_name = "FAMILY=N")]
    messages_for: Vec<String>,
    /// Sizes for one workload family instead of --sizes, as FAMILY=SIZES (repeatable).
    /// Example: --sizes-for fanout=100,6400,51200
    #[arg(long, value_name = "FAMILY=SIZES")]
    sizes_for: Vec<String>,
    /// Transports for one workload family instead of --transport, as FAMILY=T1:T2:... (repeatable;
    /// each must be registered; only those also in --transport run). Example:
    /// --transports-for bcast=shm-adaptive:uds:iceoryx2
    #[arg(long, value_name = "FAMILY=TRANSPORTS")]
    transports_for: Vec<String>,
    /// Each stream size runs for at least this many milliseconds (paced loads are fractions of
    /// that rate, so the full matrix keeps the default).
    #[arg(long, default_value_t = crate::workload::stream::DEFAULT_MIN_MS, allow_hyphen_values = true, value_parser = number_in(1u64, 60_000))]
    stream_min_ms: u64,
    /// Warm-up per trial and size, milliseconds (at least 10 messages).
    #[arg(long, default_value_t = 50, allow_hyphen_values = true, value_parser = number_in(0u64, 60_000))]
    warmup_ms: u64,
    /// Kill a pair that finishes no size within this many seconds.
    #[arg(long, default_value_t = 60, allow_hyphen_values = true, value_parser = number_in(1u64, 86_400))]
    pub(super) stall_timeout: u64,
    /// Write results JSON here (atomically). The per-cell summary is then not printed: the file
    /// holds everything, and `ipcbench report FILE` renders it.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Skip measuring the machine floors.
    #[arg(long)]
    pub(super) no_floors: bool,
    /// Which floors to measure: `all`, or `sizes` (only memcpy and the in-place fill + verify
    /// floor at this run's sizes: an extra pass whose round-trip floors are the main run's).
    #[arg(long, hide = true, default_value = "all", value_parser = ["all", "sizes"])]
    floors: String,
    /// Record a failed cell and go on (exit status is still 1).
    #[arg(long)]
    pub(super) keep_going: bool,
    /// No progress bar or summary on stderr.
    #[arg(long, short)]
    pub(super) quiet: bool,
    #[command(flatten)]
    remote: super::remote::RemoteArgs,
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

/// The argument list with a `run --preset NAME`'s arguments put in front of
/// the ones given (less the flags given, which replace the preset's); any
/// other command line unchanged. An unknown preset is left for the parser to
/// refuse.
pub(super) fn expand_preset(argv: Vec<OsString>) -> Vec<OsString> {
    let text: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if text.get(1).map(String::as_str) != Some("run") {
        return argv;
    }
    let named = text.iter().enumerate().skip(2).find_map(|(i, a)| {
        if a == "--preset" {
            text.get(i + 1).cloned()
        } else {
            a.strip_prefix("--preset=").map(str::to_owned)
        }
    });
    let Some(preset) = named.and_then(|n| n.parse::<Preset>().ok()) else {
        return argv;
    };
    let given = &text[2..];
    let mut out: Vec<OsString> = argv[..2].to_vec();
    out.extend(
        preset::without_overridden(&preset.main_pass(), given)
            .into_iter()
            .map(OsString::from),
    );
    out.extend(argv.into_iter().skip(2));
    out
}

/// A `--wall-time-since` value: Unix seconds, finite and not negative.
fn parse_unix_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!(
            "{s:?} is not a time in Unix seconds; give seconds since 1970 such as 1764430000 \
             or 1764430000.25 (`date +%s.%N`)"
        )),
    }
}

/// Now, in Unix seconds.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub(super) fn run(args: RunArgs) -> Result<()> {
    if let Some(since) = args.wall_time_since {
        // A clock a few milliseconds apart between processes is fine; a
        // start in the future is a mistake in the caller.
        if since > unix_now() + 1.0 {
            bail!(Usage(format!(
                "--wall-time-since {since} is in the future (now is {:.0})",
                unix_now()
            )));
        }
    }
    let command = args.record_as.clone().unwrap_or_else(command_line);
    let mut measured = measure(&args, command)?;
    for pass in args.preset.map(Preset::extra_passes).unwrap_or_default() {
        let Some(extra) = extra_pass_args(&args, &pass) else {
            if !args.quiet {
                eprintln!(
                    "extra pass skipped (none of its transports is in this run): ipcbench run {}",
                    pass.args().join(" ")
                );
            }
            continue;
        };
        if !args.quiet {
            eprintln!("extra pass: ipcbench run {}", extra.join(" "));
        }
        let parsed = ExtraPass::try_parse_from(
            std::iter::once("run".to_owned()).chain(extra.iter().cloned()),
        )
        .context("internal error: the preset's extra pass does not parse")?;
        match measure(&parsed.args, format!("ipcbench run {}", extra.join(" "))) {
            Ok(more) => measured.merge(more),
            Err(e) => measured
                .failures
                .push(format!("extra pass ({}): {e:#}", extra.join(" "))),
        }
    }
    let mut results = measured.results;
    if let (Some(since), Some(preset)) = (args.wall_time_since, args.preset) {
        results
            .environment
            .extra
            .push(wall_time_entry(unix_now() - since, preset));
    }
    match &args.json {
        Some(path) => write_json(path, &results)?,
        None if args.quiet => {}
        None => print_summary(&results)?,
    }
    let failures = measured.failures;
    if !failures.is_empty() {
        bail!(
            "{} configuration(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}

/// The environment entry bench-all's wall time is recorded as (the report
/// reads it by key and by its `--quick matrix` wording).
fn wall_time_entry(took_s: f64, preset: Preset) -> (String, String) {
    let secs = took_s.max(0.0) as u64;
    (
        "bench-all wall time".to_owned(),
        format!(
            "{} min {:02} s ({} matrix, Python baseline included)",
            secs / 60,
            secs % 60,
            preset.bench_all_mode()
        ),
    )
}

/// What one pass measured: its results, and the configurations that failed.
struct Measured {
    results: Results,
    failures: Vec<String>,
}

impl Measured {
    /// Appends a further pass's cells, floors and placements, and its
    /// command after this one's.
    fn merge(&mut self, more: Measured) {
        let (a, b) = (&mut self.results, more.results);
        a.cells.extend(b.cells);
        merge_floors(&mut a.floors, b.floors);
        for p in b.config.placements {
            if !a.config.placements.contains(&p) {
                a.config.placements.push(p);
            }
        }
        a.environment.command_line = format!(
            "{}; {}",
            a.environment.command_line, b.environment.command_line
        );
        self.failures.extend(more.failures);
    }
}

/// One pass: the plan the arguments give, checked, run, and folded into
/// results recording `command`.
fn measure(args: &RunArgs, command: String) -> Result<Measured> {
    let mut transports = parse_transports(&args.transport)?;
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
    let min = results::bootstrap::MIN_TRIALS as u32;
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
    let mut per_workload = parse_per_workload(&args.messages_for, &args.sizes_for)?;
    per_workload.transports = parse_transports_for(&args.transports_for)?;
    let remote = super::remote::open(
        &args.remote,
        &mut transports,
        !args.transport.is_empty(),
        &workloads,
    )?;
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
        remote,
    };
    let clock = crate::clock::overhead_ns();
    let floors = if args.no_floors {
        Vec::new()
    } else if args.floors == "sizes" {
        size_floors(&plan)?
    } else {
        if !args.quiet {
            eprintln!("measuring machine floors ...");
        }
        let mut floors = measure_floors(&plan.placements, &plan.sizes).0;
        add_fill_verify(&mut floors, &plan)?;
        floors
    };
    // Taken before the run: the commit and date describe the code that was
    // built and when it started, even if the tree changes meanwhile.
    let mut environment = crate::env::collect(command, clock);
    if let Some(s) = &plan.remote {
        environment
            .extra
            .extend(super::remote::environment_entries(&args.remote, s));
    }
    let skipped = skipped_cells(&plan, args.quiet);
    let mut outcome = bench::execute(&plan, &exe)?;
    if !outcome
        .cells
        .iter()
        .any(|c| c.status == results::Status::Ok)
    {
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
            placements: plan.placements.clone(),
            secondary_trials: (plan.secondary_trials < plan.trials)
                .then_some(plan.secondary_trials),
            interval_method: results::bootstrap::method(),
        },
        floors,
        cells: outcome.cells,
        targets: crate::targets::declared(),
        transports: crate::registry::describe(&plan.transports),
    };
    Ok(Measured {
        results,
        failures: outcome.failures,
    })
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

/// The workload families the per-family flags take.
const FAMILIES: [&str; 10] = [
    "seed",
    "pingpong",
    "stream",
    "fanout",
    "fanoutq",
    "paced",
    "handover",
    "inplace-stream",
    "bcast",
    "gather",
];

/// A FAMILY=VALUE item of a per-family flag, the family checked.
fn split_family(item: &str) -> Result<(String, String)> {
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
}

/// `--transports-for`: FAMILY=T1:T2 pairs, every name registered.
fn parse_transports_for(
    items: &[String],
) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
    let mut out = std::collections::BTreeMap::new();
    for item in items {
        let (family, value) = split_family(item)?;
        let mut names = Vec::new();
        for name in value.split(':').map(str::trim).filter(|n| !n.is_empty()) {
            if registry::find(name).is_none() {
                let valid: Vec<&str> = registry::BACKENDS.iter().map(|b| b.name).collect();
                bail!(Usage(format!(
                    "--transports-for {item}: unknown transport {name:?}; valid transports: {}",
                    valid.join(", ")
                )));
            }
            names.push(name.to_owned());
        }
        if names.is_empty() {
            bail!(Usage(format!(
                "--transports-for {item}: no transport named; give FAMILY=T1:T2"
            )));
        }
        out.insert(family, names);
    }
    Ok(out)
}

/// `--messages-for` and `--sizes-for`: FAMILY=VALUE pairs.
fn parse_per_workload(messages: &[String], sizes: &[String]) -> Result<bench::PerWorkload> {
    let split = split_family;
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
fn skipped_cells(plan: &Plan, quiet: bool) -> Vec<results::Cell> {
    let mut out = Vec::new();
    for b in &plan.transports {
        let mut named = std::collections::BTreeSet::new();
        for &workload in plan
            .workloads
            .iter()
            .filter(|&&w| bench::runs(b, w) && plan.transport_runs(b, w))
        {
            let max = bench::max_size(b, workload);
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
                    out.push(results::Cell {
                        transport: b.name.to_owned(),
                        codec: results::Codec::Raw,
                        workload,
                        placement,
                        size_bytes: size,
                        metric: results::Metric::NotRun,
                        status: results::Status::Failed,
                        error: Some(why.clone()),
                        ..results::Cell::default()
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
        if c.metric == results::Metric::Throughput {
            let _ = writeln!(
                o,
                "{who} {:<10} {:>12.0} msg/s {:>8.3} GB/s",
                c.metric,
                c.msgs_per_s.unwrap_or(0.0),
                c.bytes_per_s.unwrap_or(0.0) / 1e9
            );
        } else if c.status == results::Status::Ok {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_preset_expands_in_front_of_the_flags_given() {
        let got = expand_preset(argv(&[
            "ipcbench",
            "run",
            "--preset=quick",
            "--trials",
            "5",
        ]));
        let mut want = argv(&["ipcbench", "run"]);
        want.extend(
            Preset::Quick
                .main_pass()
                .args()
                .chunks(2)
                .filter(|p| p[0] != "--trials")
                .flatten()
                .map(OsString::from),
        );
        want.extend(argv(&["--preset=quick", "--trials", "5"]));
        assert_eq!(got, want);
        // The expansion parses, and the flag given wins.
        let parsed = ExtraPass::try_parse_from(got.into_iter().skip(1)).expect("parses");
        assert_eq!(parsed.args.trials, 5);
        assert_eq!(parsed.args.sizes.as_deref(), Some("8B,100,3200,51200"));
        assert_eq!(parsed.args.preset, Some(Preset::Quick));
    }

    #[test]
    fn other_command_lines_and_unknown_presets_are_left_alone() {
        for v in [
            &["ipcbench", "list"][..],
            &["ipcbench", "run", "--trials", "3"],
            &["ipcbench", "run", "--preset", "fast"],
            &["ipcbench", "floors", "--preset", "quick"],
        ] {
            assert_eq!(expand_preset(argv(v)), argv(v));
        }
    }

    #[test]
    fn the_wall_time_reads_as_bench_all_wrote_it() {
        assert_eq!(
            wall_time_entry(754.9, Preset::Default),
            (
                "bench-all wall time".to_owned(),
                "12 min 34 s (default matrix, Python baseline included)".to_owned()
            )
        );
        assert_eq!(
            wall_time_entry(65.0, Preset::Quick).1,
            "1 min 05 s (--quick matrix, Python baseline included)"
        );
    }
}
