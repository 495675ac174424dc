//! The supervisor: starts the consumer (or a fanout workload's workers),
//! relays the endpoint(s) to a newly started producer, watches every process
//! under deadlines, and turns every way a group can go wrong (a crash, a kill,
//! a verification failure, a hang) into an error that names the process and
//! the reason, within seconds, with all processes gone. A pair is a group with
//! one consumer; there is one code path for both.
//!
//! Only the processes it started may join: once the producer runs, each
//! consumer reads `PEER <pid>` on its stdin and admits only that process
//! (`Listener::expect_peer`), and an endpoint's secret part (TCP's token, see
//! `Endpoint::public`) reaches the producer in the [`ENDPOINT_SECRETS`]
//! variable, not on its world-readable command line.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::placement::Role;
use crate::protocol::Line;
use crate::role::{ENDPOINT_SECRETS, RoleOutput, RoleSpec};

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

/// How many bytes of a child's stderr to keep for the error message.
const STDERR_TAIL: usize = 4096;

/// Events from the processes' stdout readers, by index in the group
/// (0 = producer, 1.. = consumers).
enum Event {
    Line(usize, String),
    Eof(usize),
}

struct Proc {
    /// "producer", "consumer" or "worker 2", for messages.
    label: String,
    child: Child,
    /// A consumer's stdin, until it has been told the producer's pid.
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
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
        let json = serde_json::to_string(spec)?;
        let mut cmd = Command::new(exe);
        if let Some(secrets) = secrets {
            cmd.env(ENDPOINT_SECRETS, secrets);
        }
        let stdin = if spec.role == Role::Consumer {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        cmd.arg("__role")
            .arg(json)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure only calls prctl, which is async-signal-safe.
        // If the supervisor dies, however it dies, the kernel kills the child.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))
                .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting the {label} process ({})", exe.display()))?;
        crate::children::register(child.id(), spec.role, &spec.tag);
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("child stdout")?;
        let stderr_pipe = child.stderr.take().context("child stderr")?;
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if events.send(Event::Line(index, line)).is_err() {
                    return;
                }
            }
            let _ = events.send(Event::Eof(index));
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut r = BufReader::new(stderr_pipe);
            let mut chunk = [0u8; 4096];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    if s.len() > 2 * STDERR_TAIL {
                        let cut = s.len() - STDERR_TAIL;
                        let cut = (cut..s.len())
                            .find(|&i| s.is_char_boundary(i))
                            .unwrap_or(s.len());
                        s.drain(..cut);
                    }
                }
            }
        });
        Ok(Self {
            label,
            child,
            stdin,
            stderr,
            status: None,
            eof: false,
            result: None,
            progress: 0,
        })
    }

    /// Tells a consumer which process to admit, and closes its stdin.
    fn tell_peer(&mut self, pid: u32) -> Result<()> {
        if let Some(mut stdin) = self.stdin.take() {
            writeln!(stdin, "{}", Line::Peer(pid))
                .with_context(|| format!("telling the {} its peer", self.label))?;
        }
        Ok(())
    }

    fn poll_exit(&mut self) -> Result<()> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for the {}", self.label))?;
            if self.status.is_some() {
                crate::children::unregister(self.child.id());
            }
        }
        Ok(())
    }

    fn failed(&self) -> bool {
        self.status.is_some_and(|s| !s.success())
    }

    fn done(&self) -> bool {
        self.status.is_some_and(|s| s.success()) && self.eof
    }

    fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
            crate::children::unregister(self.child.id());
        }
    }

    /// "consumer (pid 12) was killed by signal 9 (SIGKILL): <stderr>".
    fn describe(&self) -> String {
        let pid = self.child.id();
        let how = match self.status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => format!("exited with status {c}"),
                (_, Some(sig)) => format!("was killed by signal {sig} ({})", signal_name(sig)),
                _ => "ended".to_owned(),
            },
            None => "was still running".to_owned(),
        };
        let err = self
            .stderr
            .lock()
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        if err.is_empty() {
            format!("{} (pid {pid}) {how}", self.label)
        } else {
            format!("{} (pid {pid}) {how}: {err}", self.label)
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        _ => "signal",
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
    let n = spec.workload.consumers();
    let fanout = spec.workload.is_fanout();
    let connect_ms = limits.connect.as_millis() as u64;
    // procs[0] is the producer once it starts; consumers are 1..=n.
    let mut procs: Vec<Proc> = Vec::with_capacity(n + 1);
    for k in 0..n {
        let mut consumer_spec = spec.clone();
        consumer_spec.role = Role::Consumer;
        consumer_spec.worker = k;
        consumer_spec.connect_timeout_ms = connect_ms;
        let label = if fanout {
            format!("worker {k}")
        } else {
            "consumer".to_owned()
        };
        procs.push(Proc::spawn(
            exe,
            &consumer_spec,
            k + 1,
            label,
            events_tx.clone(),
            None,
        )?);
    }

    // Phase 1: every consumer listens and tells us where.
    let deadline = Instant::now() + limits.connect;
    let mut endpoints: Vec<Option<String>> = vec![None; n];
    while endpoints.iter().any(Option::is_none) {
        match events.recv_timeout(Duration::from_millis(20)) {
            Ok(Event::Line(i, line)) => {
                if let Ok(Line::Endpoint(ep)) = line.parse()
                    && let Some(slot) = endpoints.get_mut(i.wrapping_sub(1))
                {
                    *slot = Some(ep);
                }
            }
            Ok(Event::Eof(i)) => {
                if let Some(p) = procs.get_mut(i.wrapping_sub(1)) {
                    p.status = p.child.wait().ok();
                    bail!("{} before publishing an endpoint", p.describe());
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("lost contact with the consumers"),
        }
        for p in &mut procs {
            p.poll_exit()?;
            if p.status.is_some() {
                bail!("{} before publishing an endpoint", p.describe());
            }
        }
        if Instant::now() > deadline {
            let missing: Vec<&str> = procs
                .iter()
                .zip(&endpoints)
                .filter(|(_, e)| e.is_none())
                .map(|(p, _)| p.label.as_str())
                .collect();
            bail!(
                "no endpoint within {:?} from: {}",
                limits.connect,
                missing.join(", ")
            );
        }
    }
    // Secrets go by environment, the rest by the command line.
    let (endpoints, secrets): (Vec<String>, Vec<String>) = endpoints
        .into_iter()
        .flatten()
        .map(|ep| match ep.split_once('#') {
            Some((public, secret)) => (public.to_owned(), secret.to_owned()),
            None => (ep, String::new()),
        })
        .unzip();

    // Phase 2: the producer connects and all run.
    let mut producer_spec = spec.clone();
    producer_spec.role = Role::Producer;
    producer_spec.endpoint = endpoints.first().cloned();
    producer_spec.endpoints = if fanout { endpoints } else { Vec::new() };
    producer_spec.connect_timeout_ms = connect_ms;
    let producer = Proc::spawn(
        exe,
        &producer_spec,
        0,
        "producer".to_owned(),
        events_tx,
        Some(&secrets.join(",")),
    )?;
    let producer_pid = producer.child.id();
    for consumer in &mut procs {
        consumer.tell_peer(producer_pid)?;
    }
    procs.insert(0, producer);
    let mut last_progress = Instant::now();
    let sizes = spec.sizes.len();

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
                        p.result = Some(
                            serde_json::from_str(&json)
                                .with_context(|| format!("{} sent malformed results", p.label))?,
                        );
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
            Err(RecvTimeoutError::Disconnected) => {}
        }
        for p in &mut procs {
            p.poll_exit()?;
        }
        if procs.iter().any(Proc::failed) {
            // Give the others a moment to exit on their own, so the report
            // shows every story (the first failure usually causes the next).
            let grace = Instant::now() + Duration::from_millis(300);
            while Instant::now() < grace && procs.iter().any(|p| p.status.is_none()) {
                thread::sleep(Duration::from_millis(10));
                for p in &mut procs {
                    p.poll_exit()?;
                }
            }
            for p in &mut procs {
                p.kill();
            }
            // Let the stderr readers catch the last words.
            thread::sleep(Duration::from_millis(20));
            // Consumers create the transport and verify; their stories first.
            let failed: Vec<String> = procs[1..]
                .iter()
                .chain(&procs[..1])
                .filter(|p| p.failed())
                .map(Proc::describe)
                .collect();
            return Err(anyhow!("{}", failed.join("; then ")));
        }
        if procs.iter().all(Proc::done) {
            break;
        }
        if last_progress.elapsed() > limits.stall {
            // The producer first: consumers that are merely waiting then see
            // their peer die and exit on their own, removing what their
            // transport created (iceoryx2's files), instead of leaving it to
            // the next run's sweep. Whatever is still there after the grace
            // is killed.
            procs[0].kill();
            let grace = Instant::now() + CONSUMER_GRACE;
            while Instant::now() < grace && procs.iter().any(|p| p.status.is_none()) {
                thread::sleep(Duration::from_millis(10));
                for p in &mut procs {
                    p.poll_exit()?;
                }
            }
            for p in &mut procs {
                p.kill();
            }
            let counts: Vec<String> = procs
                .iter()
                .map(|p| format!("{} {}/{sizes}", p.label, p.progress))
                .collect();
            bail!(
                "no progress for {:?}: killed every process (sizes finished: {}); the transport is stalled or deadlocked",
                limits.stall,
                counts.join(", ")
            );
        }
    }
    let mut outputs = Vec::with_capacity(procs.len());
    for p in &mut procs {
        let r = p
            .result
            .take()
            .ok_or_else(|| anyhow!("{} without sending results", p.describe()))?;
        outputs.push(r);
    }
    let producer = outputs.remove(0);
    Ok((producer, outputs))
}
