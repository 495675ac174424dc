//! The README's answers: one short section per question a user brings, each
//! a small table with the winner, the verdict and "vs mp.Queue". Rows are
//! collected as plain data first ([`Answer`]), then rendered. The questions
//! are in [`questions`] (the patterns' in [`patterns`]), the costs over the machine's floors in [`floors`],
//! the tables in [`render`]; this module holds the rows and the contest
//! every question runs (which cells contend and who wins is the judge's:
//! `judge::contenders`).

mod floors;
mod handover;
mod patterns;
mod questions;
mod render;

pub use floors::{FloorCost, floor_costs, primary_floors};
pub use handover::handover;
pub use patterns::{broadcast, gather};
pub use questions::{cpu, fanout, latency, per_size, python, throughput};
pub use render::{FLOOR_HEADER, render, render_at, render_floors};

use crate::format::MISSING;
use crate::sections::{Python, group, headline, versus};
use crate::words;
use judge::contenders::{Row as Contest, contenders, row_codec, row_verdict};
use judge::verdict;
use results::index::Index;
use results::schema::{Cell, Metric, Placement, Results, Status, Workload};

/// One row of an answer table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What the row is about: `4 workers, 800 B`.
    pub case: String,
    /// The fastest (or cheapest), or `–`.
    pub winner: String,
    /// Its figure, in the row's natural unit.
    pub figure: String,
    /// Whether it wins, and over whom, in words.
    pub verdict: String,
    /// Against Python's `multiprocessing.Queue`, where it ran the case.
    pub vs_python: String,
    /// The floors the row's figure is read against (the hand-over's one
    /// memcpy of the size), where the question has them.
    pub floor: Option<String>,
}

/// One question and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Anchor-friendly heading.
    pub question: String,
    /// What the rows measure and where to find the rest.
    pub lead: String,
    /// The rows; empty when the run cannot answer (then `lead` says why).
    pub rows: Vec<Row>,
    /// Header of the figure column.
    pub figure_header: String,
}

/// The verdict for one row: the fastest contender and a sentence on how
/// sure the run is of it.
pub fn judge(results: &Results, contenders: &[(&str, &Cell)]) -> (Option<String>, String) {
    judge_by(contenders, &|ok| row_verdict(results, ok.iter().copied()))
}

/// A row's verdict rule: judges the contenders that measured.
pub(super) type Rule<'r> = dyn Fn(&[(&str, &Cell)]) -> verdict::Verdict + 'r;

/// [`judge`] with the row's verdict rule given: `rule` judges the cells
/// that measured (failed ones are named in the sentence).
pub(super) fn judge_by(contenders: &[(&str, &Cell)], rule: &Rule<'_>) -> (Option<String>, String) {
    let ok: Vec<(&str, &Cell)> = contenders
        .iter()
        .filter(|(_, c)| c.status == Status::Ok)
        .copied()
        .collect();
    let failed: Vec<&str> = contenders
        .iter()
        .filter(|(_, c)| c.status == Status::Failed)
        .map(|(n, _)| *n)
        .collect();
    let v = rule(&ok);
    let mut text = words::verdict(&v);
    // The nearest contender the fastest beats, with the ratio's interval:
    // how much the win is worth.
    let beaten = v.comparisons().into_iter().find(|c| c.beaten);
    if let Some(c) = beaten
        && let Some(r) = &c.ratio
    {
        text.push_str(&format!("; {} faster than {}", words::ratio(r), c.name));
    }
    if ok.is_empty() && !failed.is_empty() {
        text = format!("every contender failed ({})", failed.join(", "));
    } else if !failed.is_empty() {
        text.push_str(&format!(" (failed: {})", failed.join(", ")));
    }
    (v.fastest().map(str::to_owned), text)
}

/// [`judge`], with the fastest contender's cell.
pub(super) fn judge_with_cell<'c>(
    results: &Results,
    cells: &[(&str, &'c Cell)],
) -> (Option<String>, Option<&'c Cell>, String) {
    with_cell(cells, judge(results, cells))
}

/// The fastest contender's cell beside a judgement.
pub(super) fn with_cell<'c>(
    cells: &[(&str, &'c Cell)],
    (fastest, verdict): (Option<String>, String),
) -> (Option<String>, Option<&'c Cell>, String) {
    let best = fastest
        .as_deref()
        .and_then(|f| cells.iter().find(|(n, _)| *n == f))
        .map(|(_, c)| *c);
    (fastest, best, verdict)
}

/// The row for one (workload, placement, size, metric): every transport in
/// the run contends.
#[allow(clippy::too_many_arguments)] // one row of one contest: each argument is part of its identity
pub(super) fn contest(
    idx: &Index<'_>,
    py: Option<&Python<'_>>,
    w: Workload,
    p: Placement,
    size: u64,
    metric: Metric,
    case: String,
    figure: &dyn Fn(&Cell) -> String,
) -> Option<Row> {
    let row = Contest {
        workload: w,
        placement: p,
        size,
        metric,
    };
    let owned = contenders(idx, row);
    let cells: Vec<(&str, &Cell)> = owned.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    if cells.is_empty() {
        return None;
    }
    let (fastest, best, verdict) = judge_with_cell(idx.results, &cells);
    let vs_python = match (best, py.and_then(|py| Some((py, py.main_in(w)?)))) {
        (Some(c), Some((py, main))) => py
            .idx
            .placements(w)
            .contains(&p.to_owned())
            .then(|| py.cell_in(w, &main, p, size, metric))
            .flatten()
            .map_or(MISSING.to_owned(), |pc| versus_python(c, pc)),
        _ => MISSING.to_owned(),
    };
    Some(Row {
        case,
        winner: fastest.unwrap_or_else(|| MISSING.to_owned()),
        figure: best.map_or(MISSING.to_owned(), figure),
        verdict,
        vs_python,
        floor: None,
    })
}

/// "12.3x faster (10.1–14.2)": the winner against Python's cell, with the
/// ratio's interval where both have enough trials.
pub(super) fn versus_python(c: &Cell, py: &Cell) -> String {
    match verdict::ratio(c, py) {
        Some(r) if r.estimate >= 1.0 => format!("{} faster", words::ratio(&r)),
        Some(r) => format!(
            "{} slower",
            words::ratio(&verdict::Ratio {
                estimate: 1.0 / r.estimate,
                low: 1.0 / r.high,
                high: 1.0 / r.low,
            })
        ),
        None => versus(headline(py), headline(c)),
    }
}

/// The smallest and the largest of `sizes` (one if they coincide).
pub(super) fn ends(sizes: &[u64]) -> Vec<u64> {
    match (sizes.first(), sizes.last()) {
        (Some(&a), Some(&b)) if a != b => vec![a, b],
        (Some(&a), _) => vec![a],
        _ => Vec::new(),
    }
}

pub(super) fn sizes_of(idx: &Index<'_>, w: Workload, p: Placement) -> Vec<u64> {
    row_codec(idx, w, p)
        .map(|c| idx.sizes(group(w, p, c)))
        .unwrap_or_default()
}
