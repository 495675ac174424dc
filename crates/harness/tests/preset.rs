//! `ipcbench run --preset`: flags given alongside replace the preset's, the
//! default preset's same-core pingpong pass lands in the same results file,
//! and `--wall-time-since` records bench-all's wall time.

mod support;

use results::{Metric, Placement, Workload};
use support::{read_results, run, stderr};

#[test]
fn the_default_preset_writes_its_same_core_pass_into_the_same_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("out.json");
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        - 61.0;
    let since = format!("{since:.3}");
    // The preset with its matrix cut down to one small pingpong cell: every
    // flag given replaces the preset's.
    let o = run(&[
        "run",
        "--preset",
        "default",
        "--transport",
        "pipe",
        "--workload",
        "pingpong",
        "--sizes",
        "8B",
        "--trials",
        "3",
        "--secondary-trials",
        "3",
        "--messages",
        "20",
        "--messages-for",
        "pingpong=20",
        "--no-floors",
        "--quiet",
        "--wall-time-since",
        &since,
        "--record-as",
        "cargo xtask bench-all: ipcbench run --preset default",
        "--json",
        json.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_results(&json);
    assert_eq!(r.config.placements, [Placement::Split, Placement::Same]);
    let rtt = |placement: Placement| -> Vec<u64> {
        r.cells
            .iter()
            .filter(|c| {
                c.workload == Workload::Pingpong
                    && c.placement == placement
                    && c.metric == Metric::Rtt
            })
            .map(|c| c.size_bytes)
            .collect()
    };
    // The main pass as given; the extra pass at its own sizes, on one core.
    assert_eq!(rtt(Placement::Split), [8]);
    assert_eq!(rtt(Placement::Same), [8, 800, 51_200, 409_600]);
    assert!(r.cells.iter().all(|c| c.transport == "pipe"));
    assert_eq!(
        r.environment.command_line,
        "cargo xtask bench-all: ipcbench run --preset default; ipcbench run --sizes \
         8B,100,6400,51200 --workload pingpong --placement same --trials 3 --messages 200 \
         --warmup-ms 10 --transport pipe --stall-timeout 60 --no-floors --quiet"
    );
    let wall = r
        .environment
        .extra
        .iter()
        .find(|(k, _)| k == "bench-all wall time")
        .map(|(_, v)| v.as_str())
        .expect("wall time recorded");
    assert!(
        wall.starts_with("1 min ")
            && wall.ends_with(" s (default matrix, Python baseline included)"),
        "{wall}"
    );
}

#[test]
fn preset_and_wall_time_errors_are_usage_errors_naming_the_value() {
    let o = run(&["run", "--preset", "fast"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("fast") && e.contains("default, quick, full"),
        "{e}"
    );
    let o = run(&["run", "--wall-time-since", "1764430000"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--preset"), "{}", stderr(&o));
    let o = run(&["run", "--preset", "quick", "--wall-time-since", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("yesterday"), "{}", stderr(&o));
}
