//! How much a run lets a reader conclude: the checks behind the verdicts
//! (no impossible interval, enough trials, how often the rows decide, how
//! precise the medians are), computed from a results file so they are
//! figures of the run, not claims about it.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::bootstrap::MIN_TRIALS;
use crate::format::{fmt_bytes, fmt_time};
use crate::schema::{Cell, Metric, Placement, Results, Status, Workload};
use crate::sections::answers::ONE_QUEUE;
use crate::verdict::{Verdict, by_backend, ratio, verdict};

/// The figures of one audit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audit {
    /// Ok cells in the file.
    pub cells: usize,
    /// Ok cells with a lower bound below zero (median or mean interval).
    pub negative_bounds: usize,
    /// Ok cells whose median or any trial median is below zero.
    pub negative_medians: usize,
    /// Throughput cells whose rate interval reaches zero or infinity.
    pub throughput_crossing_zero: usize,
    /// Headline cells (placement split, codec raw, not Python) and the
    /// fewest trials any of them has.
    pub headline_cells: usize,
    /// Fewest trials of a headline cell.
    pub headline_min_trials: usize,
    /// Headline cells that stopped for each reason.
    pub stop_reasons: BTreeMap<String, usize>,
    /// Answer rows judged, and how they came out.
    pub rows: usize,
    /// Rows naming a winner.
    pub winners: usize,
    /// Rows where the fastest's backend wins and the tie is among its own
    /// variants (see [`crate::verdict::by_backend`]).
    pub backend_winners: usize,
    /// Rows that tie across backends.
    pub ties: usize,
    /// Rows that would tie if every variant were judged as a transport of
    /// its own: `ties + backend_winners`.
    pub ties_by_variant: usize,
    /// Rows left undecided or failed.
    pub undecided: usize,
    /// The rows whose named winner's median interval overlaps the median
    /// interval of a contender from another backend (the marginal check,
    /// more conservative than the ratio interval the verdict uses: the
    /// verdict never names a winner whose ratio interval to a contender
    /// includes 1), each as "row: winner (interval) overlaps contender
    /// (interval), ratio r (low–high)", so a reader can look them up.
    pub overlapped_rows: Vec<String>,
    /// Median half-width of the median's interval, as a fraction of the
    /// median, for split pingpong and seed cells.
    pub median_half_width: Option<f64>,
}

/// The answer rows an audit judges: one per (workload, metric, size) at
/// placement `split`, codec `raw`, with every transport as a contender.
const ROW_METRICS: [(Workload, Metric); 3] = [
    (Workload::Seed, Metric::Total),
    (Workload::Pingpong, Metric::Rtt),
    (Workload::Stream, Metric::Throughput),
];

fn is_headline(c: &Cell) -> bool {
    c.placement == Placement::Split && c.codec == "raw" && c.metric != Metric::RttBatch
}

fn is_row_metric(c: &Cell) -> bool {
    ROW_METRICS
        .iter()
        .any(|(w, m)| c.workload == *w && c.metric == *m)
        || (c.workload.is_fanout() && c.metric == Metric::Throughput)
}

/// Audits a results file.
pub fn audit(results: &Results) -> Audit {
    let ok: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.status == Status::Ok)
        .collect();
    let mut a = Audit {
        cells: ok.len(),
        headline_min_trials: usize::MAX,
        ..Audit::default()
    };
    for c in &ok {
        let lows = [c.median_ci_low_ns, c.summary.ci95_low_ns];
        if lows.iter().flatten().any(|lo| *lo < 0.0) {
            a.negative_bounds += 1;
        }
        if c.median() < 0.0 || c.trial_values().iter().any(|v| *v < 0.0) {
            a.negative_medians += 1;
        }
        if c.metric == Metric::Throughput
            && [c.median_ci_low_ns, c.median_ci_high_ns]
                .iter()
                .flatten()
                .any(|v| *v <= 0.0 || !v.is_finite())
        {
            a.throughput_crossing_zero += 1;
        }
        if is_headline(c) {
            a.headline_cells += 1;
            a.headline_min_trials = a.headline_min_trials.min(c.trial_values().len());
            let reason = c.stop_reason.clone().unwrap_or_else(|| "unrecorded".into());
            *a.stop_reasons.entry(reason).or_default() += 1;
        }
    }
    if a.headline_cells == 0 {
        a.headline_min_trials = 0;
    }
    judge_rows(results, &mut a);
    let widths: Vec<f64> = ok
        .iter()
        .filter(|c| c.placement == Placement::Split && c.codec == "raw")
        .filter(|c| {
            c.workload == Workload::Seed
                || (c.workload == Workload::Pingpong && c.metric == Metric::Rtt)
        })
        .filter_map(|c| c.median_ci().map(|(lo, hi)| (hi - lo) / 2.0 / c.median()))
        .collect();
    a.median_half_width = crate::bootstrap::median(&widths);
    a
}

/// An answer row's key (workload, metric, size) and its named contenders.
type Rows<'a> = BTreeMap<RowKey, Vec<(String, &'a Cell)>>;

/// An answer row: the workload, its metric and the message size.
pub type RowKey = (Workload, Metric, u64);

/// The answer rows' contenders, by row.
fn contenders(results: &Results) -> Rows<'_> {
    let mut rows = Rows::new();
    for c in results
        .cells
        .iter()
        .filter(|c| is_headline(c) && is_row_metric(c))
    {
        // A shared-queue fanout (`fanoutqN`) contends in the `fanoutN` row,
        // as the answer tables show it.
        let (workload, name) = match c.workload {
            Workload::FanoutQ(n) => (Workload::Fanout(n), format!("{}{ONE_QUEUE}", c.transport)),
            w => (w, c.transport.clone()),
        };
        rows.entry((workload, c.metric, c.size_bytes))
            .or_default()
            .push((name, c));
    }
    rows
}

fn row_verdict(results: &Results, named: &[(String, &Cell)]) -> Verdict {
    by_backend(verdict(named.iter().map(|(n, c)| (n.as_str(), *c))), |t| {
        results.backend_of(t).to_owned()
    })
}

/// The verdict of every answer row the audit judges (seed total, pingpong,
/// stream and fanout throughput at split, raw, every size), as the answer
/// tables give them.
pub fn answer_rows(results: &Results) -> BTreeMap<RowKey, Verdict> {
    contenders(results)
        .iter()
        .map(|(k, named)| (*k, row_verdict(results, named)))
        .collect()
}

/// One overlap, in the units of the row's metric: both medians' intervals
/// and the ratio interval the verdict used.
fn overlap_note(
    winner: &str,
    wc: &Cell,
    w: (f64, f64),
    other: &str,
    oc: &Cell,
    o: (f64, f64),
) -> String {
    let show = |c: &Cell, (lo, hi): (f64, f64)| {
        format!(
            "{} ({}–{})",
            fmt_time(c.median()),
            fmt_time(lo),
            fmt_time(hi)
        )
    };
    let ratio = ratio(wc, oc).map_or_else(
        || "no ratio interval".to_owned(),
        |r| format!("ratio {:.3} ({:.3}–{:.3})", r.estimate, r.low, r.high),
    );
    format!(
        "{winner} {} overlaps {other} {}, {ratio}",
        show(wc, w),
        show(oc, o)
    )
}

fn judge_rows(results: &Results, a: &mut Audit) {
    for (key, named) in &contenders(results) {
        let v = row_verdict(results, named);
        a.rows += 1;
        match &v {
            Verdict::Winner { name, .. } | Verdict::BackendWinner { fastest: name, .. } => {
                if matches!(v, Verdict::Winner { .. }) {
                    a.winners += 1;
                } else {
                    a.backend_winners += 1;
                    a.ties_by_variant += 1;
                }
                let backend = results.backend_of(name);
                let winner = named
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, c)| c.median_ci().map(|w| (w, *c)));
                if let Some((w, wc)) = winner {
                    let overlapping: Vec<String> = named
                        .iter()
                        .filter(|(n, _)| results.backend_of(n) != backend)
                        .filter_map(|(n, c)| c.median_ci().map(|o| (n, c, o)))
                        .filter(|(_, _, o)| o.0 <= w.1 && w.0 <= o.1)
                        .map(|(n, c, o)| overlap_note(name, wc, w, n, c, o))
                        .collect();
                    if !overlapping.is_empty() {
                        a.overlapped_rows.push(format!(
                            "{} {}: {}",
                            key.0,
                            fmt_bytes(key.2),
                            overlapping.join("; ")
                        ));
                    }
                }
            }
            Verdict::Tie { .. } => {
                a.ties += 1;
                a.ties_by_variant += 1;
            }
            _ => a.undecided += 1,
        }
    }
}

impl Audit {
    /// How many named winners are overlapped (see `overlapped_rows`).
    pub fn winners_overlapped(&self) -> usize {
        self.overlapped_rows.len()
    }

    /// The audit as a short Markdown list.
    pub fn render(&self) -> String {
        let pct = |n: usize, of: usize| {
            if of == 0 {
                "–".to_owned()
            } else {
                format!("{:.0} %", 100.0 * n as f64 / of as f64)
            }
        };
        let mut o = String::new();
        let _ = writeln!(o, "- cells measured: {}", self.cells);
        let _ = writeln!(
            o,
            "- intervals with a negative lower bound: {}; negative medians: {}; throughput intervals reaching zero: {}",
            self.negative_bounds, self.negative_medians, self.throughput_crossing_zero
        );
        let reasons: Vec<String> = self
            .stop_reasons
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let _ = writeln!(
            o,
            "- headline cells (split, raw): {}, fewest trials {} (an interval needs {MIN_TRIALS}); stopped by: {}",
            self.headline_cells,
            self.headline_min_trials,
            reasons.join(", ")
        );
        let _ = writeln!(
            o,
            "- answer rows (seed total, pingpong, stream and fanout throughput at split, every size): {}: transport wins {} ({}), backend wins with its variants tied {} ({}), tie across backends {} ({}), undecided or failed {}",
            self.rows,
            self.winners,
            pct(self.winners, self.rows),
            self.backend_winners,
            pct(self.backend_winners, self.rows),
            self.ties,
            pct(self.ties, self.rows),
            self.undecided
        );
        let _ = writeln!(
            o,
            "- the same rows with every variant judged as a transport of its own: tie {} ({})",
            self.ties_by_variant,
            pct(self.ties_by_variant, self.rows),
        );
        let _ = writeln!(
            o,
            "- named winners whose median interval overlaps a contender's from another backend: {}",
            self.winners_overlapped()
        );
        for row in &self.overlapped_rows {
            let _ = writeln!(o, "  - {row}");
        }
        let _ = writeln!(
            o,
            "- median half-width of the median's interval, split pingpong and seed cells: {}",
            self.median_half_width.map_or("–".to_owned(), |w| format!(
                "{:.1} % of the median",
                w * 100.0
            ))
        );
        o
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cell(transport: &str, trials: &[f64]) -> Cell {
        let mut c = Cell {
            transport: transport.into(),
            codec: "raw".into(),
            workload: Workload::Pingpong,
            placement: Placement::Split,
            metric: Metric::Rtt,
            size_bytes: 8,
            trial_medians_ns: trials.to_vec(),
            median_ns: crate::bootstrap::median(trials).unwrap_or(0.0),
            stop_reason: Some("planned".into()),
            ..Cell::default()
        };
        let ci = crate::bootstrap::median_interval(trials);
        c.median_ci_low_ns = ci.map(|c| c.0);
        c.median_ci_high_ns = ci.map(|c| c.1);
        c
    }

    pub(crate) fn results(cells: Vec<Cell>) -> Results {
        Results {
            schema_version: 2,
            environment: Default::default(),
            config: Default::default(),
            floors: Vec::new(),
            cells,
            targets: Vec::new(),
            transports: Vec::new(),
        }
    }

    #[test]
    fn counts_rows_trials_and_precision() {
        let fast = cell("a", &[100.0, 101.0, 99.0, 100.0]);
        let slow = cell("b", &[300.0, 310.0, 290.0, 300.0]);
        let mut tied = cell("c", &[100.0, 102.0, 98.0, 100.0]);
        tied.size_bytes = 800;
        let mut other = cell("a", &[100.0, 102.0, 98.0, 100.0]);
        other.size_bytes = 800;
        let a = audit(&results(vec![fast, slow, tied, other]));
        assert_eq!((a.rows, a.winners, a.ties), (2, 1, 1));
        assert_eq!(a.headline_min_trials, 4);
        assert_eq!(a.negative_bounds, 0);
        assert_eq!(a.winners_overlapped(), 0);
        assert_eq!(a.stop_reasons.get("planned"), Some(&4));
        assert!(a.median_half_width.is_some_and(|w| w > 0.0 && w < 0.05));
        assert!(a.render().contains("transport wins 1 (50 %)"));
    }

    #[test]
    fn a_tie_among_one_backends_variants_counts_as_that_backends_win() {
        let spin = cell("shm-spin", &[100.0, 101.0, 99.0, 100.0]);
        let adaptive = cell("shm-adaptive", &[100.0, 102.0, 98.0, 100.0]);
        let pipe = cell("pipe", &[300.0, 310.0, 290.0, 300.0]);
        let mut r = results(vec![spin, adaptive, pipe]);
        let a = audit(&r);
        assert_eq!((a.winners, a.backend_winners, a.ties), (0, 0, 1));
        r.transports = ["shm-spin", "shm-adaptive", "pipe"]
            .iter()
            .map(|n| crate::TransportInfo {
                name: (*n).into(),
                backend: n.split('-').next().unwrap_or(n).into(),
                ..Default::default()
            })
            .collect();
        let a = audit(&r);
        assert_eq!((a.winners, a.backend_winners, a.ties), (0, 1, 0));
        assert_eq!(a.ties_by_variant, 1);
        assert_eq!(a.winners_overlapped(), 0);
    }

    #[test]
    fn a_shared_queue_fanout_contends_in_its_fanout_row() {
        let mut per_worker = cell("pipe", &[300.0, 310.0, 290.0, 300.0]);
        let mut shared = cell("shm-queue", &[100.0, 101.0, 99.0, 100.0]);
        for (c, w) in [(&mut per_worker, "fanout4"), (&mut shared, "fanoutq4")] {
            c.workload = w.parse().expect("workload");
            c.metric = Metric::Throughput;
        }
        let a = audit(&results(vec![per_worker, shared]));
        assert_eq!((a.rows, a.winners), (1, 1), "{a:?}");
    }

    #[test]
    fn overlapped_winners_are_listed_by_row() {
        let a = Audit {
            overlapped_rows: vec!["fanout4 409.6 KB: a 1 µs (1–2 µs) overlaps b 2 µs".into()],
            ..Audit::default()
        };
        let text = a.render();
        assert!(
            text.contains("another backend: 1\n  - fanout4 409.6 KB: a 1 µs"),
            "{text}"
        );
    }

    #[test]
    fn negative_bounds_and_medians_are_counted() {
        let mut c = cell("a", &[1.0, 2.0, 3.0]);
        c.summary.ci95_low_ns = Some(-5.0);
        let a = audit(&results(vec![c, cell("b", &[-1.0, 2.0, 3.0])]));
        // The negative trial also drags its own interval below zero.
        assert_eq!((a.negative_bounds, a.negative_medians), (2, 1));
    }
}
