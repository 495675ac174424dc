//! Several machines' runs side by side (see `judge::machines`) as Markdown:
//! the machines and the facts that tell them apart, a warning when the runs
//! come from different hosts, and every answer row with each machine's
//! answer and figure; for two runs, the cell-by-cell comparison follows.

use judge::compare::Comparison;
use judge::machines::{Agreement, Answer, Fact, Machine, Machines};
use results::index::{is_fanout, is_throughput};
use results::schema::{Metric, Workload};

use crate::compare::render_body;
use crate::format::{MISSING, fmt_bytes, fmt_rate, fmt_time};
use crate::sections::fmt_per_s;
use crate::table::{Align, Table};
use crate::words;

/// The machines' comparison as Markdown, headed `# Comparison of N runs`;
/// `pairwise` (two runs only) adds the cell-by-cell comparison, with every
/// matched cell when `all`.
pub fn render_machines(m: &Machines, pairwise: Option<&Comparison>, all: bool) -> String {
    let names = machine_names(&m.machines);
    let mut out = format!(
        "# Comparison of {} runs\n\nEvery answer row (seed total, pingpong, stream and fanout \
         throughput at split, raw) as each run's own answer table gives it, one column per \
         machine, with the median of the contender the answer puts first.\n\n",
        m.machines.len()
    );
    if m.hosts_differ() {
        let facts: Vec<&str> = m.differences.iter().map(|f| fact_name(*f)).collect();
        out.push_str(&format!(
            "- **warning**: the runs come from different hosts ({} differ{}): where the \
             answers differ, the machine may be the cause, not the code.\n\n",
            facts.join(", "),
            if facts.len() == 1 { "s" } else { "" }
        ));
    } else {
        out.push_str(
            "The machines report the same CPU, logical CPUs, kernel, virtualisation and \
             `split` CPUs; they may still be different hosts of one kind.\n\n",
        );
    }
    out.push_str("## Machines\n\n");
    out.push_str(&machine_table(&m.machines, &names).render());
    out.push('\n');
    out.push_str("## Answer rows\n\n");
    out.push_str(&format!(
        "{} rows: {} name the same backend on every machine, {} name different backends, \
         {} are decided on some machines only, {} are not in every run.\n\n",
        m.rows.len(),
        m.count(Agreement::Same),
        m.count(Agreement::Differs),
        m.count(Agreement::Partly),
        m.count(Agreement::Missing),
    ));
    out.push_str(&row_table(m, &names).render());
    out.push('\n');
    if let Some(c) = pairwise {
        out.push_str("## Cell by cell\n\n");
        out.push_str(&render_body(c, 3, all));
    }
    out
}

/// Column names: each machine's CPU model, with the run's date where two
/// machines share a model, and its position where that is not enough.
pub fn machine_names(machines: &[Machine]) -> Vec<String> {
    let count = |f: &dyn Fn(&Machine) -> String, m: &Machine| {
        machines.iter().filter(|o| f(o) == f(m)).count()
    };
    let model = |m: &Machine| m.cpu_model.clone();
    let dated = |m: &Machine| format!("{} ({})", m.cpu_model, day(&m.date));
    machines
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if count(&model, m) == 1 {
                model(m)
            } else if count(&dated, m) == 1 {
                dated(m)
            } else {
                format!("{} #{}", dated(m), i + 1)
            }
        })
        .collect()
}

/// `2026-11-29` of `2026-11-29T19:33:04Z`.
fn day(date: &str) -> &str {
    date.split('T').next().unwrap_or(date)
}

fn fact_name(f: Fact) -> &'static str {
    match f {
        Fact::Cpu => "CPU",
        Fact::Cores => "logical CPUs",
        Fact::Kernel => "kernel",
        Fact::Virtualization => "virtualisation",
        Fact::Split => "`split` CPUs",
    }
}

fn machine_table(machines: &[Machine], names: &[String]) -> Table {
    let mut t = Table::new(
        std::iter::once(("".to_owned(), Align::Left))
            .chain(names.iter().map(|n| (n.clone(), Align::Left))),
    );
    let mut row = |what: &str, f: &dyn Fn(&Machine) -> String| {
        t.row(std::iter::once(what.to_owned()).chain(machines.iter().map(f)));
    };
    row("CPU", &|m| m.cpu_model.clone());
    row("Logical CPUs", &|m| m.cores.to_string());
    row("Kernel", &|m| m.kernel.clone());
    row("Virtualisation", &|m| m.virtualization.clone());
    row("Placement `split`", &|m| {
        m.split
            .clone()
            .unwrap_or_else(|| "cores 0/1 (relation not recorded)".to_owned())
    });
    row("Cache-line round trip (split)", &|m| match &m.cacheline {
        Some((ns, Some(shape))) => format!("{} ({shape})", fmt_time(*ns)),
        Some((ns, None)) => fmt_time(*ns),
        None => "not measured".to_owned(),
    });
    row("Commit", &|m| m.commit.clone());
    row("Date (UTC)", &|m| m.date.clone());
    t
}

fn row_table(m: &Machines, names: &[String]) -> Table {
    let columns = [
        ("Workload".to_owned(), Align::Left),
        ("Metric".to_owned(), Align::Left),
        ("Size".to_owned(), Align::Left),
    ]
    .into_iter()
    .chain(names.iter().map(|n| (n.clone(), Align::Left)))
    .chain(std::iter::once(("Machines".to_owned(), Align::Left)));
    let mut t = Table::new(columns);
    for r in &m.rows {
        let (w, metric, size) = r.key;
        let mut cells = vec![w.to_string(), metric.to_string(), fmt_bytes(size)];
        cells.extend(r.answers.iter().map(|a| match a {
            Some(a) => answer(a, w, metric, size),
            None => MISSING.to_owned(),
        }));
        cells.push(
            match r.agreement {
                Agreement::Same => "agree",
                Agreement::Differs => "**differ**",
                Agreement::Partly => "decided on some only",
                Agreement::Missing => "not in every run",
            }
            .to_owned(),
        );
        t.row(cells);
    }
    t
}

/// `**shm-spin** 30.0 GB/s`: the verdict, then the figure of the contender
/// it puts first in the row's unit.
fn answer(a: &Answer, w: Workload, metric: Metric, size: u64) -> String {
    let v = words::verdict(&a.verdict);
    match a.median_ns.filter(|ns| *ns > 0.0 && ns.is_finite()) {
        Some(ns) => format!("{v} {}", figure(ns, w, metric, size)),
        None => v,
    }
}

fn figure(ns: f64, w: Workload, metric: Metric, size: u64) -> String {
    if !is_throughput(metric) {
        fmt_time(ns)
    } else if is_fanout(w) {
        fmt_per_s(1e9 / ns, "tasks")
    } else {
        fmt_rate(size as f64 * 1e9 / ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(cpu: &str, date: &str) -> Machine {
        Machine {
            cpu_model: cpu.into(),
            cores: 2,
            kernel: "k".into(),
            virtualization: "v".into(),
            split: None,
            cacheline: None,
            commit: "c".into(),
            date: date.into(),
        }
    }

    #[test]
    fn machines_are_named_by_cpu_then_date_then_position() {
        let names = machine_names(&[
            m("AMD EPYC", "2026-11-29T19:33:04Z"),
            m("AMD EPYC", "2026-12-07T05:36:52Z"),
            m("Intel Xeon", "2026-12-07T14:00:00Z"),
            m("Intel Xeon", "2026-12-07T15:00:00Z"),
            m("Intel Xeon", "2026-12-07T15:00:00Z"),
        ]);
        assert_eq!(
            names,
            [
                "AMD EPYC (2026-11-29)",
                "AMD EPYC (2026-12-07)",
                "Intel Xeon (2026-12-07) #3",
                "Intel Xeon (2026-12-07) #4",
                "Intel Xeon (2026-12-07) #5",
            ]
        );
        assert_eq!(machine_names(&[m("a", ""), m("b", "")]), ["a", "b"]);
    }

    #[test]
    fn figures_are_in_the_rows_unit() {
        assert_eq!(
            figure(1000.0, Workload::Pingpong, Metric::Rtt, 8),
            "1.00 µs"
        );
        assert_eq!(
            figure(1000.0, Workload::Stream, Metric::Throughput, 1000),
            "1.00 GB/s"
        );
        assert!(figure(1000.0, Workload::Fanout(4), Metric::Throughput, 800).contains("tasks/s"));
    }
}
