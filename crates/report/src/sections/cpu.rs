//! details/cpu.md: user + system CPU time per message, producer + consumer,
//! one table per workload, placement and codec, each in one unit.

use crate::format::{MISSING, TimeUnit, fmt_bytes};
use crate::sections::{Doc, group};
use crate::table::{Align, Table};
use results::index::Index;
use results::schema::Cell;

/// Producer and consumer CPU per message, ns, where recorded.
pub type CpuPair = (Option<f64>, Option<f64>);

/// One CPU table: per size, per transport, (producer, consumer) ns.
#[derive(Debug, PartialEq)]
pub struct CpuTable {
    pub title: String,
    pub transports: Vec<String>,
    pub sizes: Vec<u64>,
    pub cells: Vec<Vec<Option<CpuPair>>>,
}

fn has_cpu(c: &Cell) -> bool {
    c.cpu_producer_ns.is_some() || c.cpu_consumer_ns.is_some()
}

/// Every group with CPU figures.
pub fn collect(idx: &Index<'_>) -> Vec<CpuTable> {
    let mut out = Vec::new();
    for (w, p, codec) in idx.groups() {
        let g = group(w, p, codec);
        if !idx.in_group(g).any(has_cpu) {
            continue;
        }
        let sizes = idx.sizes(g);
        let metrics = idx.metrics(g);
        let transports = idx.transports(g);
        let cells = sizes
            .iter()
            .map(|&s| {
                transports
                    .iter()
                    .map(|tr| {
                        // CPU time is per message, so any metric of the cell carries it.
                        metrics
                            .iter()
                            .filter_map(|&m| idx.ok(tr, g, s, m))
                            .find(|c| has_cpu(c))
                            .map(|c| (c.cpu_producer_ns, c.cpu_consumer_ns))
                    })
                    .collect()
            })
            .collect();
        out.push(CpuTable {
            title: format!("{w} · placement {p} · codec {codec}"),
            transports,
            sizes,
            cells,
        });
    }
    out
}

/// The CPU section.
pub fn render(d: &mut Doc, idx: &Index<'_>) {
    let tables = collect(idx);
    if tables.is_empty() {
        d.para("This run recorded no CPU time.");
        return;
    }
    d.para(
        "User + system CPU time per message, producer + consumer, from the processes' own \
         accounting. Time spent blocked costs nothing here; spinning does. Each table is in \
         one unit, named in its first column.",
    );
    for t in &tables {
        d.h(2, &t.title);
        let all = t
            .cells
            .iter()
            .flatten()
            .flatten()
            .map(|(a, b)| a.unwrap_or(0.0) + b.unwrap_or(0.0));
        let u = TimeUnit::for_column(all);
        let mut table = Table::new(
            std::iter::once((format!("Size ({}, prod + cons)", u.label()), Align::Left))
                .chain(t.transports.iter().map(|n| (n.clone(), Align::Right))),
        );
        let show = |v: Option<f64>| v.map_or(MISSING.to_owned(), |v| u.fmt(v));
        for (size, row) in t.sizes.iter().zip(&t.cells) {
            let mut cells = vec![fmt_bytes(*size)];
            cells.extend(row.iter().map(|c| match c {
                Some((p, c)) => format!("{} + {}", show(*p), show(*c)),
                None => MISSING.to_owned(),
            }));
            table.row(cells);
        }
        d.table(&table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn one_unit_per_table_and_cells_without_cpu_are_dashes() {
        let mut a = cell("a", "stream", "split", 8, "throughput", 1.0);
        a.cpu_producer_ns = Some(500.0);
        a.cpu_consumer_ns = Some(2_000.0);
        let mut b = cell("b", "stream", "split", 8, "throughput", 1.0);
        b.cpu_producer_ns = Some(120_000.0);
        let c = cell("c", "stream", "split", 8, "throughput", 1.0);
        let r = results(vec![a, b, c]);
        let idx = Index::new(&r);
        let t = collect(&idx);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].cells[0][2], None);
        let mut d = Doc::default();
        render(&mut d, &idx);
        // Median of 2.5 µs and 120 µs: µs for both, ns never beside ms.
        assert!(d.out.contains("Size (µs, prod + cons)"), "{}", d.out);
        assert!(
            d.out.contains("0.500 + 2.00") && d.out.contains("120 + –"),
            "{}",
            d.out
        );
    }
}
