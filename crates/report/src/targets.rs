//! The project's performance targets, checked against a run's own cells and
//! floors: each shown as met, not met (with the measured ratio), or not
//! measured in this run, never silently dropped.

use crate::format::{fmt_multiple, fmt_rate, fmt_time};
use crate::schema::{Cell, Floors, Results, Status};
use crate::table::{Align, Table};

/// One target.
struct Target {
    what: &'static str,
    /// What bounds the figure, for readers of a "not met".
    bound: &'static str,
    check: fn(&Results) -> Outcome,
}

enum Outcome {
    /// (measured, limit, ratio text, met)
    Measured(String, String, String, bool),
    NotMeasured(&'static str),
}

fn cell<'a>(
    r: &'a Results,
    transport: &str,
    workload: &str,
    placement: &str,
    size: u64,
    metric: &str,
) -> Option<&'a Cell> {
    r.cells.iter().find(|c| {
        c.status == Status::Ok
            && c.transport == transport
            && c.workload == workload
            && c.placement == placement
            && c.size_bytes == size
            && c.metric == metric
            && (c.codec == "raw" || workload != "seed")
    })
}

fn floors<'a>(r: &'a Results, placement: &str) -> Option<&'a Floors> {
    r.floors.iter().find(|f| f.placement == placement)
}

fn ratio_target(measured: f64, limit: f64, what_limit: String, max_ratio: f64) -> Outcome {
    let ratio = measured / limit;
    Outcome::Measured(
        fmt_time(measured),
        what_limit,
        fmt_multiple(ratio),
        ratio <= max_ratio,
    )
}

const TARGETS: &[Target] = &[
    Target {
        what: "`pipe` 8 B ping-pong p50 ≤ 1.25x the raw pipe round trip (split)",
        bound: "framing costs one vectored write and one buffered read, the same system calls as the bare pipe",
        check: |r| match (
            cell(r, "pipe", "pingpong", "split", 8, "rtt"),
            floors(r, "split").and_then(|f| f.raw_pipe_rtt.as_ref()),
        ) {
            (Some(c), Some(raw)) => ratio_target(
                c.summary.p50_ns,
                raw.p50_ns,
                format!("raw pipe {}", fmt_time(raw.p50_ns)),
                1.25,
            ),
            _ => Outcome::NotMeasured("needs pipe pingpong at 8 B and the raw pipe floor (split)"),
        },
    },
    Target {
        what: "`shm-spin` 8 B ping-pong p50 ≤ 1.5x the cache-line round trip (split)",
        bound: "one hop is one cache-line transfer each way, plus the record header and the clock reads",
        check: |r| match (
            cell(r, "shm-spin", "pingpong", "split", 8, "rtt"),
            floors(r, "split").and_then(|f| f.cacheline_rtt.as_ref()),
        ) {
            (Some(c), Some(cl)) => ratio_target(
                c.summary.p50_ns,
                cl.p50_ns,
                format!("cache line {}", fmt_time(cl.p50_ns)),
                1.5,
            ),
            _ => Outcome::NotMeasured(
                "needs shm-spin pingpong at 8 B and the cache-line floor (split)",
            ),
        },
    },
    Target {
        what: "`shm-spin` 8 B ping-pong p50 no slower than `iceoryx2` (split)",
        bound: "both busy-poll shared memory; iceoryx2 adds per-sample bookkeeping",
        check: |r| match (
            cell(r, "shm-spin", "pingpong", "split", 8, "rtt"),
            cell(r, "iceoryx2", "pingpong", "split", 8, "rtt"),
        ) {
            (Some(c), Some(i)) => ratio_target(
                c.summary.p50_ns,
                i.summary.p50_ns,
                format!("iceoryx2 {}", fmt_time(i.summary.p50_ns)),
                1.0,
            ),
            _ => Outcome::NotMeasured("needs shm-spin and iceoryx2 pingpong at 8 B (split)"),
        },
    },
    Target {
        what: "`shm-adaptive` 8 B ping-pong p50 ≤ 5 µs with both processes on one core (same)",
        bound: "on one core every hop is a context switch: yield or futex wake, never a spin",
        check: |r| match cell(r, "shm-adaptive", "pingpong", "same", 8, "rtt") {
            Some(c) => ratio_target(c.summary.p50_ns, 5000.0, "5 µs".to_owned(), 1.0),
            None => Outcome::NotMeasured("needs shm-adaptive pingpong at 8 B with placement same"),
        },
    },
    Target {
        what: "`shm-spin` seed at 409.6 KB: p50 put + get ≤ 3x one memcpy of 409.6 KB (split)",
        bound: "put copies the message into the ring (one memcpy); get is the wake-up plus a zero-copy decode",
        check: |r| {
            let m =
                floors(r, "split").and_then(|f| f.memcpy.iter().find(|m| m.size_bytes == 409_600));
            match (cell(r, "shm-spin", "seed", "split", 409_600, "total"), m) {
                (Some(c), Some(m)) => ratio_target(
                    c.summary.p50_ns,
                    m.p50_ns,
                    format!("memcpy {}", fmt_time(m.p50_ns)),
                    3.0,
                ),
                _ => Outcome::NotMeasured("needs shm-spin seed at 409.6 KB and the memcpy floor"),
            }
        },
    },
    Target {
        what: "`shm-spin` stream at 409.6 KB ≥ 8 GB/s (split)",
        bound: "the producer copies each message in, the consumer reads every byte to verify it",
        check: |r| match cell(r, "shm-spin", "stream", "split", 409_600, "throughput")
            .and_then(|c| c.bytes_per_s)
        {
            Some(bps) => Outcome::Measured(
                fmt_rate(bps),
                "8 GB/s".to_owned(),
                fmt_multiple(bps / 8e9),
                bps >= 8e9,
            ),
            None => Outcome::NotMeasured("needs shm-spin stream at 409.6 KB"),
        },
    },
];

/// The "Targets" section: one row per target.
pub fn section(results: &Results) -> String {
    let mut t = Table::new([
        ("Target", Align::Left),
        ("Measured (p50)", Align::Right),
        ("Against", Align::Right),
        ("Ratio", Align::Right),
        ("Status", Align::Left),
        ("What bounds it", Align::Left),
    ]);
    for target in TARGETS {
        match (target.check)(results) {
            Outcome::Measured(m, against, ratio, met) => {
                t.row([
                    target.what.to_owned(),
                    m,
                    against,
                    ratio,
                    if met {
                        "met".to_owned()
                    } else {
                        "**not met**".to_owned()
                    },
                    target.bound.to_owned(),
                ]);
            }
            Outcome::NotMeasured(why) => {
                t.row([
                    target.what.to_owned(),
                    "–".to_owned(),
                    "–".to_owned(),
                    "–".to_owned(),
                    format!("not measured in this run: {why}"),
                    target.bound.to_owned(),
                ]);
            }
        }
    }
    format!(
        "## Targets\n\nThe project's performance targets, checked against this run's own cells and floors \
         (all measured in the same run). A target not met stays in the table with its ratio.\n\n{}\n",
        t.render()
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
        assert!(row(&md, "one core").contains("not measured in this run"));
    }
}
