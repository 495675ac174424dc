//! details/<family>.md: every placement, codec and metric of one workload
//! family as matrices (one unit per table), then the family's own summary
//! (seed-style tables, the fanout scaling table, the paced tail table).

use crate::sections::matrix::{self, Show};
use crate::sections::{Doc, Python, Slot, group, python_has, rate_unit};
use results::index::{Index, is_throughput};
use results::schema::{Codec, Metric, Placement, Workload};

/// Workload families in the run, in reading order, each with its workloads.
pub fn families(idx: &Index<'_>) -> Vec<(String, Vec<Workload>)> {
    let mut out: Vec<(String, Vec<Workload>)> = Vec::new();
    for w in idx.workloads() {
        let f = w.family().to_owned();
        match out.iter_mut().find(|(name, _)| *name == f) {
            Some((_, ws)) => ws.push(w),
            None => out.push((f, vec![w])),
        }
    }
    out
}

/// How a metric's matrix shows its cells.
pub fn show_for(workload: Workload, metric: Metric) -> Show {
    if !is_throughput(metric) {
        Show::Time
    } else if results::index::is_fanout(workload) {
        Show::Count(rate_unit(workload))
    } else {
        Show::Bytes
    }
}

/// The columns of one matrix: the run's transports, then Python's where it
/// ran the workload.
fn columns<'a>(
    idx: &Index<'a>,
    py: Option<&Python<'a>>,
    w: Workload,
    p: Placement,
    codec: Codec,
    metric: Metric,
) -> (Vec<u64>, Vec<(String, Vec<Slot<'a>>)>) {
    let g = group(w, p, codec);
    let sizes = idx.sizes(g);
    let mut cols: Vec<(String, Vec<Slot<'a>>)> = idx
        .transports(g)
        .into_iter()
        .map(|tr| {
            let slots = sizes
                .iter()
                .map(|&s| Slot::of(idx.get(&tr, g, s, metric)))
                .collect();
            (tr, slots)
        })
        .collect();
    if python_has(w)
        && let Some(py) = py
        && py.idx.placements(w).contains(&p)
    {
        for pt in py.transports_in(w) {
            let slots: Vec<Slot<'a>> = sizes
                .iter()
                .map(|&s| Slot::of(py.cell_in(w, &pt, p, s, metric)))
                .collect();
            if slots.iter().any(|s| s.ok().is_some()) {
                cols.push((format!("py {pt}"), slots));
            }
        }
    }
    (sizes, cols)
}

/// details/<family>.md.
pub fn render(
    idx: &Index<'_>,
    py: Option<&Python<'_>>,
    fam: &str,
    workloads: &[Workload],
) -> String {
    let mut d = Doc::default();
    d.h(1, &format!("{fam}: every placement, codec and metric"));
    d.para(
        "[← answers](../README.md). Each table is in one unit, chosen for the whole table. \
         Times: median (p99). Relative: geometric mean over sizes of each figure against the \
         best at that size (1.00x = best everywhere). † marks a cell that deviates from the \
         run's settings (footnote below the table).",
    );
    for &w in workloads {
        if let Some(a) = crate::sections::answers::per_size(idx, py, w) {
            crate::sections::answers::render_at(&mut d, &a, 2);
        }
        for p in idx.placements(w) {
            for codec in idx.codecs(w, p) {
                d.h(2, &format!("{w} · placement {p} · codec {codec}"));
                for metric in idx.metrics(group(w, p, codec)) {
                    d.h(3, &format!("{metric}: {}", describe_metric(w, metric)));
                    let (sizes, cols) = columns(idx, py, w, p, codec, metric);
                    matrix::render(&mut d, &sizes, &cols, show_for(w, metric));
                }
            }
        }
    }
    // The family's own summary (every workload of a family is of one kind).
    match workloads.first() {
        Some(Workload::Seed) => crate::sections::seed::render(&mut d, idx, py),
        Some(Workload::Fanout(_)) => crate::sections::fanout::render(&mut d, idx, py),
        Some(Workload::Paced(_)) => crate::sections::paced::render(&mut d, idx),
        _ => {}
    }
    d.out
}

/// What a metric measures, for headings (after the metric's name).
pub fn describe_metric(workload: Workload, metric: Metric) -> String {
    let plural = |n: u16, s: &'static str| if n == 1 { "" } else { s };
    match (workload, metric) {
        (_, Metric::Total) => "put + get".to_owned(),
        (_, Metric::Put) => "duration of the send call".to_owned(),
        (_, Metric::Get) => {
            "from send return to the consumer holding the decoded payload".to_owned()
        }
        (_, Metric::Encode) => "serialising the payload".to_owned(),
        (_, Metric::Decode) => "deserialising the payload".to_owned(),
        (_, Metric::Rtt) => "round trip of a message echoed back".to_owned(),
        (Workload::Stream, Metric::Throughput) => {
            "payload rate with the producer flooding".to_owned()
        }
        (Workload::Stream, Metric::Oneway) => {
            "one-way latency under saturation: queueing time, not a latency floor".to_owned()
        }
        (Workload::Fanout(n), Metric::Throughput) => format!(
            "tasks per second handed to {n} worker process{}, one task in flight per worker",
            plural(n, "es")
        ),
        (Workload::FanoutQ(n), Metric::Throughput) => format!(
            "tasks per second handed to {n} worker process{} pulling from one shared queue, \
             {n} task{} in flight",
            plural(n, "es"),
            plural(n, "s")
        ),
        (Workload::Fanout(_) | Workload::FanoutQ(_), Metric::Latency) => {
            "from the producer's send to the worker holding the task".to_owned()
        }
        (Workload::Handover, Metric::Latency) => {
            "the hand-over: from the send (a loan's publish) to the consumer holding a readable \
             view, the message filled before and verified after the clock (py: put to get's \
             return)"
                .to_owned()
        }
        (Workload::Paced(p), Metric::Latency) => format!(
            "open loop at {p}% of the stream rate: from the intended send time to the \
             consumer holding the message"
        ),
        (_, m) => m.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn metrics_are_described_per_workload() {
        assert!(
            describe_metric(Workload::FanoutQ(4), Metric::Throughput).contains("one shared queue")
        );
        assert!(describe_metric(Workload::Paced(80), Metric::Latency).contains("80%"));
    }

    #[test]
    fn families_group_workloads_and_pick_their_units() {
        let r = results(vec![
            cell("a", "fanout1", "split", 800, "throughput", 1e4),
            cell("a", "fanout4", "split", 800, "throughput", 2e4),
            cell("a", "stream", "split", 800, "throughput", 1e3),
            cell("a", "pingpong", "split", 8, "rtt", 1e3),
        ]);
        let idx = Index::new(&r);
        let f = families(&idx);
        let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["pingpong", "stream", "fanout"]);
        assert_eq!(f[2].1, [Workload::Fanout(1), Workload::Fanout(4)]);
        assert_eq!(
            show_for(
                "fanout4".parse().expect("workload"),
                "throughput".parse().expect("metric")
            ),
            Show::Count("tasks")
        );
        assert_eq!(
            show_for(
                "stream".parse().expect("workload"),
                "throughput".parse().expect("metric")
            ),
            Show::Bytes
        );
        assert_eq!(
            show_for(
                "stream".parse().expect("workload"),
                "oneway".parse().expect("metric")
            ),
            Show::Time
        );
        let md = render(&idx, None, "fanout", &f[2].1);
        assert!(md.contains("fanout4 · placement split · codec raw"), "{md}");
        assert!(md.contains("k tasks/s"), "{md}");
    }
}
