//! details/placement.md: what sharing a core costs, each placement against
//! `split` per transport, with the criticalities called out.

use crate::format::{MISSING, fmt_bytes, fmt_multiple, fmt_time};
use crate::sections::*;
use crate::table::{Align, Table};
use judge::thresholds::*;
use results::index::{Index, is_throughput};
use results::schema::Cell;
use results::schema::{Placement, Workload};

/// The figure placements are compared on: the headline median (for
/// throughputs, of the time per message); lower is better.
fn cost(c: &Cell) -> f64 {
    headline(c)
}

/// A transport at least [`CRITICAL_RATIO`] times slower on a placement.
pub struct Hit<'a> {
    pub transport: String,
    pub workload: Workload,
    pub placement: Placement,
    pub ratio: f64,
    pub split: &'a Cell,
    pub other: &'a Cell,
}

/// One row of a placement table: the label and, per workload, the ratio to
/// `split` at the smallest size both ran.
pub type Row = (String, Vec<Option<f64>>);

/// The sweep as data: the workloads compared, one table per placement, and
/// the criticalities.
pub struct Sweep<'a> {
    pub workloads: Vec<Workload>,
    pub tables: Vec<(Placement, Vec<Row>)>,
    pub hits: Vec<Hit<'a>>,
}

/// Workloads run on `split` and another placement (ours or Python's), and
/// those other placements.
fn swept(sources: &[&Index<'_>]) -> (Vec<Workload>, Vec<Placement>) {
    let mut workloads: Vec<Workload> = Vec::new();
    for ix in sources {
        for w in ix.workloads() {
            if !workloads.contains(&w) {
                workloads.push(w);
            }
        }
    }
    workloads.retain(|w| {
        sources.iter().any(|ix| {
            let ps = ix.placements(*w);
            ps.contains(&Placement::Split) && ps.len() > 1
        })
    });
    let mut others: Vec<Placement> = Vec::new();
    for ix in sources {
        for &w in &workloads {
            for p in ix.placements(w) {
                if p != Placement::Split && !others.contains(&p) {
                    others.push(p);
                }
            }
        }
    }
    (workloads, others)
}

/// Collects the sweep; `None` when nothing ran on two placements.
pub fn collect<'a>(idx: &'a Index<'a>, py: Option<&'a Python<'a>>) -> Option<Sweep<'a>> {
    // Ours and the Python baseline's, each row labelled by its source.
    let sources: Vec<(&str, &Index<'_>)> = std::iter::once(("", idx))
        .chain(py.map(|p| ("py ", &p.idx)))
        .collect();
    let (workloads, others) = swept(&sources.iter().map(|s| s.1).collect::<Vec<_>>());
    if workloads.is_empty() {
        return None;
    }
    let mut labels: Vec<(String, String, &Index<'_>)> = Vec::new();
    for (prefix, ix) in &sources {
        for &w in &workloads {
            let Some(codec) = ix.codecs(w, Placement::Split).into_iter().next() else {
                continue;
            };
            for tr in ix.transports(group(w, Placement::Split, codec)) {
                let label = format!("{prefix}{tr}");
                if !labels.iter().any(|(l, _, _)| *l == label) {
                    labels.push((label, tr, ix));
                }
            }
        }
    }
    let mut tables = Vec::new();
    let mut hits = Vec::new();
    for &o in &others {
        let mut rows: Vec<Row> = Vec::new();
        for (label, tr, ix) in &labels {
            let ratios: Vec<Option<f64>> = workloads
                .iter()
                .map(|&w| {
                    let metric = w.primary_metric();
                    let codec = ix
                        .codecs(w, Placement::Split)
                        .into_iter()
                        .next()
                        .unwrap_or_default();
                    let (gs, go) = (group(w, Placement::Split, codec), group(w, o, codec));
                    let (a, b) = ix.sizes(gs).into_iter().find_map(|s| {
                        Some((ix.ok(tr, gs, s, metric)?, ix.ok(tr, go, s, metric)?))
                    })?;
                    let r = (cost(a) > 0.0).then(|| cost(b) / cost(a))?;
                    if r >= CRITICAL_RATIO {
                        hits.push(Hit {
                            transport: label.clone(),
                            workload: w,
                            placement: o,
                            ratio: r,
                            split: a,
                            other: b,
                        });
                    }
                    Some(r)
                })
                .collect();
            // A row with nothing to compare (a mode that ran on one
            // placement only) would only say so in dashes.
            if ratios.iter().any(Option::is_some) {
                rows.push((label.clone(), ratios));
            }
        }
        if !rows.is_empty() {
            tables.push((o, rows));
        }
    }
    hits.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
    Some(Sweep {
        workloads,
        tables,
        hits,
    })
}

/// The placement sweep, headed at level 2.
pub fn render<'a>(d: &mut Doc, idx: &'a Index<'a>, py: Option<&'a Python<'a>>) {
    let Some(sweep) = collect(idx, py) else {
        return;
    };
    d.h(2, "Placement sweep: what sharing a core costs");
    d.para(&format!(
        "Each figure is a placement's cost relative to `split` (producer on core 0, consumers \
         on core 1) for the same transport, at the smallest size both ran, on the workload's \
         headline metric: the median (for throughputs, of the time per message). \
         2.00x = twice as slow. `same` puts every process on core 0; `none` leaves them to \
         the scheduler. Ratios of {} or more are marked ⚠ and listed below.",
        fmt_multiple(CRITICAL_RATIO)
    ));
    for (o, rows) in &sweep.tables {
        let mut t = Table::new(
            std::iter::once(("Transport".to_owned(), Align::Left)).chain(
                sweep
                    .workloads
                    .iter()
                    .map(|w| (format!("{w} ({})", w.primary_metric()), Align::Right)),
            ),
        );
        for (label, ratios) in rows {
            let mut row = vec![label.clone()];
            row.extend(ratios.iter().map(|r| match r {
                Some(r) if *r >= CRITICAL_RATIO => format!("**{}** ⚠", fmt_multiple(*r)),
                Some(r) => fmt_multiple(*r),
                None => MISSING.to_owned(),
            }));
            t.row(row);
        }
        d.h(3, &format!("{o} ÷ split"));
        d.table(&t);
    }
    render_hits(d, &sweep.hits);
}

/// The criticalities, largest first, with the notes of their cells.
fn render_hits(d: &mut Doc, hits: &[Hit<'_>]) {
    if hits.is_empty() {
        d.para(&format!(
            "No transport is {} or more slower on another placement than on `split`.",
            fmt_multiple(CRITICAL_RATIO)
        ));
        return;
    }
    const SHOWN: usize = 12;
    let mut lines = Vec::new();
    let mut footnotes: Vec<String> = Vec::new();
    let show = |c: &Cell| {
        if is_throughput(c.metric) {
            msgs_per_s(c).map_or(MISSING.to_owned(), |r| fmt_per_s(r, rate_unit(c.workload)))
        } else {
            fmt_time(headline(c))
        }
    };
    for h in hits.iter().take(SHOWN) {
        let mut line = format!(
            "- **{}**, {} {} at {}: {} on `{}` against {} on `split` ({} worse)",
            h.transport,
            h.workload,
            h.split.metric,
            fmt_bytes(h.split.size_bytes),
            show(h.other),
            h.placement,
            show(h.split),
            fmt_multiple(h.ratio)
        );
        if let Some(note) = &h.other.note {
            // Notes differ in their numbers (50 messages for ping-pong, 200
            // for stream): one mark per distinct note.
            let i = footnotes.iter().position(|n| n == note).unwrap_or_else(|| {
                footnotes.push(note.clone());
                footnotes.len() - 1
            });
            line.push(' ');
            line.push_str(&footnote_mark(i));
        }
        lines.push(line);
    }
    if hits.len() > SHOWN {
        lines.push(format!(
            "- … and {} more (see the tables).",
            hits.len() - SHOWN
        ));
    }
    for (i, note) in footnotes.iter().enumerate() {
        lines.push(format!("\n{} {note}.", footnote_mark(i)));
    }
    d.para(&format!(
        "**Criticalities** (largest first). A busy-waiting receiver that shares its core \
         with the sender holds the core until the scheduler preempts it, so every handover \
         costs a timeslice (milliseconds); more processes than cores does the same to \
         anything that spins.\n\n{}",
        lines.join("\n")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn a_collapse_on_a_shared_core_is_marked_and_listed() {
        let r = results(vec![
            cell("spin", "pingpong", "split", 8, "rtt", 300.0),
            cell("spin", "pingpong", "same", 8, "rtt", 6e6),
            cell("block", "pingpong", "split", 8, "rtt", 5_000.0),
            cell("block", "pingpong", "same", 8, "rtt", 6_000.0),
        ]);
        let idx = Index::new(&r);
        let sweep = collect(&idx, None).expect("a sweep");
        assert_eq!(sweep.tables.len(), 1);
        assert_eq!(sweep.hits.len(), 1);
        assert_eq!(sweep.hits[0].transport, "spin");
        let mut d = Doc::default();
        render(&mut d, &idx, None);
        let row = |name: &str| {
            d.out
                .lines()
                .find(|l| l.starts_with(&format!("| {name} ")))
                .expect("row")
                .to_owned()
        };
        assert!(row("spin").contains("**20000x** ⚠"), "{}", d.out);
        assert!(row("block").contains("1.20x") && !row("block").contains('⚠'));
        assert!(
            d.out.contains("- **spin**, pingpong rtt at 8 B"),
            "{}",
            d.out
        );
    }
}
