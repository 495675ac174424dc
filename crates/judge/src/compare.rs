//! Comparing two runs cell by cell: a cell is faster or slower only when its
//! 95% confidence intervals separate and its mean moved more than a noise
//! threshold; otherwise it did not change.

use results::schema::{Cell, Results, Status};

use crate::analysis::{ci, overlap};
use crate::rows::{RowChanges, row_changes};

/// The default noise threshold, as a fraction: 5%.
pub const DEFAULT_THRESHOLD: f64 = 0.05;

pub use results::schema::CellKey;

/// What happened to one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The new run is faster beyond noise.
    Faster,
    /// The new run is slower beyond noise.
    Slower,
    /// Within noise: intervals overlap or the change is under the threshold.
    NoChange,
    /// The change exceeds the threshold but a run has no CI (one trial), so
    /// noise cannot be ruled out.
    Inconclusive,
    /// The cell failed in the old run, the new run, or both.
    Failed,
}

impl Verdict {
    /// Lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Faster => "faster",
            Self::Slower => "slower",
            Self::NoChange => "no change",
            Self::Inconclusive => "inconclusive (no CI)",
            Self::Failed => "failed",
        }
    }
}

/// One matched cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellChange {
    /// Identity.
    pub key: CellKey,
    /// Old mean, ns (0 if the old cell failed).
    pub old_mean_ns: f64,
    /// New mean, ns (0 if the new cell failed).
    pub new_mean_ns: f64,
    /// Old median, ns.
    pub old_p50_ns: f64,
    /// New median, ns.
    pub new_p50_ns: f64,
    /// (new − old) / old of the mean; negative is faster. NaN if undefined.
    pub change: f64,
    /// (new − old) / old of the median.
    pub p50_change: f64,
    /// Whether the two 95% intervals of the mean overlap (`None`: a run has none).
    pub ci_overlap: Option<bool>,
    /// The call.
    pub verdict: Verdict,
    /// Which side failed, for [`Verdict::Failed`].
    pub failed: Option<&'static str>,
}

/// Two runs matched cell by cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Threshold used, as a fraction.
    pub threshold: f64,
    /// Commit and date of the old run.
    pub old_label: String,
    /// Commit and date of the new run.
    pub new_label: String,
    /// Differences between the machines that make the comparison suspect.
    pub warnings: Vec<String>,
    /// Matched cells, sorted by key.
    pub changes: Vec<CellChange>,
    /// Cells only in the old run.
    pub only_old: Vec<CellKey>,
    /// Cells only in the new run.
    pub only_new: Vec<CellKey>,
    /// The answer rows of both runs, and those whose decision changed.
    pub rows: RowChanges,
}

impl Comparison {
    /// Cells with this verdict.
    pub fn count(&self, v: Verdict) -> usize {
        self.changes.iter().filter(|c| c.verdict == v).count()
    }
}

fn label(r: &Results) -> String {
    let e = &r.environment;
    match (e.git_commit.is_empty(), e.date.is_empty()) {
        (false, false) => format!("{} ({})", e.git_commit, e.date),
        (false, true) => e.git_commit.clone(),
        (true, false) => e.date.clone(),
        (true, true) => "unlabelled run".to_owned(),
    }
}

fn rel(old: f64, new: f64) -> f64 {
    if old > 0.0 && old.is_finite() && new.is_finite() {
        (new - old) / old
    } else {
        f64::NAN
    }
}

/// Matches `new`'s cells to `old`'s by key and judges each change; the
/// threshold is a fraction (0.05 = 5%). Lower time is faster for every
/// metric, throughput included (its summary is time per message).
pub fn compare(old: &Results, new: &Results, threshold: f64) -> Comparison {
    let key_of = Cell::key;
    let mut old_cells: Vec<(CellKey, &Cell)> = old.cells.iter().map(|c| (key_of(c), c)).collect();
    old_cells.sort_by(|a, b| a.0.cmp(&b.0));
    old_cells.dedup_by(|a, b| a.0 == b.0);
    let mut new_cells: Vec<(CellKey, &Cell)> = new.cells.iter().map(|c| (key_of(c), c)).collect();
    new_cells.sort_by(|a, b| a.0.cmp(&b.0));
    new_cells.dedup_by(|a, b| a.0 == b.0);

    let mut changes = Vec::new();
    let mut only_new = Vec::new();
    for (k, n) in &new_cells {
        let Ok(i) = old_cells.binary_search_by(|(ok, _)| ok.cmp(k)) else {
            only_new.push(k.clone());
            continue;
        };
        changes.push(judge(k.clone(), old_cells[i].1, n, threshold));
    }
    let only_old = old_cells
        .iter()
        .filter(|(k, _)| new_cells.binary_search_by(|(nk, _)| nk.cmp(k)).is_err())
        .map(|(k, _)| k.clone())
        .collect();

    let mut warnings = Vec::new();
    let (eo, en) = (&old.environment, &new.environment);
    for (what, a, b) in [
        ("CPU", &eo.cpu_model, &en.cpu_model),
        ("kernel", &eo.kernel, &en.kernel),
        ("virtualization", &eo.virtualization, &en.virtualization),
    ] {
        if a != b {
            warnings.push(format!("{what} differs: {a:?} → {b:?}"));
        }
    }
    if eo.cores != en.cores {
        warnings.push(format!("logical CPUs differ: {} → {}", eo.cores, en.cores));
    }
    if old.schema_version != new.schema_version {
        warnings.push(format!(
            "schema version differs: {} → {}",
            old.schema_version, new.schema_version
        ));
    }

    Comparison {
        threshold,
        old_label: label(old),
        new_label: label(new),
        warnings,
        changes,
        only_old,
        only_new,
        rows: row_changes(old, new),
    }
}

fn judge(key: CellKey, o: &Cell, n: &Cell, threshold: f64) -> CellChange {
    let failed = match (o.status == Status::Failed, n.status == Status::Failed) {
        (true, true) => Some("both"),
        (true, false) => Some("old"),
        (false, true) => Some("new"),
        (false, false) => None,
    };
    let change = rel(o.summary.mean_ns, n.summary.mean_ns);
    let p50_change = rel(o.summary.p50_ns, n.summary.p50_ns);
    let ci_overlap = match (ci(&o.summary), ci(&n.summary)) {
        (Some(a), Some(b)) => Some(overlap(a, b)),
        _ => None,
    };
    let beyond = change.is_finite() && change.abs() > threshold;
    let direction = if change < 0.0 {
        Verdict::Faster
    } else {
        Verdict::Slower
    };
    let verdict = match (failed, ci_overlap) {
        (Some(_), _) => Verdict::Failed,
        (None, Some(false)) if beyond => direction,
        (None, Some(_)) => Verdict::NoChange,
        (None, None) if beyond => Verdict::Inconclusive,
        (None, None) => Verdict::NoChange,
    };
    CellChange {
        key,
        old_mean_ns: o.summary.mean_ns,
        new_mean_ns: n.summary.mean_ns,
        old_p50_ns: o.summary.p50_ns,
        new_p50_ns: n.summary.p50_ns,
        change,
        p50_change,
        ci_overlap,
        verdict,
        failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use results::schema::{Codec, Metric, Placement, Summary, Workload};

    fn cell(mean: f64, ci: Option<(f64, f64)>) -> Cell {
        Cell {
            transport: "pipe".into(),
            codec: Codec::Raw,
            workload: Workload::Pingpong,
            placement: Placement::Split,
            size_bytes: 800,
            metric: Metric::Rtt,
            trials: 3,
            summary: Summary {
                mean_ns: mean,
                p50_ns: mean,
                ci95_low_ns: ci.map(|c| c.0),
                ci95_high_ns: ci.map(|c| c.1),
                ..Summary::default()
            },
            ..Cell::default()
        }
    }

    fn k() -> CellKey {
        cell(0.0, None).key()
    }

    #[test]
    fn verdicts() {
        let t = DEFAULT_THRESHOLD;
        let base = cell(100.0, Some((98.0, 102.0)));
        // Separate intervals, 20% faster.
        let v = judge(k(), &base, &cell(80.0, Some((78.0, 82.0))), t);
        assert_eq!(v.verdict, Verdict::Faster);
        assert!((v.change + 0.2).abs() < 1e-12);
        // Separate intervals, 30% slower.
        assert_eq!(
            judge(k(), &base, &cell(130.0, Some((128.0, 132.0))), t).verdict,
            Verdict::Slower
        );
        // Separate intervals but only 3%: under the threshold.
        assert_eq!(
            judge(k(), &base, &cell(103.0, Some((102.5, 103.5))), t).verdict,
            Verdict::NoChange
        );
        // 20% but intervals overlap: noise.
        assert_eq!(
            judge(k(), &base, &cell(120.0, Some((90.0, 150.0))), t).verdict,
            Verdict::NoChange
        );
        // No interval: cannot tell.
        assert_eq!(
            judge(k(), &base, &cell(150.0, None), t).verdict,
            Verdict::Inconclusive
        );
        assert_eq!(
            judge(k(), &base, &cell(101.0, None), t).verdict,
            Verdict::NoChange
        );
        let mut failed = cell(0.0, None);
        failed.status = Status::Failed;
        let v = judge(k(), &base, &failed, t);
        assert_eq!((v.verdict, v.failed), (Verdict::Failed, Some("new")));
    }
}
