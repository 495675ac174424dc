//! End-to-end tests of the patterns through the `ipcbench` binary: `bcastN`
//! (one publisher, N subscribers each receiving every message) and
//! `gatherN` (N producers into one consumer) fill their cells over a
//! point-to-point transport, and a message lost, duplicated or corrupted in
//! the flood fails the run naming the cell.

mod support;

use std::time::{Duration, Instant};

use results::{Delivery, Metric, Status, Workload};
use support::{QUICK, assert_fault_named, ipcbench, read_results, run, stderr};

/// Measured messages per trial and size (the flood sends four times as many).
const MESSAGES: &str = "30";

#[test]
fn broadcast_and_gather_fill_their_cells_point_to_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let mut args = vec![
        "run",
        "--transport",
        "pipe,uds",
        "--workload",
        "bcast2,gather2",
        "--sizes",
        "100,4KiB",
        "--messages",
        MESSAGES,
        "--json",
    ];
    args.push(json.to_str().expect("utf-8 path"));
    args.extend(QUICK);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_results(&json);
    // 2 transports x 2 workloads x 2 sizes x 2 metrics; neither transport
    // broadcasts or shares a queue natively, so every cell is point to point.
    assert_eq!(r.cells.len(), 2 * 2 * 2 * 2, "{:?}", r.cells);
    for c in &r.cells {
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert_eq!(c.delivery, Some(Delivery::PointToPoint), "{c:?}");
        assert_eq!(c.workers, Some(2), "{c:?}");
        let want: &[Metric] = match c.workload {
            Workload::Bcast(2) => &[Metric::Rtt, Metric::Throughput],
            Workload::Gather(2) => &[Metric::Latency, Metric::Throughput],
            w => panic!("unexpected workload {w}"),
        };
        assert!(want.contains(&c.metric), "{c:?}");
        if c.metric == Metric::Throughput {
            assert!(c.msgs_per_s.is_some_and(|m| m > 0.0), "{c:?}");
            // The flood: four times the measured count.
            assert_eq!(c.summary.n, 120, "{c:?}");
        } else {
            // Every lockstep message timed once: the publisher's round trips,
            // or each producer's share at the consumer.
            assert_eq!(c.summary.n, 30, "{c:?}");
            assert!(c.summary.p50_ns > 0.0, "{c:?}");
        }
        assert!(c.cpu_consumer_ns.is_some_and(|v| v > 0.0), "{c:?}");
    }
}

fn faulty(workload: &str, fault: &str) -> (std::process::Output, Duration) {
    let start = Instant::now();
    let mut args = vec![
        "run",
        "--transport",
        "pipe",
        "--workload",
        workload,
        "--sizes",
        "100",
        "--messages",
        MESSAGES,
        "--stall-timeout",
        "2",
    ];
    args.extend(QUICK);
    let o = ipcbench()
        .args(&args)
        .env("IPCBENCH_FAULT", fault)
        .output()
        .expect("start");
    (o, start.elapsed())
}

#[test]
fn a_fault_in_the_flood_fails_the_run_naming_the_cell() {
    // With no warm-up time, 10 warm-up messages go first. A gather's first
    // producer then sends its 15 lockstep messages, so its send #30 is
    // flood message #5; a broadcast sends 30 lockstep messages on each
    // subscriber's connection, so send #45 is flood message #5.
    for (workload, fault, needle) in [
        (
            "gather2",
            "drop:30",
            "producer 0's flood message #5 failed (order or content)",
        ),
        (
            "gather2",
            "duplicate:30",
            "producer 0's flood message #6 failed (order or content)",
        ),
        ("gather2", "corrupt:30", "contents corrupted"),
        (
            "bcast2",
            "drop:45",
            "verification of flood message #5 failed",
        ),
        (
            "bcast2",
            "duplicate:45",
            "verification of flood message #6 failed",
        ),
        ("bcast2", "corrupt:45", "contents corrupted"),
        // In lockstep a lost message is never acknowledged: the stall
        // deadline ends it.
        ("gather2", "drop:12", "no progress"),
    ] {
        let (o, took) = faulty(workload, fault);
        assert_fault_named(
            &o,
            took,
            &format!("{workload} {fault}"),
            needle,
            &[
                format!("pipe/{workload}/raw size 800 B"),
                format!("pipe {workload} point-to-point raw"),
            ],
        );
    }
}

#[test]
fn a_bad_transports_for_is_a_usage_error_naming_the_valid_ones() {
    for (arg, needle) in [
        (
            "bcast=shm-adaptive:nope",
            "unknown transport \"nope\"; valid transports:",
        ),
        ("broadcast=uds", "unknown workload family \"broadcast\""),
        ("gather=", "no transport named"),
    ] {
        let o = run(&["run", "--workload", "bcast2", "--transports-for", arg]);
        assert_eq!(o.status.code(), Some(2), "{arg}");
        let e = stderr(&o);
        assert!(e.contains(needle), "{arg}: {e}");
    }
}
