//! `cargo xtask bench-all`: build, the Python baseline's matrix of each mode
//! (default, `--quick`, `--full`), `ipcbench run --preset` (both matrices of
//! each mode are its `results::Preset`'s), rendering in a staging directory,
//! then replacing the results. Every results file is
//! written whole by the tool that measured it; this file never edits one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use results::Preset;

use crate::interrupt::Staging;
use crate::python::python_baseline;
use crate::readme::update_readme_excerpt;
use crate::render::{render_into, replace_generated};
use crate::root;

/// Which matrix a run measures: each mode is one [`Preset`], which owns both
/// the `ipcbench run --preset` of the same name and the Python baseline's
/// matrix. The command
/// line spells it as two exclusive flags; everything after parsing uses this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `--quick`: a low-precision smoke run.
    Quick,
    /// No flag: the main job.
    Default,
    /// `--full`: every placement, codec and paced workload, Ray and torch.
    Full,
}

impl Mode {
    /// The mode the command line's flags select (clap keeps them exclusive).
    pub(crate) fn from_flags(quick: bool, full: bool) -> Self {
        match (quick, full) {
            (true, _) => Self::Quick,
            (false, true) => Self::Full,
            (false, false) => Self::Default,
        }
    }

    /// The preset of this mode: the `ipcbench run --preset` of the same
    /// name and the Python baseline's matrix.
    pub(crate) fn preset(self) -> Preset {
        match self {
            Self::Quick => Preset::Quick,
            Self::Default => Preset::Default,
            Self::Full => Preset::Full,
        }
    }

    /// The flag that selects it, as the report's command line shows it.
    fn flag(self) -> &'static str {
        match self {
            Self::Quick => " --quick",
            Self::Default => "",
            Self::Full => " --full",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// A low-precision smoke run: 4 sizes, 3 trials, 100 messages.
    #[arg(long, conflicts_with = "full")]
    pub(crate) quick: bool,
    /// Every placement (split, same, none), every codec and the paced workloads, and the Python baseline on every placement with Ray at split (about 63 min here).
    #[arg(long)]
    pub(crate) full: bool,
    /// Write into DIR instead of results/.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Compare with an earlier results.json and add the change column.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// Skip the Python multiprocessing.Queue baseline.
    #[arg(long)]
    pub(crate) no_python: bool,
    /// Only these transports (comma-separated), for a partial run.
    #[arg(long)]
    pub(crate) transport: Option<String>,
    /// No progress output.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

impl BenchArgs {
    /// The run's mode.
    pub(crate) fn mode(&self) -> Mode {
        Mode::from_flags(self.quick, self.full)
    }
}

/// The arguments of a plain `bench-all`, `--quick` or `--full`.
pub(crate) fn mode_args(mode: Mode) -> BenchArgs {
    BenchArgs {
        quick: mode == Mode::Quick,
        full: mode == Mode::Full,
        out: None,
        baseline: None,
        no_python: false,
        transport: None,
        quiet: true,
    }
}

pub(crate) fn bench_all(args: &BenchArgs) -> Result<()> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs_f64();
    let root = root();
    let out_dir = args.out.clone().unwrap_or_else(|| root.join("results"));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let out_dir = out_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", out_dir.display()))?;

    step(
        args,
        "building the release binary (cargo build --release -p harness)",
    );
    let exe = build_release(&root)?;

    // Everything is written into a staging directory next to the output and
    // moved into place only at the end: an interrupted run leaves the last
    // good results untouched.
    let staging = out_dir.join(format!(".staging-{}", std::process::id()));
    std::fs::create_dir_all(&staging)?;
    let guard = Staging::new(staging.clone());

    // The Python baseline first, so that the wall time `ipcbench run`
    // records at its end covers build, Python and Rust alike.
    let python = if args.no_python {
        None
    } else {
        step(args, "running the Python multiprocessing.Queue baseline");
        match python_baseline(&root, &exe, &staging, args) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("xtask: Python baseline skipped: {e:#}");
                None
            }
        }
    };

    let json = staging.join("results.json");
    step(
        args,
        &format!(
            "running the benchmark matrix (ipcbench run --preset {})",
            args.mode().preset()
        ),
    );
    // One invocation runs all workloads so transports interleave across
    // trials; the default preset's same-core pingpong pass runs inside it.
    let bench_ok = ipcbench_run(&exe, &root, args, started_unix, &json)
        .status()
        .context("running ipcbench")?
        .success();
    if !json.exists() {
        bail!("ipcbench wrote no results; the previous results are untouched");
    }
    render_into(
        &staging,
        &out_dir.join("remote"),
        args.baseline.as_deref(),
        python.is_none() && !args.no_python,
    )?;
    replace_generated(&out_dir, &staging)?;
    drop(guard);
    if root.join("results").canonicalize().ok().as_deref() == Some(out_dir.as_path()) {
        update_readme_excerpt(&root)?;
    }
    step(
        args,
        &format!(
            "wrote {} in {:.0} s",
            out_dir.join("README.md").display(),
            started.elapsed().as_secs_f64()
        ),
    );
    if !bench_ok {
        bail!("some cells failed (they are marked in the report); see the errors above");
    }
    Ok(())
}

/// The mode's `ipcbench run --preset`, with the run's transports, writing
/// `json` and the wall time since `started_unix`; failed cells are marked,
/// not fatal.
fn ipcbench_run(
    exe: &Path,
    root: &Path,
    args: &BenchArgs,
    started_unix: f64,
    json: &Path,
) -> Command {
    let mode = args.mode().flag();
    let preset = args.mode().preset();
    let mut cmd = Command::new(exe);
    cmd.current_dir(root)
        .args(["run", "--preset", preset.name(), "--keep-going", "--json"])
        .arg(json)
        .arg("--wall-time-since")
        .arg(format!("{started_unix:.3}"))
        .arg("--record-as")
        .arg(format!(
            "cargo xtask bench-all{mode}: ipcbench run --preset {preset}"
        ));
    if let Some(t) = &args.transport {
        cmd.args(["--transport", t]);
    }
    if args.quiet {
        cmd.arg("--quiet");
    }
    cmd
}

/// Builds the release `ipcbench` and returns its path.
pub(crate) fn build_release(root: &Path) -> Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "harness"])
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p harness failed");
    }
    // Cargo puts the binary under CARGO_TARGET_DIR when that is set.
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release/ipcbench"))
}

pub(crate) fn step(args: &BenchArgs, what: &str) {
    if !args.quiet {
        eprintln!("xtask: {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values given to `flag` in a command's arguments.
    fn flag_values<'a>(args: &[&'a str], flag: &str) -> Vec<&'a str> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1])
            .collect()
    }

    #[test]
    fn only_full_runs_measure_ray_and_torch() {
        for mode in [Mode::Quick, Mode::Default, Mode::Full] {
            let m = mode.preset().python();
            assert_eq!(m.ray, mode == Mode::Full, "{mode:?}");
            assert_eq!(m.torch, mode == Mode::Full, "{mode:?}");
        }
    }

    #[test]
    fn each_mode_runs_its_preset_and_records_the_wall_time() {
        for (mode, preset) in [
            (Mode::Default, "default"),
            (Mode::Quick, "quick"),
            (Mode::Full, "full"),
        ] {
            let args = mode_args(mode);
            let cmd = ipcbench_run(
                Path::new("ipcbench"),
                Path::new("."),
                &args,
                1_764_430_000.5,
                Path::new("r.json"),
            );
            let argv: Vec<String> = cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            assert_eq!(flag_values(&argv, "--preset"), [preset]);
            assert_eq!(flag_values(&argv, "--wall-time-since"), ["1764430000.500"]);
            assert_eq!(flag_values(&argv, "--json"), ["r.json"]);
        }
    }
}
