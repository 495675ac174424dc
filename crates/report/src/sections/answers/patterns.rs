//! The patterns' questions: "Broadcast one message to N readers" (`bcastN`)
//! and "N producers into one consumer" (`gatherN`). Every transport
//! contends under the one verdict rule; a transport that ran natively (its
//! own broadcast, or one queue its producers share) contends as
//! "NAME (native)" beside its point-to-point run, and the lead sets the two
//! side by side. A run without the workload has no such answer (`None`), so
//! older results render as they always did.

use super::{Answer, contest, ends, sizes_of};
use crate::format::{fmt_bytes, fmt_multiple};
use crate::sections::{Python, fmt_per_s, group, headline, median_ci, plural};
use judge::contenders::row_codec;
use results::index::{Index, NATIVE, unlabel};
use results::schema::{Cell, Metric, Placement, Workload};

/// "Broadcast one message to N readers": the round trip to the last
/// subscriber's acknowledgement, in lockstep.
pub fn broadcast(idx: &Index<'_>, py: Option<&Python<'_>>) -> Option<Answer> {
    let mut a = pattern(
        idx,
        py,
        |w| matches!(w, Workload::Bcast(_)),
        "subscriber",
        Metric::Rtt,
        &median_ci,
    )?;
    a.question = "Broadcast one message to N readers".into();
    a.figure_header = "round trip to the last reader, median (95% CI)".into();
    a.lead.insert_str(
        0,
        "One publisher sends each message to N subscriber processes, every one receiving \
         every message; the clock runs from the publish to the last subscriber's \
         acknowledgement (lockstep, one message at a time). The flood rate, the slowest \
         subscriber's, is in [details/bcast.md](details/bcast.md). ",
    );
    Some(a)
}

/// "N producers into one consumer": the consumer's rate under flood, every
/// producer's order checked.
pub fn gather(idx: &Index<'_>, py: Option<&Python<'_>>) -> Option<Answer> {
    let fig = |c: &Cell| fmt_per_s(1e9 / headline(c), "msgs");
    let mut a = pattern(
        idx,
        py,
        |w| matches!(w, Workload::Gather(_)),
        "producer",
        Metric::Throughput,
        &fig,
    )?;
    a.question = "N producers into one consumer".into();
    a.figure_header = "messages/s into the consumer (median)".into();
    a.lead.insert_str(
        0,
        "N producer processes flood one consumer, which verifies every message against its \
         producer's order; the figure is all messages over the flood. Point to point, the \
         consumer reads the producers' connections in turn. Latency with one message in \
         flight per producer is in [details/gather.md](details/gather.md); \"vs mp.Queue\" \
         is N Python processes putting into one `multiprocessing.Queue`. ",
    );
    Some(a)
}

/// The rows of one pattern: every N the run has, at the smallest and
/// largest size, judged on `metric`; the lead (without its first sentences)
/// names the placement, the cores and native against point to point.
fn pattern(
    idx: &Index<'_>,
    py: Option<&Python<'_>>,
    is: impl Fn(Workload) -> bool,
    worker: &str,
    metric: Metric,
    figure: &dyn Fn(&Cell) -> String,
) -> Option<Answer> {
    let workloads: Vec<Workload> = idx.workloads().into_iter().filter(|&w| is(w)).collect();
    if workloads.is_empty() {
        return None;
    }
    let cores = idx.results.environment.cores;
    let mut rows = Vec::new();
    let mut natives = Vec::new();
    for &w in &workloads {
        let Some(p) = idx.primary_placement(w) else {
            continue;
        };
        let n = w.consumers();
        for size in ends(&sizes_of(idx, w, p)) {
            let over = if cores > 0 && n > cores {
                " ⚠ > cores"
            } else {
                ""
            };
            let case = format!("{n} {worker}{}{over}, {}, {p}", plural(n), fmt_bytes(size));
            rows.extend(contest(idx, py, w, p, size, metric, case, figure));
            natives.extend(native_against_own(idx, w, p, size, metric));
        }
    }
    let mut lead = format!(
        "Placement `split`: the publisher or consumer on core 0, the N others on the other \
         core{}; ⚠ marks more of them than the machine's {cores} cores. A contender marked \
         \"{}\" used the transport's own one-to-many or many-to-one delivery (a native \
         broadcast, or one queue every producer shares); the others send over one connection \
         per {worker}.",
        if cores > 2 { "s" } else { "" },
        NATIVE.trim()
    );
    if !natives.is_empty() {
        lead.push_str(&format!(
            " Native against the same transport point to point: {}.",
            natives.join("; ")
        ));
    }
    Some(Answer {
        question: String::new(),
        lead,
        rows,
        figure_header: String::new(),
    })
}

/// "shm-adaptive 2.10x faster natively (2 subscribers, 800 B)" for every
/// transport that ran the case both ways.
fn native_against_own(
    idx: &Index<'_>,
    w: Workload,
    p: Placement,
    size: u64,
    metric: Metric,
) -> Vec<String> {
    let Some(codec) = row_codec(idx, w, p) else {
        return Vec::new();
    };
    let g = group(w, p, codec);
    idx.transports(g)
        .into_iter()
        .filter_map(|label| {
            let (name, native) = unlabel(&label);
            if !native {
                return None;
            }
            let n = idx.ok(&label, g, size, metric)?;
            let own = idx.ok(name, g, size, metric)?;
            // Both are times (ns, or ns per message): lower is better.
            let r = headline(own) / headline(n);
            let how = if r >= 1.0 {
                format!("{} faster natively", fmt_multiple(r))
            } else {
                format!("{} slower natively", fmt_multiple(1.0 / r))
            };
            Some(format!("{name} {how} ({w}, {})", fmt_bytes(size)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::MISSING;
    use crate::sections::testing::{cell, results};
    use results::Delivery;

    #[test]
    fn a_run_without_the_patterns_has_no_such_answers() {
        let r = results(vec![cell("a", "pingpong", "split", 800, "rtt", 1.0)]);
        let idx = Index::new(&r);
        assert!(broadcast(&idx, None).is_none());
        assert!(gather(&idx, None).is_none());
    }

    #[test]
    fn native_and_point_to_point_contend_side_by_side() {
        let mut native = cell("shm", "bcast2", "split", 800, "rtt", 1_000.0);
        native.delivery = Some(Delivery::Native);
        let mut p2p = cell("shm", "bcast2", "split", 800, "rtt", 2_000.0);
        p2p.delivery = Some(Delivery::PointToPoint);
        let mut uds = cell("uds", "bcast2", "split", 800, "rtt", 9_000.0);
        uds.delivery = Some(Delivery::PointToPoint);
        let r = results(vec![native, p2p, uds]);
        let a = broadcast(&Index::new(&r), None).expect("an answer");
        assert_eq!(a.rows.len(), 1, "{:?}", a.rows);
        assert_eq!(a.rows[0].case, "2 subscribers, 800 B, split");
        assert_eq!(a.rows[0].winner, "shm (native)");
        // The backend's two deliveries tie as one backend only if close:
        // here native wins outright, over its own point-to-point run.
        assert!(
            a.rows[0].verdict.contains("faster than shm"),
            "{:?}",
            a.rows[0]
        );
        assert_eq!(a.rows[0].vs_python, MISSING);
        assert!(
            a.lead.contains("shm 2.00x faster natively (bcast2, 800 B)"),
            "{}",
            a.lead
        );
    }

    #[test]
    fn gather_rows_compare_with_python_and_flag_oversubscription() {
        let r = results(vec![
            cell("shm-queue", "gather4", "split", 800, "throughput", 1_000.0),
            cell("uds", "gather4", "split", 800, "throughput", 4_000.0),
        ]);
        let py = results(vec![cell(
            "mp-queue",
            "gather4",
            "split",
            800,
            "throughput",
            20_000.0,
        )]);
        let pyx = Python::new(&py);
        let a = gather(&Index::new(&r), Some(&pyx)).expect("an answer");
        assert_eq!(a.rows.len(), 1, "{:?}", a.rows);
        assert!(
            a.rows[0].case.starts_with("4 producers ⚠"),
            "{:?}",
            a.rows[0]
        );
        assert_eq!(a.rows[0].winner, "shm-queue");
        assert_eq!(a.rows[0].figure, "1.00 M msgs/s");
        assert_eq!(a.rows[0].vs_python, "20x (19.6–20.4) faster");
    }
}
