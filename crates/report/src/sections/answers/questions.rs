//! The questions the README answers, each collected as an [`Answer`]: the
//! seed's fanout, the Python baseline's own contest, latency, throughput,
//! CPU per message, and every size of one workload for its details page.

use super::{Answer, Row, contest, ends, judge_with_cell, sizes_of, versus_python};
use crate::format::{MISSING, fmt_bytes, fmt_multiple, fmt_rate, fmt_time};
use crate::sections::{Python, cpu_sum, fmt_per_s, group, headline, median_ci, plural};
use judge::contenders::{ONE_QUEUE, row_codec};
use judge::thresholds::{SEED_SIZES, SMALL_MESSAGE};
use results::index::Index;
use results::schema::{Cell, Metric, Workload};

/// The seed's question: hand arrays to 1, 2 and 4 worker processes.
pub fn fanout(idx: &Index<'_>, py: Option<&Python<'_>>) -> Answer {
    // Shared-queue workloads (`fanoutqN`) contend in their `fanoutN` row.
    let workloads: Vec<Workload> = idx
        .workloads()
        .into_iter()
        .filter(|w| matches!(w, Workload::Fanout(_)))
        .collect();
    let mut a = Answer {
        question: "Hand numpy-sized arrays (800 B–409.6 KB) to 1, 2 and 4 worker processes".into(),
        lead: String::new(),
        rows: Vec::new(),
        figure_header: "tasks/s (median)".into(),
    };
    if workloads.is_empty() {
        a.lead = "This run has no fanout workload; `cargo xtask bench-all --full` runs \
                  fanout1, fanout2 and fanout4 with the Python baseline beside them."
            .into();
        if idx.workloads().contains(&Workload::Seed) {
            a.lead.push_str(
                " The closest answer here is the seed workload (one worker), in \
                 [details/seed.md](details/seed.md).",
            );
        }
        return a;
    }
    let cores = idx.results.environment.cores;
    for &w in &workloads {
        let Some(p) = idx.primary_placement(w) else {
            continue;
        };
        let n = w.consumers();
        let in_range: Vec<u64> = sizes_of(idx, w, p)
            .into_iter()
            .filter(|s| (SEED_SIZES.0..=SEED_SIZES.1).contains(s))
            .collect();
        for size in ends(&in_range) {
            let over = if cores > 0 && n > cores {
                " ⚠ > cores"
            } else {
                ""
            };
            let case = format!("{n} worker{}{over}, {}, {p}", plural(n), fmt_bytes(size));
            let fig = |c: &Cell| fmt_per_s(1e9 / headline(c), "tasks");
            a.rows
                .extend(contest(idx, py, w, p, size, Metric::Throughput, case, &fig));
        }
    }
    a.lead = format!(
        "One producer deals tasks round-robin to N worker processes, one in flight per \
         worker; each worker verifies every byte. Placement `split`: the producer on core 0, \
         the workers on the other core{}. ⚠ marks more workers than the machine's {cores} \
         cores. All sizes: [details/fanout.md](details/fanout.md).",
        if cores > 2 { "s" } else { "" }
    );
    if idx.workloads().iter().any(|w| w.shared_queue()) {
        a.lead.push_str(&format!(
            " A contender marked \"{}\" runs the workers as Python's do: all N pull from \
             one shared queue (transports whose receivers can be shared).",
            ONE_QUEUE.trim()
        ));
    }
    // The choice when workers outnumber cores, where the run has such rows.
    let crowded: Vec<&str> = a
        .rows
        .iter()
        .filter(|r| r.case.contains('⚠') && r.winner != MISSING)
        .map(|r| r.winner.as_str())
        .collect();
    if let Some(first) = crowded.first() {
        a.lead.push_str(&if crowded.iter().all(|w| w == first) {
            format!(" With more workers than cores, **{first}** is fastest at every size shown.")
        } else {
            format!(
                " With more workers than cores the fastest differs by size: {}.",
                crowded.join(", ")
            )
        });
    }
    a
}

/// The Python baseline's own contest, for the notebook's user: which queue
/// hands arrays to worker processes fastest, every alternative the baseline
/// ran as a contender (the one-process `-inproc` loops are another
/// question and stay out), judged like the transports and set against
/// mp.Queue. `None` without a baseline.
pub fn python(py: Option<&Python<'_>>) -> Option<Answer> {
    let py = py?;
    let mut rows = Vec::new();
    let workloads: Vec<(Workload, Metric)> = std::iter::once((Workload::Seed, Metric::Total))
        .chain(
            py.idx
                .workloads()
                .into_iter()
                .filter(|w| matches!(w, Workload::Fanout(_)))
                .map(|w| (w, Metric::Throughput)),
        )
        .collect();
    for (w, metric) in workloads {
        let Some(p) = py.idx.primary_placement(w) else {
            continue;
        };
        let names: Vec<String> = py
            .transports_in(w)
            .into_iter()
            .filter(|t| !t.ends_with("-inproc"))
            .collect();
        for size in ends(&sizes_of(&py.idx, w, p)) {
            let cells: Vec<(&str, &Cell)> = names
                .iter()
                .filter_map(|n| Some((n.as_str(), py.cell_in(w, n, p, size, metric)?)))
                .collect();
            if cells.len() < 2 {
                continue;
            }
            let (fastest, best, verdict) = judge_with_cell(py.idx.results, &cells);
            let mp = cells
                .iter()
                .find(|(n, _)| *n == "mp-queue")
                .map(|(_, c)| *c);
            let (case, figure) = match w {
                Workload::Fanout(n) => (
                    format!("{n} worker{}, {}, {p}", plural(n.into()), fmt_bytes(size)),
                    best.map(|c| fmt_per_s(1e9 / headline(c), "tasks")),
                ),
                _ => (
                    format!("put + get, {}, {p}", fmt_bytes(size)),
                    best.map(median_ci),
                ),
            };
            rows.push(Row {
                case,
                winner: fastest.unwrap_or_else(|| MISSING.to_owned()),
                figure: figure.unwrap_or_else(|| MISSING.to_owned()),
                verdict,
                vs_python: match (best, mp) {
                    (Some(b), Some(m)) if !std::ptr::eq(b, m) => versus_python(b, m),
                    _ => MISSING.to_owned(),
                },
                floor: None,
            });
        }
    }
    (!rows.is_empty()).then(|| Answer {
        question: "From Python: which queue hands arrays to worker processes fastest".into(),
        lead: "The Python baseline's queues, each a contender with the same verdict rule: \
               the seed workload's put + get across two processes (the figure is the median \
               with its 95% CI), and fanout, where the workers pull from one shared queue. \
               Every queue ran in the same bench-all run; all of them, and every size, are \
               in [details/python.md](details/python.md)."
            .into(),
        rows,
        figure_header: "median".into(),
    })
}

/// Every size of one workload on its primary placement: the verdict per
/// size, for the workload's details page.
pub fn per_size(idx: &Index<'_>, py: Option<&Python<'_>>, w: Workload) -> Option<Answer> {
    let metric = results::index::primary_metric(w)?;
    let p = idx.primary_placement(w)?;
    let codec = row_codec(idx, w, p)?;
    let fanout = matches!(w, Workload::Fanout(_));
    let fig = |c: &Cell| -> String {
        let m = headline(c);
        if !results::index::is_throughput(metric) {
            median_ci(c)
        } else if fanout {
            fmt_per_s(1e9 / m, "tasks")
        } else {
            fmt_rate(c.size_bytes as f64 * 1e9 / m)
        }
    };
    let rows = sizes_of(idx, w, p)
        .into_iter()
        .filter_map(|size| contest(idx, py, w, p, size, metric, fmt_bytes(size), &fig))
        .collect();
    Some(Answer {
        question: format!("Fastest per size: {w} {metric} (placement {p}, codec {codec})"),
        lead: "The fastest median at each size and whether it wins: a win needs the ratio's \
               95% interval clear of 1 and an effect of at least 3% against every other \
               contender; otherwise the row lists who it ties with."
            .into(),
        rows,
        figure_header: if results::index::is_throughput(metric) {
            "fastest: rate at the median".into()
        } else {
            "fastest: median (95% CI)".into()
        },
    })
}

/// Lowest round-trip latency for small messages.
pub fn latency(idx: &Index<'_>, py: Option<&Python<'_>>) -> Answer {
    let mut a = Answer {
        question: "Lowest round-trip latency for small messages".into(),
        lead: "Ping-pong: one message out, echoed back; the median round trip. All sizes: \
               [details/pingpong.md](details/pingpong.md)."
            .into(),
        rows: Vec::new(),
        figure_header: "round trip, median (95% CI)".into(),
    };
    let Some(p) = idx.primary_placement(Workload::Pingpong) else {
        a.lead = "This run has no pingpong workload.".into();
        return a;
    };
    let small: Vec<u64> = sizes_of(idx, Workload::Pingpong, p)
        .into_iter()
        .filter(|&s| s <= SMALL_MESSAGE)
        .collect();
    for size in ends(&small) {
        let case = format!("{}, {p}", fmt_bytes(size));
        a.rows.extend(contest(
            idx,
            py,
            Workload::Pingpong,
            p,
            size,
            Metric::Rtt,
            case,
            &median_ci,
        ));
    }
    a
}

/// Highest throughput for large messages.
pub fn throughput(idx: &Index<'_>, py: Option<&Python<'_>>) -> Answer {
    let mut a = Answer {
        question: "Highest throughput for large messages".into(),
        lead: "Stream: the producer floods, the consumer verifies every byte; payload bytes \
               per second at the largest sizes. All sizes: \
               [details/stream.md](details/stream.md)."
            .into(),
        rows: Vec::new(),
        figure_header: "payload rate (median)".into(),
    };
    let Some(p) = idx.primary_placement(Workload::Stream) else {
        a.lead = "This run has no stream workload.".into();
        return a;
    };
    let sizes = sizes_of(idx, Workload::Stream, p);
    for &size in sizes.iter().rev().take(2).rev() {
        let case = format!("{}, {p}", fmt_bytes(size));
        let fig = |c: &Cell| {
            let r = c.size_bytes as f64 * 1e9 / headline(c);
            if r.is_finite() {
                fmt_rate(r)
            } else {
                MISSING.to_owned()
            }
        };
        a.rows.extend(contest(
            idx,
            py,
            Workload::Stream,
            p,
            size,
            Metric::Throughput,
            case,
            &fig,
        ));
    }
    a
}

/// Least CPU per message: what a transport costs a machine that is busy
/// with other work.
pub fn cpu(idx: &Index<'_>) -> Answer {
    let mut a = Answer {
        question: "Least CPU per message when the machine is busy".into(),
        lead: "User + system CPU time per message, producer + consumer, while streaming \
               (blocked time costs nothing, spinning does). CPU time is recorded once per \
               cell, so there is no interval: differences under ~20 % are not a verdict. All \
               cells: [details/cpu.md](details/cpu.md)."
            .into(),
        rows: Vec::new(),
        figure_header: "CPU per message".into(),
    };
    let Some(p) = idx.primary_placement(Workload::Stream) else {
        a.lead = "This run has no stream workload, where CPU per message is compared.".into();
        return a;
    };
    let Some(codec) = row_codec(idx, Workload::Stream, p) else {
        return a;
    };
    let g = group(Workload::Stream, p, codec);
    for size in ends(&idx.sizes(g)) {
        let mut v: Vec<(String, f64)> = idx
            .transports(g)
            .into_iter()
            .filter_map(|t| {
                let c = idx.ok(&t, g, size, Metric::Throughput)?;
                (c.cpu_producer_ns.is_some() || c.cpu_consumer_ns.is_some())
                    .then(|| (t, cpu_sum(c)))
            })
            .collect();
        v.sort_by(|x, y| x.1.total_cmp(&y.1));
        let Some((best, ns)) = v.first() else {
            continue;
        };
        let verdict = match v.get(1) {
            Some((second, s)) => format!("next: {second} {}", fmt_multiple(s / ns)),
            None => "only one".to_owned(),
        };
        a.rows.push(Row {
            case: format!("{}, {p}", fmt_bytes(size)),
            winner: best.clone(),
            figure: fmt_time(*ns),
            verdict,
            vs_python: MISSING.to_owned(),
            floor: None,
        });
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn the_latency_answer_names_the_clear_winner_and_python_only_where_it_ran() {
        let r = results(vec![
            cell("fast", "pingpong", "split", 8, "rtt", 1_000.0),
            cell("slow", "pingpong", "split", 8, "rtt", 9_000.0),
            cell("fast", "pingpong", "split", 800, "rtt", 2_000.0),
            cell("slow", "pingpong", "split", 800, "rtt", 2_010.0),
            cell("fast", "pingpong", "split", 4096, "rtt", 3_000.0),
        ]);
        let idx = Index::new(&r);
        let a = latency(&idx, None);
        assert_eq!(a.rows.len(), 2, "{a:?}");
        assert_eq!(a.rows[0].case, "8 B, split");
        assert_eq!(a.rows[0].winner, "fast");
        assert_eq!(
            a.rows[0].verdict,
            "**fast**; 9.00x (8.82–9.18) faster than slow"
        );
        assert!(a.rows[1].verdict.starts_with("tie"), "{:?}", a.rows[1]);
        assert_eq!(a.rows[0].vs_python, MISSING);
    }

    #[test]
    fn the_python_answer_judges_the_baselines_queues_against_mp_queue() {
        let mut cells = Vec::new();
        for (t, total, rate_ns) in [
            ("mp-queue", 90_000.0, 70_000.0),
            ("ipcbench", 2_000.0, 6_000.0),
            ("faster-fifo", 20_000.0, 20_000.0),
            // One process, put then get: another question, never a contender.
            ("ipcbench-inproc", 500.0, 1.0),
        ] {
            cells.push(cell(t, "seed", "split", 800, "total", total));
            cells.push(cell(t, "seed", "split", 409_600, "total", total * 10.0));
            let mut f = cell(t, "fanout4", "split", 800, "throughput", rate_ns);
            f.msgs_per_s = Some(1e9 / rate_ns);
            cells.push(f);
        }
        let r = results(cells);
        let py = Python::new(&r);
        let a = python(Some(&py)).expect("an answer");
        let cases: Vec<&str> = a.rows.iter().map(|r| r.case.as_str()).collect();
        assert_eq!(
            cases,
            [
                "put + get, 800 B, split",
                "put + get, 409.6 KB, split",
                "4 workers, 800 B, split"
            ]
        );
        for row in &a.rows {
            assert_eq!(row.winner, "ipcbench", "{row:?}");
            assert!(row.verdict.contains("faster than faster-fifo"), "{row:?}");
            assert!(row.vs_python.ends_with("faster"), "{row:?}");
        }
        assert!(a.rows[0].vs_python.starts_with("45x ("), "{:?}", a.rows[0]);
        assert!(python(None).is_none());
    }

    #[test]
    fn without_fanout_the_answer_says_which_run_has_it() {
        let r = results(vec![cell("a", "seed", "split", 800, "total", 1.0)]);
        let a = fanout(&Index::new(&r), None);
        assert!(a.rows.is_empty());
        assert!(a.lead.contains("--full"), "{}", a.lead);
    }

    #[test]
    fn fanout_rows_compare_with_python_and_flag_oversubscription() {
        let r = results(vec![
            cell("a", "fanout4", "split", 800, "throughput", 10_000.0),
            cell("b", "fanout4", "split", 800, "throughput", 50_000.0),
        ]);
        let py = results(vec![cell(
            "mp-queue",
            "fanout4",
            "split",
            800,
            "throughput",
            40_000.0,
        )]);
        let pyx = Python::new(&py);
        let a = fanout(&Index::new(&r), Some(&pyx));
        assert_eq!(a.rows.len(), 1);
        assert!(a.rows[0].case.contains("⚠"), "{:?}", a.rows[0]);
        assert_eq!(a.rows[0].winner, "a");
        assert_eq!(a.rows[0].figure, "100 k tasks/s");
        assert_eq!(a.rows[0].vs_python, "4.00x (3.92–4.08) faster");
        // A shared-queue run of the same worker count contends in that row.
        let mut r = r;
        r.cells
            .push(cell("q", "fanoutq4", "split", 800, "throughput", 5_000.0));
        let a = fanout(&Index::new(&r), None);
        assert_eq!(a.rows.len(), 1, "{:?}", a.rows);
        assert_eq!(a.rows[0].winner, "q (one queue)");
        assert!(
            a.rows[0].verdict.contains("faster than a"),
            "{:?}",
            a.rows[0]
        );
        assert!(a.lead.contains("one shared queue"), "{}", a.lead);
    }
}
