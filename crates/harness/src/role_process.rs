//! One started role process (`ipcbench __role <spec>`), as the local
//! supervisor and both sides of a remote trial hold it: started so the
//! kernel kills it if its starter dies (`PR_SET_PDEATHSIG`), registered with
//! [`crate::children`] so an interrupt stops it, its stdout lines handed to
//! a channel and its stderr's tail kept for the error message; polled,
//! killed and reaped, and described by how it ended.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::protocol::Line;
use crate::role::{ENDPOINT_SECRETS, RoleSpec};

/// How many bytes of a child's stderr to keep for the error message.
const STDERR_TAIL: usize = 4096;

/// How a role process is started.
pub struct Start<'a> {
    /// The `ipcbench` executable.
    pub exe: &'a Path,
    /// What it runs.
    pub spec: &'a RoleSpec,
    /// "producer", "consumer" or "worker 2", for messages.
    pub label: String,
    /// The endpoints' secret parts, passed in [`ENDPOINT_SECRETS`].
    pub secrets: Option<&'a str>,
    /// Whether it reads `PEER <pid>` lines on its stdin (a local listening
    /// process); otherwise its stdin is empty.
    pub reads_peers: bool,
}

/// A started role process; killed and reaped when dropped.
pub struct RoleProcess {
    label: String,
    child: Child,
    /// A listening process's stdin, until it has been told its peers' pids.
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
}

impl RoleProcess {
    /// Starts `exe __role <spec>`; each stdout line goes to `events` as
    /// `wrap(Some(line))`, and end of stdout as `wrap(None)`.
    pub fn spawn<E: Send + 'static>(
        start: Start<'_>,
        events: mpsc::Sender<E>,
        wrap: impl Fn(Option<String>) -> E + Send + 'static,
    ) -> Result<Self> {
        let Start {
            exe,
            spec,
            label,
            secrets,
            reads_peers,
        } = start;
        let json = serde_json::to_string(spec)?;
        let mut cmd = Command::new(exe);
        if let Some(secrets) = secrets {
            cmd.env(ENDPOINT_SECRETS, secrets);
        }
        cmd.arg("__role")
            .arg(json)
            .stdin(if reads_peers {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure only calls prctl, which is async-signal-safe.
        // If the thread that started the child dies, however it dies, the
        // kernel kills the child.
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
                if events.send(wrap(Some(line))).is_err() {
                    return;
                }
            }
            let _ = events.send(wrap(None));
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || keep_tail(stderr_pipe, &sink));
        Ok(Self {
            label,
            child,
            stdin,
            stderr,
            status: None,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What messages call it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Tells a listening process which processes to admit, and closes its
    /// stdin.
    pub fn tell_peers(&mut self, pids: &[u32]) -> Result<()> {
        if let Some(mut stdin) = self.stdin.take() {
            for &pid in pids {
                writeln!(stdin, "{}", Line::Peer(pid))
                    .with_context(|| format!("telling the {} its peers", self.label))?;
            }
        }
        Ok(())
    }

    /// Notes whether it has exited, reaping it if so.
    pub fn poll_exit(&mut self) -> Result<()> {
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

    /// Whether it has exited (reaping it if so).
    pub fn exited(&mut self) -> bool {
        // An error waiting leaves it counted as running; a later kill reaps it.
        let _ = self.poll_exit();
        self.status.is_some()
    }

    /// Waits for it to exit (its stdout has ended: it is on its way out)
    /// and reaps it.
    pub fn reap(&mut self) {
        if self.status.is_none() {
            self.status = self.child.wait().ok();
            crate::children::unregister(self.child.id());
        }
    }

    /// Exited with status 0.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Exited otherwise.
    pub fn failed(&self) -> bool {
        self.status.is_some_and(|s| !s.success())
    }

    /// Kills it if it still runs, and reaps it.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.reap();
        }
    }

    /// Gives `procs` `grace` to exit on their own, then kills the rest;
    /// every one is reaped.
    pub fn stop_with_grace<'p>(
        procs: impl IntoIterator<Item = &'p mut RoleProcess>,
        grace: Duration,
    ) {
        let mut procs: Vec<&mut RoleProcess> = procs.into_iter().collect();
        processes::poll_until(grace, || procs.iter_mut().all(|p| p.exited()));
        for p in procs {
            p.kill();
        }
    }

    /// "consumer (pid 12) was killed by signal 9 (SIGKILL): <stderr tail>".
    pub fn describe(&self) -> String {
        let pid = self.child.id();
        let how = match self.status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => format!("exited with status {c}"),
                (_, Some(sig)) => format!(
                    "was killed by signal {sig} ({})",
                    processes::signal_name(sig)
                ),
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

impl Drop for RoleProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `pipe` to its end, keeping the last [`STDERR_TAIL`] bytes or so in
/// `sink`.
fn keep_tail(pipe: impl Read, sink: &Mutex<String>) {
    let mut r = BufReader::new(pipe);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_keeps_the_last_bytes_on_a_char_boundary() {
        let sink = Mutex::new(String::new());
        let text = format!("{}é{}", "a".repeat(3 * STDERR_TAIL), "z".repeat(100));
        keep_tail(text.as_bytes(), &sink);
        let kept = sink.lock().expect("lock").clone();
        assert!(kept.len() <= 2 * STDERR_TAIL, "{}", kept.len());
        assert!(kept.len() >= STDERR_TAIL, "{}", kept.len());
        assert!(text.ends_with(&kept));
    }
}
