//! Running a plan: every job as a pair (or fanout group) of role processes,
//! with a progress bar (or plain progress lines), folding each trial in.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::fold::{Acc, CellKey, Extra, Outcome, cells, fold};
use super::plan::{Group, Job, Plan, crowded_note};
use crate::role::RoleSpec;
use crate::supervisor::run_group;
use crate::workload::Workload;

/// Runs every pair of the plan and folds the results into cells: first the
/// planned trials, then (see [`Adaptive`](super::Adaptive)) extra rounds for headline groups
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
pub(super) struct Runner<'a> {
    pub plan: &'a Plan,
    exe: &'a Path,
    pub bar: ProgressBar,
    /// Plain progress lines instead of a bar (stderr is not a terminal).
    lines: bool,
    started: Instant,
    done: usize,
    /// Jobs to run in all, extra rounds included.
    pub total: usize,
    pub accs: BTreeMap<CellKey, Acc>,
    pub failed: BTreeMap<Group, String>,
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

    /// Paced jobs' target rates per size, or why the job cannot run.
    fn paced_rates(&self, job: &Job, group: Group, sizes: usize) -> Result<Vec<f64>, String> {
        let Some(load) = job.workload.load() else {
            return Ok(Vec::new());
        };
        self.stream_rates
            .get(&(job.trial, group.transport, group.placement))
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
    pub(super) fn job(&mut self, job: &Job) -> Result<()> {
        self.bar.set_message(job.label());
        let group = self.plan.group_of(job);
        let sizes = self.plan.sizes_for(job.backend, job.workload);
        if self.failed.contains_key(&group) || sizes.is_empty() {
            self.finished(job);
            return Ok(());
        }
        let (messages, crowded) = self.plan.messages_for(job);
        let rates = match self.paced_rates(job, group, sizes.len()) {
            Ok(r) => r,
            Err(msg) => {
                self.bar
                    .suspend(|| eprintln!("SKIPPED {}: {msg}", job.label()));
                self.failed.insert(group, msg);
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
            bind: None,
            remote: false,
        };
        let outcome = match &self.plan.remote {
            Some(session) => session.run_group(self.exe, &spec, self.plan.limits),
            None => run_group(self.exe, &spec, self.plan.limits),
        };
        match outcome {
            Ok((producer, consumers)) => {
                if job.workload == Workload::Stream {
                    let r = consumers
                        .first()
                        .map(|c| c.sizes.iter().map(|s| s.sustained_msgs_per_s).collect())
                        .unwrap_or_default();
                    self.stream_rates
                        .insert((job.trial, group.transport, group.placement), r);
                }
                let note = match &self.plan.remote {
                    Some(s) => Some(format!(
                        "across hosts: consumer on {} (ipcbench serve), producer here; one-clock metrics only",
                        s.host
                    )),
                    None => crowded.then(|| crowded_note(messages)),
                };
                let extra = Extra {
                    offered: &rates,
                    note,
                };
                fold(&mut self.accs, group, &producer, &consumers, &extra);
            }
            Err(e) => {
                let msg = format!("{}: {e:#}", job.label());
                self.bar.suspend(|| eprintln!("FAILED {msg}"));
                if crate::remote::exit_code(&e).is_some() {
                    // The server is gone: no later job can run either.
                    self.bar.finish_and_clear();
                    return Err(e.context(job.label()));
                }
                if !self.plan.keep_going {
                    self.bar.finish_and_clear();
                    anyhow::bail!("{msg}");
                }
                self.failed.insert(group, format!("{e:#}"));
            }
        }
        self.finished(job);
        Ok(())
    }
}
