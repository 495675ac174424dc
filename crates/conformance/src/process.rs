//! The peer process: how a conformance test re-executes its own binary as
//! the other side of a connection, watches it, kills it and reports what it
//! printed when something goes wrong. Public for the backends' own
//! multi-process tests (the shared-memory robustness and kill tests).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

/// The line a listening peer process prints its endpoint on.
pub(crate) const ENDPOINT_LINE: &str = "IPCBENCH_CONFORMANCE_ENDPOINT=";

/// A command that runs test `test` of module `module` (as `module_path!()`
/// gives it) in a fresh copy of this test binary, its output piped.
pub fn self_command(module: &str, test: &str) -> Command {
    // libtest names a test by its path without the crate name.
    let test_path = match module.split_once("::") {
        Some((_, rest)) => format!("{rest}::{test}"),
        None => test.to_owned(),
    };
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        test_path.as_str(),
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Spawns `cmd` under a guard that kills it when the test ends.
pub fn spawn(cmd: &mut Command) -> PeerGuard {
    PeerGuard {
        child: cmd.spawn().expect("spawn peer process"),
        stdout: Arc::default(),
    }
}

/// Kills the peer process when a test ends, however it ends.
pub struct PeerGuard {
    /// The peer process.
    pub child: Child,
    /// What a listening peer printed on stdout (its stdout is read by a
    /// thread to find the endpoint).
    pub(crate) stdout: Arc<Mutex<String>>,
}

impl Drop for PeerGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a listening peer's stdout: the endpoint goes to the returned
/// channel, everything is kept for error messages.
pub(crate) fn watch_stdout(guard: &mut PeerGuard) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = guard.child.stdout.take().expect("peer stdout");
    let keep = Arc::clone(&guard.stdout);
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            // libtest may have printed the test's name on the same line.
            if let Some((_, ep)) = line.split_once(ENDPOINT_LINE) {
                let _ = tx.send(ep.to_owned());
            }
            if let Ok(mut k) = keep.lock() {
                k.push_str(&line);
                k.push('\n');
            }
        }
    });
    rx
}

/// Kills the peer with SIGKILL and waits until it is dead (a zombie: the
/// guard reaps it later).
pub fn kill_peer(pid: u32) {
    let pid_t = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill(2) on our own child, which is not reaped before the test
    // ends, so the pid cannot have been reused.
    let rc = unsafe { libc::kill(pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0, "kill({pid}, SIGKILL) failed");
    let dead = processes::poll_until(Duration::from_secs(10), || processes::ended(pid));
    assert!(dead, "peer {pid} survived SIGKILL");
}

pub(crate) fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

pub(crate) fn reap(guard: &mut PeerGuard, within: Duration) -> Option<ExitStatus> {
    let mut status = None;
    processes::poll_until(within, || match guard.child.try_wait() {
        Ok(s) => {
            status = s;
            s.is_some()
        }
        Err(_) => true,
    });
    status
}

pub(crate) fn describe(guard: &mut PeerGuard, status: Option<ExitStatus>) -> String {
    if status.is_none() {
        // Its pipes reach end-of-file only once it is gone.
        let _ = guard.child.kill();
    }
    let mut out = String::new();
    if let Some(mut e) = guard.child.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    if let Some(mut o) = guard.child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Ok(o) = guard.stdout.lock() {
        out.push_str(&o);
    }
    format!("{status:?}\n{out}")
}
