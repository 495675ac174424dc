//! The run's audit (see `judge::audit`) as a short Markdown list: what
//! `cargo xtask audit` prints.

use std::fmt::Write;

use judge::audit::{Audit, Overlap, OverlappedRow};
use results::bootstrap::MIN_TRIALS;

use crate::format::{fmt_bytes, fmt_time};

/// The audit as a short Markdown list.
pub fn render(a: &Audit) -> String {
    let pct = |n: usize, of: usize| {
        if of == 0 {
            "–".to_owned()
        } else {
            format!("{:.0} %", 100.0 * n as f64 / of as f64)
        }
    };
    let mut o = String::new();
    let _ = writeln!(o, "- cells measured: {}", a.cells);
    let _ = writeln!(
        o,
        "- intervals with a negative lower bound: {}; negative medians: {}; throughput intervals reaching zero: {}",
        a.negative_bounds, a.negative_medians, a.throughput_crossing_zero
    );
    let reasons: Vec<String> = a
        .stop_reasons
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    let _ = writeln!(
        o,
        "- headline cells (split, raw): {}, fewest trials {} (an interval needs {MIN_TRIALS}); stopped by: {}",
        a.headline_cells,
        a.headline_min_trials,
        reasons.join(", ")
    );
    let _ = writeln!(
        o,
        "- answer rows (seed total, pingpong, stream and fanout throughput at split, every size): {}: transport wins {} ({}), backend wins with its variants tied {} ({}), tie across backends {} ({}), undecided or failed {}",
        a.rows,
        a.winners,
        pct(a.winners, a.rows),
        a.backend_winners,
        pct(a.backend_winners, a.rows),
        a.ties,
        pct(a.ties, a.rows),
        a.undecided
    );
    let _ = writeln!(
        o,
        "- the same rows with every variant judged as a transport of its own: tie {} ({})",
        a.ties_by_variant,
        pct(a.ties_by_variant, a.rows),
    );
    let _ = writeln!(
        o,
        "- named winners whose median interval overlaps a contender's from another backend: {}",
        a.winners_overlapped()
    );
    for row in &a.overlapped_rows {
        let _ = writeln!(o, "  - {}", overlapped_row(row));
    }
    let _ = writeln!(
        o,
        "- median half-width of the median's interval, split pingpong and seed cells: {}",
        a.median_half_width.map_or("–".to_owned(), |w| format!(
            "{:.1} % of the median",
            w * 100.0
        ))
    );
    o
}

/// "row: note; note", each note in the units of the row's metric.
fn overlapped_row(row: &OverlappedRow) -> String {
    let notes: Vec<String> = row.overlaps.iter().map(overlap_note).collect();
    format!(
        "{} {}: {}",
        row.key.0,
        fmt_bytes(row.key.2),
        notes.join("; ")
    )
}

/// One overlap: both medians' intervals and the ratio interval the verdict
/// used.
fn overlap_note(o: &Overlap) -> String {
    let show = |(median, (lo, hi)): (f64, (f64, f64))| {
        format!("{} ({}–{})", fmt_time(median), fmt_time(lo), fmt_time(hi))
    };
    let ratio = o.ratio.map_or_else(
        || "no ratio interval".to_owned(),
        |r| format!("ratio {:.3} ({:.3}–{:.3})", r.estimate, r.low, r.high),
    );
    format!(
        "{} {} overlaps {} {}, {ratio}",
        o.winner,
        show(o.winner_median),
        o.other,
        show(o.other_median)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use judge::verdict::Ratio;
    use results::schema::{Metric, Workload};

    #[test]
    fn rows_are_counted_with_their_share() {
        let a = Audit {
            rows: 2,
            winners: 1,
            ties: 1,
            ..Audit::default()
        };
        assert!(
            render(&a).contains("transport wins 1 (50 %)"),
            "{}",
            render(&a)
        );
    }

    #[test]
    fn overlapped_winners_are_listed_by_row() {
        let a = Audit {
            overlapped_rows: vec![OverlappedRow {
                key: (Workload::Fanout(4), Metric::Throughput, 409_600),
                overlaps: vec![Overlap {
                    winner: "a".into(),
                    winner_median: (1_000.0, (1_000.0, 2_000.0)),
                    other: "b".into(),
                    other_median: (2_000.0, (1_500.0, 2_500.0)),
                    ratio: Some(Ratio {
                        estimate: 2.0,
                        low: 0.9,
                        high: 3.0,
                    }),
                }],
            }],
            ..Audit::default()
        };
        let text = render(&a);
        assert!(
            text.contains(
                "another backend: 1\n  - fanout4 409.6 KB: a 1.00 µs (1.00 µs–2.00 µs) \
                 overlaps b 2.00 µs (1.50 µs–2.50 µs), ratio 2.000 (0.900–3.000)"
            ),
            "{text}"
        );
    }
}
