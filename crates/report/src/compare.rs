//! A comparison of two runs (see `judge::compare`) as Markdown: the
//! summary counts, the answer rows whose decision changed, the cells that
//! changed beyond noise or failed, and the cells only in one run.

use std::fmt::Write;

use judge::compare::{CellChange, CellKey, Comparison, Verdict};
use judge::rows::{RowChanges, RowMove};
use results::schema::{Placement, Workload};

use crate::format::{MISSING, fmt_bytes, fmt_change, fmt_time, round_sig};
use crate::table::{Align, Table};
use crate::words;

/// The comparison as Markdown, headed `# Comparison`: the summary counts,
/// the cells that changed beyond noise or failed, and cells only in one run;
/// `all` adds a table of every matched cell (one row per cell, thousands in
/// a full run).
pub fn render_comparison(c: &Comparison, all: bool) -> String {
    let mut out = format!("# Comparison\n\n{}", render_body(c, 2, all));
    if !all && !c.changes.is_empty() {
        out.push_str(&format!(
            "{} matched cells in all; `--all` lists every one.\n",
            c.changes.len()
        ));
    }
    out
}

/// The comparison's body, with its sub-headings at `level`; `all` adds the
/// table of every matched cell (long: one row per cell).
pub(crate) fn render_body(c: &Comparison, level: usize, all: bool) -> String {
    let h = "#".repeat(level);
    let mut out = String::new();
    let threshold = format!("{}%", round_sig(c.threshold * 100.0, 3));
    out.push_str(&format!(
        "Old: {}. New: {}. A cell is faster or slower only when the 95% confidence \
         intervals of its mean do not overlap and the mean moved by more than {threshold}; \
         the change is (new − old) / old, negative = faster.\n\n",
        c.old_label, c.new_label,
    ));
    for w in &c.warnings {
        out.push_str(&format!("- **warning**: {w}\n"));
    }
    if !c.warnings.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!(
        "{} faster, {} slower, {} no change, {} inconclusive, {} failed; {} only in the \
         old run, {} only in the new run.\n\n",
        c.count(Verdict::Faster),
        c.count(Verdict::Slower),
        c.count(Verdict::NoChange),
        c.count(Verdict::Inconclusive),
        c.count(Verdict::Failed),
        c.only_old.len(),
        c.only_new.len(),
    ));
    out.push_str(&render_rows(&c.rows, level));
    let notable: Vec<&CellChange> = c
        .changes
        .iter()
        .filter(|x| x.verdict != Verdict::NoChange)
        .collect();
    if !notable.is_empty() {
        out.push_str(&format!("{h} Changes beyond noise, and failures\n\n"));
        out.push_str(&change_table(&notable).render());
        out.push('\n');
    }
    if all && !c.changes.is_empty() {
        out.push_str(&format!("{h} All matched cells\n\n"));
        out.push_str(&change_table(&c.changes.iter().collect::<Vec<_>>()).render());
        out.push('\n');
    }
    for (title, keys) in [
        ("Only in the old run", &c.only_old),
        ("Only in the new run", &c.only_new),
    ] {
        if keys.is_empty() {
            continue;
        }
        out.push_str(&format!("{h} {title}\n\n"));
        for line in summarize_keys(keys) {
            out.push_str(&format!("- {line}\n"));
        }
        out.push('\n');
    }
    out
}

/// Keys grouped by transport, codec, workload and placement, listing sizes
/// and metrics: one line per group instead of one per cell.
fn summarize_keys(keys: &[CellKey]) -> Vec<String> {
    type Id<'k> = (&'k str, &'k str, Workload, Placement);
    let mut groups: Vec<(Id<'_>, Vec<u64>, Vec<&str>)> = Vec::new();
    for k in keys {
        let id = (
            k.transport.as_str(),
            k.codec.name(),
            k.workload,
            k.placement,
        );
        let i = match groups.iter().position(|g| g.0 == id) {
            Some(i) => i,
            None => {
                groups.push((id, Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        if !g.1.contains(&k.size_bytes) {
            g.1.push(k.size_bytes);
        }
        if !g.2.contains(&k.metric.name()) {
            g.2.push(k.metric.name());
        }
    }
    groups
        .into_iter()
        .map(|((t, c, w, p), mut sizes, metrics)| {
            sizes.sort_unstable();
            let sizes: Vec<String> = sizes.into_iter().map(fmt_bytes).collect();
            format!(
                "{t} / {c} / {w} / {p}: {} ({})",
                sizes.join(", "),
                metrics.join(", ")
            )
        })
        .collect()
}

fn change_table(rows: &[&CellChange]) -> Table {
    let mut t = Table::new([
        ("Transport", Align::Left),
        ("Codec", Align::Left),
        ("Workload", Align::Left),
        ("Placement", Align::Left),
        ("Size", Align::Left),
        ("Metric", Align::Left),
        ("Old mean", Align::Right),
        ("New mean", Align::Right),
        ("Change (mean)", Align::Right),
        ("Change (p50)", Align::Right),
        ("Verdict", Align::Left),
    ]);
    for r in rows {
        let k = &r.key;
        let (old, new) = match r.failed {
            Some("old") => ("failed".to_owned(), fmt_time(r.new_mean_ns)),
            Some("new") => (fmt_time(r.old_mean_ns), "failed".to_owned()),
            Some(_) => ("failed".to_owned(), "failed".to_owned()),
            None => (fmt_time(r.old_mean_ns), fmt_time(r.new_mean_ns)),
        };
        let (ch, p50) = if r.failed.is_some() {
            (MISSING.to_owned(), MISSING.to_owned())
        } else {
            (fmt_change(r.change), fmt_change(r.p50_change))
        };
        let verdict = match (r.verdict, r.failed) {
            (Verdict::Failed, Some(side)) => format!("failed ({side})"),
            (v, _) => v.label().to_owned(),
        };
        t.row([
            k.transport.clone(),
            k.codec.to_string(),
            k.workload.to_string(),
            k.placement.to_string(),
            fmt_bytes(k.size_bytes),
            k.metric.to_string(),
            old,
            new,
            ch,
            p50,
            verdict,
        ]);
    }
    t
}

/// The summary sentence and, if any row changed, its table, with the
/// sub-heading at `level`.
fn render_rows(r: &RowChanges, level: usize) -> String {
    let mut out = String::new();
    if r.matched == 0 {
        return out;
    }
    let _ = writeln!(
        out,
        "Answer rows (seed total, pingpong, stream and fanout throughput at split): {} in \
         both runs; {} flipped to another backend, {} name the same backend differently \
         (a variant, or the backend with its variants tied), {} decided only in the new \
         run, {} decided only in the old run.\n",
        r.matched,
        r.count(RowMove::Flipped),
        r.count(RowMove::Variant),
        r.count(RowMove::Decided),
        r.count(RowMove::Undecided),
    );
    if r.changed.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{} Answer rows whose decision changed\n",
        "#".repeat(level)
    );
    let mut t = Table::new([
        ("Workload", Align::Left),
        ("Metric", Align::Left),
        ("Size", Align::Left),
        ("Old answer", Align::Left),
        ("New answer", Align::Left),
        ("Change", Align::Left),
    ]);
    for c in &r.changed {
        let (w, m, size) = c.key;
        t.row([
            w.to_string(),
            m.to_string(),
            fmt_bytes(size),
            words::verdict(&c.old),
            words::verdict(&c.new),
            c.moved.label().to_owned(),
        ]);
    }
    out.push_str(&t.render());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use judge::rows::RowChange;
    use judge::verdict::Verdict as RowVerdict;
    use results::schema::Metric;

    fn won(name: &str) -> RowVerdict {
        RowVerdict::Winner {
            name: name.into(),
            others: Vec::new(),
        }
    }

    #[test]
    fn a_flipped_row_is_shown_with_both_answers() {
        let r = RowChanges {
            matched: 1,
            changed: vec![RowChange {
                key: (Workload::Pingpong, Metric::Rtt, 8),
                old: won("a"),
                new: won("b"),
                moved: RowMove::Flipped,
            }],
        };
        let text = render_rows(&r, 2);
        assert!(text.contains("1 flipped"), "{text}");
        assert!(
            text.contains("| **a**") && text.contains("| **b**") && text.contains("flipped |"),
            "{text}"
        );
        assert_eq!(render_rows(&RowChanges::default(), 2), "");
    }
}
