//! The soak's record as text: one line per backend while it runs, and the
//! Markdown table at the end (what docs/reliability.md quotes).

use std::fmt::Write as _;

use super::{Growth, Outcome};
use crate::placement::Role;

fn show(g: Option<Growth>) -> String {
    match g {
        Some(g) => format!(
            "{} -> {} KiB (max {}){}",
            g.first,
            g.last,
            g.max,
            if g.flat() { "" } else { " GREW" }
        ),
        None => "n/a (run too short)".to_owned(),
    }
}

pub(super) fn line(o: &Outcome) -> String {
    format!(
        "soak {}: {:.0} s in {} pair(s), {} messages, {:.2} GB, {} error(s); producer RSS {}; consumer RSS {}{}",
        o.transport,
        o.seconds,
        o.pairs.len(),
        o.messages,
        o.bytes as f64 / 1e9,
        o.errors.len(),
        show(o.worst(Role::Producer)),
        show(o.worst(Role::Consumer)),
        o.errors
            .iter()
            .map(|e| format!("\n  error: {e}"))
            .collect::<String>()
    )
}

/// The record as a Markdown table (what docs/reliability.md quotes).
pub(super) fn table(outcomes: &[Outcome]) -> String {
    let mut t = String::from(
        "| transport | seconds | pairs | messages | GB | errors | producer RSS KiB, worst pair (after round 1 -> end, max) | consumer RSS KiB, worst pair (after round 1 -> end, max) | verdict |\n|---|---:|---:|---:|---:|---:|---|---|---|\n",
    );
    for o in outcomes {
        let g = |r| match o.worst(r) {
            Some(g) => format!("{} -> {} ({})", g.first, g.last, g.max),
            None => "n/a".to_owned(),
        };
        let _ = writeln!(
            t,
            "| {} | {:.0} | {} | {} | {:.2} | {} | {} | {} | {} |",
            o.transport,
            o.seconds,
            o.pairs.len(),
            o.messages,
            o.bytes as f64 / 1e9,
            o.errors.len(),
            g(Role::Producer),
            g(Role::Consumer),
            if o.ok() { "ok" } else { "FAILED" }
        );
    }
    t
}
