//! Paced: tail latency at a fixed offered load, with the CPU it costs.

use crate::format::{CountUnit, MISSING, TimeUnit, fmt_bytes};
use crate::sections::*;
use crate::table::{Align, Table};
use judge::thresholds::*;
use results::index::{Group, Index};
use results::schema::Status;
use results::schema::{Metric, Placement, Workload};

/// The paced tables per placement, at the smallest and the largest size.
pub fn render(d: &mut Doc, idx: &Index<'_>) {
    let workloads: Vec<Workload> = idx
        .workloads()
        .into_iter()
        .filter(|w| matches!(w, Workload::Paced(_)))
        .collect();
    if workloads.is_empty() {
        return;
    }
    d.h(2, "Paced: latency at a fixed offered load (open loop)");
    d.para(&format!(
        "The producer sends at a fixed rate, a percentage (the load) of the end-to-end stream \
         rate its transport reached in the same trial, placement and size; latency runs from \
         each message's *intended* send time to the consumer holding it, so a sender held up \
         by the transport cannot hide the delay (coordinated omission corrected, as in wrk2). \
         Offered = the rate asked for. CPU per message includes the producer's pacing (it \
         sleeps, then spins to each send time). ⚠ marks a median above {BACKLOG_INTERVALS} \
         send intervals: the transport, or the machine, did not keep up and a backlog built \
         up."
    ));
    let mut placements: Vec<Placement> = Vec::new();
    for &w in &workloads {
        for p in idx.placements(w) {
            if !placements.contains(&p) {
                placements.push(p);
            }
        }
    }
    for &p in &placements {
        let keys = first_codecs(idx, &workloads, p);
        let groups: Vec<(String, Group)> = keys
            .iter()
            .map(|(w, c)| {
                let load = w.parameter().map_or(w.to_string(), |l| format!("{l}%"));
                (load, group(*w, p, *c))
            })
            .collect();
        let mut sizes: Vec<u64> = groups.iter().flat_map(|(_, g)| idx.sizes(*g)).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let shown: Vec<u64> = match (sizes.first(), sizes.last()) {
            (Some(&a), Some(&b)) if a != b => vec![a, b],
            (Some(&a), _) => vec![a],
            _ => continue,
        };
        for size in shown {
            size_table(d, idx, &groups, p, size);
        }
    }
}

/// One paced table: every transport at every load for one placement and
/// size, in one time unit and one rate unit.
fn size_table(d: &mut Doc, idx: &Index<'_>, groups: &[(String, Group)], p: Placement, size: u64) {
    let mut names: Vec<String> = Vec::new();
    for (_, g) in groups {
        for tr in idx.transports(*g) {
            if !names.contains(&tr) {
                names.push(tr);
            }
        }
    }
    // One time unit and one rate unit for the whole table.
    let ok: Vec<&results::schema::Cell> = names
        .iter()
        .flat_map(|tr| {
            groups
                .iter()
                .filter_map(|(_, g)| idx.ok(tr, *g, size, Metric::Latency))
        })
        .collect();
    let u = TimeUnit::for_column(ok.iter().map(|c| c.summary.p50_ns));
    let ru = CountUnit::for_column(ok.iter().filter_map(|c| c.offered_msgs_per_s));
    let mut t = Table::new([
        ("Transport".to_owned(), Align::Left),
        ("Load".to_owned(), Align::Right),
        (format!("Offered ({}msg/s)", ru.prefix()), Align::Right),
        (format!("p50 ({})", u.label()), Align::Right),
        (format!("p99 ({})", u.label()), Align::Right),
        (format!("p99.9 ({})", u.label()), Align::Right),
        (format!("max ({})", u.label()), Align::Right),
        (
            format!("CPU per msg, prod + cons ({})", u.label()),
            Align::Right,
        ),
    ]);
    let show = |v: Option<f64>| v.map_or(MISSING.to_owned(), |v| u.fmt(v));
    let mut failed = Vec::new();
    let mut notes = Notes::default();
    for tr in &names {
        for (load, g) in groups {
            let Some(c) = idx.get(tr, *g, size, Metric::Latency) else {
                continue;
            };
            if c.status == Status::Failed {
                failed.push((
                    format!("{tr} at {load}"),
                    size,
                    c.error.clone().unwrap_or_default(),
                ));
                t.row([tr.clone(), load.clone(), "failed".to_owned()]);
                continue;
            }
            let s = &c.summary;
            let backlog = c
                .offered_msgs_per_s
                .is_some_and(|r| r > 0.0 && s.p50_ns > BACKLOG_INTERVALS * 1e9 / r);
            let mut name = tr.clone();
            if let Some(note) = &c.note {
                notes.add(note, tr);
                name.push_str(" †");
            }
            t.row([
                name,
                load.clone(),
                c.offered_msgs_per_s
                    .map_or(MISSING.to_owned(), |r| ru.fmt(r)),
                format!("{}{}", u.fmt(s.p50_ns), if backlog { " ⚠" } else { "" }),
                u.fmt(s.p99_ns),
                u.fmt(s.p999_ns),
                u.fmt(s.max_ns),
                format!("{} + {}", show(c.cpu_producer_ns), show(c.cpu_consumer_ns)),
            ]);
        }
    }
    d.h(3, &format!("paced · placement {p} · {}", fmt_bytes(size)));
    d.table(&t);
    d.failures(&failed);
    notes.render(d);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn a_backlog_is_marked_and_the_table_has_one_time_unit() {
        let mut ok = cell("a", "paced50", "split", 8, "latency", 2_000.0);
        ok.offered_msgs_per_s = Some(10_000.0);
        // 50 send intervals at 10 k msg/s = 5 ms; a 9 ms median is a backlog.
        let mut late = cell("b", "paced50", "split", 8, "latency", 9e6);
        late.offered_msgs_per_s = Some(10_000.0);
        let r = results(vec![ok, late]);
        let mut d = Doc::default();
        render(&mut d, &Index::new(&r));
        let line = |name: &str| {
            d.out
                .lines()
                .find(|l| l.starts_with(&format!("| {name} ")))
                .expect("row")
                .to_owned()
        };
        assert!(
            line("b").contains("⚠") && !line("a").contains("⚠"),
            "{}",
            d.out
        );
        assert!(
            d.out.contains("p50 (ms)") || d.out.contains("p50 (µs)"),
            "{}",
            d.out
        );
    }
}
