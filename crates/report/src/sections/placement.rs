//! details/placement.md: what sharing a core costs, each placement against
//! `split` per transport, with the criticalities called out.

use crate::format::{MISSING, fmt_bytes, fmt_multiple, fmt_time};
use crate::index::{Index, is_throughput, primary_metric};
use crate::schema::Cell;
use crate::sections::*;
use crate::table::{Align, Table};
use crate::thresholds::*;

/// Every workload's headline metric on each placement against `split`, at
/// the smallest size, and the large ratios called out by name.
/// The figure placements are compared on: the headline median (for
/// throughputs, of the time per message); lower is better.
fn cost(c: &Cell) -> f64 {
    headline(c)
}

/// The placement sweep, headed at level 2.
pub fn render<'a>(d: &mut Doc, idx: &'a Index<'a>, py: Option<&'a Python<'a>>) {
    struct Hit<'a> {
        transport: String,
        workload: String,
        placement: String,
        ratio: f64,
        split: &'a Cell,
        other: &'a Cell,
    }
    // Ours and the Python baseline's: a workload is swept if either ran it
    // on split and on another placement.
    let sources: Vec<&Index<'_>> = std::iter::once(idx).chain(py.map(|p| &p.idx)).collect();
    let swept = |w: &String| {
        sources.iter().any(|ix| {
            let ps = ix.placements(w);
            ps.iter().any(|p| p == "split") && ps.len() > 1
        })
    };
    let mut workloads: Vec<String> = idx.workloads();
    for ix in &sources[1..] {
        for w in ix.workloads() {
            if !workloads.contains(&w) {
                workloads.push(w);
            }
        }
    }
    workloads.retain(swept);
    if workloads.is_empty() {
        return;
    }
    let mut others: Vec<String> = Vec::new();
    for ix in &sources {
        for w in &workloads {
            for p in ix.placements(w) {
                if p != "split" && !others.contains(&p) {
                    others.push(p);
                }
            }
        }
    }
    d.h(2, "Placement sweep: what sharing a core costs");
    d.para(&format!(
        "Each figure is a placement's cost relative to `split` (producer on core 0, consumers \
         on core 1) for the same transport, at the smallest size both ran, on the workload's \
         headline metric: the median (for throughputs, of the time per message). \
         2.00x = twice as slow. `same` puts every process on core 0; `none` leaves them to \
         the scheduler. Ratios of {} or more are marked ⚠ and listed below.",
        fmt_multiple(CRITICAL_RATIO)
    ));
    let mut hits: Vec<Hit<'_>> = Vec::new();
    for o in &others {
        let mut t = Table::new(
            std::iter::once(("Transport".to_owned(), Align::Left)).chain(workloads.iter().map(
                |w| {
                    (
                        format!("{w} ({})", primary_metric(w).unwrap_or("?")),
                        Align::Right,
                    )
                },
            )),
        );
        // (label, transport, index): ours, then the Python baseline's.
        let mut rows: Vec<(String, String, &Index<'_>)> = Vec::new();
        let ixs = std::iter::once(("", idx)).chain(py.map(|p| ("py ", &p.idx)));
        for (prefix, ix) in ixs {
            for w in &workloads {
                let Some(codec) = ix.codecs(w, "split").into_iter().next() else {
                    continue;
                };
                for tr in ix.transports(group(w, "split", &codec)) {
                    let label = format!("{prefix}{tr}");
                    if !rows.iter().any(|(l, _, _)| *l == label) {
                        rows.push((label, tr, ix));
                    }
                }
            }
        }
        let mut any = false;
        for (label, tr, ix) in &rows {
            let mut row = vec![label.clone()];
            let mut row_any = false;
            for w in &workloads {
                let metric = primary_metric(w).unwrap_or("");
                let codec = ix.codecs(w, "split").into_iter().next().unwrap_or_default();
                let (gs, go) = (group(w, "split", &codec), group(w, o, &codec));
                let pair = ix
                    .sizes(gs)
                    .into_iter()
                    .find_map(|s| Some((ix.ok(tr, gs, s, metric)?, ix.ok(tr, go, s, metric)?)));
                row.push(match pair {
                    Some((a, b)) if cost(a) > 0.0 => {
                        row_any = true;
                        let r = cost(b) / cost(a);
                        if r >= CRITICAL_RATIO {
                            hits.push(Hit {
                                transport: label.clone(),
                                workload: w.clone(),
                                placement: o.clone(),
                                ratio: r,
                                split: a,
                                other: b,
                            });
                            format!("**{}** ⚠", fmt_multiple(r))
                        } else {
                            fmt_multiple(r)
                        }
                    }
                    _ => MISSING.to_owned(),
                });
            }
            // A row with nothing to compare (a mode that ran on one
            // placement only) would only say so in dashes.
            if row_any {
                any = true;
                t.row(row);
            }
        }
        if any {
            d.h(3, &format!("{o} ÷ split"));
            d.table(&t);
        }
    }
    if hits.is_empty() {
        d.para(&format!(
            "No transport is {} or more slower on another placement than on `split`.",
            fmt_multiple(CRITICAL_RATIO)
        ));
        return;
    }
    hits.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
    const SHOWN: usize = 12;
    let mut lines = Vec::new();
    let mut footnotes: Vec<String> = Vec::new();
    for h in hits.iter().take(SHOWN) {
        let show = |c: &Cell| {
            if is_throughput(&c.metric) {
                msgs_per_s(c).map_or(MISSING.to_owned(), |r| fmt_per_s(r, rate_unit(&c.workload)))
            } else {
                fmt_time(c.summary.p50_ns)
            }
        };
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
        let mut d = Doc::default();
        render(&mut d, &Index::new(&r), None);
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
