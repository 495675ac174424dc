//! The run's vocabulary: workloads, placements, metrics, codecs, wait
//! strategies and bench-all's presets, typed once for the harness, the report and the results
//! files. Each is written in files
//! (and typed on command lines) as the same strings as ever (`fanout4`,
//! `split`, `rtt_batch`), through `Display` and `FromStr`; an unknown string
//! is an error naming it and the valid forms. The derived order is the
//! reading order of the report.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most worker processes a fanout workload may start.
pub const MAX_WORKERS: u16 = 64;

/// A workload (the default only serves struct-update syntax).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// The notebook's measurement: lockstep put/get across processes.
    #[default]
    Seed,
    /// Round trip of an echoed message.
    Pingpong,
    /// Producer floods, consumer measures throughput.
    Stream,
    /// One producer hands tasks to this many worker processes, one channel
    /// per worker, one task in flight per worker.
    Fanout(u16),
    /// One producer puts tasks on one shared queue that this many worker
    /// processes pull from (as Python's workers do), as many tasks in flight
    /// as workers. Only transports with shared receivers run it.
    FanoutQ(u16),
    /// One publisher, this many subscriber processes, each receiving every
    /// message: the round trip to the last subscriber's acknowledgement in
    /// lockstep, and the slowest subscriber's rate under flood.
    Bcast(u16),
    /// This many producer processes into one consumer: the consumer's rate
    /// under flood with every producer's order checked, and the latency with
    /// one message in flight per producer.
    Gather(u16),
    /// Open loop: the producer sends at this percentage of the stream rate
    /// measured for the same transport, placement and size in the same trial.
    Paced(u8),
    /// Lockstep hand-over of a message the producer produces in place (in
    /// a loan where the transport lends, else its own buffer and `send`):
    /// filling before the clock, the clock stopping when the consumer holds
    /// a readable view, verification off the clock, a small acknowledgement
    /// (sequence number and checksum) back. Python queues' hand-over cells
    /// carry this workload too (metric `latency`).
    Handover,
    /// Produce in place, hand over and verify under flood: throughput.
    InplaceStream,
}

/// The valid workload names, for errors.
pub const WORKLOAD_FORMS: &str = "seed, pingpong, stream, fanout (= fanout1,fanout2,fanout4), \
fanoutN (N workers, 1..=64), fanoutq (= fanoutq1,fanoutq2,fanoutq4), fanoutqN (N workers sharing \
one queue, 1..=64), bcast (= bcast2,bcast4), bcastN (N subscribers each receiving every \
message, 1..=64), gather (= gather2,gather4), gatherN (N producers into one consumer, 1..=64), \
paced (= paced50,paced80), pacedP (P% of the stream rate, 1..=100), handover, inplace-stream";

impl Workload {
    /// The name users type and results carry: `seed`, `fanout4`, `paced80`.
    pub fn name(self) -> String {
        self.to_string()
    }

    /// One line for `ipcbench list`.
    pub fn description(self) -> String {
        let plural = |n: u16, s: &'static str| if n == 1 { "" } else { s };
        match self {
            Self::Seed => {
                "the notebook's put/get, lockstep across processes: put, get, total, encode, decode"
                    .to_owned()
            }
            Self::Pingpong => "round trip of a message echoed by the consumer: rtt".to_owned(),
            Self::Stream => {
                "producer floods: throughput, and one-way latency under saturation (queueing time)"
                    .to_owned()
            }
            Self::Fanout(n) => format!(
                "one producer, {n} worker process{}, one task in flight per worker: throughput (tasks/s), latency",
                plural(n, "es")
            ),
            Self::FanoutQ(n) => format!(
                "one producer, {n} worker process{} pulling from one shared queue, {n} task{} in flight: throughput (tasks/s), latency",
                plural(n, "es"),
                plural(n, "s")
            ),
            Self::Bcast(n) => format!(
                "one publisher, {n} subscriber process{}, each receiving every message: round trip to the last acknowledgement (rtt), slowest subscriber's rate (throughput)",
                plural(n, "es")
            ),
            Self::Gather(n) => format!(
                "{n} producer process{} into one consumer, each producer's order checked: throughput under flood, latency with one message in flight per producer",
                plural(n, "es")
            ),
            Self::Paced(p) => format!(
                "open loop at {p}% of the same cell's stream rate: latency from the intended send time"
            ),
            Self::Handover => {
                "lockstep hand-over of a message produced in place (a loan where the \
                transport lends): latency to the consumer holding it, put"
                    .to_owned()
            }
            Self::InplaceStream => {
                "produce in place, hand over and verify every byte under flood: throughput"
                    .to_owned()
            }
        }
    }

    /// Whether the workload uses the codec setting (others always use `raw`).
    pub fn uses_codec(self) -> bool {
        self == Self::Seed
    }

    /// Consumer processes the workload runs: its workers (a broadcast's
    /// subscribers, a gather's producers), else one.
    pub fn consumers(self) -> usize {
        match self {
            Self::Fanout(n) | Self::FanoutQ(n) | Self::Bcast(n) | Self::Gather(n) => usize::from(n),
            _ => 1,
        }
    }

    /// The family name the command line groups parameters by (`fanout` for
    /// every `fanoutN`, `fanoutq` for every `fanoutqN`, `paced` for every
    /// `pacedP`).
    pub fn family(self) -> &'static str {
        match self {
            Self::Seed => "seed",
            Self::Pingpong => "pingpong",
            Self::Stream => "stream",
            Self::Fanout(_) => "fanout",
            Self::FanoutQ(_) => "fanoutq",
            Self::Bcast(_) => "bcast",
            Self::Gather(_) => "gather",
            Self::Paced(_) => "paced",
            Self::Handover => "handover",
            Self::InplaceStream => "inplace-stream",
        }
    }

    /// The workload's parameter: workers of a fanout, subscribers of a
    /// broadcast, producers of a gather, percent of a paced load.
    pub fn parameter(self) -> Option<u16> {
        match self {
            Self::Fanout(n) | Self::FanoutQ(n) | Self::Bcast(n) | Self::Gather(n) => Some(n),
            Self::Paced(p) => Some(u16::from(p)),
            _ => None,
        }
    }

    /// Whether this is a fanout workload (either mode: workers, tasks,
    /// acknowledgements).
    pub fn is_fanout(self) -> bool {
        matches!(self, Self::Fanout(_) | Self::FanoutQ(_))
    }

    /// Whether one hub process (core 0) works with N worker processes (core
    /// 1): fanout, broadcast and gather. The hub is the `producer` role
    /// process (a gather's consumer: it still connects to every worker).
    pub fn has_workers(self) -> bool {
        matches!(
            self,
            Self::Fanout(_) | Self::FanoutQ(_) | Self::Bcast(_) | Self::Gather(_)
        )
    }

    /// Whether this is one of the patterns: a broadcast to N subscribers or
    /// N producers gathered into one consumer.
    pub fn is_pattern(self) -> bool {
        matches!(self, Self::Bcast(_) | Self::Gather(_))
    }

    /// Whether the workers share one queue (`fanoutqN`): the producer then
    /// listens on one endpoint and every worker connects to it, instead of
    /// each worker listening on its own.
    pub fn shared_queue(self) -> bool {
        matches!(self, Self::FanoutQ(_))
    }

    /// For paced workloads, the fraction of the stream rate to send at.
    pub fn load(self) -> Option<f64> {
        match self {
            Self::Paced(p) => Some(f64::from(p) / 100.0),
            _ => None,
        }
    }

    /// The metric a workload's answer is judged on.
    pub fn primary_metric(self) -> Metric {
        match self {
            Self::Seed => Metric::Total,
            Self::Pingpong | Self::Bcast(_) => Metric::Rtt,
            Self::Stream
            | Self::Fanout(_)
            | Self::FanoutQ(_)
            | Self::Gather(_)
            | Self::InplaceStream => Metric::Throughput,
            Self::Paced(_) | Self::Handover => Metric::Latency,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seed | Self::Pingpong | Self::Stream | Self::Handover | Self::InplaceStream => {
                f.write_str(self.family())
            }
            Self::Fanout(n) => write!(f, "fanout{n}"),
            Self::FanoutQ(n) => write!(f, "fanoutq{n}"),
            Self::Bcast(n) => write!(f, "bcast{n}"),
            Self::Gather(n) => write!(f, "gather{n}"),
            Self::Paced(p) => write!(f, "paced{p}"),
        }
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("unknown workload {s:?}; valid workloads: {WORKLOAD_FORMS}");
        // Digits only: `str::parse` would also take `+2`.
        let param = |prefix: &str| {
            s.strip_prefix(prefix)
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        let workers = |n: &str| {
            n.parse::<u16>()
                .ok()
                .filter(|n| (1..=MAX_WORKERS).contains(n))
        };
        match s {
            "seed" => Ok(Self::Seed),
            "pingpong" => Ok(Self::Pingpong),
            "stream" => Ok(Self::Stream),
            "handover" => Ok(Self::Handover),
            "inplace-stream" => Ok(Self::InplaceStream),
            // `fanoutq` first: `fanout` is its prefix.
            _ => if let Some(n) = param("fanoutq") {
                workers(n).map(Self::FanoutQ)
            } else if let Some(n) = param("fanout") {
                workers(n).map(Self::Fanout)
            } else if let Some(n) = param("bcast") {
                workers(n).map(Self::Bcast)
            } else if let Some(n) = param("gather") {
                workers(n).map(Self::Gather)
            } else if let Some(p) = param("paced") {
                p.parse::<u8>()
                    .ok()
                    .filter(|p| (1..=100).contains(p))
                    .map(Self::Paced)
            } else {
                None
            }
            .ok_or_else(bad),
        }
    }
}

/// How a broadcast or gather cell's messages travelled: through the
/// transport's own one-to-many (broadcast) or many-to-one (one shared queue)
/// capability, or over one point-to-point connection per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Delivery {
    /// The transport's own broadcast, or one queue shared by every producer.
    Native,
    /// One connection per subscriber or producer, the hub holding all.
    PointToPoint,
}

impl Delivery {
    /// The name results carry.
    pub fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::PointToPoint => "point-to-point",
        }
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Delivery {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Self::Native, Self::PointToPoint]
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                format!("unknown delivery {s:?}; valid deliveries: native, point-to-point")
            })
    }
}

/// A placement of the two processes on CPU cores (the default only serves
/// struct-update syntax).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placement {
    /// Producer on core 0, consumer on core 1.
    #[default]
    Split,
    /// Both on core 0.
    Same,
    /// Not pinned.
    None,
}

/// Every placement, in report order.
pub const PLACEMENTS: [Placement; 3] = [Placement::Split, Placement::Same, Placement::None];

impl Placement {
    /// The name users type and results carry.
    pub fn name(self) -> &'static str {
        match self {
            Self::Split => "split",
            Self::Same => "same",
            Self::None => "none",
        }
    }

    /// Whether a machine with this many cores has the cores the placement
    /// needs.
    pub fn supported(self, cores: usize) -> bool {
        match self {
            Self::Split => cores >= 2,
            Self::Same | Self::None => cores >= 1,
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Placement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PLACEMENTS
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown placement {s:?}; valid placements: split, same, none"))
    }
}

/// What a cell measured. Declared in the report's reading order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Seed: put + get.
    Total,
    /// Seed: the send call.
    Put,
    /// Seed: from the send's return to the consumer holding the payload.
    Get,
    /// Seed: serialising the payload.
    Encode,
    /// Seed: deserialising it.
    Decode,
    /// Pingpong: round trip of an echoed message, timed one by one.
    Rtt,
    /// Stream and fanout: messages (tasks) per second.
    Throughput,
    /// Fanout and paced: send to receipt.
    Latency,
    /// Stream: one-way latency under saturation.
    Oneway,
    /// A cell that was not run (a size above the transport's maximum)
    /// measured nothing: its metric is written as the empty string.
    #[default]
    NotRun,
    /// Pingpong: the round trip batch-timed (no clock read inside a batch).
    RttBatch,
}

/// Every metric, in reading order.
pub const METRICS: [Metric; 11] = [
    Metric::Total,
    Metric::Put,
    Metric::Get,
    Metric::Encode,
    Metric::Decode,
    Metric::Rtt,
    Metric::Throughput,
    Metric::Latency,
    Metric::Oneway,
    Metric::NotRun,
    Metric::RttBatch,
];

impl Metric {
    /// The name results carry.
    pub fn name(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::Put => "put",
            Self::Get => "get",
            Self::Encode => "encode",
            Self::Decode => "decode",
            Self::Rtt => "rtt",
            Self::Throughput => "throughput",
            Self::Latency => "latency",
            Self::Oneway => "oneway",
            Self::NotRun => "",
            Self::RttBatch => "rtt_batch",
        }
    }

    /// Whether higher values are better for a figure derived from this
    /// metric's rate (throughput); the summary itself is always time.
    pub fn is_throughput(self) -> bool {
        self == Self::Throughput
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        METRICS.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            format!(
                "unknown metric {s:?}; valid metrics: total, put, get, encode, decode, rtt, \
                 rtt_batch, throughput, latency, oneway (or empty for a cell not run)"
            )
        })
    }
}

/// A cell's codec: how the payload was encoded on the wire (`raw` where
/// the workload does not use codecs; `pickle` for the Python queues).
/// Declared cheapest first, which is the order the report lists them in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// The int64 array's bytes behind a fixed header, no encoding step.
    #[default]
    Raw,
    /// serde + bincode 2.
    Bincode,
    /// serde + MessagePack (rmp-serde).
    Msgpack,
    /// Python's pickle (the Python queues).
    Pickle,
}

/// Every codec, cheapest first.
pub const CODECS: [Codec; 4] = [Codec::Raw, Codec::Bincode, Codec::Msgpack, Codec::Pickle];

impl Codec {
    /// The name results carry and users type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Bincode => "bincode",
            Self::Msgpack => "msgpack",
            Self::Pickle => "pickle",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Codec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CODECS.into_iter().find(|c| c.name() == s).ok_or_else(|| {
            format!("unknown codec {s:?}; valid codecs: raw, bincode, msgpack, pickle")
        })
    }
}

/// How a transport's waiting receiver waits, as the registry declares it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WaitStrategy {
    /// Sleeps in the kernel until a message arrives.
    #[default]
    Block,
    /// Busy-waits on shared memory.
    Spin,
    /// Spins briefly, then sleeps.
    Adaptive,
}

/// Every wait strategy.
pub const WAIT_STRATEGIES: [WaitStrategy; 3] = [
    WaitStrategy::Block,
    WaitStrategy::Spin,
    WaitStrategy::Adaptive,
];

impl WaitStrategy {
    /// The name results carry.
    pub fn name(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Spin => "spin",
            Self::Adaptive => "adaptive",
        }
    }
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WaitStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WAIT_STRATEGIES
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| {
                format!("unknown wait strategy {s:?}; valid wait strategies: block, spin, adaptive")
            })
    }
}

/// One of bench-all's matrices (`ipcbench run --preset NAME`, `cargo xtask
/// bench-all [--quick|--full]`). What each runs, the Rust passes and the
/// Python baseline's arguments alike, is [`crate::preset`]'s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Preset {
    /// Ten trials of every headline cell (split, raw), every workload but
    /// paced; plus pingpong with both processes on one core.
    #[default]
    Default,
    /// A low-precision smoke run: 4 sizes, 3 trials, 100 messages.
    Quick,
    /// Every placement, codec and workload (paced included).
    Full,
}

/// Every preset, in the order docs/methodology.md lists them.
pub const PRESETS: [Preset; 3] = [Preset::Default, Preset::Quick, Preset::Full];

impl Preset {
    /// The name `--preset` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }

    /// How bench-all's flags name the matrix (`default`, `--quick`,
    /// `--full`), as the recorded wall time says it.
    pub fn bench_all_mode(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Quick => "--quick",
            Self::Full => "--full",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PRESETS
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown preset {s:?}; valid presets: default, quick, full"))
    }
}

/// Serde through `Display` and `FromStr`: files carry the names.
macro_rules! serde_as_name {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
serde_as_name!(
    Workload,
    Placement,
    Metric,
    Delivery,
    Codec,
    WaitStrategy,
    Preset
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_strings_and_json() {
        let workloads = [
            Workload::Seed,
            Workload::Pingpong,
            Workload::Stream,
            Workload::Fanout(1),
            Workload::Fanout(64),
            Workload::FanoutQ(4),
            Workload::Bcast(2),
            Workload::Gather(64),
            Workload::Paced(50),
            Workload::Paced(100),
            Workload::Handover,
            Workload::InplaceStream,
        ];
        for w in workloads {
            assert_eq!(w.to_string().parse::<Workload>(), Ok(w));
            let json = serde_json::to_string(&w).expect("serialise");
            assert_eq!(json, format!("\"{w}\""));
            assert_eq!(serde_json::from_str::<Workload>(&json).expect("parse"), w);
        }
        assert_eq!(Workload::FanoutQ(4).to_string(), "fanoutq4");
        assert_eq!(Workload::Paced(80).to_string(), "paced80");
        assert_eq!(Workload::Bcast(4).to_string(), "bcast4");
        assert_eq!(Workload::Gather(8).to_string(), "gather8");
        for d in [Delivery::Native, Delivery::PointToPoint] {
            let json = serde_json::to_string(&d).expect("serialise");
            assert_eq!(serde_json::from_str::<Delivery>(&json).expect("parse"), d);
        }
        assert_eq!(Delivery::PointToPoint.to_string(), "point-to-point");
        assert_eq!(Workload::InplaceStream.to_string(), "inplace-stream");
        for p in PLACEMENTS {
            assert_eq!(p.to_string().parse::<Placement>(), Ok(p));
            let json = serde_json::to_string(&p).expect("serialise");
            assert_eq!(serde_json::from_str::<Placement>(&json).expect("parse"), p);
        }
        for m in METRICS {
            assert_eq!(m.to_string().parse::<Metric>(), Ok(m));
            let json = serde_json::to_string(&m).expect("serialise");
            assert_eq!(serde_json::from_str::<Metric>(&json).expect("parse"), m);
        }
        assert_eq!(Metric::RttBatch.to_string(), "rtt_batch");
        assert_eq!(Metric::NotRun.to_string(), "");
        for c in CODECS {
            let json = serde_json::to_string(&c).expect("serialise");
            assert_eq!(json, format!("\"{c}\""));
            assert_eq!(serde_json::from_str::<Codec>(&json).expect("parse"), c);
        }
        for w in WAIT_STRATEGIES {
            let json = serde_json::to_string(&w).expect("serialise");
            assert_eq!(
                serde_json::from_str::<WaitStrategy>(&json).expect("parse"),
                w
            );
        }
        for p in PRESETS {
            assert_eq!(p.to_string().parse::<Preset>(), Ok(p));
            let json = serde_json::to_string(&p).expect("serialise");
            assert_eq!(json, format!("\"{p}\""));
            assert_eq!(serde_json::from_str::<Preset>(&json).expect("parse"), p);
        }
        let e = "fast".parse::<Preset>().expect_err("fast");
        assert!(
            e.contains("\"fast\"") && e.contains("default, quick, full"),
            "{e}"
        );
        let e = "json".parse::<Codec>().expect_err("json");
        assert!(
            e.contains("\"json\"") && e.contains("raw, bincode, msgpack, pickle"),
            "{e}"
        );
        let e = "poll".parse::<WaitStrategy>().expect_err("poll");
        assert!(
            e.contains("\"poll\"") && e.contains("block, spin, adaptive"),
            "{e}"
        );
        let mut c = CODECS.to_vec();
        c.reverse();
        c.sort();
        assert_eq!(c, CODECS, "cheapest first");
    }

    #[test]
    fn unknown_names_are_refused_naming_them_and_the_valid_forms() {
        for bad in [
            "flood",
            "fanout0",
            "fanout65",
            "fanout",
            "paced0",
            "paced101",
            "fanout+2",
            "fanoutq",
            "fanoutq0",
            "fanoutq65",
            "fanoutqq2",
            "bcast",
            "bcast0",
            "bcast65",
            "gather",
            "gather0",
            "gatherq2",
            "Seed",
            "hand-over",
            "inplace_stream",
        ] {
            let e = bad.parse::<Workload>().expect_err(bad);
            assert!(
                e.contains(&format!("{bad:?}"))
                    && e.contains("seed, pingpong, stream")
                    && e.contains("inplace-stream"),
                "{e}"
            );
        }
        let e = "both".parse::<Placement>().expect_err("both");
        assert!(
            e.contains("\"both\"") && e.contains("split, same, none"),
            "{e}"
        );
        let e = "rtt2".parse::<Metric>().expect_err("rtt2");
        assert!(e.contains("\"rtt2\"") && e.contains("rtt_batch"), "{e}");
        let e = serde_json::from_str::<Metric>("\"jitter\"").expect_err("jitter");
        assert!(e.to_string().contains("\"jitter\""), "{e}");
    }

    #[test]
    fn the_derived_order_is_the_reading_order() {
        let mut w = [
            Workload::Paced(80),
            Workload::Fanout(4),
            Workload::FanoutQ(1),
            Workload::Fanout(16),
            Workload::Seed,
            Workload::Paced(50),
            Workload::Stream,
            Workload::Fanout(2),
            Workload::Gather(2),
            Workload::Bcast(4),
        ];
        w.sort();
        let names: Vec<String> = w.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "seed", "stream", "fanout2", "fanout4", "fanout16", "fanoutq1", "bcast4",
                "gather2", "paced50", "paced80"
            ]
        );
        let mut m = METRICS.to_vec();
        m.reverse();
        m.sort();
        assert_eq!(m, METRICS);
    }
}
