//! details/environment.md: the machine and the invocation, the floors measured in
//! the same run, transports as multiples of their floor, and the targets.

use crate::format::{MISSING, TimeUnit, fmt_bytes, fmt_multiple, fmt_percent, fmt_rate, fmt_time};
use crate::sections::*;
use results::index::{Group, Index};
use results::schema::{Cell, Floors, ProbeFloor, Results, Summary};
use results::schema::{Metric, Workload};

/// Mean with its interval, in one unit: `11.2 µs (11.0–11.4)` (floors
/// have no trials of their own, so their interval is the summary's).
fn mean_ci(s: &Summary) -> String {
    let u = TimeUnit::for_value(s.mean_ns);
    match ci(s) {
        Some((lo, hi)) => format!(
            "{} {} ({}–{})",
            u.fmt(s.mean_ns),
            u.label(),
            u.fmt(lo),
            u.fmt(hi)
        ),
        None => format!("{} {} (no interval)", u.fmt(s.mean_ns), u.label()),
    }
}
use crate::table::{Align, Table};
use judge::analysis::ci;

/// The environment table: the machine, the invocation and the settings.
pub fn environment(d: &mut Doc, r: &Results) {
    let e = &r.environment;
    let or_unknown = |s: &str| {
        if s.is_empty() {
            "unknown".to_owned()
        } else {
            s.to_owned()
        }
    };
    let mut t = Table::new([("Item", Align::Left), ("Value", Align::Left)]);
    let mut kv = |k: &str, v: String| t.row([k.to_owned(), v]);
    kv("Tool", or_unknown(&e.tool));
    kv("CPU", or_unknown(&e.cpu_model));
    kv("Logical CPUs", e.cores.to_string());
    kv("Kernel", or_unknown(&e.kernel));
    kv("rustc", or_unknown(&e.rustc));
    kv("Virtualization", or_unknown(&e.virtualization));
    kv("CPU governor", or_unknown(&e.governor));
    let placements: Vec<&str> = r.config.placements.iter().map(|p| p.name()).collect();
    kv("Placements", placements.join(", "));
    kv("Clock read overhead", fmt_time(e.clock_overhead_ns));
    kv("Git commit", or_unknown(&e.git_commit));
    kv("Date (UTC)", or_unknown(&e.date));
    kv("Command", format!("`{}`", e.command_line));
    kv("Trials per cell", r.config.trials.to_string());
    kv("Messages per trial", r.config.messages.to_string());
    kv("Warm-up per trial", format!("{} ms", r.config.warmup_ms));
    for (k, v) in &e.extra {
        kv(k, v.clone());
    }
    d.table(&t);
}

/// The floors, and every transport as a multiple of its floor.
pub fn floors(d: &mut Doc, idx: &Index<'_>) {
    let r = idx.results;
    if r.floors.is_empty() {
        return;
    }
    d.h(2, "Floors");
    d.para(
        "Machine floors measured in the same run: the cheapest possible round trip \
         between two processes (one cache line, spinning), a bare 8-byte pipe round trip, \
         and `memcpy` per size. Batch-timed: elapsed time over a batch of round trips with \
         no clock read inside it (median of batches), where the run measured it.",
    );
    let mut t = Table::new([
        ("Placement", Align::Left),
        ("Floor", Align::Left),
        ("p50", Align::Right),
        ("p99", Align::Right),
        ("mean (95% CI)", Align::Right),
        ("samples", Align::Right),
        ("batch-timed", Align::Right),
    ]);
    for f in &r.floors {
        for (name, s, batch) in [
            ("cache-line RTT", &f.cacheline_rtt, f.cacheline_rtt_batch_ns),
            (
                "raw pipe RTT (8 B)",
                &f.raw_pipe_rtt,
                f.raw_pipe_rtt_batch_ns,
            ),
        ] {
            match s {
                Some(s) => t.row([
                    f.placement.to_string(),
                    name.to_owned(),
                    fmt_time(s.p50_ns),
                    fmt_time(s.p99_ns),
                    mean_ci(s),
                    s.n.to_string(),
                    batch.map_or(MISSING.to_owned(), fmt_time),
                ]),
                None => t.row([
                    f.placement.to_string(),
                    name.to_owned(),
                    "not measured".to_owned(),
                ]),
            }
        }
    }
    d.table(&t);
    for f in r.floors.iter().filter(|f| !f.probes.is_empty()) {
        probes(d, f);
    }
    for m in r.floors.iter().filter_map(|f| f.cpu_map.as_ref()) {
        super::cpu_map::cpu_map(d, m);
    }
    if let Some(f) = r.floors.iter().find(|f| !f.memcpy.is_empty()) {
        let mut t = Table::new([
            ("Size", Align::Left),
            ("memcpy p50", Align::Right),
            ("bandwidth", Align::Right),
        ]);
        let mut m = f.memcpy.clone();
        m.sort_by_key(|m| m.size_bytes);
        for m in &m {
            t.row([
                fmt_bytes(m.size_bytes),
                fmt_time(m.p50_ns),
                fmt_rate(m.bytes_per_s),
            ]);
        }
        d.table(&t);
    }

    d.h(3, "Transports as multiples of their floor");
    for f in &r.floors {
        let p = f.placement;
        let ping: Option<results::Codec> = idx
            .placements(Workload::Pingpong)
            .contains(&f.placement)
            .then(|| idx.codecs(Workload::Pingpong, p).into_iter().next())
            .flatten();
        if let (Some(codec), Some(cl)) = (ping, &f.cacheline_rtt) {
            let g = group(Workload::Pingpong, p, codec);
            d.para(&format!(
                "Round trip (pingpong p50) as a multiple of the cache-line RTT p50 ({}), \
                 placement {p}:",
                fmt_time(cl.p50_ns)
            ));
            ratio_matrix(d, idx, g, Metric::Rtt, |c| {
                let r = c.summary.p50_ns / cl.p50_ns;
                r.is_finite().then(|| fmt_multiple(r))
            });
        }
        let stream = idx
            .placements(Workload::Stream)
            .contains(&f.placement)
            .then(|| idx.codecs(Workload::Stream, p).into_iter().next())
            .flatten();
        if let Some(codec) = &stream
            && !f.memcpy.is_empty()
        {
            let g = group(Workload::Stream, p, *codec);
            d.para(&format!(
                "Stream throughput as a fraction of `memcpy` bandwidth at the same size, \
                 placement {p}:"
            ));
            ratio_matrix(d, idx, g, Metric::Throughput, |c| {
                let m = f.memcpy.iter().find(|m| m.size_bytes == c.size_bytes)?;
                bytes_per_s(c).map(|b| fmt_percent(b / m.bytes_per_s))
            });
        }
    }
}

/// A matrix of a derived figure (multiple of a floor) per size and transport.
fn ratio_matrix(
    d: &mut Doc,
    idx: &Index<'_>,
    g: Group,
    metric: Metric,
    text: impl Fn(&Cell) -> Option<String>,
) {
    let sizes = idx.sizes(g);
    let mut t = Table::new(
        std::iter::once(("Size".to_owned(), Align::Left))
            .chain(idx.transports(g).into_iter().map(|tr| (tr, Align::Right))),
    );
    for size in sizes {
        let mut row = vec![fmt_bytes(size)];
        for tr in idx.transports(g) {
            row.push(match Slot::of(idx.get(&tr, g, size, metric)) {
                Slot::Missing => MISSING.to_owned(),
                Slot::Failed(_) => "failed".to_owned(),
                Slot::Ok(c) => text(c).unwrap_or_else(|| MISSING.to_owned()),
            });
        }
        t.row(row);
    }
    d.table(&t);
}

/// Every cache-line probe shape of one placement, both timings, and the
/// floor each timing method takes (the cheapest shape).
fn probes(d: &mut Doc, f: &Floors) {
    d.para(&format!(
        "Cache-line probe shapes at placement {} (docs/methodology.md, \"Floors\"): where ping \
         and pong live and whether the wait loop pauses. The cache-line RTT above is the \
         cheapest of them per timing method: per round trip {}, batch-timed {}.",
        f.placement,
        f.cacheline_shape.as_deref().unwrap_or("not measured"),
        f.cacheline_batch_shape.as_deref().unwrap_or("not measured"),
    ));
    let mut t = Table::new([
        ("Shape", Align::Left),
        ("p50", Align::Right),
        ("p99", Align::Right),
        ("samples", Align::Right),
        ("batch-timed", Align::Right),
    ]);
    for p in &f.probes {
        match (&p.per_rtt, p.batch_ns, &p.not_measured) {
            (None, None, why) => t.row(vec![
                p.label(),
                format!(
                    "not measured: {}",
                    why.as_deref().unwrap_or("no reason recorded")
                ),
            ]),
            (s, batch, _) => t.row(vec![
                p.label(),
                s.as_ref()
                    .map_or(MISSING.to_owned(), |s| fmt_time(s.p50_ns)),
                s.as_ref()
                    .map_or(MISSING.to_owned(), |s| fmt_time(s.p99_ns)),
                s.as_ref().map_or(MISSING.to_owned(), |s| s.n.to_string()),
                batch.map_or(MISSING.to_owned(), fmt_time),
            ]),
        }
    }
    d.table(&t);
    if let Some(p) = &f.plain_example {
        d.para(&plain_example_line(p));
    }
}

/// The shm-crate backend's plain example beside the probes: what it is, and
/// its two timings or why it was not measured.
fn plain_example_line(p: &ProbeFloor) -> String {
    let figures = match (&p.per_rtt, p.batch_ns) {
        (None, None) => format!(
            "not measured: {}",
            p.not_measured.as_deref().unwrap_or("no reason recorded")
        ),
        (s, batch) => format!(
            "per round trip p50 {}, batch-timed {}",
            s.as_ref()
                .map_or(MISSING.to_owned(), |s| fmt_time(s.p50_ns)),
            batch.map_or(MISSING.to_owned(), fmt_time)
        ),
    };
    format!(
        "The shm-crate backend's plain example (an 8-byte request and answer over a \
         `shared_memory` segment with one `raw_sync` busy event per direction, nothing else; \
         not a floor, the reference shm-crate's 8 B pingpong is held against): {figures}."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn the_environment_and_floors_come_from_the_record() {
        let mut r = results(vec![cell("a", "pingpong", "split", 8, "rtt", 1_000.0)]);
        r.floors[0].raw_pipe_rtt_batch_ns = Some(70_000.0);
        let mut d = Doc::default();
        environment(&mut d, &r);
        assert!(
            d.out.contains("| CPU ") && d.out.contains("Test CPU"),
            "{}",
            d.out
        );
        floors(&mut d, &Index::new(&r));
        let pipe = d
            .out
            .lines()
            .find(|l| l.starts_with("| split") && l.contains("raw pipe"))
            .expect("raw pipe row");
        assert!(
            pipe.contains("80.0 µs") && pipe.contains("70.0 µs"),
            "{pipe}"
        );
        // The round trip as a multiple of the cache-line floor (200 ns).
        assert!(d.out.contains("| 5.00x"), "{}", d.out);
    }

    #[test]
    fn the_plain_example_is_printed_with_its_figures_or_why_not() {
        let mut p = ProbeFloor {
            shape: "shm-crate-plain".into(),
            per_rtt: Some(Summary {
                p50_ns: 310.0,
                ..Summary::default()
            }),
            batch_ns: Some(290.0),
            ..ProbeFloor::default()
        };
        let line = plain_example_line(&p);
        assert!(
            line.contains("per round trip p50 310 ns, batch-timed 290 ns"),
            "{line}"
        );
        p.per_rtt = None;
        p.batch_ns = None;
        p.not_measured = Some("one core".into());
        assert!(
            plain_example_line(&p).contains("not measured: one core"),
            "{}",
            plain_example_line(&p)
        );
    }
}
