//! The answer "What leaving the machine costs": for each size, the best
//! local transport, the transports that crossed over loopback (both from
//! the local run), and the same across the link of the remote runs
//! (`ipcbench run --remote`), with and without the delay a run added on the
//! link. Rendered only when a
//! remote run is given; the delayed columns say why they are empty.

use judge::contenders::{Row as Contest, contenders};
use results::index::Index;
use results::remote::{self, DELAY_NOT_MEASURED, LINK};
use results::schema::{Cell, Metric, Placement, Results, Status, Workload};

use super::{Doc, bytes_per_s, headline};
use crate::format::{MISSING, fmt_bytes, fmt_rate, fmt_time};
use crate::table::{Align, Table};

/// The remote runs sorted by their link: the first without an added delay,
/// the first with one.
struct Runs<'a> {
    plain: Option<&'a Results>,
    delayed: Option<&'a Results>,
}

impl<'a> Runs<'a> {
    fn of(remote: &'a [Results]) -> Self {
        let remote: Vec<&Results> = remote.iter().filter(|r| remote::is_remote(r)).collect();
        Self {
            plain: remote
                .iter()
                .copied()
                .find(|r| remote::added_delay_us(r) == 0.0),
            delayed: remote
                .iter()
                .copied()
                .find(|r| remote::added_delay_us(r) > 0.0),
        }
    }
}

/// The transports the remote runs carried across the link, in the order
/// their cells first appear (the order `--transport` gave them): the
/// registry, not this section, says which backends cross hosts.
fn across<'a>(runs: &Runs<'a>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for r in [runs.plain, runs.delayed].into_iter().flatten() {
        for c in &r.cells {
            if !out.contains(&c.transport.as_str()) {
                out.push(&c.transport);
            }
        }
    }
    out
}

/// One table's question: a workload's headline metric and how to word it.
struct Measure {
    workload: Workload,
    metric: Metric,
    title: &'static str,
    figure: fn(&Cell) -> String,
}

const MEASURES: [Measure; 2] = [
    Measure {
        workload: Workload::Pingpong,
        metric: Metric::Rtt,
        title: "Round trip (pingpong, median)",
        figure: |c| fmt_time(headline(c)),
    },
    Measure {
        workload: Workload::Stream,
        metric: Metric::Throughput,
        title: "Payload rate (stream, median)",
        figure: |c| bytes_per_s(c).map_or(MISSING.to_owned(), fmt_rate),
    },
];

/// A verified cell of `r` for transport `t`, in the run's first placement
/// and raw codec.
fn cell<'r>(r: &'r Results, t: &str, w: Workload, size: u64, m: Metric) -> Option<&'r Cell> {
    let idx = Index::new(r);
    let p = idx.primary_placement(w)?;
    r.cells.iter().find(|c| {
        c.transport == t
            && c.workload == w
            && c.placement == p
            && c.size_bytes == size
            && c.metric == m
            && c.codec == results::schema::Codec::Raw
            && c.status == Status::Ok
    })
}

/// The local run's fastest contender at `size` (lowest median: round trip
/// and time per message alike), with its cell.
fn best_local<'r>(
    idx: &Index<'r>,
    m: &Measure,
    p: Placement,
    size: u64,
) -> Option<(String, &'r Cell)> {
    let row = Contest {
        workload: m.workload,
        placement: p,
        size,
        metric: m.metric,
    };
    contenders(idx, row)
        .into_iter()
        .filter(|(_, c)| c.status == Status::Ok)
        .min_by(|a, b| headline(a.1).total_cmp(&headline(b.1)))
}

/// Renders the answer, if a remote run is given (else nothing).
pub fn render(d: &mut Doc, local: &Results, remote: &[Results]) {
    let runs = Runs::of(remote);
    let Some(first) = runs.plain.or(runs.delayed) else {
        return;
    };
    d.h(2, "What leaving the machine costs");
    let link = remote::entry(first, LINK).unwrap_or("the link between the two hosts");
    let delay = runs.delayed.map(remote::added_delay_us);
    let not_measured = match runs
        .plain
        .and_then(|r| remote::entry(r, DELAY_NOT_MEASURED))
    {
        Some(why) => format!("not measured: {why}"),
        None => "not measured: no remote run with an added delay".to_owned(),
    };
    d.para(&format!(
        "The same verified workloads with the consumer on another host (`ipcbench run \
         --remote`; \"link\": {link}), beside this run's best local transport and the same \
         transports over loopback. Only figures timed on one clock: the round trip on the producer's, the \
         stream rate on the consumer's. The local columns are this run's medians; the remote \
         ones the remote run's ({} trials), and \"+ delay\" the same with a fixed delay added \
         on each end of the link (netem). How to make a remote run: `cargo xtask \
         bench-remote`, or two hosts (the project README, \"Across two hosts\").",
        first.config.trials
    ));
    let idx = Index::new(local);
    let across = across(&runs);
    let delayed_header = |t: &str| match delay {
        Some(us) => format!("{t}, + {us} µs each way"),
        None => format!("{t}, + delay"),
    };
    for m in &MEASURES {
        let sizes = Index::new(first).sizes(results::index::Group {
            workload: m.workload,
            placement: match Index::new(first).primary_placement(m.workload) {
                Some(p) => p,
                None => continue,
            },
            codec: results::schema::Codec::Raw,
        });
        if sizes.is_empty() {
            continue;
        }
        // The transports that crossed the link and also ran here, over
        // loopback.
        let loopback: Vec<&str> = across
            .iter()
            .copied()
            .filter(|t| {
                local
                    .cells
                    .iter()
                    .any(|c| c.transport == *t && c.workload == m.workload)
            })
            .collect();
        let mut cols = vec![
            ("Size".to_owned(), Align::Left),
            ("best local".to_owned(), Align::Left),
        ];
        for t in &loopback {
            cols.push((format!("{t}, loopback"), Align::Right));
        }
        for t in &across {
            cols.push((format!("{t}, link"), Align::Right));
        }
        for t in &across {
            cols.push((delayed_header(t), Align::Right));
        }
        let mut table = Table::new(cols);
        let p = idx.primary_placement(m.workload);
        for size in sizes {
            let fig = |c: Option<&Cell>| c.map_or(MISSING.to_owned(), m.figure);
            let best = p
                .and_then(|p| best_local(&idx, m, p, size))
                .map_or(MISSING.to_owned(), |(name, c)| {
                    format!("{name} {}", (m.figure)(c))
                });
            let mut row = vec![fmt_bytes(size), best];
            for t in &loopback {
                row.push(fig(cell(local, t, m.workload, size, m.metric)));
            }
            for t in &across {
                row.push(fig(runs
                    .plain
                    .and_then(|r| cell(r, t, m.workload, size, m.metric))));
            }
            for t in &across {
                row.push(match runs.delayed {
                    Some(r) => fig(cell(r, t, m.workload, size, m.metric)),
                    None => not_measured.clone(),
                });
            }
            table.row(row);
        }
        d.para(&format!("**{}**", m.title));
        d.table(&table);
    }
}
