//! Comparing two runs' answers: which answer rows (the audit's rows, as the
//! answer tables give them) name a different transport, or decide in one run
//! and not in the other. The question a refactor or a new backend must
//! answer before its figures are trusted: did any verdict flip?

use results::schema::Results;

use crate::audit::{RowKey, answer_rows};
use crate::verdict::Verdict;

/// How one answer row moved between the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowMove {
    /// Both runs decide, for different backends: a reader would now use
    /// something else.
    Flipped,
    /// Both runs decide for the same backend, but name it differently (one
    /// variant, or the backend with its variants tied).
    Variant,
    /// Only the new run decides.
    Decided,
    /// Only the old run decides.
    Undecided,
}

impl RowMove {
    /// How a table names the move.
    pub fn label(self) -> &'static str {
        match self {
            Self::Flipped => "flipped",
            Self::Variant => "same backend, variant changed",
            Self::Decided => "decided now",
            Self::Undecided => "no longer decided",
        }
    }
}

/// An answer row whose decision differs between the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    /// The row.
    pub key: RowKey,
    /// The old run's answer.
    pub old: Verdict,
    /// The new run's answer.
    pub new: Verdict,
    /// How it moved.
    pub moved: RowMove,
}

/// The answer rows of two runs, matched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowChanges {
    /// Rows present in both runs.
    pub matched: usize,
    /// Of those, the rows whose decision differs.
    pub changed: Vec<RowChange>,
}

impl RowChanges {
    /// Changed rows that moved this way.
    pub fn count(&self, m: RowMove) -> usize {
        self.changed.iter().filter(|c| c.moved == m).count()
    }
}

/// Matches the answer rows of `old` and `new`. A tie whose members change
/// is not a change of decision (neither run names what to use).
pub fn row_changes(old: &Results, new: &Results) -> RowChanges {
    let mut old_rows = answer_rows(old);
    let mut out = RowChanges::default();
    for (key, n) in answer_rows(new) {
        let Some(o) = old_rows.remove(&key) else {
            continue;
        };
        out.matched += 1;
        let moved = match (o.chosen(), n.chosen()) {
            (Some(a), Some(b)) if old.backend_of(a) != new.backend_of(b) => RowMove::Flipped,
            (Some(a), Some(b)) if a != b => RowMove::Variant,
            (None, Some(_)) => RowMove::Decided,
            (Some(_), None) => RowMove::Undecided,
            _ => continue,
        };
        out.changed.push(RowChange {
            key,
            old: o,
            new: n,
            moved,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tests::{cell, results};

    const FAST: [f64; 5] = [100.0, 101.0, 99.0, 100.0, 102.0];
    const SLOW: [f64; 5] = [300.0, 310.0, 290.0, 300.0, 305.0];

    fn run(a: &[f64], b: &[f64]) -> Results {
        results(vec![cell("a", a), cell("b", b)])
    }

    #[test]
    fn the_same_winner_is_no_change() {
        let r = row_changes(&run(&FAST, &SLOW), &run(&FAST, &SLOW));
        assert_eq!(r.matched, 1);
        assert!(r.changed.is_empty(), "{r:?}");
    }

    #[test]
    fn another_winner_is_a_flip_and_is_shown() {
        let r = row_changes(&run(&FAST, &SLOW), &run(&SLOW, &FAST));
        assert_eq!(r.count(RowMove::Flipped), 1, "{r:?}");
        assert_eq!(
            (r.changed[0].old.chosen(), r.changed[0].new.chosen()),
            (Some("a"), Some("b"))
        );
    }

    #[test]
    fn another_variant_of_the_same_backend_is_not_a_flip() {
        let with_backend = |mut r: Results| {
            r.transports = ["a", "b"]
                .map(|n| results::schema::TransportInfo {
                    name: n.into(),
                    backend: "ab".into(),
                    ..Default::default()
                })
                .to_vec();
            r
        };
        let r = row_changes(
            &with_backend(run(&FAST, &SLOW)),
            &with_backend(run(&SLOW, &FAST)),
        );
        assert_eq!(r.count(RowMove::Flipped), 0, "{r:?}");
        assert_eq!(r.count(RowMove::Variant), 1, "{r:?}");
    }

    #[test]
    fn a_tie_in_one_run_is_a_change_of_decision() {
        let tied = run(&FAST, &FAST);
        let won = run(&FAST, &SLOW);
        assert_eq!(row_changes(&tied, &won).count(RowMove::Decided), 1);
        assert_eq!(row_changes(&won, &tied).count(RowMove::Undecided), 1);
        assert_eq!(row_changes(&tied, &tied).changed.len(), 0);
    }

    #[test]
    fn rows_only_in_one_run_are_not_matched() {
        let mut other = cell("a", &FAST);
        other.size_bytes = 800;
        let r = row_changes(&run(&FAST, &SLOW), &results(vec![other]));
        assert_eq!((r.matched, r.changed.len()), (0, 0));
    }
}
