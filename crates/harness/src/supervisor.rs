//! The supervisor: starts the consumer, relays its endpoint to a newly started
//! producer, watches both under deadlines, and turns every way a pair can go
//! wrong (a crash, a kill, a verification failure, a hang) into an error that
//! names the process and the reason, within seconds, with both processes gone.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::placement::Role;
use crate::role::{RoleOutput, RoleSpec};

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

enum Event {
    Line(Role, String),
    Eof(Role),
}

struct Proc {
    role: Role,
    child: Child,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
    eof: bool,
    result: Option<RoleOutput>,
    progress: usize,
}

impl Proc {
    fn spawn(exe: &Path, spec: &RoleSpec, events: mpsc::Sender<Event>) -> Result<Self> {
        let json = serde_json::to_string(spec)?;
        let mut cmd = Command::new(exe);
        cmd.arg("__role")
            .arg(json)
            .stdin(Stdio::null())
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
            .with_context(|| format!("starting the {} process ({})", spec.role, exe.display()))?;
        let role = spec.role;
        let stdout = child.stdout.take().context("child stdout")?;
        let stderr_pipe = child.stderr.take().context("child stderr")?;
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if events.send(Event::Line(role, line)).is_err() {
                    return;
                }
            }
            let _ = events.send(Event::Eof(role));
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
            role,
            child,
            stderr,
            status: None,
            eof: false,
            result: None,
            progress: 0,
        })
    }

    fn poll_exit(&mut self) -> Result<()> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for the {}", self.role))?;
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
            format!("{} (pid {pid}) {how}", self.role)
        } else {
            format!("{} (pid {pid}) {how}: {err}", self.role)
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

/// Runs one producer–consumer pair to completion and returns (producer,
/// consumer) measurements, or an error naming what went wrong.
pub fn run_pair(exe: &Path, spec: &RoleSpec, limits: Limits) -> Result<(RoleOutput, RoleOutput)> {
    let (events_tx, events) = mpsc::channel();
    let mut consumer_spec = spec.clone();
    consumer_spec.role = Role::Consumer;
    consumer_spec.connect_timeout_ms = limits.connect.as_millis() as u64;
    let mut consumer = Proc::spawn(exe, &consumer_spec, events_tx.clone())?;

    // Phase 1: the consumer listens and tells us where.
    let deadline = Instant::now() + limits.connect;
    let endpoint = loop {
        match events.recv_timeout(Duration::from_millis(20)) {
            Ok(Event::Line(_, line)) => {
                if let Some(ep) = line.strip_prefix("ENDPOINT ") {
                    break ep.to_owned();
                }
            }
            Ok(Event::Eof(_)) => {
                consumer.status = consumer.child.wait().ok();
                bail!("{} before publishing an endpoint", consumer.describe());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("lost contact with the consumer"),
        }
        consumer.poll_exit()?;
        if consumer.status.is_some() {
            bail!("{} before publishing an endpoint", consumer.describe());
        }
        if Instant::now() > deadline {
            consumer.kill();
            bail!(
                "the consumer published no endpoint within {:?}",
                limits.connect
            );
        }
    };

    // Phase 2: the producer connects and both run.
    let mut producer_spec = spec.clone();
    producer_spec.role = Role::Producer;
    producer_spec.endpoint = Some(endpoint);
    producer_spec.connect_timeout_ms = consumer_spec.connect_timeout_ms;
    let producer = Proc::spawn(exe, &producer_spec, events_tx)?;
    let mut procs = [producer, consumer];
    let mut last_progress = Instant::now();
    let sizes = spec.sizes.len();

    loop {
        match events.recv_timeout(Duration::from_millis(20)) {
            Ok(Event::Line(role, line)) => {
                let p = &mut procs[role as usize];
                if let Some(n) = line.strip_prefix("PROGRESS ") {
                    p.progress = n.parse().unwrap_or(p.progress);
                    last_progress = Instant::now();
                } else if let Some(json) = line.strip_prefix("RESULT ") {
                    p.result = Some(
                        serde_json::from_str(json)
                            .with_context(|| format!("{role} sent malformed results"))?,
                    );
                }
            }
            Ok(Event::Eof(role)) => procs[role as usize].eof = true,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {}
        }
        for p in &mut procs {
            p.poll_exit()?;
        }
        if procs.iter().any(Proc::failed) {
            // Give the other side a moment to exit on its own, so the report
            // shows both stories (the first failure usually causes the second).
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
            let mut failed: Vec<&Proc> = procs.iter().filter(|p| p.failed()).collect();
            // The consumer creates the transport and verifies; its story first.
            failed.sort_by_key(|p| p.role != Role::Consumer);
            let stories: Vec<String> = failed.iter().map(|p| p.describe()).collect();
            return Err(anyhow!("{}", stories.join("; then ")));
        }
        if procs.iter().all(Proc::done) {
            break;
        }
        if last_progress.elapsed() > limits.stall {
            for p in &mut procs {
                p.kill();
            }
            let [prod, cons] = &procs;
            bail!(
                "no progress for {:?}: killed both processes (producer finished {}/{sizes} sizes, consumer {}/{sizes}); the transport is stalled or deadlocked",
                limits.stall,
                prod.progress,
                cons.progress
            );
        }
    }
    let [mut prod, mut cons] = procs;
    let p = prod
        .result
        .take()
        .ok_or_else(|| anyhow!("{} without sending results", prod.describe()))?;
    let c = cons
        .result
        .take()
        .ok_or_else(|| anyhow!("{} without sending results", cons.describe()))?;
    Ok((p, c))
}
