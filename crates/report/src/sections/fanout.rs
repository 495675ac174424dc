//! The fanout summary: task throughput and latency as the number of workers grows.

use crate::format::{CountUnit, MISSING, TimeUnit, fmt_bytes, fmt_multiple};
use crate::sections::*;
use crate::table::{Align, Table};
use judge::contenders::ONE_QUEUE;
use results::index::{Group, Index};
use results::schema::Cell;
use results::schema::{Codec, Metric, Placement, Workload};

/// One row: a transport (or Python), its throughput cell per N and its
/// latency cell per N.
pub type Row<'c> = (String, Vec<Option<&'c Cell>>, Vec<Option<&'c Cell>>);

/// One placement's scaling table as data.
pub struct Scaling<'c> {
    pub placement: Placement,
    pub size: u64,
    pub rows: Vec<Row<'c>>,
}

/// The fanout workloads' worker counts (of either mode), and a scaling
/// table per placement.
pub fn collect<'c>(idx: &Index<'c>, py: Option<&Python<'c>>) -> (Vec<u32>, Vec<Scaling<'c>>) {
    let of = |shared: bool| -> Vec<Workload> {
        idx.workloads()
            .into_iter()
            .filter(|w| w.is_fanout() && w.shared_queue() == shared)
            .collect()
    };
    let modes = Modes {
        channels: of(false),
        shared: of(true),
    };
    let mut placements: Vec<Placement> = Vec::new();
    for &w in modes.channels.iter().chain(&modes.shared) {
        for p in idx.placements(w) {
            if !placements.contains(&p) {
                placements.push(p);
            }
        }
    }
    let mut ns: Vec<u32> = modes
        .channels
        .iter()
        .chain(&modes.shared)
        .filter_map(|w| w.parameter().map(u32::from))
        .collect();
    ns.sort_unstable();
    ns.dedup();
    let tables = placements
        .iter()
        .filter_map(|&p| collect_placement(idx, py, &modes, &ns, p))
        .collect();
    (ns, tables)
}

/// The fanout workloads of a run, by mode.
struct Modes {
    /// `fanoutN`: one channel per worker.
    channels: Vec<Workload>,
    /// `fanoutqN` (N workers pulling from one queue), shown beside one
    /// channel per worker.
    shared: Vec<Workload>,
}

/// One mode's (workload, group) pairs at a placement, and a row per
/// transport: its cells per N (None where that N did not run).
struct Mode {
    groups: Vec<(Workload, Group)>,
}

impl Mode {
    fn new(keys: &[(Workload, Codec)], p: Placement) -> Self {
        Self {
            groups: keys.iter().map(|(w, c)| (*w, group(*w, p, *c))).collect(),
        }
    }

    fn transports(&self, idx: &Index<'_>) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (_, g) in &self.groups {
            for tr in idx.transports(*g) {
                if !names.contains(&tr) {
                    names.push(tr);
                }
            }
        }
        names
    }

    /// A transport's cells of `metric` at each of `ns` workers.
    fn cells<'c>(
        &self,
        idx: &Index<'c>,
        tr: &str,
        ns: &[u32],
        size: u64,
        metric: Metric,
    ) -> Vec<Option<&'c Cell>> {
        ns.iter()
            .map(|&n| {
                self.groups
                    .iter()
                    .find(|(w, _)| w.parameter().map(u32::from) == Some(n))
                    .and_then(|(_, g)| idx.ok(tr, *g, size, metric))
            })
            .collect()
    }
}

/// One placement's table, at the smallest size Python ran too (our
/// smallest without it): one channel per worker first, then the shared
/// queue, then Python.
fn collect_placement<'c>(
    idx: &Index<'c>,
    py: Option<&Python<'c>>,
    modes: &Modes,
    ns: &[u32],
    p: Placement,
) -> Option<Scaling<'c>> {
    let keys = first_codecs(idx, &modes.channels, p);
    let qkeys = first_codecs(idx, &modes.shared, p);
    let channels = Mode::new(&keys, p);
    let shared = Mode::new(&qkeys, p);
    if channels.groups.is_empty() && shared.groups.is_empty() {
        return None;
    }
    // Python's baseline counts only where it ran this very placement
    // (its figures from another placement would pass for these).
    let py = py.filter(|py| {
        channels
            .groups
            .iter()
            .any(|(w, _)| py.idx.placements(*w).contains(&p))
    });
    let mut sizes: Vec<u64> = channels
        .groups
        .iter()
        .chain(&shared.groups)
        .flat_map(|(_, g)| idx.sizes(*g))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    // The smallest size, or with Python beside, the smallest it ran too
    // (the notebook starts at 100 elements; ours at 8 B).
    let py_has = |size: u64| {
        py.is_some_and(|py| {
            channels.groups.iter().any(|(w, _)| {
                py.transports_in(*w)
                    .iter()
                    .any(|pt| py.cell_in(*w, pt, p, size, Metric::Throughput).is_some())
            })
        })
    };
    let size = sizes
        .iter()
        .copied()
        .find(|&s| py_has(s))
        .or_else(|| sizes.first().copied())?;
    let mut rows: Vec<Row<'c>> = Vec::new();
    for (mode, suffix) in [(&channels, ""), (&shared, ONE_QUEUE)] {
        for tr in mode.transports(idx) {
            rows.push((
                format!("{tr}{suffix}"),
                mode.cells(idx, &tr, ns, size, Metric::Throughput),
                mode.cells(idx, &tr, ns, size, Metric::Latency),
            ));
        }
    }
    if let Some(py) = py {
        let py_cells = |pt: &str, metric: Metric| -> Vec<Option<&'c Cell>> {
            ns.iter()
                .map(|&n| {
                    let w = Workload::Fanout(u16::try_from(n).ok()?);
                    py.cell_in(w, pt, p, size, metric)
                })
                .collect()
        };
        for pt in py.transports_in(channels.groups[0].0) {
            rows.push((
                format!("py {pt}"),
                py_cells(&pt, Metric::Throughput),
                py_cells(&pt, Metric::Latency),
            ));
        }
    }
    Some(Scaling {
        placement: p,
        size,
        rows,
    })
}

/// Fanout: task throughput and latency as the number of workers grows.
pub fn render(d: &mut Doc, idx: &Index<'_>, py: Option<&Python<'_>>) {
    let (ns, tables) = collect(idx, py);
    if tables.is_empty() {
        return;
    }
    d.h(2, "Fanout: one producer, N workers");
    d.para(
        "The seed's real use case: one producer hands tasks to N worker processes; each \
         worker receives a task, verifies every byte and acknowledges it. Transports are \
         point to point, so the producer holds one channel per worker and deals tasks \
         round-robin with one task in flight per worker (N in flight). Throughput is tasks \
         per second over the measured window; latency runs from the producer's send to the \
         worker holding the task. On this run's machine, workers beyond the number of cores \
         share them (a legitimate, labelled case). `py mp-queue` is Python's natural \
         pattern instead: one shared `multiprocessing.Queue` of tasks and one of \
         acknowledgements. Figures at the smallest size Python ran too (our smallest without \
         it); all sizes are in the matrices above.",
    );
    let shared = tables
        .iter()
        .any(|t| t.rows.iter().any(|r| r.0.ends_with(ONE_QUEUE)));
    if shared {
        d.para(
            "Rows marked `(one queue)` are the same workload with Python's structure in \
             Rust (`fanoutqN`): on a transport that can share one endpoint among several \
             receivers, one queue of tasks that all N workers pull from and one of \
             acknowledgements, N tasks in flight, whichever worker is free taking the next \
             task. Beside them, the same transport with one channel per worker shows what \
             the shared queue itself buys.",
        );
    }
    for s in &tables {
        render_table(d, &ns, s);
    }
    d.para(
        "N=a ÷ N=b: how task throughput scales with workers (1.00x = no gain). † fewer \
         messages: a busy-waiting backend with processes sharing a core (see the matrices).",
    );
}

/// One scaling table, in one rate unit and one time unit.
fn render_table(d: &mut Doc, ns: &[u32], s: &Scaling<'_>) {
    let (p, size, rows) = (&s.placement, s.size, &s.rows);
    let nlist = |sep: &str| ns.iter().map(u32::to_string).collect::<Vec<_>>().join(sep);
    // One rate unit for every tasks/s column and one time unit for every
    // latency and CPU figure in the table.
    let ru = CountUnit::for_column(
        rows.iter()
            .flat_map(|(_, thr, _)| thr.iter().flatten())
            .filter_map(|c| msgs_per_s(c)),
    );
    let u = TimeUnit::for_column(
        rows.iter()
            .flat_map(|(_, _, lat)| lat.iter().flatten())
            .map(|c| c.summary.p50_ns),
    );
    let show = |v: Option<f64>| v.map_or(MISSING.to_owned(), |v| u.fmt(v));
    let (first, last) = (ns.first().copied(), ns.last().copied());
    let mut cols: Vec<(String, Align)> = vec![("Transport".to_owned(), Align::Left)];
    for n in ns {
        cols.push((format!("{}tasks/s, N={n}", ru.prefix()), Align::Right));
    }
    if let (Some(a), Some(b)) = (first, last)
        && a != b
    {
        cols.push((format!("N={b} ÷ N={a}"), Align::Right));
    }
    cols.push((
        format!("latency p50 (p99) ({}), N={}", u.label(), nlist(" / ")),
        Align::Right,
    ));
    cols.push((
        format!(
            "CPU per task, prod + workers ({}), N={}",
            u.label(),
            last.unwrap_or(1)
        ),
        Align::Right,
    ));
    let mut t = Table::new(cols);
    for (name, thr, lat) in rows {
        if thr.iter().chain(lat).all(Option::is_none) {
            continue;
        }
        let mut row = vec![name.clone()];
        for c in thr {
            row.push(
                c.and_then(msgs_per_s)
                    .map_or(MISSING.to_owned(), |r| ru.fmt(r))
                    + if c.is_some_and(|c| c.note.is_some()) {
                        " †"
                    } else {
                        ""
                    },
            );
        }
        if first != last {
            let rate = |c: Option<&Option<&Cell>>| c.copied().flatten().and_then(msgs_per_s);
            row.push(match (rate(thr.first()), rate(thr.last())) {
                (Some(a), Some(b)) if a > 0.0 => fmt_multiple(b / a),
                _ => MISSING.to_owned(),
            });
        }
        row.push(
            lat.iter()
                .map(|c| {
                    c.map_or(MISSING.to_owned(), |c| {
                        format!("{} ({})", u.fmt(c.summary.p50_ns), u.fmt(c.summary.p99_ns))
                    })
                })
                .collect::<Vec<_>>()
                .join(" / "),
        );
        row.push(
            thr.last()
                .copied()
                .flatten()
                .map_or(MISSING.to_owned(), |c| {
                    format!("{} + {}", show(c.cpu_producer_ns), show(c.cpu_consumer_ns))
                }),
        );
        t.row(row);
    }
    d.h(3, &format!("fanout · placement {p} · {}", fmt_bytes(size)));
    d.table(&t);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn scaling_in_one_unit_with_python_beside() {
        let r = results(vec![
            cell("a", "fanout1", "split", 800, "throughput", 100_000.0),
            cell("a", "fanout4", "split", 800, "throughput", 25_000.0),
        ]);
        let py = results(vec![
            cell("mp-queue", "fanout1", "split", 800, "throughput", 1e6),
            cell("mp-queue", "fanout4", "split", 800, "throughput", 5e5),
        ]);
        let pyx = Python::new(&py);
        let idx = Index::new(&r);
        let (ns, tables) = collect(&idx, Some(&pyx));
        assert_eq!(ns, [1, 4]);
        assert_eq!((tables.len(), tables[0].size), (1, 800));
        let names: Vec<&str> = tables[0].rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["a", "py mp-queue"]);
        let mut d = Doc::default();
        render(&mut d, &idx, Some(&pyx));
        let row = |name: &str| {
            d.out
                .lines()
                .find(|l| l.starts_with(&format!("| {name} ")))
                .unwrap_or_else(|| panic!("{name} row in {}", d.out))
                .to_owned()
        };
        assert!(d.out.contains("k tasks/s, N=1"), "{}", d.out);
        assert!(
            row("a").contains("10.0") && row("a").contains("40.0") && row("a").contains("4.00x")
        );
        assert!(row("py mp-queue").contains("1.00") && row("py mp-queue").contains("2.00x"));
        assert!(!d.out.contains("one queue"), "{}", d.out);
    }

    #[test]
    fn shared_queue_rows_sit_beside_one_channel_per_worker() {
        let r = results(vec![
            cell("q", "fanout1", "split", 800, "throughput", 100_000.0),
            cell("q", "fanout4", "split", 800, "throughput", 25_000.0),
            cell("p", "fanout4", "split", 800, "throughput", 20_000.0),
            cell("q", "fanoutq2", "split", 800, "throughput", 150_000.0),
            cell("q", "fanoutq4", "split", 800, "throughput", 200_000.0),
        ]);
        let idx = Index::new(&r);
        let (ns, tables) = collect(&idx, None);
        // Every N of either mode is a column; a mode that did not run an N
        // shows a gap there.
        assert_eq!(ns, [1, 2, 4]);
        let names: Vec<&str> = tables[0].rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["q", "p", "q (one queue)"]);
        let shared = &tables[0].rows[2];
        assert!(shared.1[0].is_none() && shared.1[1].is_some() && shared.1[2].is_some());
        assert!(tables[0].rows[0].1[1].is_none(), "q ran no fanout2");
        let mut d = Doc::default();
        render(&mut d, &idx, None);
        let line = d
            .out
            .lines()
            .find(|l| l.starts_with("| q (one queue) "))
            .unwrap_or_else(|| panic!("shared row in {}", d.out));
        // 150 µs and 200 µs per task; no N=4 ÷ N=1 without an N=1 figure.
        assert!(line.contains("6.67") && line.contains("5.00"), "{line}");
        assert!(d.out.contains("Python's structure in Rust"), "{}", d.out);
    }
}
