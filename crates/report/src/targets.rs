//! The project's performance targets, checked against a run's own cells and
//! floors: each shown as met, not met (with the measured ratio), or not
//! measured in this run, never silently dropped. The targets are data
//! ([`TARGETS`]), evaluated by one function, so adding one is one entry.

use crate::format::{fmt_bytes, fmt_multiple, fmt_rate, fmt_time};
use crate::schema::{Cell, Floors, Results, Status};
use crate::table::{Align, Table};

/// What a target's figure is held against.
#[derive(Debug, Clone, Copy)]
enum Against {
    /// The cache-line round trip floor of the target's placement (p50).
    CachelineFloor,
    /// The bare 8-byte pipe round trip floor of the target's placement (p50).
    RawPipeFloor,
    /// One `memcpy` of the target's size.
    Memcpy,
    /// Another transport's cell of the same workload, placement, size and metric.
    Transport(&'static str),
    /// A fixed time, nanoseconds.
    Nanoseconds(f64),
    /// A fixed payload rate, bytes per second (the figure must reach it).
    BytesPerSecond(f64),
}

/// One target: the p50 of one cell against a floor, a transport or a number.
#[derive(Debug, Clone, Copy)]
struct Target {
    transport: &'static str,
    workload: &'static str,
    placement: &'static str,
    size: u64,
    metric: &'static str,
    against: Against,
    /// The largest allowed figure ÷ reference (the smallest, for rates).
    ratio: f64,
    /// What bounds the figure, for readers of a "not met".
    bound: &'static str,
}

/// The targets, as the project states them.
const TARGETS: &[Target] = &[
    Target {
        transport: "pipe",
        workload: "pingpong",
        placement: "split",
        size: 8,
        metric: "rtt",
        against: Against::RawPipeFloor,
        ratio: crate::thresholds::PIPE_TARGET,
        bound: "framing costs one vectored write and one buffered read, the same system calls as the bare pipe",
    },
    Target {
        transport: "shm-spin",
        workload: "pingpong",
        placement: "split",
        size: 8,
        metric: "rtt",
        against: Against::CachelineFloor,
        ratio: 1.5,
        bound: "one hop is one cache-line transfer each way, plus the record header and the clock reads",
    },
    Target {
        transport: "shm-spin",
        workload: "pingpong",
        placement: "split",
        size: 8,
        metric: "rtt",
        against: Against::Transport("iceoryx2"),
        ratio: 1.0,
        bound: "both busy-poll shared memory; iceoryx2 adds per-sample bookkeeping",
    },
    Target {
        transport: "shm-adaptive",
        workload: "pingpong",
        placement: "same",
        size: 8,
        metric: "rtt",
        against: Against::Nanoseconds(5000.0),
        ratio: 1.0,
        bound: "on one core every hop is a context switch: yield or futex wake, never a spin",
    },
    Target {
        transport: "shm-spin",
        workload: "seed",
        placement: "split",
        size: 409_600,
        metric: "total",
        against: Against::Memcpy,
        ratio: 3.0,
        bound: "put copies the message into the ring (one memcpy); get is the wake-up plus a zero-copy decode",
    },
    Target {
        transport: "shm-spin",
        workload: "stream",
        placement: "split",
        size: 409_600,
        metric: "throughput",
        against: Against::BytesPerSecond(8e9),
        ratio: 1.0,
        bound: "the producer copies each message in, the consumer reads every byte to verify it",
    },
];

impl Target {
    /// The target in words, from its data.
    fn describe(&self) -> String {
        let what = format!(
            "`{}` {} {} {}",
            self.transport,
            fmt_bytes(self.size),
            self.workload,
            self.metric
        );
        let times = fmt_multiple(self.ratio);
        let rule = match self.against {
            Against::CachelineFloor => format!("p50 ≤ {times} the cache-line round trip"),
            Against::RawPipeFloor => format!("p50 ≤ {times} the raw pipe round trip"),
            Against::Memcpy => format!("p50 ≤ {times} one memcpy of {}", fmt_bytes(self.size)),
            Against::Transport(t) if self.ratio == 1.0 => format!("p50 no slower than `{t}`"),
            Against::Transport(t) => format!("p50 ≤ {times} `{t}`"),
            Against::Nanoseconds(ns) => format!("p50 ≤ {}", fmt_time(ns * self.ratio)),
            Against::BytesPerSecond(b) => format!("≥ {}", fmt_rate(b * self.ratio)),
        };
        format!("{what} {rule} ({})", self.placement)
    }
}

/// The outcome of one target.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// (measured, what it is held against, ratio, met)
    Measured(String, String, f64, bool),
    /// Why it could not be checked.
    NotMeasured(String),
}

fn cell<'a>(r: &'a Results, t: &Target, transport: &str) -> Option<&'a Cell> {
    r.cells.iter().find(|c| {
        c.status == Status::Ok
            && c.transport == transport
            && c.workload == t.workload
            && c.placement == t.placement
            && c.size_bytes == t.size
            && c.metric == t.metric
            && (c.codec == "raw" || t.workload != "seed")
    })
}

fn floors<'a>(r: &'a Results, placement: &str) -> Option<&'a Floors> {
    r.floors.iter().find(|f| f.placement == placement)
}

/// Checks one target against a run.
fn check(r: &Results, t: &Target) -> Outcome {
    let missing = |what: &str| Outcome::NotMeasured(format!("needs {what}"));
    let Some(c) = cell(r, t, t.transport) else {
        return missing(&format!(
            "{} {} at {} ({})",
            t.transport,
            t.workload,
            fmt_bytes(t.size),
            t.placement
        ));
    };
    let p50 = c.summary.p50_ns;
    let floor = floors(r, t.placement);
    let time_against = |reference: Option<f64>, label: &str| match reference {
        Some(x) if x > 0.0 => {
            let ratio = p50 / x;
            Outcome::Measured(
                fmt_time(p50),
                format!("{label} {}", fmt_time(x)),
                ratio,
                ratio <= t.ratio,
            )
        }
        _ => missing(&format!("the {label} ({})", t.placement)),
    };
    match t.against {
        Against::CachelineFloor => time_against(
            floor
                .and_then(|f| f.cacheline_rtt.as_ref())
                .map(|s| s.p50_ns),
            "cache line",
        ),
        Against::RawPipeFloor => time_against(
            floor
                .and_then(|f| f.raw_pipe_rtt.as_ref())
                .map(|s| s.p50_ns),
            "raw pipe",
        ),
        Against::Memcpy => time_against(
            floor
                .and_then(|f| f.memcpy.iter().find(|m| m.size_bytes == t.size))
                .map(|m| m.p50_ns),
            "memcpy",
        ),
        Against::Transport(other) => {
            time_against(cell(r, t, other).map(|c| c.summary.p50_ns), other)
        }
        Against::Nanoseconds(ns) => time_against(Some(ns), "limit"),
        Against::BytesPerSecond(limit) => match c.bytes_per_s {
            Some(bps) => {
                let ratio = bps / limit;
                Outcome::Measured(fmt_rate(bps), fmt_rate(limit), ratio, ratio >= t.ratio)
            }
            None => missing("a payload rate in the cell"),
        },
    }
}

/// The "Targets" section: one row per target.
pub fn section(results: &Results) -> String {
    let mut table = Table::new([
        ("Target", Align::Left),
        ("Measured (p50)", Align::Right),
        ("Against", Align::Right),
        ("Ratio", Align::Right),
        ("Status", Align::Left),
        ("What bounds it", Align::Left),
    ]);
    for t in TARGETS {
        let (measured, against, ratio, status) = match check(results, t) {
            Outcome::Measured(m, a, ratio, met) => (
                m,
                a,
                fmt_multiple(ratio),
                if met { "met" } else { "**not met**" }.to_owned(),
            ),
            Outcome::NotMeasured(why) => (
                "–".to_owned(),
                "–".to_owned(),
                "–".to_owned(),
                format!("not measured in this run: {why}"),
            ),
        };
        table.row([
            t.describe(),
            measured,
            against,
            ratio,
            status,
            t.bound.to_owned(),
        ]);
    }
    format!(
        "## Targets\n\nThe project's performance targets, checked against this run's own cells and floors \
         (all measured in the same run). A target not met stays in the table with its ratio.\n\n{}\n",
        table.render()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Cell, Summary};

    fn rtt(transport: &str, p50: f64) -> Cell {
        Cell {
            transport: transport.into(),
            codec: "raw".into(),
            workload: "pingpong".into(),
            placement: "split".into(),
            size_bytes: 8,
            metric: "rtt".into(),
            summary: Summary {
                p50_ns: p50,
                ..Summary::default()
            },
            ..Cell::default()
        }
    }

    fn results(pipe: f64, spin: f64) -> Results {
        Results {
            schema_version: 1,
            environment: Default::default(),
            config: Default::default(),
            floors: vec![Floors {
                placement: "split".into(),
                cacheline_rtt: Some(Summary {
                    p50_ns: 200.0,
                    ..Summary::default()
                }),
                raw_pipe_rtt: Some(Summary {
                    p50_ns: 10_000.0,
                    ..Summary::default()
                }),
                ..Floors::default()
            }],
            cells: vec![
                rtt("pipe", pipe),
                rtt("shm-spin", spin),
                rtt("iceoryx2", 2000.0),
            ],
        }
    }

    fn row<'a>(md: &'a str, needle: &str) -> &'a str {
        md.lines().find(|l| l.contains(needle)).expect("target row")
    }

    #[test]
    fn met_and_not_met_with_ratios() {
        let md = section(&results(12_000.0, 400.0));
        let pipe = row(&md, "`pipe` 8 B");
        assert!(pipe.contains("1.20x") && pipe.contains("| met"), "{pipe}");
        let spin = row(&md, "cache-line round trip (split)");
        assert!(
            spin.contains("2.00x") && spin.contains("**not met**"),
            "{spin}"
        );
        assert!(row(&md, "no slower than `iceoryx2`").contains("| met"));
        assert!(row(&md, "(same)").contains("not measured in this run"));
    }

    #[test]
    fn every_target_reads_from_its_data() {
        let d: Vec<String> = TARGETS.iter().map(Target::describe).collect();
        assert_eq!(
            d[0],
            "`pipe` 8 B pingpong rtt p50 ≤ 1.25x the raw pipe round trip (split)"
        );
        assert_eq!(d[3], "`shm-adaptive` 8 B pingpong rtt p50 ≤ 5.00 µs (same)");
        assert_eq!(
            d[5],
            "`shm-spin` 409.6 KB stream throughput ≥ 8.00 GB/s (split)"
        );
    }
}
