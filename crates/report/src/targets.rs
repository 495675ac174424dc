//! The project's performance targets, checked against a run's own cells and
//! floors: each shown as met, not met (with the measured ratio), or not
//! measured in this run, never silently dropped. The targets are data
//! ([`TARGETS`]), evaluated by one function, so adding one is one entry.

use crate::format::{fmt_bytes, fmt_multiple, fmt_rate, fmt_time};
use crate::schema::{Against, Cell, Floors, Placement, Results, Status, Target, Workload};
use crate::table::{Align, Table};
use crate::verdict;

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
    };
    format!("{what} {rule} ({})", t.placement)
}

/// The outcome of one target.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// (measured, what it is held against, ratio or count, met)
    Measured(String, String, String, bool),
    /// Why it could not be checked.
    NotMeasured(String),
}

/// Where a target's cells are: the run's, or the Python baseline's.
struct Sources<'a> {
    rust: &'a Results,
    python: Option<&'a Results>,
}

impl<'a> Sources<'a> {
    fn of(&self, t: &Target) -> Option<&'a Results> {
        if t.python {
            self.python
        } else {
            Some(self.rust)
        }
    }
}

fn matches(c: &Cell, t: &Target, transport: &str) -> bool {
    c.status == Status::Ok
        && c.transport == transport
        && c.workload == t.workload
        && c.placement == t.placement
        && c.metric == t.metric
        && (c.codec == "raw" || c.codec == "pickle" || t.workload != Workload::Seed)
}

fn cell<'a>(r: &'a Results, t: &Target, transport: &str, size: u64) -> Option<&'a Cell> {
    r.cells
        .iter()
        .find(|c| matches(c, t, transport) && c.size_bytes == size)
}

fn floors(r: &Results, placement: Placement) -> Option<&Floors> {
    r.floors.iter().find(|f| f.placement == placement)
}

/// A rate (a throughput cell's ns per message) held against the best any
/// transport reached in `workload` at the target's placement, size and
/// metric: met when the rate ratio ≥ the target's ratio.
fn best_rate_in(r: &Results, t: &Target, figure: f64, workload: Workload) -> Outcome {
    let best = r
        .cells
        .iter()
        .filter(|c| {
            c.status == Status::Ok
                && c.workload == workload
                && c.placement == t.placement
                && c.metric == t.metric
                && c.size_bytes == t.size_bytes
        })
        .filter(|c| c.median() > 0.0)
        .min_by(|a, b| a.median().total_cmp(&b.median()));
    match best {
        Some(b) => {
            // Throughput cells hold ns per message: the rate ratio is the
            // inverse of the time ratio.
            let ratio = b.median() / figure;
            let rate = |ns: f64| format!("{:.0} msg/s", 1e9 / ns);
            Outcome::Measured(
                rate(figure),
                format!("{} {workload} {}", b.transport, rate(b.median())),
                fmt_multiple(ratio),
                ratio >= t.ratio,
            )
        }
        None => Outcome::NotMeasured(format!(
            "needs {workload} {} at {} ({})",
            t.metric,
            fmt_bytes(t.size_bytes),
            t.placement
        )),
    }
}

/// A time held against a reference time: met when figure ÷ reference ≤ ratio.
fn time_against(t: &Target, figure: f64, reference: Option<f64>, label: &str) -> Outcome {
    match reference {
        Some(x) if x > 0.0 => {
            let ratio = figure / x;
            Outcome::Measured(
                fmt_time(figure),
                format!("{label} {}", fmt_time(x)),
                fmt_multiple(ratio),
                ratio <= t.ratio,
            )
        }
        _ => Outcome::NotMeasured(format!("needs the {label} ({})", t.placement)),
    }
}

/// Counts the sizes where `t.transport` beats `other` by a decisive verdict.
fn beats_at_every_size(r: &Results, t: &Target, other: &str) -> Outcome {
    let mut sizes: Vec<u64> = r
        .cells
        .iter()
        .filter(|c| matches(c, t, &t.transport))
        .map(|c| c.size_bytes)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let (mut won, mut judged, mut lost_at) = (0, 0, Vec::new());
    for &size in &sizes {
        let (Some(a), Some(b)) = (cell(r, t, &t.transport, size), cell(r, t, other, size)) else {
            continue;
        };
        judged += 1;
        match verdict::ratio(a, b) {
            Some(ratio) if ratio.decisive() => won += 1,
            _ => lost_at.push(fmt_bytes(size)),
        }
    }
    if judged == 0 {
        return Outcome::NotMeasured(format!("needs `{other}` {} cells", t.workload));
    }
    let against = if lost_at.is_empty() {
        format!("`{other}`")
    } else {
        format!("`{other}`; not ahead at {}", lost_at.join(", "))
    };
    Outcome::Measured(
        format!("{won} of {judged} sizes"),
        against,
        format!("{won}/{judged}"),
        won == judged,
    )
}

/// Checks one target against a run (and the Python baseline beside it).
fn check(src: &Sources<'_>, t: &Target) -> Outcome {
    let Some(r) = src.of(t) else {
        return Outcome::NotMeasured("needs the Python baseline".into());
    };
    if let Against::BeatsAtEverySize(other) = &t.against {
        // Judged over every size, not the target's one.
        return beats_at_every_size(r, t, other);
    }
    let Some(c) = cell(r, t, &t.transport, t.size_bytes) else {
        return Outcome::NotMeasured(format!(
            "needs {} {} {} at {} ({})",
            t.transport,
            t.workload,
            t.metric,
            fmt_bytes(t.size_bytes),
            t.placement
        ));
    };
    let figure = c.median();
    let floor = floors(src.rust, t.placement);
    match &t.against {
        Against::BeatsAtEverySize(other) => beats_at_every_size(r, t, other),
        Against::CachelineFloor => time_against(
            t,
            figure,
            floor
                .and_then(|f| f.cacheline_rtt.as_ref())
                .map(|s| s.p50_ns),
            "cache line",
        ),
        Against::CachelineBatchFloor => time_against(
            t,
            figure,
            floor.and_then(|f| f.cacheline_rtt_batch_ns),
            "batch-timed cache line",
        ),
        Against::RawPipeFloor => time_against(
            t,
            figure,
            floor
                .and_then(|f| f.raw_pipe_rtt.as_ref())
                .map(|s| s.p50_ns),
            "raw pipe",
        ),
        Against::Memcpy => time_against(
            t,
            figure,
            floor
                .and_then(|f| f.memcpy.iter().find(|m| m.size_bytes == t.size_bytes))
                .map(|m| m.p50_ns),
            "memcpy",
        ),
        Against::Transport(other) => time_against(
            t,
            figure,
            cell(r, t, other, t.size_bytes).map(Cell::median),
            other,
        ),
        Against::Nanoseconds(ns) => time_against(t, figure, Some(*ns), "limit"),
        Against::BytesPerSecond(limit) => {
            let bps = 1e9 / figure * t.size_bytes as f64;
            let ratio = bps / limit;
            Outcome::Measured(
                fmt_rate(bps),
                fmt_rate(*limit),
                fmt_multiple(ratio),
                ratio >= t.ratio,
            )
        }
        Against::RateOf(other) => match cell(r, t, other, t.size_bytes) {
            Some(o) => {
                // Throughput cells hold ns per message: the rate ratio is
                // the inverse of the time ratio.
                let ratio = o.median() / figure;
                let rate = |ns: f64| format!("{:.0} msg/s", 1e9 / ns);
                Outcome::Measured(
                    rate(figure),
                    format!("{other} {}", rate(o.median())),
                    fmt_multiple(ratio),
                    ratio >= t.ratio,
                )
            }
            None => Outcome::NotMeasured(format!("needs {other} {}", t.workload)),
        },
        Against::BestRateIn(workload) => best_rate_in(r, t, figure, *workload),
        Against::ExcessOver(other) => match cell(src.rust, t, other, t.size_bytes) {
            Some(o) => {
                let excess = figure - o.median();
                Outcome::Measured(
                    fmt_time(figure),
                    format!("{other} {}", fmt_time(o.median())),
                    if excess < 0.0 {
                        format!("−{} (below it)", fmt_time(-excess))
                    } else {
                        format!("+{}", fmt_time(excess))
                    },
                    excess <= t.ratio,
                )
            }
            None => Outcome::NotMeasured(format!("needs {other} {}", t.workload)),
        },
    }
}

/// The "Targets" section: one row per target the run declares.
pub fn section(results: &Results, python: Option<&Results>) -> String {
    if results.targets.is_empty() {
        return String::new();
    }
    let src = Sources {
        rust: results,
        python,
    };
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
        let (measured, against, ratio, status) = match check(&src, t) {
            Outcome::Measured(m, a, ratio, met) => (
                m,
                a,
                ratio,
                if met { "met" } else { "**not met**" }.to_owned(),
            ),
            Outcome::NotMeasured(why) => (
                "–".to_owned(),
                "–".to_owned(),
                "–".to_owned(),
                format!("not measured in this run: {why}"),
            ),
        };
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
    use crate::schema::{Metric, Summary};

    fn cell(transport: &str, workload: &str, size: u64, metric: &str, trials: &[f64]) -> Cell {
        Cell {
            transport: transport.into(),
            codec: "raw".into(),
            workload: workload.parse().expect("workload"),
            placement: Placement::Split,
            size_bytes: size,
            metric: metric.parse().expect("metric"),
            trial_medians_ns: trials.to_vec(),
            median_ns: crate::bootstrap::median(trials).unwrap_or(0.0),
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
