//! `ipcbench compare` of several machines' results files: every answer row
//! with every machine named, the host facts that differ, and bad input
//! (one file, a file that is not results) refused with exit status 2.

mod support;

use std::path::{Path, PathBuf};

use results::schema::{
    Cell, Environment, Floors, Metric, Placement, PlacementCpus, Results, Summary, Workload,
};
use support::{run, stderr};

/// A cell of five trials around `median` ns.
fn cell(transport: &str, workload: Workload, metric: Metric, size: u64, median: f64) -> Cell {
    let trials: Vec<f64> = [0.99, 1.0, 1.01, 0.995, 1.005]
        .iter()
        .map(|f| f * median)
        .collect();
    let ci = results::bootstrap::median_interval(&trials);
    Cell {
        transport: transport.into(),
        codec: results::Codec::Raw,
        workload,
        placement: Placement::Split,
        size_bytes: size,
        metric,
        trials: trials.len(),
        summary: Summary {
            n: 1000,
            mean_ns: median,
            p50_ns: median,
            ..Summary::default()
        },
        trial_means_ns: trials.clone(),
        trial_medians_ns: trials,
        median_ns: median,
        median_ci_low_ns: ci.map(|c| c.0),
        median_ci_high_ns: ci.map(|c| c.1),
        ..Cell::default()
    }
}

/// One machine's run: pingpong at 8 B and stream at 800 B, `pipe` against
/// `uds`, with `pipe` `ratio` times as fast as `uds` (below 1: slower).
fn machine(cpu: &str, date: &str, ratio: f64, split: Option<PlacementCpus>) -> Results {
    let mut cells = Vec::new();
    for (w, m, size) in [
        (Workload::Pingpong, Metric::Rtt, 8),
        (Workload::Stream, Metric::Throughput, 800),
    ] {
        cells.push(cell("pipe", w, m, size, 1000.0));
        cells.push(cell("uds", w, m, size, 1000.0 * ratio));
    }
    Results {
        schema_version: results::schema::SCHEMA_VERSION,
        environment: Environment {
            cpu_model: cpu.into(),
            cores: 2,
            kernel: "Linux 6.1".into(),
            virtualization: "kvm".into(),
            date: date.into(),
            git_commit: "abc".into(),
            placement_cpus: split,
            ..Environment::default()
        },
        config: Default::default(),
        floors: vec![Floors {
            placement: Placement::Split,
            cacheline_rtt: Some(Summary {
                p50_ns: 92.0,
                ..Summary::default()
            }),
            cacheline_shape: Some("one-line, no pause".into()),
            ..Floors::default()
        }],
        cells,
        targets: Vec::new(),
        transports: Vec::new(),
    }
}

fn write(dir: &Path, name: &str, r: &Results) -> PathBuf {
    let path = dir.join(name);
    r.write(&path).expect("write results");
    path
}

#[test]
fn three_machines_every_row_every_machine_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let llc = PlacementCpus {
        split: [0, 1],
        split_relation: Some("llc".into()),
        same: 0,
        fallback: None,
    };
    let files = [
        write(
            dir.path(),
            "amd.json",
            &machine("AMD EPYC", "2026-11-29T19:33:04Z", 3.0, None),
        ),
        write(
            dir.path(),
            "intel.json",
            &machine("Intel Xeon", "2026-12-07T14:00:00Z", 1.0 / 3.0, Some(llc)),
        ),
        write(
            dir.path(),
            "amd2.json",
            &machine("AMD EPYC", "2026-12-07T05:36:52Z", 3.0, None),
        ),
    ];
    let args: Vec<&str> = std::iter::once("compare")
        .chain(files.iter().map(|f| f.to_str().expect("utf-8")))
        .collect();
    let o = run(&args);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.starts_with("# Comparison of 3 runs"), "{out}");
    assert!(
        out.contains("**warning**: the runs come from different hosts (CPU differs)"),
        "{out}"
    );
    let header = out
        .lines()
        .find(|l| l.starts_with("| Workload"))
        .unwrap_or_else(|| panic!("no answer table in {out}"));
    for name in [
        "AMD EPYC (2026-11-29)",
        "Intel Xeon",
        "AMD EPYC (2026-12-07)",
    ] {
        assert!(header.contains(name), "{name} missing: {header}");
    }
    let row = |start: &str| {
        out.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start} in {out}"))
            .to_owned()
    };
    let ping = row("| pingpong | rtt ");
    assert!(
        ping.matches("**pipe** 1.00 µs").count() == 2 && ping.contains("**uds** 333 ns"),
        "{ping}"
    );
    assert!(ping.contains("**differ**"), "{ping}");
    let stream = row("| stream ");
    assert!(stream.contains("**pipe** 800 MB/s"), "{stream}");
    assert!(out.contains("split = llc (CPUs 0/1)"), "{out}");
    assert!(out.contains("92.0 ns (one-line, no pause)"), "{out}");
    // Three files: no cell-by-cell section (it compares two runs).
    assert!(!out.contains("## Cell by cell"), "{out}");

    // Two files of one kind of host: no warning, and the cell-by-cell part.
    let o = run(&["compare", args[1], args[3]]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !out.contains("**warning**: the runs come from different hosts"),
        "{out}"
    );
    assert!(
        out.contains("## Cell by cell") && out.contains("2 rows: 2 name the same backend"),
        "{out}"
    );
}

#[test]
fn one_file_is_not_a_comparison() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "a.json",
        &machine("AMD EPYC", "2026-11-29T19:33:04Z", 3.0, None),
    );
    let o = run(&["compare", f.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("RESULTS"), "{}", stderr(&o));
}
