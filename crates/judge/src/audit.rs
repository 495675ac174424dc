//! How much a run lets a reader conclude: the checks behind the verdicts
//! (no impossible interval, enough trials, how often the rows decide, how
//! precise the medians are), computed from a results file so they are
//! figures of the run, not claims about it.

use std::collections::BTreeMap;

use results::index::Index;
use results::schema::{Cell, Codec, Metric, Placement, Results, Status, Workload};

use crate::contenders::{Row, contenders, row_verdict};
use crate::verdict::{Ratio, Verdict, ratio};

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
    /// includes 1), each with the contenders it overlaps, so a reader can
    /// look them up.
    pub overlapped_rows: Vec<OverlappedRow>,
    /// Median half-width of the median's interval, as a fraction of the
    /// median, for split pingpong and seed cells.
    pub median_half_width: Option<f64>,
}

/// A named winner whose median interval overlaps other contenders'.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlappedRow {
    /// The row.
    pub key: RowKey,
    /// Each overlap, in the order the row lists its contenders.
    pub overlaps: Vec<Overlap>,
}

/// One overlap: both medians with their intervals, and the ratio interval
/// the verdict used.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    /// The named winner (the fastest variant when its backend wins).
    pub winner: String,
    /// Its median and the median's interval, ns.
    pub winner_median: (f64, (f64, f64)),
    /// The contender from another backend.
    pub other: String,
    /// Its median and the median's interval, ns.
    pub other_median: (f64, (f64, f64)),
    /// The ratio of the two medians with its interval, if both have one.
    pub ratio: Option<Ratio>,
}

/// The answer rows an audit judges: one per (workload, metric, size) at
/// placement `split`, codec `raw`, with every transport as a contender.
const ROW_METRICS: [(Workload, Metric); 3] = [
    (Workload::Seed, Metric::Total),
    (Workload::Pingpong, Metric::Rtt),
    (Workload::Stream, Metric::Throughput),
];

fn is_headline(c: &Cell) -> bool {
    c.placement == Placement::Split && c.codec == Codec::Raw && c.metric != Metric::RttBatch
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
        .filter(|c| c.placement == Placement::Split && c.codec == Codec::Raw)
        .filter(|c| {
            c.workload == Workload::Seed
                || (c.workload == Workload::Pingpong && c.metric == Metric::Rtt)
        })
        .filter_map(|c| c.median_ci().map(|(lo, hi)| (hi - lo) / 2.0 / c.median()))
        .collect();
    a.median_half_width = results::bootstrap::median(&widths);
    a
}

/// An answer row's key (workload, metric, size) and its named contenders.
type Rows<'a> = BTreeMap<RowKey, Vec<(String, &'a Cell)>>;

/// An answer row: the workload, its metric and the message size.
pub type RowKey = (Workload, Metric, u64);

/// The rows the audit judges (a headline cell of a row metric makes one;
/// a shared-queue fanout's is its `fanoutN` row), each with its
/// contenders as [`contenders`] gives them.
fn rows<'a>(idx: &Index<'a>) -> Rows<'a> {
    let mut keys: Vec<RowKey> = idx
        .results
        .cells
        .iter()
        .filter(|c| is_headline(c) && is_row_metric(c))
        .map(|c| {
            let workload = match c.workload {
                Workload::FanoutQ(n) => Workload::Fanout(n),
                w => w,
            };
            (workload, c.metric, c.size_bytes)
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key @ (workload, metric, size)| {
            let row = Row {
                workload,
                placement: Placement::Split,
                size,
                metric,
            };
            (key, contenders(idx, row))
        })
        .collect()
}

fn named_verdict(results: &Results, named: &[(String, &Cell)]) -> Verdict {
    row_verdict(results, named.iter().map(|(n, c)| (n.as_str(), *c)))
}

/// The verdict of every answer row the audit judges (seed total, pingpong,
/// stream and fanout throughput at split, raw, every size), as the answer
/// tables give them.
pub fn answer_rows(results: &Results) -> BTreeMap<RowKey, Verdict> {
    rows(&Index::new(results))
        .iter()
        .map(|(k, named)| (*k, named_verdict(results, named)))
        .collect()
}

/// Every answer row's verdict, as [`answer_rows`], with the median of the
/// contender it puts first (the fastest), where there is one.
pub fn answer_rows_with_medians(results: &Results) -> BTreeMap<RowKey, (Verdict, Option<f64>)> {
    rows(&Index::new(results))
        .iter()
        .map(|(k, named)| {
            let v = named_verdict(results, named);
            let median = v
                .fastest()
                .and_then(|f| named.iter().find(|(n, _)| n == f))
                .map(|(_, c)| c.median());
            (*k, (v, median))
        })
        .collect()
}

fn judge_rows(results: &Results, a: &mut Audit) {
    for (key, named) in &rows(&Index::new(results)) {
        let v = named_verdict(results, named);
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
                    let overlaps: Vec<Overlap> = named
                        .iter()
                        .filter(|(n, _)| results.backend_of(n) != backend)
                        .filter_map(|(n, c)| c.median_ci().map(|o| (n, c, o)))
                        .filter(|(_, _, o)| o.0 <= w.1 && w.0 <= o.1)
                        .map(|(n, c, o)| Overlap {
                            winner: name.clone(),
                            winner_median: (wc.median(), w),
                            other: n.clone(),
                            other_median: (c.median(), o),
                            ratio: ratio(wc, c),
                        })
                        .collect();
                    if !overlaps.is_empty() {
                        a.overlapped_rows.push(OverlappedRow {
                            key: *key,
                            overlaps,
                        });
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
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cell(transport: &str, trials: &[f64]) -> Cell {
        let mut c = Cell {
            transport: transport.into(),
            codec: Codec::Raw,
            workload: Workload::Pingpong,
            placement: Placement::Split,
            metric: Metric::Rtt,
            size_bytes: 8,
            trial_medians_ns: trials.to_vec(),
            median_ns: results::bootstrap::median(trials).unwrap_or(0.0),
            stop_reason: Some("planned".into()),
            ..Cell::default()
        };
        let ci = results::bootstrap::median_interval(trials);
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
            .map(|n| results::schema::TransportInfo {
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
    fn negative_bounds_and_medians_are_counted() {
        let mut c = cell("a", &[1.0, 2.0, 3.0]);
        c.summary.ci95_low_ns = Some(-5.0);
        let a = audit(&results(vec![c, cell("b", &[-1.0, 2.0, 3.0])]));
        // The negative trial also drags its own interval below zero.
        assert_eq!((a.negative_bounds, a.negative_medians), (2, 1));
    }
}
