//! `ipcbench list`: the transports (with their capabilities), codecs,
//! workloads and placements a run can choose from.

use anyhow::{Context, Result};
use clap::Args;

use super::emit;
use crate::{registry, sizes, workload};

/// What `ipcbench list` prints.
#[derive(Debug, Args)]
pub(super) struct ListArgs {
    /// Print only the CPUs `split` and `same` stand for on this machine, as
    /// the JSON the results record under `placement_cpus` (scripts read it:
    /// `cargo xtask` hands it to the Python baseline so both pin alike)
    #[arg(long)]
    placement_cpus: bool,
}

pub(super) fn run(args: &ListArgs) -> Result<()> {
    use std::fmt::Write;
    if args.placement_cpus {
        let cpus = crate::env::placement_cpus(crate::topology::system());
        let json = serde_json::to_string(&cpus).context("writing the placement CPUs as JSON")?;
        return emit(&format!("{json}\n"));
    }
    let mut o = String::new();
    let _ = writeln!(o, "Transports:");
    for b in registry::BACKENDS {
        let caps = (b.capabilities)();
        let shared = match caps.shared_receivers {
            0 => String::new(),
            n => format!(", shared receivers: up to {n} (fanoutqN)"),
        };
        let quota = match caps.max_concurrent {
            0 => String::new(),
            n => format!(", at most {n} connections at once (per-user kernel quota)"),
        };
        let full_only = if b.in_default { "" } else { ", --full only" };
        let _ = writeln!(
            o,
            "  {:<22} {} [wait: {}, zero-copy receive: {}, max message: {}{shared}{quota}{full_only}]",
            b.name,
            b.description,
            caps.wait,
            if caps.zero_copy_recv { "yes" } else { "no" },
            sizes::human(caps.max_message_size as u64)
        );
    }
    let _ = writeln!(o, "\nCodecs (seed workload):");
    for c in codec::ALL {
        let _ = writeln!(o, "  {:<22} {}", c.name(), c.description());
    }
    let _ = writeln!(o, "\nWorkloads:");
    for w in workload::ALL {
        let _ = writeln!(o, "  {:<22} {}", w.name(), w.description());
    }
    let _ = writeln!(
        o,
        "\nPlacements:\n  {:<22} producer and consumer on the closest two distinct physical cores (default)\n  {:<22} both on one CPU\n  {:<22} not pinned",
        "split", "same", "none"
    );
    let _ = writeln!(
        o,
        "  on this machine: {}",
        crate::topology::system().describe()
    );
    emit(&o)
}
