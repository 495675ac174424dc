//! Comparing the runs of several machines, one results file each: every
//! answer row's verdict on each machine with the median of the contender it
//! puts first, whether the machines agree on what to use, and the machine
//! facts that differ (CPU, logical CPUs, kernel, virtualisation, the CPUs of
//! `split`, the cache-line floor). Data only: `report::machines` words it.

use std::collections::BTreeSet;

use results::schema::{Placement, Results};

use crate::audit::{RowKey, answer_rows_with_medians};
use crate::verdict::Verdict;

/// One machine, as its results file describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// CPU model (`unknown` when the file does not say).
    pub cpu_model: String,
    /// Logical CPUs online.
    pub cores: usize,
    /// Kernel.
    pub kernel: String,
    /// Hypervisor or container.
    pub virtualization: String,
    /// What `split` stood for (`split = llc (CPUs 0/1)`); `None` in files
    /// written before the CPUs were recorded (then cores 0 and 1).
    pub split: Option<String>,
    /// The per-round-trip cache-line floor at `split`, median ns, and the
    /// probe it comes from.
    pub cacheline: Option<(f64, Option<String>)>,
    /// Commit of the tool.
    pub commit: String,
    /// Date of the run.
    pub date: String,
}

impl Machine {
    /// The machine of a results file.
    pub fn of(r: &Results) -> Self {
        let e = &r.environment;
        let known = |s: &str| {
            if s.is_empty() {
                "unknown".to_owned()
            } else {
                s.to_owned()
            }
        };
        let cacheline = r
            .floors
            .iter()
            .find(|f| f.placement == Placement::Split)
            .and_then(|f| {
                f.cacheline_rtt
                    .as_ref()
                    .map(|s| (s.p50_ns, f.cacheline_shape.clone()))
            });
        Self {
            cpu_model: known(&e.cpu_model),
            cores: e.cores,
            kernel: known(&e.kernel),
            virtualization: known(&e.virtualization),
            split: e.placement_cpus.as_ref().map(|p| p.describe_split()),
            cacheline,
            commit: known(&e.git_commit),
            date: known(&e.date),
        }
    }
}

/// A machine fact that is not the same on every machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// CPU model.
    Cpu,
    /// Logical CPUs.
    Cores,
    /// Kernel.
    Kernel,
    /// Virtualisation.
    Virtualization,
    /// The CPUs and relation of `split`.
    Split,
}

impl Fact {
    /// Every fact that tells one host from another, in the order reports
    /// list them.
    pub const HOST: [Self; 5] = [
        Self::Cpu,
        Self::Cores,
        Self::Kernel,
        Self::Virtualization,
        Self::Split,
    ];

    /// The fact's value on one machine (`split` unrecorded: `None`).
    pub fn value(self, m: &Machine) -> Option<String> {
        match self {
            Self::Cpu => Some(m.cpu_model.clone()),
            Self::Cores => Some(m.cores.to_string()),
            Self::Kernel => Some(m.kernel.clone()),
            Self::Virtualization => Some(m.virtualization.clone()),
            Self::Split => m.split.clone(),
        }
    }
}

/// Whether the machines agree on an answer row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Every machine decides, for the same backend.
    Same,
    /// At least two machines decide, for different backends.
    Differs,
    /// No two decisions conflict, but some machine does not decide (a tie,
    /// too few trials).
    Partly,
    /// Some run has no such row.
    Missing,
}

/// One machine's answer to a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The verdict, as that run's answer table gives it.
    pub verdict: Verdict,
    /// The median of the contender it puts first (ns; ns per message for
    /// throughput), where there is one.
    pub median_ns: Option<f64>,
}

/// An answer row on every machine.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineRow {
    /// Workload, metric and size.
    pub key: RowKey,
    /// One answer per machine, in the order of the files (`None`: that run
    /// has no such row).
    pub answers: Vec<Option<Answer>>,
    /// Whether the machines agree.
    pub agreement: Agreement,
}

/// Several machines' runs, side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Machines {
    /// One per results file, in the order given.
    pub machines: Vec<Machine>,
    /// The host facts that differ between the machines.
    pub differences: Vec<Fact>,
    /// Every answer row of any run, in row order.
    pub rows: Vec<MachineRow>,
}

impl Machines {
    /// Rows with this agreement.
    pub fn count(&self, a: Agreement) -> usize {
        self.rows.iter().filter(|r| r.agreement == a).count()
    }

    /// Whether the runs come from different hosts: a host fact differs (an
    /// unrecorded `split` does not count).
    pub fn hosts_differ(&self) -> bool {
        !self.differences.is_empty()
    }
}

/// Lines `runs` up machine by machine and row by row.
pub fn compare_machines(runs: &[&Results]) -> Machines {
    let machines: Vec<Machine> = runs.iter().map(|r| Machine::of(r)).collect();
    let differences = Fact::HOST
        .into_iter()
        .filter(|f| {
            let values: BTreeSet<String> = machines.iter().filter_map(|m| f.value(m)).collect();
            values.len() > 1
        })
        .collect();
    let per_run: Vec<_> = runs.iter().map(|r| answer_rows_with_medians(r)).collect();
    let keys: BTreeSet<RowKey> = per_run.iter().flat_map(|m| m.keys().copied()).collect();
    let rows = keys
        .into_iter()
        .map(|key| {
            let answers: Vec<Option<Answer>> = per_run
                .iter()
                .map(|m| {
                    m.get(&key).map(|(v, median)| Answer {
                        verdict: v.clone(),
                        median_ns: *median,
                    })
                })
                .collect();
            let agreement = agreement(runs, &answers);
            MachineRow {
                key,
                answers,
                agreement,
            }
        })
        .collect();
    Machines {
        machines,
        differences,
        rows,
    }
}

/// Whether the answers name the same backend (each run says which backend
/// its transports belong to).
fn agreement(runs: &[&Results], answers: &[Option<Answer>]) -> Agreement {
    if answers.iter().any(Option::is_none) {
        return Agreement::Missing;
    }
    let chosen: Vec<Option<&str>> = runs
        .iter()
        .zip(answers.iter().flatten())
        .map(|(r, a)| a.verdict.chosen().map(|c| r.backend_of(c)))
        .collect();
    let decided: BTreeSet<&str> = chosen.iter().flatten().copied().collect();
    match (decided.len(), chosen.iter().all(Option::is_some)) {
        (n, _) if n > 1 => Agreement::Differs,
        (1, true) => Agreement::Same,
        _ => Agreement::Partly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tests::{cell, results};
    use results::schema::PlacementCpus;

    const FAST: [f64; 5] = [100.0, 101.0, 99.0, 100.0, 102.0];
    const SLOW: [f64; 5] = [300.0, 310.0, 290.0, 300.0, 305.0];

    fn machine(cpu: &str, a: &[f64], b: &[f64]) -> Results {
        let mut r = results(vec![cell("a", a), cell("b", b)]);
        r.environment.cpu_model = cpu.into();
        r.environment.cores = 2;
        r
    }

    #[test]
    fn every_row_gets_every_machines_answer_and_the_agreement() {
        let one = machine("AMD EPYC", &FAST, &SLOW);
        let two = machine("Intel Xeon", &SLOW, &FAST);
        let three = machine("AMD EPYC", &FAST, &SLOW);
        let m = compare_machines(&[&one, &two, &three]);
        assert_eq!(m.machines.len(), 3);
        assert_eq!(m.rows.len(), 1);
        let row = &m.rows[0];
        let chosen: Vec<Option<&str>> = row
            .answers
            .iter()
            .map(|a| a.as_ref().and_then(|a| a.verdict.chosen()))
            .collect();
        assert_eq!(chosen, [Some("a"), Some("b"), Some("a")]);
        assert_eq!(
            row.answers[0].as_ref().and_then(|a| a.median_ns),
            Some(100.0)
        );
        assert_eq!(
            row.answers[1].as_ref().and_then(|a| a.median_ns),
            Some(100.0)
        );
        assert_eq!(row.agreement, Agreement::Differs);
        assert_eq!(m.differences, [Fact::Cpu]);
        assert!(m.hosts_differ());

        let same = compare_machines(&[&one, &three]);
        assert_eq!(same.rows[0].agreement, Agreement::Same);
        assert!(!same.hosts_differ());
    }

    #[test]
    fn a_tie_on_one_machine_is_partial_and_a_missing_row_is_named() {
        let won = machine("x", &FAST, &SLOW);
        let tied = machine("x", &FAST, &FAST);
        assert_eq!(
            compare_machines(&[&won, &tied]).rows[0].agreement,
            Agreement::Partly
        );
        let mut other = cell("a", &FAST);
        other.size_bytes = 800;
        let elsewhere = results(vec![other]);
        let m = compare_machines(&[&won, &elsewhere]);
        assert_eq!(m.rows.len(), 2);
        assert_eq!(m.count(Agreement::Missing), 2);
        assert!(m.rows.iter().all(|r| r.answers.iter().any(Option::is_none)));
    }

    #[test]
    fn the_cpus_of_split_count_as_a_difference_only_where_recorded() {
        let mut a = machine("x", &FAST, &SLOW);
        let b = machine("x", &FAST, &SLOW);
        a.environment.placement_cpus = Some(PlacementCpus {
            split: [0, 1],
            split_relation: Some("llc".into()),
            ..PlacementCpus::default()
        });
        assert!(compare_machines(&[&a, &b]).differences.is_empty());
        let mut c = a.clone();
        if let Some(p) = c.environment.placement_cpus.as_mut() {
            p.split = [0, 8];
            p.split_relation = Some("cross-llc".into());
        }
        let m = compare_machines(&[&a, &b, &c]);
        assert_eq!(m.differences, [Fact::Split]);
        assert_eq!(
            m.machines[2].split.as_deref(),
            Some("split = cross-llc (CPUs 0/8)")
        );
        assert_eq!(m.machines[1].split, None);
    }
}
