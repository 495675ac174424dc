//! Project automation (the cargo-xtask convention): `cargo xtask bench-all`
//! builds the release binary, runs the benchmark matrix and the Python
//! baseline, and replaces results/ only once everything was written.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use report::{RenderOptions, Results};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "ipcbench project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run the benchmark matrix and write results/README.md, results/results.json (+ CSV, SVG).
    #[command(
        after_help = "Examples:\n  cargo xtask bench-all            # default matrix: 10 trials per headline cell, about 11 min here\n  cargo xtask bench-all --quick    # low-precision smoke run, about 30 s here once built\n  cargo xtask bench-all --full     # every placement, codec, plus paced: not yet timed with 10 trials\n  cargo xtask bench-all --quick --out /tmp/ipcbench-smoke\n  cargo xtask bench-all --baseline results/results.json --out /tmp/new"
    )]
    BenchAll(BenchArgs),
    /// Re-run only the Python multiprocessing.Queue baseline (every placement
    /// of the chosen matrix) into DIR/python.json, and re-render DIR.
    #[command(
        after_help = "Examples:\n  cargo xtask python-baseline --full   # after a bench-all --full into results/\n  cargo xtask python-baseline --quick --dir /tmp/ipcbench-smoke"
    )]
    PythonBaseline {
        /// Directory holding the results.json to render the baseline beside.
        #[arg(long, default_value = "results")]
        dir: PathBuf,
        /// The --quick matrix's sizes and counts.
        #[arg(long, conflicts_with = "full")]
        quick: bool,
        /// The --full matrix: every placement, seed and fanout.
        #[arg(long)]
        full: bool,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Print what a results directory lets a reader conclude: impossible intervals, trials per
    /// headline cell, how often the answer rows decide, how precise the medians are.
    Audit {
        /// Directory holding results.json.
        #[arg(long, default_value = "results")]
        dir: PathBuf,
    },
    /// Re-render results/README.md, CSV and SVG from an existing results JSON.
    Render {
        /// Directory holding results.json (and python.json if any).
        #[arg(long, default_value = "results")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// A low-precision smoke run: 4 sizes, 3 trials, 100 messages.
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Every placement (split, same, none), every codec and the paced workloads, and the Python baseline on every placement (not yet timed with 10 trials).
    #[arg(long)]
    full: bool,
    /// Write into DIR instead of results/.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Compare with an earlier results.json and add the change column.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Skip the Python multiprocessing.Queue baseline.
    #[arg(long)]
    no_python: bool,
    /// Only these transports (comma-separated), for a partial run.
    #[arg(long)]
    transport: Option<String>,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
}

mod interrupt;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = interrupt::install() {
        eprintln!("xtask: warning: cannot handle Ctrl-C ({e})");
    }
    let r = match cli.command {
        Task::BenchAll(args) => bench_all(&args),
        Task::Render { dir } => render_dir(&dir),
        Task::Audit { dir } => audit_dir(&dir),
        Task::PythonBaseline {
            dir,
            quick,
            full,
            quiet,
        } => python_only(
            &dir,
            &BenchArgs {
                quiet,
                ..mode_args(quick, full)
            },
        ),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The benchmark matrix of one mode.
struct Matrix {
    /// Arguments of the main `ipcbench run` (sizes, counts, workloads,
    /// placements, codecs); bench-all adds --json, --transport, --quiet.
    run_args: Vec<&'static str>,
    /// Seed messages per trial and size (the notebook's 1000).
    messages: &'static str,
    placements: &'static str,
    python_sizes: &'static str,
    python_workloads: &'static str,
    /// The Python baseline's trials, alternatives, and fanout settings.
    python_args: Vec<&'static str>,
    /// A second, smaller run merged into the first: pingpong with both
    /// processes on one core, so the default report shows the same-core
    /// criticality (and the same-core target) without a full sweep.
    same_core_pingpong: bool,
}

/// The notebook's ten sizes, plus 8 B: the targets are stated for an 8-byte
/// ping-pong.
const SIZES: &str = "8B,100,200,400,800,1600,3200,6400,12800,25600,51200";

fn matrix(args: &BenchArgs) -> Matrix {
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

fn bench_all(args: &BenchArgs) -> Result<()> {
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

/// `audit`: the run's cells, then the Python baseline's beside them.
fn audit_dir(dir: &Path) -> Result<()> {
    let r = read_results(&dir.join("results.json"))?;
    print!("{}", report::audit::audit(&r).render());
    let py = dir.join("python.json");
    if py.exists() {
        let p = read_results(&py)?;
        let a = report::audit::audit(&p);
        println!(
            "- Python baseline: {} cells, intervals with a negative lower bound: {}, negative medians: {}",
            a.cells, a.negative_bounds, a.negative_medians
        );
    }
    Ok(())
}

/// Whether a file in a results directory is one bench-all writes (so an old
/// one the new run no longer writes, such as a plot of a placement it did not
/// run, is removed rather than left beside the new results).
fn is_generated(name: &str) -> bool {
    const EXTENSIONS: [&str; 5] = [".svg", ".html", ".md", ".json", ".csv"];
    name == "details" || EXTENSIONS.iter().any(|e| name.ends_with(e))
}

/// Moves the staged results into `out_dir`, replacing what an earlier run
/// wrote there.
fn replace_generated(out_dir: &Path, staging: &Path) -> Result<()> {
    for entry in std::fs::read_dir(out_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_generated(&name) {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .with_context(|| format!("removing the old {}", path.display()))?;
        }
    }
    for entry in std::fs::read_dir(staging)? {
        let entry = entry?;
        let dest = out_dir.join(entry.file_name());
        std::fs::rename(entry.path(), &dest)
            .with_context(|| format!("moving {} into place", dest.display()))?;
    }
    Ok(())
}

const EXCERPT_BEGIN: &str = "<!-- results excerpt: written by cargo xtask bench-all -->";
const EXCERPT_END: &str = "<!-- end of results excerpt -->";

/// Copies the answers of results/README.md (everything before its
/// "## Details" map) into the project README between the excerpt markers,
/// headings demoted and links pointed into results/, so the figures the
/// project README shows are the tool's, never typed by hand.
fn update_readme_excerpt(root: &Path) -> Result<()> {
    let readme = root.join("README.md");
    let text = std::fs::read_to_string(&readme).context("reading README.md")?;
    let (Some(a), Some(b)) = (text.find(EXCERPT_BEGIN), text.find(EXCERPT_END)) else {
        return Ok(());
    };
    let results = std::fs::read_to_string(root.join("results/README.md"))
        .context("reading results/README.md")?;
    let answers = results.split("\n## Details").next().unwrap_or_default();
    let excerpt: String = answers
        .lines()
        .map(|l| {
            let l = if l.starts_with('#') {
                format!("##{l}")
            } else {
                l.to_owned()
            };
            l.replace("](details/", "](results/details/")
                .replace("](index.html", "](results/index.html")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let new = format!(
        "{}{EXCERPT_BEGIN}\n{}\n{}",
        &text[..a],
        excerpt.trim(),
        &text[b..]
    );
    std::fs::write(&readme, new).context("writing README.md")
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

fn step(args: &BenchArgs, what: &str) {
    if !args.quiet {
        eprintln!("xtask: {what}");
    }
}

/// Removes the staging directory however bench-all ends, Ctrl-C included.
struct Staging(PathBuf);

impl Staging {
    fn new(dir: PathBuf) -> Self {
        interrupt::stage(dir.clone());
        Self(dir)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        interrupt::unstage(&self.0);
    }
}

fn python_baseline(root: &Path, staging: &Path, m: &Matrix, args: &BenchArgs) -> Result<Results> {
    let dir = root.join("baselines/python");
    let script = dir.join("mpqueue_bench.py");
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
        .context("python3 not found on PATH; the report will say the baseline is missing")?;
    #[path = "pyenv.rs"]
    mod pyenv;
    let vpy = pyenv::prepare(root, &dir, python, args.full, &|what| step(args, what))?;
    // One run per placement of the matrix, merged into one file: the
    // placement sweep covers the baseline too.
    let out = staging.join("python.json");
    let mut all_ok = true;
    for placement in m.placements.split(',') {
        let part = staging.join(format!("python-{placement}.json"));
        step(args, &format!("Python baseline, placement {placement}"));
        let ok = Command::new(&vpy)
            .arg(&script)
            .args([
                "--sizes",
                m.python_sizes,
                "--messages",
                m.messages,
                "--placement",
                placement,
                "--workloads",
                m.python_workloads,
            ])
            .args(&m.python_args)
            .arg("--json")
            .arg(&part)
            .status()?
            .success();
        all_ok &= ok;
        // A failed cell still leaves a results file with that cell marked failed.
        if !part.exists() {
            bail!("the Python baseline (placement {placement}) failed and wrote no results");
        }
        if out.exists() {
            merge_into(&out, &part)?;
            std::fs::remove_file(&part)?;
        } else {
            std::fs::rename(&part, &out)?;
        }
    }
    if !all_ok {
        eprintln!(
            "xtask: the Python baseline reported failed cells; they are marked in the report"
        );
    }
    read_results(&out)
}

/// Appends the cells and floors of `extra` to the results in `main`.
fn merge_into(main: &Path, extra: &Path) -> Result<()> {
    let mut a = read_results(main)?;
    let b = read_results(extra)?;
    a.cells.extend(b.cells);
    a.floors.extend(b.floors);
    for p in b.config.placements {
        if !a.config.placements.contains(&p) {
            a.config.placements.push(p);
        }
    }
    a.environment.command_line = format!(
        "{}; {}",
        a.environment.command_line, b.environment.command_line
    );
    let json = serde_json::to_string_pretty(&a)?;
    std::fs::write(main, json).with_context(|| format!("writing {}", main.display()))
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

fn read_results(path: &Path) -> Result<Results> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut r: Results =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if !report::schema::READABLE_VERSIONS.contains(&r.schema_version) {
        bail!(
            "{} has schema version {}; this code reads versions {:?}",
            path.display(),
            r.schema_version,
            report::schema::READABLE_VERSIONS
        );
    }
    report::bootstrap::complete_intervals(&mut r);
    Ok(r)
}

/// Renders README.md, results.csv and the SVG plots next to results.json.
fn render_into(dir: &Path, baseline: Option<&Path>, python_missing: bool) -> Result<()> {
    let results = read_results(&dir.join("results.json"))?;
    let python = dir.join("python.json");
    let python = python.exists().then(|| read_results(&python)).transpose()?;
    let baseline = baseline.map(read_results).transpose()?;
    let plots = report::render_plots(&results, python.as_ref());
    for p in &plots {
        std::fs::write(dir.join(&p.file_name), &p.svg)?;
    }
    let opts = RenderOptions {
        python: python.as_ref(),
        baseline: baseline.as_ref(),
        plots: plots
            .iter()
            .map(|p| (p.title.clone(), p.file_name.clone()))
            .collect(),
        ..RenderOptions::default()
    };
    for page in report::render_pages(&results, &opts) {
        let path = dir.join(&page.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut text = page.text;
        if python_missing && page.path == "README.md" {
            text.push_str("\n> The Python `multiprocessing.Queue` baseline was not run on this machine (python3 or numpy unavailable); see the bench-all output.\n");
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(dir.join("results.csv"), report::to_csv(&results))?;
    Ok(())
}

/// `python-baseline`: runs the baseline into a staging directory, then puts
/// python.json in place and re-renders, so a failure leaves DIR as it was.
fn python_only(dir: &Path, args: &BenchArgs) -> Result<()> {
    if !dir.join("results.json").exists() {
        bail!(
            "{} has no results.json; run `cargo xtask bench-all` first",
            dir.display()
        );
    }
    let staging = dir.join(format!(".staging-py-{}", std::process::id()));
    std::fs::create_dir_all(&staging)?;
    let guard = Staging::new(staging.clone());
    python_baseline(&root(), &staging, &matrix(args), args)?;
    std::fs::rename(staging.join("python.json"), dir.join("python.json"))
        .with_context(|| format!("moving python.json into {}", dir.display()))?;
    drop(guard);
    render_dir(dir)
}

fn render_dir(dir: &Path) -> Result<()> {
    // Render into a staging directory too, so a failure leaves the old files.
    let staging = dir.join(format!(".staging-{}", std::process::id()));
    std::fs::create_dir_all(&staging)?;
    let guard = Staging::new(staging.clone());
    std::fs::copy(dir.join("results.json"), staging.join("results.json"))?;
    if dir.join("python.json").exists() {
        std::fs::copy(dir.join("python.json"), staging.join("python.json"))?;
    }
    render_into(&staging, None, false)?;
    replace_generated(dir, &staging)?;
    drop(guard);
    if dir.canonicalize().ok() == root().join("results").canonicalize().ok() {
        update_readme_excerpt(&root())?;
    }
    Ok(())
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

/// The arguments of a plain `bench-all`, `--quick` or `--full`.
fn mode_args(quick: bool, full: bool) -> BenchArgs {
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
