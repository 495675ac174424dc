//! Project automation (the cargo-xtask convention): `cargo xtask bench-all`
//! builds the release binary, runs the benchmark matrix and the Python
//! baseline, and replaces results/ only once everything was written;
//! `cargo xtask bench-remote` adds the run across two network namespaces.
//!
//! Layout: this file holds the clap command and its dispatch; `bench_all`
//! the run of each mode (its Rust matrix is the harness's `ipcbench run
//! --preset`, its Python one is here), `python` the Python baseline,
//! `render` reading, rendering, auditing and replacing results directories,
//! `bench_remote` and `netns` the remote run across a veth pair,
//! `readme` the project README's results excerpt, `interrupt` signals and
//! staging directories, `pyenv` the baseline's virtual environment, `soak`
//! the `ipcbench.Queue` memory soak.

mod bench_all;
mod bench_remote;
mod interrupt;
mod netns;
mod pyenv;
mod python;
mod readme;
mod render;
mod soak;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use bench_all::{BenchArgs, Mode, mode_args};

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
        after_help = "Examples:\n  cargo xtask bench-all            # default matrix: 10 trials per headline cell, about 11 min here\n  cargo xtask bench-all --quick    # low-precision smoke run, about 30 s here once built\n  cargo xtask bench-all --full --out results/full  # every placement, codec, paced, and Ray: about 63 min here\n  cargo xtask bench-all --quick --out /tmp/ipcbench-smoke\n  cargo xtask bench-all --baseline results/results.json --out /tmp/new"
    )]
    BenchAll(BenchArgs),
    /// Measure what leaving the machine costs: ipcbench serve and run --remote (tcp, quic) in
    /// two network namespaces joined by a veth pair (root), with a netem delay where the
    /// kernel has netem, into DIR/remote/; then re-render DIR. Skips, saying why, elsewhere.
    #[command(
        after_help = "Examples:\n  sudo cargo xtask bench-remote     # after bench-all: about 1 min here\n  sudo cargo xtask bench-remote --out /tmp/ipcbench-smoke --trials 3 --messages 20 --sizes 800B"
    )]
    BenchRemote(bench_remote::RemoteArgs),
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
    /// The ipcbench.Queue memory soak: producer and consumer RSS over many
    /// hand-overs of a large array (loaned and copied), into DIR/soak/python-rss.json.
    #[command(
        after_help = "Examples:\n  cargo xtask soak-py                 # 10000 x 64 MiB per mode, about 3 min here\n  cargo xtask soak-py --messages 200 --size-mib 4 --dir /tmp/soak"
    )]
    SoakPy {
        /// Directory whose soak/ subdirectory receives the results.
        #[arg(long, default_value = "results")]
        dir: PathBuf,
        /// Hand-overs per mode.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(2..))]
        messages: u32,
        /// Array size in MiB.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
        size_mib: u32,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Re-render results/README.md, CSV and SVG from an existing results JSON.
    Render {
        /// Directory holding results.json (and python.json if any).
        #[arg(long, default_value = "results")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = interrupt::install() {
        eprintln!("xtask: warning: cannot handle Ctrl-C ({e})");
    }
    let r = match cli.command {
        Task::BenchAll(args) => bench_all::bench_all(&args),
        Task::BenchRemote(args) => bench_remote::bench_remote(&args),
        Task::Render { dir } => render::render_dir(&dir),
        Task::Audit { dir } => render::audit_dir(&dir),
        Task::SoakPy {
            dir,
            messages,
            size_mib,
            quiet,
        } => soak::soak_py(
            &root(),
            &soak::SoakArgs {
                dir: &dir,
                messages,
                size_mib,
                quiet,
            },
        ),
        Task::PythonBaseline {
            dir,
            quick,
            full,
            quiet,
        } => python::python_only(
            &dir,
            &BenchArgs {
                quiet,
                ..mode_args(Mode::from_flags(quick, full))
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

pub(crate) fn root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
