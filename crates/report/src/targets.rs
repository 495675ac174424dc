//! The "Targets" section: each of the run's performance targets in words,
//! and its outcome as `judge::targets` decided it: met, not met (with the
//! measured ratio), or not measured in this run, never silently dropped.

use crate::format::{MISSING, fmt_bytes, fmt_multiple, fmt_rate, fmt_time};
use crate::table::{Align, Table};
use judge::targets::{Missing, Outcome, Quantity, Reference, Score, check};
use results::schema::{Against, Results, Target};

/// The target in words, from its data.
fn describe(t: &Target) -> String {
    let py = if t.python { "py " } else { "" };
    let name = format!("`{py}{}`", t.transport);
    let size = fmt_bytes(t.size_bytes);
    let what = format!("{name} {size} {} {}", t.workload, t.metric);
    let times = fmt_multiple(t.ratio);
    let rule = match &t.against {
        Against::CachelineFloor => format!("median ≤ {times} the cache-line round trip"),
        Against::CachelineBatchFloor => {
            format!("≤ {times} the batch-timed cache-line round trip")
        }
        Against::RawPipeFloor => format!("median ≤ {times} the raw pipe round trip"),
        Against::PlainExample => {
            format!("median ≤ {times} the plain `shared_memory` + `raw_sync` example's round trip")
        }
        Against::Memcpy => format!("median ≤ {times} one memcpy of {size}"),
        Against::Transport(o) if t.ratio == 1.0 => format!("median no slower than `{py}{o}`"),
        Against::Transport(o) => format!("median ≤ {times} `{py}{o}`"),
        Against::Nanoseconds(ns) => format!("median ≤ {}", fmt_time(ns * t.ratio)),
        Against::BytesPerSecond(b) => format!("≥ {}", fmt_rate(b * t.ratio)),
        Against::RateOf(o) => format!("≥ {times} the rate of `{py}{o}`"),
        Against::BestRateIn(w) => format!("≥ {times} the best rate of any transport in {w}"),
        Against::BeatsAtEverySize(o) => {
            return format!(
                "{name} {} {} faster than `{py}{o}` at every size (ratio interval above 1) ({})",
                t.workload, t.metric, t.placement
            );
        }
        Against::ExcessOver(o) => format!("median at most {} over `{o}`'s", fmt_time(t.ratio)),
        Against::SameTransportAt(s) => format!("median ≤ {times} its own at {}", fmt_bytes(*s)),
        Against::FillVerifyFloor => {
            format!("≥ {times} the rate of the fill + verify floor at {size}")
        }
        Against::NotBehindAtEverySize(o) => {
            return format!(
                "{name} {} {} ahead of or tied with `{py}{o}` at every size (no ratio interval in `{o}`'s favour) ({})",
                t.workload, t.metric, t.placement
            );
        }
    };
    format!("{what} {rule} ({})", t.placement)
}

/// The outcome as the table's (measured, against, ratio, status) cells.
fn cells(t: &Target, outcome: Outcome) -> [String; 4] {
    match outcome {
        Outcome::Measured {
            figure,
            against,
            score,
            met,
        } => [
            quantity(figure),
            reference(t, against),
            match score {
                Score::Multiple(x) => fmt_multiple(x),
                Score::Excess(ns) if ns < 0.0 => format!("−{} (below it)", fmt_time(-ns)),
                Score::Excess(ns) => format!("+{}", fmt_time(ns)),
                Score::Count { won, judged } => format!("{won}/{judged}"),
            },
            if met { "met" } else { "**not met**" }.to_owned(),
        ],
        Outcome::NotMeasured(why) => [
            MISSING.to_owned(),
            MISSING.to_owned(),
            MISSING.to_owned(),
            format!("not measured in this run: {}", missing(t, why)),
        ],
    }
}

fn quantity(q: Quantity) -> String {
    match q {
        Quantity::Time(ns) => fmt_time(ns),
        Quantity::MessageRate(ns) => format!("{:.0} msg/s", 1e9 / ns),
        Quantity::Bandwidth(bps) => fmt_rate(bps),
        Quantity::Sizes { won, judged } => format!("{won} of {judged} sizes"),
    }
}

fn reference(t: &Target, r: Reference) -> String {
    match r {
        Reference::Named(label, q) => format!("{label} {}", quantity(q)),
        Reference::Limit(q) => quantity(q),
        Reference::Rival { name, not_ahead_at } if not_ahead_at.is_empty() => format!("`{name}`"),
        Reference::Rival { name, not_ahead_at } => {
            let sizes: Vec<String> = not_ahead_at.into_iter().map(fmt_bytes).collect();
            let how = if matches!(t.against, Against::NotBehindAtEverySize(_)) {
                "behind or undecided"
            } else {
                "not ahead"
            };
            format!("`{name}`; {how} at {}", sizes.join(", "))
        }
    }
}

/// What the run lacks to judge the target, in words.
fn missing(t: &Target, why: Missing) -> String {
    match why {
        Missing::PythonBaseline => "needs the Python baseline".to_owned(),
        Missing::Cell { transport, size } => format!(
            "needs {transport} {} {} at {} ({})",
            t.workload,
            t.metric,
            fmt_bytes(size),
            t.placement
        ),
        Missing::Reference(label) => format!("needs the {label} ({})", t.placement),
        Missing::BestIn(workload) => format!(
            "needs {workload} {} at {} ({})",
            t.metric,
            fmt_bytes(t.size_bytes),
            t.placement
        ),
        Missing::Rival(other) => format!("needs {other} {}", t.workload),
        Missing::RivalCells(other) => format!("needs `{other}` {} cells", t.workload),
    }
}

/// The "Targets" section: one row per target the run declares.
pub fn section(results: &Results, python: Option<&Results>) -> String {
    if results.targets.is_empty() {
        return String::new();
    }
    let mut table = Table::new([
        ("Target", Align::Left),
        ("Issue", Align::Right),
        ("Measured (median)", Align::Right),
        ("Against", Align::Right),
        ("Ratio", Align::Right),
        ("Status", Align::Left),
        ("What bounds it", Align::Left),
    ]);
    for t in &results.targets {
        let [measured, against, ratio, status] = cells(t, check(results, python, t));
        table.row([
            describe(t),
            format!("#{}", t.issue),
            measured,
            against,
            ratio,
            status,
            t.bound.clone(),
        ]);
    }
    format!(
        "## Targets\n\nThe project's performance targets, as the run declares them, checked against this run's own cells \
         and floors (all measured in the same run; Python's in the same bench-all). A target not met stays in the table \
         with its figure.\n\n{}\n",
        table.render()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use results::schema::{Cell, FillVerifyFloor, Floors, Metric, Placement, Summary, Workload};

    fn cell(transport: &str, workload: &str, size: u64, metric: &str, trials: &[f64]) -> Cell {
        Cell {
            transport: transport.into(),
            codec: results::Codec::Raw,
            workload: workload.parse().expect("workload"),
            placement: Placement::Split,
            size_bytes: size,
            metric: metric.parse().expect("metric"),
            trial_medians_ns: trials.to_vec(),
            median_ns: results::bootstrap::median(trials).unwrap_or(0.0),
            ..Cell::default()
        }
    }

    fn rtt(transport: &str, median: f64) -> Cell {
        cell(transport, "pingpong", 8, "rtt", &[median; 3])
    }

    fn target(transport: &str, against: Against, ratio: f64) -> Target {
        Target {
            issue: 1,
            transport: transport.into(),
            python: false,
            workload: Workload::Pingpong,
            placement: Placement::Split,
            size_bytes: 8,
            metric: Metric::Rtt,
            against,
            ratio,
            bound: "why".into(),
        }
    }

    fn results(cells: Vec<Cell>, targets: Vec<Target>) -> Results {
        Results {
            schema_version: 2,
            environment: Default::default(),
            config: Default::default(),
            floors: vec![Floors {
                placement: Placement::Split,
                cacheline_rtt: Some(Summary {
                    p50_ns: 200.0,
                    ..Summary::default()
                }),
                cacheline_rtt_batch_ns: Some(150.0),
                raw_pipe_rtt: Some(Summary {
                    p50_ns: 10_000.0,
                    ..Summary::default()
                }),
                ..Floors::default()
            }],
            cells,
            targets,
            transports: Vec::new(),
        }
    }

    fn row<'a>(md: &'a str, needle: &str) -> &'a str {
        md.lines().find(|l| l.contains(needle)).expect("target row")
    }

    #[test]
    fn met_and_not_met_with_ratios() {
        let r = results(
            vec![
                rtt("pipe", 12_000.0),
                rtt("spin", 400.0),
                rtt("ice", 2000.0),
            ],
            vec![
                target("pipe", Against::RawPipeFloor, 1.25),
                target("spin", Against::CachelineFloor, 1.3),
                target("spin", Against::CachelineBatchFloor, 1.3),
                target("spin", Against::Transport("ice".into()), 1.0),
                target("gone", Against::Nanoseconds(5000.0), 1.0),
            ],
        );
        let md = section(&r, None);
        let pipe = row(&md, "`pipe` 8 B");
        assert!(pipe.contains("1.20x") && pipe.contains("| met"), "{pipe}");
        let spin = row(&md, "1.30x the cache-line round trip");
        assert!(
            spin.contains("2.00x") && spin.contains("**not met**"),
            "{spin}"
        );
        assert!(row(&md, "batch-timed").contains("2.67x"));
        assert!(row(&md, "no slower than `ice`").contains("| met"));
        assert!(row(&md, "`gone`").contains("not measured in this run"));
    }

    #[test]
    fn beats_at_every_size_names_where_it_is_not_ahead() {
        let fast = [100.0, 101.0, 99.0, 100.0];
        let slow = [200.0, 202.0, 198.0, 200.0];
        let cells = vec![
            cell("a", "pingpong", 8, "rtt", &fast),
            cell("b", "pingpong", 8, "rtt", &slow),
            cell("a", "pingpong", 800, "rtt", &fast),
            cell("b", "pingpong", 800, "rtt", &fast),
        ];
        let r = results(
            cells,
            vec![target("a", Against::BeatsAtEverySize("b".into()), 1.0)],
        );
        let md = section(&r, None);
        let line = row(&md, "at every size");
        assert!(
            line.contains("1 of 2 sizes") && line.contains("not ahead at 800 B"),
            "{line}"
        );
        assert!(line.contains("**not met**"), "{line}");
    }

    #[test]
    fn in_place_targets_judge_growth_with_size_the_fill_verify_floor_and_ties() {
        const MIB64: u64 = 64 << 20;
        let in_place = |against: Against, ratio: f64, workload: Workload, size: u64| {
            let mut t = target("spin", against, ratio);
            t.workload = workload;
            t.metric = workload.primary_metric();
            t.size_bytes = size;
            t
        };
        let targets = vec![
            in_place(Against::SameTransportAt(8), 2.0, Workload::Handover, MIB64),
            in_place(
                Against::FillVerifyFloor,
                0.9,
                Workload::InplaceStream,
                MIB64,
            ),
            in_place(
                Against::NotBehindAtEverySize("ice".into()),
                1.0,
                Workload::Handover,
                0,
            ),
        ];
        let cells = |ice_8: [f64; 3]| {
            vec![
                cell("spin", "handover", 8, "latency", &[300.0, 302.0, 298.0]),
                cell("spin", "handover", MIB64, "latency", &[500.0, 505.0, 495.0]),
                cell("ice", "handover", 8, "latency", &ice_8),
                cell("ice", "handover", MIB64, "latency", &[900.0, 905.0, 895.0]),
                cell("spin", "inplace-stream", MIB64, "throughput", &[20e6; 3]),
            ]
        };
        let mut r = results(cells([301.0, 299.0, 303.0]), targets.clone());
        r.floors[0].fill_verify = vec![FillVerifyFloor {
            size_bytes: MIB64,
            fill_ns: 19e6,
            verify_ns: 15e6,
        }];
        let md = section(&r, None);
        let grow = row(&md, "its own at 8 B");
        assert!(grow.contains("1.67x") && grow.contains("| met"), "{grow}");
        // The floor is the slower half, fill: 19 ms against 20 ms a message.
        let floor = row(&md, "fill + verify floor");
        assert!(floor.contains("0.95") && floor.contains("| met"), "{floor}");
        // Tied at 8 B, ahead at 64 MiB.
        let tie = row(&md, "ahead of or tied with `ice`");
        assert!(
            tie.contains("2 of 2 sizes") && tie.contains("| met"),
            "{tie}"
        );

        // iceoryx2 decisively ahead at 8 B; no floor recorded.
        let mut r = results(cells([100.0, 101.0, 99.0]), targets);
        r.floors[0].fill_verify.clear();
        let md = section(&r, None);
        let tie = row(&md, "ahead of or tied with `ice`");
        assert!(
            tie.contains("1 of 2 sizes")
                && tie.contains("behind or undecided at 8 B")
                && tie.contains("**not met**"),
            "{tie}"
        );
        assert!(row(&md, "fill + verify floor").contains("not measured in this run"));
    }

    #[test]
    fn python_targets_read_the_baseline_and_rates_compare_as_rates() {
        let mut t = target("fast", Against::RateOf("slow".into()), 5.0);
        t.python = true;
        t.workload = "fanout4".parse().expect("workload");
        t.metric = "throughput".parse().expect("metric");
        let py = results(
            vec![
                cell("fast", "fanout4", 8, "throughput", &[1000.0; 3]),
                cell("slow", "fanout4", 8, "throughput", &[10_000.0; 3]),
            ],
            Vec::new(),
        );
        let r = results(Vec::new(), vec![t]);
        assert!(row(&section(&r, Some(&py)), "`py fast`").contains("10.0x"));
        assert!(row(&section(&r, None), "`py fast`").contains("needs the Python baseline"));
    }

    #[test]
    fn best_rate_in_another_workload_takes_the_fastest_transport() {
        let mut t = target("q", Against::BestRateIn(Workload::Fanout(4)), 1.0);
        t.workload = "fanoutq4".parse().expect("workload");
        t.metric = "throughput".parse().expect("metric");
        t.size_bytes = 8;
        let cells = |q: f64| {
            vec![
                cell("q", "fanoutq4", 8, "throughput", &[q; 3]),
                cell("a", "fanout4", 8, "throughput", &[2000.0; 3]),
                cell("b", "fanout4", 8, "throughput", &[1000.0; 3]),
                // Another size or workload is no competitor.
                cell("c", "fanout4", 800, "throughput", &[10.0; 3]),
                cell("c", "fanout2", 8, "throughput", &[10.0; 3]),
            ]
        };
        let md = section(&results(cells(800.0), vec![t.clone()]), None);
        let line = row(&md, "best rate of any transport in fanout4");
        assert!(
            line.contains("b fanout4 1000000 msg/s") && line.contains("1.25x"),
            "{line}"
        );
        assert!(line.contains("| met"), "{line}");
        let md = section(&results(cells(1250.0), vec![t.clone()]), None);
        let line = row(&md, "best rate of any transport in fanout4");
        assert!(
            line.contains("0.800x") && line.contains("**not met**"),
            "{line}"
        );
        let md = section(&results(cells(800.0)[..1].to_vec(), vec![t]), None);
        assert!(row(&md, "`q`").contains("needs fanout4 throughput at 8 B"));
    }

    #[test]
    fn a_run_without_targets_has_no_section() {
        assert_eq!(section(&results(Vec::new(), Vec::new()), None), "");
    }
}
