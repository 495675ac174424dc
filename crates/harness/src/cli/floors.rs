//! `ipcbench floors`: the machine floors alone (cache-line and raw-pipe round
//! trips, memcpy, clock read), printed and optionally written as JSON; and
//! the floors `run` adds per size (the in-place workloads' fill + verify)
//! and merges from its extra passes.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use results::schema::SCHEMA_VERSION;
use results::{FillVerifyFloor, Results, RunConfig};

use super::io::{emit, write_json};
use super::parse::{parse_placements, parse_sizes};
use super::run::command_line;
use crate::bench::Plan;
use crate::floors::Probe;
use crate::placement::Placement;
use crate::sizes;
use crate::workload::Workload;

#[derive(Debug, Args)]
pub(super) struct FloorArgs {
    /// Placements to measure.
    #[arg(long, value_delimiter = ',', default_value = "split")]
    placement: Vec<String>,
    /// Sizes for the memcpy floor (same syntax as `run --sizes`).
    #[arg(long)]
    sizes: Option<String>,
    /// Write results JSON (floors only) here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Time the core-to-core map with a 60 s budget (every pair of CPUs, or
    /// a sample on large machines) instead of the default run's 5 s.
    #[arg(long)]
    map: bool,
}

/// Every floor of every placement, and each placement's cache-line probes;
/// the `split` floors carry the core-to-core map (default run's budget).
pub(super) fn measure_floors(
    placements: &[Placement],
    sizes: &[u64],
) -> (Vec<results::Floors>, Vec<Vec<Probe>>) {
    measure_floors_with_map(placements, sizes, crate::floors::map::DEFAULT_BUDGET_NS)
}

fn measure_floors_with_map(
    placements: &[Placement],
    sizes: &[u64],
    map_budget_ns: u64,
) -> (Vec<results::Floors>, Vec<Vec<Probe>>) {
    placements
        .iter()
        .map(|&p| {
            let (mut f, probes) = crate::floors::measure(p, sizes, crate::floors::Counts::DEFAULT);
            if p == Placement::Split {
                f.cpu_map = Some(crate::floors::map::measure(
                    crate::topology::system(),
                    &probes,
                    map_budget_ns,
                ));
            }
            (f, probes)
        })
        .unzip()
}

/// The map as lines: how many pairs, then one per pair.
fn describe_map(o: &mut String, m: &results::CpuMap) {
    use std::fmt::Write;
    if let Some(why) = &m.not_measured {
        let _ = writeln!(o, "  core-to-core map: not measured: {why}");
        return;
    }
    let _ = writeln!(
        o,
        "  core-to-core map ({}): {} of {} pairs{} within a {:.0} s budget",
        m.shape,
        m.pairs.len(),
        m.pairs_total,
        if m.sampled() { ", sampled" } else { "" },
        m.budget_s
    );
    for p in &m.pairs {
        let relation = p.relation.as_deref().unwrap_or("relation unknown");
        let _ = match (p.p50_ns, p.batch_ns) {
            (Some(p50), Some(b)) => writeln!(
                o,
                "    CPUs {:>3}/{:<3} {relation:<10} per round trip p50 {p50:.0} ns; batch-timed {b:.1} ns",
                p.cpus[0], p.cpus[1]
            ),
            _ => writeln!(
                o,
                "    CPUs {:>3}/{:<3} {relation:<10} not measured: {}",
                p.cpus[0],
                p.cpus[1],
                p.not_measured.as_deref().unwrap_or("no reason recorded")
            ),
        };
    }
}

/// One line per probe: shape, pause, both timings or why not measured.
fn describe_probes(o: &mut String, probes: &[Probe]) {
    use std::fmt::Write;
    for p in probes {
        let pause = if p.pause { "pause" } else { "no pause" };
        let _ = match &p.outcome {
            Ok(t) => writeln!(
                o,
                "  {:<15} {:<9} per round trip p50 {:.0} ns (n {}); batch-timed {:.1} ns ({} batches, {} round trips)",
                p.shape.id(),
                pause,
                t.per_rtt.p50_ns,
                t.per_rtt.n,
                t.batch_ns,
                t.batches,
                t.batch_rounds
            ),
            Err(why) => writeln!(o, "  {:<15} {:<9} not measured: {why}", p.shape.id(), pause),
        };
    }
}

pub(super) fn run(args: FloorArgs) -> Result<()> {
    let placements = parse_placements(&args.placement)?;
    let sizes = parse_sizes(args.sizes.as_deref())?;
    let clock = crate::clock::overhead_ns();
    if args.map && !placements.contains(&Placement::Split) {
        return Err(super::Usage(format!(
            "--map times the cheapest cache-line probe of the split placement, but --placement is \
             {:?}; add split (valid: split, same, none)",
            args.placement.join(",")
        ))
        .into());
    }
    let budget = if args.map {
        crate::floors::map::FULL_BUDGET_NS
    } else {
        crate::floors::map::DEFAULT_BUDGET_NS
    };
    let (floors, probes) = measure_floors_with_map(&placements, &sizes, budget);
    let results = Results {
        schema_version: SCHEMA_VERSION,
        environment: crate::env::collect(command_line(), clock),
        config: RunConfig {
            placements: placements.clone(),
            ..RunConfig::default()
        },
        floors,
        cells: Vec::new(),
        targets: Vec::new(),
        transports: Vec::new(),
    };
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "clock read: {clock:.1} ns");
    let _ = writeln!(o, "placements: {}", crate::topology::system().describe());
    for (f, probes) in results.floors.iter().zip(&probes) {
        let show = |s: &Option<results::Summary>| {
            s.as_ref().map_or("n/a".to_owned(), |s| {
                format!("p50 {:.0} ns, p99 {:.0} ns", s.p50_ns, s.p99_ns)
            })
        };
        let _ = writeln!(
            o,
            "{}: cache-line round trip {}; raw pipe round trip {}",
            f.placement,
            show(&f.cacheline_rtt),
            show(&f.raw_pipe_rtt)
        );
        describe_probes(&mut o, probes);
        if let Some(m) = &f.cpu_map {
            describe_map(&mut o, m);
        }
        if let Some(p) = &f.plain_example {
            let _ = match (&p.per_rtt, p.batch_ns) {
                (Some(s), Some(b)) => writeln!(
                    o,
                    "  shm-crate's plain example (not a floor): per round trip p50 {:.0} ns; batch-timed {b:.1} ns",
                    s.p50_ns
                ),
                _ => writeln!(
                    o,
                    "  shm-crate's plain example (not a floor): not measured: {}",
                    p.not_measured.as_deref().unwrap_or("no reason recorded")
                ),
            };
        }
    }
    if let Some(f) = results.floors.first() {
        for m in &f.memcpy {
            let _ = writeln!(
                o,
                "memcpy {:>10}: {:.0} ns ({:.2} GB/s)",
                sizes::human(m.size_bytes),
                m.p50_ns,
                m.bytes_per_s / 1e9
            );
        }
    }
    emit(&o)?;
    if let Some(path) = &args.json {
        write_json(path, &results)?;
    }
    Ok(())
}

/// The sizes of the plan's in-place workloads (`handover`,
/// `inplace-stream`), in order: where their fill + verify floor is measured.
fn in_place_sizes(plan: &Plan) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for &w in plan
        .workloads
        .iter()
        .filter(|w| matches!(w, Workload::Handover | Workload::InplaceStream))
    {
        for &s in plan.sizes_of(w) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// Adds the fill + verify floor at the plan's in-place sizes to every
/// placement's floors (it is placement-independent, as memcpy is).
pub(super) fn add_fill_verify(floors: &mut [results::Floors], plan: &Plan) -> Result<()> {
    let sizes = in_place_sizes(plan);
    if sizes.is_empty() {
        return Ok(());
    }
    let measured: Vec<FillVerifyFloor> = crate::inplace_floor::measure(&sizes)?
        .into_iter()
        .map(|f| FillVerifyFloor {
            size_bytes: f.size_bytes,
            fill_ns: f.fill_ns,
            verify_ns: f.verify_ns,
        })
        .collect();
    for f in floors {
        f.fill_verify.clone_from(&measured);
    }
    Ok(())
}

/// A pass's floors when it measures only those that depend on size
/// (`--floors sizes`): memcpy and fill + verify at its sizes, for each
/// placement; the round-trip floors are the main pass's.
pub(super) fn size_floors(plan: &Plan) -> Result<Vec<results::Floors>> {
    let mut sizes = plan.sizes.clone();
    for s in in_place_sizes(plan) {
        if !sizes.contains(&s) {
            sizes.push(s);
        }
    }
    let memcpy = crate::floors::memcpy(&sizes);
    let mut floors: Vec<results::Floors> = plan
        .placements
        .iter()
        .map(|&placement| results::Floors {
            placement,
            memcpy: memcpy.clone(),
            ..results::Floors::default()
        })
        .collect();
    add_fill_verify(&mut floors, plan)?;
    Ok(floors)
}

/// Merges a further pass's floors into a run's: a placement already there
/// gains the sizes its memcpy and fill + verify floors lacked; a new one is
/// added whole.
pub(super) fn merge_floors(into: &mut Vec<results::Floors>, more: Vec<results::Floors>) {
    for f in more {
        let Some(have) = into.iter_mut().find(|h| h.placement == f.placement) else {
            into.push(f);
            continue;
        };
        for m in f.memcpy {
            if !have.memcpy.iter().any(|h| h.size_bytes == m.size_bytes) {
                have.memcpy.push(m);
            }
        }
        for m in f.fill_verify {
            if !have
                .fill_verify
                .iter()
                .any(|h| h.size_bytes == m.size_bytes)
            {
                have.fill_verify.push(m);
            }
        }
    }
}
