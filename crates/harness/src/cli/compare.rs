//! `ipcbench compare`: two or more results files, one per machine or run:
//! every answer row with each machine's answer, the machine facts that
//! differ (a warning when the hosts differ), and for two files each cell
//! with a verdict from the confidence intervals.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::io::{emit, load};
use super::parse::parse_percent;

#[derive(Debug, Args)]
pub(super) struct CompareArgs {
    /// Results JSON files, oldest (or reference machine) first; two or more.
    #[arg(required = true, num_args = 2.., value_name = "RESULTS")]
    files: Vec<PathBuf>,
    /// Changes smaller than this many percent count as noise (two files).
    #[arg(long, default_value_t = 5.0, value_parser = parse_percent)]
    threshold: f64,
    /// List every matched cell, not only the changed and failed ones (two files).
    #[arg(long)]
    all: bool,
}

pub(super) fn run(args: CompareArgs) -> Result<()> {
    let runs = args
        .files
        .iter()
        .map(|f| load(f))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&results::Results> = runs.iter().collect();
    let machines = judge::machines::compare_machines(&refs);
    let pairwise = match refs.as_slice() {
        [old, new] => Some(judge::compare(old, new, args.threshold)),
        _ => None,
    };
    emit(&report::render_machines(
        &machines,
        pairwise.as_ref(),
        args.all,
    ))
}
