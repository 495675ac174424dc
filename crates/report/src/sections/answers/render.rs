//! The answers as Markdown: one table per question, and the floor costs.

use super::{Answer, FloorCost};
use crate::format::{MISSING, fmt_multiple, fmt_percent, fmt_time};
use crate::sections::Doc;
use crate::table::{Align, Table};
use results::schema::Floors;

/// Header of the floor column, where an answer's rows have floors.
pub const FLOOR_HEADER: &str = "one memcpy";

/// Renders one answer as a section headed at `level`.
pub fn render_at(d: &mut Doc, a: &Answer, level: usize) {
    d.h(level, &a.question);
    d.para(&a.lead);
    if a.rows.is_empty() {
        return;
    }
    let with_py = a.rows.iter().any(|r| r.vs_python != MISSING);
    let with_floor = a.rows.iter().any(|r| r.floor.is_some());
    let mut cols = vec![
        ("Case".to_owned(), Align::Left),
        ("Winner".to_owned(), Align::Left),
        (a.figure_header.clone(), Align::Right),
    ];
    if with_floor {
        cols.push((FLOOR_HEADER.to_owned(), Align::Right));
    }
    cols.push(("Verdict".to_owned(), Align::Left));
    if with_py {
        cols.push(("vs mp.Queue".to_owned(), Align::Right));
    }
    let mut t = Table::new(cols);
    for r in &a.rows {
        let mut row = vec![r.case.clone(), r.winner.clone(), r.figure.clone()];
        if with_floor {
            row.push(r.floor.clone().unwrap_or_else(|| MISSING.to_owned()));
        }
        row.push(r.verdict.clone());
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
pub fn render_floors(d: &mut Doc, rows: &[FloorCost], floor: Option<&Floors>) {
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
    if let Some(f) = floor.filter(|f| !f.probes.is_empty()) {
        d.para(&probe_floors_line(f));
    }
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

/// Which probe shape each cache-line floor is, on this machine: the
/// cheapest of the shapes the run measured, per timing method.
pub fn probe_floors_line(f: &Floors) -> String {
    let measured = f
        .probes
        .iter()
        .filter(|p| p.per_rtt.is_some() || p.batch_ns.is_some())
        .count();
    let name = |shape: &Option<String>, v: Option<String>| match (shape, v) {
        (Some(s), Some(v)) => format!("**{s}** ({v})"),
        _ => "not measured".to_owned(),
    };
    format!(
        "The cache-line floor is the cheapest of the {measured} probe shapes measured in this \
         run (of {}; all listed in [details/environment.md](details/environment.md)): per round \
         trip {}, batch-timed {}. Each ratio below divides by the floor timed the same way.",
        f.probes.len(),
        name(
            &f.cacheline_shape,
            f.cacheline_rtt.as_ref().map(|s| fmt_time(s.p50_ns))
        ),
        name(
            &f.cacheline_batch_shape,
            f.cacheline_rtt_batch_ns.map(fmt_time)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use results::schema::{CheapestProbes, ProbeFloor, Summary, cheapest_probes};

    fn probe(shape: &str, pause: bool, p50: Option<f64>, batch: Option<f64>) -> ProbeFloor {
        ProbeFloor {
            shape: shape.to_owned(),
            pause,
            per_rtt: p50.map(|p50_ns| Summary {
                n: 1000,
                p50_ns,
                ..Summary::default()
            }),
            batch_ns: batch,
            not_measured: p50.is_none().then(|| "pinning refused".to_owned()),
        }
    }

    /// The floor the report names, for each timing method, is the minimum
    /// of the probes it lists, and the two methods may pick different shapes.
    #[test]
    fn the_named_floor_is_the_cheapest_probe_of_each_timing() {
        let probes = vec![
            probe("one-word", true, Some(180.0), Some(150.0)),
            probe("one-line", true, Some(140.0), Some(120.0)),
            probe("one-line", false, Some(135.0), Some(125.0)),
            probe("far-lines", true, Some(300.0), Some(270.0)),
            probe("adjacent-lines", false, None, None),
        ];
        let cheapest = cheapest_probes(&probes);
        let (rtt, batch) = (cheapest.per_rtt, cheapest.batch);
        let f = Floors {
            cacheline_shape: rtt.as_ref().map(|(l, _)| l.clone()),
            cacheline_rtt: rtt.map(|(_, s)| s),
            cacheline_batch_shape: batch.as_ref().map(|(l, _)| l.clone()),
            cacheline_rtt_batch_ns: batch.map(|(_, b)| b),
            probes: probes.clone(),
            ..Floors::default()
        };
        let min_rtt = probes
            .iter()
            .filter_map(|p| p.per_rtt.as_ref().map(|s| s.p50_ns))
            .fold(f64::INFINITY, f64::min);
        let min_batch = probes
            .iter()
            .filter_map(|p| p.batch_ns)
            .fold(f64::INFINITY, f64::min);
        let line = probe_floors_line(&f);
        assert!(
            line.contains(&format!(
                "per round trip **one-line, no pause** ({})",
                fmt_time(min_rtt)
            )),
            "{line}"
        );
        assert!(
            line.contains(&format!(
                "batch-timed **one-line, pause** ({})",
                fmt_time(min_batch)
            )),
            "{line}"
        );
        assert!(line.contains("cheapest of the 4 probe shapes measured in this run (of 5"));
    }

    /// No probe measured: the floor is "not measured", never a division.
    #[test]
    fn no_measured_probe_names_no_floor() {
        let probes = vec![probe("one-word", true, None, None)];
        assert_eq!(cheapest_probes(&probes), CheapestProbes::default());
        let f = Floors {
            probes,
            ..Floors::default()
        };
        let line = probe_floors_line(&f);
        assert!(
            line.contains("per round trip not measured, batch-timed not measured"),
            "{line}"
        );
    }
}
