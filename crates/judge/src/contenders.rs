//! Which cells contend in an answer row, and the row's verdict: the one
//! rule the README's answer tables, the audit and the comparison of two
//! runs share, so a row counted by the audit is the row a reader sees.

use results::index::{Group, Index};
use results::schema::{Cell, Codec, Metric, Placement, Results, Workload};

use crate::verdict::{Verdict, by_backend, verdict};

/// Suffix of a shared-queue fanout contender's name in a fanout row.
pub const ONE_QUEUE: &str = " (one queue)";

/// An answer row: one workload at one placement, size and metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The workload; a shared-queue fanout (`fanoutqN`) contends in the
    /// `fanoutN` row, so a row's workload is never `fanoutqN`.
    pub workload: Workload,
    /// Placement.
    pub placement: Placement,
    /// Message size, bytes.
    pub size: u64,
    /// The metric judged.
    pub metric: Metric,
}

/// The codec a workload's rows are judged in at a placement: the cheapest
/// it ran there ([`Index::codecs`] order, so `raw` whenever it ran).
pub fn row_codec(idx: &Index<'_>, workload: Workload, placement: Placement) -> Option<Codec> {
    idx.codecs(workload, placement).into_iter().next()
}

/// Every transport of the row's workload at its placement, size and metric
/// in the row's codec (see [`row_codec`]), in the order the run produced
/// them; a fanout row also has the same worker count's shared-queue
/// contenders (`fanoutqN`: N workers pulling from one queue, in their own
/// cheapest codec), named "NAME (one queue)", since they answer the same
/// question another way. Failed cells contend too: the verdict reports them.
pub fn contenders<'a>(idx: &Index<'a>, row: Row) -> Vec<(String, &'a Cell)> {
    let mut out = Vec::new();
    let mut add = |workload: Workload, suffix: &str| {
        let Some(codec) = row_codec(idx, workload, row.placement) else {
            return;
        };
        let g = Group {
            workload,
            placement: row.placement,
            codec,
        };
        for t in idx.transports(g) {
            if let Some(c) = idx.get(&t, g, row.size, row.metric) {
                out.push((format!("{t}{suffix}"), c));
            }
        }
    };
    add(row.workload, "");
    if let Workload::Fanout(n) = row.workload {
        add(Workload::FanoutQ(n), ONE_QUEUE);
    }
    out
}

/// Suffix of a hand-over contender whose producer fills memory the
/// transport lends (a loan: no copy at all; `Results::loans`).
pub const LOAN: &str = " (loan)";

/// Prefix of a Python baseline queue among the hand-over contenders.
pub const PYTHON: &str = "py ";

/// The hand-over row at one placement and size: every transport's
/// `handover` latency cell in the run (its cheapest codec) and every Python
/// queue's in the baseline beside it, named "py NAME"; a loaning one (its
/// producer fills memory the transport lends) is marked "NAME (loan)".
/// Copying and loaning transports contend in one row: the question is how
/// fast a large array gets across, and a loan is one way to answer it.
pub fn handover_contenders<'a>(
    idx: &Index<'a>,
    py: Option<&Index<'a>>,
    placement: Placement,
    size: u64,
) -> Vec<(String, &'a Cell)> {
    let mut out = Vec::new();
    let sources = [(Some(idx), ""), (py, PYTHON)];
    for (src, prefix) in sources {
        let Some(src) = src else { continue };
        let Some(codec) = row_codec(src, Workload::Handover, placement) else {
            continue;
        };
        let g = Group {
            workload: Workload::Handover,
            placement,
            codec,
        };
        for t in src.transports(g) {
            if let Some(c) = src.get(&t, g, size, Metric::Latency) {
                let mark = if src.results.loans(&t) { LOAN } else { "" };
                out.push((format!("{prefix}{t}{mark}"), c));
            }
        }
    }
    out
}

/// The hand-over row's verdict: [`verdict`], read again by backend with the
/// loan mark set aside (shm-spin and shm-adaptive lending are still the
/// shm ring); a Python queue is its own backend.
pub fn handover_verdict<'a>(
    results: &Results,
    contenders: impl IntoIterator<Item = (&'a str, &'a Cell)>,
) -> Verdict {
    by_backend(verdict(contenders), |name| {
        if name.starts_with(PYTHON) {
            return name.to_owned();
        }
        let t = name.strip_suffix(LOAN).unwrap_or(name);
        results.backend_of(t).to_owned()
    })
}

/// The row's verdict: the contenders judged by [`verdict`], then read again
/// by backend ([`by_backend`]), as every answer table gives it.
pub fn row_verdict<'a>(
    results: &Results,
    contenders: impl IntoIterator<Item = (&'a str, &'a Cell)>,
) -> Verdict {
    by_backend(verdict(contenders), |t| results.backend_of(t).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tests::{cell, results};

    fn names(v: &[(String, &Cell)]) -> Vec<String> {
        v.iter().map(|(n, _)| n.clone()).collect()
    }

    #[test]
    fn a_row_takes_its_cheapest_codec_and_the_shared_queue_contenders() {
        let mut cells = vec![
            cell("a", &[1.0, 2.0, 3.0]),
            cell("b", &[1.0, 2.0, 3.0]),
            cell("q", &[1.0, 2.0, 3.0]),
        ];
        // b also ran bincode: another codec is another row's contender.
        let mut encoded = cell("b", &[1.0, 2.0, 3.0]);
        encoded.codec = Codec::Bincode;
        cells.push(encoded);
        for c in &mut cells {
            c.workload = Workload::Fanout(4);
            c.metric = Metric::Throughput;
        }
        cells[2].workload = Workload::FanoutQ(4);
        let r = results(cells);
        let idx = Index::new(&r);
        let row = Row {
            workload: Workload::Fanout(4),
            placement: Placement::Split,
            size: 8,
            metric: Metric::Throughput,
        };
        let v = contenders(&idx, row);
        assert_eq!(names(&v), ["a", "b", "q (one queue)"]);
        assert!(v.iter().all(|(_, c)| c.codec == Codec::Raw));
        // Another size or metric has none.
        assert!(contenders(&idx, Row { size: 800, ..row }).is_empty());
    }

    #[test]
    fn handover_rows_take_both_runs_and_mark_the_loans() {
        let handover = |t: &str, medians: &[f64]| {
            let mut c = cell(t, medians);
            c.workload = Workload::Handover;
            c.metric = Metric::Latency;
            c.size_bytes = 64 << 20;
            c
        };
        let mut put = handover("pipe", &[9.0, 9.0, 9.0]);
        put.metric = Metric::Put;
        let r = results(vec![
            handover("pipe", &[9.0, 9.1, 9.2]),
            handover("shm-spin", &[1.0, 1.1, 1.2]),
            put,
        ]);
        let mut py = results(vec![
            handover("mp-queue", &[90.0, 91.0, 92.0]),
            handover("ipcbench-loan", &[1.0, 1.1, 1.2]),
        ]);
        for c in &mut py.cells {
            c.codec = Codec::Pickle;
        }
        let (idx, pyx) = (Index::new(&r), Index::new(&py));
        let v = handover_contenders(&idx, Some(&pyx), Placement::Split, 64 << 20);
        assert_eq!(
            names(&v),
            [
                "pipe",
                "shm-spin (loan)",
                "py mp-queue",
                "py ipcbench-loan (loan)"
            ]
        );
        assert!(v.iter().all(|(_, c)| c.metric == Metric::Latency));
        assert!(handover_contenders(&idx, None, Placement::Split, 8).is_empty());
        // Two variants of one backend, both lending, tied: the backend wins.
        let mut r = results(vec![
            handover("shm-spin", &[1.0, 1.1, 1.2]),
            handover("shm-adaptive", &[1.0, 1.1, 1.2]),
            handover("pipe", &[9.0, 9.1, 9.2]),
        ]);
        r.transports = ["shm-spin", "shm-adaptive", "pipe"]
            .iter()
            .map(|n| results::schema::TransportInfo {
                name: (*n).into(),
                backend: if n.starts_with("shm") { "shm" } else { n }.into(),
                ..Default::default()
            })
            .collect();
        let idx = Index::new(&r);
        let v = handover_contenders(&idx, None, Placement::Split, 64 << 20);
        let verdict = handover_verdict(&r, v.iter().map(|(n, c)| (n.as_str(), *c)));
        assert!(
            matches!(&verdict, Verdict::BackendWinner { backend, .. } if backend == "shm"),
            "{verdict:?}"
        );
    }

    #[test]
    fn without_raw_a_row_is_judged_in_the_cheapest_codec_that_ran() {
        let mut c = cell("mp-queue", &[1.0, 2.0, 3.0]);
        c.codec = Codec::Pickle;
        let r = results(vec![c]);
        let row = Row {
            workload: Workload::Pingpong,
            placement: Placement::Split,
            size: 8,
            metric: Metric::Rtt,
        };
        assert_eq!(names(&contenders(&Index::new(&r), row)), ["mp-queue"]);
    }
}
