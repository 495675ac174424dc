//! Seed-style tables, as the notebook reports them: put and get mean ± sd per
//! size, with the Python baseline beside them.

use crate::format::{MISSING, TimeUnit, fmt_bytes};
use crate::sections::*;
use crate::table::{Align, Table};
use results::index::{Group, Index};
use results::schema::{Cell, Status, Summary};
use results::schema::{Metric, Workload};

/// `12.3 ± 4.56` in a given unit.
fn mean_sd(s: &Summary, u: TimeUnit) -> String {
    format!("{} ± {}", u.fmt(s.mean_ns), u.fmt(s.sd_ns))
}

/// Seed-style tables for every transport and placement.
pub fn render(d: &mut Doc, idx: &Index<'_>, py: Option<&Python<'_>>) {
    if !idx.workloads().contains(&Workload::Seed) {
        return;
    }
    d.h(2, "Seed-style tables");
    d.para(
        "As the seed notebook reports them: per size, put and get mean ± standard \
         deviation over every message of every trial. put = the send call; get = from \
         send return to the consumer holding the decoded payload. One codec per \
         transport (the cheapest run); the others are in the matrices above. Each table \
         is in one unit.",
    );
    if py.is_some() {
        d.para(
            "Python's `put` returns before its feeder thread has pickled and written the \
             array, so a Python put is not comparable with a transport's put; the put + get \
             total is, and \"total vs py\" compares that.",
        );
    }
    let py_main = py.and_then(|p| p.main_in(Workload::Seed));
    for p in idx.placements(Workload::Seed) {
        // Each transport with its cheapest codec that has cells.
        let mut done: Vec<String> = Vec::new();
        for codec in idx.codecs(Workload::Seed, p) {
            let g = group(Workload::Seed, p, codec);
            for tr in idx.transports(g) {
                if done.contains(&tr) {
                    continue;
                }
                d.h(3, &format!("{tr} · codec {codec} · placement {p}"));
                let pyref = py.zip(py_main.as_deref());
                table(d, idx, g, &tr, pyref);
                done.push(tr);
            }
        }
    }
}

/// One seed-style table; `py` adds the baseline's put and get beside it.
pub fn table(d: &mut Doc, idx: &Index<'_>, g: Group, tr: &str, py: Option<(&Python<'_>, &str)>) {
    let sizes = idx.sizes(g);
    let cells = |metric: Metric| -> Vec<Option<&Cell>> {
        sizes.iter().map(|&s| idx.ok(tr, g, s, metric)).collect()
    };
    let (put, get, total) = (cells(Metric::Put), cells(Metric::Get), cells(Metric::Total));
    let pycells = |metric: Metric| -> Vec<Option<&Cell>> {
        match py {
            Some((py, name)) => sizes
                .iter()
                .map(|&s| py.cell_in(Workload::Seed, name, g.placement, s, metric))
                .collect(),
            None => vec![None; sizes.len()],
        }
    };
    let (pyput, pyget, pytotal) = (
        pycells(Metric::Put),
        pycells(Metric::Get),
        pycells(Metric::Total),
    );
    let with_py = pyput.iter().chain(&pyget).any(Option::is_some);
    // One unit for the whole table, so no column looks bigger for its unit.
    let u = TimeUnit::for_column(
        [&put, &get, &total, &pyput, &pyget]
            .into_iter()
            .flatten()
            .flatten()
            .map(|c| c.summary.mean_ns),
    );
    let (u_put, u_get, u_total, u_pyput, u_pyget) = (u, u, u, u, u);
    let mut cols = vec![
        ("Elements".to_owned(), Align::Right),
        ("Size".to_owned(), Align::Left),
        (format!("put mean ± sd ({})", u_put.label()), Align::Right),
        (format!("get mean ± sd ({})", u_get.label()), Align::Right),
        (format!("total mean ({})", u_total.label()), Align::Right),
    ];
    let name = py.map(|p| p.1).unwrap_or_default();
    if with_py {
        cols.push((format!("py {name} put ({})", u_pyput.label()), Align::Right));
        cols.push((format!("py {name} get ({})", u_pyget.label()), Align::Right));
        cols.push(("total vs py".to_owned(), Align::Right));
    }
    let mut t = Table::new(cols);
    let mut failed = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        for metric in [Metric::Put, Metric::Get, Metric::Total] {
            if let Some(c) = idx
                .get(tr, g, size, metric)
                .filter(|c| c.status == Status::Failed)
            {
                failed.push((
                    tr.to_owned(),
                    size,
                    c.error
                        .clone()
                        .unwrap_or_else(|| "no error message".to_owned()),
                ));
            }
        }
        let show = |c: Option<&Cell>, metric: Metric, f: &dyn Fn(&Summary) -> String| match c {
            Some(c) => f(&c.summary),
            None if idx.get(tr, g, size, metric).is_some() => "failed".to_owned(),
            None => MISSING.to_owned(),
        };
        let mut row = vec![
            if size % 8 == 0 {
                (size / 8).to_string()
            } else {
                MISSING.to_owned()
            },
            fmt_bytes(size),
            show(put[i], Metric::Put, &|s| mean_sd(s, u_put)),
            show(get[i], Metric::Get, &|s| mean_sd(s, u_get)),
            show(total[i], Metric::Total, &|s| u_total.fmt(s.mean_ns)),
        ];
        if with_py {
            let opt = |c: Option<&Cell>, f: &dyn Fn(&Summary) -> String| {
                c.map_or(MISSING.to_owned(), |c| f(&c.summary))
            };
            row.push(opt(pyput[i], &|s| mean_sd(s, u_pyput)));
            row.push(opt(pyget[i], &|s| mean_sd(s, u_pyget)));
            row.push(match (total[i], pytotal[i]) {
                (Some(c), Some(p)) => versus(p.summary.mean_ns, c.summary.mean_ns),
                _ => MISSING.to_owned(),
            });
        }
        t.row(row);
    }
    d.table(&t);
    d.failures(&failed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn one_unit_per_table_and_python_total_beside() {
        let r = results(vec![
            cell("a", "seed", "split", 800, "put", 200.0),
            cell("a", "seed", "split", 800, "get", 800.0),
            cell("a", "seed", "split", 800, "total", 1_000.0),
        ]);
        let py = results(vec![
            cell("mp-queue", "seed", "split", 800, "put", 4_000.0),
            cell("mp-queue", "seed", "split", 800, "get", 46_000.0),
            cell("mp-queue", "seed", "split", 800, "total", 50_000.0),
        ]);
        let pyx = Python::new(&py);
        let mut d = Doc::default();
        render(&mut d, &Index::new(&r), Some(&pyx));
        let row = d.out.lines().find(|l| l.contains("| 800 B")).expect("row");
        // All in µs: 0.200 beside 4.00, never 200 (ns) beside 4.00 (µs).
        assert!(row.contains("0.200 ±") && row.contains("4.00 ±"), "{row}");
        assert!(row.contains("50.0x faster"), "{row}");
        assert!(d.out.contains("feeder thread"), "{}", d.out);
    }
}
