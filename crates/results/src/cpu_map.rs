//! The core-to-core map: the cheapest cache-line round trip between pairs
//! of CPUs (every pair where the time budget allows, a spread sample of
//! them where it does not), with each pair's relation.

use serde::{Deserialize, Serialize};

/// Cache-line round trips between pairs of CPUs, in one probe shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuMap {
    /// The probe shape timed (the cheapest per-round-trip probe of the
    /// run's `split` floors, as [`crate::ProbeFloor::label`] names it).
    pub shape: String,
    /// The CPUs of the machine, in order.
    pub cpus: Vec<usize>,
    /// Pairs of distinct CPUs the machine has (`n (n − 1) / 2`).
    pub pairs_total: usize,
    /// The time budget the map was planned for, seconds.
    pub budget_s: f64,
    /// The pairs measured or planned, lower CPU first; fewer than
    /// `pairs_total` when the budget called for a sample.
    pub pairs: Vec<CpuPair>,
    /// Why no pair was measured at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
}

impl CpuMap {
    /// Whether only a sample of the pairs was planned.
    pub fn sampled(&self) -> bool {
        self.pairs.len() < self.pairs_total
    }

    /// The pair of `a` and `b` (either order), if planned.
    pub fn pair(&self, a: usize, b: usize) -> Option<&CpuPair> {
        let key = [a.min(b), a.max(b)];
        self.pairs.iter().find(|p| p.cpus == key)
    }
}

/// One pair of CPUs: producer on the first, the echoing child on the second.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuPair {
    /// The two CPUs, lower first.
    pub cpus: [usize; 2],
    /// `smt`, `llc`, `cross-llc` or `cross-numa`, where the topology says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// Median round trip timed one by one, ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ns: Option<f64>,
    /// Batch-timed round trip, ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_ns: Option<f64>,
    /// Why the pair was not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
}
