//! A run: the matrix of pairs (or fanout groups) to execute (transports
//! interleaved innermost, so machine drift hits every transport alike), their
//! execution with progress, and the folding of every trial into result cells.
//!
//! Two workloads depend on the run itself: a paced job sends at a fraction of
//! the stream rate its transport measured in the same trial and placement (so
//! paced jobs run after stream within each trial), and a busy-waiting backend
//! whose processes must share a core gets fewer messages (see [`crowded`]).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use codec::Codec;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use results::{Cell, Metric, Status, Summary};

use crate::placement::Placement;
use crate::registry::Backend;
use crate::role::{RoleOutput, RoleSpec};
use crate::stats::{CURVE_QUANTILES, Trial, mean_ci, summarize};
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
    /// Independent trials (fresh process pairs) per headline cell.
    pub trials: usize,
    /// Trials of the other cells (other codecs and placements): they are
    /// detail, and fewer keep the run short. At most `trials`.
    pub secondary_trials: usize,
    /// Extra trials for headline cells whose medians are not yet precise.
    pub adaptive: Adaptive,
    /// Measured messages per trial and size.
    pub messages: usize,
    /// Messages and sizes for some workload families instead of the run's.
    pub per_workload: PerWorkload,
    /// Each stream size runs at least this long, milliseconds.
    pub stream_min_ms: u64,
    /// Warm-up per trial and size, milliseconds.
    pub warmup_ms: u64,
    /// Deadlines per pair.
    pub limits: Limits,
    /// Record failures and go on, instead of stopping at the first.
    pub keep_going: bool,
    /// No progress bar.
    pub quiet: bool,
}

/// Settings of one workload family (`seed`, `pingpong`, `stream`, `fanout`,
/// `paced`) that differ from the run's: a workload whose per-trial spread is
/// small needs fewer messages, and fanout's scaling shows at a few sizes.
#[derive(Debug, Clone, Default)]
pub struct PerWorkload {
    /// Measured messages per trial and size, by family.
    pub messages: BTreeMap<String, usize>,
    /// Payload sizes, by family.
    pub sizes: BTreeMap<String, Vec<u64>>,
}

/// The adaptive stopping rule: after the planned trials, a headline group
/// (transport, workload, codec, placement) gets more trials, one round at a
/// time and interleaved across groups, until the 95% interval of every size's
/// median is within `precision` of the median, the group has `max_trials`, or
/// the run has spent `budget` on extra trials (checked before each, so the
/// rule overruns it by at most one trial).
#[derive(Debug, Clone, Copy)]
pub struct Adaptive {
    /// Trial cap; at most `trials` turns the rule off.
    pub max_trials: usize,
    /// Goal for the interval's half-width, as a fraction of the median.
    pub precision: f64,
    /// Wall time the extra rounds may take in all.
    pub budget: Duration,
}

impl Adaptive {
    /// No extra trials.
    pub const OFF: Self = Self {
        max_trials: 0,
        precision: 0.05,
        budget: Duration::ZERO,
    };
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
    /// Whether a job's cells are headline cells (placement `split`, codec
    /// `raw`): the cells the report's answers are made of.
    fn is_headline(&self, job: &Job) -> bool {
        job.placement == Placement::Split && job.codec == Codec::Raw
    }

    fn trials_for(&self, job: &Job) -> usize {
        if self.is_headline(job) {
            self.trials
        } else {
            self.secondary_trials.min(self.trials)
        }
    }

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
                        for &backend in self.transports.iter().filter(|b| runs(b, workload)) {
                            let job = Job {
                                trial,
                                placement,
                                workload,
                                codec,
                                backend,
                            };
                            if trial < self.trials_for(&job) {
                                jobs.push(job);
                            }
                        }
                    }
                }
            }
        }
        jobs
    }

    /// Every size the workload asks for, before any transport's limit.
    pub fn sizes_of(&self, workload: Workload) -> &[u64] {
        self.per_workload
            .sizes
            .get(workload.family())
            .unwrap_or(&self.sizes)
    }

    /// Measured messages per trial and size for the workload.
    pub fn messages_of(&self, workload: Workload) -> usize {
        self.per_workload
            .messages
            .get(workload.family())
            .copied()
            .unwrap_or(self.messages)
    }

    fn sizes_for(&self, backend: &Backend, workload: Workload) -> Vec<u64> {
        let max = (backend.capabilities)().max_message_size as u64;
        self.sizes_of(workload)
            .iter()
            .copied()
            .filter(|&s| fits(s, max))
            .collect()
    }
}

/// Whether the backend runs the workload at all: a shared-queue fanout only
/// where receivers can share an endpoint. Others are not scheduled (not
/// failed): the workload does not exist for them.
pub fn runs(backend: &Backend, workload: Workload) -> bool {
    crate::workload::runs_on(workload, &(backend.capabilities)())
}

/// Whether a payload of `size` bytes, with its header and framing, fits a
/// transport whose largest message is `max` bytes.
pub fn fits(size: u64, max: u64) -> bool {
    size + 64 <= max
}

/// Identity of a cell, ordered the way reports list them; the metric's name
/// before the metric keeps the cells in the file in the order they always
/// had (by name).
type Key = (usize, usize, usize, usize, usize, &'static str, Metric);

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

/// Runs every pair of the plan and folds the results into cells: first the
/// planned trials, then (see [`Adaptive`]) extra rounds for headline groups
/// whose medians are not yet precise.
pub fn execute(plan: &Plan, exe: &Path) -> Result<Outcome> {
    let jobs = plan.jobs();
    let mut run = Runner::new(plan, exe, jobs.len());
    for job in &jobs {
        run.job(job)?;
    }
    let stops = run.adapt()?;
    run.bar.finish_and_clear();
    Ok(cells(plan, run.accs, &run.failed, &stops))
}

/// The state of a run in progress.
struct Runner<'a> {
    plan: &'a Plan,
    exe: &'a Path,
    bar: ProgressBar,
    /// Plain progress lines instead of a bar (stderr is not a terminal).
    lines: bool,
    started: Instant,
    done: usize,
    total: usize,
    accs: BTreeMap<Key, Acc>,
    failed: BTreeMap<Id, String>,
    /// Stream rates per size, by (trial, transport, placement), for paced jobs.
    stream_rates: BTreeMap<(usize, usize, usize), Vec<Option<f64>>>,
}

impl<'a> Runner<'a> {
    fn new(plan: &'a Plan, exe: &'a Path, total: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = if plan.quiet || !terminal {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} pairs, eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        Self {
            plan,
            exe,
            bar,
            lines: !plan.quiet && !terminal,
            started: Instant::now(),
            done: 0,
            total,
            accs: BTreeMap::new(),
            failed: BTreeMap::new(),
            stream_rates: BTreeMap::new(),
        }
    }

    fn index(&self, job: &Job) -> Id {
        let plan = self.plan;
        let pos = |i: Option<usize>| i.unwrap_or(0);
        (
            pos(plan
                .transports
                .iter()
                .position(|b| b.name == job.backend.name)),
            pos(plan.workloads.iter().position(|w| *w == job.workload)),
            pos(plan.codecs.iter().position(|c| *c == job.codec)),
            pos(plan.placements.iter().position(|p| *p == job.placement)),
        )
    }

    /// Counts a finished (or skipped) pair and reports progress.
    fn finished(&mut self, job: &Job) {
        self.done += 1;
        self.bar.inc(1);
        if self.lines {
            let elapsed = self.started.elapsed().as_secs_f64();
            let eta = elapsed / self.done as f64 * self.total.saturating_sub(self.done) as f64;
            eprintln!(
                "[{}/{}] {} done, {:.0} s elapsed, eta {:.0} s",
                self.done,
                self.total,
                job.label(),
                elapsed,
                eta
            );
        }
    }

    fn messages(&self, job: &Job) -> (usize, bool) {
        let crowded = crowded(job.backend, job.placement, job.workload);
        let asked = self.plan.messages_of(job.workload);
        let base = if crowded {
            asked.min(CROWDED_MESSAGES)
        } else {
            asked
        };
        let n = match job.workload {
            Workload::Stream => base * STREAM_FACTOR,
            // An upper bound: the paced count per size follows from its rate.
            Workload::Paced(_) if crowded => base * STREAM_FACTOR,
            Workload::Paced(_) => base * PACED_FACTOR,
            // Every worker needs at least one task.
            Workload::Fanout(_) | Workload::FanoutQ(_) => base.max(job.workload.consumers()),
            Workload::Seed | Workload::Pingpong => base,
        };
        (n, crowded)
    }

    /// Paced jobs' target rates per size, or why the job cannot run.
    fn paced_rates(&self, job: &Job, id: Id, sizes: usize) -> Result<Vec<f64>, String> {
        let Some(load) = job.workload.load() else {
            return Ok(Vec::new());
        };
        self.stream_rates
            .get(&(job.trial, id.0, id.3))
            .filter(|r| r.len() == sizes && r.iter().all(Option::is_some))
            .map(|r| r.iter().flatten().map(|r| r * load).collect())
            .ok_or_else(|| {
                format!(
                    "skipped: paced sends at a fraction of the stream rate of the same \
                     transport, placement and trial, and stream gave none ({} {} trial {} \
                     failed or did not run)",
                    job.backend.name,
                    job.placement,
                    job.trial + 1
                )
            })
    }

    /// Runs one pair (or fanout group) and folds its trial in.
    fn job(&mut self, job: &Job) -> Result<()> {
        self.bar.set_message(job.label());
        let id = self.index(job);
        let sizes = self.plan.sizes_for(job.backend, job.workload);
        if self.failed.contains_key(&id) || sizes.is_empty() {
            self.finished(job);
            return Ok(());
        }
        let (messages, crowded) = self.messages(job);
        let rates = match self.paced_rates(job, id, sizes.len()) {
            Ok(r) => r,
            Err(msg) => {
                self.bar
                    .suspend(|| eprintln!("SKIPPED {}: {msg}", job.label()));
                self.failed.insert(id, msg);
                self.finished(job);
                return Ok(());
            }
        };
        let spec = RoleSpec {
            role: crate::placement::Role::Consumer,
            transport: job.backend.name.to_owned(),
            workload: job.workload,
            codec: job.codec.name().to_owned(),
            sizes,
            messages,
            warmup_ms: self.plan.warmup_ms,
            placement: job.placement,
            tag: transport::Options::unique("ib").tag,
            endpoint: None,
            endpoints: Vec::new(),
            worker: 0,
            rates: rates.clone(),
            connect_timeout_ms: self.plan.limits.connect.as_millis() as u64,
            stream_min_ms: self.plan.stream_min_ms,
        };
        match run_group(self.exe, &spec, self.plan.limits) {
            Ok((producer, consumers)) => {
                if job.workload == Workload::Stream {
                    let r = consumers
                        .first()
                        .map(|c| c.sizes.iter().map(|s| s.sustained_msgs_per_s).collect())
                        .unwrap_or_default();
                    self.stream_rates.insert((job.trial, id.0, id.3), r);
                }
                let extra = Extra {
                    offered: &rates,
                    note: crowded.then(|| crowded_note(messages)),
                };
                fold(&mut self.accs, id, &producer, &consumers, &extra);
            }
            Err(e) => {
                let msg = format!("{}: {e:#}", job.label());
                self.bar.suspend(|| eprintln!("FAILED {msg}"));
                if !self.plan.keep_going {
                    self.bar.finish_and_clear();
                    anyhow::bail!("{msg}");
                }
                self.failed.insert(id, format!("{e:#}"));
            }
        }
        self.finished(job);
        Ok(())
    }

    /// Trials folded so far for a group, and whether every size's median
    /// interval is within the precision goal.
    fn precision(&self, id: Id) -> (usize, bool) {
        let goal = self.plan.adaptive.precision;
        let mut trials = usize::MAX;
        let mut precise = true;
        for (key, acc) in self
            .accs
            .range((id.0, id.1, id.2, id.3, 0, "", Metric::Total)..)
        {
            if (key.0, key.1, key.2, key.3) != id {
                break;
            }
            let values: Vec<f64> = if acc.rates.is_empty() {
                acc.trials.iter().map(|t| t.quantile(0.5)).collect()
            } else {
                acc.rates.iter().map(|r| 1e9 / r).collect()
            };
            trials = trials.min(values.len());
            precise &= within_goal(&values, goal);
        }
        (if trials == usize::MAX { 0 } else { trials }, precise)
    }

    /// Extra rounds of trials, interleaved across the headline groups whose
    /// median intervals are wider than the goal, until each is precise, hits
    /// the trial cap, or the run's extra-time budget is spent. Returns why
    /// each group stopped.
    fn adapt(&mut self) -> Result<BTreeMap<Id, StopReason>> {
        let plan = self.plan;
        let groups: Vec<Job> = plan.jobs().into_iter().filter(|j| j.trial == 0).collect();
        let mut stops: BTreeMap<Id, StopReason> = BTreeMap::new();
        let budget_start = Instant::now();
        loop {
            let mut round = Vec::new();
            for g in &groups {
                let id = self.index(g);
                if stops.contains_key(&id) || self.failed.contains_key(&id) {
                    continue;
                }
                let (trials, precise) = self.precision(id);
                let eligible = plan.is_headline(g) && g.workload.load().is_none();
                if !eligible || plan.adaptive.max_trials <= plan.trials {
                    stops.insert(id, StopReason::Planned);
                } else if precise {
                    stops.insert(id, StopReason::Precision);
                } else if trials >= plan.adaptive.max_trials {
                    stops.insert(id, StopReason::TrialCap);
                } else if budget_start.elapsed() >= plan.adaptive.budget {
                    stops.insert(id, StopReason::TimeCap);
                } else {
                    round.push(Job {
                        trial: trials,
                        ..*g
                    });
                }
            }
            if round.is_empty() {
                return Ok(stops);
            }
            self.total += round.len();
            self.bar.set_length(self.total as u64);
            // The budget is checked before every extra trial, not only at a
            // round's start: a round of every imprecise group can take most
            // of a minute. Groups left out of a cut round stop for `TimeCap`
            // on the next pass.
            for (i, job) in round.iter().enumerate() {
                if budget_start.elapsed() >= plan.adaptive.budget {
                    self.total -= round.len() - i;
                    self.bar.set_length(self.total as u64);
                    break;
                }
                self.job(job)?;
            }
        }
    }
}

/// Whether the 95% interval of the median of `trial_values` is within
/// `goal` (a fraction) of the median on either side; never with too few
/// trials for an interval.
fn within_goal(trial_values: &[f64], goal: f64) -> bool {
    results::bootstrap::median(trial_values)
        .zip(results::bootstrap::median_interval(trial_values))
        .map(|(m, (lo, hi))| (hi - lo) / 2.0 / m)
        .is_some_and(|h| h <= goal)
}

/// Why a group of cells got no more trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Exactly the planned trials (adaptive trials off, or not a headline cell).
    Planned,
    /// Every size's median interval is within the precision goal.
    Precision,
    /// The adaptive trial cap was reached first.
    TrialCap,
    /// The run's extra-time budget was spent first.
    TimeCap,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Planned => "planned",
            Self::Precision => "precision",
            Self::TrialCap => "trial cap",
            Self::TimeCap => "time cap",
        })
    }
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
                .entry((id.0, id.1, id.2, id.3, si, metric.name(), metric))
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
        Workload::Fanout(_) | Workload::FanoutQ(_) => &[Metric::Throughput, Metric::Latency],
        Workload::Paced(_) => &[Metric::Latency],
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn cells(
    plan: &Plan,
    accs: BTreeMap<Key, Acc>,
    failed: &BTreeMap<Id, String>,
    stops: &BTreeMap<Id, StopReason>,
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
        let (t, w, c, p, si, _, metric) = key;
        if failed.contains_key(&(t, w, c, p)) {
            continue;
        }
        let workload = plan.workloads[w];
        let size = plan.sizes_for(plan.transports[t], workload)[si];
        let mut cell = Cell {
            transport: plan.transports[t].name.to_owned(),
            codec: codec_name(c, workload).to_owned(),
            workload,
            placement: plan.placements[p],
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
        cell.stop_reason = stops.get(&(t, w, c, p)).map(ToString::to_string);
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
        for &size in &plan.sizes_for(backend, workload) {
            for metric in metrics_of(workload) {
                out.cells.push(Cell {
                    transport: backend.name.to_owned(),
                    codec: codec_name(c, workload).to_owned(),
                    workload,
                    placement: plan.placements[p],
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(transports: &[&str], workloads: Vec<Workload>) -> Plan {
        Plan {
            transports: transports
                .iter()
                .map(|n| crate::registry::find(n).expect("registered"))
                .collect(),
            workloads,
            codecs: vec![Codec::Raw],
            placements: vec![Placement::Split],
            sizes: vec![800],
            trials: 2,
            secondary_trials: 2,
            adaptive: Adaptive::OFF,
            messages: 10,
            per_workload: PerWorkload::default(),
            stream_min_ms: 1,
            warmup_ms: 0,
            limits: Limits::default(),
            keep_going: false,
            quiet: true,
        }
    }

    #[test]
    fn precision_is_the_median_intervals_half_width_against_the_goal() {
        let tight = [100.0, 101.0, 99.0, 100.0, 100.5];
        assert!(within_goal(&tight, 0.05));
        assert!(!within_goal(&tight, 0.0));
        let wide = [100.0, 300.0, 50.0, 100.0, 400.0];
        assert!(!within_goal(&wide, 0.05));
        assert!(within_goal(&wide, 10.0));
        // Two trials give no interval: never precise, whatever the goal.
        assert!(!within_goal(&[100.0, 100.0], 10.0));
    }

    #[test]
    fn shared_queue_fanout_is_scheduled_only_where_receivers_can_share() {
        let p = plan(
            &["pipe", "shm-queue", "uds"],
            vec![Workload::Fanout(2), Workload::FanoutQ(2)],
        );
        let scheduled: Vec<(&str, String)> = p
            .jobs()
            .iter()
            .filter(|j| j.trial == 0)
            .map(|j| (j.backend.name, j.workload.name()))
            .collect();
        let want = [
            ("pipe", "fanout2"),
            ("shm-queue", "fanout2"),
            ("uds", "fanout2"),
            ("shm-queue", "fanoutq2"),
        ];
        assert_eq!(
            scheduled,
            want.map(|(t, w)| (t, w.to_owned())),
            "pipe and uds cannot share a receiver"
        );
        let pipe = crate::registry::find("pipe").expect("pipe");
        assert!(!runs(pipe, Workload::FanoutQ(1)) && runs(pipe, Workload::Fanout(4)));
        let q = crate::registry::find("shm-queue").expect("shm-queue");
        let most = (q.capabilities)().shared_receivers as u16;
        assert!(runs(q, Workload::FanoutQ(most)) && !runs(q, Workload::FanoutQ(most + 1)));
    }
}
