//! `ipcbench compare`: two results files cell by cell, with a verdict from
//! the confidence intervals.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::io::{emit, load};
use super::parse::parse_percent;

#[derive(Debug, Args)]
pub(super) struct CompareArgs {
    /// The older results JSON.
    old: PathBuf,
    /// The newer results JSON.
    new: PathBuf,
    /// Changes smaller than this many percent count as noise.
    #[arg(long, default_value_t = 5.0, value_parser = parse_percent)]
    threshold: f64,
    /// List every matched cell, not only the changed and failed ones.
    #[arg(long)]
    all: bool,
}

pub(super) fn run(args: CompareArgs) -> Result<()> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let cmp = judge::compare(&old, &new, args.threshold);
    emit(&report::render_comparison(&cmp, args.all))
}
