//! The README's first lines: the machine in one line, from the run's own
//! environment record, and the caveats that change the answer (cores vs
//! workers, busy-waiting on shared cores, slow idle-core wake-ups).

use crate::format::{fmt_multiple, fmt_time};
use crate::sections::{group, headline, plural};
use judge::thresholds::{CRITICAL_RATIO, SLOW_WAKE_RATIO, is_smoke};
use results::index::{Index, primary_metric};
use results::schema::{Placement, Workload};
use results::schema::{PlacementCpus, Results};

/// The machine in one line: `Intel Xeon, 2 logical CPUs, Linux 6.1, kvm`.
pub fn machine_line(r: &Results) -> String {
    let e = &r.environment;
    let known = |s: &str, what: &str| {
        if s.is_empty() {
            format!("{what} unknown")
        } else {
            s.to_owned()
        }
    };
    format!(
        "**Machine:** {}, {} logical CPU{}, {}, virtualisation: {}; measured {} at commit {}. {}",
        known(&e.cpu_model, "CPU"),
        e.cores,
        plural(e.cores),
        known(&e.kernel, "kernel"),
        if e.virtualization.is_empty() {
            "none detected"
        } else {
            &e.virtualization
        },
        known(&e.date, "date"),
        known(&e.git_commit, "commit"),
        placements(e.placement_cpus.as_ref()),
    )
}

/// What the placements pinned to: the CPUs and their relation where the run
/// recorded them (files written before it did say cores 0 and 1, as then).
fn placements(cpus: Option<&PlacementCpus>) -> String {
    let Some(p) = cpus else {
        return "Placement `split`: producer on core 0, consumers on core 1; `same`: every \
                process on core 0; `none`: left to the scheduler."
            .to_owned();
    };
    let [a, b] = p.split;
    let fallback = p
        .fallback
        .as_ref()
        .map(|why| format!(" (CPU topology unknown: {why})"))
        .unwrap_or_default();
    format!(
        "Placement `{}`: producer on CPU {a}, consumers on CPU {b}{fallback}; `same`: every \
         process on CPU {}; `none`: left to the scheduler.",
        p.describe_split(),
        p.same
    )
}

/// Whether the run is a smoke run: `bench-all --quick` says so in the
/// environment record, and too few trials or messages make one anyway.
fn smoke(r: &Results) -> bool {
    r.environment
        .extra
        .iter()
        .any(|(_, v)| v.contains("--quick matrix"))
        || is_smoke(r.config.trials, r.config.messages)
}

/// The smoke-run warning, when the run is one.
pub fn smoke_line(r: &Results) -> Option<String> {
    smoke(r).then(|| {
        format!(
            "**Low-precision smoke run** ({} trial{} of {} messages per cell): the figures \
             below show that every transport works, not which one is faster; intervals are \
             wide or absent. Run `cargo xtask bench-all` for numbers to decide on.",
            r.config.trials,
            plural(r.config.trials),
            r.config.messages
        )
    })
}

/// One caveat that changes how to read the answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Caveat {
    /// A workload runs more worker processes than the machine has cores.
    Oversubscribed { workers: u32, cores: usize },
    /// Transports that are `ratio` times slower when sharing a core.
    SharedCoreCollapse { transports: Vec<String>, worst: f64 },
    /// A cross-core round trip costs `ratio` times the same-core one.
    SlowWake { split_ns: f64, same_ns: f64 },
}

impl Caveat {
    pub fn describe(&self) -> String {
        match self {
            Self::Oversubscribed { workers, cores } => format!(
                "**{workers} workers on {cores} core{}:** the fanout workloads with more \
                 workers than cores share cores between workers, so a transport that only \
                 busy-waits stalls a whole scheduler timeslice per hand-over; one that blocks \
                 (or spins briefly, then blocks) keeps working. The fanout answer names the \
                 fastest there.",
                plural(*cores)
            ),
            Self::SharedCoreCollapse { transports, worst } => format!(
                "**Busy-waiting on a shared core collapses:** {} run{} {} or more slower with \
                 processes sharing a core than on separate cores (worst {}); see \
                 [placement](details/placement.md).",
                transports.join(", "),
                if transports.len() == 1 { "s" } else { "" },
                fmt_multiple(CRITICAL_RATIO),
                fmt_multiple(*worst)
            ),
            Self::SlowWake { split_ns, same_ns } => format!(
                "**Idle cores wake slowly:** a bare pipe round trip costs {} across cores \
                 against {} on one core ({}): a receiver that sleeps pays the wake-up on every \
                 message, which favours transports that spin briefly before sleeping.",
                fmt_time(*split_ns),
                fmt_time(*same_ns),
                fmt_multiple(split_ns / same_ns)
            ),
        }
    }
}

/// The caveats this run's own data supports.
pub fn caveats(r: &Results) -> Vec<Caveat> {
    let idx = Index::new(r);
    let mut out = Vec::new();
    let workers = idx
        .workloads()
        .iter()
        .filter(|w| w.is_fanout())
        .filter_map(|w| w.parameter().map(u32::from))
        .max();
    if let Some(w) = workers
        && r.environment.cores > 0
        && w as usize > r.environment.cores
    {
        out.push(Caveat::Oversubscribed {
            workers: w,
            cores: r.environment.cores,
        });
    }
    let (transports, worst) = collapses(&idx);
    if !transports.is_empty() {
        out.push(Caveat::SharedCoreCollapse { transports, worst });
    }
    let pipe = |p: Placement| {
        r.floors
            .iter()
            .find(|f| f.placement == p)
            .and_then(|f| f.raw_pipe_rtt.as_ref())
            .map(|s| s.p50_ns)
    };
    if let (Some(split_ns), Some(same_ns)) = (pipe(Placement::Split), pipe(Placement::Same))
        && same_ns > 0.0
        && split_ns / same_ns >= SLOW_WAKE_RATIO
    {
        out.push(Caveat::SlowWake { split_ns, same_ns });
    }
    out
}

/// Transports whose headline figure on `same` is at least
/// [`CRITICAL_RATIO`] times the one on `split`, at any size of any workload,
/// and the worst such ratio.
fn collapses(idx: &Index<'_>) -> (Vec<String>, f64) {
    let mut names: Vec<String> = Vec::new();
    let mut worst: f64 = 0.0;
    // Closed-loop workloads only: paced and fanout overload a shared core by
    // design, which says nothing about how a transport waits.
    for w in idx.workloads() {
        let Some(metric) =
            primary_metric(w).filter(|_| matches!(w, Workload::Pingpong | Workload::Seed))
        else {
            continue;
        };
        for codec in idx.codecs(w, Placement::Split) {
            let (gs, go) = (
                group(w, Placement::Split, codec),
                group(w, Placement::Same, codec),
            );
            for tr in idx.transports(gs) {
                for s in idx.sizes(gs) {
                    let (Some(a), Some(b)) =
                        (idx.ok(&tr, gs, s, metric), idx.ok(&tr, go, s, metric))
                    else {
                        continue;
                    };
                    let r = headline(b) / headline(a);
                    if r.is_finite() && r >= CRITICAL_RATIO {
                        worst = worst.max(r);
                        if !names.contains(&tr) {
                            names.push(tr.clone());
                        }
                    }
                }
            }
        }
    }
    names.sort();
    (names, worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn the_machine_line_comes_from_the_environment_record() {
        let r = results(Vec::new());
        let line = machine_line(&r);
        assert!(
            line.contains("Test CPU, 2 logical CPUs, Linux 6.1, virtualisation: kvm"),
            "{line}"
        );
        assert!(
            line.ends_with(
                "Placement `split`: producer on core 0, consumers on core 1; `same`: \
                 every process on core 0; `none`: left to the scheduler."
            ),
            "{line}"
        );
        assert_eq!(smoke_line(&r), None);
        let mut quick = r.clone();
        quick.config.trials = 2;
        assert!(smoke_line(&quick).is_some_and(|s| s.contains("smoke run")));
        let mut quick = r.clone();
        quick.environment.extra.push((
            "bench-all wall time".into(),
            "0 min 41 s (--quick matrix, Python baseline included)".into(),
        ));
        assert!(smoke_line(&quick).is_some());
    }

    #[test]
    fn the_machine_line_names_the_cpus_and_relation_of_split() {
        let mut r = results(Vec::new());
        r.environment.placement_cpus = Some(PlacementCpus {
            split: [0, 2],
            split_relation: Some("llc".into()),
            same: 0,
            fallback: None,
        });
        let line = machine_line(&r);
        assert!(
            line.ends_with(
                "Placement `split = llc (CPUs 0/2)`: producer on CPU 0, consumers on \
                 CPU 2; `same`: every process on CPU 0; `none`: left to the scheduler."
            ),
            "{line}"
        );
        r.environment.placement_cpus = Some(PlacementCpus {
            split: [0, 1],
            split_relation: None,
            same: 0,
            fallback: Some("cannot read /sys/x".into()),
        });
        let line = machine_line(&r);
        assert!(
            line.contains(
                "`split = CPUs 0/1`: producer on CPU 0, consumers on CPU 1 (CPU \
                 topology unknown: cannot read /sys/x);"
            ),
            "{line}"
        );
    }

    #[test]
    fn caveats_follow_the_data() {
        let mut cells = vec![
            cell("spin", "pingpong", "split", 8, "rtt", 300.0),
            cell("spin", "pingpong", "same", 8, "rtt", 8e6),
            cell("block", "pingpong", "split", 8, "rtt", 5000.0),
            cell("block", "pingpong", "same", 8, "rtt", 6000.0),
        ];
        cells.push(cell("block", "fanout4", "split", 800, "throughput", 9000.0));
        let cv = caveats(&results(cells));
        assert_eq!(cv.len(), 3, "{cv:?}");
        assert_eq!(
            cv[0],
            Caveat::Oversubscribed {
                workers: 4,
                cores: 2
            }
        );
        match &cv[1] {
            Caveat::SharedCoreCollapse { transports, worst } => {
                assert_eq!(transports, &["spin".to_owned()]);
                assert!((worst - 8e6 / 300.0).abs() < 1e-6);
            }
            other => panic!("{other:?}"),
        }
        assert!(cv[2].describe().contains("33.3x"), "{}", cv[2].describe());
    }
}
