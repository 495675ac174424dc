//! Who wins a row of an answer table, and by how much: every contender is
//! compared with the fastest as a ratio of medians with a bootstrap interval,
//! and a contender is beaten only where that interval excludes 1 and the
//! effect is at least [`MIN_EFFECT`].
//!
//! Medians, not means, order the field and form the ratios: one bad trial
//! (a descheduled process, an idle core that woke slowly) moves a mean by
//! tens of percent and a median of ten trials barely at all. Every contender
//! is checked against the fastest, not only the runner-up, so a tie lists
//! exactly the contenders the data cannot separate from it.

use results::bootstrap;
use results::schema::{Cell, Status};

/// Smallest effect that names a winner: 3% (a smaller difference, even a
/// significant one, does not change which transport a user should pick).
pub const MIN_EFFECT: f64 = 0.03;

/// How many times faster the fastest contender is than another:
/// `median(other) / median(fastest)`, with its 95% bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    /// The ratio of the two medians.
    pub estimate: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

impl Ratio {
    /// Whether the fastest is faster beyond doubt and by enough to matter.
    pub fn decisive(&self) -> bool {
        self.low > 1.0 && self.estimate >= 1.0 + MIN_EFFECT
    }
}

/// One contender measured against the fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Transport.
    pub name: String,
    /// Its ratio to the fastest; `None` when either side has too few trials.
    pub ratio: Option<Ratio>,
    /// Whether the fastest beats it (see [`Ratio::decisive`]).
    pub beaten: bool,
}

/// The answer for one row (same workload, placement, size and metric).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// No contender.
    Empty,
    /// Every contender failed: (name, reason).
    Failed(Vec<(String, String)>),
    /// One contender produced numbers.
    Alone {
        /// The contender.
        name: String,
    },
    /// The fastest beats every other contender.
    Winner {
        /// Fastest.
        name: String,
        /// Every other contender, fastest first.
        others: Vec<Comparison>,
    },
    /// Some contenders cannot be separated from the fastest.
    Tie {
        /// Fastest median.
        fastest: String,
        /// The contenders not beaten, fastest first.
        tied: Vec<Comparison>,
        /// The contenders beaten, fastest first.
        others: Vec<Comparison>,
    },
    /// The fastest beats every contender of every other backend; the only
    /// contenders it cannot separate from are variants of its own backend
    /// (shm-adaptive beside shm-spin): the row says which transport to use,
    /// and that the knob between the variants does not matter here.
    BackendWinner {
        /// The backend.
        backend: String,
        /// Fastest variant.
        fastest: String,
        /// Its variants tied with it, fastest first.
        variants: Vec<Comparison>,
        /// The contenders beaten, fastest first.
        others: Vec<Comparison>,
    },
    /// The data cannot rank the field: too few trials.
    Undecided {
        /// Fastest median.
        fastest: String,
        /// Why, in words.
        reason: String,
        /// Every other contender.
        others: Vec<Comparison>,
    },
}

impl Verdict {
    /// The contender with the lowest median, if any.
    pub fn fastest(&self) -> Option<&str> {
        match self {
            Self::Empty | Self::Failed(_) => None,
            Self::Alone { name } | Self::Winner { name, .. } => Some(name),
            Self::Tie { fastest, .. }
            | Self::Undecided { fastest, .. }
            | Self::BackendWinner { fastest, .. } => Some(fastest),
        }
    }

    /// What the row tells a reader to use: the winning transport, or the
    /// backend whose variants tie; `None` when the row does not decide.
    pub fn chosen(&self) -> Option<&str> {
        match self {
            Self::Winner { name, .. } => Some(name),
            Self::BackendWinner { backend, .. } => Some(backend),
            _ => None,
        }
    }

    /// Whether the row names what to use: a transport, or a backend whose
    /// variants tie.
    pub fn decides(&self) -> bool {
        matches!(self, Self::Winner { .. } | Self::BackendWinner { .. })
    }

    /// Every contender compared with the fastest, fastest first.
    pub fn comparisons(&self) -> Vec<&Comparison> {
        match self {
            Self::Winner { others, .. } | Self::Undecided { others, .. } => others.iter().collect(),
            Self::Tie { tied, others, .. }
            | Self::BackendWinner {
                variants: tied,
                others,
                ..
            } => tied.iter().chain(others).collect(),
            _ => Vec::new(),
        }
    }
}

/// "A is r times faster than B": `median(B) / median(A)` with a bootstrap
/// interval over both cells' trials; `None` when either has fewer trials
/// than an interval needs.
pub fn ratio(a: &Cell, b: &Cell) -> Option<Ratio> {
    let (low, high) = bootstrap::ratio_interval(a.trial_values(), b.trial_values())?;
    Some(Ratio {
        estimate: b.median() / a.median(),
        low,
        high,
    })
}

/// Judges one row. Failed cells are reported, never ranked; the rest are
/// ordered by median and each is compared with the fastest.
pub fn verdict<'a>(contenders: impl IntoIterator<Item = (&'a str, &'a Cell)>) -> Verdict {
    let (ok, failed): (Vec<_>, Vec<_>) = contenders
        .into_iter()
        .partition(|(_, c)| c.status == Status::Ok && c.median().is_finite() && c.median() > 0.0);
    let mut ok: Vec<(&str, &Cell)> = ok;
    ok.sort_by(|a, b| a.1.median().total_cmp(&b.1.median()));
    let Some(&(best, best_cell)) = ok.first() else {
        return if failed.is_empty() {
            Verdict::Empty
        } else {
            Verdict::Failed(
                failed
                    .iter()
                    .map(|(n, c)| ((*n).to_owned(), c.error.clone().unwrap_or_default()))
                    .collect(),
            )
        };
    };
    if ok.len() == 1 {
        return Verdict::Alone {
            name: best.to_owned(),
        };
    }
    let comparisons: Vec<Comparison> = ok[1..]
        .iter()
        .map(|(name, cell)| {
            let r = ratio(best_cell, cell);
            Comparison {
                name: (*name).to_owned(),
                ratio: r,
                beaten: r.is_some_and(|r| r.decisive()),
            }
        })
        .collect();
    let unranked: Vec<&Comparison> = comparisons.iter().filter(|c| c.ratio.is_none()).collect();
    let best_trials = best_cell.trial_values().len();
    if best_trials < bootstrap::MIN_TRIALS {
        return Verdict::Undecided {
            fastest: best.to_owned(),
            reason: format!(
                "{best} has {best_trials} trial{}, an interval needs {}",
                if best_trials == 1 { "" } else { "s" },
                bootstrap::MIN_TRIALS
            ),
            others: comparisons,
        };
    }
    let (tied, beaten): (Vec<Comparison>, Vec<Comparison>) = comparisons
        .iter()
        .cloned()
        .partition(|c| c.ratio.is_some() && !c.beaten);
    if !tied.is_empty() {
        return Verdict::Tie {
            fastest: best.to_owned(),
            tied,
            others: beaten,
        };
    }
    if let Some(first) = unranked.first() {
        return Verdict::Undecided {
            fastest: best.to_owned(),
            reason: format!(
                "{} has too few trials for an interval, {} needed",
                first.name,
                bootstrap::MIN_TRIALS
            ),
            others: comparisons,
        };
    }
    Verdict::Winner {
        name: best.to_owned(),
        others: comparisons,
    }
}

/// Reads a tie again knowing each contender's backend: when every contender
/// tied with the fastest is a variant of the fastest's own backend, the
/// backend wins the row. Nothing is re-measured or re-tested: the same
/// comparisons, grouped.
pub fn by_backend(v: Verdict, backend_of: impl Fn(&str) -> String) -> Verdict {
    match v {
        Verdict::Tie {
            fastest,
            tied,
            others,
        } if tied
            .iter()
            .all(|c| backend_of(&c.name) == backend_of(&fastest)) =>
        {
            Verdict::BackendWinner {
                backend: backend_of(&fastest),
                fastest,
                variants: tied,
                others,
            }
        }
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell whose trials have these medians.
    fn cell(trials: &[f64]) -> Cell {
        Cell {
            trial_medians_ns: trials.to_vec(),
            median_ns: bootstrap::median(trials).unwrap_or(0.0),
            ..Cell::default()
        }
    }

    fn around(center: f64, spread: f64) -> Vec<f64> {
        (0..10)
            .map(|i| center + spread * (f64::from(i) - 4.5) / 4.5)
            .collect()
    }

    fn names(v: &[Comparison]) -> Vec<&str> {
        v.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_clear_winner_beats_everyone() {
        let (a, b, c) = (
            cell(&around(100.0, 5.0)),
            cell(&around(200.0, 5.0)),
            cell(&around(300.0, 5.0)),
        );
        let v = verdict([("c", &c), ("a", &a), ("b", &b)]);
        let Verdict::Winner { name, others } = &v else {
            panic!("{v:?}")
        };
        assert_eq!(name, "a");
        assert_eq!(names(others), ["b", "c"]);
        let r = others[0].ratio.expect("ratio");
        assert!((r.estimate - 2.0).abs() < 1e-9 && r.low > 1.8, "{r:?}");
    }

    #[test]
    fn only_the_third_overlapping_the_fastest_is_tied_with_it() {
        // The runner-up by median is clearly slower than a; the third is
        // noisy enough that its ratio interval includes 1. The old rule
        // (compare with the runner-up only) named a winner here.
        let a = cell(&around(100.0, 2.0));
        let b = cell(&around(130.0, 2.0));
        let c = cell(&[
            60.0, 70.0, 80.0, 140.0, 150.0, 160.0, 170.0, 180.0, 190.0, 200.0,
        ]);
        let v = verdict([("a", &a), ("b", &b), ("c", &c)]);
        let Verdict::Tie {
            fastest,
            tied,
            others,
        } = &v
        else {
            panic!("{v:?}")
        };
        assert_eq!(fastest, "a");
        assert_eq!(names(tied), ["c"]);
        assert_eq!(names(others), ["b"]);
    }

    #[test]
    fn a_tie_among_one_backends_variants_is_that_backends_win() {
        let spin = cell(&around(100.0, 3.0));
        let adaptive = cell(&around(101.0, 3.0));
        let other = cell(&around(200.0, 3.0));
        let backend = |n: &str| {
            match n {
                "shm-spin" | "shm-adaptive" => "shm",
                _ => "pipe",
            }
            .to_owned()
        };
        let v = by_backend(
            verdict([
                ("shm-spin", &spin),
                ("shm-adaptive", &adaptive),
                ("pipe", &other),
            ]),
            backend,
        );
        let Verdict::BackendWinner {
            backend: b,
            variants,
            others,
            ..
        } = &v
        else {
            panic!("{v:?}")
        };
        assert_eq!(b, "shm");
        assert_eq!(names(variants), ["shm-adaptive"]);
        assert_eq!(names(others), ["pipe"]);
        assert!(v.decides());
        // A tie that reaches another backend stays a tie.
        let close = cell(&around(102.0, 3.0));
        let v = by_backend(
            verdict([
                ("shm-spin", &spin),
                ("shm-adaptive", &adaptive),
                ("pipe", &close),
            ]),
            backend,
        );
        assert!(
            matches!(&v, Verdict::Tie { tied, .. } if tied.len() == 2),
            "{v:?}"
        );
        assert!(!v.decides());
        // Each its own backend (a file that does not say): unchanged.
        let v = by_backend(verdict([("a", &spin), ("b", &adaptive)]), str::to_owned);
        assert!(matches!(v, Verdict::Tie { .. }), "{v:?}");
    }

    #[test]
    fn identical_contenders_tie() {
        let a = cell(&around(100.0, 3.0));
        let b = cell(&around(100.0, 3.0));
        let v = verdict([("a", &a), ("b", &b)]);
        assert!(
            matches!(&v, Verdict::Tie { tied, .. } if names(tied) == ["b"]),
            "{v:?}"
        );
    }

    #[test]
    fn a_significant_but_tiny_effect_is_no_win() {
        // Every trial of b is 1% slower than a's: significant, not decisive.
        let a = cell(&[100.0; 10]);
        let b = cell(&[101.0; 10]);
        let v = verdict([("a", &a), ("b", &b)]);
        assert!(matches!(v, Verdict::Tie { .. }), "{v:?}");
    }

    #[test]
    fn a_contender_with_a_single_trial_is_not_ranked() {
        let a = cell(&around(100.0, 2.0));
        let b = cell(&[900.0]);
        let v = verdict([("a", &a), ("b", &b)]);
        let Verdict::Undecided {
            fastest, reason, ..
        } = &v
        else {
            panic!("{v:?}")
        };
        assert_eq!(fastest, "a");
        assert!(reason.contains('b'), "{reason}");
        // And a fastest with one trial decides nothing.
        let v = verdict([("b", &cell(&[50.0])), ("a", &a)]);
        assert!(
            matches!(&v, Verdict::Undecided { fastest, .. } if fastest == "b"),
            "{v:?}"
        );
    }

    #[test]
    fn failed_cells_are_reported_not_tied() {
        let bad = Cell {
            status: Status::Failed,
            error: Some("peer died".into()),
            ..Cell::default()
        };
        let v = verdict([("x", &bad)]);
        assert_eq!(v, Verdict::Failed(vec![("x".into(), "peer died".into())]));
        let a = cell(&around(100.0, 2.0));
        assert_eq!(
            verdict([("x", &bad), ("a", &a)]),
            Verdict::Alone { name: "a".into() }
        );
        assert_eq!(verdict(std::iter::empty()), Verdict::Empty);
    }

    #[test]
    fn version_one_cells_fall_back_to_trial_means_and_p50() {
        let mut a = Cell {
            trial_means_ns: around(100.0, 2.0),
            ..Cell::default()
        };
        a.summary.p50_ns = 100.0;
        let mut b = Cell {
            trial_means_ns: around(300.0, 2.0),
            ..Cell::default()
        };
        b.summary.p50_ns = 300.0;
        assert!(
            matches!(verdict([("b", &b), ("a", &a)]), Verdict::Winner { name, .. } if name == "a")
        );
    }

    #[test]
    fn methodology_states_the_rules_this_code_applies() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/methodology.md");
        let doc = std::fs::read_to_string(path).expect("docs/methodology.md");
        for stated in [
            format!("{} resamples", bootstrap::RESAMPLES),
            format!(
                "fewer than {} trials there is no interval",
                bootstrap::MIN_TRIALS
            ),
            format!("at least {}", 1.0 + MIN_EFFECT),
            format!("(a {} % effect", MIN_EFFECT * 100.0),
            format!("R² is below {}", crate::analysis::MIN_FIT_R2),
            format!("{}%", bootstrap::COVERAGE * 100.0),
        ] {
            assert!(
                doc.contains(&stated),
                "docs/methodology.md should say {stated:?}"
            );
        }
    }
}
