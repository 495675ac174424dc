//! A run: the matrix of pairs to execute (transports interleaved innermost, so
//! machine drift hits every transport alike), their execution with progress,
//! and the folding of every trial into result cells.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use codec::Codec;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use report::{Cell, Status, Summary};

use crate::placement::Placement;
use crate::registry::Backend;
use crate::role::{RoleOutput, RoleSpec};
use crate::stats::{Trial, mean_ci, summarize};
use crate::supervisor::{Limits, run_pair};
use crate::workload::Workload;

/// Stream trials send this many times `messages`: each message is cheap, and
/// a throughput figure needs a long enough window.
pub const STREAM_FACTOR: usize = 4;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Backends, in report order.
    pub transports: Vec<&'static Backend>,
    /// Workloads.
    pub workloads: Vec<Workload>,
    /// Codecs for workloads that use one (others use `raw`).
    pub codecs: Vec<Codec>,
    /// Placements.
    pub placements: Vec<Placement>,
    /// Payload sizes in bytes.
    pub sizes: Vec<u64>,
    /// Independent trials (fresh process pairs) per cell.
    pub trials: usize,
    /// Measured messages per trial and size.
    pub messages: usize,
    /// Warm-up per trial and size, milliseconds.
    pub warmup_ms: u64,
    /// Deadlines per pair.
    pub limits: Limits,
    /// Record failures and go on, instead of stopping at the first.
    pub keep_going: bool,
    /// No progress bar.
    pub quiet: bool,
}

/// The cells of a run and the failures among them.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every cell, ok or failed.
    pub cells: Vec<Cell>,
    /// One line per failed (transport, codec, workload, placement).
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
struct Job {
    trial: usize,
    placement: Placement,
    workload: Workload,
    codec: Codec,
    backend: &'static Backend,
}

impl Job {
    fn label(&self) -> String {
        format!(
            "{} {} {} {} trial {}",
            self.backend.name,
            self.workload,
            self.codec.name(),
            self.placement,
            self.trial + 1
        )
    }
}

impl Plan {
    fn jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for trial in 0..self.trials {
            for &placement in &self.placements {
                for &workload in &self.workloads {
                    let codecs = if workload.uses_codec() {
                        self.codecs.clone()
                    } else {
                        vec![Codec::Raw]
                    };
                    for codec in codecs {
                        for &backend in &self.transports {
                            jobs.push(Job {
                                trial,
                                placement,
                                workload,
                                codec,
                                backend,
                            });
                        }
                    }
                }
            }
        }
        jobs
    }

    fn sizes_for(&self, backend: &Backend) -> Vec<u64> {
        let max = (backend.capabilities)().max_message_size as u64;
        self.sizes
            .iter()
            .copied()
            .filter(|&s| s + 64 <= max)
            .collect()
    }
}

/// Identity of a cell, ordered the way reports list them.
type Key = (usize, usize, usize, usize, usize, String);

#[derive(Debug, Default)]
struct Acc {
    trials: Vec<Trial>,
    rates: Vec<f64>,
    cpu_producer: Vec<f64>,
    cpu_consumer: Vec<f64>,
}

/// Runs every pair of the plan and folds the results into cells.
pub fn execute(plan: &Plan, exe: &Path) -> Result<Outcome> {
    let jobs = plan.jobs();
    let bar = if plan.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} pairs, eta {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let mut accs: BTreeMap<Key, Acc> = BTreeMap::new();
    let mut failed: BTreeMap<(usize, usize, usize, usize), String> = BTreeMap::new();
    let index = |job: &Job| {
        (
            plan.transports
                .iter()
                .position(|b| b.name == job.backend.name)
                .unwrap_or(0),
            plan.workloads
                .iter()
                .position(|w| *w == job.workload)
                .unwrap_or(0),
            plan.codecs
                .iter()
                .position(|c| *c == job.codec)
                .unwrap_or(0),
            plan.placements
                .iter()
                .position(|p| *p == job.placement)
                .unwrap_or(0),
        )
    };
    for job in &jobs {
        bar.set_message(job.label());
        let id = index(job);
        if failed.contains_key(&id) {
            bar.inc(1);
            continue;
        }
        let sizes = plan.sizes_for(job.backend);
        if sizes.is_empty() {
            bar.inc(1);
            continue;
        }
        let messages = if job.workload == Workload::Stream {
            plan.messages * STREAM_FACTOR
        } else {
            plan.messages
        };
        let spec = RoleSpec {
            role: crate::placement::Role::Consumer,
            transport: job.backend.name.to_owned(),
            workload: job.workload,
            codec: job.codec.name().to_owned(),
            sizes: sizes.clone(),
            messages,
            warmup_ms: plan.warmup_ms,
            placement: job.placement,
            tag: transport::Options::unique("ib").tag,
            endpoint: None,
            connect_timeout_ms: plan.limits.connect.as_millis() as u64,
        };
        match run_pair(exe, &spec, plan.limits) {
            Ok((producer, consumer)) => fold(&mut accs, id, &producer, &consumer),
            Err(e) => {
                let msg = format!("{}: {e:#}", job.label());
                bar.suspend(|| eprintln!("FAILED {msg}"));
                if !plan.keep_going {
                    bar.finish_and_clear();
                    anyhow::bail!("{msg}");
                }
                failed.insert(id, format!("{e:#}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(cells(plan, accs, &failed))
}

fn fold(
    accs: &mut BTreeMap<Key, Acc>,
    id: (usize, usize, usize, usize),
    producer: &RoleOutput,
    consumer: &RoleOutput,
) {
    for (si, (p, c)) in producer.sizes.iter().zip(&consumer.sizes).enumerate() {
        let metrics = p
            .metrics
            .iter()
            .chain(&c.metrics)
            .map(|(m, t)| (m.clone(), Some(t), None));
        let rate = c
            .msgs_per_s
            .map(|r| ("throughput".to_owned(), None, Some(r)));
        for (metric, trial, rate) in metrics.chain(rate) {
            let acc = accs
                .entry((id.0, id.1, id.2, id.3, si, metric))
                .or_default();
            if let Some(t) = trial {
                acc.trials.push(t.clone());
            }
            if let Some(r) = rate {
                acc.rates.push(r);
            }
            acc.cpu_producer.push(p.cpu_ns_per_msg);
            acc.cpu_consumer.push(c.cpu_ns_per_msg);
        }
    }
}

fn metrics_of(workload: Workload) -> &'static [&'static str] {
    match workload {
        Workload::Seed => &["put", "get", "total", "encode", "decode"],
        Workload::Pingpong => &["rtt"],
        Workload::Stream => &["throughput", "oneway"],
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn cells(
    plan: &Plan,
    accs: BTreeMap<Key, Acc>,
    failed: &BTreeMap<(usize, usize, usize, usize), String>,
) -> Outcome {
    let mut out = Outcome::default();
    let codec_name = |i: usize, w: Workload| {
        if w.uses_codec() {
            plan.codecs[i].name()
        } else {
            Codec::Raw.name()
        }
    };
    for (key, acc) in accs {
        let (t, w, c, p, si, metric) = key;
        if failed.contains_key(&(t, w, c, p)) {
            continue;
        }
        let workload = plan.workloads[w];
        let size = plan.sizes_for(plan.transports[t])[si];
        let mut cell = Cell {
            transport: plan.transports[t].name.to_owned(),
            codec: codec_name(c, workload).to_owned(),
            workload: workload.name().to_owned(),
            placement: plan.placements[p].name().to_owned(),
            size_bytes: size,
            metric,
            status: Status::Ok,
            trials: acc.trials.len().max(acc.rates.len()),
            cpu_producer_ns: mean(&acc.cpu_producer),
            cpu_consumer_ns: mean(&acc.cpu_consumer),
            ..Cell::default()
        };
        if acc.rates.is_empty() {
            cell.summary = summarize(&acc.trials);
            cell.trial_means_ns = acc.trials.iter().map(Trial::mean).collect();
        } else {
            let messages = (plan.messages * STREAM_FACTOR) as u64;
            cell.summary = throughput_summary(&acc.rates, messages);
            cell.trial_means_ns = acc.rates.iter().map(|r| 1e9 / r).collect();
            let (rate, _) = mean_ci(&acc.rates);
            cell.msgs_per_s = Some(rate);
            cell.bytes_per_s = Some(rate * size as f64);
        }
        out.cells.push(cell);
    }
    for (&(t, w, c, p), err) in failed {
        let workload = plan.workloads[w];
        let backend = plan.transports[t];
        out.failures.push(format!(
            "{} {} {} {}: {err}",
            backend.name,
            workload,
            codec_name(c, workload),
            plan.placements[p]
        ));
        for &size in &plan.sizes_for(backend) {
            for metric in metrics_of(workload) {
                out.cells.push(Cell {
                    transport: backend.name.to_owned(),
                    codec: codec_name(c, workload).to_owned(),
                    workload: workload.name().to_owned(),
                    placement: plan.placements[p].name().to_owned(),
                    size_bytes: size,
                    metric: (*metric).to_owned(),
                    status: Status::Failed,
                    error: Some(err.clone()),
                    ..Cell::default()
                });
            }
        }
    }
    out
}

/// A throughput cell's distribution is over trials: each trial gives one rate,
/// shown as nanoseconds per message so every cell shares the same fields.
fn throughput_summary(rates: &[f64], messages_per_trial: u64) -> Summary {
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
        n: messages_per_trial * k as u64,
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
