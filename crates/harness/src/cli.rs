//! The command line: `list`, `run`, `floors`, `report`, `compare`, `soak`, and the hidden
//! `__role` the supervisor uses to start producer and consumer processes.
//!
//! Exit codes: 0 success; 1 a run failed (a cell failed verification, a
//! process died or hung, an I/O error); 2 bad command-line input, reported
//! before any process is started; 128 + n interrupted by signal n (130
//! Ctrl-C, 143 SIGTERM), see [`crate::interrupt`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use codec::Codec;
use report::schema::SCHEMA_VERSION;
use report::{Results, RunConfig};

use crate::bench::{self, Plan};
use crate::placement::{self, Placement};
use crate::registry::{self, Backend};
use crate::role::{Control, RoleSpec};
use crate::sizes;
use crate::supervisor::Limits;
use crate::workload;

#[derive(Debug, Parser)]
#[command(
    name = "ipcbench",
    version,
    about = "Which inter-process transport should carry my messages, and what does it cost?",
    long_about = "Runs one identical producer-consumer benchmark across inter-process transports \
(pipes, Unix sockets, shared memory, ...) in separate, pinned processes, verifies every message, \
and writes the results as JSON for `ipcbench report` or `cargo xtask bench-all`.",
    after_help = "Examples:\n  ipcbench list\n  ipcbench run --transport pipe,uds --workload pingpong --sizes 8B,4KiB,1MiB\n  ipcbench run --workload seed --codec raw,bincode --json out.json\n  ipcbench floors --placement split,same\n  ipcbench soak --minutes 10\n\nExit codes: 0 ok, 1 run failed, 2 bad input, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List transports, codecs, workloads and placements.
    List,
    /// Run a selection of the benchmark matrix and write results JSON.
    #[command(
        after_help = "Examples:\n  ipcbench run --transport pipe --workload pingpong --sizes 8B --trials 3\n  ipcbench run --transport pipe,uds --workload seed,stream --json results.json\n  ipcbench run --placement split,same,none --quiet --json all.json"
    )]
    Run(RunArgs),
    /// Measure the machine floors only (cache-line and raw-pipe round trips, memcpy, clock).
    #[command(after_help = "Example:\n  ipcbench floors --placement split --json floors.json")]
    Floors(FloorArgs),
    /// Render results JSON as Markdown (what bench-all writes to results/README.md).
    #[command(
        after_help = "Example:\n  ipcbench report results/results.json --python results/python.json --out report.md"
    )]
    Report(ReportArgs),
    /// Compare two results files cell by cell, with a verdict from the confidence intervals.
    #[command(
        after_help = "Example:\n  ipcbench compare old/results.json results/results.json --threshold 5"
    )]
    Compare(CompareArgs),
    /// Stream through every transport for a while, verifying, and check that memory stays flat.
    #[command(
        after_help = "Examples:\n  ipcbench soak --minutes 10\n  ipcbench soak --minutes 1 --transport shm-block,uds --sizes 8B,64KiB"
    )]
    Soak(crate::soak::SoakArgs),
    /// Internal: one process of a producer-consumer pair.
    #[command(name = "__role", hide = true)]
    Role { spec: String },
}

#[derive(Debug, Args)]
struct RunArgs {
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

#[derive(Debug, Args)]
struct FloorArgs {
    /// Placements to measure.
    #[arg(long, value_delimiter = ',', default_value = "split")]
    placement: Vec<String>,
    /// Sizes for the memcpy floor (same syntax as `run --sizes`).
    #[arg(long)]
    sizes: Option<String>,
    /// Write results JSON (floors only) here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Results JSON written by `ipcbench run`.
    results: PathBuf,
    /// The Python baseline's results JSON, shown beside ours.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Write the Markdown here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// The older results JSON.
    old: PathBuf,
    /// The newer results JSON.
    new: PathBuf,
    /// Changes smaller than this many percent count as noise.
    #[arg(long, default_value_t = 5.0, value_parser = parse_percent)]
    threshold: f64,
    /// List every matched cell, not only the changed and failed ones.
    #[arg(long)]
    all: bool,
}

/// A parser for a whole number in `min..=max` whose error names the value
/// and the range (clap's own says "invalid digit" for `-5`).
pub(crate) fn number_in<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String> + Clone
where
    T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display,
{
    move |s: &str| {
        s.trim()
            .parse::<T>()
            .ok()
            .filter(|v| *v >= min && *v <= max)
            .ok_or_else(|| format!("{s:?} is not a whole number from {min} to {max}"))
    }
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("invalid threshold {s:?}: expected a percentage such as 5"))?;
    if !(0.0..=1000.0).contains(&v) {
        return Err(format!(
            "invalid threshold {s:?}: must be between 0 and 1000 percent"
        ));
    }
    Ok(v / 100.0)
}

/// Reads a results file named on the command line; a missing or malformed
/// one is bad input (exit status 2).
fn load(path: &Path) -> Result<Results> {
    read_results(path).map_err(|e| Usage(format!("{e:#}")).into())
}

fn read_results(path: &Path) -> Result<Results> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut r: Results = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an ipcbench results file", path.display()))?;
    if !report::schema::READABLE_VERSIONS.contains(&r.schema_version) {
        bail!(
            "{} has schema version {}, this ipcbench reads versions 1 to {SCHEMA_VERSION}",
            path.display(),
            r.schema_version
        );
    }
    report::bootstrap::complete_intervals(&mut r);
    Ok(r)
}

fn report_cmd(args: ReportArgs) -> Result<()> {
    let results = load(&args.results)?;
    let python = args.python.as_deref().map(load).transpose()?;
    let opts = report::RenderOptions {
        python: python.as_ref(),
        ..report::RenderOptions::default()
    };
    let md = report::render_markdown(&results, &opts);
    match &args.out {
        Some(p) => write_atomic(p, md.as_bytes()),
        None => emit(&md),
    }
}

fn compare_cmd(args: CompareArgs) -> Result<()> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let cmp = report::compare(&old, &new, args.threshold);
    emit(&report::render_comparison(&cmp, args.all))
}

/// Bad input: exit code 2, message only.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Usage(pub(crate) String);

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Role { .. }) {
        crate::interrupt::ignore_terminal_interrupt();
    } else if let Err(e) = crate::interrupt::install() {
        eprintln!("warning: cannot handle Ctrl-C ({e}); an interrupted run may leave files behind");
    }
    let result = match cli.command {
        Command::List => list(),
        Command::Run(args) => run(args),
        Command::Floors(args) => floors(args),
        Command::Report(args) => report_cmd(args),
        Command::Compare(args) => compare_cmd(args),
        Command::Soak(args) => crate::soak::run(args),
        Command::Role { spec } => role_main(&spec),
    };
    crate::interrupt::hold_if_interrupted();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Writes to stdout; a closed pipe (`ipcbench list | head`) is not an error.
pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

fn list() -> Result<()> {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "Transports:");
    for b in registry::BACKENDS {
        let caps = (b.capabilities)();
        let shared = match caps.shared_receivers {
            0 => String::new(),
            n => format!(", shared receivers: up to {n} (fanoutqN)"),
        };
        let _ = writeln!(
            o,
            "  {:<22} {} [wait: {}, zero-copy receive: {}, max message: {}{shared}]",
            b.name,
            b.description,
            caps.wait,
            if caps.zero_copy_recv { "yes" } else { "no" },
            sizes::human(caps.max_message_size as u64)
        );
    }
    let _ = writeln!(o, "\nCodecs (seed workload):");
    for c in codec::ALL {
        let _ = writeln!(o, "  {:<22} {}", c.name(), c.description());
    }
    let _ = writeln!(o, "\nWorkloads:");
    for w in workload::ALL {
        let _ = writeln!(o, "  {:<22} {}", w.name(), w.description());
    }
    let _ = writeln!(
        o,
        "\nPlacements:\n  {:<22} producer on core 0, consumer on core 1 (default)\n  {:<22} both on core 0\n  {:<22} not pinned",
        "split", "same", "none"
    );
    emit(&o)
}

fn parse_names<T>(given: &[String], parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for name in given.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        out.push(parse(name).map_err(Usage)?);
    }
    Ok(out)
}

fn parse_transports(given: &[String]) -> Result<Vec<&'static Backend>> {
    if given.is_empty() {
        return Ok(registry::BACKENDS.iter().collect());
    }
    parse_names(given, |n| {
        registry::find(n).ok_or_else(|| {
            format!(
                "unknown transport {n:?}; valid transports: {}",
                registry::names().join(", ")
            )
        })
    })
}

fn parse_placements(given: &[String]) -> Result<Vec<Placement>> {
    let cores = crate::env::online_cpus();
    let ps = parse_names(given, str::parse::<Placement>)?;
    if let Some(p) = ps.iter().find(|p| !p.supported(cores)) {
        bail!(Usage(format!(
            "placement {p} needs 2 cores; this machine has {cores}"
        )));
    }
    if ps.is_empty() {
        bail!(Usage(
            "no placement given; valid placements: split, same, none".into()
        ));
    }
    Ok(ps)
}

fn parse_sizes(given: Option<&str>) -> Result<Vec<u64>> {
    match given {
        None => Ok(sizes::default_sizes()),
        Some(text) => {
            sizes::parse_list(text, sizes::machine_max()).map_err(|e| Usage(e.to_string()).into())
        }
    }
}

/// The command as the results record it: the program as `ipcbench` and
/// paths relative to the working directory, so committed results name no
/// directory of the machine that measured them.
fn command_line() -> String {
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

fn run(args: RunArgs) -> Result<()> {
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

fn measure_floors(placements: &[Placement], sizes: &[u64]) -> Result<Vec<report::Floors>> {
    placements
        .iter()
        .map(|&p| crate::floors::measure(p, sizes, 50_000))
        .collect()
}

fn floors(args: FloorArgs) -> Result<()> {
    let placements = parse_placements(&args.placement)?;
    let sizes = parse_sizes(args.sizes.as_deref())?;
    let clock = crate::clock::overhead_ns();
    let floors = measure_floors(&placements, &sizes)?;
    let results = Results {
        schema_version: SCHEMA_VERSION,
        environment: crate::env::collect(command_line(), clock),
        config: RunConfig {
            placements: placements.iter().map(|p| p.name().to_owned()).collect(),
            ..RunConfig::default()
        },
        floors,
        cells: Vec::new(),
        targets: Vec::new(),
        transports: Vec::new(),
    };
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "clock read: {clock:.1} ns");
    for f in &results.floors {
        let show = |s: &Option<report::Summary>| {
            s.as_ref().map_or("n/a".to_owned(), |s| {
                format!("p50 {:.0} ns, p99 {:.0} ns", s.p50_ns, s.p99_ns)
            })
        };
        let _ = writeln!(
            o,
            "{}: cache-line round trip {}; raw pipe round trip {}",
            f.placement,
            show(&f.cacheline_rtt),
            show(&f.raw_pipe_rtt)
        );
    }
    if let Some(f) = results.floors.first() {
        for m in &f.memcpy {
            let _ = writeln!(
                o,
                "memcpy {:>10}: {:.0} ns ({:.2} GB/s)",
                sizes::human(m.size_bytes),
                m.p50_ns,
                m.bytes_per_s / 1e9
            );
        }
    }
    emit(&o)?;
    if let Some(path) = &args.json {
        write_json(path, &results)?;
    }
    Ok(())
}

fn print_summary(results: &Results) -> Result<()> {
    use std::fmt::Write;
    let mut o = String::new();
    for c in &results.cells {
        if c.metric == "throughput" {
            let _ = writeln!(
                o,
                "{:<14} {:<9} {:<8} {:<6} {:>10} {:<10} {:>12.0} msg/s {:>8.3} GB/s",
                c.transport,
                c.workload,
                c.codec,
                c.placement,
                sizes::human(c.size_bytes),
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
                "{:<14} {:<9} {:<8} {:<6} {:>10} {:<10} median {:>10.0} ns ({ci})  p99 {:>10.0} ns  mean {:>10.0} ns",
                c.transport,
                c.workload,
                c.codec,
                c.placement,
                sizes::human(c.size_bytes),
                c.metric,
                c.median(),
                c.summary.p99_ns,
                c.summary.mean_ns
            );
        } else {
            let _ = writeln!(
                o,
                "{:<14} {:<9} {:<8} {:<6} {:>10} {}",
                c.transport,
                c.workload,
                c.codec,
                c.placement,
                sizes::human(c.size_bytes),
                c.error.as_deref().unwrap_or("failed")
            );
        }
    }
    emit(&o)
}

/// Writes a file so that readers see either the old or the new content, never
/// a half-written one: a temporary file in the same directory, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

fn write_json(path: &Path, results: &Results) -> Result<()> {
    let json = serde_json::to_string_pretty(results).context("serialising results")?;
    write_atomic(path, json.as_bytes())
}

fn role_main(spec_json: &str) -> Result<()> {
    let spec: RoleSpec = serde_json::from_str(spec_json).context("malformed role specification")?;
    // The supervisor set PR_SET_PDEATHSIG before exec; if it died in between,
    // we were orphaned before the signal could be armed.
    if rustix::process::getppid().is_none_or(|p| p.as_raw_nonzero().get() == 1) {
        bail!("supervisor is gone");
    }
    if let Some(core) = spec.placement.core_for(spec.role) {
        placement::pin_current(core)?;
    }
    let backend = registry::find(&spec.transport)
        .with_context(|| format!("unknown transport {:?}", spec.transport))?;
    let mut ctl = Control;
    let out = (backend.run_role)(&spec, &mut ctl)?;
    ctl.result(&out)
}
