//! The Python `multiprocessing.Queue` baseline: run for every placement of
//! the matrix (inside bench-all or alone as `cargo xtask python-baseline`),
//! which the script writes into one python.json.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use results::Results;

use crate::bench_all::{BenchArgs, step};
use crate::interrupt::Staging;
use crate::pyenv;
use crate::render::render_dir;
use crate::root;

/// The environment variable the baseline reads its CPUs from
/// (`mpqueue_common.CPUS_ENV`).
const CPUS_ENV: &str = "IPCBENCH_PLACEMENT_CPUS";

/// The CPUs `split` and `same` stand for, as `exe list --placement-cpus`
/// prints them, so the baseline pins where the Rust roles pin.
fn placement_cpus(exe: &Path) -> Result<String> {
    let out = Command::new(exe)
        .args(["list", "--placement-cpus"])
        .output()
        .with_context(|| format!("running {} list --placement-cpus", exe.display()))?;
    if !out.status.success() {
        bail!(
            "{} list --placement-cpus failed: {}",
            exe.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)
        .context("the placement CPUs are not UTF-8")?
        .trim()
        .to_owned())
}

/// Gives a Python script the CPUs the release binary `exe` picks for each
/// placement ([`CPUS_ENV`]), so it pins its processes where the Rust run
/// pins its pairs. If `exe` cannot say, the script pins CPUs 0/1 and
/// records why.
pub(crate) fn pin_like_the_run(cmd: &mut Command, exe: &Path) {
    match placement_cpus(exe) {
        Ok(cpus) => {
            cmd.env(CPUS_ENV, cpus);
        }
        Err(e) => eprintln!("xtask: the Python script pins CPUs 0/1: {e:#}"),
    }
}

/// Runs the baseline's matrix of the run's preset into `staging`/python.json,
/// on the CPUs the release binary `exe` picks for each placement.
pub(crate) fn python_baseline(
    root: &Path,
    exe: &Path,
    staging: &Path,
    args: &BenchArgs,
) -> Result<Results> {
    let (dir, script, python) = pyenv::baseline_script(
        root,
        "mpqueue_bench.py",
        "the report will say the baseline is missing",
    )?;
    let m = args.mode().preset().python();
    let vpy = pyenv::prepare(root, &dir, python, pyenv::Extras::of(&m), &|what| {
        step(args, what)
    })?;
    // Every placement of the matrix in one run and one file: the placement
    // sweep covers the baseline too.
    let out = staging.join("python.json");
    step(
        args,
        &format!("Python baseline, placements {}", m.placements),
    );
    let mut cmd = Command::new(&vpy);
    pin_like_the_run(&mut cmd, exe);
    let ok = cmd
        .arg(&script)
        .args(m.args())
        .arg("--json")
        .arg(&out)
        .status()?
        .success();
    // A failed cell still leaves a results file with that cell marked failed.
    if !out.exists() {
        bail!("the Python baseline failed and wrote no results");
    }
    if !ok {
        eprintln!(
            "xtask: the Python baseline reported failed cells; they are marked in the report"
        );
    }
    Ok(Results::read(&out)?)
}

/// `python-baseline`: runs the baseline into a staging directory, then puts
/// python.json in place and re-renders, so a failure leaves DIR as it was.
pub(crate) fn python_only(dir: &Path, args: &BenchArgs) -> Result<()> {
    if !dir.join("results.json").exists() {
        bail!(
            "{} has no results.json; run `cargo xtask bench-all` first",
            dir.display()
        );
    }
    let staging = dir.join(format!(".staging-py-{}", std::process::id()));
    std::fs::create_dir_all(&staging)?;
    let guard = Staging::new(staging.clone());
    let root = root();
    let exe = crate::bench_all::build_release(&root)?;
    python_baseline(&root, &exe, &staging, args)?;
    std::fs::rename(staging.join("python.json"), dir.join("python.json"))
        .with_context(|| format!("moving python.json into {}", dir.display()))?;
    drop(guard);
    render_dir(dir)
}
