//! `cargo xtask bench-all`: the benchmark matrix of each mode (default,
//! `--quick`, `--full`) and its run: build, `ipcbench run`, the Python
//! baseline, rendering in a staging directory, then replacing the results.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::interrupt::Staging;
use crate::python::python_baseline;
use crate::readme::update_readme_excerpt;
use crate::render::{merge_into, read_results, render_into, replace_generated};
use crate::root;

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// A low-precision smoke run: 4 sizes, 3 trials, 100 messages.
    #[arg(long, conflicts_with = "full")]
    pub(crate) quick: bool,
    /// Every placement (split, same, none), every codec and the paced workloads, and the Python baseline on every placement (not yet timed with 10 trials).
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

/// The benchmark matrix of one mode.
pub(crate) struct Matrix {
    /// Arguments of the main `ipcbench run` (sizes, counts, workloads,
    /// placements, codecs); bench-all adds --json, --transport, --quiet.
    pub(crate) run_args: Vec<&'static str>,
    /// Seed messages per trial and size (the notebook's 1000).
    pub(crate) messages: &'static str,
    pub(crate) placements: &'static str,
    pub(crate) python_sizes: &'static str,
    pub(crate) python_workloads: &'static str,
    /// The Python baseline's trials, alternatives, and fanout settings.
    pub(crate) python_args: Vec<&'static str>,
    /// A second, smaller run merged into the first: pingpong with both
    /// processes on one core, so the default report shows the same-core
    /// criticality (and the same-core target) without a full sweep.
    pub(crate) same_core_pingpong: bool,
}

/// The notebook's ten sizes, plus 8 B: the targets are stated for an 8-byte
/// ping-pong.
const SIZES: &str = "8B,100,200,400,800,1600,3200,6400,12800,25600,51200";

pub(crate) fn matrix(args: &BenchArgs) -> Matrix {
    if args.quick {
        return Matrix {
            // A smoke run: every headline workload at three sizes, three
            // trials (the fewest an interval is computed from).
            run_args: vec![
                "--sizes",
                "8B,100,3200,51200",
                "--trials",
                "3",
                "--messages",
                "100",
                "--warmup-ms",
                "5",
                "--stream-min-ms",
                "20",
                "--workload",
                "seed,pingpong,stream",
                "--placement",
                "split",
            ],
            messages: "100",
            placements: "split",
            python_sizes: "100,3200,51200",
            python_workloads: "seed",
            python_args: vec!["--trials", "3", "--modes", "mp-queue,ipcbench"],
            same_core_pingpong: false,
        };
    }
    let mut run_args = vec![
        "--sizes",
        SIZES,
        // Ten independent trials of every headline cell (split, raw), three
        // of the rest; the seed keeps the notebook's 1000 put/get per size
        // and trial. Pingpong and stream spread little within a trial, so
        // fewer messages buy the trials; fanout shows its scaling at three
        // sizes spanning the notebook's range, in both modes: one channel
        // per worker (fanout) and one shared queue (fanoutq, run only by
        // the transports that can share one: a few cells).
        "--trials",
        "10",
        "--secondary-trials",
        "3",
        "--messages",
        "1000",
        "--messages-for",
        "pingpong=200",
        "--messages-for",
        "stream=100",
        "--messages-for",
        "fanout=200",
        "--sizes-for",
        "fanout=100,6400,51200",
        "--messages-for",
        "fanoutq=200",
        "--sizes-for",
        "fanoutq=100,6400,51200",
        "--warmup-ms",
        "10",
    ];
    if args.full {
        // Paced loads are fractions of the stream rate: stream keeps its
        // 0.2 s per size so that rate is one the transport can hold.
        run_args.extend([
            "--placement",
            "split,same,none",
            "--workload",
            "seed,pingpong,stream,fanout,fanoutq,paced",
            "--codec",
            "raw,bincode,msgpack",
        ]);
    } else {
        run_args.extend([
            "--placement",
            "split",
            "--workload",
            "seed,pingpong,stream,fanout,fanoutq",
            "--stream-min-ms",
            "80",
        ]);
    }
    macro_rules! python_modes {
        () => {
            "mp-queue,mp-queue-inproc,simple-queue,pipe,faster-fifo,zmq,shared-memory,ipcbench,ipcbench-inproc"
        };
    }
    Matrix {
        run_args,
        messages: "1000",
        placements: if args.full {
            "split,same,none"
        } else {
            "split"
        },
        python_sizes: "100,200,400,800,1600,3200,6400,12800,25600,51200",
        python_workloads: "seed,fanout",
        // Every alternative of issue 13 whose package installs, two
        // processes each, plus the notebook's own one-process loop for
        // mp.Queue and ipcbench.Queue; three trials each (Python cells are
        // not headline cells; three give an interval) to stay in budget.
        // --full adds Ray (installed for --full only; ~8 s per trial to
        // start and stop it).
        python_args: vec![
            "--trials",
            "3",
            "--modes",
            if args.full {
                concat!(python_modes!(), ",ray")
            } else {
                python_modes!()
            },
            "--fanout-modes",
            if args.full { "all,ray" } else { "all" },
            "--fanout-sizes",
            "100,6400,51200",
            "--fanout-messages",
            "200",
        ],
        same_core_pingpong: !args.full,
    }
}

/// The arguments of a plain `bench-all`, `--quick` or `--full`.
pub(crate) fn mode_args(quick: bool, full: bool) -> BenchArgs {
    BenchArgs {
        quick,
        full,
        out: None,
        baseline: None,
        no_python: false,
        transport: None,
        quiet: true,
    }
}

pub(crate) fn bench_all(args: &BenchArgs) -> Result<()> {
    let started = Instant::now();
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
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "harness"])
        .current_dir(&root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p harness failed");
    }
    // Cargo puts the binary under CARGO_TARGET_DIR when that is set.
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let exe = target.join("release/ipcbench");

    // Everything is written into a staging directory next to the output and
    // moved into place only at the end: an interrupted run leaves the last
    // good results untouched.
    let staging = out_dir.join(format!(".staging-{}", std::process::id()));
    std::fs::create_dir_all(&staging)?;
    let guard = Staging::new(staging.clone());

    let m = matrix(args);
    let json = staging.join("results.json");
    step(args, "running the benchmark matrix");
    // Codecs cross the seed workload only; pingpong and stream send raw bytes.
    // One invocation runs all workloads so transports interleave across trials.
    let mut cmd = ipcbench_run(&exe, &root, args, &m.run_args, &json);
    let mut bench_ok = cmd.status().context("running ipcbench")?.success();
    if !json.exists() {
        bail!("ipcbench wrote no results; the previous results are untouched");
    }
    if m.same_core_pingpong {
        step(args, "running pingpong with both processes on one core");
        let same = staging.join("same-core.json");
        let same_args = [
            "--sizes",
            "8B,100,6400,51200",
            "--workload",
            "pingpong",
            "--placement",
            "same",
            "--trials",
            "3",
            "--messages",
            "200",
            "--warmup-ms",
            "10",
        ];
        let mut cmd = ipcbench_run(&exe, &root, args, &same_args, &same);
        bench_ok &= cmd.status().context("running ipcbench")?.success();
        if same.exists() {
            merge_into(&json, &same)?;
            std::fs::remove_file(&same)?;
        }
    }

    let python = if args.no_python {
        None
    } else {
        step(args, "running the Python multiprocessing.Queue baseline");
        match python_baseline(&root, &staging, &m, args) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("xtask: Python baseline skipped: {e:#}");
                None
            }
        }
    };

    // Recorded in the results, so the report says how long this matrix
    // takes on the machine it describes.
    record_wall_time(&json, started.elapsed(), args)?;
    render_into(
        &staging,
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

/// An `ipcbench run` with these matrix arguments, the run's transports,
/// writing `json`; failed cells are marked, not fatal.
fn ipcbench_run(
    exe: &Path,
    root: &Path,
    args: &BenchArgs,
    matrix_args: &[&str],
    json: &Path,
) -> Command {
    let mode = if args.quick {
        " --quick"
    } else if args.full {
        " --full"
    } else {
        ""
    };
    let mut cmd = Command::new(exe);
    cmd.current_dir(root)
        .arg("run")
        .args(matrix_args)
        .args(["--keep-going", "--json"])
        .arg(json)
        .arg("--record-as")
        .arg(format!(
            "cargo xtask bench-all{mode}: ipcbench run {}",
            matrix_args.join(" ")
        ));
    if let Some(t) = &args.transport {
        cmd.args(["--transport", t]);
    }
    if args.quiet {
        cmd.arg("--quiet");
    }
    cmd
}

pub(crate) fn step(args: &BenchArgs, what: &str) {
    if !args.quiet {
        eprintln!("xtask: {what}");
    }
}

/// Adds the wall time of the whole bench-all so far (build, benchmark runs,
/// Python baseline) to the environment table of the results.
fn record_wall_time(json: &Path, took: Duration, args: &BenchArgs) -> Result<()> {
    let mut r = read_results(json)?;
    let mode = if args.quick {
        "--quick"
    } else if args.full {
        "--full"
    } else {
        "default"
    };
    let secs = took.as_secs();
    r.environment.extra.push((
        "bench-all wall time".to_owned(),
        format!(
            "{} min {:02} s ({mode} matrix, Python baseline included)",
            secs / 60,
            secs % 60
        ),
    ));
    let text = serde_json::to_string_pretty(&r)?;
    std::fs::write(json, text).with_context(|| format!("writing {}", json.display()))
}

#[cfg(test)]
/// The values given to `flag` in a matrix's arguments (repeatable flags
/// give several).
fn flag_values<'a>(args: &[&'a str], flag: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1])
        .collect()
}

#[cfg(test)]
/// The table of what each bench-all mode runs, as docs/methodology.md quotes
/// it (a test keeps the two equal, so the document states what runs).
fn matrix_doc() -> String {
    let mut out = String::from(
        "| bench-all | headline trials | other trials | seed messages | pingpong messages | stream messages (×4 sent; min time per size) | fanout messages (sizes) | fanoutq messages (sizes) | warm-up per size |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for (name, quick, full) in [
        ("default", false, false),
        ("--quick", true, false),
        ("--full", false, true),
    ] {
        let m = matrix(&mode_args(quick, full));
        let a = &m.run_args;
        let one = |flag: &str| flag_values(a, flag).first().copied().unwrap_or("–");
        let per = |family: &str| {
            flag_values(a, "--messages-for")
                .iter()
                .chain(&flag_values(a, "--sizes-for"))
                .find_map(|v| v.strip_prefix(family)?.strip_prefix('='))
                .unwrap_or_else(|| one("--messages"))
                .to_owned()
        };
        // "N (sizes)" of a family the run includes, else "not run".
        let family = |f: &str| {
            let setting = |flag: &str, default: &str| {
                flag_values(a, flag)
                    .iter()
                    .find_map(|v| v.strip_prefix(f)?.strip_prefix('='))
                    .unwrap_or(default)
                    .to_owned()
            };
            if one("--workload").split(',').any(|w| w == f) {
                format!(
                    "{} ({})",
                    setting("--messages-for", one("--messages")),
                    setting("--sizes-for", one("--sizes"))
                )
            } else {
                "not run".to_owned()
            }
        };
        let (fanout, fanoutq) = (family("fanout"), family("fanoutq"));
        let secondary = flag_values(a, "--secondary-trials");
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} ({} ms) | {fanout} | {fanoutq} | {} ms |\n",
            one("--trials"),
            secondary.first().copied().unwrap_or(one("--trials")),
            one("--messages"),
            per("pingpong"),
            per("stream"),
            flag_values(a, "--stream-min-ms")
                .first()
                .copied()
                .unwrap_or("200"),
            one("--warmup-ms"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methodology_states_the_matrix_that_runs() {
        let doc = std::fs::read_to_string(root().join("docs/methodology.md"))
            .expect("docs/methodology.md");
        let table = matrix_doc();
        assert!(
            doc.contains(&table),
            "docs/methodology.md must quote bench-all's matrix exactly; paste this table:\n{table}"
        );
    }

    #[test]
    fn only_full_runs_measure_ray() {
        for (quick, full) in [(true, false), (false, false), (false, true)] {
            let a = matrix(&mode_args(quick, full)).python_args;
            let modes = flag_values(&a, "--modes");
            let fanout = flag_values(&a, "--fanout-modes");
            let ray = |v: &[&str]| v.iter().any(|m| m.split(',').any(|m| m == "ray"));
            assert_eq!(ray(&modes), full, "--modes {modes:?}");
            assert_eq!(ray(&fanout), full, "--fanout-modes {fanout:?}");
        }
    }

    #[test]
    fn every_headline_cell_gets_ten_trials_by_default_and_the_seed_keeps_1000() {
        let m = matrix(&mode_args(false, false));
        assert_eq!(flag_values(&m.run_args, "--trials"), ["10"]);
        assert_eq!(flag_values(&m.run_args, "--messages"), ["1000"]);
        assert!(flag_values(&m.run_args, "--workload")[0].contains("fanout"));
    }
}
