//! The answers as Markdown: one table per question, and the floor costs.

use super::{Answer, FloorCost};
use crate::format::{MISSING, fmt_multiple, fmt_percent};
use crate::sections::Doc;
use crate::table::{Align, Table};

/// Renders one answer as a section headed at `level`.
pub fn render_at(d: &mut Doc, a: &Answer, level: usize) {
    d.h(level, &a.question);
    d.para(&a.lead);
    if a.rows.is_empty() {
        return;
    }
    let with_py = a.rows.iter().any(|r| r.vs_python != MISSING);
    let mut cols = vec![
        ("Case".to_owned(), Align::Left),
        ("Winner".to_owned(), Align::Left),
        (a.figure_header.clone(), Align::Right),
        ("Verdict".to_owned(), Align::Left),
    ];
    if with_py {
        cols.push(("vs mp.Queue".to_owned(), Align::Right));
    }
    let mut t = Table::new(cols);
    for r in &a.rows {
        let mut row = vec![
            r.case.clone(),
            r.winner.clone(),
            r.figure.clone(),
            r.verdict.clone(),
        ];
        if with_py {
            row.push(r.vs_python.clone());
        }
        t.row(row);
    }
    d.table(&t);
}

/// Renders one answer as a README section.
pub fn render(d: &mut Doc, a: &Answer) {
    render_at(d, a, 2);
}

/// Renders the floor-cost answer.
pub fn render_floors(d: &mut Doc, rows: &[FloorCost]) {
    d.h(2, "What each transport costs over the machine's floor");
    if rows.is_empty() {
        d.para("This run has no floors or no pingpong/stream cells to set against them.");
        return;
    }
    d.para(
        "The smallest ping-pong round trip as a multiple of the cheapest possible round trip \
         (one cache line, both processes spinning) and of a bare 8-byte pipe round trip, timed \
         two ways: per round trip (a clock read inside every round trip, on both sides of the \
         ratio) and batch-timed (many round trips between two clock reads, on both sides); the \
         largest stream rate as a share of one `memcpy`. Floors: \
         [details/environment.md](details/environment.md).",
    );
    let mut t = Table::new([
        ("Transport", Align::Left),
        ("RTT ÷ cache line", Align::Right),
        ("batch ÷ batch cache line", Align::Right),
        ("RTT ÷ bare pipe", Align::Right),
        ("batch ÷ batch bare pipe", Align::Right),
        ("stream ÷ memcpy", Align::Right),
    ]);
    for r in rows {
        t.row([
            r.transport.clone(),
            r.over_cacheline.map_or(MISSING.to_owned(), fmt_multiple),
            r.over_cacheline_batch
                .map_or(MISSING.to_owned(), fmt_multiple),
            r.over_pipe.map_or(MISSING.to_owned(), fmt_multiple),
            r.over_pipe_batch.map_or(MISSING.to_owned(), fmt_multiple),
            r.of_memcpy.map_or(MISSING.to_owned(), fmt_percent),
        ]);
    }
    d.table(&t);
}
