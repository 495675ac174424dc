//! `ipcbench report`: results JSON rendered as Markdown, with the Python
//! baseline beside it when given.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::io::{emit, load, write_atomic};

#[derive(Debug, Args)]
pub(super) struct ReportArgs {
    /// Results JSON written by `ipcbench run`.
    results: PathBuf,
    /// The Python baseline's results JSON, shown beside ours.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Write the Markdown here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(super) fn run(args: ReportArgs) -> Result<()> {
    let results = load(&args.results)?;
    let python = args.python.as_deref().map(load).transpose()?;
    let opts = report::RenderOptions {
        python: python.as_ref(),
        ..report::RenderOptions::default()
    };
    let md = report::render_markdown(&results, &opts);
    match &args.out {
        Some(p) => write_atomic(p, md.as_bytes()),
        None => emit(&md),
    }
}
