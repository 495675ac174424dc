//! The judge's findings as a table cell says them: a row's verdict, a ratio
//! with its interval, a fit and why a fit is not shown. The judgement is
//! made in the `judge` crate; this module only words it.

use judge::analysis::{Fit, MIN_FIT_R2, Rejection};
use judge::verdict::{Comparison, Ratio, Verdict};

use crate::format::{MISSING, fmt_rate, fmt_time, round_sig};

/// Names listed in a tie before the rest are counted: a cell naming a dozen
/// transports reads as noise, not as an answer.
const MAX_TIE_NAMES: usize = 4;

/// The answer in a few words, as a table cell shows it.
pub fn verdict(v: &Verdict) -> String {
    match v {
        Verdict::Empty => MISSING.to_owned(),
        Verdict::Failed(v) => format!("failed: {}", v.first().map_or("", |f| f.1.as_str())),
        Verdict::Alone { name } => format!("{name} (only one)"),
        Verdict::Winner { name, .. } => format!("**{name}**"),
        Verdict::BackendWinner {
            backend,
            fastest,
            variants,
            ..
        } => format!(
            "**{backend}** (its variants tie: {})",
            listed(fastest, variants)
        ),
        Verdict::Tie { fastest, tied, .. } => format!("tie: {}", listed(fastest, tied)),
        Verdict::Undecided {
            fastest, reason, ..
        } => format!("undecided ({reason}): {fastest}"),
    }
}

/// `a, b, c` or `a, b, c, d and 2 more`.
fn listed(first: &str, rest: &[Comparison]) -> String {
    let mut names: Vec<&str> = vec![first];
    names.extend(rest.iter().map(|c| c.name.as_str()));
    if names.len() > MAX_TIE_NAMES {
        format!(
            "{} and {} more",
            names[..MAX_TIE_NAMES].join(", "),
            names.len() - MAX_TIE_NAMES
        )
    } else {
        names.join(", ")
    }
}

/// `1.90x (1.62–2.21)`: two decimals below 10, so an interval that starts
/// just above 1 never reads as "1".
pub fn ratio(r: &Ratio) -> String {
    let f = |x: f64| {
        if x < 10.0 {
            format!("{x:.2}")
        } else {
            round_sig(x, 3).to_string()
        }
    };
    format!("{}x ({}–{})", f(r.estimate), f(r.low), f(r.high))
}

/// Why the fit is not shown as a cost model, in words, if it is not.
pub fn fit_rejection(f: &Fit) -> Option<String> {
    f.rejection().map(|why| match why {
        Rejection::NegativeFixedCost => format!(
            "no linear fit: the line's fixed cost comes out negative ({})",
            fmt_time(f.fixed_ns)
        ),
        Rejection::PoorFit => format!(
            "no linear fit: R² {} is below {MIN_FIT_R2}",
            round_sig(f.r2, 2)
        ),
    })
}

/// `11.2 µs + size / 2.31 GB/s (R² 0.998)`.
pub fn fit(f: &Fit) -> String {
    let size = match f.bandwidth() {
        Some(bw) => format!("size / {}", fmt_rate(bw)),
        None => "no growth with size".to_owned(),
    };
    // 0.9995 would otherwise print as a misleading "1.00".
    let r2 = round_sig(f.r2, 3);
    format!("{} + {size} (R² {r2})", fmt_time(f.fixed_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beaten(name: &str) -> Comparison {
        Comparison {
            name: name.into(),
            ratio: None,
            beaten: true,
        }
    }

    #[test]
    fn verdicts_read_as_a_table_cell() {
        let winner = Verdict::Winner {
            name: "a".into(),
            others: vec![beaten("b")],
        };
        assert_eq!(verdict(&winner), "**a**");
        let tie = Verdict::Tie {
            fastest: "a".into(),
            tied: vec![beaten("c")],
            others: vec![beaten("b")],
        };
        assert_eq!(verdict(&tie), "tie: a, c");
        let many = Verdict::Tie {
            fastest: "t1".into(),
            tied: (2..=6).map(|i| beaten(&format!("t{i}"))).collect(),
            others: Vec::new(),
        };
        assert_eq!(verdict(&many), "tie: t1, t2, t3, t4 and 2 more");
        let backend = Verdict::BackendWinner {
            backend: "shm".into(),
            fastest: "shm-spin".into(),
            variants: vec![beaten("shm-adaptive")],
            others: vec![beaten("pipe")],
        };
        assert_eq!(
            verdict(&backend),
            "**shm** (its variants tie: shm-spin, shm-adaptive)"
        );
        let failed = Verdict::Failed(vec![("x".into(), "peer died".into())]);
        assert_eq!(verdict(&failed), "failed: peer died");
        assert_eq!(verdict(&Verdict::Empty), MISSING);
    }

    #[test]
    fn ratio_reads_as_times_faster() {
        let r = Ratio {
            estimate: 1.904,
            low: 1.6213,
            high: 2.2149,
        };
        assert_eq!(ratio(&r), "1.90x (1.62–2.21)");
        let near = Ratio {
            estimate: 1.12,
            low: 1.0004,
            high: 35.46,
        };
        assert_eq!(ratio(&near), "1.12x (1.00–35.5)");
    }

    #[test]
    fn fits_read_as_a_cost_model_or_say_why_not() {
        let pts: Vec<(f64, f64)> = [800.0, 6400.0, 51_200.0, 409_600.0]
            .iter()
            .map(|&x| (x, 11_200.0 + 0.4 * x))
            .collect();
        let f = judge::analysis::fit(&pts).expect("fit");
        assert_eq!(fit(&f), "11.2 µs + size / 2.50 GB/s (R² 1)");
        assert_eq!(fit_rejection(&f), None);
        let flat = judge::analysis::fit(&[(1.0, 5.0), (2.0, 5.0)]).expect("fit");
        assert!(fit(&flat).contains("no growth with size"));
        let negative =
            judge::analysis::fit(&[(100.0, 1.0), (200.0, 100.0), (300.0, 199.0)]).expect("fit");
        assert!(
            fit_rejection(&negative)
                .expect("rejected")
                .contains("negative")
        );
        let noisy =
            judge::analysis::fit(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 4.0)]).expect("fit");
        assert!(fit_rejection(&noisy).expect("rejected").contains("R²"));
    }
}
