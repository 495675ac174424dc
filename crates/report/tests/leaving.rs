//! The answer "What leaving the machine costs" (issue 25): rendered from a
//! local run and remote runs beside it, with the delayed columns either
//! measured or saying why not, and absent without a remote run.

mod fixtures;

use fixtures::{SIZES, cell};
use report::format::fmt_time;
use report::{RenderOptions, render_markdown};
use results::remote::{ADDED_DELAY_US, DELAY_NOT_MEASURED, LINK, REMOTE};
use results::{Metric, Results, Workload};

const HEADING: &str = "## What leaving the machine costs";

/// Adds `t`'s pingpong round trip (`rtt` ns) and stream time per message
/// (`ns`) at size `s` to `r`.
fn push_pair(r: &mut Results, t: &str, s: u64, rtt: f64, ns: f64) {
    r.cells.push(cell(
        t,
        "raw",
        "pingpong",
        "split",
        s,
        "rtt",
        rtt,
        rtt * 0.03,
    ));
    r.cells.push(cell(
        t,
        "raw",
        "stream",
        "split",
        s,
        "throughput",
        ns,
        ns * 0.02,
    ));
}

/// The fixture run with TCP over loopback beside its three transports.
fn local() -> Results {
    let mut r = fixtures::run();
    for &s in &SIZES {
        let (rtt, ns) = (30_000.0 + 0.2 * s as f64, 2_000.0 + 0.05 * s as f64);
        push_pair(&mut r, "tcp", s, rtt, ns);
    }
    r
}

/// A remote run of tcp and quic across a link, `delay_us` added on each end
/// (0: none), its environment saying what `extra` says.
fn remote(delay_us: f64, extra: &[(&str, &str)]) -> Results {
    let mut r = fixtures::run();
    r.cells.clear();
    for &s in &SIZES {
        for (t, fixed) in [("tcp", 60_000.0), ("quic", 150_000.0)] {
            let rtt = fixed + 2.0 * delay_us * 1000.0 + 0.3 * s as f64;
            push_pair(&mut r, t, s, rtt, fixed / 10.0 + 0.1 * s as f64);
        }
    }
    r.environment.extra = vec![(REMOTE.into(), "consumers on 10.77.0.1".into())];
    r.environment.extra.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    if delay_us > 0.0 {
        r.environment
            .extra
            .push((ADDED_DELAY_US.into(), delay_us.to_string()));
    }
    r
}

/// The figure a table shows for `t`'s pingpong round trip at 800 B in `r`.
fn rtt_800(r: &Results, t: &str) -> String {
    let c = r
        .cells
        .iter()
        .find(|c| {
            c.transport == t
                && c.workload == Workload::Pingpong
                && c.metric == Metric::Rtt
                && c.size_bytes == 800
        })
        .expect("an 800 B round trip");
    fmt_time(c.median())
}

/// The answer's section of a README.
fn section(readme: &str) -> &str {
    let start = readme.find(HEADING).expect("the answer");
    let end = readme[start + 3..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + 3 + e);
    &readme[start..end]
}

#[test]
fn the_answer_renders_each_size_with_the_delay_not_measured_and_why() {
    let link = "a veth pair between two network namespaces";
    let plain = [remote(
        0.0,
        &[(LINK, link), (DELAY_NOT_MEASURED, "kernel has no netem")],
    )];
    let opts = RenderOptions {
        remote: &plain,
        ..RenderOptions::default()
    };
    let readme = render_markdown(&local(), &opts);
    let s = section(&readme);
    assert!(s.contains(link), "{s}");
    for header in [
        "best local",
        "tcp, loopback",
        "tcp, link",
        "quic, link",
        "tcp, + delay",
        "quic, + delay",
    ] {
        assert!(s.contains(header), "{header}: {s}");
    }
    // One row per size in each of the two tables; every delayed cell says why.
    assert_eq!(s.matches("| 800 B ").count(), 2, "{s}");
    assert_eq!(s.matches("| 51.2 KB ").count(), 2, "{s}");
    assert_eq!(
        s.matches("not measured: kernel has no netem").count(),
        2 * 2 * SIZES.len(),
        "{s}"
    );
    // The best local transport is the fixture's fastest (shm), with its
    // figure; tcp's loopback and the remote figures are the cells' medians.
    let row_800 = s
        .lines()
        .find(|l| l.starts_with("| 800 B"))
        .expect("800 B row");
    let (l, r) = (local(), &plain[0]);
    for (want, what) in [
        (format!("shm {}", rtt_800(&l, "shm")), "the best local"),
        (rtt_800(&l, "tcp"), "tcp over loopback"),
        (rtt_800(r, "tcp"), "tcp across"),
        (rtt_800(r, "quic"), "quic across"),
    ] {
        assert!(
            row_800.contains(&format!(" {want} ")),
            "{what}: {want}: {row_800}"
        );
    }
    assert!(s.contains("**Payload rate (stream, median)**"), "{s}");
}

#[test]
fn a_delayed_run_fills_the_delayed_columns() {
    let runs = [remote(0.0, &[]), remote(100.0, &[])];
    let opts = RenderOptions {
        remote: &runs,
        ..RenderOptions::default()
    };
    let readme = render_markdown(&local(), &opts);
    let s = section(&readme);
    assert!(s.contains("tcp, + 100 µs each way"), "{s}");
    assert!(!s.contains("not measured"), "{s}");
    let row_800 = s
        .lines()
        .find(|l| l.starts_with("| 800 B"))
        .expect("800 B row");
    for t in ["tcp", "quic"] {
        let want = rtt_800(&runs[1], t);
        assert!(
            row_800.contains(&format!(" {want} ")),
            "{t}: {want}: {row_800}"
        );
    }
}

#[test]
fn without_a_remote_run_there_is_no_answer() {
    let readme = render_markdown(&local(), &RenderOptions::default());
    assert!(!readme.contains("leaving the machine"), "{readme}");
    // A local run passed as remote is not one.
    let not_remote = [local()];
    let opts = RenderOptions {
        remote: &not_remote,
        ..RenderOptions::default()
    };
    assert!(!render_markdown(&local(), &opts).contains("leaving the machine"));
}
