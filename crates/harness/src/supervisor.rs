//! The supervisor: starts the processes that listen (a pair's consumer, a
//! `fanoutN`, `bcastN` or point-to-point `gatherN` workload's workers, or
//! the hub of a `fanoutqN` or native `gatherN`),
//! relays their endpoint(s) to the newly started processes that connect,
//! watches every process under deadlines, and turns every way a group can go
//! wrong (a crash, a kill, a verification failure, a hang) into an error that
//! names the process and the reason, within seconds, with all processes gone.
//! A pair is a group with one consumer; there is one code path for all.
//!
//! Only the processes it started may join: once the connecting processes
//! run, each listening one reads their `PEER <pid>` lines on its stdin and
//! admits only them (`Listener::expect_peer`), and an endpoint's secret part
//! (TCP's token, see `Endpoint::public`) reaches the connecting side in the
//! [`ENDPOINT_SECRETS`] variable, not on its world-readable command line.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::placement::Role;
use crate::protocol::Line;
use crate::role::{RoleOutput, RoleSpec};
use crate::role_process::{RoleProcess, Start};

/// Deadlines for one pair.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long the consumer may take to publish its endpoint and the producer
    /// to connect.
    pub connect: Duration,
    /// The longest the pair may go without finishing a size.
    pub stall: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(20),
            stall: Duration::from_secs(60),
        }
    }
}

/// Events from the processes' stdout readers, by index in the group
/// (0 = producer, 1.. = consumers).
enum Event {
    Line(usize, String),
    Eof(usize),
}

/// A member of the group: its process and what it has said.
struct Proc {
    /// Position in the group: 0 the producer, 1.. the consumers.
    index: usize,
    process: RoleProcess,
    eof: bool,
    result: Option<RoleOutput>,
    progress: usize,
}

impl Proc {
    fn spawn(
        exe: &Path,
        spec: &RoleSpec,
        index: usize,
        label: String,
        events: mpsc::Sender<Event>,
        secrets: Option<&str>,
    ) -> Result<Self> {
        let start = Start {
            exe,
            spec,
            label,
            secrets,
            reads_peers: crate::role::listens(spec),
        };
        let process = RoleProcess::spawn(start, events, move |line| match line {
            Some(line) => Event::Line(index, line),
            None => Event::Eof(index),
        })?;
        Ok(Self {
            index,
            process,
            eof: false,
            result: None,
            progress: 0,
        })
    }

    fn failed(&self) -> bool {
        self.process.failed()
    }

    fn done(&self) -> bool {
        self.process.succeeded() && self.eof
    }

    fn describe(&self) -> String {
        self.process.describe()
    }
}

/// How long consumers get to exit on their own after a stalled group's
/// producer is killed.
const CONSUMER_GRACE: Duration = Duration::from_secs(2);

/// Runs one producer–consumer pair to completion and returns (producer,
/// consumer) measurements, or an error naming what went wrong.
pub fn run_pair(exe: &Path, spec: &RoleSpec, limits: Limits) -> Result<(RoleOutput, RoleOutput)> {
    let (p, mut c) = run_group(exe, spec, limits)?;
    let c = c.pop().context("the consumer sent no results")?;
    Ok((p, c))
}

/// Runs a producer and the workload's consumers (one, or a fanout's workers)
/// to completion and returns (producer, consumers in worker order), or an
/// error naming what went wrong.
pub fn run_group(
    exe: &Path,
    spec: &RoleSpec,
    limits: Limits,
) -> Result<(RoleOutput, Vec<RoleOutput>)> {
    let (events_tx, events) = mpsc::channel();
    let (listening, connecting): (Vec<_>, Vec<_>) = members(spec, limits)
        .into_iter()
        .partition(|(_, _, s)| crate::role::listens(s));
    // Phase 1: the listening processes create the transport and say where.
    let mut procs = Vec::with_capacity(listening.len() + connecting.len());
    for (index, label, s) in listening {
        procs.push(Proc::spawn(exe, &s, index, label, events_tx.clone(), None)?);
    }
    let endpoints = await_endpoints(&mut procs, &events, limits)?;
    // Secrets go by environment, the rest by the command line.
    let (endpoints, secrets): (Vec<String>, Vec<String>) = endpoints
        .into_iter()
        .map(|ep| match ep.split_once('#') {
            Some((public, secret)) => (public.to_owned(), secret.to_owned()),
            None => (ep, String::new()),
        })
        .unzip();

    // Phase 2: the connecting processes start, and all run.
    let mut pids = Vec::with_capacity(connecting.len());
    let listeners = procs.len();
    for (index, label, mut s) in connecting {
        s.endpoint = endpoints.first().cloned();
        if spec.workload.has_workers() && !crate::role::hub_listens(spec) {
            s.endpoints.clone_from(&endpoints);
        }
        let p = Proc::spawn(
            exe,
            &s,
            index,
            label,
            events_tx.clone(),
            Some(&secrets.join(",")),
        )?;
        pids.push(p.process.pid());
        procs.push(p);
    }
    drop(events_tx);
    for p in &mut procs[..listeners] {
        p.process.tell_peers(&pids)?;
    }
    // From here on, an event's index is a position: producer, then workers.
    procs.sort_by_key(|p| p.index);
    supervise(&mut procs, &events, spec.sizes.len(), limits)?;
    let mut outputs = Vec::with_capacity(procs.len());
    for p in &mut procs {
        let r = p
            .result
            .take()
            .ok_or_else(|| anyhow!("{} without sending results", p.describe()))?;
        outputs.push(r);
    }
    let producer = outputs.remove(0);
    if spec.workload.shared_queue() {
        crate::workload::check_union(&producer, &outputs)?;
    }
    Ok((producer, outputs))
}

/// The group's processes as (index, label, spec): the producer (index 0),
/// then each consumer or worker.
fn members(spec: &RoleSpec, limits: Limits) -> Vec<(usize, String, RoleSpec)> {
    let connect_ms = limits.connect.as_millis() as u64;
    let mut producer = spec.clone();
    producer.role = Role::Producer;
    producer.connect_timeout_ms = connect_ms;
    let (hub, worker) = labels(spec.workload);
    let mut out = vec![(0, hub.to_owned(), producer)];
    for k in 0..spec.workload.consumers() {
        let mut consumer = spec.clone();
        consumer.role = Role::Consumer;
        consumer.worker = k;
        consumer.connect_timeout_ms = connect_ms;
        let label = if spec.workload.has_workers() {
            format!("{worker} {k}")
        } else {
            "consumer".to_owned()
        };
        out.push((k + 1, label, consumer));
    }
    out
}

/// What the group's processes are called in messages: (the hub, each
/// worker but for its number).
fn labels(workload: crate::workload::Workload) -> (&'static str, &'static str) {
    use crate::workload::Workload;
    match workload {
        Workload::Bcast(_) => ("publisher", "subscriber"),
        Workload::Gather(_) => ("consumer", "producer"),
        _ => ("producer", "worker"),
    }
}

/// Phase 1: waits until every (listening) process in `procs` has published
/// its endpoint; returns them in `procs` order.
fn await_endpoints(
    procs: &mut [Proc],
    events: &mpsc::Receiver<Event>,
    limits: Limits,
) -> Result<Vec<String>> {
    let deadline = Instant::now() + limits.connect;
    let mut endpoints: Vec<Option<String>> = vec![None; procs.len()];
    let at = |procs: &[Proc], i: usize| procs.iter().position(|p| p.index == i);
    while endpoints.iter().any(Option::is_none) {
        match events.recv_timeout(Duration::from_millis(20)) {
            Ok(Event::Line(i, line)) => {
                if let Ok(Line::Endpoint(ep)) = line.parse()
                    && let Some(k) = at(procs, i)
                {
                    endpoints[k] = Some(ep);
                }
            }
            Ok(Event::Eof(i)) => {
                if let Some(k) = at(procs, i) {
                    let p = &mut procs[k];
                    p.process.reap();
                    bail!("{} before publishing an endpoint", p.describe());
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("lost contact with the processes"),
        }
        for p in procs.iter_mut() {
            if p.process.exited() {
                bail!("{} before publishing an endpoint", p.describe());
            }
        }
        if Instant::now() > deadline {
            let missing: Vec<&str> = procs
                .iter()
                .zip(&endpoints)
                .filter(|(_, e)| e.is_none())
                .map(|(p, _)| p.process.label())
                .collect();
            bail!(
                "no endpoint within {:?} from: {}",
                limits.connect,
                missing.join(", ")
            );
        }
    }
    Ok(endpoints.into_iter().flatten().collect())
}

/// Phase 2: relays progress and results until every process has finished,
/// or fails naming who failed or stalled (every process killed).
fn supervise(
    procs: &mut [Proc],
    events: &mpsc::Receiver<Event>,
    sizes: usize,
    limits: Limits,
) -> Result<()> {
    let mut last_progress = Instant::now();
    loop {
        match events.recv_timeout(Duration::from_millis(20)) {
            Ok(Event::Line(i, line)) => {
                let Some(p) = procs.get_mut(i) else { continue };
                match line.parse() {
                    Ok(Line::Progress(n)) => {
                        p.progress = n;
                        last_progress = Instant::now();
                    }
                    Ok(Line::Result(json)) => {
                        p.result = Some(serde_json::from_str(&json).with_context(|| {
                            format!("{} sent malformed results", p.process.label())
                        })?);
                    }
                    // Anything else a role prints is not the protocol's.
                    _ => {}
                }
            }
            Ok(Event::Eof(i)) => {
                if let Some(p) = procs.get_mut(i) {
                    p.eof = true;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Every reader has seen EOF: only exits are left to notice.
            Err(RecvTimeoutError::Disconnected) => thread::sleep(Duration::from_millis(2)),
        }
        for p in procs.iter_mut() {
            p.process.poll_exit()?;
        }
        if procs.iter().any(Proc::failed) {
            return Err(failure(procs));
        }
        if procs.iter().all(Proc::done) {
            return Ok(());
        }
        if last_progress.elapsed() > limits.stall {
            return Err(stalled(procs, sizes, limits));
        }
    }
}

/// A process failed: give the others a moment to exit on their own, so the
/// report shows every story (the first failure usually causes the next),
/// then kill the rest and name every failure.
fn failure(procs: &mut [Proc]) -> anyhow::Error {
    end_all(procs, Duration::from_millis(300));
    // Let the stderr readers catch the last words.
    thread::sleep(Duration::from_millis(20));
    // Consumers create the transport and verify; their stories first.
    let failed: Vec<String> = procs[1..]
        .iter()
        .chain(&procs[..1])
        .filter(|p| p.failed())
        .map(Proc::describe)
        .collect();
    anyhow!("{}", failed.join("; then "))
}

/// Gives the processes `grace` to exit on their own, then kills the rest.
fn end_all(procs: &mut [Proc], grace: Duration) {
    RoleProcess::stop_with_grace(procs.iter_mut().map(|p| &mut p.process), grace);
}

/// No progress for the stall limit: kill everything and say how far each got.
fn stalled(procs: &mut [Proc], sizes: usize, limits: Limits) -> anyhow::Error {
    // The producer first: consumers that are merely waiting then see their
    // peer die and exit on their own, removing what their transport created
    // (iceoryx2's files), instead of leaving it to the next run's sweep.
    // Whatever is still there after the grace is killed.
    procs[0].process.kill();
    end_all(procs, CONSUMER_GRACE);
    let counts: Vec<String> = procs
        .iter()
        .map(|p| format!("{} {}/{sizes}", p.process.label(), p.progress))
        .collect();
    anyhow!(
        "no progress for {:?}: killed every process (sizes finished: {}); the transport is stalled or deadlocked",
        limits.stall,
        counts.join(", ")
    )
}
