//! Runs the Python test suite (tests/python) as part of `cargo test`: makes a
//! virtual environment under cargo's target directory on first use (maturin,
//! numpy, pytest and py-sharedmemory from PyPI), builds the module into it with `maturin
//! develop --release`, runs pytest, and fails if pytest fails. Without a
//! `python3` on PATH it is skipped with a note on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest the whole run (venv, build, pytest) may take before it is killed.
const WATCHDOG: Duration = Duration::from_secs(15 * 60);

fn find_python() -> Option<String> {
    let candidates = std::env::var("PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_owned()]);
    candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import sys, venv; assert sys.version_info >= (3, 11)"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Runs `cmd` to completion within the watchdog; panics with its output if
/// it fails.
fn run(what: &str, cmd: &mut Command, started: Instant) {
    let _ = writeln!(std::io::stderr(), "python suite: {what}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let out = std::thread::scope(|s| {
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let read = |p: Option<Box<dyn std::io::Read + Send>>| {
            s.spawn(move || {
                let mut text = String::new();
                if let Some(mut p) = p {
                    let _ = p.read_to_string(&mut text);
                }
                text
            })
        };
        let o = read(stdout.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
        let e = read(stderr.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
        let status = loop {
            if let Ok(Some(st)) = child.try_wait() {
                break Some(st);
            }
            if started.elapsed() > WATCHDOG {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let text = format!(
            "{}\n{}",
            o.join().unwrap_or_default(),
            e.join().unwrap_or_default()
        );
        (status, text)
    });
    match out {
        (Some(st), text) if st.success() => {
            // Shown with --nocapture: the pytest summary line and friends.
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            println!(
                "{what}: ok\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        (Some(st), text) => panic!("{what} failed ({st}):\n{text}"),
        (None, text) => panic!("{what}: killed after {WATCHDOG:?}:\n{text}"),
    }
}

fn has(python: &Path, modules: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn python_suite() {
    let Some(python) = find_python() else {
        let _ = writeln!(
            std::io::stderr(),
            "python suite: SKIPPED: no python3 (>= 3.11, with venv) on PATH"
        );
        return;
    };
    let started = Instant::now();
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ipcbench-py");
    let venv = work.join("venv");
    let vpy = venv.join("bin/python");
    if !vpy.exists() {
        run(
            "creating the virtual environment",
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            started,
        );
    }
    if !has(&vpy, "maturin, numpy, pytest, py_sharedmemory") {
        run(
            "installing maturin, numpy, pytest and py-sharedmemory from PyPI",
            Command::new(&vpy).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "maturin>=1.5,<2",
                "numpy>=1.22",
                "pytest>=7",
                // The hand-over baseline's contender (its test skips without it).
                "py-sharedmemory>=4.3",
            ]),
            started,
        );
    }
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(
        "building the module (maturin develop --release)",
        Command::new(venv.join("bin/maturin"))
            .args(["develop", "--release", "--quiet", "--manifest-path"])
            .arg(crate_dir.join("Cargo.toml"))
            // Its own target directory: the outer cargo holds a lock on ours.
            .env("CARGO_TARGET_DIR", work.join("target"))
            .env("VIRTUAL_ENV", &venv)
            .env("PATH", &path),
        started,
    );
    // The Python baseline's own tests (its statistics, schema and
    // verification) run in the same venv.
    run(
        "pytest tests/python and baselines/python",
        Command::new(&vpy)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(crate_dir.join("tests/python"))
            .arg(crate_dir.join("../../baselines/python/test_mpqueue_bench.py"))
            .arg(crate_dir.join("../../baselines/python/test_handover.py"))
            .arg(crate_dir.join("../../baselines/python/test_gather.py"))
            .arg(crate_dir.join("../../baselines/python/test_soak.py"))
            .current_dir(&crate_dir)
            .env("PATH", &path),
        started,
    );
}
