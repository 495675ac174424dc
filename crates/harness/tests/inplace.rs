//! End-to-end tests of the in-place workloads (`handover`,
//! `inplace-stream`) over a transport that loans (shm-spin) and one that
//! copies (pipe): every cell measured with its loan flag, the fill + verify
//! floor recorded at the run's sizes, and a message corrupted or lost in
//! the transport caught by the consumer's check.

mod support;

use std::time::{Duration, Instant};

use results::{Metric, Status, Workload};
use support::{QUICK, ipcbench, read_results, run, stderr};

/// The run's flags besides transports, workloads and sizes: few messages,
/// a short flood, the size floors only (no round-trip probes).
const SMALL: &[&str] = &[
    "--messages",
    "30",
    "--stream-min-ms",
    "5",
    "--trials",
    "1",
    "--warmup-ms",
    "0",
    "--no-intervals",
    "--quiet",
    "--floors",
    "sizes",
];

#[test]
fn both_workloads_measure_a_loaning_and_a_copying_transport() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("out.json");
    let mut args = vec![
        "run",
        "--transport",
        "shm-spin,pipe",
        "--workload",
        "handover,inplace-stream",
        "--sizes",
        "8B,4KiB",
        "--json",
        json.to_str().expect("utf-8 path"),
    ];
    args.extend(SMALL);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_results(&json);
    // 2 transports x 2 sizes x (handover: latency, put; inplace-stream: throughput).
    assert_eq!(r.cells.len(), 2 * 2 * 3, "{:#?}", r.cells);
    for c in &r.cells {
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert_eq!(c.loaned, Some(c.transport == "shm-spin"), "{c:?}");
        match (c.workload, c.metric) {
            (Workload::Handover, Metric::Latency | Metric::Put) => {
                assert_eq!(c.summary.n, 30, "{c:?}");
                assert!(c.median() > 0.0, "{c:?}");
            }
            (Workload::InplaceStream, Metric::Throughput) => {
                assert!(c.msgs_per_s.is_some_and(|m| m > 0.0), "{c:?}");
                assert!(c.bytes_per_s.is_some_and(|b| b > 0.0), "{c:?}");
                // At least 4 x --messages.
                assert!(c.summary.n >= 4 * 30, "{c:?}");
            }
            other => panic!("unexpected cell {other:?}: {c:?}"),
        }
    }
    // The size floors only: memcpy and fill + verify at both sizes.
    let f = r.floors.first().expect("floors");
    assert!(f.cacheline_rtt.is_none() && f.probes.is_empty());
    let sizes: Vec<u64> = f.fill_verify.iter().map(|v| v.size_bytes).collect();
    assert_eq!(sizes, [8, 4096]);
    assert!(f.fill_verify.iter().all(|v| v.floor_ns() > 0.0));
    assert_eq!(f.memcpy.len(), 2);
}

#[test]
fn a_message_corrupted_or_lost_on_the_way_fails_the_cell() {
    for transport in ["shm-spin", "pipe"] {
        for (fault, workload, needle) in [
            ("corrupt:15", "handover", "contents corrupted"),
            ("corrupt:15", "inplace-stream", "contents corrupted"),
            ("drop:15", "inplace-stream", "lost or reordered"),
            ("duplicate:15", "inplace-stream", "duplicate or reordered"),
        ] {
            let start = Instant::now();
            let mut args = vec![
                "run",
                "--transport",
                transport,
                "--workload",
                workload,
                "--sizes",
                "800B",
                "--messages",
                "30",
                "--stream-min-ms",
                "5",
                "--stall-timeout",
                "5",
            ];
            args.extend(QUICK);
            let o = ipcbench()
                .args(&args)
                .env("IPCBENCH_FAULT", fault)
                .output()
                .expect("start");
            let e = stderr(&o);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{transport} {workload} {fault}: {e}"
            );
            assert!(
                e.contains(needle) && e.contains(&format!("{transport}/{workload}/raw size 800 B")),
                "{transport} {workload} {fault}: {e}"
            );
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{transport} {workload} {fault} took {:?}",
                start.elapsed()
            );
        }
    }
}

#[test]
fn a_loaning_transport_runs_sizes_above_its_copied_maximum() {
    // shm-queue copies messages up to 16 MiB and lends up to 256 MiB: the
    // in-place workloads run it at 24 MiB (as loans); a transport that
    // cannot lend records the size as not run.
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("out.json");
    let mut args = vec![
        "run",
        "--transport",
        "shm-queue,udp",
        "--workload",
        "handover",
        "--sizes",
        "24MiB",
        "--messages",
        "2",
        "--json",
        json.to_str().expect("utf-8 path"),
    ];
    args.extend(QUICK);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_results(&json);
    let queue: Vec<_> = r
        .cells
        .iter()
        .filter(|c| c.transport == "shm-queue")
        .collect();
    assert_eq!(queue.len(), 2, "{queue:?}");
    assert!(
        queue
            .iter()
            .all(|c| c.status == Status::Ok && c.loaned == Some(true) && c.summary.n == 2),
        "{queue:?}"
    );
    let udp = r
        .cells
        .iter()
        .find(|c| c.transport == "udp")
        .expect("udp's cell");
    assert_eq!(udp.metric, Metric::NotRun);
    assert!(
        udp.error.as_deref().is_some_and(|e| e.contains("not run")),
        "{udp:?}"
    );
}
