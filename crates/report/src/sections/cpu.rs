//! details/cpu.md: user + system CPU time per message, producer + consumer.

use crate::format::{MISSING, TimeUnit, fmt_bytes};
use crate::index::Index;
use crate::schema::Cell;
use crate::sections::*;
use crate::table::{Align, Table};

/// The CPU tables, one per workload, placement and codec.
pub fn render(d: &mut Doc, idx: &Index<'_>) {
    let has_cpu = |c: &Cell| c.cpu_producer_ns.is_some() || c.cpu_consumer_ns.is_some();
    let groups: Vec<(String, String, String)> = idx
        .groups()
        .into_iter()
        .filter(|(w, p, c)| idx.in_group(group(w, p, c)).any(has_cpu))
        .collect();
    if groups.is_empty() {
        return;
    }
    d.h(2, "CPU cost per message");
    d.para(
        "User + system CPU time per message, producer + consumer, from the processes' \
         own accounting. Time spent blocked costs nothing here; spinning does.",
    );
    for (w, p, codec) in groups {
        let g = group(&w, &p, &codec);
        let sizes = idx.sizes(g);
        let metrics = idx.metrics(g);
        let columns: Vec<(String, Vec<Slot<'_>>)> = idx
            .transports(g)
            .into_iter()
            .map(|tr| {
                let slots = sizes
                    .iter()
                    .map(|&s| {
                        // CPU time is per message, so any metric of the cell carries it.
                        let c = metrics
                            .iter()
                            .filter_map(|m| idx.ok(&tr, g, s, m))
                            .find(|c| has_cpu(c));
                        c.map_or(Slot::Missing, Slot::Ok)
                    })
                    .collect();
                (tr, slots)
            })
            .collect();
        d.h(3, &format!("{w} · placement {p} · codec {codec}"));
        let mut t = Table::new(std::iter::once(("Size".to_owned(), Align::Left)).chain(
            columns.iter().map(|(name, slots)| {
                let u = TimeUnit::for_column(slots.iter().filter_map(|s| s.ok()).map(cpu_sum));
                (format!("{name} ({}, prod + cons)", u.label()), Align::Right)
            }),
        ));
        for (i, &size) in sizes.iter().enumerate() {
            let mut row = vec![fmt_bytes(size)];
            for (_, slots) in &columns {
                let u = TimeUnit::for_column(slots.iter().filter_map(|s| s.ok()).map(cpu_sum));
                row.push(match slots[i].ok() {
                    Some(c) => format!(
                        "{} + {}",
                        c.cpu_producer_ns.map_or(MISSING.to_owned(), |v| u.fmt(v)),
                        c.cpu_consumer_ns.map_or(MISSING.to_owned(), |v| u.fmt(v)),
                    ),
                    None => MISSING.to_owned(),
                });
            }
            t.row(row);
        }
        d.table(&t);
    }
}
