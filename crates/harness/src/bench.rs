//! A run: the matrix of pairs (or fanout groups) to execute (transports
//! interleaved innermost, so machine drift hits every transport alike), their
//! execution with progress, and the folding of every trial into result cells.
//!
//! Two workloads depend on the run itself: a paced job sends at a fraction of
//! the stream rate its transport measured in the same trial and placement (so
//! paced jobs run after stream within each trial), and a busy-waiting backend
//! whose processes must share a core gets fewer messages (see [`crowded`]).

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
use crate::supervisor::{Limits, run_group};
use crate::workload::Workload;

/// Stream trials send this many times `messages`: each message is cheap, and
/// a throughput figure needs a long enough window.
pub const STREAM_FACTOR: usize = 4;

/// Paced trials send at most this many times `messages` per size; the count
/// itself follows from the rate (see `workload::paced_messages`).
pub const PACED_FACTOR: usize = 100;

/// Measured messages per trial and size (before [`STREAM_FACTOR`]) for a
/// busy-waiting backend whose processes share a core: each handover then
/// waits for a scheduler timeslice (milliseconds), so the full count would
/// take hours and say nothing more.
pub const CROWDED_MESSAGES: usize = 50;

/// Whether this backend busy-waits and this job puts two or more of its
/// processes on one core: `same` always; `split` when several fanout workers
/// share core 1; `none` when there are more processes than cores.
pub fn crowded(backend: &Backend, placement: Placement, workload: Workload) -> bool {
    if (backend.capabilities)().wait != transport::WaitStrategy::Spin {
        return false;
    }
    let consumers = workload.consumers();
    match placement {
        Placement::Same => true,
        Placement::Split => consumers > 1,
        Placement::None => consumers + 1 > crate::env::online_cpus(),
    }
}

/// The note a crowded cell carries in the results.
fn crowded_note(messages: usize) -> String {
    format!(
        "at most {messages} messages per trial and size: a busy-waiting backend with \
         processes sharing a core hands over once per scheduler timeslice"
    )
}

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
        // Paced jobs need the stream rate of the same trial: run them last.
        let mut workloads = self.workloads.clone();
        workloads.sort_by_key(|w| w.load().is_some());
        let mut jobs = Vec::new();
        for trial in 0..self.trials {
            for &placement in &self.placements {
                for &workload in &workloads {
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
    /// Measured messages per trial (throughput cells' `n`).
    messages: Vec<u64>,
    /// Paced: the rate each trial was asked to send at.
    offered: Vec<f64>,
    cpu_producer: Vec<f64>,
    cpu_consumer: Vec<f64>,
    note: Option<String>,
}

/// What a job contributes to its cells besides the measurements.
struct Extra<'a> {
    /// Paced: the target rate per size.
    offered: &'a [f64],
    /// Why the cell deviates from the run's settings.
    note: Option<String>,
}

/// A job's index in the plan: (transport, workload, codec, placement).
type Id = (usize, usize, usize, usize);

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
    let mut failed: BTreeMap<Id, String> = BTreeMap::new();
    // Stream rates per size, by (trial, transport, placement), for paced jobs.
    let mut stream_rates: BTreeMap<(usize, usize, usize), Vec<Option<f64>>> = BTreeMap::new();
    let index = |job: &Job| -> Id {
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
        let crowded = crowded(job.backend, job.placement, job.workload);
        let base = if crowded {
            plan.messages.min(CROWDED_MESSAGES)
        } else {
            plan.messages
        };
        let messages = match job.workload {
            Workload::Stream => base * STREAM_FACTOR,
            // An upper bound: the paced count per size follows from its rate.
            Workload::Paced(_) if crowded => base * STREAM_FACTOR,
            Workload::Paced(_) => base * PACED_FACTOR,
            // Every worker needs at least one task.
            Workload::Fanout(_) => base.max(job.workload.consumers()),
            Workload::Seed | Workload::Pingpong => base,
        };
        let rates = match job.workload.load() {
            None => Vec::new(),
            Some(load) => {
                let measured = stream_rates
                    .get(&(job.trial, id.0, id.3))
                    .filter(|r| r.len() == sizes.len() && r.iter().all(Option::is_some));
                match measured {
                    Some(r) => r.iter().flatten().map(|r| r * load).collect(),
                    None => {
                        let msg = format!(
                            "skipped: paced sends at a fraction of the stream rate of the same \
                             transport, placement and trial, and stream gave none ({} {} trial {} \
                             failed or did not run)",
                            job.backend.name,
                            job.placement,
                            job.trial + 1
                        );
                        bar.suspend(|| eprintln!("SKIPPED {}: {msg}", job.label()));
                        failed.insert(id, msg);
                        bar.inc(1);
                        continue;
                    }
                }
            }
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
            endpoints: Vec::new(),
            worker: 0,
            rates: rates.clone(),
            connect_timeout_ms: plan.limits.connect.as_millis() as u64,
        };
        match run_group(exe, &spec, plan.limits) {
            Ok((producer, consumers)) => {
                if job.workload == Workload::Stream {
                    let r = consumers
                        .first()
                        .map(|c| c.sizes.iter().map(|s| s.sustained_msgs_per_s).collect())
                        .unwrap_or_default();
                    stream_rates.insert((job.trial, id.0, id.3), r);
                }
                let extra = Extra {
                    offered: &rates,
                    note: crowded.then(|| crowded_note(messages)),
                };
                fold(&mut accs, id, &producer, &consumers, &extra);
            }
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
    id: Id,
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
            .map(|(m, t)| (m.clone(), Some(t), None));
        let rate = p
            .msgs_per_s
            .or_else(|| cs.iter().find_map(|c| c.msgs_per_s))
            .map(|r| ("throughput".to_owned(), None, Some(r)));
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
                .entry((id.0, id.1, id.2, id.3, si, metric))
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
            acc.cpu_producer.push(p.cpu_ns_per_msg);
            acc.cpu_consumer.push(cpu_consumer);
        }
    }
}

fn metrics_of(workload: Workload) -> &'static [&'static str] {
    match workload {
        Workload::Seed => &["put", "get", "total", "encode", "decode"],
        Workload::Pingpong => &["rtt"],
        Workload::Stream => &["throughput", "oneway"],
        Workload::Fanout(_) => &["throughput", "latency"],
        Workload::Paced(_) => &["latency"],
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn cells(plan: &Plan, accs: BTreeMap<Key, Acc>, failed: &BTreeMap<Id, String>) -> Outcome {
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
            workers: workload.is_fanout().then(|| workload.consumers()),
            offered_msgs_per_s: mean(&acc.offered),
            note: acc.note,
            ..Cell::default()
        };
        if acc.rates.is_empty() {
            cell.summary = summarize(&acc.trials);
            cell.trial_means_ns = acc.trials.iter().map(Trial::mean).collect();
        } else {
            cell.summary = throughput_summary(&acc.rates, acc.messages.iter().sum());
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
                    workers: workload.is_fanout().then(|| workload.consumers()),
                    ..Cell::default()
                });
            }
        }
    }
    out
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
