//! The results file: what one run measured, versioned, documented in
//! docs/results-schema.md. Measurement writes it; presentation only reads it.

use serde::{Deserialize, Serialize};

pub use crate::vocab::{Codec, Delivery, Metric, Placement, WaitStrategy, Workload};

/// Bumped whenever a field changes meaning or disappears; adding an optional
/// field does not bump it. Version 2: the mean's interval is a bootstrap
/// interval over trials (was Student t), and cells carry their trial medians,
/// the median of those with its own interval, and why trials stopped.
pub const SCHEMA_VERSION: u32 = 2;

/// Every version this code reads (`ipcbench compare` and the report accept
/// version 1 files; their cells simply lack the version-2 fields).
pub const READABLE_VERSIONS: std::ops::RangeInclusive<u32> = 1..=SCHEMA_VERSION;

/// One run of the tool.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Results {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Where and how the run happened.
    pub environment: Environment,
    /// The run's settings.
    pub config: RunConfig,
    /// Machine floors measured in the same run, one set per placement.
    #[serde(default)]
    pub floors: Vec<Floors>,
    /// One entry per (transport, codec, workload, placement, size, metric).
    pub cells: Vec<Cell>,
    /// The project's performance targets this run is checked against, as
    /// the harness declares them (it alone names backends).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// What the registry says of each transport in the run (files written
    /// before this field existed have none; every transport is then its own
    /// backend).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<TransportInfo>,
}

/// A transport as the registry declares it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TransportInfo {
    /// The name cells carry.
    pub name: String,
    /// The backend it is a variant of (`shm` for shm-spin); variants of one
    /// backend differ only in a knob such as the wait strategy.
    pub backend: String,
    /// One line on what it is.
    pub description: String,
    /// How a waiting receiver waits: `block`, `spin` or `adaptive`.
    pub wait: WaitStrategy,
    /// The largest message it accepts, in bytes.
    pub max_message_size: u64,
    /// Whether a receive lends shared memory instead of a private copy.
    pub zero_copy_recv: bool,
    /// The largest loan a sender may take, in bytes (`Capabilities::max_loan`;
    /// 0: it cannot loan). Files written before this field existed have none:
    /// [`Results::loans`] then goes by [`crate::loans::LOANING`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_loan: Option<u64>,
}

impl Results {
    /// The backend `transport` is a variant of: itself when the file does
    /// not say.
    pub fn backend_of<'a>(&'a self, transport: &'a str) -> &'a str {
        // A native broadcast or gather is its transport's backend too.
        let (transport, _) = crate::index::unlabel(transport);
        self.transports
            .iter()
            .find(|t| t.name == transport)
            .map_or(transport, |t| t.backend.as_str())
    }

    /// Whether `transport`'s producer can fill memory the transport lends
    /// (a loan) instead of copying into it: as the file records it
    /// ([`TransportInfo::max_loan`]), else as [`crate::loans::loans`] says.
    pub fn loans(&self, transport: &str) -> bool {
        match self
            .transports
            .iter()
            .find(|t| t.name == transport)
            .and_then(|t| t.max_loan)
        {
            Some(max) => max > 0,
            None => crate::loans::loans(transport),
        }
    }
}

/// A performance target: a figure of one cell held against a reference.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Target {
    /// The issue that set it.
    pub issue: u32,
    /// Transport whose cell is judged (Python cells: as the baseline names them).
    pub transport: String,
    /// Whether the cells (this one and any it is held against, but floors
    /// and `excess_over` references) are the Python baseline's.
    #[serde(default)]
    pub python: bool,
    /// Workload of the cell.
    pub workload: Workload,
    /// Placement of the cell.
    pub placement: Placement,
    /// Payload bytes of the cell (ignored by `beats_at_every_size`).
    pub size_bytes: u64,
    /// Metric of the cell.
    pub metric: Metric,
    /// What the figure is held against.
    pub against: Against,
    /// The largest allowed figure ÷ reference for times; the smallest allowed
    /// rate ÷ reference for rates.
    pub ratio: f64,
    /// What bounds the figure, for readers of a "not met".
    pub bound: String,
}

/// What a target's figure is held against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Against {
    /// The per-round-trip cache-line floor of the placement (median).
    CachelineFloor,
    /// The batch-timed cache-line floor of the placement.
    CachelineBatchFloor,
    /// The bare 8-byte pipe round trip floor of the placement (median).
    RawPipeFloor,
    /// The plain `shared_memory` + `raw_sync` example's round trip, timed
    /// per round trip in the same run (`Floors::plain_example`, median).
    PlainExample,
    /// One `memcpy` of the target's size.
    Memcpy,
    /// The same cell of another transport (time: figure ≤ ratio × its).
    Transport(String),
    /// A fixed time, nanoseconds.
    Nanoseconds(f64),
    /// A fixed payload rate, bytes per second (the figure must reach it).
    BytesPerSecond(f64),
    /// Another transport's throughput: the figure's rate ≥ ratio × its rate.
    RateOf(String),
    /// Another transport, at every size both ran: a verdict whose ratio
    /// interval excludes 1 in the target transport's favour.
    BeatsAtEverySize(String),
    /// The best rate any transport reached in this other workload (same
    /// placement, size and metric): the figure's rate ≥ ratio × it (the
    /// shared-queue fanout against the best one-channel-per-worker one).
    BestRateIn(Workload),
    /// The same cell of a (Rust) transport: the figure may exceed it by at
    /// most `ratio` nanoseconds (a binding's own cost).
    ExcessOver(String),
    /// The target transport's own cell at this other size (time: figure ≤
    /// ratio × its): a hand-over that does not grow with the size.
    SameTransportAt(u64),
    /// The in-place workloads' fill + verify floor at the target's size
    /// (`Floors::fill_verify`, the slower of the two): the figure's rate ≥
    /// ratio × the floor's.
    FillVerifyFloor,
    /// Another transport, at every size both ran: no verdict decisively in
    /// the other's favour (the target transport ahead or tied).
    NotBehindAtEverySize(String),
    /// The target transport's own cell (its label's transport: a native
    /// broadcast's own variant) in another workload, that workload's primary
    /// metric at the same placement and size: time, figure ≤ ratio × it.
    OwnIn(Workload),
    /// The Python baseline's same cell (workload, placement, size, metric)
    /// of this queue, for a Rust target: the figure's rate ≥ ratio × its.
    PythonRateOf(String),
}

/// The machine and the invocation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    /// The tool and its version.
    pub tool: String,
    /// CPU model name from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs online.
    pub cores: usize,
    /// `uname -r`.
    pub kernel: String,
    /// `rustc --version` of the compiler that built the tool.
    pub rustc: String,
    /// Commit of the source tree, with `-dirty` if it had local changes.
    pub git_commit: String,
    /// UTC start time, RFC 3339.
    pub date: String,
    /// The exact command line.
    pub command_line: String,
    /// Hypervisor or container, where detectable.
    #[serde(default)]
    pub virtualization: String,
    /// CPU frequency governor, where readable.
    #[serde(default)]
    pub governor: String,
    /// Cost of one `CLOCK_MONOTONIC` read, nanoseconds (median).
    pub clock_overhead_ns: f64,
    /// Other facts worth keeping with the numbers (Python version, malloc
    /// settings, ...), as free-form key/value pairs.
    #[serde(default)]
    pub extra: Vec<(String, String)>,
    /// The CPUs `split` and `same` pinned to and how they are related
    /// (absent in files written before the topology was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_cpus: Option<PlacementCpus>,
}

/// The CPUs the placements stand for on the machine, from its topology.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlacementCpus {
    /// The producer's and the consumer's CPU under `split`.
    pub split: [usize; 2],
    /// How those two CPUs are related (`smt`, `llc`, `cross-llc`,
    /// `cross-numa`), absent when the topology could not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_relation: Option<String>,
    /// The CPU every process of `same` runs on.
    pub same: usize,
    /// Why the topology was not used (then `split` is CPUs 0/1 and `same`
    /// CPU 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl PlacementCpus {
    /// `split = llc (CPUs 0/1)`, or `split = CPUs 0/1` without a relation.
    pub fn describe_split(&self) -> String {
        let [a, b] = self.split;
        match &self.split_relation {
            Some(r) => format!("split = {r} (CPUs {a}/{b})"),
            None => format!("split = CPUs {a}/{b}"),
        }
    }
}

/// The run's settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    /// Independent trials per cell (fresh processes each).
    pub trials: usize,
    /// Measured messages per trial and size.
    pub messages: usize,
    /// Warm-up per trial and size before measuring, milliseconds.
    pub warmup_ms: u64,
    /// Placements in the run.
    pub placements: Vec<Placement>,
    /// Trials of the cells that are not headline cells (other codecs and
    /// placements), where fewer were run; absent when every cell got `trials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_trials: Option<usize>,
    /// How every interval in the file was computed, in words.
    #[serde(default)]
    pub interval_method: String,
}

/// A summary of a latency distribution, nanoseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Samples.
    pub n: u64,
    /// Mean.
    pub mean_ns: f64,
    /// Standard deviation of the samples.
    pub sd_ns: f64,
    /// 95% confidence interval of the mean: percentile bootstrap over the
    /// independent trial means (version 1 files: Student t); absent with fewer
    /// trials than an interval needs.
    pub ci95_low_ns: Option<f64>,
    /// Upper end of that interval.
    pub ci95_high_ns: Option<f64>,
    /// Median.
    pub p50_ns: f64,
    /// 90th percentile.
    pub p90_ns: f64,
    /// 99th percentile.
    pub p99_ns: f64,
    /// 99.9th percentile.
    pub p999_ns: f64,
    /// Smallest sample.
    pub min_ns: f64,
    /// Largest sample.
    pub max_ns: f64,
    /// Samples outside Tukey's fences (1.5 IQR), counted, never dropped.
    pub outliers: u64,
}

/// Floors for one placement.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Floors {
    /// `split`, `same` or `none`.
    pub placement: Placement,
    /// Round trip of one cache line between two processes spinning on it;
    /// absent where spinning is meaningless (both on one core).
    pub cacheline_rtt: Option<Summary>,
    /// Round trip of a bare 8-byte `write`/`read` over two pipes.
    pub raw_pipe_rtt: Option<Summary>,
    /// The cache-line round trip batch-timed: median over several batches of
    /// (elapsed time / round trips), with no clock read inside a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacheline_rtt_batch_ns: Option<f64>,
    /// The raw pipe round trip batch-timed, as `cacheline_rtt_batch_ns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_pipe_rtt_batch_ns: Option<f64>,
    /// `memcpy` time and bandwidth per size (placement-independent; repeated
    /// for convenience).
    #[serde(default)]
    pub memcpy: Vec<MemcpyFloor>,
    /// Every cache-line probe shape measured, measured or not. Where there
    /// are any, `cacheline_rtt` is the probe with the lowest per-round-trip
    /// p50 and `cacheline_rtt_batch_ns` the lowest batch-timed figure
    /// ([`cheapest_probes`]), each named below.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeFloor>,
    /// The probe `cacheline_rtt` comes from ([`ProbeFloor::label`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacheline_shape: Option<String>,
    /// The probe `cacheline_rtt_batch_ns` comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacheline_batch_shape: Option<String>,
    /// The plain example the shm-crate backend is held against: an 8-byte
    /// request/response over a `shared_memory` segment with one `raw_sync`
    /// busy event per direction and nothing else, timed as the probes are
    /// (shape `shm-crate-plain`, no `pause`: raw_sync's wait loop has
    /// none). Not a floor: it is never a candidate for the cheapest probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_example: Option<ProbeFloor>,
    /// The core-to-core map (`split` floors only): the cheapest probe
    /// shape between pairs of CPUs; absent where it was not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_map: Option<crate::cpu_map::CpuMap>,
    /// The in-place workloads' floor per size: producing a message in place
    /// and checking every byte of it, each timed alone in one process
    /// (placement-independent, repeated for convenience, as `memcpy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fill_verify: Vec<FillVerifyFloor>,
}

/// One cache-line round-trip probe: where ping and pong live, how the wait
/// loop polls, and both timings, or why it was not measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProbeFloor {
    /// `one-word`, `one-line`, `adjacent-lines` or `far-lines`.
    pub shape: String,
    /// Whether each poll is followed by `pause` (`core::hint::spin_loop`).
    pub pause: bool,
    /// Timed per round trip, between two clock reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_rtt: Option<Summary>,
    /// Nanoseconds per round trip of the median batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_ns: Option<f64>,
    /// Why the probe was not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
}

impl ProbeFloor {
    /// How reports name the probe: its shape and whether it pauses.
    pub fn label(&self) -> String {
        format!(
            "{}, {}",
            self.shape,
            if self.pause { "pause" } else { "no pause" }
        )
    }
}

/// The floor of each timing method, each with the label of the probe it
/// comes from; `None` where no probe was measured that way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheapestProbes {
    /// The probe with the lowest per-round-trip p50.
    pub per_rtt: Option<(String, Summary)>,
    /// The probe with the lowest batch-timed round trip.
    pub batch: Option<(String, f64)>,
}

/// The cheapest probe of each timing method.
pub fn cheapest_probes(probes: &[ProbeFloor]) -> CheapestProbes {
    let per_rtt = probes
        .iter()
        .filter_map(|p| p.per_rtt.as_ref().map(|s| (p, s)))
        .min_by(|a, b| a.1.p50_ns.total_cmp(&b.1.p50_ns))
        .map(|(p, s)| (p.label(), s.clone()));
    let batch = probes
        .iter()
        .filter_map(|p| p.batch_ns.map(|b| (p, b)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, b)| (p.label(), b));
    CheapestProbes { per_rtt, batch }
}

/// The fill + verify floor at one size: what producing a message in place
/// and reading every byte of it cost in one process, without a transport.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FillVerifyFloor {
    /// Payload bytes (the array, as every cell's size).
    pub size_bytes: u64,
    /// Median time to produce one message in place.
    pub fill_ns: f64,
    /// Median time to check one message where it lies.
    pub verify_ns: f64,
}

impl FillVerifyFloor {
    /// The floor of a stream, where fill and verify run in parallel on two
    /// cores: the slower of the two, nanoseconds per message.
    pub fn floor_ns(&self) -> f64 {
        self.fill_ns.max(self.verify_ns)
    }
}

/// One memcpy measurement.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MemcpyFloor {
    /// Bytes copied.
    pub size_bytes: u64,
    /// Median time of one copy.
    pub p50_ns: f64,
    /// `size_bytes / p50_ns`, in bytes per second.
    pub bytes_per_s: f64,
}

/// Whether a cell produced numbers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every message arrived and verified.
    #[default]
    Ok,
    /// The cell failed; `error` says why and the numbers are absent.
    Failed,
}

/// One measured quantity for one configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    /// Backend name.
    pub transport: String,
    /// The codec (`raw` where the workload does not use codecs).
    pub codec: Codec,
    /// `seed`, `pingpong`, `stream`, `fanout4`, ...
    pub workload: Workload,
    /// `split`, `same` or `none`.
    pub placement: Placement,
    /// Payload (int64 array) bytes per message; headers not included.
    pub size_bytes: u64,
    /// What was measured: `put`, `get`, `total`, `encode`, `decode`, `rtt`,
    /// `oneway`, `throughput`, ... (empty for a cell not run).
    pub metric: Metric,
    /// Ok or failed.
    #[serde(default)]
    pub status: Status,
    /// Why the cell failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Independent trials that contributed.
    pub trials: usize,
    /// The distribution (for `throughput`, of nanoseconds per message).
    #[serde(flatten)]
    pub summary: Summary,
    /// Per-trial means, for comparisons between runs.
    #[serde(default)]
    pub trial_means_ns: Vec<f64>,
    /// Per-trial medians (throughput cells: each trial's ns per message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trial_medians_ns: Vec<f64>,
    /// The headline statistic: the median of `trial_medians_ns` (0 in
    /// version 1 files; use [`Cell::median`]).
    #[serde(default)]
    pub median_ns: f64,
    /// 95% percentile-bootstrap interval of `median_ns` over trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ci_low_ns: Option<f64>,
    /// Upper end of that interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ci_high_ns: Option<f64>,
    /// The cell's latency distribution as (quantile, ns) pairs over all its
    /// messages, for distribution curves; empty for throughput cells.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percentiles: Vec<(f64, f64)>,
    /// Why no more trials were run for this cell (`planned`, `precision`,
    /// `trial cap`, `time cap`), or absent in version 1 files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Messages per second (throughput metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgs_per_s: Option<f64>,
    /// Payload bytes per second (throughput metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_s: Option<f64>,
    /// Producer CPU time (user + system) per message, nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_producer_ns: Option<f64>,
    /// Consumer CPU time (user + system) per message, nanoseconds; for a
    /// fanout workload, all workers' CPU time over all tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_consumer_ns: Option<f64>,
    /// Fanout workloads: the number of worker processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Broadcast and gather workloads: whether the messages went through
    /// the transport's own one-to-many or many-to-one capability (`native`)
    /// or over one connection per worker (`point-to-point`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::vocab::Delivery>,
    /// In-place workloads (`handover`, `inplace-stream`): whether the
    /// producer wrote every measured message into a loan of the transport's
    /// memory and published it without a copy (`true`), or into its own
    /// buffer followed by `send` (`false`). Absent for other workloads and
    /// in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaned: Option<bool>,
    /// Paced workloads: the rate the producer was asked to send at, messages
    /// per second (mean over trials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_msgs_per_s: Option<f64>,
    /// Why this cell deviates from the run's settings (for example, fewer
    /// messages for a busy-waiting backend sharing a core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Cell {
    /// The headline statistic: the median of the trial medians, or the
    /// pooled median for files that predate it.
    pub fn median(&self) -> f64 {
        if self.median_ns > 0.0 {
            self.median_ns
        } else {
            self.summary.p50_ns
        }
    }

    /// The per-trial values the median's interval and the verdicts resample:
    /// trial medians, or trial means for files that predate them.
    pub fn trial_values(&self) -> &[f64] {
        if self.trial_medians_ns.is_empty() {
            &self.trial_means_ns
        } else {
            &self.trial_medians_ns
        }
    }

    /// The 95% interval of [`Cell::median`], if the cell has one.
    pub fn median_ci(&self) -> Option<(f64, f64)> {
        self.median_ci_low_ns.zip(self.median_ci_high_ns)
    }

    /// The cell's identity, for matching cells between runs.
    pub fn key(&self) -> CellKey {
        CellKey {
            // A native broadcast or gather is its own cell beside the
            // transport's point-to-point one: keyed by its label.
            transport: crate::index::label(self).into_owned(),
            codec: self.codec,
            workload: self.workload,
            placement: self.placement,
            size_bytes: self.size_bytes,
            metric: self.metric,
        }
    }
}

/// A cell's identity. Ordered by the names as files spell them (so a
/// comparison lists cells as it always has, `fanout1` before `pingpong`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellKey {
    /// Transport.
    pub transport: String,
    /// Codec.
    pub codec: Codec,
    /// Workload.
    pub workload: Workload,
    /// Placement.
    pub placement: Placement,
    /// Payload bytes.
    pub size_bytes: u64,
    /// Metric.
    pub metric: Metric,
}

impl Ord for CellKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        let names = |k: &Self| {
            (
                k.transport.clone(),
                k.codec.name(),
                k.workload.to_string(),
                k.placement.name(),
                k.size_bytes,
                k.metric.name(),
            )
        };
        names(self).cmp(&names(o))
    }
}

impl PartialOrd for CellKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
