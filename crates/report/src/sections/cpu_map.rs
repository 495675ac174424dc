//! The core-to-core map on the environment page: how many pairs of CPUs
//! were timed (all, or a sample) in which probe shape, the spread per
//! relation, and every pair.

use std::collections::BTreeMap;

use crate::format::{MISSING, fmt_time, median};
use crate::sections::Doc;
use crate::table::{Align, Table};
use results::CpuMap;

/// The map's section, headed at level 3.
pub fn cpu_map(d: &mut Doc, m: &CpuMap) {
    d.h(3, "Core-to-core map");
    if let Some(why) = &m.not_measured {
        d.para(&format!("Not measured: {why}."));
        return;
    }
    d.para(&format!(
        "The cheapest cache-line probe ({}) between pairs of CPUs, each in its own forked pair \
         (docs/methodology.md, \"The core-to-core map\"): {} of the machine's {} pairs{}, \
         planned for a {:.0} s budget.",
        m.shape,
        m.pairs.len(),
        m.pairs_total,
        if m.sampled() {
            " (a sample: one pair of each relation, then pairs spread evenly)"
        } else {
            ""
        },
        m.budget_s
    ));
    let mut by_relation: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for p in &m.pairs {
        if let Some(ns) = p.p50_ns {
            by_relation
                .entry(p.relation.as_deref().unwrap_or("unknown"))
                .or_default()
                .push(ns);
        }
    }
    if by_relation.len() > 1 {
        let mut t = Table::new([
            ("Relation", Align::Left),
            ("pairs", Align::Right),
            ("min p50", Align::Right),
            ("median p50", Align::Right),
            ("max p50", Align::Right),
        ]);
        for (rel, v) in &by_relation {
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(0.0, f64::max);
            t.row([
                (*rel).to_owned(),
                v.len().to_string(),
                fmt_time(min),
                median(v.iter().copied()).map_or(MISSING.to_owned(), fmt_time),
                fmt_time(max),
            ]);
        }
        d.table(&t);
    }
    let mut t = Table::new([
        ("CPUs", Align::Left),
        ("Relation", Align::Left),
        ("p50", Align::Right),
        ("batch-timed", Align::Right),
    ]);
    for p in &m.pairs {
        let cpus = format!("{}/{}", p.cpus[0], p.cpus[1]);
        let rel = p.relation.clone().unwrap_or_else(|| "unknown".into());
        match (p.p50_ns, p.batch_ns) {
            (Some(p50), batch) => t.row([
                cpus,
                rel,
                fmt_time(p50),
                batch.map_or(MISSING.to_owned(), fmt_time),
            ]),
            _ => t.row([
                cpus,
                rel,
                format!(
                    "not measured: {}",
                    p.not_measured.as_deref().unwrap_or("no reason recorded")
                ),
            ]),
        }
    }
    d.table(&t);
}
