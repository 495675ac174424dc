//! Helpers shared by every integration test of the harness (each test file
//! declares `mod support;`): starting `ipcbench` and its usual flags, finding
//! the role processes a run starts, checking that a run left no process and
//! no file behind, and listing the workspace's sources.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub fn ipcbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ipcbench"))
}

pub fn run(args: &[&str]) -> Output {
    ipcbench().args(args).output().expect("start ipcbench")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The results file a run wrote.
pub fn read_results(path: &Path) -> results::Results {
    results::Results::read(path).expect("results file")
}

/// A run with an injected fault (`what`: workload and fault, for messages)
/// failed as it must: exit 1 within 20 s, its error saying `needle` and
/// naming the cell by one of `cell_names`.
pub fn assert_fault_named(
    o: &Output,
    took: Duration,
    what: &str,
    needle: &str,
    cell_names: &[String],
) {
    assert_eq!(o.status.code(), Some(1), "{what}");
    let e = stderr(o);
    assert!(e.contains(needle), "{what}: {e}");
    assert!(cell_names.iter().any(|n| e.contains(n)), "{what}: {e}");
    assert!(took < Duration::from_secs(20), "{what} took {took:?}");
}

/// Flags for a short run with nothing but the pairs: one trial, no warm-up,
/// floors, intervals or progress bar.
pub const QUICK: &[&str] = &[
    "--trials",
    "1",
    "--warmup-ms",
    "0",
    "--no-floors",
    "--no-intervals",
    "--quiet",
];

/// [`QUICK`] without its trial count, for runs that set their own.
pub const BARE: &[&str] = QUICK.split_at(2).1;

/// Every `.rs` file under `dir`, recursively, sorted.
pub fn rust_sources(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// Every transport `ipcbench list` names.
pub fn transports() -> Vec<String> {
    let o = run(&["list"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .skip_while(|l| !l.starts_with("Transports:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// A role process of a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleProc {
    pub pid: u32,
    pub consumer: bool,
    pub transport: String,
    pub tag: String,
}

fn json_field(cmd: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = cmd.find(&key)? + key.len();
    let end = cmd[start..].find('"')? + start;
    Some(cmd[start..end].to_owned())
}

/// The live (not zombie) role processes whose parent is `parent`.
pub fn roles_of(parent: u32) -> Vec<RoleProc> {
    processes::children_of(parent)
        .into_iter()
        .filter(|&pid| !processes::ended(pid))
        .filter_map(|pid| {
            let cmd = processes::cmdline(pid);
            if !cmd.contains("__role") {
                return None;
            }
            Some(RoleProc {
                pid,
                consumer: cmd.contains("\"role\":\"consumer\""),
                transport: json_field(&cmd, "transport")?,
                tag: json_field(&cmd, "tag")?,
            })
        })
        .collect()
}

/// Waits until `parent` runs a producer and a consumer, then a little longer
/// so they are in their measured loop; returns them.
pub fn wait_for_pair(parent: u32) -> Vec<RoleProc> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let roles = roles_of(parent);
        if roles.iter().any(|r| r.consumer) && roles.iter().any(|r| !r.consumer) {
            thread::sleep(Duration::from_millis(300));
            return roles;
        }
        assert!(Instant::now() < until, "no producer-consumer pair appeared");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Records every pair a running `ipcbench` starts (tag, transport and the
/// consumer's pid, which iceoryx2 derives its resource names from), so that
/// afterwards the test can check exactly that pair's resources are gone.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<String, RoleProc>>>,
    handle: Option<JoinHandle<()>>,
}

impl Watcher {
    pub fn start(parent: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<BTreeMap<String, RoleProc>>> = Arc::default();
        let (s, m) = (Arc::clone(&stop), Arc::clone(&seen));
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for r in roles_of(parent) {
                    if r.consumer {
                        m.lock().expect("lock").entry(r.tag.clone()).or_insert(r);
                    }
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        Self {
            stop,
            seen,
            handle: Some(handle),
        }
    }

    /// The consumers seen, one per pair.
    pub fn finish(mut self) -> Vec<RoleProc> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.seen.lock().expect("lock").values().cloned().collect()
    }
}

/// Waits for a child with a limit; returns its exit code, stderr, and how
/// long it took.
pub fn finish_within(mut child: Child, limit: Duration) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    // Killed and reaped past the limit.
    let Some(status) = processes::wait_or_kill(&mut child, limit) else {
        panic!("ipcbench did not exit within {limit:?}");
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    (status.code(), err, start.elapsed())
}

/// Files and directories in /dev/shm and /tmp named after a pair: its tag,
/// and for iceoryx2 its domain (derived from the tag and the consumer pid).
pub fn leftovers_of(pair: &RoleProc) -> Vec<PathBuf> {
    let domain = transport_iceoryx2::cleanup::Domain::for_tag(&pair.tag, pair.consumer_pid())
        .as_str()
        .to_owned();
    let mut out = Vec::new();
    for dir in ["/dev/shm", "/tmp"] {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(&pair.tag) || name.starts_with(&domain) {
                out.push(e.path());
            }
        }
    }
    out
}

impl RoleProc {
    fn consumer_pid(&self) -> u32 {
        self.pid
    }
}

/// Live processes (not zombies) whose command line mentions `tag`.
pub fn processes_with(tag: &str) -> Vec<u32> {
    let me = std::process::id();
    processes::all_pids()
        .into_iter()
        .filter(|&p| p != me && !processes::ended(p))
        .filter(|&p| processes::cmdline(p).contains(tag))
        .collect()
}

/// Asserts that a finished run left nothing behind: no process of any of its
/// pairs, no file named after them, nothing in its private TMPDIR.
pub fn assert_clean(pairs: &[RoleProc], tmpdir: &Path, what: &str) {
    for p in pairs {
        // Killed processes may take a moment to be reaped by init.
        let until = Instant::now() + Duration::from_secs(10);
        while !processes_with(&p.tag).is_empty() && Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(
            processes_with(&p.tag).is_empty(),
            "{what}: {} left processes {:?}",
            p.transport,
            processes_with(&p.tag)
        );
        let left = leftovers_of(p);
        assert!(left.is_empty(), "{what}: {} left {left:?}", p.transport);
    }
    let left: Vec<_> = std::fs::read_dir(tmpdir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{what}: left in TMPDIR: {left:?}");
}

/// Sends a signal to a process (or, with a negative pid, a process group).
pub fn signal(pid: i32, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), "--".to_owned(), pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{sig} {pid} failed");
}

/// Runs `f` on every item with at most `workers` at a time; panics with every
/// failure's message if any failed.
pub fn parallel<T: Send + Sync>(items: &[T], workers: usize, f: impl Fn(&T) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    if let Err(p) =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item)))
                    {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        failures.lock().expect("lock").push(msg);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().expect("lock");
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}
