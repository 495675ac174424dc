//! details/python.md's hand-over part (issue 23): each Python queue's
//! lockstep hand-over per size against one memcpy into the queue's memory,
//! and the sum check (a worker summing what `get` returned against summing
//! the same array in one process). Shown only where the baseline ran it.

use crate::format::{MISSING, fmt_bytes, fmt_multiple, fmt_rate, fmt_time};
use crate::sections::{Doc, Python, group, median_ci, msgs_per_s};
use crate::table::{Align, Table};
use results::schema::{Cell, Metric, Placement, Status, Workload};

/// The baseline's names of the sum check's two cells (handover_checks.py).
const SUM_WORKER: &str = "ipcbench-sum";
const SUM_INPROC: &str = "sum-inproc";

/// One queue at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoverRow {
    pub queue: String,
    pub size: u64,
    /// Median with its interval, or why not.
    pub latency: String,
    pub put: String,
    pub get: String,
    /// Hand-over ÷ one memcpy into the queue's memory.
    pub over_memcpy: Option<f64>,
}

/// Every queue's hand-over at `p`, sizes ascending within each queue.
pub fn rows(py: &Python<'_>, p: Placement) -> Vec<HandoverRow> {
    let idx = &py.idx;
    let mut out = Vec::new();
    for codec in idx.codecs(Workload::Handover, p) {
        let g = group(Workload::Handover, p, codec);
        for q in idx.transports(g) {
            for size in idx.sizes(g) {
                let Some(lat) = idx.get(&q, g, size, Metric::Latency) else {
                    continue;
                };
                let median = |m: Metric| {
                    idx.ok(&q, g, size, m)
                        .map_or(MISSING.to_owned(), |c| fmt_time(c.median()))
                };
                let memcpy = memcpy_ns(py, p, size);
                out.push(HandoverRow {
                    queue: q.clone(),
                    size,
                    latency: if lat.status == Status::Failed {
                        format!("failed: {}", lat.error.as_deref().unwrap_or("no error"))
                    } else {
                        median_ci(lat)
                    },
                    put: median(Metric::Put),
                    get: median(Metric::Get),
                    over_memcpy: (lat.status == Status::Ok)
                        .then_some(memcpy)
                        .flatten()
                        .map(|m| lat.median() / m),
                });
            }
        }
    }
    out
}

fn memcpy_ns(py: &Python<'_>, p: Placement, size: u64) -> Option<f64> {
    py.idx
        .results
        .floors
        .iter()
        .find(|f| f.placement == p)?
        .memcpy
        .iter()
        .find(|m| m.size_bytes == size)
        .map(|m| m.p50_ns)
        .filter(|&ns| ns > 0.0)
}

/// The sum check at one size: (worker, in one process), each a throughput
/// cell of sums per second.
fn sum_pair<'a>(py: &Python<'a>, p: Placement, size: u64) -> Option<(&'a Cell, &'a Cell)> {
    let w = py.cell_in(Workload::Handover, SUM_WORKER, p, size, Metric::Throughput)?;
    let i = py.cell_in(Workload::Handover, SUM_INPROC, p, size, Metric::Throughput)?;
    Some((w, i))
}

/// The sum check in words: each rate, and the worker's as a share of the
/// in-process one.
pub fn sum_line(py: &Python<'_>, p: Placement, size: u64) -> Option<String> {
    let (w, i) = sum_pair(py, p, size)?;
    let (wr, ir) = (msgs_per_s(w)?, msgs_per_s(i)?);
    let bytes = size as f64;
    Some(format!(
        "**No cost hidden after `get`** ({}): a worker summing every array \
         `ipcbench.Queue.get` hands it reads {} ({:.1} sums/s); summing the same array in \
         private memory in one process on the same core reads {} ({:.1} sums/s): {} the \
         in-process rate (medians of the trials' rates).",
        fmt_bytes(size),
        fmt_rate(wr * bytes),
        wr,
        fmt_rate(ir * bytes),
        ir,
        fmt_multiple(wr / ir),
    ))
}

/// The hand-over section of details/python.md; nothing where the baseline
/// did not run it.
pub fn render(d: &mut Doc, py: &Python<'_>) {
    for p in py.idx.placements(Workload::Handover) {
        let rows = rows(py, p);
        if rows.is_empty() {
            continue;
        }
        d.h(2, &format!("Hand-over · placement {p}"));
        d.para(
            "Lockstep, one array in flight: the producer fills the array before the clock \
             starts (`ipcbench-loan`: an `ipcbench.Queue.array` loan, put by reference), the \
             clock runs from the start of `put` until the consumer's `get()` returns it, the \
             consumer verifies every element off the clock and acks. hand-over = put + get; \
             put = the put call; get = from put's return to get's. \"÷ one memcpy\" divides \
             by one copy of the size into the queue's own memory, measured by the baseline \
             (its environment lines say which buffers).",
        );
        let mut t = Table::new([
            ("Queue", Align::Left),
            ("Size", Align::Left),
            ("hand-over, median (95% CI)", Align::Right),
            ("put (median)", Align::Right),
            ("get (median)", Align::Right),
            ("÷ one memcpy", Align::Right),
        ]);
        for r in &rows {
            t.row([
                r.queue.clone(),
                fmt_bytes(r.size),
                r.latency.clone(),
                r.put.clone(),
                r.get.clone(),
                r.over_memcpy.map_or(MISSING.to_owned(), fmt_multiple),
            ]);
        }
        d.table(&t);
        let mut sizes: Vec<u64> = rows.iter().map(|r| r.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let floors: Vec<String> = sizes
            .iter()
            .filter_map(|&s| {
                Some(format!(
                    "{} {}",
                    fmt_bytes(s),
                    fmt_time(memcpy_ns(py, p, s)?)
                ))
            })
            .collect();
        if !floors.is_empty() {
            d.para(&format!(
                "One memcpy into the queue's memory: {}.",
                floors.join(", ")
            ));
        }
        let sums: Vec<String> = sizes.iter().filter_map(|&s| sum_line(py, p, s)).collect();
        for s in sums {
            d.para(&s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};
    use results::schema::MemcpyFloor;

    #[test]
    fn each_queue_against_one_memcpy_and_the_sum_check_in_words() {
        let mib64 = 64u64 << 20;
        let mut cells = Vec::new();
        for (q, ns) in [("mp-queue", 300e6), ("ipcbench", 10e6)] {
            cells.push(cell(q, "handover", "split", mib64, "latency", ns));
            cells.push(cell(q, "handover", "split", mib64, "put", ns * 0.9));
            cells.push(cell(q, "handover", "split", mib64, "get", ns * 0.1));
        }
        // Sums per second as throughput cells: ns per sum.
        cells.push(cell(
            SUM_WORKER,
            "handover",
            "split",
            mib64,
            "throughput",
            20e6,
        ));
        cells.push(cell(
            SUM_INPROC,
            "handover",
            "split",
            mib64,
            "throughput",
            16e6,
        ));
        let mut py = results(cells);
        py.floors[0].memcpy = vec![MemcpyFloor {
            size_bytes: mib64,
            p50_ns: 8e6,
            bytes_per_s: 8.4e9,
        }];
        let pyx = Python::new(&py);
        let r = rows(&pyx, Placement::Split);
        let queues: Vec<&str> = r.iter().map(|r| r.queue.as_str()).collect();
        // The sum check's cells are no hand-over rows.
        assert_eq!(queues, ["mp-queue", "ipcbench"]);
        assert_eq!(r[1].over_memcpy, Some(1.25));
        assert_eq!(r[1].put, "9.00 ms");
        let line = sum_line(&pyx, Placement::Split, mib64).expect("a sum line");
        assert!(
            line.contains("50.0 sums/s") && line.contains("62.5 sums/s"),
            "{line}"
        );
        assert!(line.contains("0.800x the in-process rate"), "{line}");
        let mut d = Doc::default();
        render(&mut d, &pyx);
        assert!(
            d.out.contains("## Hand-over · placement split"),
            "{}",
            d.out
        );
        assert!(
            d.out
                .contains("One memcpy into the queue's memory: 67.109 MB 8.00 ms.")
        );
        // A baseline without the hand-over renders nothing.
        let mut old = py.clone();
        old.cells.retain(|c| c.workload != Workload::Handover);
        let mut d = Doc::default();
        render(&mut d, &Python::new(&old));
        assert!(d.out.is_empty(), "{}", d.out);
    }
}
