//! The hand-over question (issue 23): which transport or Python queue gets a
//! large array (1–64 MiB) to another process fastest. Rust transports (the
//! `handover` workload) and the Python baseline's queues contend in one row
//! per size, loaning ones marked; each row shows one memcpy of its size, and
//! the lead the 8 B round trip: the floors of copying once and of not
//! copying at all. Which cells contend is the judge's
//! (`judge::contenders::handover_contenders`).

use super::{Answer, Row, judge_by, versus_python, with_cell};
use crate::format::{MISSING, fmt_bytes, fmt_time};
use crate::sections::{Python, median_ci};
use judge::contenders::{LOAN, handover_contenders, handover_verdict};
use judge::thresholds::LARGE_ARRAYS;
use results::index::Index;
use results::schema::{Cell, Metric, Placement, Results, Status, Workload};

/// The hand-over answer, or `None` where neither the run nor the Python
/// baseline handed over an array of 1–64 MiB (older runs: their README is
/// unchanged).
pub fn handover(idx: &Index<'_>, py: Option<&Python<'_>>) -> Option<Answer> {
    let pyx = py.map(|p| &p.idx);
    let placement = idx
        .primary_placement(Workload::Handover)
        .or_else(|| pyx.and_then(|p| p.primary_placement(Workload::Handover)))?;
    let mut sizes: Vec<u64> = [Some(idx.results), pyx.map(|p| p.results)]
        .into_iter()
        .flatten()
        .flat_map(|r| large_sizes(r, placement))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut rows = Vec::new();
    for size in sizes {
        let owned = handover_contenders(idx, pyx, placement, size);
        let cells: Vec<(&str, &Cell)> = owned.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        if cells.is_empty() {
            continue;
        }
        let judged = judge_by(&cells, &|ok| {
            handover_verdict(idx.results, ok.iter().copied())
        });
        let (fastest, best, verdict) = with_cell(&cells, judged);
        let mp = py.and_then(|p| {
            p.cell_in(
                Workload::Handover,
                "mp-queue",
                placement,
                size,
                Metric::Latency,
            )
        });
        rows.push(Row {
            case: format!("{}, {placement}", fmt_bytes(size)),
            winner: fastest.unwrap_or_else(|| MISSING.to_owned()),
            figure: best.map_or(MISSING.to_owned(), median_ci),
            verdict,
            vs_python: match (best, mp) {
                (Some(b), Some(m)) if !std::ptr::eq(b, m) => versus_python(b, m),
                _ => MISSING.to_owned(),
            },
            floor: Some(memcpy_floors(
                idx.results,
                pyx.map(|p| p.results),
                placement,
                size,
            )),
        });
    }
    if rows.is_empty() {
        return None;
    }
    Some(Answer {
        question: "Hand over large arrays (1–64 MiB)".into(),
        lead: lead(idx, py, placement),
        rows,
        figure_header: "hand-over, median (95% CI)".into(),
    })
}

/// Sizes of 1–64 MiB at which `r` has hand-over latency cells.
fn large_sizes(r: &Results, placement: Placement) -> Vec<u64> {
    r.cells
        .iter()
        .filter(|c| {
            c.workload == Workload::Handover
                && c.placement == placement
                && c.metric == Metric::Latency
                && (LARGE_ARRAYS.0..=LARGE_ARRAYS.1).contains(&c.size_bytes)
        })
        .map(|c| c.size_bytes)
        .collect()
}

/// One memcpy of `size` as each run measured it: the harness's (Rust,
/// private memory) and the Python baseline's (into the queue's own memory).
fn memcpy_floors(rust: &Results, py: Option<&Results>, placement: Placement, size: u64) -> String {
    let of = |r: &Results| {
        r.floors
            .iter()
            .find(|f| f.placement == placement)
            .and_then(|f| f.memcpy.iter().find(|m| m.size_bytes == size))
            .map(|m| fmt_time(m.p50_ns))
    };
    match (of(rust), py.and_then(of)) {
        (Some(r), Some(p)) => format!("{r} (py {p})"),
        (Some(r), None) => r,
        (None, Some(p)) => format!("py {p}"),
        (None, None) => MISSING.to_owned(),
    }
}

/// What the rows measure, the loan mark, and the 8 B round trip.
fn lead(idx: &Index<'_>, py: Option<&Python<'_>>, placement: Placement) -> String {
    let mut s = String::from(
        "Lockstep: the producer fills the array before the clock starts (in memory the \
         transport lends where it can), the clock stops when the consumer holds a readable \
         view, every byte is verified off the clock, and a small acknowledgement goes back.",
    );
    if idx.workloads().contains(&Workload::Handover) {
        s.push_str(" Transports: [details/handover.md](details/handover.md).");
    }
    if py.is_some_and(|p| p.idx.workloads().contains(&Workload::Handover)) {
        s.push_str(
            " \"py NAME\" is a queue of the Python baseline, timed from `put` until the \
             consumer's `get()` returns the array: [details/python.md](details/python.md).",
        );
    }
    s.push_str(&format!(
        " \"{}\" marks a producer that fills memory the transport lends and publishes it \
         without a copy; every other contender copies the array at least once. \"one memcpy\" \
         is one copy of the size in this run (Rust: between private buffers; py: into the \
         queue's shared memory), the floor of copying once.",
        LOAN.trim()
    ));
    let rtt = idx
        .results
        .floors
        .iter()
        .find(|f| f.placement == placement)
        .and_then(|f| f.cacheline_rtt.as_ref())
        .map(|s| s.p50_ns);
    if let Some(ns) = rtt {
        s.push_str(&format!(
            " The 8 B round trip ({}: one cache line each way) is the floor of handing over \
             without copying.",
            fmt_time(ns)
        ));
    }
    let failed = idx
        .results
        .cells
        .iter()
        .any(|c| c.workload == Workload::Handover && c.status == Status::Failed);
    if failed {
        s.push_str(" Failed cells are named in their rows.");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};
    use results::schema::MemcpyFloor;

    const MIB: u64 = 1 << 20;

    fn handover_cell(t: &str, size: u64, ns: f64) -> Cell {
        cell(t, "handover", "split", size, "latency", ns)
    }

    /// A run with two transports (shm-spin loans) and a Python baseline with
    /// mp.Queue and ipcbench's ordinary and loaned put, at 4 and 64 MiB.
    fn runs() -> (Results, Results) {
        let mut r = results(vec![
            handover_cell("pipe", 4 * MIB, 2_000_000.0),
            handover_cell("shm-spin", 4 * MIB, 2_000.0),
            handover_cell("pipe", 64 * MIB, 30_000_000.0),
            handover_cell("shm-spin", 64 * MIB, 2_100.0),
            // 8 B and 409.6 KB are outside the question's range.
            handover_cell("shm-spin", 8, 1_000.0),
            handover_cell("pipe", 409_600, 90_000.0),
        ]);
        r.floors[0].memcpy = vec![MemcpyFloor {
            size_bytes: 64 * MIB,
            p50_ns: 9_000_000.0,
            bytes_per_s: 7.4e9,
        }];
        let mut py = results(
            [
                ("mp-queue", 15_000_000.0),
                ("ipcbench", 300_000.0),
                ("ipcbench-loan", 20_000.0),
            ]
            .into_iter()
            .flat_map(|(t, ns)| {
                [
                    handover_cell(t, 4 * MIB, ns),
                    handover_cell(t, 64 * MIB, ns * 16.0),
                ]
            })
            .collect(),
        );
        for c in &mut py.cells {
            c.codec = results::schema::Codec::Pickle;
        }
        py.floors[0].memcpy = vec![MemcpyFloor {
            size_bytes: 4 * MIB,
            p50_ns: 290_000.0,
            bytes_per_s: 1.4e10,
        }];
        (r, py)
    }

    #[test]
    fn rust_and_python_contend_per_size_with_loans_marked_and_floors_shown() {
        let (r, py) = runs();
        let pyx = Python::new(&py);
        let a = handover(&Index::new(&r), Some(&pyx)).expect("an answer");
        let cases: Vec<&str> = a.rows.iter().map(|r| r.case.as_str()).collect();
        assert_eq!(cases, ["4.194 MB, split", "67.109 MB, split"]);
        for row in &a.rows {
            assert_eq!(row.winner, "shm-spin (loan)", "{row:?}");
            assert!(row.vs_python.ends_with("faster"), "{row:?}");
        }
        // The loaned Python put is the nearest contender at 4 MiB.
        assert!(
            a.rows[0]
                .verdict
                .contains("faster than py ipcbench-loan (loan)"),
            "{:?}",
            a.rows[0]
        );
        assert_eq!(a.rows[0].floor.as_deref(), Some("py 290 µs"));
        assert_eq!(a.rows[1].floor.as_deref(), Some("9.00 ms"));
        assert!(a.lead.contains("200 ns"), "{}", a.lead);
        assert!(a.lead.contains("details/handover.md"), "{}", a.lead);
    }

    #[test]
    fn python_alone_answers_and_old_runs_have_no_answer() {
        let (mut r, py) = runs();
        r.cells.retain(|c| c.workload != Workload::Handover);
        let pyx = Python::new(&py);
        let a = handover(&Index::new(&r), Some(&pyx)).expect("an answer");
        assert_eq!(a.rows.len(), 2);
        assert_eq!(a.rows[0].winner, "py ipcbench-loan (loan)");
        assert!(!a.lead.contains("details/handover.md"), "{}", a.lead);
        // No hand-over anywhere (a run from before issue 23): no answer.
        let mut old = py.clone();
        old.cells.clear();
        assert!(handover(&Index::new(&r), Some(&Python::new(&old))).is_none());
        assert!(handover(&Index::new(&r), None).is_none());
    }
}
