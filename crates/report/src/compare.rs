//! Comparing two runs cell by cell: a cell is faster or slower only when its
//! 95% confidence intervals separate and its mean moved more than a noise
//! threshold; otherwise it did not change.

use crate::analysis::{ci, overlap};
use crate::compare_rows::{RowChanges, render_rows, row_changes};
use crate::format::{MISSING, fmt_bytes, fmt_change, fmt_time};
use crate::schema::{Cell, Metric, Placement, Results, Status, Workload};
use crate::table::{Align, Table};

/// The default noise threshold, as a fraction: 5%.
pub const DEFAULT_THRESHOLD: f64 = 0.05;

/// A cell's identity. Ordered by the names as files spell them (so a
/// comparison lists cells as it always has, `fanout1` before `pingpong`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellKey {
    /// Transport.
    pub transport: String,
    /// Codec.
    pub codec: String,
    /// Workload.
    pub workload: Workload,
    /// Placement.
    pub placement: Placement,
    /// Payload bytes.
    pub size_bytes: u64,
    /// Metric.
    pub metric: Metric,
}

impl Ord for CellKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        let names = |k: &Self| {
            (
                k.transport.clone(),
                k.codec.clone(),
                k.workload.to_string(),
                k.placement.name(),
                k.size_bytes,
                k.metric.name(),
            )
        };
        names(self).cmp(&names(o))
    }
}

impl PartialOrd for CellKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl CellKey {
    fn of(c: &Cell) -> Self {
        Self {
            transport: c.transport.clone(),
            codec: c.codec.clone(),
            workload: c.workload,
            placement: c.placement,
            size_bytes: c.size_bytes,
            metric: c.metric,
        }
    }
}

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
    let key_of = |c: &Cell| CellKey::of(c);
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

/// The comparison as Markdown, headed `# Comparison`: the summary counts,
/// the cells that changed beyond noise or failed, and cells only in one run;
/// `all` adds a table of every matched cell (one row per cell, thousands in
/// a full run).
pub fn render_comparison(c: &Comparison, all: bool) -> String {
    let mut out = format!("# Comparison\n\n{}", render_body(c, 2, all));
    if !all && !c.changes.is_empty() {
        out.push_str(&format!(
            "{} matched cells in all; `--all` lists every one.\n",
            c.changes.len()
        ));
    }
    out
}

/// The comparison's body, with its sub-headings at `level`; `all` adds the
/// table of every matched cell (long: one row per cell).
pub(crate) fn render_body(c: &Comparison, level: usize, all: bool) -> String {
    let h = "#".repeat(level);
    let mut out = String::new();
    let threshold = format!("{}%", crate::format::round_sig(c.threshold * 100.0, 3));
    out.push_str(&format!(
        "Old: {}. New: {}. A cell is faster or slower only when the 95% confidence \
         intervals of its mean do not overlap and the mean moved by more than {threshold}; \
         the change is (new − old) / old, negative = faster.\n\n",
        c.old_label, c.new_label,
    ));
    for w in &c.warnings {
        out.push_str(&format!("- **warning**: {w}\n"));
    }
    if !c.warnings.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!(
        "{} faster, {} slower, {} no change, {} inconclusive, {} failed; {} only in the \
         old run, {} only in the new run.\n\n",
        c.count(Verdict::Faster),
        c.count(Verdict::Slower),
        c.count(Verdict::NoChange),
        c.count(Verdict::Inconclusive),
        c.count(Verdict::Failed),
        c.only_old.len(),
        c.only_new.len(),
    ));
    out.push_str(&render_rows(&c.rows, level));
    let notable: Vec<&CellChange> = c
        .changes
        .iter()
        .filter(|x| x.verdict != Verdict::NoChange)
        .collect();
    if !notable.is_empty() {
        out.push_str(&format!("{h} Changes beyond noise, and failures\n\n"));
        out.push_str(&change_table(&notable).render());
        out.push('\n');
    }
    if all && !c.changes.is_empty() {
        out.push_str(&format!("{h} All matched cells\n\n"));
        out.push_str(&change_table(&c.changes.iter().collect::<Vec<_>>()).render());
        out.push('\n');
    }
    for (title, keys) in [
        ("Only in the old run", &c.only_old),
        ("Only in the new run", &c.only_new),
    ] {
        if keys.is_empty() {
            continue;
        }
        out.push_str(&format!("{h} {title}\n\n"));
        for line in summarize_keys(keys) {
            out.push_str(&format!("- {line}\n"));
        }
        out.push('\n');
    }
    out
}

/// Keys grouped by transport, codec, workload and placement, listing sizes
/// and metrics: one line per group instead of one per cell.
fn summarize_keys(keys: &[CellKey]) -> Vec<String> {
    type Id<'k> = (&'k str, &'k str, Workload, Placement);
    let mut groups: Vec<(Id<'_>, Vec<u64>, Vec<&str>)> = Vec::new();
    for k in keys {
        let id = (
            k.transport.as_str(),
            k.codec.as_str(),
            k.workload,
            k.placement,
        );
        let i = match groups.iter().position(|g| g.0 == id) {
            Some(i) => i,
            None => {
                groups.push((id, Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        if !g.1.contains(&k.size_bytes) {
            g.1.push(k.size_bytes);
        }
        if !g.2.contains(&k.metric.name()) {
            g.2.push(k.metric.name());
        }
    }
    groups
        .into_iter()
        .map(|((t, c, w, p), mut sizes, metrics)| {
            sizes.sort_unstable();
            let sizes: Vec<String> = sizes.into_iter().map(fmt_bytes).collect();
            format!(
                "{t} / {c} / {w} / {p}: {} ({})",
                sizes.join(", "),
                metrics.join(", ")
            )
        })
        .collect()
}

fn change_table(rows: &[&CellChange]) -> Table {
    let mut t = Table::new([
        ("Transport", Align::Left),
        ("Codec", Align::Left),
        ("Workload", Align::Left),
        ("Placement", Align::Left),
        ("Size", Align::Left),
        ("Metric", Align::Left),
        ("Old mean", Align::Right),
        ("New mean", Align::Right),
        ("Change (mean)", Align::Right),
        ("Change (p50)", Align::Right),
        ("Verdict", Align::Left),
    ]);
    for r in rows {
        let k = &r.key;
        let (old, new) = match r.failed {
            Some("old") => ("failed".to_owned(), fmt_time(r.new_mean_ns)),
            Some("new") => (fmt_time(r.old_mean_ns), "failed".to_owned()),
            Some(_) => ("failed".to_owned(), "failed".to_owned()),
            None => (fmt_time(r.old_mean_ns), fmt_time(r.new_mean_ns)),
        };
        let (ch, p50) = if r.failed.is_some() {
            (MISSING.to_owned(), MISSING.to_owned())
        } else {
            (fmt_change(r.change), fmt_change(r.p50_change))
        };
        let verdict = match (r.verdict, r.failed) {
            (Verdict::Failed, Some(side)) => format!("failed ({side})"),
            (v, _) => v.label().to_owned(),
        };
        t.row([
            k.transport.clone(),
            k.codec.clone(),
            k.workload.to_string(),
            k.placement.to_string(),
            fmt_bytes(k.size_bytes),
            k.metric.to_string(),
            old,
            new,
            ch,
            p50,
            verdict,
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Summary;

    fn cell(mean: f64, ci: Option<(f64, f64)>) -> Cell {
        Cell {
            transport: "pipe".into(),
            codec: "raw".into(),
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
        CellKey::of(&cell(0.0, None))
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
