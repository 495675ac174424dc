//! Folding: every trial's measurements accumulated per cell, then summarised
//! into result cells (failed groups as failed cells).

use std::collections::BTreeMap;

use codec::Codec;
use results::{Cell, Metric, Status, Summary};

use super::adaptive::StopReason;
use super::plan::{Group, Plan};
use crate::role::RoleOutput;
use crate::stats::{CURVE_QUANTILES, Trial, mean_ci, summarize};
use crate::workload::Workload;

/// The cells of a run and the failures among them.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every cell, ok or failed.
    pub cells: Vec<Cell>,
    /// One line per failed (transport, codec, workload, placement).
    pub failures: Vec<String>,
}

/// Identity of a cell, ordered the way reports list them; the metric's name
/// before the metric keeps the cells in the file in the order they always
/// had (by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct CellKey {
    /// Transport, workload, codec and placement.
    pub group: Group,
    /// Index into the sizes that fit the transport ([`Plan::sizes_for`]).
    pub size_index: usize,
    pub metric_name: &'static str,
    pub metric: Metric,
}

impl CellKey {
    /// A key ordered before every cell of the group.
    pub(super) fn first_of(group: Group) -> Self {
        Self {
            group,
            size_index: 0,
            metric_name: "",
            metric: Metric::default(),
        }
    }
}

/// A cell's measurements so far, one entry per trial.
#[derive(Debug, Default)]
pub(super) struct Acc {
    /// Latency distributions (latency cells).
    pub trials: Vec<Trial>,
    /// Messages per second (throughput cells).
    pub rates: Vec<f64>,
    /// Measured messages per trial (throughput cells' `n`).
    messages: Vec<u64>,
    /// Paced: the rate each trial was asked to send at.
    offered: Vec<f64>,
    cpu_producer: Vec<f64>,
    cpu_consumer: Vec<f64>,
    /// In-place workloads: whether each trial's producer loaned.
    loaned: Vec<bool>,
    note: Option<String>,
}

/// What a job contributes to its cells besides the measurements.
pub(super) struct Extra<'a> {
    /// Paced: the target rate per size.
    pub offered: &'a [f64],
    /// Why the cell deviates from the run's settings.
    pub note: Option<String>,
}

/// Adds one trial of a group (its producer's and consumers' outputs) to the
/// group's cells.
pub(super) fn fold(
    accs: &mut BTreeMap<CellKey, Acc>,
    group: Group,
    producer: &RoleOutput,
    consumers: &[RoleOutput],
    extra: &Extra<'_>,
) {
    for (si, p) in producer.sizes.iter().enumerate() {
        let cs: Vec<_> = consumers.iter().filter_map(|c| c.sizes.get(si)).collect();
        let metrics = p
            .metrics
            .iter()
            .chain(cs.iter().flat_map(|c| &c.metrics))
            .map(|(m, t)| (*m, Some(t), None));
        let rate = p
            .msgs_per_s
            .or_else(|| cs.iter().find_map(|c| c.msgs_per_s))
            .map(|r| (Metric::Throughput, None, Some(r)));
        // The consumers' CPU per measured message: their total over the
        // messages they shared (one consumer: its own figure).
        let handled: u64 = cs.iter().map(|c| c.messages).sum();
        let cpu_consumer = if handled > 0 {
            cs.iter()
                .map(|c| c.cpu_ns_per_msg * c.messages as f64)
                .sum::<f64>()
                / handled as f64
        } else {
            cs.iter().map(|c| c.cpu_ns_per_msg).sum()
        };
        for (metric, trial, rate) in metrics.chain(rate) {
            let acc = accs
                .entry(CellKey {
                    group,
                    size_index: si,
                    metric_name: metric.name(),
                    metric,
                })
                .or_default();
            if let Some(t) = trial {
                acc.trials.push(t.clone());
            }
            if let Some(r) = rate {
                acc.rates.push(r);
                acc.messages.push(p.messages);
            }
            if let Some(&o) = extra.offered.get(si) {
                acc.offered.push(o);
            }
            if extra.note.is_some() {
                acc.note.clone_from(&extra.note);
            }
            acc.loaned.extend(p.loaned);
            acc.cpu_producer.push(p.cpu_ns_per_msg);
            acc.cpu_consumer.push(cpu_consumer);
        }
    }
}

fn metrics_of(workload: Workload) -> &'static [Metric] {
    match workload {
        Workload::Seed => &[
            Metric::Put,
            Metric::Get,
            Metric::Total,
            Metric::Encode,
            Metric::Decode,
        ],
        Workload::Pingpong => &[Metric::Rtt],
        Workload::Stream => &[Metric::Throughput, Metric::Oneway],
        Workload::Fanout(_) | Workload::FanoutQ(_) | Workload::Gather(_) => {
            &[Metric::Throughput, Metric::Latency]
        }
        Workload::Bcast(_) => &[Metric::Rtt, Metric::Throughput],
        Workload::Paced(_) => &[Metric::Latency],
        Workload::Handover => &[Metric::Latency, Metric::Put],
        Workload::InplaceStream => &[Metric::Throughput],
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The run's cells: every accumulated cell of a group that did not fail,
/// then a failed cell per size and metric of each failed group.
pub(super) fn cells(
    plan: &Plan,
    accs: BTreeMap<CellKey, Acc>,
    failed: &BTreeMap<Group, String>,
    stops: &BTreeMap<Group, StopReason>,
) -> Outcome {
    let mut out = Outcome::default();
    let codec_name = |i: usize, w: Workload| {
        if w.uses_codec() {
            cell_codec(plan.codecs[i])
        } else {
            results::Codec::Raw
        }
    };
    for (key, acc) in accs {
        let g = key.group;
        if failed.contains_key(&g) {
            continue;
        }
        let backend = plan.transports[g.transport];
        let workload = plan.workloads[g.workload];
        let size = plan.sizes_for(backend, workload)[key.size_index];
        let mut cell = Cell {
            transport: backend.name.to_owned(),
            codec: codec_name(g.codec, workload),
            workload,
            placement: plan.placements[g.placement],
            size_bytes: size,
            metric: key.metric,
            status: Status::Ok,
            trials: acc.trials.len().max(acc.rates.len()),
            cpu_producer_ns: mean(&acc.cpu_producer),
            cpu_consumer_ns: mean(&acc.cpu_consumer),
            workers: workload.is_fanout().then(|| workload.consumers()),
            offered_msgs_per_s: mean(&acc.offered),
            // Loaned only if every trial did.
            loaned: (!acc.loaned.is_empty()).then(|| acc.loaned.iter().all(|&l| l)),
            note: acc.note,
            ..Cell::default()
        };
        if acc.rates.is_empty() {
            cell.summary = summarize(&acc.trials);
            cell.trial_means_ns = acc.trials.iter().map(Trial::mean).collect();
            cell.trial_medians_ns = acc.trials.iter().map(|t| t.quantile(0.5)).collect();
            cell.percentiles = curve(&acc.trials);
        } else {
            cell.summary = throughput_summary(&acc.rates, acc.messages.iter().sum());
            cell.trial_means_ns = acc.rates.iter().map(|r| 1e9 / r).collect();
            cell.trial_medians_ns.clone_from(&cell.trial_means_ns);
        }
        set_median(&mut cell);
        if cell.msgs_per_s.is_none() && !acc.rates.is_empty() && cell.median_ns > 0.0 {
            // The headline rate is the median trial's, like every headline.
            let rate = 1e9 / cell.median_ns;
            cell.msgs_per_s = Some(rate);
            cell.bytes_per_s = Some(rate * size as f64);
        }
        cell.stop_reason = stops.get(&g).map(ToString::to_string);
        out.cells.push(cell);
    }
    for (g, err) in failed {
        let workload = plan.workloads[g.workload];
        let backend = plan.transports[g.transport];
        let codec = codec_name(g.codec, workload);
        let placement = plan.placements[g.placement];
        out.failures.push(format!(
            "{} {} {codec} {placement}: {err}",
            backend.name, workload
        ));
        for &size in &plan.sizes_for(backend, workload) {
            for metric in metrics_of(workload) {
                out.cells.push(Cell {
                    transport: backend.name.to_owned(),
                    codec,
                    workload,
                    placement,
                    size_bytes: size,
                    metric: *metric,
                    status: Status::Failed,
                    error: Some(err.clone()),
                    workers: workload.is_fanout().then(|| workload.consumers()),
                    ..Cell::default()
                });
            }
        }
    }
    out
}

/// The median of the trial medians and its bootstrap interval.
fn set_median(cell: &mut Cell) {
    let values = &cell.trial_medians_ns;
    cell.median_ns = results::bootstrap::median(values).unwrap_or(0.0);
    let ci = results::bootstrap::median_interval(values);
    cell.median_ci_low_ns = ci.map(|c| c.0);
    cell.median_ci_high_ns = ci.map(|c| c.1);
}

/// The cell's distribution at [`CURVE_QUANTILES`], from all its messages.
fn curve(trials: &[Trial]) -> Vec<(f64, f64)> {
    let pooled = Trial {
        counts: {
            let mut m: BTreeMap<u64, u64> = BTreeMap::new();
            for t in trials {
                for &(v, c) in &t.counts {
                    *m.entry(v).or_default() += c;
                }
            }
            m.into_iter().collect()
        },
        sum: trials.iter().map(|t| t.sum).sum(),
    };
    if pooled.n() == 0 {
        return Vec::new();
    }
    CURVE_QUANTILES
        .iter()
        .map(|&q| (q, pooled.quantile(q)))
        .collect()
}

/// A throughput cell's distribution is over trials: each trial gives one rate,
/// shown as nanoseconds per message so every cell shares the same fields.
fn throughput_summary(rates: &[f64], messages: u64) -> Summary {
    let mut ns: Vec<f64> = rates.iter().map(|r| 1e9 / r).collect();
    ns.sort_by(f64::total_cmp);
    let (rate, ci) = mean_ci(rates);
    let k = ns.len();
    let mean_ns = ns.iter().sum::<f64>() / k as f64;
    let sd = if k > 1 {
        (ns.iter().map(|v| (v - mean_ns).powi(2)).sum::<f64>() / (k - 1) as f64).sqrt()
    } else {
        0.0
    };
    let q = |p: f64| ns[((k - 1) as f64 * p).round() as usize];
    Summary {
        n: messages,
        mean_ns: 1e9 / rate,
        sd_ns: sd,
        ci95_low_ns: ci.map(|(_, hi)| 1e9 / hi),
        ci95_high_ns: ci.map(|(lo, _)| if lo > 0.0 { 1e9 / lo } else { f64::INFINITY }),
        p50_ns: q(0.5),
        p90_ns: q(0.9),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        min_ns: ns[0],
        max_ns: ns[k - 1],
        outliers: 0,
    }
}

/// The results' name of a codec the harness ran.
pub(crate) fn cell_codec(c: Codec) -> results::Codec {
    match c {
        Codec::Raw => results::Codec::Raw,
        Codec::Bincode => results::Codec::Bincode,
        Codec::Msgpack => results::Codec::Msgpack,
    }
}
