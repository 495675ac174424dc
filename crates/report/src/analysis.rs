//! The judgements the report makes from numbers: who wins (only where 95%
//! confidence intervals separate), and the `fixed + size / bandwidth` fit.

use crate::schema::Summary;

/// The 95% CI of a summary's mean, if it has one.
pub fn ci(s: &Summary) -> Option<(f64, f64)> {
    match (s.ci95_low_ns, s.ci95_high_ns) {
        (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => Some((lo.min(hi), lo.max(hi))),
        _ => None,
    }
}

/// Whether two intervals share any point.
pub fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// Names listed in a tie before the rest are counted: a cell naming a dozen
/// transports reads as noise, not as an answer.
const MAX_TIE_NAMES: usize = 4;

/// Who is fastest among contenders for one size (lower mean is better).
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// Nobody produced numbers.
    Empty,
    /// One contender only: nothing to beat.
    Alone(String),
    /// The fastest mean's CI is clear of every other contender's.
    Winner {
        /// Fastest.
        name: String,
        /// Second fastest mean.
        runner_up: String,
    },
    /// The fastest mean's CI overlaps these contenders' (fastest first).
    Tie(Vec<String>),
    /// The fastest and the runner-up lack a CI (fewer than two trials), so
    /// no winner can be named; fastest mean first.
    Undecided(Vec<String>),
}

impl Standing {
    /// How the answer table shows it.
    pub fn describe(&self) -> String {
        match self {
            Self::Empty => crate::format::MISSING.to_owned(),
            Self::Alone(n) => format!("{n} (only one)"),
            Self::Winner { name, .. } => format!("**{name}**"),
            Self::Tie(names) if names.len() > MAX_TIE_NAMES => format!(
                "tie: {} and {} more",
                names[..MAX_TIE_NAMES].join(", "),
                names.len() - MAX_TIE_NAMES
            ),
            Self::Tie(names) => format!("tie: {}", names.join(", ")),
            Self::Undecided(names) => format!("undecided (no CI): {}", names.join(", ")),
        }
    }

    /// The contender with the lowest mean, if any.
    pub fn fastest(&self) -> Option<&str> {
        match self {
            Self::Empty => None,
            Self::Alone(n) | Self::Winner { name: n, .. } => Some(n),
            Self::Tie(v) | Self::Undecided(v) => v.first().map(String::as_str),
        }
    }
}

/// Ranks contenders by mean and names a winner only when the fastest's 95%
/// CI does not overlap the runner-up's. Means order the field because the
/// intervals are intervals of the mean.
pub fn standing<'a>(contenders: impl IntoIterator<Item = (&'a str, &'a Summary)>) -> Standing {
    let mut v: Vec<(&str, &Summary)> = contenders
        .into_iter()
        .filter(|(_, s)| s.mean_ns.is_finite())
        .collect();
    v.sort_by(|a, b| a.1.mean_ns.total_cmp(&b.1.mean_ns));
    match v.as_slice() {
        [] => Standing::Empty,
        [(only, _)] => Standing::Alone((*only).to_owned()),
        [(best, bs), (second, ss), ..] => match (ci(bs), ci(ss)) {
            (Some(b), Some(s)) if !overlap(b, s) => Standing::Winner {
                name: (*best).to_owned(),
                runner_up: (*second).to_owned(),
            },
            (Some(b), Some(_)) => Standing::Tie(
                v.iter()
                    .filter(|(_, s)| ci(s).is_none_or(|c| overlap(b, c)))
                    .map(|(n, _)| (*n).to_owned())
                    .collect(),
            ),
            _ => Standing::Undecided(vec![(*best).to_owned(), (*second).to_owned()]),
        },
    }
}

/// Lowest R² at which a fit is shown as a cost model.
pub const MIN_FIT_R2: f64 = 0.9;

/// A least-squares line `time = fixed + size × per_byte`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Intercept: the per-message cost at zero bytes, nanoseconds.
    pub fixed_ns: f64,
    /// Slope, nanoseconds per byte.
    pub ns_per_byte: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Points fitted.
    pub points: usize,
}

impl Fit {
    /// Bytes per second implied by the slope; `None` when time does not grow
    /// with size (the slope is zero or negative).
    pub fn bandwidth(&self) -> Option<f64> {
        (self.ns_per_byte > 0.0).then(|| 1e9 / self.ns_per_byte)
    }

    /// Why the line should not be shown as a cost model, if it should not: a
    /// negative fixed cost is impossible, and below R² 0.9 the line explains
    /// too little of how time grows with size.
    pub fn rejection(&self) -> Option<String> {
        use crate::format::{fmt_time, round_sig};
        if self.fixed_ns < 0.0 {
            Some(format!(
                "no linear fit: the line's fixed cost comes out negative ({})",
                fmt_time(self.fixed_ns)
            ))
        } else if self.r2 < MIN_FIT_R2 {
            Some(format!(
                "no linear fit: R² {} is below {MIN_FIT_R2}",
                round_sig(self.r2, 2)
            ))
        } else {
            None
        }
    }

    /// `11.2 µs + size / 2.31 GB/s (R² 0.998)`.
    pub fn describe(&self) -> String {
        use crate::format::{fmt_rate, fmt_time, round_sig};
        let size = match self.bandwidth() {
            Some(bw) => format!("size / {}", fmt_rate(bw)),
            None => "no growth with size".to_owned(),
        };
        // 0.9995 would otherwise print as a misleading "1.00".
        let r2 = round_sig(self.r2, 3);
        format!("{} + {size} (R² {r2})", fmt_time(self.fixed_ns))
    }
}

/// Fits `(size_bytes, ns)` points; `None` with fewer than two distinct sizes.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_tot: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let ss_res: f64 = pts
        .iter()
        .map(|p| (p.1 - (intercept + slope * p.0)).powi(2))
        .sum();
    let r2 = if ss_tot == 0.0 {
        1.0
    } else {
        1.0 - ss_res / ss_tot
    };
    Some(Fit {
        fixed_ns: intercept,
        ns_per_byte: slope,
        r2,
        points: pts.len(),
    })
}

/// Geometric mean of positive finite values.
pub fn geomean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let logs: Vec<f64> = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::ln)
        .collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(mean: f64, ci: Option<(f64, f64)>) -> Summary {
        Summary {
            mean_ns: mean,
            p50_ns: mean,
            ci95_low_ns: ci.map(|c| c.0),
            ci95_high_ns: ci.map(|c| c.1),
            ..Summary::default()
        }
    }

    #[test]
    fn fit_is_exact_on_a_line() {
        // 11.2 µs fixed, 2.5 GB/s => 0.4 ns per byte.
        let pts: Vec<(f64, f64)> = [800.0, 6400.0, 51_200.0, 409_600.0]
            .iter()
            .map(|&x| (x, 11_200.0 + 0.4 * x))
            .collect();
        let f = fit(&pts).expect("fit");
        assert!((f.fixed_ns - 11_200.0).abs() < 1e-6, "{f:?}");
        assert!((f.ns_per_byte - 0.4).abs() < 1e-12, "{f:?}");
        assert!((f.r2 - 1.0).abs() < 1e-12);
        assert!((f.bandwidth().expect("bw") - 2.5e9).abs() < 1.0);
        assert_eq!(f.describe(), "11.2 µs + size / 2.50 GB/s (R² 1)");
    }

    #[test]
    fn fits_that_cannot_be_cost_models_are_rejected() {
        let good = fit(&[(0.0, 10.0), (1.0, 11.0), (2.0, 12.0)]).expect("fit");
        assert_eq!(good.rejection(), None);
        let negative = fit(&[(100.0, 1.0), (200.0, 100.0), (300.0, 199.0)]).expect("fit");
        assert!(negative.rejection().expect("rejected").contains("negative"));
        let noisy = fit(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 4.0)]).expect("fit");
        assert!(noisy.rejection().expect("rejected").contains("R²"));
    }

    #[test]
    fn fit_needs_two_sizes() {
        assert!(fit(&[(800.0, 1.0)]).is_none());
        assert!(fit(&[(800.0, 1.0), (800.0, 2.0)]).is_none());
        let flat = fit(&[(1.0, 5.0), (2.0, 5.0)]).expect("fit");
        assert_eq!(flat.bandwidth(), None);
        assert_eq!(flat.r2, 1.0);
        assert!(flat.describe().contains("no growth with size"));
    }

    #[test]
    fn fit_r2_below_one_on_noise() {
        let f = fit(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 4.0)]).expect("fit");
        assert!(f.r2 > 0.0 && f.r2 < 1.0, "{f:?}");
    }

    #[test]
    fn winner_only_when_intervals_separate() {
        let a = s(100.0, Some((95.0, 105.0)));
        let b = s(200.0, Some((190.0, 210.0)));
        let c = s(104.0, Some((101.0, 107.0)));
        assert_eq!(
            standing([("b", &b), ("a", &a)]),
            Standing::Winner {
                name: "a".into(),
                runner_up: "b".into()
            }
        );
        let st = standing([("b", &b), ("a", &a), ("c", &c)]);
        assert_eq!(st, Standing::Tie(vec!["a".into(), "c".into()]));
        assert_eq!(st.describe(), "tie: a, c");
        let many = Standing::Tie((1..=6).map(|i| format!("t{i}")).collect());
        assert_eq!(many.describe(), "tie: t1, t2, t3, t4 and 2 more");
        assert_eq!(st.fastest(), Some("a"));
    }

    #[test]
    fn touching_intervals_tie() {
        let a = s(100.0, Some((90.0, 110.0)));
        let b = s(120.0, Some((110.0, 130.0)));
        assert!(matches!(standing([("a", &a), ("b", &b)]), Standing::Tie(_)));
    }

    #[test]
    fn no_interval_no_winner() {
        let a = s(100.0, None);
        let b = s(500.0, Some((490.0, 510.0)));
        assert_eq!(
            standing([("b", &b), ("a", &a)]),
            Standing::Undecided(vec!["a".into(), "b".into()])
        );
        assert_eq!(standing([("a", &a)]), Standing::Alone("a".into()));
        assert_eq!(standing(std::iter::empty()), Standing::Empty);
    }

    #[test]
    fn geometric_mean() {
        let g = geomean([1.0, 4.0]).expect("g");
        assert!((g - 2.0).abs() < 1e-12);
        assert_eq!(geomean([0.0, f64::NAN]), None);
    }
}
