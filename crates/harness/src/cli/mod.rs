//! The command line: `list`, `run`, `floors`, `report`, `compare`, `soak`, and the hidden
//! `__role` the supervisor uses to start producer and consumer processes.
//!
//! Exit codes: 0 success; 1 a run failed (a cell failed verification, a
//! process died or hung, an I/O error); 2 bad command-line input, reported
//! before any process is started; 3–7 across hosts (`run --remote`,
//! `serve`): 3 server unreachable, 4 token refused, 5 version mismatch, 6
//! server lost mid-run, 7 address in use (see [`crate::remote::Kind`]);
//! 128 + n interrupted by signal n (130 Ctrl-C, 143 SIGTERM), see
//! [`crate::interrupt`].
//!
//! Layout: this file holds the `ipcbench` command, its dispatch and the exit
//! codes; each subcommand has a file with its arguments and handler (`list`,
//! `run` (its `--remote` in `remote`), `floors`, `report`, `compare`, `serve`, `role`; `soak` lives in
//! [`crate::soak`]); `extra` a preset's extra passes; `parse` holds the
//! parsers several of them share and `io` the results files and stdout.

mod compare;
mod extra;
mod floors;
mod io;
mod list;
mod parse;
mod remote;
mod report;
mod role;
mod run;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub(crate) use io::emit;
pub use io::write_atomic;
pub(crate) use parse::number_in;

#[derive(Debug, Parser)]
#[command(
    name = "ipcbench",
    version,
    about = "Which inter-process transport should carry my messages, and what does it cost?",
    long_about = "Runs one identical producer-consumer benchmark across inter-process transports \
(pipes, Unix sockets, shared memory, ...) in separate, pinned processes, verifies every message, \
and writes the results as JSON for `ipcbench report` or `cargo xtask bench-all`.",
    after_help = "Examples:\n  ipcbench list\n  ipcbench run --transport pipe,uds --workload pingpong --sizes 8B,4KiB,1MiB\n  ipcbench run --workload seed --codec raw,bincode --json out.json\n  ipcbench floors --placement split,same\n  ipcbench soak --minutes 10\n\nExit codes: 0 ok, 1 run failed, 2 bad input, 3 remote unreachable, 4 token refused, 5 version mismatch, 6 server lost mid-run, 7 address in use, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}
#[derive(Debug, Subcommand)]
enum Command {
    /// List transports, codecs, workloads and placements.
    #[command(after_help = "Examples:\n  ipcbench list\n  ipcbench list --placement-cpus")]
    List(list::ListArgs),
    /// Run a selection of the benchmark matrix and write results JSON.
    #[command(
        after_help = "Examples:\n  ipcbench run --transport pipe --workload pingpong --sizes 8B --trials 3\n  ipcbench run --preset quick --json quick.json\n  ipcbench run --preset default --transport pipe,shm-block --json out.json\n  ipcbench run --transport pipe,uds --workload seed,stream --json results.json\n  ipcbench run --placement split,same,none --quiet --json all.json"
    )]
    Run(Box<run::RunArgs>),
    /// Measure the machine floors only (cache-line and raw-pipe round trips, memcpy, clock, the core-to-core map).
    #[command(
        after_help = "Examples:\n  ipcbench floors --placement split --json floors.json\n  ipcbench floors --map --json map.json"
    )]
    Floors(floors::FloorArgs),
    /// Render results JSON as Markdown (what bench-all writes to results/README.md).
    #[command(
        after_help = "Example:\n  ipcbench report results/results.json --python results/python.json --out report.md"
    )]
    Report(report::ReportArgs),
    /// Compare results files of several machines or runs: every answer row on each, and (two files) cell by cell.
    #[command(
        after_help = "Examples:\n  ipcbench compare old/results.json results/results.json --threshold 5\n  ipcbench compare amd.json intel.json arm.json"
    )]
    Compare(compare::CompareArgs),
    /// Stream through every transport for a while, verifying, and check that memory stays flat.
    #[command(
        after_help = "Examples:\n  ipcbench soak --minutes 10\n  ipcbench soak --minutes 1 --transport shm-block,uds --sizes 8B,64KiB"
    )]
    Soak(crate::soak::SoakArgs),
    /// Serve the consumer side of `ipcbench run --remote` from another host.
    #[command(
        after_help = "Example:\n  ipcbench serve --bind 0.0.0.0:7878\n\nPrints the address and a token; on the other host:\n  ipcbench run --remote THIS_HOST:7878 --token TOKEN --transport tcp --workload pingpong\n\nExit codes: 7 the address is in use."
    )]
    Serve(serve::ServeArgs),
    /// Internal: one process of a producer-consumer pair.
    #[command(name = "__role", hide = true)]
    Role { spec: String },
}

/// Bad input: exit code 2, message only.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Usage(pub(crate) String);

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(run::expand_preset(std::env::args_os().collect()));
    if matches!(cli.command, Command::Role { .. }) {
        crate::interrupt::ignore_terminal_interrupt();
    } else if let Err(e) = crate::interrupt::install() {
        eprintln!("warning: cannot handle Ctrl-C ({e}); an interrupted run may leave files behind");
    }
    let result = match cli.command {
        Command::List(args) => list::run(&args),
        Command::Run(args) => run::run(*args),
        Command::Floors(args) => floors::run(args),
        Command::Report(args) => report::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Soak(args) => crate::soak::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Role { spec } => role::run(&spec),
    };
    crate::interrupt::hold_if_interrupted();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if crate::remote::exit_code(&e).is_some() => {
            eprintln!("error: {e:#}");
            ExitCode::from(crate::remote::exit_code(&e).unwrap_or(1))
        }
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
