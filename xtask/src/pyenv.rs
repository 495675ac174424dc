//! The Python baseline's virtual environment: created on first use, the
//! baseline's requirements installed (numpy is required; the alternatives
//! measured beside mp.Queue are optional and skipped with a note when they
//! cannot be installed), Ray for `--full` runs only (requirements-full.txt:
//! large, and measured only there), torch for `--full` too
//! (requirements-torch.txt, CPU wheels, installed on its own so a failure
//! keeps Ray), and the `ipcbench` module built into it
//! from crates/ipcbench-py with maturin (skipped with a note on failure).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use results::PythonMatrix;

/// Modules the requirements file provides beyond numpy.
const OPTIONAL: &str = "faster_fifo, zmq, py_sharedmemory";

/// A script of the Python baseline (`baselines/python/NAME`) and the system
/// Python that makes its venv; `why` says what is missing without Python.
pub fn baseline_script(
    root: &Path,
    name: &str,
    why: &str,
) -> Result<(PathBuf, PathBuf, &'static str)> {
    let dir = root.join("baselines/python");
    let script = dir.join(name);
    if !script.exists() {
        bail!("{} is missing", script.display());
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .with_context(|| format!("python3 not found on PATH; {why}"))?;
    Ok((dir, script, python))
}

fn imports(vpy: &Path, modules: &str) -> bool {
    Command::new(vpy)
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn pip(vpy: &Path, args: &[&str]) -> bool {
    Command::new(vpy)
        .args(["-m", "pip", "install", "--quiet"])
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// The large optional packages a run needs beyond the requirements.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// Ray (requirements-full.txt).
    pub ray: bool,
    /// torch, CPU wheels (requirements-torch.txt).
    pub torch: bool,
}

impl Extras {
    /// Those the matrix `m` runs.
    pub fn of(m: &PythonMatrix) -> Self {
        Self {
            ray: m.ray,
            torch: m.torch,
        }
    }
}

/// Makes `dir/.venv` ready and returns its python, with `extras` installed
/// too; `say` reports a step.
pub fn prepare(
    root: &Path,
    dir: &Path,
    python: &str,
    extras: Extras,
    say: &dyn Fn(&str),
) -> Result<PathBuf> {
    let venv = dir.join(".venv");
    let vpy = venv.join("bin/python");
    if !vpy.exists() {
        say("creating baselines/python/.venv (first use only)");
        let ok = Command::new(python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()?
            .success();
        if !ok {
            bail!("python3 -m venv failed");
        }
    }
    let reqs = dir.join("requirements.txt");
    if !imports(&vpy, &format!("numpy, {OPTIONAL}")) {
        say("installing baselines/python/requirements.txt into the venv");
        let reqs = reqs.to_string_lossy();
        if !pip(&vpy, &["-r", &reqs]) && !pip(&vpy, &["numpy>=1.22"]) {
            bail!("pip install numpy failed");
        }
        if !imports(&vpy, OPTIONAL) {
            eprintln!(
                "xtask: note: some Python alternatives ({OPTIONAL}) could not be installed; the baseline skips them"
            );
        }
    }
    if extras.ray && !imports(&vpy, "ray") {
        say("installing baselines/python/requirements-full.txt (Ray) into the venv");
        let full_reqs = dir.join("requirements-full.txt");
        if !pip(&vpy, &["-r", &full_reqs.to_string_lossy()]) || !imports(&vpy, "ray") {
            eprintln!("xtask: note: ray could not be installed; the baseline skips Ray");
        }
    }
    if extras.torch && !imports(&vpy, "torch") {
        // Its own file and its own attempt: torch is large (the CPU-only
        // wheels), and a failure must not keep Ray out.
        say("installing baselines/python/requirements-torch.txt (torch, CPU) into the venv");
        let torch_reqs = dir.join("requirements-torch.txt");
        if !pip(&vpy, &["-r", &torch_reqs.to_string_lossy()]) || !imports(&vpy, "torch") {
            eprintln!("xtask: note: torch could not be installed; the hand-over skips torch");
        }
    }
    build_ipcbench(root, &venv, &vpy, say);
    Ok(vpy)
}

/// Builds and installs the `ipcbench` module (incremental: quick when
/// nothing changed). A failure only skips `ipcbench.Queue` in the baseline.
fn build_ipcbench(root: &Path, venv: &Path, vpy: &Path, say: &dyn Fn(&str)) {
    if !imports(vpy, "maturin") && !pip(vpy, &["maturin>=1.5,<2"]) {
        eprintln!("xtask: note: maturin could not be installed; the baseline skips ipcbench.Queue");
        return;
    }
    say("building the ipcbench Python module into the venv (maturin develop --release)");
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ok = Command::new(vpy)
        .args(["-m", "maturin", "develop", "--release", "--quiet", "-m"])
        .arg(root.join("crates/ipcbench-py/Cargo.toml"))
        // Its own target directory: never waits on a lock another cargo holds.
        .env("CARGO_TARGET_DIR", root.join("target/ipcbench-py"))
        .env("VIRTUAL_ENV", venv)
        .env("PATH", path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok || !imports(vpy, "ipcbench") {
        eprintln!(
            "xtask: note: building the ipcbench module failed; the baseline skips ipcbench.Queue"
        );
    }
}
