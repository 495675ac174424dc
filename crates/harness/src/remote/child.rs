//! One role process of a remote trial (the consumer on the `serve` host, the
//! producer on the client's), started as the local supervisor starts its
//! own: `ipcbench __role <spec>`, killed by the kernel if its starter dies
//! (`PR_SET_PDEATHSIG`), registered with [`crate::children`] so an
//! interrupt stops it, its stdout lines handed to a channel and its stderr's
//! tail kept for the error message.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{Context, Result};

use crate::role::{ENDPOINT_SECRETS, RoleSpec};

/// How many bytes of stderr to keep.
const STDERR_TAIL: usize = 4096;

/// A started role process.
pub struct RoleChild {
    label: String,
    child: Child,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
}

impl RoleChild {
    /// Starts `exe __role <spec>`; each stdout line goes to `events` as
    /// `wrap(Some(line))`, and end of stdout as `wrap(None)`. A listening
    /// process gets an empty stdin: no `PEER` lines (the transport's token
    /// admits the producer, which runs on another host).
    pub fn spawn<E: Send + 'static>(
        exe: &Path,
        spec: &RoleSpec,
        label: &str,
        secrets: Option<&str>,
        events: mpsc::Sender<E>,
        wrap: impl Fn(Option<String>) -> E + Send + 'static,
    ) -> Result<Self> {
        let json = serde_json::to_string(spec)?;
        let mut cmd = Command::new(exe);
        if let Some(secrets) = secrets {
            cmd.env(ENDPOINT_SECRETS, secrets);
        }
        cmd.arg("__role")
            .arg(json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure only calls prctl, which is async-signal-safe.
        // If the thread that started the child dies, the kernel kills it.
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
        let stdout = child.stdout.take().context("child stdout")?;
        let stderr_pipe = child.stderr.take().context("child stderr")?;
        thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if events.send(wrap(Some(l))).is_err() {
                    return;
                }
            }
            let _ = events.send(wrap(None));
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
            label: label.to_owned(),
            child,
            stderr,
            status: None,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (reaping it if so).
    pub fn exited(&mut self) -> bool {
        if self.status.is_none()
            && let Ok(Some(s)) = self.child.try_wait()
        {
            self.status = Some(s);
            crate::children::unregister(self.child.id());
        }
        self.status.is_some()
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
            self.status = self.child.wait().ok();
            crate::children::unregister(self.child.id());
        }
    }

    /// "consumer (pid 12) exited with status 1: <stderr tail>".
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

impl Drop for RoleChild {
    fn drop(&mut self) {
        self.kill();
    }
}
